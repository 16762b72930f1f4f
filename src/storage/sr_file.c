/* sr_file: the qcow2 SRs: "ext"/"file" (a local directory) and "nfs" (a
 * directory on an NFS export, reached through libnfs and QEMU's nfs://
 * driver). Images are made and changed with qemu-img; the directory through
 * sr_fs. The drivers' device_config handling is in sr_locate.c. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "db/store.h"
#include "storage/sr.h"
#include "storage/sr_file.h"
#include "storage/sr_fs.h"
#include "storage/vdi_import.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/spawn.h"
#include "util/xalloc.h"

/* Hidden bases of copy-on-write chains ("<uuid>.base.qcow2"). */
#define SRF_BASE_SUFFIX ".base.qcow2"
/* Clone journals: SRF_JOURNAL "<run tag>.<base uuid>.journal". */
#define SRF_JOURNAL ".clone-"

struct sr_fs *
srf_open(const struct sr_ctx *sr, struct api_err **err)
{
	struct sr_fs_loc loc = {sr->server, sr->path, sr->sub};
	char *msg = NULL;
	struct sr_fs *fs = sr_fs_open(&loc, SRF_NFS_TIMEOUT, &msg);
	if (!fs) {
		*err =
		    sr->server
		        ? sr_backend_error(73, "NFS mount error", msg)
		        : sr_backend_error(47, "The SR is not available", msg);
		free(msg);
	}
	return fs;
}

struct api_err *
srf_fs_fail(struct sr_fs *fs, const char *what)
{
	char *m = xasprintf("%s: %s", what, sr_fs_error(fs));
	struct api_err *e = sr_backend_error(1, m, NULL);
	free(m);
	return e;
}

struct api_err *
srf_qemu_img(const char *what, char *const argv[])
{
	struct buf err = BUF_INIT;
	int rc = spawn_run(argv, NULL, &err, 3600);
	struct api_err *e = NULL;
	if (rc != 0) {
		if (rc < 0)
			buf_addf(&err, "cannot run qemu-img: %s",
			         strerror(errno));
		char *m = err.len ? err.data : (char *)"failed";
		size_t n = strlen(m);
		while (n && (m[n - 1] == '\n' || m[n - 1] == '\r'))
			m[--n] = '\0';
		log_warn("sr", "%s failed (%d): %s", what, rc, m);
		char *text = xasprintf("%s: %s", what, m);
		e = sr_backend_error(1, text, NULL);
		free(text);
	}
	buf_free(&err);
	return e;
}

/* A VDI's file name: "<location>.qcow2"; a location with its own extension
 * (suspend images: "<uuid>.suspend") names the file itself. */
static char *
srf_name(const char *location)
{
	return strchr(location, '.') ? xstrdup(location)
	                             : xasprintf("%s.qcow2", location);
}

/* How a new overlay names its backing file: relative in a local directory
 * (the SR can move), an absolute nfs:// URL on NFS (QEMU 7.2 resolves
 * relative names there wrongly). */
static char *
srf_backing_ref(const struct sr_fs *fs, const char *name)
{
	return sr_fs_remote(fs) ? sr_fs_url(fs, name) : xstrdup(name);
}

static struct api_err *
srf_create(const struct sr_ctx *sr)
{
	struct api_err *e = NULL;
	struct sr_fs *fs = srf_open(sr, &e);
	if (!fs)
		return e;
	if (sr->server && sr->sub && *sr->sub && sr_fs_dir_exists(fs)) {
		char **names = sr_fs_list(fs);
		if (!names || names[0])
			e = sr_backend_error(42, "The SR already exists", NULL);
		sr_fs_names_free(names);
	} else if (sr_fs_mkdir(fs) < 0) {
		e = sr->server ? sr_backend_error(88, "NFS SR creation error",
		                                  sr_fs_error(fs))
		               : srf_fs_fail(fs, "sr_create");
	}
	sr_fs_close(fs);
	return e;
}

