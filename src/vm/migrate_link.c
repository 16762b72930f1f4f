/*
 * migrate_link: how the source of a live migration reaches the destination
 * (migrate_int.h): internal sessions on the other member over the pool's
 * TLS link, one-time tokens and keys, and the streams opened on the
 * destination's plain HTTP listener (POST /migrate, then an upgrade).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pool/pool.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "vm/migrate_int.h"

#define MIG_CONNECT_MS 30000

/* An internal session on another member (session.slave_login with the
 * pool secret): calls made with it run on that member. NULL and *err. */
char *
mig_session(const char *addr, const char *host, struct api_err **err)
{
	xv *p = xv_array(), *res = NULL;
	char *sid = NULL;

	xv_push(p, xv_str(host));
	xv_push(p, xv_str(pool_secret()));
	*err = pool_call(addr, "session.slave_login", p, &res);
	xv_free(p);
	if (!*err && res && res->type == XV_STRING)
		sid = xstrdup(res->u.s);
	else if (!*err)
		*err = api_internal("no session from %s", addr);
	xv_free(res);
	return sid;
}

/* Ends a session made by mig_session (best effort). */
void
mig_logout(const char *addr, char *sid)
{
	xv *p = xv_array(), *res = NULL;

	if (!sid)
		return;
	xv_push(p, xv_str(sid));
	api_err_free(pool_call(addr, "session.logout", p, &res));
	xv_free(p);
	xv_free(res);
	free(sid);
}

/* A host's management address (malloc'd), or NULL. */
char *
mig_host_address(const char *host)
{
	char *a = NULL;

	db_rdlock();
	struct db_row *h = db_get(DMC_host, host);
	if (h && h->f[DMF_host_address].s && *h->f[DMF_host_address].s)
		a = xstrdup(h->f[DMF_host_address].s);
	db_unlock();
	return a;
}

struct api_err *
mig_failed(const char *vm, const char *dest, const char *msg)
{
	return api_error(XE_VM_MIGRATE_FAILED, vm, vm_cfg.host_ref, dest, msg,
	                 NULL);
}

/* Records what QEMU measured on the Async task running the call. */
void
mig_note_task(const char *task, const struct vm_migrate_stats *st)
{
	struct db_txn *t;
	struct db_row *r;
	char d[32], tt[32];

	if (!task)
		return;
	t = db_txn_begin();
	if (!(r = db_txn_edit(t, DMC_task, task))) {
		db_txn_abort(t);
		return;
	}
	snprintf(d, sizeof(d), "%.0f", st->downtime_ms);
	snprintf(tt, sizeof(tt), "%.0f", st->total_ms);
	const struct dm_coll *old = r->f[DMF_task_other_config].c;
	size_t n = old ? old->n : 0;
	struct dm_coll *c = dmc_new(n + 2);
	for (size_t i = 0; i < n; i++) {
		c->v[2 * i].s = xstrdup(old->v[2 * i].s);
		c->v[2 * i + 1].s = xstrdup(old->v[2 * i + 1].s);
	}
	c->v[2 * n].s = xstrdup("migration_downtime_ms");
	c->v[2 * n + 1].s = xstrdup(d);
	c->v[2 * n + 2].s = xstrdup("migration_total_ms");
	c->v[2 * n + 3].s = xstrdup(tt);
	db_txn_set(t, r, DMF_task_other_config, (union dm_val){.c = c});
	api_err_free(api_commit(t));
}

/* A random token (64 hex digits). */
int
mig_new_token(char out[65])
{
	unsigned char r[32];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	bool ok = fd >= 0 && read(fd, r, sizeof(r)) == (ssize_t)sizeof(r);

	if (fd >= 0)
		close(fd);
	for (size_t i = 0; ok && i < sizeof(r); i++)
		snprintf(out + 2 * i, 3, "%02x", r[i]);
	return ok ? 0 : -1;
}

/* The stream to the destination: POST /migrate?token=..., 101, then the
 * bare TCP socket. Returns the socket or -1 with *err. */
int
mig_connect(const char *addr, int port, const char *token, const char *body,
            char **err)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
	                         .sin_port = htons((uint16_t)port)};
	int fd = -1;
	char head[512];
	size_t k = 0;

	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		*err = xasprintf("bad address %s", addr);
		return -1;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		*err = xasprintf("cannot connect to %s:%d: %s", addr, port,
		                 strerror(errno));
		goto fail;
	}
	char *req = xasprintf(
	    "POST /migrate?token=%s HTTP/1.1\r\nHost: %s\r\n"
	    "User-Agent: xapid-migrate\r\nConnection: Upgrade\r\n"
	    "Upgrade: xapid-migrate\r\nContent-Type: application/json\r\n"
	    "Content-Length: %zu\r\n\r\n%s",
	    token, addr, strlen(body), body);
	size_t n = strlen(req), off = 0;
	while (off < n) {
		ssize_t w = send(fd, req + off, n - off, MSG_NOSIGNAL);
		if (w <= 0 && errno != EINTR)
			break;
		if (w > 0)
			off += (size_t)w;
	}
	free(req);
	if (off < n) {
		*err = xasprintf("sending to %s: %s", addr, strerror(errno));
		goto fail;
	}
	/* the answer's head, byte by byte: what follows belongs to QEMU */
	while (k + 1 < sizeof(head)) {
		struct pollfd p = {fd, POLLIN, 0};
		if (poll(&p, 1, MIG_CONNECT_MS) != 1 ||
		    recv(fd, head + k, 1, 0) != 1) {
			*err = xasprintf("no answer from %s", addr);
			goto fail;
		}
		head[++k] = 0;
		if (k >= 4 && strcmp(head + k - 4, "\r\n\r\n") == 0)
			break;
	}
	if (strncmp(head, "HTTP/1.1 101", 12) != 0) {
		*err = xasprintf("%s refused the stream: %.*s", addr,
		                 (int)strcspn(head, "\r\n"), head);
		goto fail;
	}
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}
