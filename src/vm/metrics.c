/* metrics: the sampler of running VMs, their data sources and VM_metrics
 * (see metrics.h). */
#include "vm/metrics.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "rpc/cli_records.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "vm/vm_int.h"

#define MX_TAG "metrics"
#define MX_MAX_NICS 64

/* ---- pure computations ---- */

int
metrics_disk_rates(const struct metrics_disk_ctr *prev,
		   const struct metrics_disk_ctr *cur, double dt,
		   struct metrics_disk_rates *out)
{
	memset(out, 0, sizeof(*out));
	if (!(dt > 0) || cur->rd_bytes < prev->rd_bytes ||
	    cur->wr_bytes < prev->wr_bytes || cur->rd_ops < prev->rd_ops ||
	    cur->wr_ops < prev->wr_ops || cur->rd_total_ns < prev->rd_total_ns ||
	    cur->wr_total_ns < prev->wr_total_ns)
		return -1;
	uint64_t rops = cur->rd_ops - prev->rd_ops, wops = cur->wr_ops - prev->wr_ops;
	uint64_t rns = cur->rd_total_ns - prev->rd_total_ns;
	uint64_t wns = cur->wr_total_ns - prev->wr_total_ns;

	out->read_bps = (double)(cur->rd_bytes - prev->rd_bytes) / dt;
	out->write_bps = (double)(cur->wr_bytes - prev->wr_bytes) / dt;
	out->iops_read = (double)rops / dt;
	out->iops_write = (double)wops / dt;
	out->read_latency_us = rops ? (double)rns / 1e3 / (double)rops : 0;
	out->write_latency_us = wops ? (double)wns / 1e3 / (double)wops : 0;
	/* Little's law: time spent by all requests per unit of time is the
	 * mean number in flight */
	out->avgqu_sz = ((double)rns + (double)wns) / 1e9 / dt;
	out->iowait = out->avgqu_sz;
	return 0;
}

double
metrics_cpu_fraction(double prev_s, double cur_s, double dt, int nvcpus)
{
	if (!(dt > 0) || cur_s < prev_s || nvcpus <= 0)
		return -1;
	double f = (cur_s - prev_s) / dt / nvcpus;
	return f > 1 ? 1 : f;
}

double
metrics_counter_rate(uint64_t prev, uint64_t cur, double dt)
{
	if (!(dt > 0) || cur < prev)
		return -1;
	return (double)(cur - prev) / dt;
}

bool
metrics_memory_changed(int64_t old, int64_t cur)
{
	if (old <= 0)
		return cur > 0;
	int64_t d = cur > old ? cur - old : old - cur;
	return d * 100 > old;
}

void
metrics_ring_push(struct metrics_ring *r, double v)
{
	if (r->count == r->cap && r->cap < METRICS_RING) {
		/* grow, keeping the values in order from index 0 */
		unsigned ncap = r->cap ? r->cap * 4 : 12;
		if (ncap > METRICS_RING)
			ncap = METRICS_RING;
		float *nv = xcalloc(ncap, sizeof(float));
		for (unsigned i = 0; i < r->count; i++)
			nv[i] = r->v[(r->head + r->cap - r->count + i) % r->cap];
		free(r->v);
		r->v = nv;
		r->head = r->count;
		r->cap = ncap;
	}
	r->v[r->head] = (float)v;
	r->head = (r->head + 1) % r->cap;
	if (r->count < r->cap)
		r->count++;
}

double
metrics_ring_get(const struct metrics_ring *r, unsigned i)
{
	if (i >= r->count)
		return NAN;
	return r->v[(r->head + r->cap - 1 - i) % r->cap];
}

double
metrics_ring_mean(const struct metrics_ring *r, unsigned n)
{
	double s = 0;
	if (n > r->count)
		n = r->count;
	if (!n)
		return NAN;
	for (unsigned i = 0; i < n; i++)
		s += metrics_ring_get(r, i);
	return s / n;
}

void
metrics_ring_free(struct metrics_ring *r)
{
	free(r->v);
	memset(r, 0, sizeof(*r));
}

/* ---- per-VM state ---- */

struct mx_ds {
	char name[48];
	char desc[80];
	const char *units;
	double min, max;
	bool present; /* the device was there at the last sample */
	struct metrics_ring ring;
};

struct mx_disk {
	char id[16];
	struct metrics_disk_ctr c;
};