static void srf_drop_partial(struct sr_fs *fs, const char *name);
static bool srf_is_partial(const char *name);

static struct api_err *
srf_attach(const struct sr_ctx *sr)
{
	struct api_err *e = NULL;
	struct sr_fs *fs = srf_open(sr, &e);
	if (!fs)
		return e;
	if (!sr_fs_dir_exists(fs))
		e = sr->server ? sr_backend_error(73, "NFS mount error",
		                                  sr_fs_error(fs))
		               : sr_backend_error(47, "The SR is not available",
		                                  sr_fs_error(fs));
	char **names = e ? NULL : sr_fs_list(fs);
	for (size_t i = 0; names && names[i]; i++)
		if (srf_is_partial(names[i])) /* left by a crash */
			srf_drop_partial(fs, names[i]);
	sr_fs_names_free(names);
	sr_fs_close(fs);
	return e;
}

/* Removes what is left in the directory (hidden bases nobody uses, leftover
 * temporary files), then the directory. */
static struct api_err *
srf_delete(const struct sr_ctx *sr)
{
	struct api_err *e = NULL;
	struct sr_fs *fs = srf_open(sr, &e);
	if (!fs)
		return e;
	char **names = sr_fs_list(fs);
	for (size_t i = 0; names && names[i] && !e; i++) {
		size_t l = strlen(names[i]);
		bool base = l > strlen(SRF_BASE_SUFFIX) &&
		            strcmp(names[i] + l - strlen(SRF_BASE_SUFFIX),
		                   SRF_BASE_SUFFIX) == 0;
		if (names[i][0] != '.' && !base)
			e = api_error(XE_SR_NOT_EMPTY, NULL);
	}
	for (size_t i = 0; names && names[i] && !e; i++)
		if (sr_fs_unlink(fs, names[i]) < 0 && errno != ENOENT)
			e = srf_fs_fail(fs, "sr_delete");
	if (!names)
		e = srf_fs_fail(fs, "sr_delete");
	if (!e && sr_fs_rmdir(fs) < 0)
		e = srf_fs_fail(fs, "sr_delete");
	sr_fs_names_free(names);
	sr_fs_close(fs);
	return e;
}

/* qemu-img info of an image: virtual size and backing file name (basename,
 * "" if none). Returns 0 or -1. */
static int
srf_info(const char *url, int64_t *vsize, char **backing)
{
	struct buf out = BUF_INIT;
	char *argv[] = {"qemu-img",      "info",      "-U",
	                "--output=json", (char *)url, NULL};
	int rc = -1;
	if (spawn_run(argv, &out, NULL, 120) == 0 && out.data) {
		json_t *j = json_loads(out.data, 0, NULL);
		if (j) {
			if (vsize)
				*vsize = json_integer_value(
				    json_object_get(j, "virtual-size"));
			if (backing) {
				const char *b = json_string_value(
				    json_object_get(j, "backing-filename"));
				const char *slash = b ? strrchr(b, '/') : NULL;
				*backing = xstrdup(slash ? slash + 1
				                   : b   ? b
				                         : "");
			}
			rc = 0;
		}
		json_decref(j);
	}
	buf_free(&out);
	return rc;
}

static void srf_recover(struct sr_fs *fs, char **names);

