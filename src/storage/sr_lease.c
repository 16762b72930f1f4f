/* sr_lease: writers' leases on NFS SRs. NFS here has no locks (QEMU's
 * userspace client takes none), so a second pool that sees the same export
 * could open an image a VM of ours writes. Each VDI opened read-write by a
 * VM of this host has a file ".lease-<location>" in the SR's directory
 * naming the host and a time, rewritten every SR_LEASE_RENEW seconds while
 * the VM runs and removed when it no longer does. A host finding another
 * host's lease refuses the VDI unless that host is one of our pool's and
 * the DB says it does not use the VDI, or the lease is older than
 * SR_LEASE_TTL (its holder is gone). Inside one pool the DB decides
 * (sr_vdi_check_open). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "storage/sr.h"
#include "storage/sr_fs.h"
#include "storage/sr_priv.h"
#include "util/log.h"
#include "util/xalloc.h"

#define SR_LEASE_RENEW 20
#define SR_LEASE_TTL 90
#define SR_LEASE_PREFIX ".lease-"

/* This host's uuid (read lock held). */
static const char *
lease_host_uuid(void)
{
	const struct db_row *h = sr_host ? db_get(DMC_host, sr_host) : NULL;
	return h ? h->f[DMF_host_uuid].s : "";
}

/* Whether a VM resident on host_ref has the VDI open (read lock held). */
static bool
lease_live_on(const struct db_row *vdi, const char *host_ref)
{
	const struct dm_coll *b = vdi->f[DMF_VDI_VBDs].c;
	for (size_t i = 0; b && i < b->n; i++) {
		const struct db_row *vbd = db_get(DMC_VBD, b->v[i].s);
		const struct db_row *vm =
		    vbd ? db_get(DMC_VM, vbd->f[DMF_VBD_VM].s) : NULL;
		if (vbd && vm && vbd->f[DMF_VBD_currently_attached].b &&
		    !vm->f[DMF_VM_is_a_snapshot].b &&
		    strcmp(vm->f[DMF_VM_resident_on].s, host_ref) == 0)
			return true;
	}
	return false;
}

/* Takes the lease of one VDI (location on the SR of c) for this host. */
static struct api_err *
lease_take(struct sr_call *c, const char *vdi_ref, const char *location,
           const char *me)
{
	struct sr_fs_loc loc = {c->ctx.server, c->ctx.path, c->ctx.sub};
	char *msg = NULL, *name = xasprintf(SR_LEASE_PREFIX "%s", location);
	struct api_err *err = NULL;
	struct sr_fs *fs = sr_fs_open(&loc, 20, &msg);
	if (!fs) {
		err = sr_backend_error(73, "NFS mount error", msg);
		free(msg);
		free(name);
		return err;
	}
	char *text = xasprintf("%s %lld\n", me, (long long)time(NULL));
	int rc = sr_fs_write(fs, name, text, true);
	if (rc < 0 && errno == EEXIST) {
		char *old = sr_fs_read(fs, name);
		char holder[64] = "";
		long long t = 0;
		if (old && sscanf(old, "%63s %lld", holder, &t) != 2)
			holder[0] = '\0';
		free(old);
		bool stale = true;
		if (holder[0] && strcmp(holder, me) != 0) {
			db_rdlock();
			const struct db_row *h =
			    db_get_by_uuid(DMC_host, holder);
			const struct db_row *vdi = db_get(DMC_VDI, vdi_ref);
			if (h) /* one of ours: the DB knows */
				stale = !vdi || !lease_live_on(vdi, h->ref);
			else /* another pool's host: its lease must be renewed
			      */
				stale = time(NULL) - t > SR_LEASE_TTL ||
				        t > time(NULL) + SR_LEASE_TTL;
			db_unlock();
		}
		if (!stale) {
			log_warn(
			    "sr",
			    "VDI %s is open on host %s (lease %s): refused",
			    vdi_ref, holder, name);
			err = api_error(XE_VDI_IN_USE, vdi_ref, "attach", NULL);
		} else if (sr_fs_write(fs, name, text, false) < 0) {
			err = sr_backend_error(1, "cannot write a lease",
			                       sr_fs_error(fs));
		}
	} else if (rc < 0) {
		err = sr_backend_error(1, "cannot write a lease",
		                       sr_fs_error(fs));
	}
	free(text);
	free(name);
	sr_fs_close(fs);
	return err;
}

/* The leases of VM vm_ref's read-write VDIs on NFS SRs; only_vbd: of that
 * VBD alone (a hot-plug). */
