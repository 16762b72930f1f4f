/* pool_route_sr: where the master runs a storage call, as xapi's
 * message_forwarding does for SR and VDI operations (with_sr_andor_vdi /
 * forward_to_access_srs) and for VM snapshots and copies: on a host that
 * has the SR(s) attached, the master itself when it has; for a VDI (or VM)
 * a running VM writes to, on the VM's host (a live snapshot goes through
 * its QEMU). */
#include <stdlib.h>
#include <string.h>

#include "db/store.h"
#include "pool/pool_int.h"
#include "util/xalloc.h"

/* VDI messages that touch the SR's storage (all take the VDI first). */
static const char *const proute_sr_vdi[] = {
    "VDI.destroy",      "VDI.resize",      "VDI.resize_online",
    "VDI.snapshot",     "VDI.clone",       "VDI.copy",
    "VDI.enable_cbt",   "VDI.disable_cbt", "VDI.list_changed_blocks",
    "VDI.data_destroy",
};

/* The host of a running VM that has the VDI attached, or NULL. Read lock
 * held. */
static const char *
proute_sr_vdi_live(const struct db_row *vdi)
{
	const struct dm_coll *b = vdi->f[DMF_VDI_VBDs].c;
	for (size_t i = 0; b && i < b->n; i++) {
		const struct db_row *vbd = db_get(DMC_VBD, b->v[i].s);
		const struct db_row *vm =
		    vbd ? db_get(DMC_VM, vbd->f[DMF_VBD_VM].s) : NULL;
		if (!vbd || !vm || !vbd->f[DMF_VBD_currently_attached].b ||
		    vm->f[DMF_VM_is_a_snapshot].b ||
		    (strcmp(vm->f[DMF_VM_power_state].s, "Running") != 0 &&
		     strcmp(vm->f[DMF_VM_power_state].s, "Paused") != 0) ||
		    !db_get(DMC_host, vm->f[DMF_VM_resident_on].s))
			continue;
		return vm->f[DMF_VM_resident_on].s;
	}
	return NULL;
}

/* A live host with the SR attached: this one if it has, else the first
 * other. NULL when none (the call then runs here and says the SR is not
 * attached). Read lock held. */
static const char *
proute_sr_attached(const char *sr_ref)
{
	const struct db_row *sr = db_get(DMC_SR, sr_ref);
	const struct dm_coll *p = sr ? sr->f[DMF_SR_PBDs].c : NULL;
	const char *other = NULL;
	for (size_t i = 0; p && i < p->n; i++) {
		const struct db_row *pbd = db_get(DMC_PBD, p->v[i].s);
		if (!pbd || !pbd->f[DMF_PBD_currently_attached].b)
			continue;
		const char *h = pbd->f[DMF_PBD_host].s;
		if (strcmp(h, prole_host_ref()) == 0)
			return NULL;
		const struct db_row *hr = db_get(DMC_host, h);
		const struct db_row *m =
		    hr ? db_get(DMC_host_metrics, hr->f[DMF_host_metrics].s)
		       : NULL;
		if (!other && hr && (!m || m->f[DMF_host_metrics_live].b))
			other = h;
	}
	return other;
}

/* VM messages that copy or snapshot the VM's disks (the VM, or for
 * VM.revert the snapshot, first). */
static const char *const proute_sr_vm[] = {
    "VM.snapshot", "VM.snapshot_with_quiesce", "VM.clone", "VM.copy",
    "VM.revert",
};

/* Whether host has every SR of srs (n refs) attached. Read lock held. */
static bool
proute_sr_sees(const char *host, const char *const *srs, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		const struct db_row *sr = db_get(DMC_SR, srs[k]);
		const struct dm_coll *p = sr ? sr->f[DMF_SR_PBDs].c : NULL;
		bool ok = false;
		for (size_t i = 0; p && i < p->n && !ok; i++) {
			const struct db_row *pbd = db_get(DMC_PBD, p->v[i].s);
			ok = pbd && pbd->f[DMF_PBD_currently_attached].b &&
			     strcmp(pbd->f[DMF_PBD_host].s, host) == 0;
		}
		if (!ok)
			return false;
	}
	return true;
}

/* NULL when this host has every SR of srs (n refs) attached (or n is 0),
 * else the first live host that has, or NULL when none has. Read lock
 * held. */
static const char *
proute_sr_pick(const char *const *srs, size_t n)
{
	const char *host = NULL;
	if (!n || proute_sr_sees(prole_host_ref(), srs, n))
		return NULL;
	size_t nh;
	struct db_row **hosts = db_list(DMC_host, &nh);
	for (size_t i = 0; i < nh && !host; i++) {
		const struct db_row *m =
		    db_get(DMC_host_metrics, hosts[i]->f[DMF_host_metrics].s);
		if ((!m || m->f[DMF_host_metrics_live].b) &&
		    proute_sr_sees(hosts[i]->ref, srs, n))
			host = hosts[i]->ref;
	}
	free(hosts);
	return host;
}