static struct api_err *
srf_scan(const struct sr_ctx *sr, struct sr_found **found, size_t *n)
{
	struct api_err *e = NULL;
	struct sr_fs *fs = srf_open(sr, &e);
	if (!fs)
		return e;
	char **names = sr_fs_list(fs);
	*found = NULL;
	*n = 0;
	if (names) {
		/* a clone a crash interrupted is undone first: its VDI's file
		 * is back before the listing says it is gone */
		srf_recover(fs, names);
		sr_fs_names_free(names);
		names = sr_fs_list(fs);
	}
	if (!names)
		e = srf_fs_fail(fs, "sr_scan");
	for (size_t i = 0; names && names[i]; i++) {
		const char *nm = names[i];
		size_t l = strlen(nm), bl = strlen(SRF_BASE_SUFFIX);
		/* VDIs are "<uuid>.qcow2"; hidden bases and dot files are not
		 */
		if (nm[0] == '.' || l <= 6 ||
		    strcmp(nm + l - 6, ".qcow2") != 0 ||
		    (l > bl && strcmp(nm + l - bl, SRF_BASE_SUFFIX) == 0))
			continue;
		char *url = sr_fs_url(fs, nm);
		int64_t vsize = 0, used = 0;
		if (srf_info(url, &vsize, NULL) == 0) {
			sr_fs_stat(fs, nm, NULL, &used);
			*found = xrealloc(*found, (*n + 1) * sizeof(**found));
			struct sr_found *f = &(*found)[(*n)++];
			memset(f, 0, sizeof(*f));
			f->location = xstrndup(nm, l - 6);
			f->virtual_size = vsize;
			f->used = used;
		}
		free(url);
	}
	sr_fs_names_free(names);
	sr_fs_close(fs);
	return e;
}

static int64_t
srf_vdi_need(const struct sr_ctx *sr, int64_t size)
{
	char sz[32];
	struct buf out = BUF_INIT;
	int64_t need = 1 << 20;
	snprintf(sz, sizeof(sz), "%lld", (long long)size);
	char *argv[] = {"qemu-img", "measure",       "-O", "qcow2", "--size",
	                sz,         "--output=json", NULL};
	if (spawn_run(argv, &out, NULL, 60) == 0 && out.data) {
		json_t *j = json_loads(out.data, 0, NULL);
		if (json_integer_value(json_object_get(j, "required")) > 0)
			need =
			    json_integer_value(json_object_get(j, "required"));
		json_decref(j);
	}
	buf_free(&out);
	(void)sr;
	return need;
}

static struct api_err *
srf_vdi_create(const struct sr_ctx *sr, const char *vdi_uuid, int64_t size,
               char **location)
{
	struct api_err *e = NULL;
	struct sr_fs *fs = srf_open(sr, &e);
	if (!fs)
		return e;
	char *name = xasprintf("%s.qcow2", vdi_uuid),
	     *file = sr_fs_url(fs, name);
	char sz[32];
	snprintf(sz, sizeof(sz), "%lld", (long long)size);
	char *argv[] = {
	    "qemu-img",          "create", "-q", "-f", "qcow2", "-o",
	    "preallocation=off", file,     sz,   NULL};
	e = srf_qemu_img("vdi_create", argv);
	if (e)
		sr_fs_unlink(fs, name);
	else
		*location = xstrdup(vdi_uuid);
	free(name);
	free(file);
	sr_fs_close(fs);
	return e;
}

static struct api_err *
srf_vdi_destroy(const struct sr_ctx *sr, const char *location)
{
	struct api_err *e = NULL;
	struct sr_fs *fs = srf_open(sr, &e);
	if (!fs)
		return e;
	char *name = srf_name(location);
	if (sr_fs_unlink(fs, name) < 0 && errno != ENOENT)
		e = srf_fs_fail(fs, "vdi_delete");
	free(name);
	sr_fs_close(fs);
	return e;
}

static struct api_err *
srf_vdi_resize(const struct sr_ctx *sr, const char *location, int64_t size)
{
	char *file = srf_vdi_url(sr, location);
	char sz[32];
	snprintf(sz, sizeof(sz), "%lld", (long long)size);
	char *argv[] = {"qemu-img", "resize", "-q", "-f",
	                "qcow2",    file,     sz,   NULL};
	struct api_err *e = srf_qemu_img("vdi_resize", argv);
	free(file);
	return e;
}

static int64_t
srf_vdi_used(const struct sr_ctx *sr, const char *location)
{
	struct api_err *e = NULL;
	struct sr_fs *fs = srf_open(sr, &e);
	int64_t used = -1;
	if (!fs) {
		api_err_free(e);
		return -1;
	}
	char *name = srf_name(location);
	if (sr_fs_stat(fs, name, NULL, &used) < 0)
		used = -1;
	free(name);
	sr_fs_close(fs);
	return used;
}

