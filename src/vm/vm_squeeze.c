/*
 * vm_squeeze: the memory targets of the VMs that run on this host, as
 * xapi's squeezed sets them (doc/content/squeezed/design): every VM that
 * can balloon gets the same fraction of its dynamic range,
 * (target - dynamic_min) / (dynamic_max - dynamic_min), the largest one
 * the host's memory allows (dynamic_max for all when everything fits,
 * dynamic_min when nothing more does). The target goes to the guest's
 * balloon driver (backend balloon) and into VM.memory_target, as xenopsd
 * reports it to xapi. A VM without a balloon (a QEMU started by an older
 * xapid) keeps all of its static_max and counts so in the host's
 * accounting (vm_host_free_memory).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/xalloc.h"
#include "vm/vm_int.h"

#define SQ_TAG "squeeze"

void
vm_squeeze_targets(const struct vm_sq *v, size_t n, int64_t avail, int64_t *out)
{
	int64_t smin = 0, smax = 0;
	for (size_t i = 0; i < n; i++) {
		smin += v[i].dmin;
		smax += v[i].dmax;
	}
	for (size_t i = 0; i < n; i++) {
		if (smax <= avail || smax == smin)
			out[i] = v[i].dmax;
		else if (smin >= avail)
			out[i] = v[i].dmin;
		else /* the same fraction of every range (in long double: the
		      * product of two byte counts does not fit 64 bits) */
			out[i] =
			    v[i].dmin +
			    (int64_t)((long double)(v[i].dmax - v[i].dmin) *
			              (long double)(avail - smin) /
			              (long double)(smax - smin));
	}
}

/* What this module remembers of a VM it set a target for. */
struct sq_known {
	char uuid[37];
	int64_t target; /* last one the backend took */
	bool fixed;     /* no balloon: all of its memory, always */
	bool seen;
};

/* sq_lock: one squeeze at a time (taken first); sq_tab_lock: the table
 * below, held briefly and last (inside the DB lock too). */
static pthread_mutex_t sq_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t sq_tab_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sq_known *sq_known;
static size_t sq_nknown;

/* The entry of uuid (added when missing). sq_tab_lock held; the pointer
 * is good until it is released. */
static struct sq_known *
sq_find(const char *uuid, bool add)
{
	for (size_t i = 0; i < sq_nknown; i++)
		if (strcmp(sq_known[i].uuid, uuid) == 0)
			return &sq_known[i];
	if (!add)
		return NULL;
	sq_known = xrealloc(sq_known, (sq_nknown + 1) * sizeof(*sq_known));
	struct sq_known *k = &sq_known[sq_nknown++];
	memset(k, 0, sizeof(*k));
	snprintf(k->uuid, sizeof(k->uuid), "%s", uuid);
	return k;
}

bool
vm_squeeze_fixed(const char *uuid)
{
	pthread_mutex_lock(&sq_tab_lock);
	struct sq_known *k = sq_find(uuid, false);
	bool fixed = k && k->fixed;
	pthread_mutex_unlock(&sq_tab_lock);
	return fixed;
}

void
vm_squeeze_forget(const char *uuid)
{
	pthread_mutex_lock(&sq_tab_lock);
	for (size_t i = 0; i < sq_nknown; i++)
		if (strcmp(sq_known[i].uuid, uuid) == 0) {
			sq_known[i] = sq_known[--sq_nknown];
			break;
		}
	pthread_mutex_unlock(&sq_tab_lock);
}

/* A VM running here, as the squeeze sees it. */
struct sq_vm {
	char *ref, uuid[37];
	struct vm_sq m;
	int64_t smax, target_db;
};

/* Records the target in VM.memory_target when it moved. */
static void
sq_db_target(const struct sq_vm *v, int64_t target)
{
	if (v->target_db == target)
		return;
	struct db_txn *t = db_txn_begin();
	struct db_row *r = db_txn_edit(t, DMC_VM, v->ref);
	if (!r) {
		db_txn_abort(t);
		return;
	}
	db_txn_set(t, r, DMF_VM_memory_target, (union dm_val){.i = target});
	api_err_free(api_commit(t));
}

