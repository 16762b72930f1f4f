/* sr_cbt_api: the XenAPI calls of changed-block tracking (see sr_cbt.h),
 * with xapi's rules (xapi_vdi.ml check_operation_error). */
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rpc/api.h"
#include "storage/qcow2_bitmap.h"
#include "storage/sr.h"
#include "storage/sr_cbt.h"
#include "storage/sr_file.h"
#include "storage/sr_fs.h"
#include "storage/sr_priv.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/spawn.h"
#include "util/xalloc.h"

static int (*cbt_live_ops)(const char *uuid, const char *id, bool on, char **err);

void
sr_set_live_cbt(int (*fn)(const char *uuid, const char *id, bool on, char **err))
{
	cbt_live_ops = fn;
}

/* Record_util.vdi_type_to_string. */
static const char *
cbt_type_name(const char *t)
{
	static const char *const names[] = {"system", "System", "user", "User",
					    "ephemeral", "Ephemeral", "suspend", "Suspend",
					    "crashdump", "Crashdump", "cbt_metadata",
					    "CBT metadata", NULL};
	for (size_t i = 0; names[i]; i += 2)
		if (strcmp(names[i], t) == 0)
			return names[i + 1];
	return t;
}

/* The VM running with the VDI attached (a checkpoint's VBDs do not count):
 * its uuid and the disk id, or false. Read lock held. */
static bool
cbt_live_disk(const struct db_row *vdi, char uuid[37], char id[16])
{
	const struct dm_coll *b = vdi->f[DMF_VDI_VBDs].c;
	for (size_t i = 0; b && i < b->n; i++) {
		const struct db_row *vbd = db_get(DMC_VBD, b->v[i].s);
		const struct db_row *vm = vbd ? db_get(DMC_VM, vbd->f[DMF_VBD_VM].s) : NULL;
		if (!vbd || !vm || !vbd->f[DMF_VBD_currently_attached].b ||
		    vm->f[DMF_VM_is_a_snapshot].b)
			continue;
		snprintf(uuid, 37, "%s", vm->f[DMF_VM_uuid].s);
		snprintf(id, 16, "vbd%d", atoi(vbd->f[DMF_VBD_userdevice].s));
		return true;
	}
	return false;
}

static struct api_err *
cbt_backend_fail(const char *what, const char *msg)
{
	char *m = xasprintf("%s: %s", what, msg ? msg : "failed");
	struct api_err *e = api_error(XE_SR_BACKEND_FAILURE, "1", "", m, NULL);
	free(m);
	return e;
}

/* enable_cbt / disable_cbt: the checks both share. */
static struct api_err *
cbt_check_configure(const struct db_row *v)
{
	const char *type = v->f[DMF_VDI_type].s;
	if (v->f[DMF_VDI_is_a_snapshot].b) {
		char *m = xasprintf("VDI is a snapshot: %s", v->ref);
		struct api_err *e = api_error(XE_OPERATION_NOT_ALLOWED, m, NULL);
		free(m);
		return e;
	}
	if (strcmp(type, "user") != 0 && strcmp(type, "system") != 0)
		return api_error(XE_VDI_INCOMPATIBLE_TYPE, v->ref, cbt_type_name(type), NULL);
	if (strcmp(v->f[DMF_VDI_on_boot].s, "reset") == 0)
		return api_error(XE_VDI_ON_BOOT_MODE_INCOMPATIBLE_WITH_OPERATION, NULL);
	return NULL;
}

/* The file name of a path or URL (borrowed). */
static const char *
cbt_base(const char *file)
{
	const char *s = strrchr(file, '/');
	return s ? s + 1 : file;
}

/* Reads through an sr_fs file (qcow2_bitmap_load's reader). */
static int
cbt_fs_read(void *ctx, void *buf, size_t n, uint64_t off)
{
	char *p = buf;
	while (n) {
		int64_t r = sr_fs_file_pread(ctx, p, n, (int64_t)off);
		if (r <= 0)
			return -1;
		p += r;
		off += (uint64_t)r;
		n -= (size_t)r;
	}
	return 0;
}

/* The SR of a VDI opened for file operations (sr_fs.h); NULL logged.
 * Clear c after, in every case. */
static struct sr_fs *
cbt_sr_open(const char *sr_ref, struct sr_call *c)
{
	struct api_err *e = sr_call_prepare(sr_ref, c);
	struct sr_fs *fs = e ? NULL : srf_open(&c->ctx, &e);
	if (e)
		log_warn("sr", "cbt: SR %s: %s", sr_ref,
		         e->n > 1 ? e->params[1] : e->code);
	api_err_free(e);
	return fs;
}