struct api_err *
srf_stat(const struct sr_ctx *sr, int64_t *size, int64_t *used)
{
	struct api_err *e = NULL;
	struct sr_fs *fs = srf_open(sr, &e);
	if (!fs)
		return e;
	if (sr_fs_space(fs, size, used) < 0)
		e = srf_fs_fail(fs, "sr_stat");
	sr_fs_close(fs);
	return e;
}

char *
srf_vdi_url(const struct sr_ctx *sr, const char *location)
{
	char *name = srf_name(location), *url;
	const char *sub = sr->sub && *sr->sub ? sr->sub : NULL;
	if (sr->server)
		url = sub ? xasprintf("nfs://%s%s/%s/%s", sr->server, sr->path,
		                      sub, name)
		          : xasprintf("nfs://%s%s/%s", sr->server, sr->path,
		                      name);
	else
		url = sub ? xasprintf("%s/%s/%s", sr->path, sub, name)
		          : xasprintf("%s/%s", sr->path, name);
	free(name);
	return url;
}

static char *
srf_vdi_path(const struct sr_ctx *sr, const char *location, const char **format)
{
	*format = "qcow2";
	return srf_vdi_url(sr, location);
}

static struct api_err *
srf_vdi_clone(const struct sr_ctx *sr, const char *location,
              const char *new_uuid, int64_t size, const struct sr_live *live,
              char **new_location)
{
	struct api_err *e = NULL;
	struct sr_fs *fs = srf_open(sr, &e);
	if (!fs)
		return e;
	char *name = srf_name(location), *base_uuid = db_new_uuid();
	/* hidden bases have their own suffix: the GC touches nothing else */
	char *base_name = xasprintf("%s" SRF_BASE_SUFFIX, base_uuid);
	char *nname = xasprintf("%s.qcow2", new_uuid);
	/* named after this run of xapid: on a shared SR, another host's
	 * recovery leaves it alone (srf_journal_mine) */
	char *journal =
	    xasprintf(SRF_JOURNAL "%s.%s.journal", sr_run_tag(), base_uuid);
	char *file = sr_fs_url(fs, name), *nfile = sr_fs_url(fs, nname);
	char *bref = srf_backing_ref(fs, base_name);
	char *jtext = xasprintf("%s\n%s\n", location, base_name);
	char sz[32];

	snprintf(sz, sizeof(sz), "%lld", (long long)size);
	/* until the VDI's new top exists, a crash must be undone: the journal
	 * says where the base's data came from (srf_gc rolls it back) */
	if (sr_fs_write(fs, journal, jtext, false) < 0) {
		e = srf_fs_fail(fs, "vdi_clone");
		sr_fs_unlink(fs, journal);
		goto out;
	}
	if (sr_fs_rename(fs, name, base_name) < 0) {
		e = srf_fs_fail(fs, "vdi_clone");
		goto out;
	}
	/* -u: a running QEMU holds the base's lock, and the size is known */
	char *a1[] = {"qemu-img", "create", "-q",    "-f", "qcow2", "-u", "-b",
	              bref,       "-F",     "qcow2", file, sz,      NULL};
	if ((e = srf_qemu_img("vdi_clone", a1))) {
		sr_fs_rename(fs, base_name, name);
		goto out;
	}
	if (live && (e = live->switch_top(live, file))) {
		/* the VM still writes to the base under its old name */
		sr_fs_unlink(fs, name);
		sr_fs_rename(fs, base_name, name);
		goto out;
	}
	char *a2[] = {"qemu-img", "create", "-q",    "-f",  "qcow2", "-u", "-b",
	              bref,       "-F",     "qcow2", nfile, sz,      NULL};
	if ((e = srf_qemu_img("vdi_clone", a2))) {
		if (!live) {
			sr_fs_unlink(fs, name);
			sr_fs_rename(fs, base_name, name);
		}
		goto out;
	}
	sr_fs_chmod(fs, base_name,
	            0400); /* the shared base never changes again */
	*new_location = xstrdup(new_uuid);
out:
	sr_fs_unlink(fs, journal); /* done, or undone above */
	free(jtext);
	free(bref);
	free(journal);
	free(name);
	free(file);
	free(nfile);
	free(base_name);
	free(base_uuid);
	free(nname);
	sr_fs_close(fs);
	return e;
}

