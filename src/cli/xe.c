/*
 * xe: the thin command-line client. Sends its argv to the server's /cli
 * endpoint (HTTP upgraded to xapi's thin-CLI protocol) and does what the
 * server says: print, upload, download, prompt, exit.
 */
#include "cli/xe.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/xe_http.h"
#include "util/buf.h"
#include "util/xalloc.h"

#define XE_DEFAULT_SOCKET "/var/lib/xapid/xapi.sock"
#define XE_UPGRADE "xe-cli/0.2"
/* How long the server may take to accept the upgrade. */
#define XE_UPGRADE_TIMEOUT_MS (300 * 1000)
/* Largest ~/.xe or password file read. */
#define XE_SMALL_FILE_MAX (1024 * 1024)

static const char *xe_argv0 = "xe";
static int xe_debug_mode; /* 0 off, 1 stderr, 2 kept for failure */
static struct buf xe_debug_log = BUF_INIT;
/* The session's state, global so that xe_exit can release it. */
static struct xeargs xe_args;
static struct xe_target xe_where;
static struct xe_conn xe_server = {.fd = -1};

void
xe_debug(const char *fmt, ...)
{
	va_list ap;

	if (!xe_debug_mode)
		return;
	va_start(ap, fmt);
	if (xe_debug_mode == 1) {
		vfprintf(stderr, fmt, ap);
		fflush(stderr);
	} else {
		buf_vaddf(&xe_debug_log, fmt, ap);
	}
	va_end(ap);
}

void
xe_exit(int code)
{
	fflush(stdout);
	if (xe_debug_mode == 2 && code != 0 && xe_debug_log.len) {
		fputs("\nDebug info:\n\n", stderr);
		fwrite(xe_debug_log.data, 1, xe_debug_log.len, stderr);
	}
	buf_free(&xe_debug_log);
	fflush(stderr);
	xe_conn_close(&xe_server);
	xe_target_free(&xe_where);
	xeargs_free(&xe_args);
	exit(code);
}

void
xe_usage(void)
{
	fprintf(stderr,
	        "Usage:\n"
	        "  %s <command>\n"
	        "    [ -s <server> ]            XenServer host\n"
	        "    [ -p <port> ]              XenServer port number\n"
	        "    [ -u <username> -pw <password> | -pwf <password file> ]\n"
	        "                               User authentication (password"
	        " or file)\n"
	        "    [ --nossl ]                Disable SSL/TLS\n"
	        "    [ --debug ]                Enable debug output\n"
	        "    [ --debug-on-fail ]        Enable debug output only on"
	        " failure\n"
	        "    [ --minimal ]              Output only values in a"
	        " comma-separated lists\n"
	        "    [ --traceparent <value> ]  Distributed tracing context\n"
	        "    [ --trace ]                Show task stacktrace on"
	        " failure\n"
	        "    [ <other arguments> ... ]  Command-specific options\n"
	        "\n"
	        "A full list of commands can be obtained by running\n"
	        "  %s help -s <server> -p <port>\n",
	        xe_argv0, xe_argv0);
}

/* Reads a small file into a malloc'd string; NULL if it cannot. */
static char *
xe_read_small_file(const char *path)
{
	struct buf b = BUF_INIT;
	char tmp[4096];
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	buf_add(&b, "", 0);
	while (b.len < XE_SMALL_FILE_MAX) {
		n = read(fd, tmp, sizeof(tmp));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(fd);
			buf_free(&b);
			return NULL;
		}
		if (n == 0)
			break;
		buf_add(&b, tmp, (size_t)n);
	}
	close(fd);
	return buf_steal(&b);
}

/* Parses argv, the environment and ~/.xe; handles -version and usage. */
static void
xe_parse(struct xeargs *a, int argc, char **argv)
{
	const char *home = getenv("HOME");
	char *rc_path, *rc, *pw;
	int r;

	rc_path = xasprintf("%s/.xe", home ? home : "");
	rc = xe_read_small_file(rc_path);
	free(rc_path);
	r = xeargs_parse(a, (const char *const *)argv + 1, (size_t)argc - 1,
	                 getenv("XE_EXTRA_ARGS"), rc);
	free(rc);
	if (a->rc_error)
		fprintf(stderr, "Error parsing rc file. No defaults loaded\n");
	if (r < 0) {
		fprintf(stderr, "%s\n", a->err);
		xe_exit(1);
	}
	if (a->version) {
		printf("ThinCLI protocol: %d.%d\n", CLIPROTO_MAJOR,
		       CLIPROTO_MINOR);
		xe_exit(0);
	}
	if (a->password_file) {
		pw = xe_read_small_file(a->password_file);
		if (!pw) {
			fprintf(stderr, "Error opening password file '%s'\n",
			        a->password_file);
			xe_exit(1);
		}
		r = xeargs_apply_password_file(a, pw);
		explicit_bzero(pw, strlen(pw));
		free(pw);
		if (r < 0) {
			fprintf(stderr, "%s\n", a->err);
			xe_exit(1);
		}
	}
	if (a->debug)
		xe_debug_mode = 1;
	else if (a->debug_on_fail)
		xe_debug_mode = 2;
	if (a->help) {
		xe_usage();
		xe_exit(0);
	}
}

