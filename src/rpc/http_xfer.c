/* http_xfer: the HTTP handlers that relay rather than call, over upgraded
 * connections: a VM's serial console (/console), a pool member's dqlite
 * link (/raft) and a live migration's stream (/migrate). A VDI's data
 * moves in http_vdi.c. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "pool/pool.h"
#include "rpc/api_int.h"
#include "rpc/http.h"
#include "rpc/http_int.h"
#include "storage/sr.h"
#include "util/log.h"
#include "util/xalloc.h"

/* ---- /console: a raw relay to a VM's console (serial or VNC) ---- */

static char *(*http_console_path)(const char *ref, const char *uuid);

void
http_set_console_resolver(char *(*fn)(const char *ref, const char *uuid))
{
	http_console_path = fn;
}

struct http_relay {
	char *path;
	MHD_socket sock;
	struct MHD_UpgradeResponseHandle *urh;
};

static void *
http_console_main(void *p)
{
	struct http_relay *r = p;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", r->path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
		struct pollfd pf[2] = {{r->sock, POLLIN, 0}, {fd, POLLIN, 0}};
		char buf[4096];
		for (;;) {
			if (poll(pf, 2, -1) < 0 && errno != EINTR)
				break;
			if (pf[0].revents) {
				ssize_t n = recv(r->sock, buf, sizeof(buf), 0);
				if (n <= 0 || send(fd, buf, (size_t)n, MSG_NOSIGNAL) != n)
					break;
			}
			if (pf[1].revents) {
				ssize_t n = recv(fd, buf, sizeof(buf), 0);
				if (n <= 0 || send(r->sock, buf, (size_t)n, MSG_NOSIGNAL) != n)
					break;
			}
		}
	} else {
		static const char msg[] = "The VM's console is not available.\r\n";
		if (send(r->sock, msg, sizeof(msg) - 1, MSG_NOSIGNAL) < 0)
			log_info("http", "console client gone");
	}
	if (fd >= 0)
		close(fd);
	MHD_upgrade_action(r->urh, MHD_UPGRADE_ACTION_CLOSE);
	free(r->path);
	free(r);
	return NULL;
}

static void
http_console_upgraded(void *cls, struct MHD_Connection *c, void *req_cls,
		      const char *extra_in, size_t extra_in_size, MHD_socket sock,
		      struct MHD_UpgradeResponseHandle *urh)
{
	struct http_relay *r = cls;
	(void)c;
	(void)req_cls;
	(void)extra_in;
	(void)extra_in_size;
	r->sock = sock;
	r->urh = urh;
	pthread_t th;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &attr, http_console_main, r) != 0)
		http_console_main(r);
	pthread_attr_destroy(&attr);
}

enum MHD_Result
http_console(struct MHD_Connection *c, bool local)
{
	struct api_ctx ctx;
	const char *ref = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "ref");
	const char *uuid = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "uuid");
	http_ctx_init(&ctx, c, local);
	struct api_err *err = http_auth(c, local, &ctx);
	char *path = NULL;
	if (!err && ((!ref && !uuid) || !http_console_path ||
		     !(path = http_console_path(ref, uuid))))
		err = api_error(XE_HANDLE_INVALID, "console", uuid ? uuid : ref ? ref : "", NULL);
	api_ctx_clear(&ctx);
	if (err)
		return http_fail(c, NULL, err, MHD_HTTP_NOT_FOUND);
	struct http_relay *r = xcalloc(1, sizeof(*r));
	r->path = path;
	struct MHD_Response *resp =
		MHD_create_response_for_upgrade(http_console_upgraded, r);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_UPGRADE, "xe-console");
	enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* ---- POST /raft: a pool member's dqlite link ---- */

static void *
http_raft_main(void *p)
{
	void **a = p;
	struct MHD_UpgradeResponseHandle *urh = a[0];
	MHD_socket sock = (MHD_socket)(intptr_t)a[1];
	pool_raft_serve(sock);
	MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
	free(a);
	return NULL;
}

