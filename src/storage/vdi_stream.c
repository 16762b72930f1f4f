/* vdi_stream: a VDI's contents as extents of its chain's files (see the
 * header). The map is qemu-img's; the reads are ours (pread). */
#include "storage/vdi_stream.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db/store.h"
#include "storage/nbd.h"
#include "storage/sr.h"
#include "util/log.h"
#include "util/spawn.h"
#include "util/xalloc.h"

/* One entry of `qemu-img map --output=json`. */
struct vs_map {
	int64_t start, length;
	int depth;
	bool present, data;
	int64_t offset; /* -1: none given (compressed, or not data) */
};

/* What `qemu-img info --backing-chain` says of a chain. */
struct vs_chain {
	size_t n;
	char **names;  /* filename per depth, top first */
	bool readable; /* every layer's data can be read in place */
	int64_t size;  /* the top's virtual size */
};

static void
vs_chain_clear(struct vs_chain *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->names[i]);
	free(c->names);
	memset(c, 0, sizeof(*c));
}

static bool
vs_json_int(json_t *o, const char *key, int64_t *v)
{
	json_t *j = json_object_get(o, key);
	if (!json_is_integer(j))
		return false;
	*v = json_integer_value(j);
	return true;
}

static bool
vs_parse_chain(const char *text, struct vs_chain *c, const char **why)
{
	json_t *j = json_loads(text, 0, NULL);
	memset(c, 0, sizeof(*c));
	if (!json_is_array(j) || json_array_size(j) == 0 ||
	    json_array_size(j) > 4096) {
		*why = "qemu-img info: not a chain";
		json_decref(j);
		return false;
	}
	c->readable = true;
	c->n = json_array_size(j);
	c->names = xcalloc(c->n, sizeof(char *));
	for (size_t i = 0; i < c->n; i++) {
		json_t *l = json_array_get(j, i);
		const char *name =
		    json_string_value(json_object_get(l, "filename"));
		const char *fmt =
		    json_string_value(json_object_get(l, "format"));
		if (!name || !fmt ||
		    (i == 0 && !vs_json_int(l, "virtual-size", &c->size)) ||
		    c->size < 0) {
			*why = "qemu-img info: a layer without filename, "
			       "format or size";
			json_decref(j);
			vs_chain_clear(c);
			return false;
		}
		c->names[i] = xstrdup(name);
		if ((strcmp(fmt, "qcow2") != 0 && strcmp(fmt, "raw") != 0) ||
		    json_is_true(json_object_get(l, "encrypted")))
			c->readable = false;
	}
	json_decref(j);
	return true;
}

static bool
vs_parse_map(const char *text, int64_t size, size_t depths, struct vs_map **out,
             size_t *n, const char **why)
{
	json_t *j = json_loads(text, 0, NULL);
	int64_t at = 0;
	*out = NULL;
	*n = 0;
	if (!json_is_array(j)) {
		*why = "qemu-img map: not a list";
		json_decref(j);
		return false;
	}
	*out = xcalloc(json_array_size(j) + 1, sizeof(**out));
	for (size_t i = 0; i < json_array_size(j); i++) {
		json_t *e = json_array_get(j, i);
		struct vs_map *m = &(*out)[*n];
		int64_t depth;
		if (!vs_json_int(e, "start", &m->start) ||
		    !vs_json_int(e, "length", &m->length) ||
		    !vs_json_int(e, "depth", &depth) || m->start != at ||
		    m->length <= 0 || m->length > size - at || depth < 0 ||
		    (size_t)depth >= depths) {
			*why = "qemu-img map: extents out of order or out of "
			       "range";
			json_decref(j);
			free(*out);
			*out = NULL;
			return false;
		}
		m->depth = (int)depth;
		json_t *p = json_object_get(e, "present");
		m->present = p ? json_is_true(p) : true;
		m->data = json_is_true(json_object_get(e, "data"));
		if (!vs_json_int(e, "offset", &m->offset) || m->offset < 0 ||
		    !m->data)
			m->offset = -1;
		at += m->length;
		(*n)++;
	}
	json_decref(j);
	if (at != size) {
		*why = "qemu-img map: does not cover the image";
		free(*out);
		*out = NULL;
		return false;
	}
	return true;
}

/* The depth of the first layer of a that b's chain also has (a->n: none);
 * *bdepth is its depth in b (b->n: none). */
