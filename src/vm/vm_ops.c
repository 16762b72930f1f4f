/* vm_ops: operation guards, power-state bookkeeping and the backend spec. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <ctype.h>
#include <unistd.h>

#include "storage/sr.h"
#include "util/log.h"
#include "util/spawn.h"
#include "util/xalloc.h"
#include "vm/vm_int.h"

struct vm_config vm_cfg;

static const char *const vm_ops_halted[] = {
	"start", "start_on", "clone", "copy", "snapshot", "export", "destroy",
	"provision", "make_into_template", "changing_static_range",
	"changing_dynamic_range", "changing_VCPUs", "changing_memory_limits",
	"metadata_export", NULL};
static const char *const vm_ops_running[] = {
	"clean_shutdown", "hard_shutdown", "shutdown", "clean_reboot",
	"hard_reboot", "pause", "suspend", "snapshot", "checkpoint",
	"changing_dynamic_range", "changing_VCPUs_live", "pool_migrate",
	"migrate_send", "metadata_export", NULL};
static const char *const vm_ops_paused[] = {
	"unpause", "hard_shutdown", "shutdown", "hard_reboot", "snapshot",
	"checkpoint", "metadata_export", NULL};
static const char *const vm_ops_suspended[] = {
	"resume", "resume_on", "hard_shutdown", "shutdown", "snapshot", "export",
	"destroy", "clone", "copy", "metadata_export", NULL};
static const char *const vm_ops_template[] = {
	"clone", "copy", "export", "destroy", "provision", "metadata_export",
	NULL};

struct dm_coll *
vm_allowed_ops(const char *power_state, bool is_template)
{
	const char *const *ops = is_template ? vm_ops_template
				 : strcmp(power_state, "Running") == 0 ? vm_ops_running
				 : strcmp(power_state, "Paused") == 0 ? vm_ops_paused
				 : strcmp(power_state, "Suspended") == 0 ? vm_ops_suspended
									 : vm_ops_halted;
	size_t n = 0;
	while (ops[n])
		n++;
	struct dm_coll *c = dmc_new(n);
	for (size_t i = 0; i < n; i++)
		c->v[i].s = xstrdup(ops[i]);
	return c;
}

static char *
vm_lower(const char *s)
{
	char *l = xstrdup(s);
	for (char *p = l; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return l;
}

static bool
vm_state_in(const char *state, const char *allowed)
{
	char *l = vm_lower(state);
	size_t n = strlen(l);
	bool ok = false;
	for (const char *p = allowed; *p;) {
		size_t k = strcspn(p, ",");
		if (k == n && strncmp(p, l, n) == 0)
			ok = true;
		p += k;
		if (*p == ',')
			p++;
	}
	free(l);
	return ok;
}

struct api_err *
vm_bad_power_state(const char *vm, const char *allowed, const char *actual)
{
	struct buf exp = BUF_INIT;
	for (const char *p = allowed; *p; p++) {
		buf_addc(&exp, *p);
		if (*p == ',')
			buf_addc(&exp, ' ');
	}
	char *act = vm_lower(actual);
	struct api_err *e = api_error(XE_VM_BAD_POWER_STATE, vm, exp.data, act, NULL);
	free(act);
	buf_free(&exp);
	return e;
}

struct api_err *
vm_op_begin(const char *vm, const char *op, const char *allowed,
	    bool templates_ok, char **opid)
{
	struct db_txn *t = db_txn_begin();
	struct db_row *r = db_txn_edit(t, DMC_VM, vm);
	struct api_err *err = NULL;

	if (!r) {
		err = api_error(XE_HANDLE_INVALID, "VM", vm, NULL);
	} else if (!templates_ok && r->f[DMF_VM_is_a_template].b) {
		err = api_error(XE_VM_IS_TEMPLATE, vm, NULL);
	} else if (!vm_state_in(r->f[DMF_VM_power_state].s, allowed)) {
		err = vm_bad_power_state(vm, allowed, r->f[DMF_VM_power_state].s);
	} else if (r->f[DMF_VM_is_control_domain].b) {
		err = api_error(XE_OPERATION_NOT_ALLOWED,
				"This operation is not allowed on the control domain",
				NULL);
	} else if (r->f[DMF_VM_current_operations].c &&
		   r->f[DMF_VM_current_operations].c->n) {
		const struct dm_coll *c = r->f[DMF_VM_current_operations].c;
		err = api_error(XE_OTHER_OPERATION_IN_PROGRESS, "VM", vm,
				c->v[1].s, c->v[0].s, NULL);
	}
	if (err) {
		db_txn_abort(t);
		return err;
	}
	*opid = db_new_ref();
	if (strcmp(op, "start") == 0 || strcmp(op, "start_on") == 0 ||
	    strcmp(op, "resume") == 0)
		/* counted against this host's memory until it runs or fails */
		db_txn_set(t, r, DMF_VM_scheduled_to_be_resident_on,
			   (union dm_val){.s = xstrdup(vm_cfg.host_ref)});
	struct dm_coll *c = dmc_new(1);
	c->v[0].s = xstrdup(*opid);
	c->v[1].s = xstrdup(op);
	db_txn_set(t, r, DMF_VM_current_operations, (union dm_val){.c = c});
	db_txn_set(t, r, DMF_VM_allowed_operations, (union dm_val){.c = NULL});
	err = api_commit(t);
	if (err) {
		free(*opid);
		*opid = NULL;
	}
	return err;
}

