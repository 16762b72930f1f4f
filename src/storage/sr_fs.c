/* sr_fs: SR file operations on a local directory or through libnfs. */
#include "storage/sr_fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <nfsc/libnfs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "util/xalloc.h"

struct sr_fs {
	struct nfs_context *nfs; /* NULL: local */
	char *server, *path;
	char *root; /* local: the SR's directory; NFS: "/<sub>" or "" */
	char *url;  /* local: root; NFS: nfs://server/path[/sub] */
	char *err;
};

/* Records the failure of what (errno e) with the tool's message; -1. */
static int fs_fail(struct sr_fs *fs, int e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fs_fail(struct sr_fs *fs, int e, const char *fmt, ...)
{
	va_list ap;
	free(fs->err);
	va_start(ap, fmt);
	if (vasprintf(&fs->err, fmt, ap) < 0)
		fs->err = NULL;
	va_end(ap);
	errno = e;
	return -1;
}

/* libnfs returns -errno; its context holds the server's words. */
static int
fs_nfs_fail(struct sr_fs *fs, int rc, const char *what, const char *name)
{
	const char *m = nfs_get_error(fs->nfs);
	return fs_fail(fs, rc < 0 ? -rc : EIO, "%s %s: %s", what, name,
	               m && *m ? m : strerror(rc < 0 ? -rc : EIO));
}

struct sr_fs *
sr_fs_open(const struct sr_fs_loc *loc, int timeout_s, char **msg)
{
	struct sr_fs *fs = xcalloc(1, sizeof(*fs));
	const char *sub = loc->sub ? loc->sub : "";
	fs->path = xstrdup(loc->path ? loc->path : "");
	if (!loc->server) {
		fs->root = *sub ? xasprintf("%s/%s", fs->path, sub)
		                : xstrdup(fs->path);
		fs->url = xstrdup(fs->root);
		return fs;
	}
	fs->server = xstrdup(loc->server);
	fs->root = *sub ? xasprintf("/%s", sub) : xstrdup("");
	fs->url = *sub ? xasprintf("nfs://%s%s/%s", fs->server, fs->path, sub)
	               : xasprintf("nfs://%s%s", fs->server, fs->path);
	fs->nfs = nfs_init_context();
	if (!fs->nfs) {
		*msg = xstrdup("cannot make an NFS context");
		sr_fs_close(fs);
		return NULL;
	}
	nfs_set_timeout(fs->nfs, timeout_s * 1000);
	nfs_set_version(fs->nfs, 3); /* NFS_V3 */
	int rc = nfs_mount(fs->nfs, fs->server, fs->path);
	if (rc < 0) {
		const char *m = nfs_get_error(fs->nfs);
		*msg = xasprintf("mount %s:%s: %s", fs->server, fs->path,
		                 m && *m ? m : strerror(-rc));
		sr_fs_close(fs);
		return NULL;
	}
	return fs;
}

void
sr_fs_close(struct sr_fs *fs)
{
	if (!fs)
		return;
	if (fs->nfs)
		nfs_destroy_context(fs->nfs);
	free(fs->server);
	free(fs->path);
	free(fs->root);
	free(fs->url);
	free(fs->err);
	free(fs);
}

const char *
sr_fs_error(const struct sr_fs *fs)
{
	return fs->err ? fs->err : "failed";
}

bool
sr_fs_remote(const struct sr_fs *fs)
{
	return fs->nfs != NULL;
}

char *
sr_fs_url(const struct sr_fs *fs, const char *name)
{
	return *name ? xasprintf("%s/%s", fs->url, name) : xstrdup(fs->url);
}

/* The path libnfs or the kernel is given for name. */
static char *
fs_path(const struct sr_fs *fs, const char *name)
{
	if (!*name)
		return xstrdup(*fs->root ? fs->root : "/");
	return xasprintf("%s/%s", fs->root, name);
}

int
sr_fs_mkdir(struct sr_fs *fs)
{
	char *p = fs_path(fs, "");
	int rc = 0;
	if (fs->nfs) {
		int r = nfs_mkdir(fs->nfs, p);
		if (r < 0 && r != -EEXIST)
			rc = fs_nfs_fail(fs, r, "mkdir", p);
	} else if (mkdir(p, 0700) < 0 && errno != EEXIST) {
		rc = fs_fail(fs, errno, "mkdir %s: %s", p, strerror(errno));
	}
	free(p);
	return rc;
}

int
sr_fs_rmdir(struct sr_fs *fs)
{
	char *p = fs_path(fs, "");
	int rc = 0;
	if (fs->nfs) {
		int r = nfs_rmdir(fs->nfs, p);
		if (r < 0 && r != -ENOENT)
			rc = fs_nfs_fail(fs, r, "rmdir", p);
	} else if (rmdir(p) < 0 && errno != ENOENT) {
		rc = fs_fail(fs, errno, "rmdir %s: %s", p, strerror(errno));
	}
	free(p);
	return rc;
}

bool
sr_fs_dir_exists(struct sr_fs *fs)
{
	char *p = fs_path(fs, "");
	bool ok;
	if (fs->nfs) {
		struct nfs_stat_64 st;
		int r = nfs_stat64(fs->nfs, p, &st);
		ok = r == 0 && S_ISDIR(st.nfs_mode);
		if (r < 0)
			fs_nfs_fail(fs, r, "stat", p);
		else if (!ok)
			fs_fail(fs, ENOTDIR, "%s: not a directory", p);
	} else {
		struct stat st;
		ok = stat(p, &st) == 0 && S_ISDIR(st.st_mode);
		if (!ok)
			fs_fail(fs, errno ? errno : ENOTDIR, "%s: %s", p,
			        errno ? strerror(errno) : "not a directory");
	}
	free(p);
	return ok;
}

void
sr_fs_names_free(char **names)
{
	for (size_t i = 0; names && names[i]; i++)
		free(names[i]);
	free(names);
}

/* Lists dir p; with dirs_only, only directories. */
static char **
fs_list_dir(struct sr_fs *fs, const char *p, bool dirs_only)
{
	char **v = xcalloc(1, sizeof(*v));
	size_t n = 0;
	if (fs->nfs) {
		struct nfsdir *d;
		struct nfsdirent *de;
		int r = nfs_opendir(fs->nfs, p, &d);
		if (r < 0) {
			fs_nfs_fail(fs, r, "opendir", p);
			free(v);
			return NULL;
		}
		while ((de = nfs_readdir(fs->nfs, d))) {
			if (!strcmp(de->name, ".") || !strcmp(de->name, "..") ||
			    (dirs_only && !S_ISDIR(de->mode)))
				continue;
			v = xrealloc(v, (n + 2) * sizeof(*v));
			v[n++] = xstrdup(de->name);
			v[n] = NULL;
		}
		nfs_closedir(fs->nfs, d);
		return v;
	}
	DIR *d = opendir(p);
	struct dirent *de;
	if (!d) {
		fs_fail(fs, errno, "opendir %s: %s", p, strerror(errno));
		free(v);
		return NULL;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    (dirs_only && de->d_type != DT_DIR))
			continue;
		v = xrealloc(v, (n + 2) * sizeof(*v));
		v[n++] = xstrdup(de->d_name);
		v[n] = NULL;
	}
	closedir(d);
	return v;
}

