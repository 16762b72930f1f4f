/* sr_cbt: changed-block tracking from QEMU dirty bitmaps (see sr_cbt.h). */
#include "storage/sr_cbt.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rpc/api.h"
#include "storage/qcow2_bitmap.h"
#include "storage/sr.h"
#include "storage/sr_file.h"
#include "storage/sr_fs.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/spawn.h"
#include "util/xalloc.h"

static const char *
cbt_map_get(const struct dm_coll *c, const char *key)
{
	for (size_t i = 0; c && i < c->n; i++)
		if (strcmp(c->v[2 * i].s, key) == 0)
			return c->v[2 * i + 1].s;
	return NULL;
}

const char *
sr_cbt_chain(const struct db_row *vdi)
{
	return cbt_map_get(vdi->f[DMF_VDI_sm_config].c, "cbt-chain");
}

long
sr_cbt_seq(const struct db_row *vdi)
{
	const char *s = cbt_map_get(vdi->f[DMF_VDI_sm_config].c, "cbt-seq");
	return s ? atol(s) : 1;
}

/* A qemu-img run; 0 or -1 (logged). */
static int
cbt_img(char *const argv[])
{
	struct buf e = BUF_INIT;
	int rc = spawn_run(argv, NULL, &e, 300);
	if (rc != 0)
		log_warn("sr", "cbt: %s %s failed: %s", argv[1], argv[2], e.data ? e.data : "");
	buf_free(&e);
	return rc == 0 ? 0 : -1;
}

/* Removes file name of the SR at (server, path, sub); 0 or -1. */
static int
cbt_unlink(const char *server, const char *path, const char *sub,
           const char *name)
{
	struct sr_fs_loc loc = {server, path, sub};
	char *msg = NULL;
	struct sr_fs *fs = sr_fs_open(&loc, SRF_NFS_TIMEOUT, &msg);
	int rc = fs ? sr_fs_unlink(fs, name) : -1;
	if (rc < 0)
		log_warn("sr", "cbt: cannot remove %s: %s", name,
		         fs ? sr_fs_error(fs) : msg);
	free(msg);
	sr_fs_close(fs);
	return rc;
}

struct api_err *
sr_cbt_begin(const struct db_row *vdi, bool snapshot, const struct sr_ctx *sr,
             struct sr_cbt_step *st)
{
	memset(st, 0, sizeof(*st));
	const char *chain = sr_cbt_chain(vdi);
	if (!vdi->f[DMF_VDI_cbt_enabled].b || !chain || strchr(chain, '/'))
		return NULL;
	st->on = true;
	st->snapshot = snapshot;
	st->chain = xstrdup(chain);
	if (snapshot) {
		char sz[32];
		struct sr_fs_loc loc = {sr->server, sr->path, sr->sub};
		st->server = sr->server ? xstrdup(sr->server) : NULL;
		st->path = xstrdup(sr->path);
		st->sub = xstrdup(sr->sub ? sr->sub : "");
		st->log_name =
		    xasprintf("%s.%ld.cbtlog", chain, sr_cbt_seq(vdi));
		st->log = sr_fs_loc_url(&loc, st->log_name);
		snprintf(sz, sizeof(sz), "%" PRId64, vdi->f[DMF_VDI_virtual_size].i);
		char *argv[] = {"qemu-img", "create", "-q", "-f", "qcow2", st->log, sz, NULL};
		if (cbt_img(argv) < 0) { /* no log: "all changed" for that interval */
			cbt_unlink(st->server, st->path, st->sub, st->log_name);
			free(st->log);
			st->log = NULL;
		}
	}
	return NULL;
}

/* The backing file of a qcow2 image (malloc'd path), or NULL. */
static char *
cbt_backing(const char *file)
{
	struct buf out = BUF_INIT;
	char *argv[] = {"qemu-img", "info", "-U", "--output=json", (char *)file, NULL};
	char *r = NULL;
	if (spawn_run(argv, &out, NULL, 60) == 0 && out.data) {
		json_t *j = json_loads(out.data, 0, NULL);
		const char *b = json_string_value(json_object_get(j, "full-backing-filename"));
		if (!b)
			b = json_string_value(json_object_get(j, "backing-filename"));
		if (b && (b[0] == '/' || strncmp(b, "nfs://", 6) == 0)) {
			r = xstrdup(b);
		} else if (b) {
			char *d = xstrdup(file);
			r = xasprintf("%s/%s", dirname(d), b);
			free(d);
		}
		json_decref(j);
	}
	buf_free(&out);
	return r;
}