char *
vbd_device_name(const char *userdevice)
{
	int n = atoi(userdevice);
	if (n < 26)
		return xasprintf("xvd%c", 'a' + n);
	return xasprintf("xvd%c%c", 'a' + n / 26 - 1, 'a' + n % 26);
}

static union dm_val
vm_str(const char *s)
{
	return (union dm_val){.s = xstrdup(s)};
}

static const char *vm_map_get(const struct dm_coll *c, const char *key);

bool
vm_wants_vnc(const struct db_row *vm)
{
	const char *v = vm_map_get(vm->f[DMF_VM_platform].c, "vnc");
	if (v)
		return strcmp(v, "true") == 0;
	return strcmp(vm->f[DMF_VM_domain_type].s, "hvm") == 0;
}

/* The consoles of a VM that starts running here, as xapi makes them from
 * xenopsd's report: the serial console (vt100) and, with VNC, the
 * framebuffer (rfb); location https://<host address>/console?uuid=<uuid>. */
static void
vm_consoles_create(struct db_txn *t, struct db_row *vm)
{
	struct db_row *h = db_get(DMC_host, vm_cfg.host_ref);
	const char *addr = h ? h->f[DMF_host_address].s : "";
	const char *protos[] = {"vt100", vm_wants_vnc(vm) ? "rfb" : NULL};

	for (size_t i = 0; i < 2 && protos[i]; i++) {
		struct db_row *c = db_txn_create(t, DMC_console, NULL, NULL);
		db_txn_set(t, c, DMF_console_protocol, vm_str(protos[i]));
		db_txn_set(t, c, DMF_console_location,
			   (union dm_val){.s = xasprintf("https://%s/console?uuid=%s", addr,
							 c->f[DMF_console_uuid].s)});
		db_txn_set(t, c, DMF_console_VM, vm_str(vm->ref));
	}
}

static void
vm_consoles_destroy(struct db_txn *t, struct db_row *vm)
{
	const struct dm_coll *c = vm->f[DMF_VM_consoles].c;
	size_t n = c ? c->n : 0;
	char **refs = xcalloc(n + 1, sizeof(char *));

	for (size_t i = 0; i < n; i++)
		refs[i] = xstrdup(c->v[i].s);
	for (size_t i = 0; i < n; i++) {
		db_txn_destroy(t, DMC_console, refs[i]);
		free(refs[i]);
	}
	free(refs);
}

