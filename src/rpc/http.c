/* http: libmicrohttpd glue for the RPC endpoints and HTTP handlers. */
#include "rpc/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db/dump.h"
#include "pool/pool.h"
#include "rpc/api_int.h"
#include "rpc/http_int.h"
#include "rpc/cli_args.h"
#include "rpc/cli_server.h"
#include "rpc/jsonrpc.h"
#include "rpc/xmlrpc.h"
#include "storage/sr.h"
#include "storage/xva.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/xalloc.h"

#define HTTP_MAX_DUMP ((size_t)1 << 30)

struct http_listener {
	struct MHD_Daemon *d;
	bool local;
};

static struct http_listener http_ls[3];
static size_t http_nls;
static size_t http_max_body = 16u << 20;
static char *http_cert_pem, *http_key_pem;
static volatile bool http_serving;

void
http_set_serving(bool on)
{
	http_serving = on;
}

/* Whether the request carries the pool secret (an internal call). */
bool
http_pool_internal(struct MHD_Connection *c)
{
	const char *s = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						    "X-Xapid-Pool-Secret");
	return s && pool_secret_ok(s);
}

/* A caller on the Unix socket, or a pool member acting for one. */
static bool
http_is_local(struct MHD_Connection *c, bool local)
{
	return local ||
	       (MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Xapid-Local") &&
		http_pool_internal(c));
}


struct http_upgrade {
	char *body;
	size_t len;
	bool local;
	char *origin;
};

static char *
http_origin(struct MHD_Connection *c, bool local)
{
	if (local)
		return xstrdup("unix");
	const union MHD_ConnectionInfo *sc =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (sc && sc->socket_context)
		return xstrdup(sc->socket_context);
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	char host[NI_MAXHOST] = "?", port[NI_MAXSERV] = "?";
	if (ci && ci->client_addr) {
		socklen_t sl = ci->client_addr->sa_family == AF_INET6
				       ? sizeof(struct sockaddr_in6)
				       : sizeof(struct sockaddr_in);
		getnameinfo(ci->client_addr, sl, host, sizeof(host), port,
			    sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV);
	}
	char *s = xasprintf("%s:%s", host, port);
	return s;
}

enum MHD_Result
http_reply(struct MHD_Connection *c, unsigned status, const char *ctype,
	   struct buf *b)
{
	size_t len = b->len;
	char *data = buf_steal(b);
	struct MHD_Response *r =
		MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	if (ctype)
		MHD_add_response_header(r, "Content-Type", ctype);
	MHD_add_response_header(r, "Access-Control-Allow-Origin", "*");
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

enum MHD_Result
http_text(struct MHD_Connection *c, unsigned status, const char *text)
{
	struct buf b = BUF_INIT;
	buf_addf(&b, "<html><body><h1>HTTP %u</h1>%s</body></html>", status, text);
	return http_reply(c, status, "text/html", &b);
}

void
http_ctx_init(struct api_ctx *ctx, struct MHD_Connection *c, bool local)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->local = local;
	ctx->stream = true;
	ctx->origin = http_origin(c, local);
}

static enum MHD_Result
http_xmlrpc(struct MHD_Connection *c, struct http_req *rq, bool local)
{
	struct xmlrpc_call call;
	struct buf out = BUF_INIT;
	int st = xmlrpc_parse_call(rq->body.data ? rq->body.data : "",
				   rq->body.len, &call);
	if (st == XMLRPC_MALFORMED) {
		log_info("http", "malformed XML-RPC request: %s", call.err);
		xmlrpc_call_clear(&call);
		return http_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
				 "Malformed XML-RPC request");
	}
	if (st == XMLRPC_INVALID_VALUE) {
		const char *p[2] = {"Invalid UTF-8 string in parameter", call.bad};
		xmlrpc_write_failure(&out, "INVALID_VALUE", p, 2);
		xmlrpc_call_clear(&call);
		return http_reply(c, MHD_HTTP_OK, "text/xml", &out);
	}
	struct api_ctx ctx;
	xv *result = NULL;
	struct api_err *err = NULL;
	http_ctx_init(&ctx, c, local);
	if (!pool_gate(&ctx, call.method, call.params, &result, &err))
		err = api_call(&ctx, call.method, call.params, &result);
	if (err)
		xmlrpc_write_failure(&out, err->code,
				     (const char *const *)err->params, err->n);
	else if (strcmp(call.method, "system.listMethods") == 0)
		xmlrpc_write_bare(&out, result);
	else
		xmlrpc_write_success(&out, result);
	api_err_free(err);
	xv_free(result);
	api_ctx_clear(&ctx);
	xmlrpc_call_clear(&call);
	return http_reply(c, MHD_HTTP_OK, "text/xml", &out);
}