struct mx_nic {
	int dev;
	char tap[16];
	uint64_t rx, tx; /* the tap's counters (the guest's tx, rx) */
	bool ok;
};

struct mx_vm {
	char uuid[37];
	bool seen;
	bool have_prev;
	double t_prev, cpu_prev;
	struct mx_disk *disks;
	size_t ndisks;
	struct mx_nic nics[MX_MAX_NICS];
	size_t nnics;
	time_t state_mtime; /* of the state.json the taps were read from */
	struct mx_ds *ds;
	size_t nds;
	struct mx_vm *next;
};

static pthread_mutex_t mx_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mx_vm *mx_vms;
static double mx_period = 5;

static struct mx_vm *
mx_find(const char *uuid)
{
	for (struct mx_vm *v = mx_vms; v; v = v->next)
		if (strcmp(v->uuid, uuid) == 0)
			return v;
	return NULL;
}

static void
mx_vm_free(struct mx_vm *v)
{
	for (size_t i = 0; i < v->nds; i++)
		metrics_ring_free(&v->ds[i].ring);
	free(v->ds);
	free(v->disks);
	free(v);
}

/* The data source called name (made absent-present), created if new. */
static struct mx_ds *
mx_ds_get(struct mx_vm *v, const char *name, const char *units, double max,
	  const char *desc)
{
	for (size_t i = 0; i < v->nds; i++)
		if (strcmp(v->ds[i].name, name) == 0) {
			v->ds[i].present = true;
			return &v->ds[i];
		}
	v->ds = xrealloc(v->ds, (v->nds + 1) * sizeof(*v->ds));
	struct mx_ds *d = &v->ds[v->nds++];
	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", name);
	snprintf(d->desc, sizeof(d->desc), "%s", desc);
	d->units = units;
	d->min = 0;
	d->max = max;
	d->present = true;
	return d;
}

static void
mx_put(struct mx_vm *v, const char *name, const char *units, double max,
       const char *desc, double value)
{
	struct mx_ds *d = mx_ds_get(v, name, units, max, desc);
	if (value >= 0)
		metrics_ring_push(&d->ring, value);
}

/* Drops the sources whose device went away. */
static void
mx_ds_sweep(struct mx_vm *v)
{
	size_t k = 0;
	for (size_t i = 0; i < v->nds; i++) {
		if (v->ds[i].present) {
			v->ds[i].present = false;
			v->ds[k++] = v->ds[i];
		} else {
			metrics_ring_free(&v->ds[i].ring);
		}
	}
	v->nds = k;
}

/* ---- taps (qemu backend): DIR/vms/<uuid>/state.json names them ---- */

static void
mx_taps_load(struct mx_vm *v)
{
	if (!vm_cfg.state_dir || strcmp(vm_cfg.backend->name, "qemu") != 0)
		return;
	char *path = xasprintf("%s/vms/%s/state.json", vm_cfg.state_dir, v->uuid);
	struct stat st;
	if (stat(path, &st) < 0 || st.st_mtime == v->state_mtime) {
		free(path);
		return;
	}
	json_t *o = json_load_file(path, 0, NULL);
	free(path);
	json_t *nics = json_object_get(json_object_get(o, "spec"), "nics");
	json_t *taps = json_object_get(o, "taps");
	for (size_t i = 0; i < v->nnics; i++) {
		char id[16];
		snprintf(id, sizeof(id), "vif%d", v->nics[i].dev);
		v->nics[i].tap[0] = 0;
		for (size_t j = 0; j < json_array_size(nics); j++) {
			const char *nid = json_string_value(
				json_object_get(json_array_get(nics, j), "id"));
			const char *tap = json_string_value(json_array_get(taps, j));
			if (nid && tap && strcmp(nid, id) == 0)
				snprintf(v->nics[i].tap, sizeof(v->nics[i].tap), "%s", tap);
		}
	}
	json_decref(o);
	v->state_mtime = st.st_mtime;
}

static int
mx_read_u64(const char *tap, const char *what, uint64_t *out)
{
	char path[128];
	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/%s", tap, what);
	FILE *f = fopen(path, "re");
	unsigned long long x;
	int rc = f && fscanf(f, "%llu", &x) == 1 ? 0 : -1;
	if (f)
		fclose(f);
	if (rc == 0)
		*out = x;
	return rc;
}

