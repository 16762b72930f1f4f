/* sr_file: the local "ext"/"file" SR: a directory of qcow2 images made and
 * changed with qemu-img. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "db/store.h"
#include "storage/sr.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/spawn.h"
#include "util/xalloc.h"

/* SR_BACKEND_FAILURE with the tool's own message. */
static struct api_err *
srf_fail(const char *what, struct buf *msg)
{
	char *m = msg && msg->len ? msg->data : (char *)"failed";
	size_t n = strlen(m);
	while (n && (m[n - 1] == '\n' || m[n - 1] == '\r'))
		m[--n] = '\0';
	char *text = xasprintf("%s: %s", what, m);
	struct api_err *e = api_error(XE_SR_BACKEND_FAILURE, "1", "", text, NULL);
	free(text);
	return e;
}

static struct api_err *
srf_qemu_img(const char *what, char *const argv[])
{
	struct buf err = BUF_INIT;
	int rc = spawn_run(argv, NULL, &err, 300);
	struct api_err *e = NULL;
	if (rc != 0) {
		if (rc < 0)
			buf_addf(&err, "cannot run qemu-img: %s", strerror(errno));
		log_warn("sr", "%s failed (%d): %s", what, rc, err.data ? err.data : "");
		e = srf_fail(what, &err);
	}
	buf_free(&err);
	return e;
}

static struct api_err *
srf_create(const struct sr_ctx *sr)
{
	if (mkdir(sr->path, 0700) < 0 && errno != EEXIST) {
		struct buf m = BUF_INIT;
		buf_addf(&m, "%s: %s", sr->path, strerror(errno));
		struct api_err *e = srf_fail("sr_create", &m);
		buf_free(&m);
		return e;
	}
	return NULL;
}

/* Hidden bases of copy-on-write chains ("<uuid>.base.qcow2"). */
#define SRF_BASE_SUFFIX ".base.qcow2"

/* A VDI's file: "<location>.qcow2"; a location with its own extension
 * (suspend images: "<uuid>.suspend") names the file itself. */
static char *
srf_file(const struct sr_ctx *sr, const char *location)
{
	if (strchr(location, '.'))
		return xasprintf("%s/%s", sr->path, location);
	return xasprintf("%s/%s.qcow2", sr->path, location);
}

static struct api_err *
srf_vdi_create(const struct sr_ctx *sr, const char *vdi_uuid, int64_t size,
	       char **location)
{
	char *file = xasprintf("%s/%s.qcow2", sr->path, vdi_uuid);
	char sz[32];
	snprintf(sz, sizeof(sz), "%lld", (long long)size);
	char *argv[] = {"qemu-img", "create", "-q", "-f", "qcow2", "-o",
			"preallocation=off", file, sz, NULL};
	struct api_err *e = srf_qemu_img("vdi_create", argv);
	free(file);
	if (!e)
		*location = xstrdup(vdi_uuid);
	return e;
}

static struct api_err *
srf_vdi_destroy(const struct sr_ctx *sr, const char *location)
{
	char *file = srf_file(sr, location);
	struct api_err *e = NULL;
	if (unlink(file) < 0 && errno != ENOENT) {
		struct buf m = BUF_INIT;
		buf_addf(&m, "%s: %s", file, strerror(errno));
		e = srf_fail("vdi_delete", &m);
		buf_free(&m);
	}
	free(file);
	return e;
}

static struct api_err *
srf_vdi_resize(const struct sr_ctx *sr, const char *location, int64_t size)
{
	char *file = srf_file(sr, location);
	char sz[32];
	snprintf(sz, sizeof(sz), "%lld", (long long)size);
	char *argv[] = {"qemu-img", "resize", "-q", "-f", "qcow2", file, sz, NULL};
	struct api_err *e = srf_qemu_img("vdi_resize", argv);
	free(file);
	return e;
}

static int64_t
srf_vdi_used(const struct sr_ctx *sr, const char *location)
{
	char *file = srf_file(sr, location);
	struct stat st;
	int64_t r = stat(file, &st) == 0 ? (int64_t)st.st_blocks * 512 : -1;
	free(file);
	return r;
}

