/* sr: SR and VDI API handlers over the SR drivers. */
#include "storage/sr.h"
#include "storage/sr_cbt.h"
#include "storage/sr_file.h"
#include "storage/sr_priv.h"

#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/store.h"
#include "rpc/api.h"
#include "util/log.h"
#include "util/spawn.h"
#include "util/xalloc.h"

char *sr_host;
/* This run of xapid: "<host uuid>.<boot id>" (sr_run_tag). */
static char sr_run[64];
/* Serialises the changes of copy-on-write chains (clones, GC). */
pthread_mutex_t sr_chain_lock = PTHREAD_MUTEX_INITIALIZER;

void
sr_chain_hold(bool hold)
{
	if (hold)
		pthread_mutex_lock(&sr_chain_lock);
	else
		pthread_mutex_unlock(&sr_chain_lock);
}

const char *
sr_map_get(const struct dm_coll *c, const char *key)
{
	for (size_t i = 0; c && i < c->n; i++)
		if (strcmp(c->v[2 * i].s, key) == 0)
			return c->v[2 * i + 1].s;
	return NULL;
}

/* A VBD through which a VM uses its VDI now. A checkpoint's VBDs say
 * attached too (the devices its memory knows), but nothing runs there. */
bool
sr_vbd_live(const struct db_row *vbd)
{
	const struct db_row *vm = vbd ? db_get(DMC_VM, vbd->f[DMF_VBD_VM].s) : NULL;
	return vbd && vbd->f[DMF_VBD_currently_attached].b && !(vm && vm->f[DMF_VM_is_a_snapshot].b);
}

struct db_row *
sr_local_pbd(const struct db_row *sr)
{
	const struct dm_coll *p = sr->f[DMF_SR_PBDs].c;
	for (size_t i = 0; p && i < p->n; i++) {
		struct db_row *pbd = db_get(DMC_PBD, p->v[i].s);
		if (pbd && sr_host && strcmp(pbd->f[DMF_PBD_host].s, sr_host) == 0)
			return pbd;
	}
	return NULL;
}

/* Fills ctx for an SR attached on this host: loc is filled (the caller
 * clears it), the uuid borrowed from the row. */
static struct api_err *
sr_context(const struct db_row *sr, struct sr_ctx *ctx, struct sr_loc *loc,
           const struct sr_driver **drv)
{
	*drv = sr_driver_find(sr->f[DMF_SR_type].s);
	if (!*drv)
		return api_error(XE_SR_UNKNOWN_DRIVER, sr->f[DMF_SR_type].s, NULL);
	struct db_row *pbd = sr_local_pbd(sr);
	if (!pbd || !pbd->f[DMF_PBD_currently_attached].b) {
		/* xapi: no plugged PBD to run the operation on */
		const struct dm_coll *p = sr->f[DMF_SR_PBDs].c;
		bool any = false;
		for (size_t i = 0; p && i < p->n; i++) {
			struct db_row *o = db_get(DMC_PBD, p->v[i].s);
			any = any || (o && o->f[DMF_PBD_currently_attached].b);
		}
		return any ? api_error(XE_SR_NOT_ATTACHED, sr->ref, NULL)
		           : api_error(XE_SR_HAS_NO_PBDS, sr->ref, NULL);
	}
	struct api_err *e = (*drv)->locate(pbd->f[DMF_PBD_device_config].c,
	                                   sr->f[DMF_SR_sm_config].c,
	                                   sr->f[DMF_SR_uuid].s, loc);
	if (e)
		return e;
	ctx->uuid = sr->f[DMF_SR_uuid].s;
	ctx->path = loc->path;
	ctx->server = loc->server;
	ctx->sub = loc->sub ? loc->sub : "";
	return NULL;
}

char *
sr_vdi_path(const char *vdi_ref, const char **format, struct api_err **err)
{
	struct db_row *vdi = db_get(DMC_VDI, vdi_ref);
	if (!vdi) {
		*err = api_error(XE_HANDLE_INVALID, "VDI", vdi_ref, NULL);
		return NULL;
	}
	struct db_row *sr = db_get(DMC_SR, vdi->f[DMF_VDI_SR].s);
	if (!sr) {
		*err = api_error(XE_HANDLE_INVALID, "SR", vdi->f[DMF_VDI_SR].s, NULL);
		return NULL;
	}
	struct sr_ctx ctx;
	struct sr_loc loc = {0};
	const struct sr_driver *drv;
	char *p = NULL;
	if (!(*err = sr_context(sr, &ctx, &loc, &drv)))
		p = drv->vdi_path(&ctx, vdi->f[DMF_VDI_location].s, format);
	sr_loc_clear(&loc);
	return p;
}

struct api_err *
sr_call_prepare(const char *sr_ref, struct sr_call *c)
{
	struct api_err *err = NULL;
	memset(c, 0, sizeof(*c));
	db_rdlock();
	struct db_row *sr = db_get(DMC_SR, sr_ref);
	if (!sr) {
		err = api_error(XE_HANDLE_INVALID, "SR", sr_ref, NULL);
	} else if (!(err = sr_context(sr, &c->ctx, &c->loc, &c->drv))) {
		c->uuid = xstrdup(c->ctx.uuid);
		c->sr_ref = xstrdup(sr_ref);
		c->ctx.uuid = c->uuid;
	}
	db_unlock();
	return err;
}

void
sr_call_clear(struct sr_call *c)
{
	free(c->uuid);
	free(c->sr_ref);
	sr_loc_clear(&c->loc);
}

const char *
sr_run_tag(void)
{
	return sr_run;
}

bool
sr_run_tag_stale(const char *name, const char *prefix)
{
	size_t pl = strlen(prefix), hl = strcspn(sr_run, ".");
	/* same host uuid, another boot id */
	return hl == 36 && strncmp(name, prefix, pl) == 0 &&
	       strncmp(name + pl, sr_run, hl + 1) == 0 &&
	       strlen(name + pl) > strlen(sr_run) &&
	       strncmp(name + pl, sr_run, strlen(sr_run)) != 0 &&
	       name[pl + strlen(sr_run)] == '.';
}

static struct api_err *
sr_supported_types(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	(void)ctx;
	(void)args;
	(void)nargs;
	*result = xv_array();
	for (size_t i = 0; i < sr_ndrivers; i++)
		xv_push(*result, xv_str(sr_drivers[i]->type));
	return NULL;
}

void
sr_register(const char *host_ref)
{
	free(sr_host);
	sr_host = xstrdup(host_ref);
	char *boot = db_new_uuid();
	db_rdlock();
	const struct db_row *h = db_get(DMC_host, host_ref);
	snprintf(sr_run, sizeof(sr_run), "%s.%.8s",
	         h ? h->f[DMF_host_uuid].s : "", boot);
	db_unlock();
	free(boot);
	sr_vdi_register();
	sr_clone_register();
	api_register("SR.get_supported_types", sr_supported_types,
	             API_READONLY);
	sr_life_register();
	sr_scan_register();
	sr_cbt_register();
	sr_onboot_register();
}
