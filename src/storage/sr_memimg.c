/* sr_memimg: memory images on any SR through a local name (sr_memimg.h). */
#include "storage/sr_memimg.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db/store.h"
#include "rpc/api.h"
#include "storage/sr_file.h"
#include "storage/sr_fs.h"
#include "storage/sr_priv.h"
#include "util/log.h"
#include "util/xalloc.h"

#define MEMIMG_CHUNK (1u << 20)
/* Where the FIFO directories go: MEMIMG_TMP/MEMIMG_PREFIX<run tag>.XXXXXX */
#define MEMIMG_TMP "/tmp"
#define MEMIMG_PREFIX "xapid-mem."

struct sr_memimg {
	char *path; /* what the backend opens */
	char *dir;  /* NFS: the FIFO's private directory; else NULL */
	struct sr_fs *fs;
	struct sr_fs_file *file; /* the image on the SR (the pump's) */
	bool write;
	int fifo;    /* the pump's end of the FIFO, non-blocking */
	int wake[2]; /* tells the pump: 'f' finish (drain what is left), 's'
	                stop */
	pthread_t th;
	char *err; /* what stopped the pump */
	int64_t bytes;
	bool joined; /* the pump is over (sr_memimg_commit) */
};

/* Waits until fd is ready for ev or a word comes on the wake pipe: 0 ready,
 * else the word. */
static int
memimg_wait(struct sr_memimg *m, short ev)
{
	struct pollfd p[2] = {{m->fifo, ev, 0}, {m->wake[0], POLLIN, 0}};
	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 's';
		}
		if (p[1].revents) {
			char c = 's';
			if (read(m->wake[0], &c, 1) != 1)
				c = 's';
			return c;
		}
		if (p[0].revents)
			return 0;
	}
}

/* The backend writes into the FIFO: its bytes go to the image. Until a
 * writer opened the FIFO, poll reports nothing (Linux: no POLLHUP for a
 * FIFO that never had a writer); read gives 0 once the writer closed. */
static void
memimg_from_fifo(struct sr_memimg *m, char *buf)
{
	bool finish = false;
	for (;;) {
		if (!finish) {
			int w = memimg_wait(m, POLLIN);
			if (w == 's') {
				m->err = xstrdup("abandoned");
				return;
			}
			finish = w == 'f';
		}
		ssize_t n = read(m->fifo, buf, MEMIMG_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if (finish)
				return; /* the backend is done: all was read */
			continue;
		}
		if (n < 0) {
			m->err = xasprintf("read: %s", strerror(errno));
			return;
		}
		if (n == 0)
			return;
		if (sr_fs_file_pwrite(m->file, buf, (size_t)n, m->bytes) < 0) {
			m->err = xstrdup(sr_fs_error(m->fs));
			return;
		}
		m->bytes += n;
	}
}