void
vm_set_power(struct db_txn *t, struct db_row *vm, const char *power_state)
{
	bool running = strcmp(power_state, "Running") == 0 ||
		       strcmp(power_state, "Paused") == 0;
	char was[16];
	snprintf(was, sizeof(was), "%s", vm->f[DMF_VM_power_state].s);
	bool was_running = strcmp(was, "Halted") != 0 && strcmp(was, "Suspended") != 0;
	db_txn_set(t, vm, DMF_VM_power_state, vm_str(power_state));
	if (running && !was_running)
		vm_consoles_create(t, vm);
	else if (!running && was_running)
		vm_consoles_destroy(t, vm);
	db_txn_set(t, vm, DMF_VM_resident_on,
		   vm_str(running ? vm_cfg.host_ref : DM_NULL_REF));
	db_txn_set(t, vm, DMF_VM_scheduled_to_be_resident_on, vm_str(DM_NULL_REF));
	if (!running)
		db_txn_set(t, vm, DMF_VM_domid, (union dm_val){.i = -1});
	struct db_row *m = db_txn_edit(t, DMC_VM_metrics, vm->f[DMF_VM_metrics].s);
	if (m && running && !was_running) {
		db_txn_set(t, m, DMF_VM_metrics_start_time,
			   (union dm_val){.i = (int64_t)time(NULL)});
		db_txn_set(t, m, DMF_VM_metrics_memory_actual,
			   (union dm_val){.i = vm->f[DMF_VM_memory_static_max].i});
		db_txn_set(t, m, DMF_VM_metrics_VCPUs_number,
			   (union dm_val){.i = vm->f[DMF_VM_VCPUs_at_startup].i});
	}
	if (m)
		db_txn_set(t, m, DMF_VM_metrics_last_updated,
			   (union dm_val){.i = (int64_t)time(NULL)});
	/* devices follow the VM, except across a suspend: a suspended VM keeps
	 * the devices it had, and its resume brings back exactly those */
	if (strcmp(power_state, "Suspended") == 0 || strcmp(was, "Suspended") == 0)
		return;
	const struct dm_coll *vbds = vm->f[DMF_VM_VBDs].c;
	for (size_t i = 0; vbds && i < vbds->n; i++) {
		struct db_row *b = db_txn_edit(t, DMC_VBD, vbds->v[i].s);
		if (b && (running != b->f[DMF_VBD_currently_attached].b) &&
		    (!running || was_running == false)) {
			db_txn_set(t, b, DMF_VBD_currently_attached, (union dm_val){.b = running});
			db_txn_set(t, b, DMF_VBD_device,
				   (union dm_val){.s = running ? vbd_device_name(b->f[DMF_VBD_userdevice].s)
							       : xstrdup("")});
		}
	}
	const struct dm_coll *vifs = vm->f[DMF_VM_VIFs].c;
	for (size_t i = 0; vifs && i < vifs->n; i++) {
		struct db_row *v = db_txn_edit(t, DMC_VIF, vifs->v[i].s);
		if (v && (running != v->f[DMF_VIF_currently_attached].b) &&
		    (!running || was_running == false))
			db_txn_set(t, v, DMF_VIF_currently_attached, (union dm_val){.b = running});
	}
}

char *
vm_suspend_sr(const struct db_row *vm)
{
	size_t n;
	struct db_row **pools = db_list(DMC_pool, &n);
	const char *s1 = vm->f[DMF_VM_suspend_SR].s;
	const char *s2 = n ? pools[0]->f[DMF_pool_suspend_image_SR].s : DM_NULL_REF;
	const char *s3 = n ? pools[0]->f[DMF_pool_default_SR].s : DM_NULL_REF;
	char *sr = xstrdup(strcmp(s1, DM_NULL_REF) ? s1 : strcmp(s2, DM_NULL_REF) ? s2 : s3);
	free(pools);
	return sr;
}

void
vm_op_end(const char *vm, const char *opid, const char *power_state)
{
	struct db_txn *t = db_txn_begin();
	struct db_row *r = db_txn_edit(t, DMC_VM, vm);
	if (!r) {
		db_txn_abort(t);
		return;
	}
	if (power_state)
		vm_set_power(t, r, power_state);
	db_txn_set(t, r, DMF_VM_scheduled_to_be_resident_on,
		   (union dm_val){.s = xstrdup(DM_NULL_REF)});
	/* drop our operation */
	struct dm_coll *c = r->f[DMF_VM_current_operations].c;
	if (c && opid) {
		for (size_t i = 0; i < c->n; i++) {
			if (strcmp(c->v[2 * i].s, opid) != 0)
				continue;
			free(c->v[2 * i].s);
			free(c->v[2 * i + 1].s);
			memmove(&c->v[2 * i], &c->v[2 * i + 2],
				2 * (c->n - i - 1) * sizeof(union dm_val));
			c->n--;
			break;
		}
		if (c->n == 0) {
			free(c);
			r->f[DMF_VM_current_operations].c = NULL;
		}
	}
	db_txn_set(t, r, DMF_VM_allowed_operations,
		   (union dm_val){.c = vm_allowed_ops(r->f[DMF_VM_power_state].s,
						      r->f[DMF_VM_is_a_template].b)});
	struct api_err *e = api_commit(t);
	if (e) {
		log_err("vm", "cannot record the end of an operation on %s: %s",
			vm, e->n ? e->params[0] : e->code);
		api_err_free(e);
	}
}