/* A partial image of an import (or export copy) that no process owns any
 * more (its owner holds a lock on it): left by a crash, it goes. */
static void
srf_drop_partial(struct sr_fs *fs, const char *name)
{
	if (sr_fs_remote(fs)) {
		/* no flock over NFS: the name says which run of which host
		 * made it; an earlier run of this host's is gone */
		if (sr_run_tag_stale(name, VDI_IMPORT_TMP_PREFIX) &&
		    sr_fs_unlink(fs, name) == 0)
			log_warn("sr",
			         "removed %s, left by an interrupted transfer",
			         name);
		return;
	}
	char *p = sr_fs_url(fs, name);
	int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0 && unlink(p) == 0)
		log_warn("sr", "removed %s, left by an interrupted transfer", name);
	if (fd >= 0)
		close(fd);
	free(p);
}

static bool
srf_is_partial(const char *name)
{
	size_t nl = strlen(name);
	return name[0] == '.' && nl > 4 && strcmp(name + nl - 4, ".tmp") == 0;
}

/* Whether the clone journal name is this host's to roll back: in a local
 * directory every journal is (clones and recovery hold sr_chain_lock); on
 * a shared SR only those of an earlier run of xapid on this host (and
 * journals without an owner, from before owners were named): another
 * host's may belong to a clone under way there. */
static bool
srf_journal_mine(struct sr_fs *fs, const char *name)
{
	return !sr_fs_remote(fs) ||
	       strlen(name) == strlen(SRF_JOURNAL) + 36 + 8 ||
	       sr_run_tag_stale(name, SRF_JOURNAL);
}

/* The bases named by the clone journals among names (another host's
 * clones under way): the GC keeps off them. NULL-terminated, malloc'd. */
static char **
srf_journal_bases(struct sr_fs *fs, char **names)
{
	char **v = xcalloc(1, sizeof(*v));
	size_t n = 0;
	for (size_t i = 0; names && names[i]; i++) {
		char loc[128] = "", base[128] = "";
		if (strncmp(names[i], SRF_JOURNAL, strlen(SRF_JOURNAL)) != 0)
			continue;
		char *text = sr_fs_read(fs, names[i]);
		if (text && sscanf(text, "%127s %127s", loc, base) == 2) {
			v = xrealloc(v, (n + 2) * sizeof(*v));
			v[n++] = xstrdup(base);
			v[n] = NULL;
		}
		free(text);
	}
	return v;
}

/* Clones that a crash interrupted: while the VDI's own file is missing,
 * its data is still whole in the base; put it back. Partial transfers left
 * by a crash go. */
static void
srf_recover(struct sr_fs *fs, char **names)
{
	for (size_t i = 0; names && names[i]; i++) {
		if (srf_is_partial(names[i])) {
			srf_drop_partial(fs, names[i]);
			continue;
		}
		if (strncmp(names[i], SRF_JOURNAL, strlen(SRF_JOURNAL)) != 0 ||
		    !srf_journal_mine(fs, names[i]))
			continue;
		char loc[128] = "", base[128] = "";
		char *text = sr_fs_read(fs, names[i]);
		if (!text || sscanf(text, "%127s %127s", loc, base) != 2)
			loc[0] = '\0';
		free(text);
		if (loc[0] && !strchr(loc, '/') && !strchr(base, '/')) {
			char *file = srf_name(loc);
			if (sr_fs_stat(fs, file, NULL, NULL) < 0 &&
			    sr_fs_stat(fs, base, NULL, NULL) == 0) {
				sr_fs_chmod(fs, base, 0600);
				if (sr_fs_rename(fs, base, file) == 0)
					log_warn("sr",
					         "recovered an interrupted "
					         "clone: %s is %s again",
					         base, loc);
			}
			free(file);
		}
		sr_fs_unlink(fs, names[i]);
	}
}