static enum MHD_Result
http_jsonrpc(struct MHD_Connection *c, struct http_req *rq, bool local)
{
	struct jsonrpc_call call;
	struct buf out = BUF_INIT;
	int st = jsonrpc_parse_call(rq->body.data ? rq->body.data : "",
				    rq->body.len, &call);
	if (st == JSONRPC_MALFORMED) {
		log_info("http", "malformed JSON-RPC request: %s", call.err);
		jsonrpc_call_clear(&call);
		return http_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
				 "Malformed JSON-RPC request");
	}
	if (st == JSONRPC_INVALID_VALUE) {
		const char *p[2] = {"Invalid UTF-8 string in parameter", call.bad};
		jsonrpc_write_failure(&out, call.version, call.id,
				      "INVALID_VALUE", p, 2);
		jsonrpc_call_clear(&call);
		return http_reply(c, MHD_HTTP_OK, "application/json", &out);
	}
	struct api_ctx ctx;
	xv *result = NULL;
	struct api_err *err = NULL;
	http_ctx_init(&ctx, c, local);
	if (!pool_gate(&ctx, call.method, call.params, &result, &err))
		err = api_call(&ctx, call.method, call.params, &result);
	if (err)
		jsonrpc_write_failure(&out, call.version, call.id, err->code,
				      (const char *const *)err->params, err->n);
	else
		jsonrpc_write_success(&out, call.version, call.id, result);
	api_err_free(err);
	xv_free(result);
	api_ctx_clear(&ctx);
	jsonrpc_call_clear(&call);
	return http_reply(c, MHD_HTTP_OK, "application/json", &out);
}

/* Commands a slave runs itself (xapi's Neverforward: they ask about this
 * host, and must answer when the master is gone). */
static bool
http_cli_here(const char *body, size_t len)
{
	struct cli_args a;
	bool here = cli_args_parse(&a, body, len) == 0 && a.cmd &&
	            cli_server_runs_here(a.cmd);
	cli_args_free(&a);
	return here;
}

static void *
http_cli_main(void *p)
{
	void **a = p;
	struct http_upgrade *u = a[0];
	struct MHD_UpgradeResponseHandle *urh = a[1];
	MHD_socket sock = (MHD_socket)(intptr_t)a[2];
	/* in emergency mode the command runs here and is refused as xapi
	 * refuses it (HOST_STILL_BOOTING) */
	if (pool_ready() && !pool_is_master() && !pool_emergency() &&
	    !http_cli_here(u->body, u->len)) {
		/* a slave: the master runs the command */
		int fd = pool_cli_relay(u->body, u->len, u->local);
		if (fd >= 0) {
			pool_pump(sock, fd);
			close(fd);
		}
	} else {
		cli_server_run(sock, u->body, u->len, u->local, u->origin);
	}
	MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
	free(u->body);
	free(u->origin);
	free(u);
	free(a);
	return NULL;
}