static struct api_err *
cbt_set(const char *ref, bool on)
{
	struct api_err *err = NULL;
	char uuid[37] = "", id[16] = "", *file = NULL, *chain = NULL,
	     *sr = NULL;
	const char *fmt = NULL;
	bool live = false, was = false;
	db_rdlock();
	struct db_row *v = db_get(DMC_VDI, ref);
	if (!v)
		err = api_error(XE_HANDLE_INVALID, "VDI", ref, NULL);
	else if (!(err = cbt_check_configure(v))) {
		was = v->f[DMF_VDI_cbt_enabled].b;
		live = cbt_live_disk(v, uuid, id);
		file = sr_vdi_path(ref, &fmt, &err);
		if (sr_cbt_chain(v))
			chain = xstrdup(sr_cbt_chain(v));
		sr = xstrdup(v->f[DMF_VDI_SR].s);
	}
	db_unlock();
	if (err || was == on)
		goto out;
	if (live) {
		char *msg = NULL;
		if (!cbt_live_ops || cbt_live_ops(uuid, id, on, &msg) < 0)
			err = cbt_backend_fail(on ? "enable_cbt" : "disable_cbt",
					       cbt_live_ops ? msg : "no live CBT in this backend");
		free(msg);
	} else {
		char *rm[] = {"qemu-img", "bitmap", "--remove", file, SR_CBT_BITMAP, NULL};
		char *add[] = {"qemu-img", "bitmap", "--add", "-g", "65536", file,
			       SR_CBT_BITMAP, NULL};
		struct buf e = BUF_INIT;
		spawn_run(rm, NULL, NULL, 60); /* a stale one, or the one to drop */
		if (on && spawn_run(add, NULL, &e, 60) != 0)
			err = cbt_backend_fail("enable_cbt", e.data);
		buf_free(&e);
	}
	if (err)
		goto out;
	struct db_txn *t = db_txn_begin();
	struct db_row *w = db_txn_edit(t, DMC_VDI, ref);
	if (w) {
		char *nc = on ? db_new_uuid() : NULL;
		db_txn_set(t, w, DMF_VDI_cbt_enabled, (union dm_val){.b = on});
		sr_map_put(t, w, DMF_VDI_sm_config, "cbt-chain", nc);
		sr_map_put(t, w, DMF_VDI_sm_config, "cbt-seq", on ? "1" : NULL);
		free(nc);
	}
	err = api_commit(t);
	if (!err && !on && chain) {
		struct sr_call c;
		struct api_err *pe = sr_call_prepare(sr, &c);
		if (!pe)
			sr_cbt_forget(chain, &c.ctx);
		api_err_free(pe);
		sr_call_clear(&c);
	}
	if (!err)
		log_info("sr", "VDI %s: changed-block tracking %s%s", ref, on ? "on" : "off",
			 live ? " (live)" : "");
out:
	free(file);
	free(chain);
	free(sr);
	return err;
}

static struct api_err *
cbt_enable(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	(void)ctx;
	(void)nargs;
	(void)result;
	return cbt_set(args[0]->u.s, true);
}

static struct api_err *
cbt_disable(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	(void)ctx;
	(void)nargs;
	(void)result;
	return cbt_set(args[0]->u.s, false);
}

/* ORs bitmap name of file path of the SR (fs) into out; a missing, damaged
 * or "in use" one makes every block count as changed. */
static void
cbt_or_file(struct sr_fs *fs, const char *path, const char *name, uint8_t *out,
            uint64_t nblocks)
{
	struct qcow2_bitmap b = {0};
	char *e = NULL;
	struct sr_fs_file *f = fs ? sr_fs_file_open(fs, path, false) : NULL;
	int rc = f ? qcow2_bitmap_load(cbt_fs_read, f, name, &b, &e) : -1;
	if (!f)
		e = xstrdup(fs ? sr_fs_error(fs) : "the SR is not reachable");
	sr_fs_file_close(f);
	if (rc != 0 || b.in_use) {
		log_warn("sr", "cbt: %s: %s; counting every block as changed", path,
			 rc < 0 ? e : rc > 0 ? "no bitmap" : "bitmap left in use");
		memset(out, 0xff, (size_t)((nblocks + 7) / 8));
		if (nblocks % 8)
			out[nblocks / 8] = (uint8_t)(0xff00u >> (nblocks % 8));
	} else {
		qcow2_bitmap_or_blocks(&b, out, nblocks, SR_CBT_BLOCK);
	}
	free(e);
	qcow2_bitmap_free(&b);
}