/* For a VM message: the host of the VM when it runs elsewhere (snapshots
 * go through its QEMU), else a live host that has every SR of the VM's
 * disks (and of sr_ref, a copy's target) attached when this one has not.
 * Read lock held. */
static const char *
proute_sr_vm_host(const char *method, const char *vm_ref, const char *sr_ref)
{
	const struct db_row *vm = db_get(DMC_VM, vm_ref);
	if (!vm)
		return NULL;
	const char *ps = vm->f[DMF_VM_power_state].s;
	if ((strcmp(ps, "Running") == 0 || strcmp(ps, "Paused") == 0) &&
	    strncmp(method, "VM.snapshot", 11) == 0)
		return db_get(DMC_host, vm->f[DMF_VM_resident_on].s)
		           ? vm->f[DMF_VM_resident_on].s
		           : NULL;
	const struct dm_coll *b = vm->f[DMF_VM_VBDs].c;
	const char **srs = xcalloc((b ? b->n : 0) + 1, sizeof(*srs));
	size_t n = 0;
	for (size_t i = 0; b && i < b->n; i++) {
		const struct db_row *vbd = db_get(DMC_VBD, b->v[i].s);
		const struct db_row *vdi =
		    vbd && !vbd->f[DMF_VBD_empty].b
		        ? db_get(DMC_VDI, vbd->f[DMF_VBD_VDI].s)
		        : NULL;
		if (vdi && strcmp(vbd->f[DMF_VBD_type].s, "CD") != 0)
			srs[n++] = vdi->f[DMF_VDI_SR].s;
	}
	if (sr_ref && db_get(DMC_SR, sr_ref))
		srs[n++] = sr_ref;
	const char *host = proute_sr_pick(srs, n);
	free(srs);
	return host;
}

char *
proute_sr_target(const char *method, xv *const *all, size_t nall)
{
	const char *host = NULL;
	bool vdi_op = false, vm_op = false;
	if (nall < 2)
		return NULL;
	/* VM.import(url, sr, ...): a host that sees the SR fetches it */
	if (strcmp(method, "VM.import") == 0) {
		if (nall < 3 || all[2]->type != XV_STRING)
			return NULL;
		db_rdlock();
		host = proute_sr_attached(all[2]->u.s);
		char *r = host ? xstrdup(host) : NULL;
		db_unlock();
		return r;
	}
	for (size_t i = 0; i < sizeof(proute_sr_vm) / sizeof(proute_sr_vm[0]);
	     i++)
		vm_op = vm_op || strcmp(method, proute_sr_vm[i]) == 0;
	if (vm_op && all[1]->type == XV_STRING) {
		const char *sr = strcmp(method, "VM.copy") == 0 && nall > 3 &&
		                         all[3]->type == XV_STRING
		                     ? all[3]->u.s
		                     : NULL;
		db_rdlock();
		host = proute_sr_vm_host(method, all[1]->u.s, sr);
		char *r = host ? xstrdup(host) : NULL;
		db_unlock();
		return r;
	}
	for (size_t i = 0; i < sizeof(proute_sr_vdi) / sizeof(proute_sr_vdi[0]);
	     i++)
		vdi_op = vdi_op || strcmp(method, proute_sr_vdi[i]) == 0;
	if (!vdi_op && strcmp(method, "VDI.create") != 0 &&
	    strcmp(method, "SR.scan") != 0)
		return NULL;
	db_rdlock();
	if (strcmp(method, "VDI.create") == 0) {
		const xv *sr =
		    all[1]->type == XV_STRUCT ? xv_get(all[1], "SR") : NULL;
		if (sr && sr->type == XV_STRING)
			host = proute_sr_attached(sr->u.s);
	} else if (all[1]->type != XV_STRING) {
	} else if (!vdi_op) {
		host = proute_sr_attached(all[1]->u.s);
	} else {
		const struct db_row *vdi = db_get(DMC_VDI, all[1]->u.s);
		const char *to = strcmp(method, "VDI.copy") == 0 && nall > 2 &&
		                         all[2]->type == XV_STRING &&
		                         db_get(DMC_SR, all[2]->u.s)
		                     ? all[2]->u.s
		                     : NULL;
		if (vdi && to) { /* both SRs: the copy reads one, writes the other */
			const char *srs[] = {vdi->f[DMF_VDI_SR].s, to};
			host = proute_sr_pick(srs, 2);
		} else if (vdi && !(host = proute_sr_vdi_live(vdi))) {
			host = proute_sr_attached(vdi->f[DMF_VDI_SR].s);
		}
	}
	char *r = host ? xstrdup(host) : NULL;
	db_unlock();
	return r;
}