static void
http_cli_upgraded(void *cls, struct MHD_Connection *c, void *req_cls,
		  const char *extra_in, size_t extra_in_size, MHD_socket sock,
		  struct MHD_UpgradeResponseHandle *urh)
{
	(void)c;
	(void)req_cls;
	(void)extra_in;
	(void)extra_in_size;
	void **a = xcalloc(3, sizeof(void *));
	a[0] = cls;
	a[1] = urh;
	a[2] = (void *)(intptr_t)sock;
	/* the connection thread is MHD's; run the command on our own */
	pthread_t th;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &attr, http_cli_main, a) != 0)
		http_cli_main(a);
	pthread_attr_destroy(&attr);
}

static enum MHD_Result
http_cli(struct MHD_Connection *c, struct http_req *rq, bool local)
{
	struct http_upgrade *u = xcalloc(1, sizeof(*u));
	u->len = rq->body.len;
	u->body = buf_steal(&rq->body);
	u->local = local;
	u->origin = http_origin(c, local);
	struct MHD_Response *r =
		MHD_create_response_for_upgrade(http_cli_upgraded, u);
	MHD_add_response_header(r, MHD_HTTP_HEADER_UPGRADE, "xe-cli/0.2");
	enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_SWITCHING_PROTOCOLS, r);
	MHD_destroy_response(r);
	return ret;
}

/* Authenticates an HTTP handler call by session_id (or the Unix socket). */
struct api_err *
http_auth(struct MHD_Connection *c, bool local, struct api_ctx *ctx)
{
	const char *sid =
		MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "session_id");
	if (!sid)
		sid = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "session_id");
	if (!sid) {
		if (local) {
			ctx->user = xstrdup("root");
			return NULL;
		}
		return api_error(XE_SESSION_INVALID, "", NULL);
	}
	return session_check(ctx, sid);
}

enum MHD_Result
http_fail(struct MHD_Connection *c, const char *task, struct api_err *err,
	  unsigned status)
{
	if (task)
		task_finish(task, NULL, err);
	struct buf b = BUF_INIT;
	buf_addf(&b, "%s", err->code);
	for (size_t i = 0; i < err->n; i++)
		buf_addf(&b, " %s", err->params[i]);
	buf_addc(&b, '\n');
	api_err_free(err);
	return http_reply(c, status, "text/plain", &b);
}

static enum MHD_Result
http_dbdump(struct MHD_Connection *c, const char *method, struct http_req *rq,
	    bool local)
{
	struct api_ctx ctx;
	const char *task =
		MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "task_id");
	http_ctx_init(&ctx, c, local);
	struct api_err *err = http_auth(c, local, &ctx);
	enum MHD_Result ret;
	if (err) {
		api_ctx_clear(&ctx);
		return http_fail(c, NULL, err, MHD_HTTP_FORBIDDEN);
	}
	if (strcmp(method, "GET") == 0) {
		size_t len;
		char *xml = dump_write(&len);
		struct buf b = {xml, len, len + 1};
		if (task)
			task_finish(task, NULL, NULL);
		ret = http_reply(c, MHD_HTTP_OK, "application/xml", &b);
	} else {
		const char *dry =
			MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "dry_run");
		bool dry_run = dry && strcmp(dry, "true") == 0;
		if (rq->too_big)
			err = api_error(XE_INVALID_VALUE, "body", "too large", NULL);
		else
			dump_restore(rq->body.data ? rq->body.data : "",
				     rq->body.len, dry_run, &err);
		log_info("http", "database restore from %s (dry_run=%d): %s",
			 ctx.origin, dry_run, err ? err->code : "OK");
		if (err) {
			ret = http_fail(c, task, err, MHD_HTTP_BAD_REQUEST);
		} else {
			struct buf b = BUF_INIT;
			if (task)
				task_finish(task, NULL, NULL);
			ret = http_reply(c, MHD_HTTP_OK, "text/plain", &b);
		}
	}
	api_ctx_clear(&ctx);
	return ret;
}

/* Whether the rest of an upload can be read from the socket directly: a
 * known length (not chunked), not all there yet. */