char **
sr_fs_list(struct sr_fs *fs)
{
	char *p = fs_path(fs, "");
	char **v = fs_list_dir(fs, p, false);
	free(p);
	return v;
}

char **
sr_fs_list_top(struct sr_fs *fs)
{
	return fs_list_dir(fs, fs->nfs ? "/" : fs->path, true);
}

int
sr_fs_stat(struct sr_fs *fs, const char *name, int64_t *size, int64_t *used)
{
	char *p = fs_path(fs, name);
	int rc = 0;
	if (fs->nfs) {
		struct nfs_stat_64 st;
		int r = nfs_stat64(fs->nfs, p, &st);
		if (r < 0) {
			rc = fs_nfs_fail(fs, r, "stat", p);
		} else {
			if (size)
				*size = (int64_t)st.nfs_size;
			if (used)
				*used = (int64_t)st.nfs_used;
		}
	} else {
		struct stat st;
		if (stat(p, &st) < 0) {
			rc = fs_fail(fs, errno, "stat %s: %s", p,
			             strerror(errno));
		} else {
			if (size)
				*size = (int64_t)st.st_size;
			if (used)
				*used = (int64_t)st.st_blocks * 512;
		}
	}
	free(p);
	return rc;
}

int
sr_fs_unlink(struct sr_fs *fs, const char *name)
{
	char *p = fs_path(fs, name);
	int rc = 0;
	if (fs->nfs) {
		int r = nfs_unlink(fs->nfs, p);
		if (r < 0)
			rc = fs_nfs_fail(fs, r, "unlink", p);
	} else if (unlink(p) < 0) {
		rc = fs_fail(fs, errno, "unlink %s: %s", p, strerror(errno));
	}
	free(p);
	return rc;
}