/* ---- the sampler ---- */

/* What the DB says about a VM to sample. */
struct mx_target {
	char *ref, *uuid, *metrics;
	int vcpus;
	int64_t mem_db; /* VM_metrics.memory_actual */
	int vifs[MX_MAX_NICS];
	size_t nvifs;
};

static double
mx_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Fills the data sources of v from a fresh sample st taken at time t. */
static void
mx_update(struct mx_vm *v, const struct mx_target *tg, const struct vm_stats *st,
	  double t)
{
	char name[48], desc[80];
	double dt = v->have_prev ? t - v->t_prev : 0;

	mx_put(v, "memory", "B", INFINITY, "Memory currently allocated to VM",
	       (double)st->memory_actual);
	double cf = v->have_prev ? metrics_cpu_fraction(v->cpu_prev, st->cpu_seconds,
							 dt, tg->vcpus) : -1;
	for (int i = 0; i < tg->vcpus; i++) {
		snprintf(name, sizeof(name), "cpu%d", i);
		snprintf(desc, sizeof(desc), "CPU%d usage", i);
		mx_put(v, name, "(fraction)", 1.0, desc, cf);
	}

	/* disks: match by id with the previous sample */
	struct mx_disk *nd = xcalloc(st->ndisks + 1, sizeof(*nd));
	for (size_t i = 0; i < st->ndisks; i++) {
		struct mx_disk *d = &nd[i];
		memcpy(d->id, st->disks[i].id, sizeof(d->id));
		d->id[sizeof(d->id) - 1] = 0;
		d->c = (struct metrics_disk_ctr){st->disks[i].rd_bytes, st->disks[i].wr_bytes,
						 st->disks[i].rd_ops, st->disks[i].wr_ops,
						 st->disks[i].rd_total_ns, st->disks[i].wr_total_ns};
		if (strncmp(d->id, "vbd", 3) != 0 || !d->id[3])
			continue;
		char *dev = vbd_device_name(d->id + 3);
		const struct mx_disk *p = NULL;
		for (size_t j = 0; j < v->ndisks; j++)
			if (strcmp(v->disks[j].id, d->id) == 0)
				p = &v->disks[j];
		struct metrics_disk_rates r = {0};
		bool ok = v->have_prev && p && metrics_disk_rates(&p->c, &d->c, dt, &r) == 0;
#define MX_DS(suffix, units, max, text, val)                                        \
	do {                                                                         \
		snprintf(name, sizeof(name), "vbd_%s_%s", dev, suffix);              \
		snprintf(desc, sizeof(desc), text, dev);                             \
		mx_put(v, name, units, max, desc, ok ? (val) : -1);                  \
	} while (0)
		MX_DS("read", "B/s", INFINITY, "Reads from device %s, in B/s", r.read_bps);
		MX_DS("write", "B/s", INFINITY, "Writes to device %s, in B/s", r.write_bps);
		MX_DS("read_latency", "μs", INFINITY,
		      "Read latency from device %s, in microseconds", r.read_latency_us);
		MX_DS("write_latency", "μs", INFINITY,
		      "Write latency from device %s, in microseconds", r.write_latency_us);
		MX_DS("io_throughput_read", "MiB/s", INFINITY, "Data read from the %s, in MiB/s",
		      r.read_bps / 1048576.0);
		MX_DS("io_throughput_write", "MiB/s", INFINITY,
		      "Data written to the %s, in MiB/s", r.write_bps / 1048576.0);
		MX_DS("io_throughput_total", "MiB/s", INFINITY, "All %s I/O, in MiB/s",
		      (r.read_bps + r.write_bps) / 1048576.0);
		MX_DS("iops_read", "requests/s", INFINITY, "Read requests per second (%s)",
		      r.iops_read);
		MX_DS("iops_write", "requests/s", INFINITY, "Write requests per second (%s)",
		      r.iops_write);
		MX_DS("iops_total", "requests/s", INFINITY, "I/O requests per second (%s)",
		      r.iops_read + r.iops_write);
		MX_DS("iowait", "s/s", INFINITY,
		      "Total I/O wait time (all requests) per second (%s)", r.iowait);
		MX_DS("avgqu_sz", "requests", INFINITY, "Average I/O queue size (%s)",
		      r.avgqu_sz);
#undef MX_DS
		free(dev);
	}
	free(v->disks);
	v->disks = nd;
	v->ndisks = st->ndisks;

	/* NICs: the attached VIFs; counters from their taps when there are */
	struct mx_nic old[MX_MAX_NICS];
	size_t nold = v->nnics;
	memcpy(old, v->nics, nold * sizeof(old[0]));
	bool changed = nold != tg->nvifs;
	for (size_t i = 0; i < tg->nvifs; i++) {
		changed = changed || v->nics[i].dev != tg->vifs[i];
		v->nics[i] = (struct mx_nic){.dev = tg->vifs[i]};
	}
	v->nnics = tg->nvifs;
	if (changed)
		v->state_mtime = 0;
	else
		for (size_t i = 0; i < v->nnics; i++)
			memcpy(v->nics[i].tap, old[i].tap, sizeof(old[i].tap));
	mx_taps_load(v);
	for (size_t i = 0; i < v->nnics; i++) {
		struct mx_nic *n = &v->nics[i];
		const struct mx_nic *p = NULL;
		for (size_t j = 0; j < nold; j++)
			if (old[j].dev == n->dev && old[j].ok && strcmp(old[j].tap, n->tap) == 0)
				p = &old[j];
		n->ok = n->tap[0] && mx_read_u64(n->tap, "rx_bytes", &n->rx) == 0 &&
			mx_read_u64(n->tap, "tx_bytes", &n->tx) == 0;
		double rx = -1, tx = -1;
		if (!n->tap[0]) {
			rx = tx = 0; /* no tap (sim backend): nothing flows */
		} else if (n->ok && p && v->have_prev) {
			rx = metrics_counter_rate(p->tx, n->tx, dt);
			tx = metrics_counter_rate(p->rx, n->rx, dt);
		}
		snprintf(name, sizeof(name), "vif_%d_rx", n->dev);
		snprintf(desc, sizeof(desc),
			 "Bytes per second received on virtual interface number '%d'", n->dev);
		mx_put(v, name, "B/s", INFINITY, desc, rx);
		snprintf(name, sizeof(name), "vif_%d_tx", n->dev);
		snprintf(desc, sizeof(desc),
			 "Bytes per second transmitted on virtual interface number '%d'", n->dev);
		mx_put(v, name, "B/s", INFINITY, desc, tx);
	}
	mx_ds_sweep(v);
	v->t_prev = t;
	v->cpu_prev = st->cpu_seconds;
	v->have_prev = true;
}