static bool
http_direct_upload(struct MHD_Connection *c, const struct http_req *rq)
{
	const char *te = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	                                             "Transfer-Encoding");
	return rq->up_total && rq->up_done < rq->up_total &&
	       !(te && strcasestr(te, "chunked"));
}

static enum MHD_Result
http_handler(void *cls, struct MHD_Connection *c, const char *url,
	     const char *method, const char *version, const char *upload_data,
	     size_t *upload_data_size, void **con_cls)
{
	struct http_listener *l = cls;
	struct http_req *rq = *con_cls;
	(void)version;

	bool import = strcmp(method, "PUT") == 0 &&
		      strncmp(url, "/import_raw_vdi", 15) == 0;
	bool put = strcmp(method, "PUT") == 0 || strcmp(method, "POST") == 0;
	bool xva_meta = put && strcmp(url, "/import_metadata") == 0;
	bool xva = put && (strcmp(url, "/import") == 0 || xva_meta);
	if (!rq) {
		http_raw_reset();
		rq = xcalloc(1, sizeof(*rq));
		rq->limit = strncmp(url, "/pool/xmldbdump", 15) == 0
				    ? HTTP_MAX_DUMP
				    : http_max_body;
		*con_cls = rq;
		if (import)
			http_import_begin(c, rq, l->local);
		if (xva)
			http_xva_import_begin(c, rq, l->local, xva_meta);
		/* the SR is another member's: answered before the body */
		if (rq->redirect)
			return http_redirect(c, rq->redirect, url);
		return MHD_YES;
	}
	if (xva) {
		/* streamed into the importer, never held whole */
		if (*upload_data_size) {
			http_xva_import_data(rq, upload_data, *upload_data_size);
			*upload_data_size = 0;
			if (http_direct_upload(c, rq))
				return http_xva_import_direct(c, rq);
			return MHD_YES;
		}
		return http_xva_import_end(c, rq);
	}
	if (import) {
		/* written into the new image as it comes, never held */
		if (*upload_data_size) {
			http_import_data(rq, upload_data, *upload_data_size);
			*upload_data_size = 0;
			if (http_direct_upload(c, rq))
				return http_import_direct(c, rq);
			return MHD_YES;
		}
		return http_import_end(c, rq);
	}
	if (*upload_data_size) {
		if (rq->body.len + *upload_data_size > rq->limit)
			rq->too_big = true;
		else
			buf_add(&rq->body, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (strcmp(url, "/raft") == 0 && strcmp(method, "POST") == 0)
		return http_raft(c);
	if (!http_serving)
		return http_text(c, MHD_HTTP_SERVICE_UNAVAILABLE,
				 "HOST_STILL_BOOTING");
	bool local = http_is_local(c, l->local);
	if (strcmp(url, "/migrate") == 0 && strcmp(method, "POST") == 0)
		return http_migrate(c, rq);
	if (strncmp(url, "/export_raw_vdi", 15) == 0 && strcmp(method, "GET") == 0)
		return http_export_vdi(c, l->local);
	if ((strcmp(url, "/export") == 0 || strcmp(url, "/export_metadata") == 0) &&
	    strcmp(method, "GET") == 0)
		return http_xva_export(c, local, url[7] == '_');
	if (strcmp(method, "OPTIONS") == 0) {
		struct buf b = BUF_INIT;
		struct MHD_Response *r = MHD_create_response_from_buffer(
			0, (void *)"", MHD_RESPMEM_PERSISTENT);
		MHD_add_response_header(r, "Access-Control-Allow-Origin", "*");
		MHD_add_response_header(r, "Access-Control-Allow-Headers",
					"content-type");
		MHD_add_response_header(r, "Access-Control-Allow-Methods",
					"POST, GET, PUT, OPTIONS");
		enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
		MHD_destroy_response(r);
		buf_free(&b);
		return ret;
	}
	if (strncmp(url, "/pool/xmldbdump", 15) == 0 &&
	    (strcmp(method, "GET") == 0 || strcmp(method, "PUT") == 0))
		return http_dbdump(c, method, rq, l->local);
	if (strcmp(method, "POST") != 0)
		return http_text(c, MHD_HTTP_NOT_FOUND, "Not found");
	if (rq->too_big)
		return http_text(c, 413,
				 "Request body too large");
	if (strcmp(url, "/jsonrpc") == 0)
		return http_jsonrpc(c, rq, local);
	if (strcmp(url, "/cli") == 0)
		return http_cli(c, rq, local);
	if (strcmp(url, "/console") == 0)
		return http_console(c, l->local);
	return http_xmlrpc(c, rq, local);
}

static void
http_completed(void *cls, struct MHD_Connection *c, void **con_cls,
	       enum MHD_RequestTerminationCode toe)
{
	struct http_req *rq = *con_cls;
	(void)cls;
	(void)c;
	(void)toe;
	if (rq) {
		buf_free(&rq->body);
		http_import_cleanup(rq);
		api_err_free(rq->up_err);
		xva_import_abort(rq->xva); /* the client went away mid-import */
		free(rq->xva_task);
		free(rq->redirect);
		free(rq);
		*con_cls = NULL;
	}
}

/* Per-connection context: the peer's address, formatted once. */
static void
http_conn_notify(void *cls, struct MHD_Connection *c, void **socket_context,
		 enum MHD_ConnectionNotificationCode toe)
{
	(void)cls;
	if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		free(*socket_context);
		*socket_context = NULL;
	} else if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		*socket_context = NULL;
		*socket_context = http_origin(c, false);
	}
}