int
sr_fs_rename(struct sr_fs *fs, const char *from, const char *to)
{
	char *a = fs_path(fs, from), *b = fs_path(fs, to);
	int rc = 0;
	if (fs->nfs) {
		int r = nfs_rename(fs->nfs, a, b);
		if (r < 0)
			rc = fs_nfs_fail(fs, r, "rename", a);
	} else if (rename(a, b) < 0) {
		rc = fs_fail(fs, errno, "rename %s: %s", a, strerror(errno));
	}
	free(a);
	free(b);
	return rc;
}

int
sr_fs_chmod(struct sr_fs *fs, const char *name, int mode)
{
	char *p = fs_path(fs, name);
	int rc = 0;
	if (fs->nfs) {
		int r = nfs_chmod(fs->nfs, p, mode);
		if (r < 0)
			rc = fs_nfs_fail(fs, r, "chmod", p);
	} else if (chmod(p, (mode_t)mode) < 0) {
		rc = fs_fail(fs, errno, "chmod %s: %s", p, strerror(errno));
	}
	free(p);
	return rc;
}

int
sr_fs_space(struct sr_fs *fs, int64_t *size, int64_t *used)
{
	char *p = fs_path(fs, "");
	int rc = 0;
	if (fs->nfs) {
		struct nfs_statvfs_64 vf;
		int r = nfs_statvfs64(fs->nfs, p, &vf);
		if (r < 0) {
			rc = fs_nfs_fail(fs, r, "statvfs", p);
		} else {
			*size = (int64_t)(vf.f_blocks * vf.f_frsize);
			*used = *size - (int64_t)(vf.f_bavail * vf.f_frsize);
		}
	} else {
		struct statvfs vf;
		if (statvfs(p, &vf) < 0) {
			rc = fs_fail(fs, errno, "statvfs %s: %s", p,
			             strerror(errno));
		} else {
			*size = (int64_t)vf.f_blocks * (int64_t)vf.f_frsize;
			*used =
			    *size - (int64_t)vf.f_bavail * (int64_t)vf.f_frsize;
		}
	}
	free(p);
	return rc;
}

int
sr_fs_write(struct sr_fs *fs, const char *name, const char *data, bool excl)
{
	char *p = fs_path(fs, name);
	size_t len = strlen(data);
	int flags = O_WRONLY | O_CREAT | O_TRUNC | (excl ? O_EXCL : 0);
	int rc = 0;
	if (fs->nfs) {
		struct nfsfh *fh = NULL;
		int r = nfs_create(fs->nfs, p, flags, 0600, &fh);
		if (r < 0) {
			rc = fs_nfs_fail(fs, r, "create", p);
		} else {
			r = nfs_pwrite(fs->nfs, fh, 0, len, data);
			if (r >= 0 && (size_t)r != len)
				r = -EIO;
			if (r >= 0)
				r = nfs_fsync(fs->nfs, fh);
			if (r < 0)
				rc = fs_nfs_fail(fs, r, "write", p);
			nfs_close(fs->nfs, fh);
		}
	} else {
		int fd = open(p, flags | O_CLOEXEC, 0600);
		if (fd < 0) {
			rc = fs_fail(fs, errno, "open %s: %s", p,
			             strerror(errno));
		} else {
			if (write(fd, data, len) != (ssize_t)len ||
			    fsync(fd) < 0)
				rc = fs_fail(fs, errno ? errno : EIO,
				             "write %s: %s", p,
				             strerror(errno ? errno : EIO));
			close(fd);
		}
	}
	free(p);
	return rc;
}

char *
sr_fs_read(struct sr_fs *fs, const char *name)
{
	enum { MAX = 65536 };
	char *p = fs_path(fs, name), *buf = xcalloc(1, MAX + 1);
	int n = -1;
	if (fs->nfs) {
		struct nfsfh *fh = NULL;
		int r = nfs_open(fs->nfs, p, O_RDONLY, &fh);
		if (r < 0) {
			fs_nfs_fail(fs, r, "open", p);
		} else {
			n = nfs_pread(fs->nfs, fh, 0, MAX, buf);
			if (n < 0)
				fs_nfs_fail(fs, n, "read", p);
			nfs_close(fs->nfs, fh);
		}
	} else {
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			fs_fail(fs, errno, "open %s: %s", p, strerror(errno));
		} else {
			n = (int)read(fd, buf, MAX);
			if (n < 0)
				fs_fail(fs, errno, "read %s: %s", p,
				        strerror(errno));
			close(fd);
		}
	}
	free(p);
	if (n < 0) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