static const char *
vm_map_get(const struct dm_coll *c, const char *key)
{
	for (size_t i = 0; c && i < c->n; i++)
		if (strcmp(c->v[2 * i].s, key) == 0)
			return c->v[2 * i + 1].s;
	return NULL;
}

/* "0/0000:44:00.0,1/0000:45:00.0" → pci list. */
static struct api_err *
vm_parse_pci(const char *spec, struct vm_spec *s)
{
	char *copy = xstrdup(spec), *save = NULL;
	struct api_err *err = NULL;
	for (char *tok = strtok_r(copy, ",", &save); tok && !err;
	     tok = strtok_r(NULL, ",", &save)) {
		char *slash = strchr(tok, '/');
		const char *addr = slash ? slash + 1 : tok;
		unsigned d, b, sl, f;
		char tail;
		if (strlen(addr) >= 16 ||
		    sscanf(addr, "%4x:%2x:%2x.%1x%c", &d, &b, &sl, &f, &tail) != 4) {
			err = api_error(XE_INVALID_VALUE, "other_config:pci", spec, NULL);
			break;
		}
		s->pcis = xrealloc(s->pcis, (s->npcis + 1) * sizeof(*s->pcis));
		snprintf(s->pcis[s->npcis].addr, sizeof(s->pcis[0].addr),
			 "%04x:%02x:%02x.%x", d, b, sl, f);
		s->npcis++;
	}
	free(copy);
	return err;
}

struct api_err *
vm_spec_build(const char *vm, struct vm_spec *s, bool attached_only)
{
	return vm_spec_build_moved(vm, s, attached_only, NULL);
}