static struct api_err *
srf_stat(const struct sr_ctx *sr, int64_t *size, int64_t *used)
{
	struct statvfs vf;
	if (statvfs(sr->path, &vf) < 0) {
		struct buf m = BUF_INIT;
		buf_addf(&m, "%s: %s", sr->path, strerror(errno));
		struct api_err *e = srf_fail("sr_stat", &m);
		buf_free(&m);
		return e;
	}
	*size = (int64_t)vf.f_blocks * (int64_t)vf.f_frsize;
	*used = *size - (int64_t)vf.f_bavail * (int64_t)vf.f_frsize;
	return NULL;
}

static char *
srf_vdi_path(const struct sr_ctx *sr, const char *location, const char **format)
{
	*format = "qcow2";
	return srf_file(sr, location);
}

static struct api_err *
srf_vdi_clone(const struct sr_ctx *sr, const char *location,
	      const char *new_uuid, int64_t size, const struct sr_live *live,
	      char **new_location)
{
	char *file = srf_file(sr, location), *base_uuid = db_new_uuid();
	/* hidden bases have their own suffix: the GC touches nothing else */
	char *base = xasprintf("%s/%s" SRF_BASE_SUFFIX, sr->path, base_uuid);
	char *base_name = xasprintf("%s" SRF_BASE_SUFFIX, base_uuid);
	char *nfile = xasprintf("%s/%s.qcow2", sr->path, new_uuid);
	char *journal = xasprintf("%s/.clone-%s.journal", sr->path, base_uuid);
	char sz[32];
	struct api_err *e = NULL;

	snprintf(sz, sizeof(sz), "%lld", (long long)size);
	/* until the VDI's new top exists, a crash must be undone: the journal
	 * says where the base's data came from (srf_gc rolls it back) */
	FILE *jf = fopen(journal, "we");
	if (!jf || fprintf(jf, "%s\n%s\n", location, base_name) < 0 ||
	    fflush(jf) != 0 || fsync(fileno(jf)) != 0) {
		struct buf m = BUF_INIT;
		buf_addf(&m, "%s: %s", journal, strerror(errno));
		e = srf_fail("vdi_clone", &m);
		buf_free(&m);
		if (jf)
			fclose(jf);
		unlink(journal);
		goto out;
	}
	fclose(jf);
	if (rename(file, base) < 0) {
		struct buf m = BUF_INIT;
		buf_addf(&m, "%s: %s", file, strerror(errno));
		e = srf_fail("vdi_clone", &m);
		buf_free(&m);
		goto out;
	}
	/* backing names relative to the SR directory: the SR can move; -u:
	 * a running QEMU holds the base's lock, and the size is known */
	char *a1[] = {"qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", base_name,
		      "-F", "qcow2", file, sz, NULL};
	if ((e = srf_qemu_img("vdi_clone", a1))) {
		rename(base, file);
		goto out;
	}
	if (live && (e = live->switch_top(live, file))) {
		/* the VM still writes to the base under its old name */
		unlink(file);
		rename(base, file);
		goto out;
	}
	char *a2[] = {"qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", base_name,
		      "-F", "qcow2", nfile, sz, NULL};
	if ((e = srf_qemu_img("vdi_clone", a2))) {
		if (!live) {
			unlink(file);
			rename(base, file);
		}
		goto out;
	}
	chmod(base, 0400); /* the shared base never changes again */
	*new_location = xstrdup(new_uuid);
out:
	unlink(journal); /* done, or undone above */
	free(journal);
	free(file);
	free(base);
	free(base_name);
	free(base_uuid);
	free(nfile);
	return e;
}

/* Clones that a crash interrupted: while the VDI's own file is missing,
 * its data is still whole in the base; put it back. */
/* A partial image of an import (or export copy) that no process owns any
 * more (its owner holds a lock on it): left by a crash, it goes. */
