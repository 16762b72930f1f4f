/* xva_url: VM.import(url, sr, full_restore, force), an XVA the host fetches
 * itself over HTTP or HTTPS (xapi_vm.ml import: a GET, up to five
 * redirects followed, IMPORT_ERROR for any other answer, the body read as
 * an upload of PUT /import is). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/xe_conn.h"
#include "rpc/api_int.h"
#include "storage/xva.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/xalloc.h"

/* xapi_vm.ml max_redirects */
#define XU_MAX_REDIRECTS 5
/* A server that sends nothing for this long has gone (ms). */
#define XU_IDLE_MS (10 * 60 * 1000)
#define XU_HEAD_MAX (64 * 1024)
#define XU_BLOCK ((size_t)1 << 20)

struct xu_resp {
	int status;
	char *location;
	long long length; /* -1: until the close */
	bool chunked;
};

/* IMPORT_ERROR [what: arg] (xapi's import_error_generic) */
static struct api_err *
xu_error(const char *what, const char *arg)
{
	char *m = arg ? xasprintf("%s %s", what, arg) : xstrdup(what);
	struct api_err *e = api_error(XE_IMPORT_ERROR, m, NULL);
	free(m);
	return e;
}

/* Reads and parses a response head. */
static struct api_err *
xu_read_head(struct xe_conn *c, struct xu_resp *r)
{
	struct buf b = BUF_INIT;
	char ch;
	memset(r, 0, sizeof(*r));
	r->length = -1;
	for (;;) {
		ssize_t n = xe_conn_read(c, &ch, 1, XU_IDLE_MS);
		if (n <= 0) {
			buf_free(&b);
			return api_error(XE_IMPORT_ERROR_PREMATURE_EOF, NULL);
		}
		buf_addc(&b, ch);
		if (b.len >= 4 &&
		    memcmp(b.data + b.len - 4, "\r\n\r\n", 4) == 0)
			break;
		if (b.len > XU_HEAD_MAX) {
			buf_free(&b);
			return xu_error("HTTP response head too long", NULL);
		}
	}
	char *save = NULL, *line = strtok_r(b.data, "\r\n", &save);
	if (!line || sscanf(line, "HTTP/%*d.%*d %d", &r->status) != 1) {
		struct api_err *e = xu_error(line ? line : "no status", NULL);
		buf_free(&b);
		return e;
	}
	while ((line = strtok_r(NULL, "\r\n", &save))) {
		char *v = strchr(line, ':');
		if (!v)
			continue;
		*v++ = '\0';
		v += strspn(v, " \t");
		if (strcasecmp(line, "location") == 0)
			r->location = xstrdup(v);
		else if (strcasecmp(line, "content-length") == 0)
			r->length = strtoll(v, NULL, 10);
		else if (strcasecmp(line, "transfer-encoding") == 0)
			r->chunked = strcasestr(v, "chunked") != NULL;
	}
	buf_free(&b);
	return NULL;
}

/* Progress of the Async task (ctx: the task ref); false once cancelled. */
static bool
xu_progress(void *ctx, double frac)
{
	const char *task = ctx;
	if (!task)
		return true;
	task_set_progress(task, frac);
	return !task_cancelling(task);
}

/* The body of r on c into a new import. */
static struct api_err *
xu_import(struct xe_conn *c, const struct xu_resp *r,
          const struct xva_import_req *rq, xv **vms)
{
	struct xva_import *im = NULL;
	struct api_err *e = xva_import_begin(rq, &im);
	char *buf = xmalloc(XU_BLOCK);
	long long got = 0;
	while (!e && (r->length < 0 || got < r->length)) {
		size_t want = XU_BLOCK;
		if (r->length >= 0 && (long long)want > r->length - got)
			want = (size_t)(r->length - got);
		ssize_t n = xe_conn_read(c, buf, want, XU_IDLE_MS);
		if (n == 0 && r->length < 0)
			break;
		if (n <= 0) {
			e = api_error(XE_IMPORT_ERROR_PREMATURE_EOF, NULL);
			break;
		}
		got += n;
		e = xva_import_feed(im, buf, (size_t)n);
		if (!e && rq->task && r->length > 0 &&
		    !xu_progress((void *)rq->task,
		                 (double)got / (double)r->length))
			e = api_error(XE_TASK_CANCELLED, rq->task, NULL);
	}
	free(buf);
	if (!e)
		e = xva_import_end(im, vms);
	xva_import_abort(im); /* frees; undoes unless complete */
	log_info("xva", "import from a URL: %lld bytes read%s", got,
	         e ? ", failed" : "");
	return e;
}

/* VM.import(session, url, sr, full_restore, force) */
static struct api_err *
xu_api_import(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	struct xva_import_req rq = {
	    .sr = args[1]->u.s,
	    .task = ctx->task,
	    .restore = args[2]->u.b,
	    .force = args[3]->u.b,
	    .progress = xu_progress,
	    .ctx = ctx->task,
	};
	struct xe_target base = {0}, t;
	struct api_err *e = NULL;
	char *url = xstrdup(args[0]->u.s), *path = NULL, err[256];
	(void)nargs;
	for (int hops = 0;; hops++) {
		struct xe_conn c;
		struct xu_resp r;
		if (hops > XU_MAX_REDIRECTS) {
			e = xu_error("Maximum redirect limit reached", NULL);
			break;
		}
		if ((strncasecmp(url, "http://", 7) != 0 &&
		     strncasecmp(url, "https://", 8) != 0) ||
		    xe_target_from_url(&base, url, &t, &path) < 0) {
			e = xu_error("Unsupported URL", url);
			break;
		}
		log_info("xva", "import from %s%s",
		         t.tls ? "https://" : "http://", t.host);
		if (xe_conn_open(&c, &t, err, sizeof(err)) < 0) {
			e = xu_error(err, NULL);
			xe_target_free(&t);
			break;
		}
		char *req =
		    xasprintf("GET %s HTTP/1.1\r\nHost: %s\r\n"
		              "User-Agent: xapid\r\n"
		              "Connection: close\r\n\r\n",
		              path, c.host_header ? c.host_header : t.host);
		if (xe_conn_write(&c, req, strlen(req)) < 0)
			e = api_error(XE_IMPORT_ERROR_PREMATURE_EOF, NULL);
		free(req);
		XFREE(path);
		xe_target_free(&t);
		if (!e)
			e = xu_read_head(&c, &r);
		if (e) {
			xe_conn_close(&c);
			break;
		}
		if (r.status / 100 == 3) {
			xe_conn_close(&c);
			if (!r.location) {
				e = xu_error("Redirect with no new location",
				             NULL);
				break;
			}
			char *next = r.location;
			if (next[0] == '/') { /* a path on the same server */
				const char *h = strstr(url, "://") + 3;
				next = xasprintf(
				    "%.*s%s",
				    (int)(h + strcspn(h, "/?#") - url), url,
				    r.location);
				free(r.location);
			}
			free(url);
			url = next;
			continue;
		}
		free(r.location);
		if (r.status != 200) {
			char s[16];
			snprintf(s, sizeof(s), "%d", r.status);
			e = xu_error("HTTP status", s);
		} else if (r.chunked) {
			e = api_error(XE_IMPORT_ERROR_CANNOT_HANDLE_CHUNKED,
			              NULL);
		} else {
			e = xu_import(&c, &r, &rq, result);
		}
		xe_conn_close(&c);
		break;
	}
	free(url);
	return e;
}

void
xva_url_register(void)
{
	api_register("VM.import", xu_api_import, 0);
}
