/* nbd: qemu-nbd on a private socket and a small NBD client of it. */
#include "storage/nbd.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "util/xalloc.h"

#define NBD_REQ_MAGIC 0x25609513u
#define NBD_REPLY_MAGIC 0x67446698u
#define NBD_OPT_MAGIC 0x49484156454F5054ull  /* "IHAVEOPT" */
#define NBD_INIT_MAGIC 0x4e42444d41474943ull /* "NBDMAGIC" */
#define NBD_FLAG_FIXED_NEWSTYLE 1u
#define NBD_FLAG_NO_ZEROES 2u
#define NBD_OPT_EXPORT_NAME 1u
#define NBD_CMD_READ 0
#define NBD_CMD_WRITE 1
#define NBD_CMD_DISC 2
#define NBD_CMD_FLUSH 3

/* How long qemu-nbd may take to open the image and listen. */
#define NBD_START_TIMEOUT_S 60.0

struct nbd {
	int fd;
	pid_t pid;
	int errfd; /* qemu-nbd's stderr */
	uint64_t size;
	uint64_t cookie;
	char dir[64];
};

static int
nbd_io(int fd, void *buf, size_t len, bool wr)
{
	char *p = buf;
	while (len) {
		ssize_t n =
		    wr ? send(fd, p, len, MSG_NOSIGNAL) : recv(fd, p, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n == 0 ? ECONNRESET : errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static double
nbd_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *
nbd_find_prog(const char *name)
{
	const char *path = getenv("PATH");
	char *copy =
	    xstrdup(path && *path ? path : "/usr/sbin:/usr/bin:/sbin:/bin");
	char *save = NULL, *found = NULL;
	for (char *d = strtok_r(copy, ":", &save); d && !found;
	     d = strtok_r(NULL, ":", &save)) {
		char *c = xasprintf("%s/%s", d, name);
		if (access(c, X_OK) == 0)
			found = c;
		else
			free(c);
	}
	free(copy);
	return found;
}

/* What qemu-nbd said on stderr (for an error message). */
static char *
nbd_stderr(struct nbd *n)
{
	char buf[1024];
	ssize_t r = n->errfd >= 0 ? read(n->errfd, buf, sizeof(buf) - 1) : -1;
	if (r <= 0)
		return xstrdup("qemu-nbd failed");
	buf[r] = '\0';
	while (r > 0 && (buf[r - 1] == '\n' || buf[r - 1] == '\r'))
		buf[--r] = '\0';
	return xstrdup(buf);
}

static void
nbd_reap(struct nbd *n, bool kill_it)
{
	if (n->pid > 0) {
		if (kill_it)
			kill(n->pid, SIGKILL);
		while (waitpid(n->pid, NULL, 0) < 0 && errno == EINTR)
			;
		n->pid = -1;
	}
}

static void
nbd_free(struct nbd *n)
{
	if (n->fd >= 0)
		close(n->fd);
	if (n->errfd >= 0)
		close(n->errfd);
	char *s = xasprintf("%s/s", n->dir);
	unlink(s);
	free(s);
	rmdir(n->dir);
	free(n);
}

static int
nbd_handshake(struct nbd *n)
{
	unsigned char hello[18];
	int e = nbd_io(n->fd, hello, sizeof(hello), false);
	if (e)
		return e;
	uint64_t m1, m2;
	uint16_t hflags;
	memcpy(&m1, hello, 8);
	memcpy(&m2, hello + 8, 8);
	memcpy(&hflags, hello + 16, 2);
	hflags = be16toh(hflags);
	if (be64toh(m1) != NBD_INIT_MAGIC || be64toh(m2) != NBD_OPT_MAGIC ||
	    !(hflags & NBD_FLAG_FIXED_NEWSTYLE))
		return EPROTO;
	bool nozero = hflags & NBD_FLAG_NO_ZEROES;
	uint32_t cflags = htobe32(NBD_FLAG_FIXED_NEWSTYLE |
	                          (nozero ? NBD_FLAG_NO_ZEROES : 0));
	unsigned char opt[16];
	uint64_t om = htobe64(NBD_OPT_MAGIC);
	uint32_t on = htobe32(NBD_OPT_EXPORT_NAME), ol = 0; /* export "" */
	memcpy(opt, &om, 8);
	memcpy(opt + 8, &on, 4);
	memcpy(opt + 12, &ol, 4);
	if ((e = nbd_io(n->fd, &cflags, 4, true)) ||
	    (e = nbd_io(n->fd, opt, 16, true)))
		return e;
	unsigned char info[10 + 124];
	if ((e = nbd_io(n->fd, info, nozero ? 10 : sizeof(info), false)))
		return e;
	uint64_t sz;
	memcpy(&sz, info, 8);
	n->size = be64toh(sz);
	return 0;
}

struct nbd *
nbd_open(const char *path, const char *format, bool readonly, char **err)
{
	struct nbd *n = xcalloc(1, sizeof(*n));
	n->fd = n->errfd = -1;
	n->pid = -1;
	snprintf(n->dir, sizeof(n->dir), "/tmp/xapid-nbd-XXXXXX");
	char *prog = nbd_find_prog("qemu-nbd");
	if (!prog || !mkdtemp(n->dir)) {
		*err = xasprintf(prog ? "mkdtemp: %s" : "qemu-nbd not found",
		                 strerror(errno));
		n->dir[0] = '\0';
		free(prog);
		free(n);
		return NULL;
	}
	char *sock = xasprintf("%s/s", n->dir);
	char *fmt = xasprintf("--format=%s", format);
	char *argv[] = {prog,
	                fmt,
	                "--socket",
	                sock,
	                "--cache=writeback",
	                "--aio=threads",
	                "--detect-zeroes=on",
	                readonly ? "--read-only" : "--discard=ignore",
	                (char *)path,
	                NULL};
	int pe[2] = {-1, -1};
	if (pipe2(pe, O_CLOEXEC) < 0) {
		*err = xasprintf("pipe: %s", strerror(errno));
		goto fail;
	}
	pid_t parent = getpid();
	n->pid = fork();
	if (n->pid == 0) {
		/* the server dies with xapid (kill -9 included) */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(null, 1);
		dup2(pe[1], 2);
		execv(prog, argv);
		_exit(127);
	}
	close(pe[1]);
	n->errfd = pe[0];
	if (n->pid < 0) {
		*err = xasprintf("fork: %s", strerror(errno));
		goto fail;
	}
	fcntl(n->errfd, F_SETFL, O_NONBLOCK);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock);
	double end = nbd_now() + NBD_START_TIMEOUT_S;
	for (;;) {
		n->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (n->fd >= 0 &&
		    connect(n->fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
			break;
		if (n->fd >= 0)
			close(n->fd);
		n->fd = -1;
		int st;
		if (waitpid(n->pid, &st, WNOHANG) == n->pid) {
			n->pid = -1;
			*err = nbd_stderr(n);
			goto fail;
		}
		if (nbd_now() > end) {
			*err = xstrdup("qemu-nbd did not start");
			goto fail;
		}
		poll(NULL, 0, 5);
	}
	int e = nbd_handshake(n);
	if (e) {
		*err = xasprintf("NBD handshake: %s", strerror(e));
		goto fail;
	}
	free(prog);
	free(sock);
	free(fmt);
	return n;
fail:
	nbd_reap(n, true);
	free(prog);
	free(sock);
	free(fmt);
	nbd_free(n);
	return NULL;
}

uint64_t
nbd_size(const struct nbd *n)
{
	return n->size;
}

/* Sends one request (with data for a write) and reads its reply (and the
 * data of a read). */
static int
nbd_cmd(struct nbd *n, uint16_t type, void *buf, size_t len, uint64_t off)
{
	if (n->fd < 0)
		return EPIPE;
	if (len > NBD_MAX_REQ)
		return EINVAL;
	unsigned char rq[28];
	uint32_t magic = htobe32(NBD_REQ_MAGIC), l32 = htobe32((uint32_t)len);
	uint16_t fl = 0, ty = htobe16(type);
	uint64_t ck = ++n->cookie, cookie = htobe64(ck), o = htobe64(off);
	memcpy(rq, &magic, 4);
	memcpy(rq + 4, &fl, 2);
	memcpy(rq + 6, &ty, 2);
	memcpy(rq + 8, &cookie, 8);
	memcpy(rq + 16, &o, 8);
	memcpy(rq + 24, &l32, 4);
	int e = nbd_io(n->fd, rq, sizeof(rq), true);
	if (!e && type == NBD_CMD_WRITE)
		e = nbd_io(n->fd, buf, len, true);
	unsigned char rp[16];
	if (!e)
		e = nbd_io(n->fd, rp, sizeof(rp), false);
	if (e) {
		close(n->fd);
		n->fd = -1;
		return e;
	}
	uint32_t rmagic, rerr;
	uint64_t rck;
	memcpy(&rmagic, rp, 4);
	memcpy(&rerr, rp + 4, 4);
	memcpy(&rck, rp + 8, 8);
	if (be32toh(rmagic) != NBD_REPLY_MAGIC || be64toh(rck) != ck) {
		close(n->fd);
		n->fd = -1;
		return EPROTO;
	}
	if (rerr)
		return (int)be32toh(
		    rerr); /* NBD errors are Linux errno values */
	if (type == NBD_CMD_READ && (e = nbd_io(n->fd, buf, len, false))) {
		close(n->fd);
		n->fd = -1;
	}
	return e;
}

int
nbd_pread(struct nbd *n, void *buf, size_t len, uint64_t off)
{
	return nbd_cmd(n, NBD_CMD_READ, buf, len, off);
}

int
nbd_pwrite(struct nbd *n, const void *buf, size_t len, uint64_t off)
{
	return nbd_cmd(n, NBD_CMD_WRITE, (void *)buf, len, off);
}

int
nbd_flush(struct nbd *n)
{
	return nbd_cmd(n, NBD_CMD_FLUSH, NULL, 0, 0);
}

int
nbd_close(struct nbd *n)
{
	if (!n)
		return 0;
	int rc = -1;
	if (n->fd >= 0) {
		unsigned char rq[28] = {0};
		uint32_t magic = htobe32(NBD_REQ_MAGIC);
		uint16_t ty = htobe16(NBD_CMD_DISC);
		memcpy(rq, &magic, 4);
		memcpy(rq + 6, &ty, 2);
		if (nbd_io(n->fd, rq, sizeof(rq), true) == 0)
			rc = 0;
		close(n->fd);
		n->fd = -1;
	}
	if (n->pid > 0) {
		/* qemu-nbd (not persistent) exits once its client is gone */
		int st = 0;
		double end = nbd_now() + NBD_START_TIMEOUT_S;
		pid_t r;
		while ((r = waitpid(n->pid, &st, WNOHANG)) == 0 &&
		       nbd_now() < end)
			poll(NULL, 0, 2);
		if (r == n->pid) {
			n->pid = -1;
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
				rc = -1;
		} else {
			log_warn("nbd", "qemu-nbd %d did not exit; killed",
			         (int)n->pid);
			nbd_reap(n, true);
			rc = -1;
		}
	}
	nbd_free(n);
	return rc;
}