static size_t
vs_common(const struct vs_chain *a, const struct vs_chain *b, size_t *bdepth)
{
	for (size_t i = 0; i < a->n; i++)
		for (size_t k = 0; k < b->n; k++)
			if (strcmp(a->names[i], b->names[k]) == 0) {
				*bdepth = k;
				return i;
			}
	*bdepth = b->n;
	return a->n;
}

static void
vs_push(struct vdi_stream *s, size_t *cap, const struct vdi_extent *e)
{
	if (s->n) {
		struct vdi_extent *p = &s->ext[s->n - 1];
		if (p->data == e->data && p->changed == e->changed &&
		    p->file == e->file &&
		    (!e->data || p->offset + p->length == e->offset)) {
			p->length += e->length;
			return;
		}
	}
	if (s->n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		s->ext = xrealloc(s->ext, *cap * sizeof(*s->ext));
	}
	s->ext[s->n++] = *e;
}

/* The stream of map m (chain c) with changes against base map bm (chain
 * bc), or without a base if bm is NULL. fallback: data extents read from
 * file index c->n at their virtual offset. */
static struct vdi_stream *
vs_build(const struct vs_chain *c, const struct vs_map *m, size_t mn,
         const struct vs_chain *bc, const struct vs_map *bm, size_t bmn,
         bool fallback)
{
	struct vdi_stream *s = xcalloc(1, sizeof(*s));
	size_t cap = 0, bi = 0, tdc = c->n, bdc = 0;
	s->size = c->size;
	s->has_base = bm != NULL;
	if (bm)
		tdc = vs_common(c, bc, &bdc);
	for (size_t i = 0; i < mn; i++) {
		int64_t at = m[i].start, end = m[i].start + m[i].length;
		bool mine = m[i].present && (size_t)m[i].depth < tdc;
		while (at < end) {
			struct vdi_extent e = {
			    .start = at, .length = end - at, .file = -1};
			e.changed = !bm || mine;
			if (bm) {
				while (bi < bmn &&
				       bm[bi].start + bm[bi].length <= at)
					bi++;
				if (bi == bmn) {
					e.changed =
					    true; /* past the base's end */
				} else {
					int64_t bend =
					    bm[bi].start + bm[bi].length;
					if (bend < end)
						e.length = bend - at;
					if (bm[bi].present &&
					    (size_t)bm[bi].depth < bdc)
						e.changed = true;
				}
			}
			e.data = m[i].data;
			if (e.data) {
				e.file = fallback ? -1 : m[i].depth;
				e.offset =
				    fallback ? at
				             : m[i].offset + (at - m[i].start);
			}
			vs_push(s, &cap, &e);
			at += e.length;
		}
	}
	s->nfiles = c->n;
	s->fds = xmalloc((s->nfiles + 1) * sizeof(int));
	for (size_t i = 0; i < s->nfiles; i++)
		s->fds[i] = -1;
	return s;
}

static bool
vs_needs_fallback(const struct vs_chain *c, const struct vs_map *m, size_t mn)
{
	if (!c->readable)
		return true;
	for (size_t i = 0; i < mn; i++)
		if (m[i].data && m[i].offset < 0)
			return true;
	return false;
}

struct vdi_stream *
vdi_stream_from_json(const char *chain_json, const char *map_json,
                     const char *base_chain_json, const char *base_map_json,
                     const char **why)
{
	struct vs_chain c, bc = {0};
	struct vs_map *m = NULL, *bm = NULL;
	size_t mn = 0, bmn = 0;
	struct vdi_stream *s = NULL;
	bool base = base_chain_json && base_map_json;
	if (!vs_parse_chain(chain_json, &c, why))
		return NULL;
	if (vs_parse_map(map_json, c.size, c.n, &m, &mn, why) &&
	    (!base ||
	     (vs_parse_chain(base_chain_json, &bc, why) &&
	      vs_parse_map(base_map_json, bc.size, bc.n, &bm, &bmn, why))))
		s = vs_build(&c, m, mn, &bc, base ? bm : NULL, bmn,
		             vs_needs_fallback(&c, m, mn));
	free(m);
	free(bm);
	vs_chain_clear(&c);
	vs_chain_clear(&bc);
	return s;
}

/* ---- from image files ---- */

static struct api_err *
vs_qemu_img(char *const argv[], struct buf *out)
{
	struct buf e = BUF_INIT;
	int rc = spawn_run(argv, out, &e, 3600);
	struct api_err *err = NULL;
	if (rc != 0) {
		char *msg = e.data ? e.data : (char *)"qemu-img failed";
		size_t n = strlen(msg);
		while (n && msg[n - 1] == '\n')
			msg[--n] = '\0';
		err = api_error(XE_SR_BACKEND_FAILURE, "1", "", msg, NULL);
	}
	buf_free(&e);
	return err;
}

