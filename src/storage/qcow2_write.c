/* qcow2_write: a one-pass writer of fresh qcow2 images (see the header).
 * Layout: cluster 0 header, then the L1 table, then data clusters and L2
 * tables as they come, then the refcount table and blocks. */
#include "storage/qcow2_write.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/xalloc.h"

#define QW_L2_ENTRIES (QCOW2W_CLUSTER / 8)
#define QW_REFS_PER_BLOCK (QCOW2W_CLUSTER / 2)
#define QW_COPIED (1ULL << 63)
/* appended data is gathered into writes of this size */
#define QW_BATCH (16 * QCOW2W_CLUSTER)
/* L2 tables kept in memory (4 MiB); others are written out and read back
 * when needed again, so a 2 TiB image does not hold 256 MiB of tables */
#define QW_L2_CACHE 64

struct qcow2w {
	int fd;
	char *path;
	int64_t vsize;
	int64_t clusters; /* virtual clusters */
	uint32_t l1_size;
	uint8_t **l2;     /* per L1 entry: the table (big-endian) if cached */
	uint64_t *l2_off; /* per L1 entry: where the table is, 0: none yet */
	uint32_t cached, evict;
	uint8_t *done; /* a bit per virtual cluster: written */
	int64_t next;  /* the next free byte of the file */
	uint8_t *pend; /* appended data not yet written */
	int64_t pend_off;
	size_t pend_len;
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

static int
qw_flush(struct qcow2w *w)
{
	if (!w->pend_len)
		return 0;
	int rc = qw_pwrite(w->fd, w->pend, w->pend_len, w->pend_off);
	w->pend_len = 0;
	return rc;
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
	w->pend = xmalloc(QW_BATCH);
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
	free(w->pend);
	free(w->path);
	free(w);
}

int
qcow2w_finish(struct qcow2w *w)
{
	int rc = qw_flush(w);
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
	close(w->fd);
	unlink(w->path);
	qw_free(w);
}