static void
srf_drop_partial(const struct sr_ctx *sr, const char *name)
{
	char *p = xasprintf("%s/%s", sr->path, name);
	int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0 && unlink(p) == 0)
		log_warn("sr", "removed %s, left by an interrupted transfer", name);
	if (fd >= 0)
		close(fd);
	free(p);
}

static void
srf_recover(const struct sr_ctx *sr)
{
	DIR *d = opendir(sr->path);
	struct dirent *de;
	if (!d)
		return;
	while ((de = readdir(d))) {
		size_t nl = strlen(de->d_name);
		if (de->d_name[0] == '.' && nl > 4 && strcmp(de->d_name + nl - 4, ".tmp") == 0) {
			srf_drop_partial(sr, de->d_name);
			continue;
		}
		if (strncmp(de->d_name, ".clone-", 7) != 0)
			continue;
		char *jp = xasprintf("%s/%s", sr->path, de->d_name);
		char loc[128] = "", base[128] = "";
		FILE *f = fopen(jp, "re");
		if (f) {
			if (fscanf(f, "%127s %127s", loc, base) != 2)
				loc[0] = '\0';
			fclose(f);
		}
		if (loc[0] && !strchr(loc, '/') && !strchr(base, '/')) {
			char *file = srf_file(sr, loc);
			char *bp = xasprintf("%s/%s", sr->path, base);
			if (access(file, F_OK) != 0 && access(bp, F_OK) == 0) {
				chmod(bp, 0600);
				if (rename(bp, file) == 0)
					log_warn("sr", "recovered an interrupted clone: %s is %s again",
						 base, loc);
			}
			free(file);
			free(bp);
		}
		unlink(jp);
		free(jp);
	}
	closedir(d);
}

static struct api_err *
srf_vdi_copy(const struct sr_ctx *sr, const char *src_path, const char *src_format,
	     const char *new_uuid, char **location)
{
	char *dst = xasprintf("%s/%s.qcow2", sr->path, new_uuid);
	char *argv[] = {"qemu-img", "convert", "-q", "-f", (char *)src_format, "-O",
			"qcow2", (char *)src_path, dst, NULL};
	struct api_err *e = srf_qemu_img("vdi_copy", argv);
	if (e)
		unlink(dst);
	else
		*location = xstrdup(new_uuid);
	free(dst);
	return e;
}

/* One qcow2 file of the SR and its backing file name ("" when none). */
struct srf_node {
	char *name;    /* "<x>.qcow2" */
	char *backing; /* file name in the SR, or "" */
	int children;
	char *child;   /* the last child seen */
};

static char *
srf_backing_of(const char *path)
{
	struct buf out = BUF_INIT;
	char *argv[] = {"qemu-img", "info", "-U", "--output=json", (char *)path, NULL};
	char *r = NULL;
	if (spawn_run(argv, &out, NULL, 60) == 0 && out.data) {
		json_t *j = json_loads(out.data, 0, NULL);
		const char *b = json_string_value(json_object_get(j, "backing-filename"));
		if (b) {
			const char *slash = strrchr(b, '/');
			r = xstrdup(slash ? slash + 1 : b);
		}
		json_decref(j);
	}
	buf_free(&out);
	return r ? r : xstrdup("");
}

