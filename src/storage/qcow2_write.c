/* qcow2_write: a one-pass writer of fresh qcow2 images (see the header).
 * Layout: cluster 0 header, then the L1 table, then data clusters and L2
 * tables as they come, then the refcount table and blocks. */
#include "storage/qcow2_write.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/xalloc.h"

#define QW_L2_ENTRIES (QCOW2W_CLUSTER / 8)
#define QW_REFS_PER_BLOCK (QCOW2W_CLUSTER / 2)
#define QW_COPIED (1ULL << 63)
/* appended data is gathered into writes of this size (O_DIRECT where the
 * file system takes it: no copy into the page cache, whose fresh pages cost
 * more than the disk's writes; the import's result is read with
 * cache=none) */
#define QW_BATCH (64 * QCOW2W_CLUSTER)
#define QW_ALIGN 4096
/* Batches are written by writer threads while the next ones fill: this
 * many buffers, this many threads (the disk gets a queue, the upload keeps
 * flowing while it writes). */
#define QW_NBUF 4
#define QW_NWRITERS 2
/* L2 tables kept in memory (4 MiB); others are written out and read back
 * when needed again, so a 2 TiB image does not hold 256 MiB of tables */
#define QW_L2_CACHE 64

struct qcow2w {
	int fd;
	int dfd;     /* the same file opened O_DIRECT for the data, or -1 */
	bool direct; /* data goes through dfd */
	char *path;
	int64_t vsize;
	int64_t clusters; /* virtual clusters */
	uint32_t l1_size;
	uint8_t **l2;     /* per L1 entry: the table (big-endian) if cached */
	uint64_t *l2_off; /* per L1 entry: where the table is, 0: none yet */
	uint32_t cached, evict;
	uint8_t *done; /* a bit per virtual cluster: written */
	int64_t next;  /* the next free byte of the file */
	uint8_t *pend; /* appended data not yet written (one of buf) */
	int64_t pend_off;
	size_t pend_len;
	/* the writers: buffers queued (q) or free, and the first error */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t writers[QW_NWRITERS];
	int nwriters;
	uint8_t *buf[QW_NBUF];
	bool busy[QW_NBUF];     /* queued or being written */
	bool queued[QW_NBUF];   /* waiting for a writer */
	int64_t q_off[QW_NBUF]; /* where, and how much */
	size_t q_len[QW_NBUF];
	int inflight; /* busy buffers */
	int werr;     /* errno of the first failed write, 0 */
	bool stop;
};