/* One qemu-img run on a helper thread (the two probes of an image run at
 * once: each costs a process start that dominates small exports). */
struct vs_job {
	char *const *argv;
	struct buf out;
	struct api_err *err;
};

static void *
vs_job_run(void *arg)
{
	struct vs_job *j = arg;
	j->err = vs_qemu_img(j->argv, &j->out);
	return NULL;
}

/* Chain and map of one image; chain names made canonical. */
static struct api_err *
vs_probe(const char *path, const char *fmt, struct vs_chain *c,
         struct vs_map **m, size_t *mn)
{
	struct buf info = BUF_INIT, map = BUF_INIT;
	const char *why = NULL;
	char *ai[] = {"qemu-img",      "info", "--backing-chain",
	              "--output=json", "-f",   (char *)fmt,
	              (char *)path,    NULL};
	char *am[] = {"qemu-img",   "map", "--output=json", "-f", (char *)fmt,
	              (char *)path, NULL};
	struct vs_job mj = {am, BUF_INIT, NULL};
	pthread_t th;
	bool threaded = pthread_create(&th, NULL, vs_job_run, &mj) == 0;
	struct api_err *err = vs_qemu_img(ai, &info);
	if (threaded)
		pthread_join(th, NULL);
	else
		vs_job_run(&mj);
	map = mj.out;
	if (!err)
		err = mj.err;
	else
		api_err_free(mj.err);
	if (!err && (!vs_parse_chain(info.data ? info.data : "", c, &why) ||
	             !vs_parse_map(map.data ? map.data : "", c->size, c->n, m,
	                           mn, &why))) {
		err = api_error(XE_SR_BACKEND_FAILURE, "1", "", why, NULL);
		vs_chain_clear(c);
	}
	for (size_t i = 0; !err && i < c->n; i++) {
		char real[PATH_MAX];
		if (realpath(c->names[i], real)) {
			free(c->names[i]);
			c->names[i] = xstrdup(real);
		}
	}
	buf_free(&info);
	buf_free(&map);
	return err;
}

/* The fallback reader: qemu-nbd serving the image read-only (one request
 * at a time on its connection). */
struct vs_nbd {
	struct nbd *n;
	pthread_mutex_t lock;
};

static bool
vs_remote(const char *path)
{
	return strstr(path, "://") != NULL;
}

static int
vs_nbd_read(struct vs_nbd *v, char *buf, size_t len, int64_t off)
{
	int e = 0;
	pthread_mutex_lock(&v->lock);
	for (size_t done = 0; done < len && !e;) {
		size_t n = len - done < NBD_MAX_REQ ? len - done : NBD_MAX_REQ;
		e = nbd_pread(v->n, buf + done, n,
		              (uint64_t)(off + (int64_t)done));
		done += n;
	}
	pthread_mutex_unlock(&v->lock);
	errno = e;
	return e ? -1 : 0;
}

struct api_err *
vdi_stream_open_path(const char *path, const char *fmt, const char *base_path,
                     const char *base_fmt, struct vdi_stream **out)
{
	struct vs_chain c = {0}, bc = {0};
	struct vs_map *m = NULL, *bm = NULL;
	size_t mn = 0, bmn = 0;
	struct api_err *err = NULL;
	struct vdi_stream *s = NULL;

	*out = NULL;
	/* the files are opened under the chain lock: no base vanishes between
	 * the map and the open */
	sr_chain_hold(true);
	err = vs_probe(path, fmt, &c, &m, &mn);
	if (!err && base_path)
		err = vs_probe(base_path, base_fmt, &bc, &bm, &bmn);
	if (!err) {
		bool fallback = vs_remote(path) || vs_needs_fallback(&c, m, mn);
		s = vs_build(&c, m, mn, &bc, base_path ? bm : NULL, bmn,
		             fallback);
		for (size_t i = 0; !err && !fallback && i < c.n; i++)
			if ((s->fds[i] =
			         open(c.names[i], O_RDONLY | O_CLOEXEC)) < 0)
				err = api_error(XE_SR_BACKEND_FAILURE, "1", "",
				                strerror(errno), NULL);
	}
	sr_chain_hold(false);
	/* qemu-nbd is started outside the lock (the files it opens stay what
	 * they are: bases are unlinked, not rewritten) */
	bool nbd_needed = false;
	for (size_t i = 0; !err && s && i < s->n && !nbd_needed; i++)
		nbd_needed = s->ext[i].data && s->ext[i].file < 0;
	if (nbd_needed) {
		char *why = NULL;
		struct nbd *n = nbd_open(path, fmt, true, &why);
		if (!n) {
			err = api_error(XE_SR_BACKEND_FAILURE, "1", "",
			                why ? why : "qemu-nbd failed", NULL);
		} else {
			s->nbd = xcalloc(1, sizeof(*s->nbd));
			s->nbd->n = n;
			pthread_mutex_init(&s->nbd->lock, NULL);
			log_info("sr", "%s: read through qemu-nbd", path);
		}
		free(why);
	}
	free(m);
	free(bm);
	vs_chain_clear(&c);
	vs_chain_clear(&bc);
	if (err)
		vdi_stream_free(s);
	else
		*out = s;
	return err;
}

