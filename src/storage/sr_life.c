/* sr_life: the lifecycle of SRs and PBDs as xapi has it (xapi_sr.ml,
 * xapi_pbd.ml, message_forwarding.ml): SR.create/introduce/forget/destroy/
 * probe/probe_ext/update, PBD.create/destroy/plug/unplug, the local SR made
 * at first start and the re-check of plugged PBDs at start-up. */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pool/pool.h"
#include "rpc/api.h"
#include "storage/sr.h"
#include "storage/sr_priv.h"
#include "util/log.h"
#include "util/xalloc.h"

static const struct dm_type *
sr_map_type(void)
{
	return dm_classes[DMC_PBD].fields[DMF_PBD_device_config].type;
}

/* A string map argument as a row value (owned). */
static struct dm_coll *
sr_arg_map(const xv *v)
{
	union dm_val val = {.c = NULL};
	struct api_err *e = dmv_from_xv(sr_map_type(), v, "map", &val);
	api_err_free(e);
	return val.c;
}

static void
sr_ctx_from(struct sr_ctx *ctx, const char *uuid, const struct sr_loc *loc)
{
	ctx->uuid = uuid;
	ctx->path = loc->path;
	ctx->server = loc->server;
	ctx->sub = loc->sub ? loc->sub : "";
}

/* Plugs a PBD of this host: the driver checks the storage, then the PBD is
 * currently_attached and the SR's space known. */
/* PBD.plug of another pool member's PBD runs on that host (its storage
 * client does the attach), through an internal session there. */