/* The backend reads from the FIFO: the image's bytes go into it. */
static void
memimg_to_fifo(struct sr_memimg *m, char *buf)
{
	for (;;) {
		int64_t n =
		    sr_fs_file_pread(m->file, buf, MEMIMG_CHUNK, m->bytes);
		if (n < 0) {
			m->err = xstrdup(sr_fs_error(m->fs));
			return;
		}
		if (n == 0)
			break;
		for (int64_t off = 0; off < n;) {
			if (memimg_wait(m, POLLOUT) != 0)
				return; /* the backend is done with it */
			ssize_t w =
			    write(m->fifo, buf + off, (size_t)(n - off));
			if (w < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (w < 0) {
				m->err =
				    xasprintf("write: %s", strerror(errno));
				return;
			}
			off += w;
		}
		m->bytes += n;
	}
	/* a FIFO's bytes live while one of its ends is open: ours stays
	 * until the reader took them all (then it reads the end) */
	for (;;) {
		int q = 0;
		struct pollfd p = {m->wake[0], POLLIN, 0};
		if (ioctl(m->fifo, FIONREAD, &q) < 0 || q == 0 ||
		    poll(&p, 1, 10) != 0)
			return;
	}
}

static void *
memimg_pump(void *arg)
{
	struct sr_memimg *m = arg;
	char *buf = xmalloc(MEMIMG_CHUNK);
	if (m->write)
		memimg_from_fifo(m, buf);
	else
		memimg_to_fifo(m, buf);
	free(buf);
	/* the FIFO closes here: a writer still at it gets EPIPE, a reader EOF
	 */
	close(m->fifo);
	m->fifo = -1;
	if (sr_fs_file_close(m->file) < 0 && !m->err)
		m->err = xstrdup(sr_fs_error(m->fs));
	m->file = NULL;
	return NULL;
}

const char *
sr_memimg_path(const struct sr_memimg *m)
{
	return m->path;
}

void
sr_memimg_cleanup(void)
{
	DIR *d = opendir(MEMIMG_TMP);
	struct dirent *e;
	if (!d)
		return;
	while ((e = readdir(d))) {
		if (!sr_run_tag_stale(e->d_name, MEMIMG_PREFIX))
			continue;
		char *dir = xasprintf(MEMIMG_TMP "/%s", e->d_name);
		char *img = xasprintf("%s/image", dir);
		if ((unlink(img) < 0 && errno != ENOENT) || rmdir(dir) < 0)
			log_warn("sr", "cannot remove %s left by a crash: %s",
			         dir, strerror(errno));
		else
			log_info("sr", "removed %s left by a crash", dir);
		free(img);
		free(dir);
	}
	closedir(d);
}

static void
memimg_free(struct sr_memimg *m)
{
	if (m->dir) {
		unlink(m->path);
		rmdir(m->dir);
	}
	if (m->fifo >= 0)
		close(m->fifo);
	if (m->wake[0] >= 0) {
		close(m->wake[0]);
		close(m->wake[1]);
	}
	sr_fs_file_close(m->file);
	sr_fs_close(m->fs);
	free(m->dir);
	free(m->path);
	free(m->err);
	free(m);
}

/* The FIFO and the pump for an image on NFS. */
static struct api_err *
memimg_remote(struct sr_memimg *m, struct sr_call *c, const char *name)
{
	struct api_err *err = NULL;
	/* named after this run, so that the next finds what a crash left */
	char tmpl[128];
	snprintf(tmpl, sizeof(tmpl), "%s/" MEMIMG_PREFIX "%s.XXXXXX",
	         MEMIMG_TMP, sr_run_tag());
	if (!(m->fs = srf_open(&c->ctx, &err)))
		return err;
	if (!(m->file = sr_fs_file_open(m->fs, name, m->write)))
		return sr_backend_error(1, "memory image", sr_fs_error(m->fs));
	if (!mkdtemp(tmpl) || !(m->dir = xstrdup(tmpl)) ||
	    mkfifo(m->path = xasprintf("%s/image", tmpl), 0600) < 0 ||
	    (m->fifo = open(m->path, (m->write ? O_RDONLY : O_RDWR) |
	                                 O_NONBLOCK | O_CLOEXEC)) < 0 ||
	    pipe2(m->wake, O_CLOEXEC) < 0) {
		char *msg = xasprintf("memory image FIFO: %s", strerror(errno));
		err = sr_backend_error(1, msg, NULL);
		free(msg);
		return err;
	}
	if (pthread_create(&m->th, NULL, memimg_pump, m) != 0) {
		close(m->wake[0]);
		close(m->wake[1]);
		m->wake[0] = m->wake[1] = -1;
		return sr_backend_error(1, "memory image: no thread", NULL);
	}
	return NULL;
}

struct api_err *
sr_memimg_open(const char *vdi_ref, bool write, struct sr_memimg **out)
{
	struct api_err *err = NULL;
	char *sr_ref = NULL, *location = NULL;
	struct sr_call c;
	*out = NULL;
	db_rdlock();
	const struct db_row *v = db_get(DMC_VDI, vdi_ref);
	if (!v) {
		err = api_error(XE_HANDLE_INVALID, "VDI", vdi_ref, NULL);
	} else {
		sr_ref = xstrdup(v->f[DMF_VDI_SR].s);
		location = xstrdup(v->f[DMF_VDI_location].s);
	}
	db_unlock();
	if (err || (err = sr_call_prepare(sr_ref, &c))) {
		free(sr_ref);
		free(location);
		return err;
	}
	struct sr_memimg *m = xcalloc(1, sizeof(*m));
	m->fifo = m->wake[0] = m->wake[1] = -1;
	m->write = write;
	if (!c.ctx.server) {
		const char *fmt;
		m->path = c.drv->vdi_path(&c.ctx, location, &fmt);
	} else if (strchr(location, '/') || location[0] == '.') {
		err = api_error(XE_SR_OPERATION_NOT_SUPPORTED, sr_ref, NULL);
	} else {
		err = memimg_remote(m, &c, location);
	}
	sr_call_clear(&c);
	free(sr_ref);
	free(location);
	if (err) {
		memimg_free(m);
		return err;
	}
	*out = m;
	return NULL;
}

/* Test fault point: XAPID_FIST names it (memimg.sync: the image's final
 * sync to the SR fails), as xha's FIST points. */
static bool
memimg_fist(const char *point)
{
	const char *f = getenv("XAPID_FIST");
	return f && strstr(f, point) != NULL;
}

/* Ends the pump: 'f' (all written, drain and sync) or 's' (abandon). */
static void
memimg_join(struct sr_memimg *m, char c)
{
	if (write(m->wake[1], &c, 1) != 1)
		log_warn("sr", "memory image: cannot wake the pump: %s",
		         strerror(errno));
	pthread_join(m->th, NULL);
	m->joined = true;
	if (c == 'f' && !m->err && memimg_fist("memimg.sync"))
		m->err = xstrdup("sync: fault injected (XAPID_FIST)");
}

struct api_err *
sr_memimg_commit(struct sr_memimg *m)
{
	struct api_err *err = NULL;
	if (!m || !m->write || !m->dir || m->wake[1] < 0 || m->joined)
		return NULL;
	memimg_join(m, 'f');
	if (m->err) {
		char *msg = xasprintf("memory image: %s", m->err);
		err = sr_backend_error(1, msg, NULL);
		free(msg);
	}
	return err;
}

struct api_err *
sr_memimg_close(struct sr_memimg *m, bool ok)
{
	struct api_err *err = NULL;
	if (!m)
		return NULL;
	if (m->dir && m->wake[1] >= 0) {
		if (!m->joined)
			memimg_join(m, ok && m->write ? 'f' : 's');
		if (ok && m->write && m->err) {
			char *msg = xasprintf("memory image: %s", m->err);
			err = sr_backend_error(1, msg, NULL);
			free(msg);
		} else if (ok && m->write) {
			log_info("sr",
			         "memory image: %lld bytes written to the SR",
			         (long long)m->bytes);
		} else if (m->err && ok) {
			log_warn("sr", "memory image: %s", m->err);
		}
	}
	memimg_free(m);
	return err;
}