struct sr_fs_file {
	struct sr_fs *fs;
	struct nfsfh *fh; /* NFS */
	int fd;           /* local */
	bool write;
	char *path;
};

struct sr_fs_file *
sr_fs_file_open(struct sr_fs *fs, const char *name, bool write)
{
	struct sr_fs_file *f = xcalloc(1, sizeof(*f));
	int flags = write ? O_WRONLY | O_CREAT | O_TRUNC : O_RDONLY;
	f->fs = fs;
	f->fd = -1;
	f->write = write;
	f->path = fs_path(fs, name);
	if (fs->nfs) {
		int r = write
		            ? nfs_create(fs->nfs, f->path, flags, 0600, &f->fh)
		            : nfs_open(fs->nfs, f->path, flags, &f->fh);
		if (r < 0) {
			fs_nfs_fail(fs, r, write ? "create" : "open", f->path);
			f->fh = NULL;
		}
	} else {
		f->fd = open(f->path, flags | O_CLOEXEC, 0600);
		if (f->fd < 0)
			fs_fail(fs, errno, "open %s: %s", f->path,
			        strerror(errno));
	}
	if (!f->fh && f->fd < 0) {
		free(f->path);
		free(f);
		return NULL;
	}
	return f;
}

int64_t
sr_fs_file_pread(struct sr_fs_file *f, void *buf, size_t n, int64_t off)
{
	if (f->fh) {
		int r = nfs_pread(f->fs->nfs, f->fh, (uint64_t)off, n, buf);
		return r < 0 ? fs_nfs_fail(f->fs, r, "read", f->path) : r;
	}
	ssize_t r = pread(f->fd, buf, n, (off_t)off);
	return r < 0 ? fs_fail(f->fs, errno, "read %s: %s", f->path,
	                       strerror(errno))
	             : r;
}

int
sr_fs_file_pwrite(struct sr_fs_file *f, const void *buf, size_t n, int64_t off)
{
	const char *p = buf;
	while (n) {
		int64_t w;
		if (f->fh) {
			int r =
			    nfs_pwrite(f->fs->nfs, f->fh, (uint64_t)off, n, p);
			if (r <= 0)
				return fs_nfs_fail(f->fs, r < 0 ? r : -EIO,
				                   "write", f->path);
			w = r;
		} else {
			ssize_t r = pwrite(f->fd, p, n, (off_t)off);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return fs_fail(f->fs, r < 0 ? errno : EIO,
				               "write %s: %s", f->path,
				               strerror(r < 0 ? errno : EIO));
			w = r;
		}
		p += w;
		off += w;
		n -= (size_t)w;
	}
	return 0;
}

int
sr_fs_file_close(struct sr_fs_file *f)
{
	int rc = 0;
	if (!f)
		return 0;
	if (f->fh) {
		int r = f->write ? nfs_fsync(f->fs->nfs, f->fh) : 0;
		if (r < 0)
			rc = fs_nfs_fail(f->fs, r, "fsync", f->path);
		nfs_close(f->fs->nfs, f->fh);
	} else {
		if (f->write && fsync(f->fd) < 0)
			rc = fs_fail(f->fs, errno, "fsync %s: %s", f->path,
			             strerror(errno));
		close(f->fd);
	}
	free(f->path);
	free(f);
	return rc;
}

char *
sr_fs_loc_url(const struct sr_fs_loc *loc, const char *name)
{
	const char *sub = loc->sub ? loc->sub : "";
	char *dir;
	if (loc->server)
		dir = *sub ? xasprintf("nfs://%s%s/%s", loc->server, loc->path,
		                       sub)
		           : xasprintf("nfs://%s%s", loc->server, loc->path);
	else
		dir = *sub ? xasprintf("%s/%s", loc->path, sub)
		           : xstrdup(loc->path);
	if (!*name)
		return dir;
	char *u = xasprintf("%s/%s", dir, name);
	free(dir);
	return u;
}