/* The path and format of a VDI for reading, refusing one a VM writes to. */
static struct api_err *
vs_vdi(const char *ref, const char *op, char **path, const char **fmt)
{
	struct api_err *err = NULL;
	struct db_row *vdi = db_get(DMC_VDI, ref);
	if (!vdi)
		err = api_error(XE_HANDLE_INVALID, "VDI", ref, NULL);
	else if (sr_vdi_written(vdi))
		err = api_error(XE_VDI_IN_USE, ref, op, NULL);
	else
		*path = sr_vdi_path(ref, fmt, &err);
	return err;
}

struct api_err *
vdi_stream_open(const char *vdi_ref, const char *base_ref, const char *op,
                struct vdi_stream **out)
{
	char *path = NULL, *bpath = NULL;
	const char *fmt = NULL, *bfmt = NULL;
	bool base = base_ref && *base_ref;
	db_rdlock();
	struct api_err *err = vs_vdi(vdi_ref, op, &path, &fmt);
	if (!err && base)
		err = vs_vdi(base_ref, op, &bpath, &bfmt);
	db_unlock();
	*out = NULL;
	if (!err)
		err = vdi_stream_open_path(path, fmt, bpath, bfmt, out);
	free(path);
	free(bpath);
	return err;
}

size_t
vdi_stream_find(const struct vdi_stream *s, int64_t off)
{
	size_t lo = 0, hi = s->n;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->ext[mid].start <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

int
vdi_stream_pread(const struct vdi_stream *s, void *buf, size_t len, int64_t off)
{
	char *p = buf;
	size_t i = s->n ? vdi_stream_find(s, off < 0 ? 0 : off) : 0;
	while (len) {
		if (off >= s->size || i >= s->n) {
			memset(p, 0, len);
			return 0;
		}
		const struct vdi_extent *e = &s->ext[i];
		int64_t in = off - e->start, left = e->length - in;
		size_t n = (int64_t)len < left ? len : (size_t)left;
		if (e->data && e->file < 0 && s->nbd) {
			if (vs_nbd_read(s->nbd, p, n, off) < 0)
				return -1;
		} else if (!e->data || e->file < 0 ||
		           (size_t)e->file >= s->nfiles) {
			memset(p, 0, n);
		} else {
			size_t done = 0;
			while (done < n) {
				ssize_t r =
				    pread(s->fds[e->file], p + done, n - done,
				          e->offset + in + (int64_t)done);
				if (r < 0 && errno == EINTR)
					continue;
				if (r < 0)
					return -1;
				if (r == 0) { /* a sparse raw file ends early */
					memset(p + done, 0, n - done);
					break;
				}
				done += (size_t)r;
			}
		}
		p += n;
		len -= n;
		off += (int64_t)n;
		i++;
	}
	return 0;
}

int64_t
vdi_stream_data_bytes(const struct vdi_stream *s)
{
	int64_t t = 0;
	for (size_t i = 0; i < s->n; i++)
		if (s->ext[i].data && s->ext[i].changed)
			t += s->ext[i].length;
	return t;
}

void
vdi_stream_free(struct vdi_stream *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nfiles; i++)
		if (s->fds[i] >= 0)
			close(s->fds[i]);
	if (s->nbd) {
		nbd_close(s->nbd->n);
		pthread_mutex_destroy(&s->nbd->lock);
		free(s->nbd);
	}
	free(s->fds);
	free(s->ext);
	free(s);
}