static int
http_parse_addr(const char *spec, struct sockaddr_storage *ss, char **err)
{
	const char *colon = strrchr(spec, ':');
	if (!colon) {
		*err = xasprintf("bad listen address %s (want ADDR:PORT)", spec);
		return -1;
	}
	char *host = xstrndup(spec, (size_t)(colon - spec));
	if (host[0] == '[') {
		memmove(host, host + 1, strlen(host));
		host[strcspn(host, "]")] = '\0';
	}
	struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_PASSIVE,
				 .ai_socktype = SOCK_STREAM},
			*ai = NULL;
	int rc = getaddrinfo(*host ? host : NULL, colon + 1, &hints, &ai);
	free(host);
	if (rc != 0 || !ai) {
		*err = xasprintf("bad listen address %s: %s", spec, gai_strerror(rc));
		return -1;
	}
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	return 0;
}

static char *
http_slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	struct buf b = BUF_INIT;
	char tmp[4096];
	size_t n;
	if (!f)
		return NULL;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_add(&b, tmp, n);
	fclose(f);
	return buf_steal(&b);
}

/* libmicrohttpd's messages, into our log; not the one it gives when a
 * handler that answered through http_raw lets it close the connection. */
static void __attribute__((format(printf, 2, 0)))
http_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	(void)cls;
	if (http_raw_took_connection())
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_warn("http", "%s", msg);
}

/* Starts one listener: a bound socket fd, TLS if cert/key are given. */
static int
http_add(int fd, bool local, bool tls, char **err)
{
	struct http_listener *l = &http_ls[http_nls];
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD |
			 MHD_USE_THREAD_PER_CONNECTION | MHD_ALLOW_UPGRADE |
			 MHD_USE_ERROR_LOG;

	l->local = local;
	if (tls)
		l->d = MHD_start_daemon(
		    flags | MHD_USE_TLS, 0, NULL, NULL, http_handler, l,
		    MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_NOTIFY_COMPLETED,
		    http_completed, NULL, MHD_OPTION_NOTIFY_CONNECTION,
		    http_conn_notify, NULL, MHD_OPTION_CONNECTION_TIMEOUT,
		    (unsigned)600, MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log,
		    NULL, MHD_OPTION_HTTPS_MEM_CERT, http_cert_pem,
		    MHD_OPTION_HTTPS_MEM_KEY, http_key_pem, MHD_OPTION_END);
	else
		l->d = MHD_start_daemon(
		    flags, 0, NULL, NULL, http_handler, l,
		    MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_NOTIFY_COMPLETED,
		    http_completed, NULL, MHD_OPTION_NOTIFY_CONNECTION,
		    http_conn_notify, NULL, MHD_OPTION_CONNECTION_TIMEOUT,
		    (unsigned)600, MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log,
		    NULL, MHD_OPTION_END);
	if (!l->d) {
		*err = xasprintf("cannot start HTTP listener: %s", strerror(errno));
		close(fd);
		return -1;
	}
	http_nls++;
	return 0;
}