static void
http_raft_upgraded(void *cls, struct MHD_Connection *c, void *req_cls,
                   const char *extra_in, size_t extra_in_size, MHD_socket sock,
                   struct MHD_UpgradeResponseHandle *urh)
{
	(void)cls;
	(void)c;
	(void)req_cls;
	(void)extra_in;
	(void)extra_in_size;
	void **a = xcalloc(2, sizeof(void *));
	a[0] = urh;
	a[1] = (void *)(intptr_t)sock;
	pthread_t th;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &attr, http_raft_main, a) != 0)
		http_raft_main(a);
	pthread_attr_destroy(&attr);
}

/* POST /raft: a pool member's dqlite node reaching ours (pool_raft.c). */
enum MHD_Result
http_raft(struct MHD_Connection *c)
{
	if (!http_pool_internal(c))
		return http_text(c, MHD_HTTP_FORBIDDEN, "Forbidden");
	/* a node of another cluster (one an emergency transition left
	 * behind) must not reach ours */
	if (!pool_cluster_ok(MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	                                                 "X-Xapid-Cluster"))) {
		log_warn("pool", "a Raft link from a node of another cluster "
		                 "was refused");
		return http_text(c, MHD_HTTP_FORBIDDEN, "Forbidden");
	}
	struct MHD_Response *r =
	    MHD_create_response_for_upgrade(http_raft_upgraded, NULL);
	MHD_add_response_header(r, MHD_HTTP_HEADER_UPGRADE, "dqlite");
	enum MHD_Result ret =
	    MHD_queue_response(c, MHD_HTTP_SWITCHING_PROTOCOLS, r);
	MHD_destroy_response(r);
	return ret;
}

/* ---- POST /migrate: the destination of a live migration ---- */

static void (*http_migrate_fn)(int sock, const char *body, size_t len);
static bool (*http_migrate_ok)(const char *token, const char *body, size_t len);

void
http_set_migrate_handler(void (*fn)(int sock, const char *body, size_t len),
                         bool (*ok)(const char *token, const char *body,
                                    size_t len))
{
	http_migrate_fn = fn;
	http_migrate_ok = ok;
}

struct http_migrate {
	char *body;
	size_t len;
	struct MHD_UpgradeResponseHandle *urh;
	MHD_socket sock;
};

static void *
http_migrate_main(void *p)
{
	struct http_migrate *m = p;
	http_migrate_fn(m->sock, m->body, m->len);
	MHD_upgrade_action(m->urh, MHD_UPGRADE_ACTION_CLOSE);
	free(m->body);
	free(m);
	return NULL;
}

static void
http_migrate_upgraded(void *cls, struct MHD_Connection *c, void *req_cls,
                      const char *extra_in, size_t extra_in_size,
                      MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
	struct http_migrate *m = cls;
	(void)c;
	(void)req_cls;
	(void)extra_in;
	(void)extra_in_size;
	m->sock = sock;
	m->urh = urh;
	pthread_t th;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &attr, http_migrate_main, m) != 0)
		http_migrate_main(m);
	pthread_attr_destroy(&attr);
}

/* POST /migrate?token=T (a pool member, with the one-time token it gave
 * this host over TLS): the body describes the VM; after the upgrade the
 * stream carries its state (vm/migrate.c). */
enum MHD_Result
http_migrate(struct MHD_Connection *c, struct http_req *rq)
{
	const char *token =
	    MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");
	if (!http_migrate_fn || rq->too_big || !rq->body.len)
		return http_text(c, MHD_HTTP_BAD_REQUEST, "Bad request");
	if (!token || !http_migrate_ok(token, rq->body.data, rq->body.len))
		return http_text(c, MHD_HTTP_FORBIDDEN, "Forbidden");
	struct http_migrate *m = xcalloc(1, sizeof(*m));
	m->body = xstrndup(rq->body.data, rq->body.len);
	m->len = rq->body.len;
	struct MHD_Response *r =
	    MHD_create_response_for_upgrade(http_migrate_upgraded, m);
	MHD_add_response_header(r, MHD_HTTP_HEADER_UPGRADE, "xapid-migrate");
	enum MHD_Result ret =
	    MHD_queue_response(c, MHD_HTTP_SWITCHING_PROTOCOLS, r);
	MHD_destroy_response(r);
	return ret;
}
