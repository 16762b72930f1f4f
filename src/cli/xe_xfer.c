/* xe_xfer: the byte-moving side of xe's transfers (see the header). */
#include "cli/xe_xfer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/xe_conn.h"

/* The memfd hole zeros of an upload are sent from. */
#define XE_XFER_ZEROS (8 << 20)
/* The unit of holes in a downloaded file. */
#define XE_XFER_SPARSE (64 * 1024)
/* Bytes per splice of a download. */
#define XE_XFER_BLOCK (1024 * 1024)

static int64_t
xe_xfer_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
xe_xfer_progress_init(struct xe_xfer_progress *p, long long total)
{
	memset(p, 0, sizeof(*p));
	p->on = isatty(STDERR_FILENO);
	p->total = total;
	p->start = p->last = xe_xfer_now_ms();
}

static void
xe_xfer_progress_draw(struct xe_xfer_progress *p, int final)
{
	double secs = (double)(xe_xfer_now_ms() - p->start) / 1000.0;
	double mib = (double)p->done / (1024.0 * 1024.0);
	double rate = secs > 0 ? mib / secs : 0;
	char bar[31];
	int pct, fill, i;

	if (p->total > 0) {
		pct = (int)(p->done * 100 / p->total);
		if (pct > 100)
			pct = 100;
		fill = pct * 30 / 100;
		for (i = 0; i < 30; i++)
			bar[i] = i < fill ? '#' : ' ';
		bar[30] = '\0';
		fprintf(stderr, "\r[%s] %3d%% %9.1f MiB %7.1f MiB/s", bar, pct,
		        mib, rate);
	} else {
		fprintf(stderr, "\r%9.1f MiB %7.1f MiB/s", mib, rate);
	}
	if (final)
		fputc('\n', stderr);
	fflush(stderr);
}

void
xe_xfer_progress_add(struct xe_xfer_progress *p, size_t n)
{
	int64_t now;

	p->done += (long long)n;
	if (!p->on)
		return;
	now = xe_xfer_now_ms();
	if (now - p->last < 200)
		return;
	p->last = now;
	xe_xfer_progress_draw(p, 0);
}

void
xe_xfer_progress_end(struct xe_xfer_progress *p)
{
	if (p->on)
		xe_xfer_progress_draw(p, 1);
}