/* Records memory_actual in VM_metrics if it moved (one commit, replicated:
 * never when nothing changed). */
static void
mx_db_write(const struct mx_target *tg, int64_t mem)
{
	if (!metrics_memory_changed(tg->mem_db, mem) || !tg->metrics)
		return;
	struct db_txn *t = db_txn_begin();
	struct db_row *m = db_txn_edit(t, DMC_VM_metrics, tg->metrics);
	if (!m) {
		db_txn_abort(t);
		return;
	}
	db_txn_set(t, m, DMF_VM_metrics_memory_actual, (union dm_val){.i = mem});
	db_txn_set(t, m, DMF_VM_metrics_last_updated, (union dm_val){.i = (int64_t)time(NULL)});
	api_err_free(api_commit(t));
}

/* The VMs to sample: Running (or Paused: their sources stay) here. */
static struct mx_target *
mx_targets(size_t *n)
{
	size_t nrows, k = 0;
	db_rdlock();
	struct db_row **vms = db_list(DMC_VM, &nrows);
	struct mx_target *tg = xcalloc(nrows + 1, sizeof(*tg));
	for (size_t i = 0; i < nrows; i++) {
		struct db_row *r = vms[i];
		const char *ps = r->f[DMF_VM_power_state].s;
		if ((strcmp(ps, "Running") != 0 && strcmp(ps, "Paused") != 0) ||
		    strcmp(r->f[DMF_VM_resident_on].s, vm_cfg.host_ref) != 0 ||
		    r->f[DMF_VM_is_control_domain].b)
			continue;
		struct mx_target *x = &tg[k++];
		x->ref = xstrdup(r->ref);
		x->uuid = xstrdup(r->f[DMF_VM_uuid].s);
		x->vcpus = (int)r->f[DMF_VM_VCPUs_at_startup].i;
		struct db_row *m = db_get(DMC_VM_metrics, r->f[DMF_VM_metrics].s);
		if (m) {
			x->metrics = xstrdup(m->ref);
			x->mem_db = m->f[DMF_VM_metrics_memory_actual].i;
			if (m->f[DMF_VM_metrics_VCPUs_number].i > 0)
				x->vcpus = (int)m->f[DMF_VM_metrics_VCPUs_number].i;
		}
		const struct dm_coll *vifs = r->f[DMF_VM_VIFs].c;
		for (size_t j = 0; vifs && j < vifs->n && x->nvifs < MX_MAX_NICS; j++) {
			struct db_row *f = db_get(DMC_VIF, vifs->v[j].s);
			if (f && f->f[DMF_VIF_currently_attached].b)
				x->vifs[x->nvifs++] = atoi(f->f[DMF_VIF_device].s);
		}
	}
	free(vms);
	db_unlock();
	*n = k;
	return tg;
}