void
sr_cbt_after_offline(struct sr_cbt_step *st, const char *top)
{
	if (!st->on)
		return;
	char *base = cbt_backing(top);
	char g[] = "65536";
	char *add[] = {"qemu-img", "bitmap", "--add", "-g", g, (char *)top, SR_CBT_BITMAP, NULL};
	if (cbt_img(add) < 0) {
		log_warn("sr", "cbt: %s has no bitmap: changes will count as all", top);
	} else if (!st->snapshot) { /* a clone: the interval goes on in the new top */
		char *m[] = {"qemu-img", "bitmap", "--merge", SR_CBT_BITMAP, "-b",
			     base ? base : "", "-F", "qcow2", (char *)top, SR_CBT_BITMAP, NULL};
		if (!base || cbt_img(m) < 0) {
			char *rm[] = {"qemu-img", "bitmap", "--remove", (char *)top,
				      SR_CBT_BITMAP, NULL};
			cbt_img(rm); /* no bitmap rather than one that says "nothing" */
		}
	}
	if (st->snapshot && st->log) {
		char *a2[] = {"qemu-img", "bitmap", "--add", "-g", g, st->log, "cbt", NULL};
		char *m[] = {"qemu-img", "bitmap", "--merge", SR_CBT_BITMAP, "-b",
			     base ? base : "", "-F", "qcow2", st->log, "cbt", NULL};
		if (!base || cbt_img(a2) < 0 || cbt_img(m) < 0) {
			cbt_unlink(st->server, st->path, st->sub, st->log_name);
			free(st->log);
			st->log = NULL;
		}
	}
	free(base);
}

const char *
sr_cbt_live_arg(const struct sr_cbt_step *st)
{
	if (!st->on)
		return NULL;
	if (!st->snapshot)
		return "";
	return st->log ? st->log : "-";
}

void
sr_cbt_record(struct db_txn *t, const char *src_ref, struct db_row *n,
	      const struct sr_cbt_step *st)
{
	if (!st->on)
		return;
	if (!st->snapshot) { /* a clone is a new disk: no tracking of its own */
		db_txn_set(t, n, DMF_VDI_cbt_enabled, (union dm_val){.b = false});
		sr_map_put(t, n, DMF_VDI_sm_config, "cbt-chain", NULL);
		sr_map_put(t, n, DMF_VDI_sm_config, "cbt-seq", NULL);
		return;
	}
	struct db_row *src = db_txn_edit(t, DMC_VDI, src_ref);
	if (src) {
		char next[32];
		snprintf(next, sizeof(next), "%ld", sr_cbt_seq(src) + 1);
		sr_map_put(t, src, DMF_VDI_sm_config, "cbt-seq", next);
	}
}

void
sr_cbt_end(struct sr_cbt_step *st, bool ok)
{
	if (!ok && st->log)
		cbt_unlink(st->server, st->path, st->sub, st->log_name);
	free(st->log);
	free(st->log_name);
	free(st->server);
	free(st->path);
	free(st->sub);
	free(st->chain);
	memset(st, 0, sizeof(*st));
}

void
sr_cbt_forget(const char *chain, const struct sr_ctx *sr)
{
	long need = -1; /* the oldest snapshot's seq: logs up to it are useless */
	size_t n;
	if (!chain || strchr(chain, '/'))
		return;
	db_rdlock();
	struct db_row **v = db_list(DMC_VDI, &n);
	for (size_t i = 0; i < n; i++) {
		const char *c = sr_cbt_chain(v[i]);
		if (c && strcmp(c, chain) == 0 && v[i]->f[DMF_VDI_is_a_snapshot].b &&
		    (need < 0 || sr_cbt_seq(v[i]) < need))
			need = sr_cbt_seq(v[i]);
	}
	free(v);
	db_unlock();
	struct sr_fs_loc loc = {sr->server, sr->path, sr->sub};
	char *msg = NULL;
	struct sr_fs *fs = sr_fs_open(&loc, SRF_NFS_TIMEOUT, &msg);
	char **names = fs ? sr_fs_list(fs) : NULL;
	size_t cl = strlen(chain);
	for (size_t i = 0; names && names[i]; i++) {
		char *end = NULL;
		if (strncmp(names[i], chain, cl) != 0 || names[i][cl] != '.')
			continue;
		long seq = strtol(names[i] + cl + 1, &end, 10);
		if (!end || strcmp(end, ".cbtlog") != 0 || (need >= 0 && seq > need))
			continue;
		if (sr_fs_unlink(fs, names[i]) == 0)
			log_info("sr", "cbt: log %s no longer needed",
			         names[i]);
	}
	if (!names)
		log_warn("sr", "cbt: cannot list the SR: %s",
		         fs ? sr_fs_error(fs) : msg);
	sr_fs_names_free(names);
	sr_fs_close(fs);
	free(msg);
}