/* Writes all of p to fd. */
int
xe_xfer_write_fd(int fd, const char *p, size_t n)
{
	ssize_t r;

	while (n > 0) {
		r = write(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* True if the n bytes at p are all zero (64 bits at a time). */
static int
xe_xfer_zero(const char *p, size_t n)
{
	const uint64_t *w = (const uint64_t *)(const void *)p;
	size_t i, k = n / 8;

	for (i = 0; i + 4 <= k; i += 4)
		if (w[i] | w[i + 1] | w[i + 2] | w[i + 3])
			return 0;
	for (; i < k; i++)
		if (w[i])
			return 0;
	for (i = k * 8; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* Writes n bytes of block to fd, as holes where XE_XFER_SPARSE-sized
 * pieces are all zeros (sparse) or as they are. */
int
xe_xfer_write_block(int fd, const char *block, size_t n, int sparse)
{
	size_t at = 0, run;

	if (!sparse)
		return xe_xfer_write_fd(fd, block, n);
	while (at < n) {
		size_t k = n - at < XE_XFER_SPARSE ? n - at : XE_XFER_SPARSE;
		int zero = xe_xfer_zero(block + at, k);
		for (run = k; at + run < n; run += k) {
			k = n - at - run < XE_XFER_SPARSE ? n - at - run
			                                  : XE_XFER_SPARSE;
			if (xe_xfer_zero(block + at + run, k) != zero)
				break;
		}
		if (zero ? lseek(fd, (off_t)run, SEEK_CUR) < 0
		         : xe_xfer_write_fd(fd, block + at, run) < 0)
			return -1;
		at += run;
	}
	return 0;
}

/*
 * Moves the rest of a plain-socket body of known length (or up to the end
 * of the stream) to fd, which is not a regular file, with splice: the
 * bytes go from the socket to the pipe or device without a copy through
 * memory of ours. Returns 0, -1 (reading, errno) or -2 (writing, errno);
 * 1 if fd cannot take splice (nothing moved then).
 */
int
xe_xfer_splice(struct xe_http_body *b, int fd, struct xe_xfer_progress *prog)
{
	struct xe_conn *c = b->conn;
	int p[2] = {-1, -1}, direct, ret = 0, copy = 0;
	struct stat st;
	ssize_t r, w;

	if (c->tls || b->mode == XE_BODY_CHUNKED || fstat(fd, &st) < 0 ||
	    S_ISREG(st.st_mode))
		return 1;
	direct = S_ISFIFO(st.st_mode);
	if (!direct) {
		if (pipe2(p, O_CLOEXEC) < 0)
			return 1;
		fcntl(p[1], F_SETPIPE_SZ, XE_XFER_BLOCK);
	}
	if (c->rpos < c->rlen) { /* what came with the head */
		size_t k = c->rlen - c->rpos;
		if (b->mode == XE_BODY_LENGTH && (long long)k > b->left)
			k = (size_t)b->left;
		if (xe_xfer_write_fd(fd, (char *)c->rbuf + c->rpos, k) < 0) {
			ret = -2;
			goto out;
		}
		c->rpos += k;
		b->left -= (long long)k;
		xe_xfer_progress_add(prog, k);
	}
	while (b->mode == XE_BODY_CLOSE || b->left > 0) {
		size_t want = XE_XFER_BLOCK;
		if (b->mode == XE_BODY_LENGTH && (long long)want > b->left)
			want = (size_t)b->left;
		if (!xe_conn_readable(c, b->timeout_ms)) {
			errno = ETIMEDOUT;
			ret = -1;
			break;
		}
		r = splice(c->fd, NULL, direct ? fd : p[1], NULL, want,
		           SPLICE_F_MOVE | SPLICE_F_MORE);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0) {
			if (r == 0 && b->mode == XE_BODY_LENGTH)
				errno = ECONNRESET;
			ret = r == 0 && b->mode == XE_BODY_CLOSE ? 0 : -1;
			break;
		}
		for (w = 0; !direct && w < r;) {
			ssize_t k = -1;
			if (!copy)
				k = splice(p[0], NULL, fd, NULL,
				           (size_t)(r - w),
				           SPLICE_F_MOVE | SPLICE_F_MORE);
			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0 && (copy || errno == EINVAL)) {
				/* fd takes no splice: through a buffer */
				char tmp[65536];
				size_t m = (size_t)(r - w) < sizeof(tmp)
				               ? (size_t)(r - w)
				               : sizeof(tmp);
				copy = 1;
				k = read(p[0], tmp, m);
				if (k > 0 &&
				    xe_xfer_write_fd(fd, tmp, (size_t)k) < 0)
					k = -1;
			}
			if (k <= 0) {
				ret = -2;
				goto out;
			}
			w += k;
		}
		b->left -= r;
		xe_xfer_progress_add(prog, (size_t)r);
	}
out:
	b->done = ret == 0;
	if (p[0] >= 0) {
		close(p[0]);
		close(p[1]);
	}
	return ret;
}

/* sendfile of n bytes of in at *off (advanced) into the socket. */
static int
xe_xfer_sendfile(int sock, int in, off_t *off, long long n)
{
	while (n > 0) {
		ssize_t r = sendfile(
		    sock, in, off, n > (1 << 30) ? (size_t)1 << 30 : (size_t)n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EIO; /* the file shrank */
			return -1;
		}
		n -= r;
	}
	return 0;
}

/*
 * Sends size bytes of the regular file fd (from its offset) into a plain
 * socket with sendfile: data from the page cache, holes (SEEK_HOLE) from a
 * memfd's hole, without a copy through memory of ours. Returns 0, -1 on
 * error, 1 if it cannot (nothing sent then).
 */
int
xe_xfer_send_file(struct xe_conn *c, int fd, long long size,
                  struct xe_xfer_progress *prog)
{
	struct stat st;
	off_t pos = lseek(fd, 0, SEEK_CUR), end, data, hole;
	int zfd, sz = 4 << 20;

	if (c->tls || size < 0 || pos < 0 || fstat(fd, &st) < 0 ||
	    !S_ISREG(st.st_mode) || st.st_size < pos + size)
		return 1;
	zfd = memfd_create("xe-zeros", MFD_CLOEXEC);
	if (zfd < 0 || ftruncate(zfd, XE_XFER_ZEROS) < 0) {
		if (zfd >= 0)
			close(zfd);
		return 1;
	}
	setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	end = pos + size;
	while (pos < end) {
		data = lseek(fd, pos, SEEK_DATA);
		if (data < 0 && errno == ENXIO)
			data = end; /* a hole to the end */
		if (data < 0)
			data = pos; /* no SEEK_DATA: all data */
		if (data > end)
			data = end;
		while (pos < data) { /* zeros */
			off_t zo = 0;
			long long n = data - pos < XE_XFER_ZEROS
			                  ? data - pos
			                  : XE_XFER_ZEROS;
			if (xe_xfer_sendfile(c->fd, zfd, &zo, n) < 0)
				goto fail;
			pos += n;
			xe_xfer_progress_add(prog, (size_t)n);
		}
		if (pos >= end)
			break;
		hole = lseek(fd, pos, SEEK_HOLE);
		if (hole < 0 || hole > end)
			hole = end;
		while (pos < hole) {
			long long n =
			    hole - pos < (16 << 20) ? hole - pos : (16 << 20);
			if (xe_xfer_sendfile(c->fd, fd, &pos, n) < 0)
				goto fail;
			xe_xfer_progress_add(prog, (size_t)n);
		}
	}
	close(zfd);
	lseek(fd, pos, SEEK_SET);
	return 0;
fail:
	close(zfd);
	return -1;
}
