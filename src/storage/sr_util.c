/* sr_util: what the SR modules share: SM-style backend errors, the space
 * figures of an SR after a change, the SR_FULL check. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/api.h"
#include <jansson.h>

#include "storage/sr.h"
#include "storage/sr_file.h"
#include "storage/sr_priv.h"
#include "util/spawn.h"
#include "util/xalloc.h"

struct api_err *
sr_backend_error(int code, const char *description, const char *opterr)
{
	char *c = xasprintf("SR_BACKEND_FAILURE_%d", code);
	char *d = opterr ? xasprintf("%s [opterr=%s]", description, opterr)
	                 : xstrdup(description);
	const char *params[] = {"", d, ""};
	struct api_err *e = api_error_raw(c, params, 3);
	free(c);
	free(d);
	return e;
}

void
sr_loc_clear(struct sr_loc *loc)
{
	free(loc->path);
	free(loc->server);
	free(loc->sub);
	memset(loc, 0, sizeof(*loc));
}

struct api_err *
sr_commit_space(struct db_txn *t, struct sr_call *c)
{
	struct api_err *err = api_commit(t);
	if (!err)
		sr_space_refresh(c);
	return err;
}

void
sr_space_refresh(struct sr_call *c)
{
	int64_t size = 0, used = 0;
	/* the figures after the change: the committed rows and the storage */
	struct api_err *e = c->drv->stat(&c->ctx, &size, &used);
	if (e) {
		api_err_free(e);
		return;
	}
	struct db_txn *t = db_txn_begin();
	struct db_row *sr = db_txn_edit(t, DMC_SR, c->sr_ref);
	if (!sr) {
		db_txn_abort(t);
		return;
	}
	int64_t virt = 0;
	const struct dm_coll *v = sr->f[DMF_SR_VDIs].c;
	for (size_t i = 0; v && i < v->n; i++) {
		const struct db_row *vdi = db_get(DMC_VDI, v->v[i].s);
		if (vdi)
			virt += vdi->f[DMF_VDI_virtual_size].i;
	}
	db_txn_set(t, sr, DMF_SR_physical_size, (union dm_val){.i = size});
	db_txn_set(t, sr, DMF_SR_physical_utilisation,
	           (union dm_val){.i = used});
	db_txn_set(t, sr, DMF_SR_virtual_allocation, (union dm_val){.i = virt});
	api_err_free(api_commit(t));
}

struct api_err *
sr_check_space(struct sr_call *c, int64_t need)
{
	int64_t size = 0, used = 0;
	struct api_err *e = c->drv->stat(&c->ctx, &size, &used);
	if (e)
		return e;
	if (need > size - used) {
		char a[32], b[32];
		snprintf(a, sizeof(a), "%lld", (long long)need);
		snprintf(b, sizeof(b), "%lld", (long long)(size - used));
		return api_error(XE_SR_FULL, a, b, NULL);
	}
	return NULL;
}

/* Bytes a qcow2 copy of image src takes (qemu-img measure); 0 if unknown. */
int64_t
sr_copy_need(const char *src, const char *fmt)
{
	struct buf out = BUF_INIT;
	int64_t need = 0;
	char *argv[] = {"qemu-img",  "measure", "-U",    "-f",
	                (char *)fmt, "-O",      "qcow2", "--output=json",
	                (char *)src, NULL};
	if (spawn_run(argv, &out, NULL, 300) == 0 && out.data) {
		json_t *j = json_loads(out.data, 0, NULL);
		need = json_integer_value(json_object_get(j, "required"));
		json_decref(j);
	}
	buf_free(&out);
	return need;
}

const struct sr_driver *const sr_drivers[] = {&sr_file_ext, &sr_file_file,
                                              &sr_file_nfs, &sr_iso_driver};

const struct sr_driver *
sr_driver_find(const char *type)
{
	for (size_t i = 0;
	     type && i < sizeof(sr_drivers) / sizeof(sr_drivers[0]); i++)
		if (strcmp(sr_drivers[i]->type, type) == 0)
			return sr_drivers[i];
	return NULL;
}

const size_t sr_ndrivers = sizeof(sr_drivers) / sizeof(sr_drivers[0]);

/* Whether host has a PBD of every SR in srs plugged. Read lock held. */
static bool
sr_host_sees(const char *host, const char *const *srs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct db_row *sr = db_get(DMC_SR, srs[i]);
		const struct dm_coll *p = sr ? sr->f[DMF_SR_PBDs].c : NULL;
		bool seen = false;
		for (size_t k = 0; p && k < p->n && !seen; k++) {
			const struct db_row *pbd = db_get(DMC_PBD, p->v[k].s);
			seen = pbd && pbd->f[DMF_PBD_currently_attached].b &&
			       strcmp(pbd->f[DMF_PBD_host].s, host) == 0;
		}
		if (!seen)
			return false;
	}
	return true;
}

char *
sr_elsewhere(const char *const *srs, size_t n)
{
	char *addr = NULL;
	db_rdlock();
	if (n && sr_host && !sr_host_sees(sr_host, srs, n)) {
		size_t nh;
		struct db_row **hosts = db_list(DMC_host, &nh);
		for (size_t i = 0; i < nh && !addr; i++)
			if (strcmp(hosts[i]->ref, sr_host) != 0 &&
			    hosts[i]->f[DMF_host_enabled].b &&
			    sr_host_sees(hosts[i]->ref, srs, n) &&
			    *hosts[i]->f[DMF_host_address].s)
				addr = xstrdup(hosts[i]->f[DMF_host_address].s);
		free(hosts);
	}
	db_unlock();
	return addr;
}