static struct api_err *
srf_vdi_copy(const struct sr_ctx *sr, const char *src_path,
             const char *src_format, const char *new_uuid, char **location)
{
	struct api_err *e = NULL;
	struct sr_fs *fs = srf_open(sr, &e);
	if (!fs)
		return e;
	char *name = xasprintf("%s.qcow2", new_uuid),
	     *dst = sr_fs_url(fs, name);
	char *argv[] = {
	    "qemu-img", "convert",        "-q", "-f", (char *)src_format, "-O",
	    "qcow2",    (char *)src_path, dst,  NULL};
	e = srf_qemu_img("vdi_copy", argv);
	if (e)
		sr_fs_unlink(fs, name);
	else
		*location = xstrdup(new_uuid);
	free(name);
	free(dst);
	sr_fs_close(fs);
	return e;
}

/* One qcow2 file of the SR and its backing file name ("" when none). */
struct srf_node {
	char *name;    /* "<x>.qcow2" */
	char *backing; /* file name in the SR, or "" */
	int children;
	char *child; /* the last child seen */
};

/* One round of the GC over the files; true if it changed something. */
static bool
srf_gc_round(struct sr_fs *fs, char **names,
             bool (*known)(void *ctx, const char *location),
             bool (*busy)(void *ctx, const char *location),
             int (*live_merge)(void *ctx, const char *location), void *ctx,
             int *removed)
{
	struct srf_node *nodes = NULL;
	size_t n = 0, bl = strlen(SRF_BASE_SUFFIX);
	bool changed = false;
	char **held = srf_journal_bases(fs, names);
	for (size_t i = 0; names[i]; i++) {
		size_t l = strlen(names[i]);
		if (names[i][0] == '.' || l < 7 ||
		    strcmp(names[i] + l - 6, ".qcow2") != 0)
			continue;
		nodes = xrealloc(nodes, (n + 1) * sizeof(*nodes));
		char *url = sr_fs_url(fs, names[i]);
		nodes[n].name = xstrdup(names[i]);
		nodes[n].backing = NULL;
		if (srf_info(url, NULL, &nodes[n].backing) < 0)
			nodes[n].backing = xstrdup("");
		nodes[n].children = 0;
		nodes[n].child = NULL;
		free(url);
		n++;
	}
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < n; k++)
			if (strcmp(nodes[i].backing, nodes[k].name) == 0) {
				nodes[k].children++;
				nodes[k].child = nodes[i].name;
			}
	for (size_t i = 0; i < n && !changed; i++) {
		char loc[64];
		size_t nl = strlen(nodes[i].name);
		/* only hidden bases are the GC's: VDIs, and files whose VDI row
		 * is still being written, are not */
		if (nl <= bl ||
		    strcmp(nodes[i].name + nl - bl, SRF_BASE_SUFFIX) != 0)
			continue;
		snprintf(loc, sizeof(loc), "%.*s", (int)(nl - 6),
		         nodes[i].name);
		if (known(ctx, loc))
			continue; /* a VDI */
		bool in_clone = false;
		for (size_t h = 0; held[h] && !in_clone; h++)
			in_clone = strcmp(held[h], nodes[i].name) == 0;
		if (in_clone)
			continue; /* another host's clone is making it */
		if (nodes[i].children == 0) {
			/* a base nobody needs */
			if (sr_fs_unlink(fs, nodes[i].name) == 0) {
				log_info("sr", "gc: removed unused base %s",
				         nodes[i].name);
				(*removed)++;
				changed = true;
			}
		} else if (nodes[i].children == 1) {
			char cloc[64];
			const char *c = nodes[i].child;
			snprintf(cloc, sizeof(cloc), "%.*s",
			         (int)(strlen(c) - 6), c);
			if (busy(ctx, cloc)) {
				/* the VM pulls the base into its top layer; the
				 * base then has no child left */
				if (live_merge && live_merge(ctx, cloc) == 0) {
					log_info("sr",
					         "gc: %s streamed into %s live",
					         nodes[i].name, c);
					changed = true;
				}
			} else {
				/* merge: the child takes the base's data and
				 * the base's own backing */
				char *cpath = sr_fs_url(fs, c);
				char *bref =
				    *nodes[i].backing
				        ? srf_backing_ref(fs, nodes[i].backing)
				        : xstrdup("");
				char *argv[] = {"qemu-img", "rebase", "-q",
				                "-f",       "qcow2",  "-b",
				                bref,       "-F",     "qcow2",
				                cpath,      NULL};
				char *argv0[] = {"qemu-img", "rebase", "-q",
				                 "-f",       "qcow2",  "-b",
				                 "",         cpath,    NULL};
				struct api_err *e = srf_qemu_img(
				    "gc", *nodes[i].backing ? argv : argv0);
				if (!e &&
				    sr_fs_unlink(fs, nodes[i].name) == 0) {
					log_info("sr",
					         "gc: merged base %s into %s",
					         nodes[i].name, c);
					(*removed)++;
					changed = true;
				}
				api_err_free(e);
				free(bref);
				free(cpath);
			}
		}
	}
	for (size_t i = 0; i < n; i++) {
		free(nodes[i].name);
		free(nodes[i].backing);
	}
	free(nodes);
	sr_fs_names_free(held);
	return changed;
}