static char *
cbt_base64(const uint8_t *p, size_t n)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *o = xmalloc(4 * ((n + 2) / 3) + 1), *q = o;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
			     (i + 2 < n ? p[i + 2] : 0);
		*q++ = a[v >> 18 & 63];
		*q++ = a[v >> 12 & 63];
		*q++ = i + 1 < n ? a[v >> 6 & 63] : '=';
		*q++ = i + 2 < n ? a[v & 63] : '=';
	}
	*q = 0;
	return o;
}

/* VDI.list_changed_blocks(vdi_from, vdi_to): base64 of one bit per 64 KiB
 * block of vdi_to, most significant bit first. */
static struct api_err *
cbt_list(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	const char *from = args[0]->u.s, *to = args[1]->u.s;
	struct api_err *err = NULL;
	char uuid[37], id[16], *chain = NULL, *file = NULL, *sr = NULL;
	const char *fmt = NULL;
	long sfrom = 0, sto = 0;
	bool to_live = false;
	int64_t size = 0;
	(void)ctx;
	(void)nargs;
	db_rdlock();
	struct db_row *f = db_get(DMC_VDI, from), *t = db_get(DMC_VDI, to);
	if (!f || !t) {
		err = api_error(XE_HANDLE_INVALID, "VDI", f ? to : from, NULL);
	} else if (cbt_live_disk(t, uuid, id)) {
		err = api_error(XE_VDI_IN_USE, to, "list_changed_blocks", NULL);
	} else if (!f->f[DMF_VDI_cbt_enabled].b || !t->f[DMF_VDI_cbt_enabled].b) {
		err = api_error(XE_VDI_NO_CBT_METADATA, f->f[DMF_VDI_cbt_enabled].b ? to : from,
				NULL);
	} else if (!sr_cbt_chain(f) || !sr_cbt_chain(t) ||
		   strcmp(sr_cbt_chain(f), sr_cbt_chain(t)) != 0 || !f->f[DMF_VDI_is_a_snapshot].b) {
		err = api_error(XE_SR_BACKEND_FAILURE, "460", "",
				"Failed to calculate changed blocks for given VDIs. [opterr=the "
				"VDIs are not snapshots of one disk's tracked history]",
				NULL);
	} else {
		chain = xstrdup(sr_cbt_chain(t));
		sfrom = sr_cbt_seq(f);
		sto = sr_cbt_seq(t);
		to_live = !t->f[DMF_VDI_is_a_snapshot].b;
		size = t->f[DMF_VDI_virtual_size].i;
		file = sr_vdi_path(to, &fmt, &err);
		sr = xstrdup(t->f[DMF_VDI_SR].s);
	}
	db_unlock();
	if (!err && (sfrom > sto || (sfrom == sto && to_live))) {
		err = api_error(XE_SR_BACKEND_FAILURE, "460", "",
				"Failed to calculate changed blocks for given VDIs. [opterr=vdi_from "
				"is newer than vdi_to]",
				NULL);
	}
	if (err) {
		free(chain);
		free(file);
		free(sr);
		return err;
	}
	uint64_t nblocks = ((uint64_t)size + SR_CBT_BLOCK - 1) / SR_CBT_BLOCK;
	uint8_t *bits = xcalloc((size_t)((nblocks + 7) / 8) + 1, 1);
	/* the logs are in the SR's directory, on NFS too */
	struct sr_call c;
	struct sr_fs *fs = cbt_sr_open(sr, &c);
	long last = to_live ? sto - 1 : sto;
	for (long s = sfrom + 1; s <= last; s++) {
		char *log = xasprintf("%s.%ld.cbtlog", chain, s);
		cbt_or_file(fs, log, "cbt", bits, nblocks);
		free(log);
	}
	if (to_live)
		cbt_or_file(fs, cbt_base(file), SR_CBT_BITMAP, bits, nblocks);
	*result = xv_str_own(cbt_base64(bits, (size_t)((nblocks + 7) / 8)));
	sr_fs_close(fs);
	sr_call_clear(&c);
	free(bits);
	free(chain);
	free(file);
	free(sr);
	return NULL;
}

/* VDI.data_destroy(self): a CBT snapshot keeps its record and its log, its
 * data goes (type cbt_metadata). */