static int
srf_gc(const struct sr_ctx *sr, bool (*known)(void *ctx, const char *location),
       bool (*busy)(void *ctx, const char *location),
       int (*live_merge)(void *ctx, const char *location), void *ctx)
{
	int removed = 0;
	srf_recover(sr);
	for (int round = 0; round < 16; round++) {
		DIR *d = opendir(sr->path);
		struct srf_node *nodes = NULL;
		size_t n = 0;
		struct dirent *de;
		bool changed = false;
		if (!d)
			return removed;
		while ((de = readdir(d))) {
			size_t l = strlen(de->d_name);
			if (l < 7 || strcmp(de->d_name + l - 6, ".qcow2") != 0)
				continue;
			nodes = xrealloc(nodes, (n + 1) * sizeof(*nodes));
			char *p = xasprintf("%s/%s", sr->path, de->d_name);
			nodes[n].name = xstrdup(de->d_name);
			nodes[n].backing = srf_backing_of(p);
			nodes[n].children = 0;
			nodes[n].child = NULL;
			free(p);
			n++;
		}
		closedir(d);
		for (size_t i = 0; i < n; i++)
			for (size_t k = 0; k < n; k++)
				if (strcmp(nodes[i].backing, nodes[k].name) == 0) {
					nodes[k].children++;
					nodes[k].child = nodes[i].name;
				}
		for (size_t i = 0; i < n && !changed; i++) {
			char loc[64];
			size_t nl = strlen(nodes[i].name), bl = strlen(SRF_BASE_SUFFIX);
			/* only hidden bases are the GC's: VDIs, and files whose
			 * VDI row is still being written, are not */
			if (nl <= bl || strcmp(nodes[i].name + nl - bl, SRF_BASE_SUFFIX) != 0)
				continue;
			snprintf(loc, sizeof(loc), "%.*s", (int)(nl - 6), nodes[i].name);
			if (known(ctx, loc))
				continue; /* a VDI */
			char *path = xasprintf("%s/%s", sr->path, nodes[i].name);
			if (nodes[i].children == 0) {
				/* a base nobody needs */
				if (unlink(path) == 0) {
					log_info("sr", "gc: removed unused base %s", nodes[i].name);
					removed++;
					changed = true;
				}
			} else if (nodes[i].children == 1) {
				char cloc[64];
				const char *c = nodes[i].child;
				snprintf(cloc, sizeof(cloc), "%.*s", (int)(strlen(c) - 6), c);
				if (busy(ctx, cloc)) {
					/* the VM pulls the base into its top layer;
					 * the base then has no child left */
					if (live_merge && live_merge(ctx, cloc) == 0) {
						log_info("sr", "gc: %s streamed into %s live",
							 nodes[i].name, c);
						changed = true;
					}
				} else {
					/* merge: the child takes the base's data and
					 * the base's own backing */
					char *cpath = xasprintf("%s/%s", sr->path, c);
					char *argv[] = {"qemu-img", "rebase", "-q", "-f", "qcow2",
							"-b", nodes[i].backing, "-F", "qcow2",
							cpath, NULL};
					char *argv0[] = {"qemu-img", "rebase", "-q", "-f", "qcow2",
							 "-b", "", cpath, NULL};
					struct api_err *e = srf_qemu_img(
						"gc", *nodes[i].backing ? argv : argv0);
					if (!e && unlink(path) == 0) {
						log_info("sr", "gc: merged base %s into %s",
							 nodes[i].name, c);
						removed++;
						changed = true;
					}
					api_err_free(e);
					free(cpath);
				}
			}
			free(path);
		}
		for (size_t i = 0; i < n; i++) {
			free(nodes[i].name);
			free(nodes[i].backing);
		}
		free(nodes);
		if (!changed)
			break;
	}
	return removed;
}

/* "ext" (XenServer's local file SR type) and "file" are the same driver. */
#define SRF_DRIVER(name)                                                       \
	{                                                                      \
		.type = name, .content_type = "user", .shared = false,         \
		.create = srf_create, .vdi_create = srf_vdi_create,            \
		.vdi_destroy = srf_vdi_destroy, .vdi_resize = srf_vdi_resize,  \
		.vdi_used = srf_vdi_used, .stat = srf_stat,                    \
		.vdi_path = srf_vdi_path, .vdi_clone = srf_vdi_clone,          \
		.gc = srf_gc, .vdi_copy = srf_vdi_copy,                        \
	}

static const struct sr_driver sr_file_driver = SRF_DRIVER("ext");
static const struct sr_driver sr_file_driver2 = SRF_DRIVER("file");

const struct sr_driver *
sr_driver_find(const char *type)
{
	static const struct sr_driver *const drivers[] = {&sr_file_driver,
							  &sr_file_driver2};
	for (size_t i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++)
		if (strcmp(drivers[i]->type, type) == 0)
			return drivers[i];
	return NULL;
}