static void
mx_sample_all(struct vm_stats *st)
{
	size_t n;
	struct mx_target *tg = mx_targets(&n);

	pthread_mutex_lock(&mx_lock);
	for (struct mx_vm *v = mx_vms; v; v = v->next)
		v->seen = false;
	pthread_mutex_unlock(&mx_lock);
	for (size_t i = 0; i < n; i++) {
		char *err = NULL;
		if (vm_cfg.backend->stats(tg[i].uuid, st, &err) < 0) {
			log_debug(MX_TAG, "VM %s: %s", tg[i].uuid, err ? err : "no stats");
			free(err);
			/* keep what we have: it may be busy in an operation */
			pthread_mutex_lock(&mx_lock);
			struct mx_vm *v = mx_find(tg[i].uuid);
			if (v)
				v->seen = true;
			pthread_mutex_unlock(&mx_lock);
			continue;
		}
		double t = mx_now();
		pthread_mutex_lock(&mx_lock);
		struct mx_vm *v = mx_find(tg[i].uuid);
		if (!v) {
			v = xcalloc(1, sizeof(*v));
			snprintf(v->uuid, sizeof(v->uuid), "%s", tg[i].uuid);
			v->next = mx_vms;
			mx_vms = v;
		}
		v->seen = true;
		mx_update(v, &tg[i], st, t);
		pthread_mutex_unlock(&mx_lock);
		mx_db_write(&tg[i], st->memory_actual);
	}
	/* forget the VMs that stopped running here */
	pthread_mutex_lock(&mx_lock);
	for (struct mx_vm **pp = &mx_vms; *pp;) {
		struct mx_vm *v = *pp;
		if (v->seen) {
			pp = &v->next;
		} else {
			*pp = v->next;
			mx_vm_free(v);
		}
	}
	pthread_mutex_unlock(&mx_lock);
	for (size_t i = 0; i < n; i++) {
		free(tg[i].ref);
		free(tg[i].uuid);
		free(tg[i].metrics);
	}
	free(tg);
}