/* A listening TCP socket on spec ("ADDR:PORT"). */
static int
http_tcp_socket(const char *spec, char **err)
{
	struct sockaddr_storage ss;
	int one = 1;
	if (http_parse_addr(spec, &ss, err) < 0)
		return -1;
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss,
		 ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					  : sizeof(struct sockaddr_in)) < 0 ||
	    listen(fd, 512) < 0)
		goto fail;
	return fd;
fail:
	*err = xasprintf("cannot listen on %s: %s", spec, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

int
http_start(const struct http_config *cfg, char **err)
{
	int fd;

	if (cfg->max_body)
		http_max_body = cfg->max_body;
	if (cfg->unix_path) {
		struct sockaddr_un sun = {.sun_family = AF_UNIX};
		if (strlen(cfg->unix_path) >= sizeof(sun.sun_path)) {
			*err = xasprintf("socket path too long: %s", cfg->unix_path);
			return -1;
		}
		strcpy(sun.sun_path, cfg->unix_path);
		unlink(cfg->unix_path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
		    listen(fd, 128) < 0) {
			*err = xasprintf("unix socket %s: %s", cfg->unix_path,
					 strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		chmod(cfg->unix_path, 0600);
		if (http_add(fd, true, false, err) < 0)
			return -1;
	}
	if (cfg->listen) {
		if ((fd = http_tcp_socket(cfg->listen, err)) < 0 ||
		    http_add(fd, false, false, err) < 0)
			return -1;
	}
	if (cfg->tls_listen) {
		http_cert_pem = http_slurp(cfg->cert_file);
		http_key_pem = http_slurp(cfg->key_file);
		if (!http_cert_pem || !http_key_pem) {
			*err = xasprintf("cannot read TLS certificate %s / key %s",
					 cfg->cert_file, cfg->key_file);
			return -1;
		}
		if ((fd = http_tcp_socket(cfg->tls_listen, err)) < 0 ||
		    http_add(fd, false, true, err) < 0)
			return -1;
	}
	return 0;
}

void
http_stop(void)
{
	for (size_t i = 0; i < http_nls; i++)
		MHD_stop_daemon(http_ls[i].d);
	http_nls = 0;
	XFREE(http_cert_pem);
	XFREE(http_key_pem);
}

int
http_ensure_cert(const char *cert, const char *key, const char *host)
{
	struct stat st;
	if (stat(cert, &st) == 0 && stat(key, &st) == 0)
		return 0;
	char *subj = xasprintf("/CN=%s", host);
	char *argv[] = {"openssl", "req", "-x509", "-newkey", "rsa:2048",
			"-nodes", "-keyout", (char *)key, "-out", (char *)cert,
			"-days", "3650", "-subj", subj, NULL};
	pid_t pid;
	int status = -1;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	extern char **environ;
	int rc = posix_spawnp(&pid, "openssl", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	free(subj);
	if (rc != 0) {
		log_err("http", "cannot run openssl: %s", strerror(rc));
		return -1;
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		log_err("http", "openssl could not make a certificate");
		return -1;
	}
	chmod(key, 0600);
	log_info("http", "made a self-signed certificate %s", cert);
	return 0;
}