static struct api_err *
leases_take(const char *vm_ref, const char *only_vbd)
{
	struct api_err *err = NULL;
	size_t n = 0;
	char **vdis = NULL, **srs = NULL, **locs = NULL, *me;
	db_rdlock();
	const struct db_row *vm = db_get(DMC_VM, vm_ref);
	const struct dm_coll *b = vm ? vm->f[DMF_VM_VBDs].c : NULL;
	me = xstrdup(lease_host_uuid());
	for (size_t i = 0; b && i < b->n; i++) {
		if (only_vbd && strcmp(b->v[i].s, only_vbd) != 0)
			continue;
		const struct db_row *vbd = db_get(DMC_VBD, b->v[i].s);
		const struct db_row *vdi =
		    vbd && !vbd->f[DMF_VBD_empty].b
		        ? db_get(DMC_VDI, vbd->f[DMF_VBD_VDI].s)
		        : NULL;
		const struct db_row *sr =
		    vdi ? db_get(DMC_SR, vdi->f[DMF_VDI_SR].s) : NULL;
		if (!sr || strcmp(sr->f[DMF_SR_type].s, "nfs") != 0 ||
		    strcmp(vbd->f[DMF_VBD_mode].s, "RW") != 0 ||
		    vdi->f[DMF_VDI_sharable].b)
			continue;
		vdis = xrealloc(vdis, (n + 1) * sizeof(*vdis));
		srs = xrealloc(srs, (n + 1) * sizeof(*srs));
		locs = xrealloc(locs, (n + 1) * sizeof(*locs));
		vdis[n] = xstrdup(vdi->ref);
		srs[n] = xstrdup(sr->ref);
		locs[n] = xstrdup(vdi->f[DMF_VDI_location].s);
		n++;
	}
	db_unlock();
	for (size_t i = 0; i < n; i++) {
		struct sr_call c;
		if (!err && !(err = sr_call_prepare(srs[i], &c))) {
			err = lease_take(&c, vdis[i], locs[i], me);
			sr_call_clear(&c);
		}
		free(vdis[i]);
		free(srs[i]);
		free(locs[i]);
	}
	free(vdis);
	free(srs);
	free(locs);
	free(me);
	return err;
}

struct api_err *
sr_leases_take(const char *vm_ref)
{
	return leases_take(vm_ref, NULL);
}

struct api_err *
sr_lease_take_vbd(const char *vm_ref, const char *vbd_ref)
{
	return leases_take(vm_ref, vbd_ref);
}

/* One pass over one NFS SR plugged here: our leases renewed for the VDIs
 * our VMs use, dropped for the others. */
static void
lease_renew_sr(const char *sr_ref, const char *me)
{
	struct sr_call c;
	struct api_err *err = sr_call_prepare(sr_ref, &c);
	if (err) {
		api_err_free(err);
		return;
	}
	struct sr_fs_loc loc = {c.ctx.server, c.ctx.path, c.ctx.sub};
	char *msg = NULL;
	struct sr_fs *fs = sr_fs_open(&loc, 20, &msg);
	char **names = fs ? sr_fs_list(fs) : NULL;
	char *text = xasprintf("%s %lld\n", me, (long long)time(NULL));
	for (size_t i = 0; names && names[i]; i++) {
		const char *l = names[i];
		if (strncmp(l, SR_LEASE_PREFIX, strlen(SR_LEASE_PREFIX)) != 0)
			continue;
		char *old = sr_fs_read(fs, l), holder[64] = "";
		if (!old || sscanf(old, "%63s", holder) != 1 ||
		    strcmp(holder, me) != 0) {
			free(old);
			continue;
		}
		free(old);
		const char *location = l + strlen(SR_LEASE_PREFIX);
		bool live = false;
		db_rdlock();
		const struct db_row *sr = db_get(DMC_SR, sr_ref);
		const struct dm_coll *v = sr ? sr->f[DMF_SR_VDIs].c : NULL;
		for (size_t k = 0; v && k < v->n && !live; k++) {
			const struct db_row *vdi = db_get(DMC_VDI, v->v[k].s);
			live =
			    vdi &&
			    strcmp(vdi->f[DMF_VDI_location].s, location) == 0 &&
			    lease_live_on(vdi, sr_host);
		}
		db_unlock();
		if (live)
			sr_fs_write(fs, l, text, false);
		else
			sr_fs_unlink(fs, l);
	}
	/* VDIs our VMs opened without taking a lease (resumed, migrated in) */
	char **mine = NULL;
	size_t nm = 0;
	db_rdlock();
	const struct db_row *srr = db_get(DMC_SR, sr_ref);
	const struct dm_coll *vs = srr && names ? srr->f[DMF_SR_VDIs].c : NULL;
	for (size_t k = 0; vs && k < vs->n; k++) {
		const struct db_row *vdi = db_get(DMC_VDI, vs->v[k].s);
		if (!vdi || vdi->f[DMF_VDI_sharable].b ||
		    !sr_vdi_written(vdi) || !lease_live_on(vdi, sr_host))
			continue;
		mine = xrealloc(mine, (nm + 1) * sizeof(*mine));
		mine[nm++] =
		    xasprintf(SR_LEASE_PREFIX "%s", vdi->f[DMF_VDI_location].s);
	}
	db_unlock();
	for (size_t k = 0; k < nm; k++) {
		if (sr_fs_write(fs, mine[k], text, true) == 0)
			log_info("sr", "lease %s taken for a running VM",
			         mine[k]);
		free(mine[k]);
	}
	free(mine);
	free(text);
	sr_fs_names_free(names);
	sr_fs_close(fs);
	free(msg);
	sr_call_clear(&c);
}

static void *
lease_thread(void *arg)
{
	(void)arg;
	for (;;) {
		sleep(SR_LEASE_RENEW);
		size_t n = 0, k = 0;
		db_rdlock();
		struct db_row **all = db_list(DMC_SR, &n);
		char **refs = xcalloc(n + 1, sizeof(*refs));
		char *me = xstrdup(lease_host_uuid());
		for (size_t i = 0; i < n; i++)
			if (strcmp(all[i]->f[DMF_SR_type].s, "nfs") == 0)
				refs[k++] = xstrdup(all[i]->ref);
		free(all);
		db_unlock();
		for (size_t i = 0; i < k; i++) {
			lease_renew_sr(refs[i], me);
			free(refs[i]);
		}
		free(refs);
		free(me);
	}
	return NULL;
}

void
sr_lease_start(void)
{
	pthread_t th;
	if (pthread_create(&th, NULL, lease_thread, NULL) == 0)
		pthread_detach(th);
}