static void *
mx_main(void *arg)
{
	(void)arg;
	struct vm_stats *st = xcalloc(1, sizeof(*st));
	for (;;) {
		double next = mx_now() + mx_period;
		vm_squeeze(); /* targets after stops, and retries */
		mx_sample_all(st);
		double wait = next - mx_now();
		if (wait < 0.05)
			wait = 0.05;
		struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
	return NULL;
}

size_t
metrics_memory_used(size_t *nvms)
{
	size_t bytes = 0, n = 0;
	pthread_mutex_lock(&mx_lock);
	for (struct mx_vm *v = mx_vms; v; v = v->next) {
		n++;
		bytes += sizeof(*v) + v->ndisks * sizeof(*v->disks) + v->nds * sizeof(*v->ds);
		for (size_t i = 0; i < v->nds; i++)
			bytes += v->ds[i].ring.cap * sizeof(float);
	}
	pthread_mutex_unlock(&mx_lock);
	if (nvms)
		*nvms = n;
	return bytes;
}

/* ---- API ---- */

/* The uuid of the VM behind args[0] (malloc'd), or NULL with *err. */
static char *
mx_vm_uuid(const xv *ref, struct api_err **err)
{
	char *uuid = NULL;
	db_rdlock();
	struct db_row *vm = api_row(DMC_VM, ref, err);
	if (vm)
		uuid = xstrdup(vm->f[DMF_VM_uuid].s);
	db_unlock();
	return uuid;
}

static xv *
mx_ds_record(const struct mx_ds *d)
{
	double val = metrics_ring_get(&d->ring, 0);
	xv *r = xv_struct();
	xv_set(r, "name_label", xv_str(d->name));
	xv_set(r, "name_description", xv_str(d->desc));
	xv_set(r, "enabled", xv_bool(true));
	xv_set(r, "standard", xv_bool(true));
	xv_set(r, "units", xv_str(d->units));
	xv_set(r, "min", xv_float(d->min));
	xv_set(r, "max", xv_float(d->max));
	xv_set(r, "value", xv_float(isnan(val) ? 0 : val));
	return r;
}

/* VM.get_data_sources(self): empty for a VM not running here (no RRD). */
static struct api_err *
mx_get_data_sources(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	struct api_err *err = NULL;
	(void)ctx;
	(void)nargs;
	char *uuid = mx_vm_uuid(args[0], &err);
	if (!uuid)
		return err;
	xv *a = xv_array();
	pthread_mutex_lock(&mx_lock);
	struct mx_vm *v = mx_find(uuid);
	for (size_t i = 0; v && i < v->nds; i++)
		xv_push(a, mx_ds_record(&v->ds[i]));
	pthread_mutex_unlock(&mx_lock);
	free(uuid);
	*result = a;
	return NULL;
}

/* Rrdd's failure, as xapi relays it. */
static struct api_err *
mx_missing(const char *what)
{
	return api_internal("Rrd_interface.Rrdd_error(Datasource_missing(\"%s\"))", what);
}

/* VM.query_data_source(self, data_source): the latest value. */
static struct api_err *
mx_query_data_source(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	struct api_err *err = NULL;
	(void)ctx;
	(void)nargs;
	char *uuid = mx_vm_uuid(args[0], &err);
	if (!uuid)
		return err;
	const char *name = args[1]->u.s;
	double val = NAN;
	bool vm_known = false, found = false;
	pthread_mutex_lock(&mx_lock);
	struct mx_vm *v = mx_find(uuid);
	vm_known = v != NULL;
	for (size_t i = 0; v && i < v->nds; i++)
		if (strcmp(v->ds[i].name, name) == 0) {
			found = true;
			val = metrics_ring_get(&v->ds[i].ring, 0);
		}
	pthread_mutex_unlock(&mx_lock);
	if (!vm_known) {
		char *w = xasprintf("VM: %s", uuid);
		err = mx_missing(w);
		free(w);
	} else if (!found) {
		err = mx_missing(name);
	} else {
		*result = xv_float(isnan(val) ? 0 : val);
	}
	free(uuid);
	return err;
}

/* VM.record_data_source / VM.forget_data_source_archives: every source is
 * always recorded and kept in memory only: nothing to do. */
static struct api_err *
mx_noop(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	struct api_err *err = NULL;
	(void)ctx;
	(void)nargs;
	(void)result;
	char *uuid = mx_vm_uuid(args[0], &err);
	free(uuid);
	return err;
}

/* The latest value of a data source, for the CLI's io_*_kbs fields. */
static bool
mx_ds_query(const char *uuid, const char *name, double *val)
{
	bool found = false;
	pthread_mutex_lock(&mx_lock);
	struct mx_vm *v = mx_find(uuid);
	for (size_t i = 0; v && i < v->nds && !found; i++)
		if (strcmp(v->ds[i].name, name) == 0) {
			double x = metrics_ring_get(&v->ds[i].ring, 0);
			*val = isnan(x) ? 0 : x;
			found = true;
		}
	pthread_mutex_unlock(&mx_lock);
	return found;
}

void
metrics_start(void)
{
	cli_set_ds_query(mx_ds_query);
	const char *p = getenv("XAPID_METRICS_PERIOD");
	if (p && atof(p) >= 0.1)
		mx_period = atof(p);
	api_register("VM.get_data_sources", mx_get_data_sources, API_READONLY);
	api_register("VM.query_data_source", mx_query_data_source, API_READONLY);
	api_register("VM.record_data_source", mx_noop, 0);
	api_register("VM.forget_data_source_archives", mx_noop, 0);
	pthread_t th;
	if (pthread_create(&th, NULL, mx_main, NULL) == 0)
		pthread_detach(th);
	log_info(MX_TAG, "sampling running VMs every %g s", mx_period);
}