static struct api_err *
sr_pbd_plug_remote(const char *address, const char *host_ref,
                   const char *pbd_ref)
{
	xv *login = xv_array(), *sess = NULL;
	xv_push(login, xv_str(host_ref));
	xv_push(login, xv_str(pool_secret()));
	struct api_err *err =
	    pool_call(address, "session.slave_login", login, &sess);
	xv_free(login);
	if (err)
		return err;
	if (!sess || sess->type != XV_STRING) {
		xv_free(sess);
		return api_internal("no session from %s", address);
	}
	xv *args = xv_array(), *res = NULL;
	xv_push(args, xv_str(sess->u.s));
	xv_push(args, xv_str(pbd_ref));
	/* the member's replica may not have the PBD yet (just made here):
	 * bounded retries while it catches up */
	for (int i = 0; i < 100; i++) {
		api_err_free(err);
		xv_free(res);
		res = NULL;
		err = pool_call(address, "PBD.plug", args, &res);
		if (!err || strcmp(err->code, "HANDLE_INVALID") != 0)
			break;
		struct timespec ts = {0, 100 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	xv_free(args);
	xv_free(res);
	res = NULL;
	xv *out = xv_array();
	xv_push(out, xv_str(sess->u.s));
	api_err_free(pool_call(address, "session.logout", out, &res));
	xv_free(out);
	xv_free(res);
	xv_free(sess);
	return err;
}

static struct api_err *
sr_pbd_plug(const char *pbd_ref, bool recheck)
{
	struct api_err *err = NULL;
	const struct sr_driver *drv = NULL;
	struct sr_loc loc = {0};
	char *sr_ref = NULL, *uuid = NULL, *remote = NULL, *rhost = NULL;
	bool done = false;

	db_rdlock();
	const struct db_row *pbd = db_get(DMC_PBD, pbd_ref);
	const struct db_row *sr =
	    pbd ? db_get(DMC_SR, pbd->f[DMF_PBD_SR].s) : NULL;
	if (!pbd) {
		err = api_error(XE_HANDLE_INVALID, "PBD", pbd_ref, NULL);
	} else if (pbd->f[DMF_PBD_currently_attached].b && !recheck) {
		done = true;
	} else if (!sr) {
		err = api_error(XE_HANDLE_INVALID, "SR", pbd->f[DMF_PBD_SR].s,
		                NULL);
	} else if (!sr_host || strcmp(pbd->f[DMF_PBD_host].s, sr_host) != 0) {
		const struct db_row *h =
		    db_get(DMC_host, pbd->f[DMF_PBD_host].s);
		if (!h || !*h->f[DMF_host_address].s || recheck)
			err = api_error(XE_HOST_OFFLINE, pbd->f[DMF_PBD_host].s,
			                NULL);
		else {
			remote = xstrdup(h->f[DMF_host_address].s);
			rhost = xstrdup(h->ref);
		}
	} else if (!(drv = sr_driver_find(sr->f[DMF_SR_type].s))) {
		err =
		    api_error(XE_SR_UNKNOWN_DRIVER, sr->f[DMF_SR_type].s, NULL);
	} else {
		/* an SR that is not shared is plugged on one host at a time */
		const struct dm_coll *p = sr->f[DMF_SR_PBDs].c;
		for (size_t i = 0;
		     !sr->f[DMF_SR_shared].b && p && i < p->n && !err; i++) {
			const struct db_row *o = db_get(DMC_PBD, p->v[i].s);
			if (o && o->f[DMF_PBD_currently_attached].b &&
			    strcmp(o->f[DMF_PBD_host].s, sr_host) != 0)
				err = api_error(XE_SR_NOT_SHARABLE, sr->ref,
				                o->f[DMF_PBD_host].s, NULL);
		}
		if (!err)
			err = drv->locate(pbd->f[DMF_PBD_device_config].c,
			                  sr->f[DMF_SR_sm_config].c,
			                  sr->f[DMF_SR_uuid].s, &loc);
		sr_ref = xstrdup(sr->ref);
		uuid = xstrdup(sr->f[DMF_SR_uuid].s);
	}
	db_unlock();
	if (remote) {
		err = sr_pbd_plug_remote(remote, rhost, pbd_ref);
		free(remote);
		free(rhost);
		return err;
	}
	if (!err && !done) {
		struct sr_ctx ctx;
		sr_ctx_from(&ctx, uuid, &loc);
		if ((err = drv->attach(&ctx)) && recheck) {
			struct db_txn *t = db_txn_begin();
			struct db_row *w = db_txn_edit(t, DMC_PBD, pbd_ref);
			if (w)
				db_txn_set(t, w, DMF_PBD_currently_attached,
				           (union dm_val){.b = false});
			api_err_free(api_commit(t));
		} else if (!err && !recheck) {
			struct db_txn *t = db_txn_begin();
			struct db_row *w = db_txn_edit(t, DMC_PBD, pbd_ref);
			if (w)
				db_txn_set(t, w, DMF_PBD_currently_attached,
				           (union dm_val){.b = true});
			struct sr_call c = {drv, uuid, sr_ref, loc, ctx};
			err = sr_commit_space(t, &c);
			log_info("sr", "SR %s attached on this host", uuid);
		}
	}
	sr_loc_clear(&loc);
	free(sr_ref);
	free(uuid);
	return err;
}

static struct api_err *
sr_api_pbd_plug(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	(void)ctx;
	(void)nargs;
	(void)result;
	return sr_pbd_plug(args[0]->u.s, false);
}

/* PBD.unplug: refused while a VM on the PBD's host uses a VDI of the SR. */
static struct api_err *
sr_api_pbd_unplug(struct api_ctx *ctx, xv *const *args, size_t nargs,
                  xv **result)
{
	const char *ref = args[0]->u.s;
	struct api_err *err = NULL;
	(void)ctx;
	(void)nargs;
	(void)result;
	struct db_txn *t = db_txn_begin();
	const struct db_row *pbd = db_get(DMC_PBD, ref);
	const struct db_row *sr =
	    pbd ? db_get(DMC_SR, pbd->f[DMF_PBD_SR].s) : NULL;
	if (!pbd) {
		err = api_error(XE_HANDLE_INVALID, "PBD", ref, NULL);
	} else if (pbd->f[DMF_PBD_currently_attached].b && sr) {
		const char *host = pbd->f[DMF_PBD_host].s;
		const struct dm_coll *v = sr->f[DMF_SR_VDIs].c;
		const char **busy = xcalloc((v ? v->n : 0) + 1, sizeof(*busy));
		size_t nb = 0;
		for (size_t i = 0; v && i < v->n; i++) {
			const struct db_row *vdi = db_get(DMC_VDI, v->v[i].s);
			const struct dm_coll *b =
			    vdi ? vdi->f[DMF_VDI_VBDs].c : NULL;
			bool used = false;
			for (size_t k = 0; b && k < b->n && !used; k++) {
				const struct db_row *vbd =
				    db_get(DMC_VBD, b->v[k].s);
				const struct db_row *vm =
				    vbd ? db_get(DMC_VM, vbd->f[DMF_VBD_VM].s)
				        : NULL;
				used = vbd && vm &&
				       vbd->f[DMF_VBD_currently_attached].b &&
				       strcmp(vm->f[DMF_VM_resident_on].s,
				              host) == 0;
			}
			if (used)
				busy[nb++] = v->v[i].s;
		}
		if (nb)
			err = api_errorv(XE_VDI_IN_USE, busy, nb);
		free(busy);
		if (!err) {
			struct db_row *w = db_txn_edit(t, DMC_PBD, ref);
			db_txn_set(t, w, DMF_PBD_currently_attached,
			           (union dm_val){.b = false});
		}
	}
	if (err)
		db_txn_abort(t);
	else
		err = api_commit(t);
	return err;
}

/* PBD.create(record): one PBD per SR and host (PBD_EXISTS). */
static struct api_err *
sr_api_pbd_create(struct api_ctx *ctx, xv *const *args, size_t nargs,
                  xv **result)
{
	const xv *rec = args[0], *host = xv_get(rec, "host"),
	         *srv = xv_get(rec, "SR");
	const xv *dc = xv_get(rec, "device_config"),
	         *oc = xv_get(rec, "other_config");
	struct api_err *err = NULL;
	(void)ctx;
	(void)nargs;
	if (!host || host->type != XV_STRING)
		return api_error(XE_FIELD_TYPE_ERROR, "host", NULL);
	if (!srv || srv->type != XV_STRING)
		return api_error(XE_FIELD_TYPE_ERROR, "SR", NULL);
	if ((dc && dc->type != XV_STRUCT) || (oc && oc->type != XV_STRUCT))
		return api_error(XE_FIELD_TYPE_ERROR,
		                 dc && dc->type != XV_STRUCT ? "device_config"
		                                             : "other_config",
		                 NULL);
	struct db_txn *t = db_txn_begin();
	const struct db_row *sr = db_get(DMC_SR, srv->u.s);
	if (!db_get(DMC_host, host->u.s))
		err = api_error(XE_HANDLE_INVALID, "host", host->u.s, NULL);
	else if (!sr)
		err = api_error(XE_HANDLE_INVALID, "SR", srv->u.s, NULL);
	const struct dm_coll *p = sr ? sr->f[DMF_SR_PBDs].c : NULL;
	for (size_t i = 0; !err && p && i < p->n; i++) {
		const struct db_row *o = db_get(DMC_PBD, p->v[i].s);
		if (o && strcmp(o->f[DMF_PBD_host].s, host->u.s) == 0)
			err = api_error(XE_PBD_EXISTS, sr->ref, host->u.s,
			                o->ref, NULL);
	}
	if (!err && dc && xv_get(dc, "SRmaster"))
		err = api_error(XE_VALUE_NOT_SUPPORTED, "device_config",
		                "SRmaster", "This key is for internal use only",
		                NULL);
	if (err) {
		db_txn_abort(t);
		return err;
	}
	struct db_row *r = db_txn_create(t, DMC_PBD, NULL, NULL);
	db_txn_set(t, r, DMF_PBD_host, (union dm_val){.s = xstrdup(host->u.s)});
	db_txn_set(t, r, DMF_PBD_SR, (union dm_val){.s = xstrdup(srv->u.s)});
	if (dc)
		db_txn_set(t, r, DMF_PBD_device_config,
		           (union dm_val){.c = sr_arg_map(dc)});
	if (oc)
		db_txn_set(t, r, DMF_PBD_other_config,
		           (union dm_val){.c = sr_arg_map(oc)});
	char *ref = xstrdup(r->ref);
	if ((err = api_commit(t)))
		free(ref);
	else
		*result = xv_str_own(ref);
	return err;
}

static struct api_err *
sr_api_pbd_destroy(struct api_ctx *ctx, xv *const *args, size_t nargs,
                   xv **result)
{
	struct api_err *err = NULL;
	(void)ctx;
	(void)nargs;
	(void)result;
	struct db_txn *t = db_txn_begin();
	const struct db_row *pbd = db_get(DMC_PBD, args[0]->u.s);
	if (!pbd)
		err = api_error(XE_HANDLE_INVALID, "PBD", args[0]->u.s, NULL);
	else if (pbd->f[DMF_PBD_currently_attached].b)
		err = api_error(XE_OPERATION_NOT_ALLOWED,
		                "PBD is currently attached", NULL);
	else
		db_txn_destroy(t, DMC_PBD, args[0]->u.s);
	if (err)
		db_txn_abort(t);
	else
		err = api_commit(t);
	return err;
}

/* The SR row of SR.introduce in transaction t. */
static struct db_row *
sr_row_new(struct db_txn *t, const char *uuid, xv *const *a, const char *type)
{
	struct db_row *r = db_txn_create(t, DMC_SR, NULL, uuid);
	db_txn_set(t, r, DMF_SR_name_label,
	           (union dm_val){.s = xstrdup(a[0]->u.s)});
	db_txn_set(t, r, DMF_SR_name_description,
	           (union dm_val){.s = xstrdup(a[1]->u.s)});
	db_txn_set(t, r, DMF_SR_type, (union dm_val){.s = xstrdup(type)});
	db_txn_set(t, r, DMF_SR_content_type,
	           (union dm_val){.s = xstrdup(a[2]->u.s)});
	db_txn_set(t, r, DMF_SR_shared, (union dm_val){.b = a[3]->u.b});
	db_txn_set(t, r, DMF_SR_sm_config,
	           (union dm_val){.c = sr_arg_map(a[4])});
	db_txn_set(t, r, DMF_SR_physical_size, (union dm_val){.i = -1});
	db_txn_set(t, r, DMF_SR_physical_utilisation, (union dm_val){.i = -1});
	return r;
}

static char *
sr_lower(const char *s)
{
	char *l = xstrdup(s);
	for (char *p = l; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return l;
}

/* SR.introduce(uuid, name_label, name_description, type, content_type,
 * shared, sm_config): the row only, no PBD. */
static struct api_err *
sr_api_introduce(struct api_ctx *ctx, xv *const *args, size_t nargs,
                 xv **result)
{
	struct api_err *err = NULL;
	char *uuid = *args[0]->u.s ? xstrdup(args[0]->u.s) : db_new_uuid();
	char *type = sr_lower(args[3]->u.s);
	xv *const a[] = {args[1], args[2], args[4], args[5], args[6]};
	(void)ctx;
	(void)nargs;
	struct db_txn *t = db_txn_begin();
	if (db_get_by_uuid(DMC_SR, uuid)) {
		err = api_error(XE_SR_UUID_EXISTS, uuid, NULL);
		db_txn_abort(t);
	} else {
		char *ref = xstrdup(sr_row_new(t, uuid, a, type)->ref);
		if ((err = api_commit(t)))
			free(ref);
		else
			*result = xv_str_own(ref);
	}
	free(uuid);
	free(type);
	return err;
}

/* SR.create(host, device_config, physical_size, name_label,
 * name_description, type, content_type, shared, sm_config): the storage is
 * made, then the SR with a PBD per host (shared) or for host, and this
 * host's PBD is plugged. */
static struct api_err *
sr_api_create(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	const char *host = args[0]->u.s;
	char *type = sr_lower(args[5]->u.s), *uuid = db_new_uuid(), *ref = NULL;
	const struct sr_driver *drv = sr_driver_find(type);
	struct dm_coll *dconf = sr_arg_map(args[1]), *smc = sr_arg_map(args[8]);
	struct sr_loc loc = {0};
	struct sr_ctx sctx;
	struct api_err *err = NULL;
	(void)ctx;
	(void)nargs;
	db_rdlock();
	if (!db_get(DMC_host, host))
		err = api_error(XE_HANDLE_INVALID, "host", host, NULL);
	db_unlock();
	if (!err && !drv)
		err = api_error(XE_SR_UNKNOWN_DRIVER, type, NULL);
	if (!err)
		err = drv->locate(dconf, smc, uuid, &loc);
	sr_ctx_from(&sctx, uuid, &loc);
	if (!err)
		err = drv->create(&sctx);
	if (!err) {
		struct db_txn *t = db_txn_begin();
		xv *const a[] = {args[3], args[4], args[6], args[7], args[8]};
		struct db_row *sr = sr_row_new(t, uuid, a, type);
		ref = xstrdup(sr->ref);
		size_t nh = 0;
		struct db_row **hosts = db_list(DMC_host, &nh);
		for (size_t i = 0; i < nh; i++) {
			if (!args[7]->u.b && strcmp(hosts[i]->ref, host) != 0)
				continue;
			struct db_row *p =
			    db_txn_create(t, DMC_PBD, NULL, NULL);
			db_txn_set(t, p, DMF_PBD_host,
			           (union dm_val){.s = xstrdup(hosts[i]->ref)});
			db_txn_set(t, p, DMF_PBD_SR,
			           (union dm_val){.s = xstrdup(ref)});
			db_txn_set(t, p, DMF_PBD_device_config,
			           (union dm_val){
			               .c = dmv_copy(sr_map_type(),
			                             (union dm_val){.c = dconf})
			                        .c});
		}
		free(hosts);
		if ((err = api_commit(t)) && drv->delete)
			api_err_free(drv->delete (&sctx));
	}
	if (!err) {
		/* plug every PBD (other hosts' through them); a failure leaves
		 * that PBD unplugged, as xapi's create does not wait for the
		 * plugs to succeed */
		size_t np = 0;
		char **pbds = NULL;
		db_rdlock();
		const struct db_row *sr = db_get(DMC_SR, ref);
		const struct dm_coll *pl = sr ? sr->f[DMF_SR_PBDs].c : NULL;
		for (size_t i = 0; pl && i < pl->n; i++) {
			pbds = xrealloc(pbds, (np + 1) * sizeof(*pbds));
			pbds[np++] = xstrdup(pl->v[i].s);
		}
		db_unlock();
		for (size_t i = 0; i < np; i++) {
			struct api_err *pe = sr_pbd_plug(pbds[i], false);
			if (pe)
				log_warn("sr", "SR %s: PBD %s not plugged: %s",
				         uuid, pbds[i], pe->code);
			api_err_free(pe);
			free(pbds[i]);
		}
		free(pbds);
		/* what the storage already holds (ISO images) shows at once */
		api_err_free(sr_scan_run(ref));
		*result = xv_str(ref);
		log_info("sr", "SR %s (%s) created", uuid, type);
	}
	dmv_free(sr_map_type(), &(union dm_val){.c = dconf});
	dmv_free(sr_map_type(), &(union dm_val){.c = smc});
	sr_loc_clear(&loc);
	free(ref);
	free(type);
	free(uuid);
	return err;
}

/* SR_HAS_PBD while any PBD of the SR is plugged. */
static struct api_err *
sr_assert_unplugged(const struct db_row *sr)
{
	const struct dm_coll *p = sr->f[DMF_SR_PBDs].c;
	for (size_t i = 0; p && i < p->n; i++) {
		const struct db_row *o = db_get(DMC_PBD, p->v[i].s);
		if (o && o->f[DMF_PBD_currently_attached].b)
			return api_error(XE_SR_HAS_PBD, sr->ref, NULL);
	}
	return NULL;
}

/* Removes the SR, its PBDs and its VDI rows (xapi's really_forget). */
static struct api_err *
sr_forget_rows(const char *sr_ref)
{
	struct db_txn *t = db_txn_begin();
	const struct db_row *sr = db_get(DMC_SR, sr_ref);
	struct api_err *err = sr ? sr_assert_unplugged(sr) : NULL;
	if (!sr)
		err = api_error(XE_HANDLE_INVALID, "SR", sr_ref, NULL);
	if (err) {
		db_txn_abort(t);
		return err;
	}
	const struct dm_coll *p = sr->f[DMF_SR_PBDs].c,
	                     *v = sr->f[DMF_SR_VDIs].c;
	for (size_t i = 0; p && i < p->n; i++)
		db_txn_destroy(t, DMC_PBD, p->v[i].s);
	for (size_t i = 0; v && i < v->n; i++)
		db_txn_destroy(t, DMC_VDI, v->v[i].s);
	db_txn_destroy(t, DMC_SR, sr_ref);
	return api_commit(t);
}

static struct api_err *
sr_api_forget(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	(void)ctx;
	(void)nargs;
	(void)result;
	return sr_forget_rows(args[0]->u.s);
}

/* SR.destroy: every PBD unplugged, not indestructible, no VDI left; the
 * storage is removed through this host's PBD, then the rows. */
static struct api_err *
sr_api_destroy(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	const char *ref = args[0]->u.s;
	struct api_err *err = NULL;
	const struct sr_driver *drv = NULL;
	struct sr_loc loc = {0};
	char *uuid = NULL;
	(void)ctx;
	(void)nargs;
	(void)result;
	db_rdlock();
	const struct db_row *sr = db_get(DMC_SR, ref);
	const struct db_row *pbd = sr ? sr_local_pbd(sr) : NULL;
	const char *ind =
	    sr ? sr_map_get(sr->f[DMF_SR_other_config].c, "indestructible")
	       : NULL;
	if (!sr)
		err = api_error(XE_HANDLE_INVALID, "SR", ref, NULL);
	else if ((err = sr_assert_unplugged(sr)))
		;
	else if (ind && strcmp(ind, "true") == 0)
		err = api_error(XE_SR_INDESTRUCTIBLE, ref, NULL);
	else if (!pbd)
		err = api_error(XE_SR_HAS_NO_PBDS, ref, NULL);
	else if (!(drv = sr_driver_find(sr->f[DMF_SR_type].s)))
		err =
		    api_error(XE_SR_UNKNOWN_DRIVER, sr->f[DMF_SR_type].s, NULL);
	else if (!drv->delete)
		err = api_error(XE_SR_OPERATION_NOT_SUPPORTED, ref, NULL);
	else if (sr->f[DMF_SR_VDIs].c && sr->f[DMF_SR_VDIs].c->n)
		err = api_error(XE_SR_NOT_EMPTY, NULL);
	else
		err = drv->locate(pbd->f[DMF_PBD_device_config].c,
		                  sr->f[DMF_SR_sm_config].c,
		                  sr->f[DMF_SR_uuid].s, &loc);
	if (sr)
		uuid = xstrdup(sr->f[DMF_SR_uuid].s);
	db_unlock();
	if (!err) {
		struct sr_ctx sctx;
		sr_ctx_from(&sctx, uuid, &loc);
		if (!(err = drv->delete (&sctx)))
			err = sr_forget_rows(ref);
		if (!err)
			log_info("sr", "SR %s destroyed", uuid);
	}
	sr_loc_clear(&loc);
	free(uuid);
	return err;
}

/* SR.probe(host, device_config, type, sm_config): the driver's XML. */
static struct api_err *
sr_api_probe(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	char *type = sr_lower(args[2]->u.s), *xml = NULL;
	const struct sr_driver *drv = sr_driver_find(type);
	struct dm_coll *dconf = sr_arg_map(args[1]), *smc = sr_arg_map(args[3]);
	struct api_err *err = NULL;
	(void)ctx;
	(void)nargs;
	db_rdlock();
	if (!db_get(DMC_host, args[0]->u.s))
		err = api_error(XE_HANDLE_INVALID, "host", args[0]->u.s, NULL);
	db_unlock();
	if (!err && !drv)
		err = api_error(XE_SR_UNKNOWN_DRIVER, type, NULL);
	else if (!err && !drv->probe)
		err = api_error(XE_SR_OPERATION_NOT_SUPPORTED, "", NULL);
	else if (!err && !(err = drv->probe(dconf, smc, &xml)))
		*result = xv_str_own(xml);
	dmv_free(sr_map_type(), &(union dm_val){.c = dconf});
	dmv_free(sr_map_type(), &(union dm_val){.c = smc});
	free(type);
	return err;
}

/* SR.probe_ext: xapi answers SR_OPERATION_NOT_SUPPORTED for SRs whose
 * driver probes in SM's raw XML, as all of these do. */
static struct api_err *
sr_api_probe_ext(struct api_ctx *ctx, xv *const *args, size_t nargs,
                 xv **result)
{
	char *type = sr_lower(args[2]->u.s);
	struct api_err *err =
	    sr_driver_find(type)
	        ? api_error(XE_SR_OPERATION_NOT_SUPPORTED, NULL)
	        : api_error(XE_SR_UNKNOWN_DRIVER, type, NULL);
	(void)ctx;
	(void)nargs;
	(void)result;
	free(type);
	return err;
}

/* SR.update: the space figures again. */
static struct api_err *
sr_api_update(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	struct sr_call c;
	struct api_err *err;
	(void)ctx;
	(void)nargs;
	(void)result;
	if ((err = sr_call_prepare(args[0]->u.s, &c)))
		return err;
	struct db_txn *t = db_txn_begin();
	err = sr_commit_space(t, &c);
	sr_call_clear(&c);
	return err;
}

/* At start-up: every PBD of this host that says it is plugged is checked
 * again (an NFS server may be gone); those that fail are unplugged. */
static void *
sr_recheck_thread(void *arg)
{
	size_t n = 0;
	char **refs = NULL;
	(void)arg;
	db_rdlock();
	struct db_row **pbds = db_list(DMC_PBD, &n);
	refs = xcalloc(n + 1, sizeof(*refs));
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (sr_host &&
		    strcmp(pbds[i]->f[DMF_PBD_host].s, sr_host) == 0 &&
		    pbds[i]->f[DMF_PBD_currently_attached].b)
			refs[k++] = xstrdup(pbds[i]->ref);
	free(pbds);
	db_unlock();
	for (size_t i = 0; i < k; i++) {
		struct api_err *e = sr_pbd_plug(refs[i], true);
		if (e)
			log_warn(
			    "sr", "PBD %s could not be plugged again: %s %s",
			    refs[i], e->code, e->n > 1 ? e->params[1] : "");
		api_err_free(e);
		free(refs[i]);
	}
	free(refs);
	return NULL;
}

void
sr_life_register(void)
{
	api_register("SR.create", sr_api_create, 0);
	api_register("SR.introduce", sr_api_introduce, 0);
	api_register("SR.forget", sr_api_forget, 0);
	api_register("SR.destroy", sr_api_destroy, 0);
	api_register("SR.probe", sr_api_probe, 0);
	api_register("SR.probe_ext", sr_api_probe_ext, 0);
	api_register("SR.update", sr_api_update, 0);
	api_register("PBD.create", sr_api_pbd_create, 0);
	api_register("PBD.destroy", sr_api_pbd_destroy, 0);
	api_register("PBD.plug", sr_api_pbd_plug, 0);
	api_register("PBD.unplug", sr_api_pbd_unplug, 0);
	pthread_t th;
	if (pthread_create(&th, NULL, sr_recheck_thread, NULL) == 0)
		pthread_detach(th);
	sr_lease_start();
}

void
sr_bootstrap(struct db_txn *t, const char *host_ref, const char *state_dir,
             const char *pool_ref)
{
	size_t n;
	struct db_row **srs = db_list(DMC_SR, &n);
	free(srs);
	if (n)
		return;
	struct db_row *sr = db_txn_create(t, DMC_SR, NULL, NULL);
	char *path = xasprintf("%s/sr-local", state_dir);
	struct sr_ctx ctx = {sr->f[DMF_SR_uuid].s, path};
	struct api_err *e = sr_driver_find("ext")->create(&ctx);
	if (e) {
		log_err("sr", "cannot make the local SR at %s: %s", path,
		        e->n > 1 ? e->params[1] : e->code);
		api_err_free(e);
	}
	db_txn_set(t, sr, DMF_SR_name_label,
	           (union dm_val){.s = xstrdup("Local storage")});
	db_txn_set(t, sr, DMF_SR_type, (union dm_val){.s = xstrdup("ext")});
	db_txn_set(t, sr, DMF_SR_content_type,
	           (union dm_val){.s = xstrdup("user")});
	struct db_row *pbd = db_txn_create(t, DMC_PBD, NULL, NULL);
	db_txn_set(t, pbd, DMF_PBD_host,
	           (union dm_val){.s = xstrdup(host_ref)});
	db_txn_set(t, pbd, DMF_PBD_SR, (union dm_val){.s = xstrdup(sr->ref)});
	struct dm_coll *dc = dmc_new(1);
	dc->v[0].s = xstrdup("location");
	dc->v[1].s = path;
	db_txn_set(t, pbd, DMF_PBD_device_config, (union dm_val){.c = dc});
	db_txn_set(t, pbd, DMF_PBD_currently_attached,
	           (union dm_val){.b = true});
	struct db_row *p = db_txn_edit(t, DMC_pool, pool_ref);
	if (p) {
		db_txn_set(t, p, DMF_pool_default_SR,
		           (union dm_val){.s = xstrdup(sr->ref)});
		db_txn_set(t, p, DMF_pool_suspend_image_SR,
		           (union dm_val){.s = xstrdup(sr->ref)});
		db_txn_set(t, p, DMF_pool_crash_dump_SR,
		           (union dm_val){.s = xstrdup(sr->ref)});
	}
}