static struct api_err *
cbt_data_destroy(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	const char *ref = args[0]->u.s;
	struct api_err *err = NULL;
	char *file = NULL, *sr = NULL;
	const char *fmt = NULL;
	bool done = false;
	(void)ctx;
	(void)nargs;
	(void)result;
	db_rdlock();
	struct db_row *v = db_get(DMC_VDI, ref);
	if (!v) {
		err = api_error(XE_HANDLE_INVALID, "VDI", ref, NULL);
	} else if (!v->f[DMF_VDI_is_a_snapshot].b) {
		char *m = xasprintf("VDI is not a snapshot: %s", ref);
		err = api_error(XE_OPERATION_NOT_ALLOWED, m, NULL);
		free(m);
	} else if (!v->f[DMF_VDI_cbt_enabled].b) {
		err = api_error(XE_VDI_NO_CBT_METADATA, ref, NULL);
	} else if (strcmp(v->f[DMF_VDI_type].s, "cbt_metadata") == 0) {
		done = true;
	} else {
		const struct dm_coll *b = v->f[DMF_VDI_VBDs].c;
		for (size_t i = 0; b && i < b->n && !err; i++) {
			const struct db_row *vbd = db_get(DMC_VBD, b->v[i].s);
			if (vbd && vbd->f[DMF_VBD_currently_attached].b)
				err = api_error(XE_VDI_IN_USE, ref, "data_destroy", NULL);
		}
		if (!err)
			file = sr_vdi_path(ref, &fmt, &err);
		sr = xstrdup(v->f[DMF_VDI_SR].s);
	}
	db_unlock();
	if (!err && !done) {
		/* first the record (no new user can come), then the bytes */
		struct db_txn *t = db_txn_begin();
		struct db_row *w = db_txn_edit(t, DMC_VDI, ref);
		if (w) {
			db_txn_set(t, w, DMF_VDI_type, (union dm_val){.s = xstrdup("cbt_metadata")});
			db_txn_set(t, w, DMF_VDI_physical_utilisation, (union dm_val){.i = 0});
		}
		struct sr_call c;
		struct sr_fs *fs = NULL;
		if (!(err = api_commit(t))) {
			if (!(fs = cbt_sr_open(sr, &c)) ||
			    sr_fs_unlink(fs, cbt_base(file)) < 0)
				log_warn("sr", "data_destroy: %s: %s", file,
				         fs ? sr_fs_error(fs)
				            : "the SR is not reachable");
			sr_fs_close(fs);
			sr_call_clear(&c);
			sr_coalesce(sr);
			log_info("sr", "VDI %s: data destroyed, CBT metadata kept", ref);
		}
	}
	free(file);
	free(sr);
	return err;
}

struct api_err *
sr_cbt_check_op(const struct db_row *vdi, const char *op)
{
	static const char *const vbd_ok[] = {
	    "system",   "user", "ephemeral", "suspend", "crashdump",
	    "metadata", "rrd",  "pvs_cache", NULL};
	static const char *const not_for_metadata[] = {
	    "clone",     "copy",        "disable_cbt",   "enable_cbt",
	    "mirror",    "resize",      "resize_online", "snapshot",
	    "revert_to", "revert_from", "set_on_boot",   NULL};
	const char *type = vdi->f[DMF_VDI_type].s;
	bool bad = false;
	if (strcmp(op, "vbd") == 0) {
		bad = true;
		for (size_t i = 0; vbd_ok[i] && bad; i++)
			bad = strcmp(type, vbd_ok[i]) != 0;
	} else if (strcmp(type, "cbt_metadata") == 0) {
		for (size_t i = 0; not_for_metadata[i] && !bad; i++)
			bad = strcmp(op, not_for_metadata[i]) == 0;
	}
	if (bad)
		return api_error(XE_VDI_INCOMPATIBLE_TYPE, vdi->ref,
		                 cbt_type_name(type), NULL);
	if (vdi->f[DMF_VDI_cbt_enabled].b &&
	    (strcmp(op, "set_on_boot") == 0 || strcmp(op, "mirror") == 0))
		return api_error(XE_VDI_CBT_ENABLED, vdi->ref, NULL);
	return NULL;
}

void
sr_cbt_register(void)
{
	api_register("VDI.enable_cbt", cbt_enable, 0);
	api_register("VDI.disable_cbt", cbt_disable, 0);
	api_register("VDI.list_changed_blocks", cbt_list, API_READONLY);
	api_register("VDI.data_destroy", cbt_data_destroy, 0);
}