void
vm_squeeze(void)
{
	if (!vm_cfg.backend || !vm_cfg.backend->balloon)
		return;
	pthread_mutex_lock(&sq_lock);
	size_t nrows, n = 0;
	int64_t avail = vm_host_guest_memory();
	db_rdlock();
	struct db_row **rows = db_list(DMC_VM, &nrows);
	struct sq_vm *v = xcalloc(nrows + 1, sizeof(*v));
	for (size_t i = 0; i < nrows; i++) {
		struct db_row *r = rows[i];
		const char *ps = r->f[DMF_VM_power_state].s;
		if (r->f[DMF_VM_is_control_domain].b)
			continue;
		bool here =
		    strcmp(r->f[DMF_VM_resident_on].s, vm_cfg.host_ref) == 0;
		bool coming = strcmp(r->f[DMF_VM_scheduled_to_be_resident_on].s,
		                     vm_cfg.host_ref) == 0;
		bool live =
		    strcmp(ps, "Running") == 0 || strcmp(ps, "Paused") == 0;
		int64_t smax = r->f[DMF_VM_memory_static_max].i;
		if (coming && !(here && live)) {
			/* being started here: its dynamic_min is promised */
			avail -= r->f[DMF_VM_memory_dynamic_min].i +
			         vm_memory_overhead(smax);
			continue;
		}
		if (!here || !live)
			continue;
		avail -= vm_memory_overhead(smax);
		if (vm_squeeze_fixed(r->f[DMF_VM_uuid].s)) {
			avail -= smax;
			continue;
		}
		struct sq_vm *x = &v[n++];
		x->ref = xstrdup(r->ref);
		snprintf(x->uuid, sizeof(x->uuid), "%s", r->f[DMF_VM_uuid].s);
		x->m.dmin = r->f[DMF_VM_memory_dynamic_min].i;
		x->m.dmax = r->f[DMF_VM_memory_dynamic_max].i;
		x->smax = smax;
		x->target_db = r->f[DMF_VM_memory_target].i;
	}
	free(rows);
	db_unlock();

	struct vm_sq *m = xcalloc(n + 1, sizeof(*m));
	int64_t *target = xcalloc(n + 1, sizeof(*target));
	for (size_t i = 0; i < n; i++)
		m[i] = v[i].m;
	vm_squeeze_targets(m, n, avail, target);
	pthread_mutex_lock(&sq_tab_lock);
	for (size_t i = 0; i < sq_nknown; i++)
		sq_known[i].seen = false;
	pthread_mutex_unlock(&sq_tab_lock);
	for (size_t i = 0; i < n; i++) {
		pthread_mutex_lock(&sq_tab_lock);
		struct sq_known *k = sq_find(v[i].uuid, true);
		k->seen = true;
		int64_t last = k->target;
		pthread_mutex_unlock(&sq_tab_lock);
		if (last != target[i]) {
			char *err = NULL;
			int rc =
			    vm_cfg.backend->balloon(v[i].uuid, target[i], &err);
			if (rc == 1) {
				log_warn(
				    SQ_TAG,
				    "VM %s has no balloon (a QEMU of an older "
				    "xapid): it keeps all of its memory until "
				    "it reboots",
				    v[i].uuid);
				target[i] = v[i].smax;
			} else if (rc < 0) {
				/* busy in an operation, or gone: next round */
				log_debug(SQ_TAG, "VM %s: %s", v[i].uuid,
				          err ? err : "balloon failed");
				free(err);
				continue;
			}
			pthread_mutex_lock(&sq_tab_lock);
			k = sq_find(v[i].uuid, true);
			k->target = target[i];
			k->fixed = rc == 1;
			pthread_mutex_unlock(&sq_tab_lock);
			last = target[i];
		}
		sq_db_target(&v[i], last);
	}
	/* VMs that run here no more are forgotten (a fixed one is not in the
	 * list above: it stays while it is live) */
	pthread_mutex_lock(&sq_tab_lock);
	size_t nk = sq_nknown;
	struct sq_known *copy = xcalloc(nk + 1, sizeof(*copy));
	if (nk)
		memcpy(copy, sq_known, nk * sizeof(*copy));
	pthread_mutex_unlock(&sq_tab_lock);
	for (size_t i = 0; i < nk; i++) {
		if (copy[i].seen ||
		    (copy[i].fixed && vm_squeeze_live(copy[i].uuid)))
			continue;
		pthread_mutex_lock(&sq_tab_lock);
		for (size_t j = 0; j < sq_nknown; j++)
			if (strcmp(sq_known[j].uuid, copy[i].uuid) == 0) {
				sq_known[j] = sq_known[--sq_nknown];
				break;
			}
		pthread_mutex_unlock(&sq_tab_lock);
	}
	free(copy);
	pthread_mutex_unlock(&sq_lock);
	for (size_t i = 0; i < n; i++)
		free(v[i].ref);
	free(v);
	free(m);
	free(target);
}

bool
vm_squeeze_live(const char *uuid)
{
	bool live = false;
	size_t n;
	db_rdlock();
	struct db_row **rows = db_list(DMC_VM, &n);
	for (size_t i = 0; i < n && !live; i++) {
		struct db_row *r = rows[i];
		const char *ps = r->f[DMF_VM_power_state].s;
		live =
		    strcmp(r->f[DMF_VM_uuid].s, uuid) == 0 &&
		    (strcmp(ps, "Running") == 0 || strcmp(ps, "Paused") == 0) &&
		    strcmp(r->f[DMF_VM_resident_on].s, vm_cfg.host_ref) == 0;
	}
	free(rows);
	db_unlock();
	return live;
}