struct api_err *
vm_spec_build_moved(const char *vm, struct vm_spec *s, bool attached_only,
                    const xv *moved)
{
	struct api_err *err = NULL;
	memset(s, 0, sizeof(*s));
	db_rdlock();
	struct db_row *r = db_get(DMC_VM, vm);
	if (!r) {
		db_unlock();
		return api_error(XE_HANDLE_INVALID, "VM", vm, NULL);
	}
	snprintf(s->uuid, sizeof(s->uuid), "%s", r->f[DMF_VM_uuid].s);
	s->name = xstrdup(r->f[DMF_VM_name_label].s);
	s->memory = r->f[DMF_VM_memory_static_max].i;
	s->balloon = true;
	s->vcpus_max = (int)(r->f[DMF_VM_VCPUs_max].i > 0 ? r->f[DMF_VM_VCPUs_max].i : 1);
	s->vcpus = (int)(r->f[DMF_VM_VCPUs_at_startup].i > 0
				 ? r->f[DMF_VM_VCPUs_at_startup].i
				 : s->vcpus_max);
	if (*r->f[DMF_VM_PV_kernel].s) {
		s->kernel = xstrdup(r->f[DMF_VM_PV_kernel].s);
		s->initrd = *r->f[DMF_VM_PV_ramdisk].s ? xstrdup(r->f[DMF_VM_PV_ramdisk].s) : NULL;
		s->cmdline = xstrdup(r->f[DMF_VM_PV_args].s);
	}
	const char *order = vm_map_get(r->f[DMF_VM_HVM_boot_params].c, "order");
	s->boot_order = xstrdup(order ? order : "cd");
	s->vnc = vm_wants_vnc(r);
	s->hotplug_slots = 8;

	const struct dm_coll *vbds = r->f[DMF_VM_VBDs].c;
	s->disks = xcalloc((vbds ? vbds->n : 0) + 1, sizeof(*s->disks));
	for (size_t i = 0; vbds && i < vbds->n && !err; i++) {
		struct db_row *b = db_get(DMC_VBD, vbds->v[i].s);
		if (!b || (attached_only && !b->f[DMF_VBD_currently_attached].b))
			continue;
		struct vm_disk *d = &s->disks[s->ndisks];
		d->userdevice = atoi(b->f[DMF_VBD_userdevice].s);
		snprintf(d->id, sizeof(d->id), "vbd%d", d->userdevice);
		d->cdrom = strcmp(b->f[DMF_VBD_type].s, "CD") == 0;
		d->readonly = d->cdrom || strcmp(b->f[DMF_VBD_mode].s, "RO") == 0;
		d->bootable = b->f[DMF_VBD_bootable].b;
		if (!b->f[DMF_VBD_empty].b && strcmp(b->f[DMF_VBD_VDI].s, DM_NULL_REF) != 0) {
			const char *fmt = "raw", *vdi = b->f[DMF_VBD_VDI].s;
			struct db_row *vr = db_get(DMC_VDI, vdi);
			d->reset = !d->cdrom && vr &&
			           strcmp(vr->f[DMF_VDI_on_boot].s, "reset") == 0;
			/* xapi (xapi_vbd_helpers.ml): no RW attach of a
			 * read-only VDI */
			if (!attached_only && !d->readonly && vr &&
			    vr->f[DMF_VDI_read_only].b) {
				err = api_error(XE_VDI_READONLY, vr->ref, NULL);
				break;
			}
			const xv *to = moved ? xv_get(moved, vdi) : NULL;
			if (to && to->type == XV_STRING) {
				vdi = to->u.s; /* the copy a storage migration
				                  makes here */
				/* (read-only disks are copied before) */
				d->mirror_in = !d->readonly;
			}
			d->path = sr_vdi_path(vdi, &fmt, &err);
			if (!d->path) {
				api_err_free(err);
				err = api_error(XE_VM_REQUIRES_VDI, vm, b->f[DMF_VBD_VDI].s, NULL);
				break;
			}
			if (!attached_only &&
			    (err = sr_vdi_check_open(b->f[DMF_VBD_VDI].s, vm, !d->readonly))) {
				free(d->path);
				d->path = NULL;
				break;
			}
			d->format = xstrdup(fmt);
		} else if (!d->cdrom) {
			continue; /* an empty disk VBD has nothing to attach */
		}
		s->ndisks++;
	}
	const struct dm_coll *vifs = r->f[DMF_VM_VIFs].c;
	s->nics = xcalloc((vifs ? vifs->n : 0) + 1, sizeof(*s->nics));
	for (size_t i = 0; vifs && i < vifs->n && !err; i++) {
		struct db_row *v = db_get(DMC_VIF, vifs->v[i].s);
		if (!v || (attached_only && !v->f[DMF_VIF_currently_attached].b))
			continue;
		struct vm_nic *n = &s->nics[s->nnics++];
		snprintf(n->id, sizeof(n->id), "vif%s", v->f[DMF_VIF_device].s);
		snprintf(n->mac, sizeof(n->mac), "%s", v->f[DMF_VIF_MAC].s);
		n->mtu = (int)v->f[DMF_VIF_MTU].i;
		n->bridge = xstrdup(v->f[DMF_VIF_network].s); /* a ref for now */
	}
	const char *pci = vm_map_get(r->f[DMF_VM_other_config].c, "pci");
	if (!err && pci && *pci)
		err = vm_parse_pci(pci, s);
	db_unlock();
	/* networks to bridges, outside the lock (may create bridges) */
	for (size_t i = 0; i < s->nnics && !err; i++) {
		char *br = NULL;
		err = vm_bridge_ensure(s->nics[i].bridge, &br);
		free(s->nics[i].bridge);
		s->nics[i].bridge = br;
	}
	if (err)
		vm_spec_clear(s);
	return err;
}

struct api_err *
vm_assert_persistent_disks(const char *vm)
{
	struct api_err *err = NULL;
	db_rdlock();
	struct db_row *r = db_get(DMC_VM, vm);
	const struct dm_coll *vbds = r ? r->f[DMF_VM_VBDs].c : NULL;
	for (size_t i = 0; vbds && i < vbds->n && !err; i++) {
		struct db_row *b = db_get(DMC_VBD, vbds->v[i].s);
		struct db_row *v =
		    b ? db_get(DMC_VDI, b->f[DMF_VBD_VDI].s) : NULL;
		if (v && strcmp(v->f[DMF_VDI_on_boot].s, "reset") == 0)
			err = api_error(
			    XE_VDI_ON_BOOT_MODE_INCOMPATIBLE_WITH_OPERATION,
			    NULL);
	}
	db_unlock();
	return err;
}