/* Chooses the transport: the local Unix socket for the default server
 * (127.0.0.1 without an explicit port), else TCP, with TLS unless --nossl
 * or the server is 127.0.0.1 (xe never uses TLS on-host). */
static void
xe_choose_target(const struct xeargs *a, struct xe_target *t)
{
	const char *sock = getenv("XAPI_SOCKET");
	int local = strcmp(a->server, XEARGS_LOCALHOST) == 0;
	size_t len;

	memset(t, 0, sizeof(*t));
	if (local && a->port < 0) {
		t->sock_path =
		    xstrdup(sock && *sock ? sock : XE_DEFAULT_SOCKET);
		return;
	}
	len = strlen(a->server);
	if (len > 2 && a->server[0] == '[' && a->server[len - 1] == ']')
		t->host = xstrndup(a->server + 1, len - 2);
	else
		t->host = xstrdup(a->server);
	t->tls = !a->nossl && !local;
	t->port = a->port >= 0 ? a->port : t->tls ? 443 : 80;
}

/* Sends POST /cli asking for the upgrade. */
static void
xe_send_request(struct xe_conn *c, const struct xeargs *a)
{
	struct buf req = BUF_INIT;
	const char *baggage = getenv("BAGGAGE");
	char *body = xeargs_body(a);
	size_t i;
	int r;

	for (i = 0; i < a->nwords; i++)
		xe_debug("arg: %s\n", a->words[i]);
	if (a->auth_given)
		xe_debug("arg: username=%s (and a password)\n", a->username);
	buf_addf(&req,
	         "POST /cli HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n"
	         "originator: cli\r\nConnection: Upgrade\r\nUpgrade: %s\r\n",
	         c->host_header, XE_HTTP_USER_AGENT, XE_UPGRADE);
	if (a->traceparent)
		buf_addf(&req, "traceparent: %s\r\n", a->traceparent);
	if (baggage)
		buf_addf(&req, "baggage: %s\r\n", baggage);
	buf_addf(&req, "Content-Length: %zu\r\n\r\n", strlen(body));
	buf_adds(&req, body);
	r = xe_conn_write(c, req.data, req.len);
	explicit_bzero(body, strlen(body));
	explicit_bzero(req.data, req.len);
	free(body);
	buf_free(&req);
	if (r < 0) {
		fprintf(stderr, "Error: sending the request failed: %s\n",
		        strerror(errno));
		xe_exit(1);
	}
}

/* Reads the answer to POST /cli; anything but 101 ends the program. */
static void
xe_read_upgrade(struct xe_conn *c)
{
	struct xe_http_resp r;
	struct xe_http_body b;
	char err[256], *body;

	if (xe_http_read_head(c, &r, XE_UPGRADE_TIMEOUT_MS, err, sizeof(err)) <
	    0) {
		xe_debug("reading the upgrade response: %s\n", err);
		fprintf(stderr, "Lost connection to the server.\n");
		xe_exit(1);
	}
	xe_debug("server: %s\n", r.status_line);
	if (r.status == 101) {
		xe_http_resp_free(&r);
		return;
	}
	xe_http_body_init(&b, c, &r, 10000);
	body = xe_http_body_slurp(&b, 64 * 1024);
	if (body[0]) {
		fputs(body, stderr);
		if (body[strlen(body) - 1] != '\n')
			fputc('\n', stderr);
	} else {
		fprintf(stderr, "%s\n", r.status_line);
	}
	free(body);
	xe_http_resp_free(&r);
	xe_exit(1);
}

int
main(int argc, char **argv)
{
	struct cliproto_stream s;
	char err[512], *where;

	signal(SIGPIPE, SIG_IGN);
	if (argc > 0)
		xe_argv0 = argv[0];
	xe_parse(&xe_args, argc, argv);
	xe_choose_target(&xe_args, &xe_where);
	where = xe_target_describe(&xe_where);
	xe_debug("Connecting to %s%s\n", where, xe_where.tls ? " (TLS)" : "");
	free(where);
	if (xe_conn_open(&xe_server, &xe_where, err, sizeof(err)) < 0) {
		fprintf(stderr, "Error: %s\n", err);
		fprintf(stderr, "Unable to contact server. Please check server"
		                " and port settings.\n");
		xe_exit(1);
	}
	xe_send_request(&xe_server, &xe_args);
	xe_read_upgrade(&xe_server);
	cliproto_stream_init_hooks(&s, xe_conn_read, xe_conn_write, &xe_server,
	                           -1);
	xe_exit(xe_loop_run(&s, &xe_where, &xe_args));
}