static int
srf_gc(const struct sr_ctx *sr, bool (*known)(void *ctx, const char *location),
       bool (*busy)(void *ctx, const char *location),
       int (*live_merge)(void *ctx, const char *location), void *ctx)
{
	int removed = 0;
	struct api_err *e = NULL;
	struct sr_fs *fs = srf_open(sr, &e);
	if (!fs) {
		api_err_free(e);
		return 0;
	}
	char **names = sr_fs_list(fs);
	srf_recover(fs, names);
	for (int round = 0; round < 16 && names; round++) {
		sr_fs_names_free(names);
		names = sr_fs_list(fs);
		if (!names || !srf_gc_round(fs, names, known, busy, live_merge,
		                            ctx, &removed))
			break;
	}
	sr_fs_names_free(names);
	sr_fs_close(fs);
	return removed;
}

/* "ext" (XenServer's local file SR type) and "file" are the same driver;
 * "nfs" differs in where the directory is. */
#define SRF_DRIVER(name, loc, shr, prb)                                        \
	{                                                                      \
		.type = name, .content_type = "user", .shared = shr,           \
		.locate = loc, .create = srf_create, .attach = srf_attach,     \
		.delete = srf_delete, .probe = prb, .scan = srf_scan,          \
		.vdi_need = srf_vdi_need, .vdi_create = srf_vdi_create,        \
		.vdi_destroy = srf_vdi_destroy, .vdi_resize = srf_vdi_resize,  \
		.vdi_used = srf_vdi_used, .stat = srf_stat,                    \
		.vdi_path = srf_vdi_path, .vdi_clone = srf_vdi_clone,          \
		.gc = srf_gc, .vdi_copy = srf_vdi_copy,                        \
	}

const struct sr_driver sr_file_ext =
    SRF_DRIVER("ext", srf_locate_local, false, NULL);
const struct sr_driver sr_file_file =
    SRF_DRIVER("file", srf_locate_local, false, NULL);
const struct sr_driver sr_file_nfs =
    SRF_DRIVER("nfs", srf_locate_nfs, true, srf_probe_nfs);