static void
qw_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static void
qw_be32(uint8_t *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static int
qw_pwrite(int fd, const void *p, size_t len, int64_t off)
{
	const char *c = p;
	while (len) {
		ssize_t n = pwrite(fd, c, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		c += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* One batch to the file: O_DIRECT unless the file system refuses it. */
static int
qw_write_batch(struct qcow2w *w, const uint8_t *p, size_t len, int64_t off)
{
	if (__atomic_load_n(&w->direct, __ATOMIC_RELAXED)) {
		if (qw_pwrite(w->dfd, p, len, off) == 0)
			return 0;
		if (errno != EINVAL)
			return -1;
		/* no direct I/O after all */
		__atomic_store_n(&w->direct, false, __ATOMIC_RELAXED);
	}
	return qw_pwrite(w->fd, p, len, off);
}

static void *
qw_writer(void *arg)
{
	struct qcow2w *w = arg;
	pthread_mutex_lock(&w->lock);
	for (;;) {
		int i;
		for (i = 0; i < QW_NBUF && !w->queued[i]; i++)
			;
		if (i == QW_NBUF) {
			if (w->stop)
				break;
			pthread_cond_wait(&w->cond, &w->lock);
			continue;
		}
		w->queued[i] = false;
		bool skip = w->werr != 0; /* failed already: nothing more */
		pthread_mutex_unlock(&w->lock);
		int rc = skip ? 0
		              : qw_write_batch(w, w->buf[i], w->q_len[i],
		                               w->q_off[i]);
		int e = errno;
		pthread_mutex_lock(&w->lock);
		if (rc < 0 && !w->werr)
			w->werr = e ? e : EIO;
		w->busy[i] = false;
		w->inflight--;
		pthread_cond_broadcast(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Waits for every queued batch; -1 with errno if one failed. */
static int
qw_drain(struct qcow2w *w)
{
	pthread_mutex_lock(&w->lock);
	while (w->inflight)
		pthread_cond_wait(&w->cond, &w->lock);
	int e = w->werr;
	pthread_mutex_unlock(&w->lock);
	errno = e;
	return e ? -1 : 0;
}

/* Hands the gathered batch to the writers and takes a free buffer. */
static int
qw_flush(struct qcow2w *w)
{
	if (!w->pend_len)
		return 0;
	if (!w->nwriters) { /* no threads: written here */
		int rc = qw_write_batch(w, w->pend, w->pend_len, w->pend_off);
		w->pend_len = 0;
		return rc;
	}
	pthread_mutex_lock(&w->lock);
	int i, e;
	for (i = 0; w->buf[i] != w->pend; i++)
		;
	w->busy[i] = w->queued[i] = true;
	w->q_off[i] = w->pend_off;
	w->q_len[i] = w->pend_len;
	w->inflight++;
	pthread_cond_broadcast(&w->cond);
	for (;;) {
		for (i = 0; i < QW_NBUF && w->busy[i]; i++)
			;
		if (i < QW_NBUF || w->werr)
			break;
		pthread_cond_wait(&w->cond, &w->lock);
	}
	e = w->werr;
	if (i < QW_NBUF)
		w->pend = w->buf[i];
	pthread_mutex_unlock(&w->lock);
	w->pend_len = 0;
	errno = e;
	return e ? -1 : 0;
}

/* Stops and joins the writers (after a drain). */
static void
qw_stop(struct qcow2w *w)
{
	if (!w->nwriters)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	for (int i = 0; i < w->nwriters; i++)
		pthread_join(w->writers[i], NULL);
	w->nwriters = 0;
}

bool
qcow2w_is_zero(const void *p, size_t len)
{
	const unsigned char *c = p;
	/* 16 bytes at a time, then the rest compared against the start */
	while (len && ((uintptr_t)c & 15)) {
		if (*c++)
			return false;
		len--;
	}
	if (len < 16)
		return len == 0 ||
		       (c[0] == 0 && memcmp(c, c + 1, len - 1) == 0);
	const uint64_t *q = (const uint64_t *)(const void *)c;
	if (q[0] | q[1])
		return false;
	return memcmp(c, c + 16, len - 16) == 0;
}

struct qcow2w *
qcow2w_create(const char *path, int64_t vsize)
{
	if (vsize < 0) {
		errno = EINVAL;
		return NULL;
	}
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return NULL;
	struct qcow2w *w = xcalloc(1, sizeof(*w));
	w->fd = fd;
	w->path = xstrdup(path);
	w->vsize = vsize;
	w->clusters = (vsize + QCOW2W_CLUSTER - 1) / QCOW2W_CLUSTER;
	w->l1_size =
	    (uint32_t)((w->clusters + QW_L2_ENTRIES - 1) / QW_L2_ENTRIES);
	if (w->l1_size == 0)
		w->l1_size = 1;
	w->l2 = xcalloc(w->l1_size, sizeof(*w->l2));
	w->done = xcalloc((size_t)(w->clusters / 8 + 1), 1);
	w->l2_off = xcalloc(w->l1_size, sizeof(*w->l2_off));
	int64_t l1_clusters =
	    ((int64_t)w->l1_size * 8 + QCOW2W_CLUSTER - 1) / QCOW2W_CLUSTER;
	w->next = (1 + l1_clusters) * QCOW2W_CLUSTER;
	w->dfd = open(path, O_WRONLY | O_DIRECT | O_CLOEXEC);
	w->direct = w->dfd >= 0;
	for (int i = 0; i < QW_NBUF; i++) {
		void *b = NULL;
		if (posix_memalign(&b, QW_ALIGN, QW_BATCH) != 0)
			abort();
		w->buf[i] = b;
	}
	w->pend = w->buf[0];
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	while (w->nwriters < QW_NWRITERS &&
	       pthread_create(&w->writers[w->nwriters], NULL, qw_writer, w) ==
	           0)
		w->nwriters++;
	return w;
}

bool
qcow2w_written(const struct qcow2w *w, int64_t idx)
{
	if (idx < 0 || idx >= w->clusters)
		return false;
	return w->done[idx / 8] & (1u << (idx % 8));
}

/* Writes out one cached table (not keep) to make room. */
static int
qw_evict(struct qcow2w *w, uint32_t keep)
{
	for (uint32_t n = 0; n < w->l1_size; n++) {
		uint32_t i = (w->evict + n) % w->l1_size;
		if (!w->l2[i] || i == keep)
			continue;
		w->evict = i + 1;
		int rc = qw_pwrite(w->fd, w->l2[i], QCOW2W_CLUSTER,
		                   (int64_t)w->l2_off[i]);
		free(w->l2[i]);
		w->l2[i] = NULL;
		w->cached--;
		return rc;
	}
	return 0;
}

/* The L2 table of L1 entry l1 in memory: made, or read back. */
static uint8_t *
qw_table(struct qcow2w *w, uint32_t l1)
{
	if (w->l2[l1])
		return w->l2[l1];
	if (w->cached >= QW_L2_CACHE && qw_evict(w, l1) < 0)
		return NULL;
	uint8_t *t = xcalloc(1, QCOW2W_CLUSTER);
	if (!w->l2_off[l1]) {
		w->l2_off[l1] = (uint64_t)w->next;
		w->next +=
		    QCOW2W_CLUSTER; /* written when evicted or at the end */
	} else {
		ssize_t n =
		    pread(w->fd, t, QCOW2W_CLUSTER, (int64_t)w->l2_off[l1]);
		if (n != QCOW2W_CLUSTER) {
			if (n >= 0)
				errno = EIO;
			free(t);
			return NULL;
		}
	}
	w->cached++;
	return w->l2[l1] = t;
}

int
qcow2w_write(struct qcow2w *w, int64_t idx, const void *data)
{
	if (idx < 0 || idx >= w->clusters || qcow2w_written(w, idx)) {
		errno = EINVAL;
		return -1;
	}
	uint32_t l1 = (uint32_t)(idx / QW_L2_ENTRIES);
	uint8_t *t = qw_table(w, l1);
	if (!t)
		return -1;
	if (w->pend_len &&
	    (w->pend_off + (int64_t)w->pend_len != w->next ||
	     w->pend_len == QW_BATCH) &&
	    qw_flush(w) < 0)
		return -1;
	if (!w->pend_len)
		w->pend_off = w->next;
	memcpy(w->pend + w->pend_len, data, QCOW2W_CLUSTER);
	w->pend_len += QCOW2W_CLUSTER;
	qw_be64(t + 8 * (idx % QW_L2_ENTRIES), (uint64_t)w->next | QW_COPIED);
	w->done[idx / 8] |= (uint8_t)(1u << (idx % 8));
	w->next += QCOW2W_CLUSTER;
	return 0;
}

/* The refcount table and blocks at the end (every cluster used once), the
 * L2 tables, the L1 table, then the header. */
static int
qw_metadata(struct qcow2w *w)
{
	int64_t used = w->next / QCOW2W_CLUSTER, blocks = 0, tclusters = 0,
	        total;
	for (;;) {
		total = used + blocks + tclusters;
		int64_t b = (total + QW_REFS_PER_BLOCK - 1) / QW_REFS_PER_BLOCK;
		int64_t t = (b * 8 + QCOW2W_CLUSTER - 1) / QCOW2W_CLUSTER;
		if (b == blocks && t == tclusters)
			break;
		blocks = b;
		tclusters = t;
	}
	int64_t table_off = w->next,
	        block0 = table_off + tclusters * QCOW2W_CLUSTER;
	uint8_t *c = xcalloc(1, QCOW2W_CLUSTER);
	int rc = 0;
	for (int64_t b = 0; !rc && b < blocks; b++) {
		memset(c, 0, QCOW2W_CLUSTER);
		for (int64_t i = 0;
		     i < QW_REFS_PER_BLOCK && b * QW_REFS_PER_BLOCK + i < total;
		     i++)
			c[2 * i + 1] = 1;
		rc = qw_pwrite(w->fd, c, QCOW2W_CLUSTER,
		               block0 + b * QCOW2W_CLUSTER);
	}
	uint8_t *table = xcalloc((size_t)tclusters, QCOW2W_CLUSTER);
	for (int64_t b = 0; b < blocks; b++)
		qw_be64(table + 8 * b, (uint64_t)(block0 + b * QCOW2W_CLUSTER));
	if (!rc)
		rc = qw_pwrite(w->fd, table, (size_t)tclusters * QCOW2W_CLUSTER,
		               table_off);
	free(table);
	size_t l1_bytes = (size_t)w->l1_size * 8;
	uint8_t *l1 = xcalloc(1, l1_bytes);
	for (uint32_t i = 0; !rc && i < w->l1_size; i++) {
		if (!w->l2_off[i])
			continue;
		qw_be64(l1 + 8 * (size_t)i, w->l2_off[i] | QW_COPIED);
		if (w->l2[i])
			rc = qw_pwrite(w->fd, w->l2[i], QCOW2W_CLUSTER,
			               (int64_t)w->l2_off[i]);
	}
	if (!rc)
		rc = qw_pwrite(w->fd, l1, l1_bytes, QCOW2W_CLUSTER);
	free(l1);
	memset(c, 0, QCOW2W_CLUSTER);
	qw_be32(c, 0x514649fb);
	qw_be32(c + 4, 3);
	qw_be32(c + 20, 16); /* cluster_bits */
	qw_be64(c + 24, (uint64_t)w->vsize);
	qw_be32(c + 36, w->l1_size);
	qw_be64(c + 40, QCOW2W_CLUSTER);
	qw_be64(c + 48, (uint64_t)table_off);
	qw_be32(c + 56, (uint32_t)tclusters);
	qw_be32(c + 96, 4);    /* refcount_order: 16 bits */
	qw_be32(c + 100, 104); /* header_length; the extension list is empty */
	if (!rc && fdatasync(w->fd) < 0)
		rc = -1;
	if (!rc)
		rc = qw_pwrite(w->fd, c, QCOW2W_CLUSTER, 0);
	free(c);
	return rc;
}

static void
qw_free(struct qcow2w *w)
{
	for (uint32_t i = 0; i < w->l1_size; i++)
		free(w->l2[i]);
	free(w->l2);
	free(w->l2_off);
	free(w->done);
	for (int i = 0; i < QW_NBUF; i++)
		free(w->buf[i]);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w->path);
	free(w);
}

int
qcow2w_finish(struct qcow2w *w)
{
	int rc = qw_flush(w);
	if (qw_drain(w) < 0)
		rc = -1;
	qw_stop(w);
	if (w->dfd >= 0 && close(w->dfd) < 0)
		rc = -1;
	w->dfd = -1;
	if (!rc)
		rc = qw_metadata(w);
	if (!rc && fsync(w->fd) < 0)
		rc = -1;
	int e = errno;
	if (close(w->fd) < 0 && !rc) {
		rc = -1;
		e = errno;
	}
	if (rc)
		unlink(w->path);
	qw_free(w);
	errno = e;
	return rc;
}

void
qcow2w_abort(struct qcow2w *w)
{
	if (!w)
		return;
	qw_drain(w);
	qw_stop(w);
	if (w->dfd >= 0)
		close(w->dfd);
	close(w->fd);
	unlink(w->path);
	qw_free(w);
}