/* QEMU's own memory per VM: a fixed part and a part that grows with the
 * guest's memory (its RAM bookkeeping, TCG's structures), as xapi counts a
 * shadow overhead proportional to static_max */
#define VM_OVERHEAD (16LL << 20)

int64_t
vm_memory_overhead(int64_t static_max)
{
	return VM_OVERHEAD + (static_max > 0 ? static_max / 256 : 0);
}

int64_t
vm_memory_needed(const char *vm)
{
	int64_t m = 0, smax = 0;
	db_rdlock();
	struct db_row *r = db_get(DMC_VM, vm);
	if (r) {
		m = r->f[DMF_VM_memory_dynamic_min].i;
		smax = r->f[DMF_VM_memory_static_max].i;
	}
	db_unlock();
	return m + vm_memory_overhead(smax);
}

static int64_t
vm_meminfo(const char *key)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[256];
	int64_t v = 0;
	size_t n = strlen(key);
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, key, n) == 0 && line[n] == ':')
			v = strtoll(line + n + 1, NULL, 10) * 1024;
	if (f)
		fclose(f);
	return v;
}

int64_t
vm_host_guest_memory(void)
{
	int64_t total = vm_meminfo("MemTotal");
	int64_t reserve = total / 10 > (1LL << 30) ? (1LL << 30) : total / 10;
	return total - reserve;
}

/* As xapi accounts it with ballooning: every VM that runs here or is being
 * started here counts with its dynamic_min (the squeeze balloons the
 * others down to make room for a new one), one without a balloon with its
 * static_max. Call with no lock held; the caller's VM is already
 * scheduled here. */
int64_t
vm_host_free_memory(const char *except_vm)
{
	int64_t used = 0;
	size_t n;
	db_rdlock();
	struct db_row **vms = db_list(DMC_VM, &n);
	for (size_t i = 0; i < n; i++) {
		struct db_row *r = vms[i];
		if (r->f[DMF_VM_is_control_domain].b ||
		    (except_vm && strcmp(r->ref, except_vm) == 0))
			continue;
		if (strcmp(r->f[DMF_VM_resident_on].s, vm_cfg.host_ref) == 0 ||
		    strcmp(r->f[DMF_VM_scheduled_to_be_resident_on].s,
		           vm_cfg.host_ref) == 0) {
			int64_t smax = r->f[DMF_VM_memory_static_max].i;
			used += (vm_squeeze_fixed(r->f[DMF_VM_uuid].s)
			             ? smax
			             : r->f[DMF_VM_memory_dynamic_min].i) +
			        vm_memory_overhead(smax);
		}
	}
	free(vms);
	db_unlock();
	int64_t free_mem = vm_host_guest_memory() - used;
	return free_mem > 0 ? free_mem : 0;
}

struct api_err *
vm_bridge_ensure(const char *network_ref, char **bridge)
{
	char *br = NULL;
	db_rdlock();
	struct db_row *n = db_get(DMC_network, network_ref);
	if (n)
		br = xstrdup(n->f[DMF_network_bridge].s);
	db_unlock();
	if (!n)
		return api_error(XE_HANDLE_INVALID, "network", network_ref, NULL);
	if (!*br) {
		free(br);
		return api_error(XE_BRIDGE_NOT_AVAILABLE, "", NULL);
	}
	char *path = xasprintf("/sys/class/net/%s/bridge", br);
	bool exists = access(path, F_OK) == 0;
	free(path);
	if (!exists) {
		struct buf e = BUF_INIT;
		char *a1[] = {"ip", "link", "add", "name", br, "type", "bridge", NULL};
		char *a2[] = {"ip", "link", "set", br, "up", NULL};
		if (spawn_run(a1, NULL, &e, 30) != 0 || spawn_run(a2, NULL, &e, 30) != 0) {
			log_warn("vm", "cannot create bridge %s: %s", br, e.data ? e.data : "");
			buf_free(&e);
			struct api_err *err = api_error(XE_BRIDGE_NOT_AVAILABLE, br, NULL);
			free(br);
			return err;
		}
		buf_free(&e);
		log_info("vm", "created bridge %s", br);
	}
	*bridge = br;
	return NULL;
}
