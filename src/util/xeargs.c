/* xeargs: `xe` argument, XE_EXTRA_ARGS and ~/.xe handling (no I/O). */
#include "xeargs.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "xalloc.h"

/* A growable list of owned strings. */
struct xeargs_list {
	char **v;
	size_t n;
	size_t cap;
};

static void
xeargs_list_push(struct xeargs_list *l, char *s)
{
	if (l->n + 2 > l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->v = xrealloc(l->v, l->cap * sizeof(char *));
	}
	l->v[l->n++] = s;
	l->v[l->n] = NULL;
}

static void
xeargs_list_free(struct xeargs_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int xeargs_fail(struct xeargs *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
xeargs_fail(struct xeargs *a, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(a->err, sizeof(a->err), fmt, ap);
	va_end(ap);
	return -1;
}

static void
xeargs_set(char **field, const char *v)
{
	free(*field);
	*field = xstrdup(v);
}

/* Port numbers are decimal 0..65535, as xapi's parse_port accepts. */
static int
xeargs_parse_port(const char *v, int *port)
{
	char *end;
	long p;

	if (!*v || isspace((unsigned char)*v))
		return -1;
	errno = 0;
	p = strtol(v, &end, 10);
	if (errno || *end || p < 0 || p > 65535)
		return -1;
	*port = (int)p;
	return 0;
}

/*
 * Sets connection keyword k to v. Returns 1 if k is one, 0 if it is not
 * (the word goes to the server), -1 on a bad value.
 */
static int
xeargs_keyword(struct xeargs *a, const char *k, const char *v)
{
	if (strcmp(k, "server") == 0) {
		xeargs_set(&a->server, v);
	} else if (strcmp(k, "port") == 0) {
		if (xeargs_parse_port(v, &a->port) < 0)
			return xeargs_fail(a, "Port number must be an integer"
			                      " (0-65535)");
	} else if (strcmp(k, "username") == 0) {
		xeargs_set(&a->username, v);
		a->auth_given = 1;
	} else if (strcmp(k, "password") == 0) {
		xeargs_set(&a->password, v);
		a->auth_given = 1;
	} else if (strcmp(k, "passwordfile") == 0) {
		xeargs_set(&a->password_file, v);
		a->auth_given = 1;
	} else if (strcmp(k, "nossl") == 0) {
		if (strcmp(v, "true") == 0)
			a->nossl = 1;
		else if (strcmp(v, "false") == 0)
			a->nossl = 0;
		else
			return xeargs_fail(a,
			                   "Invalid value for nossl: '%s'"
			                   " (expected true or false)",
			                   v);
	} else if (strcmp(k, "debug") == 0) {
		a->debug = strcmp(v, "true") == 0;
	} else if (strcmp(k, "debugonfail") == 0) {
		a->debug_on_fail = strcmp(v, "true") == 0;
	} else if (strcmp(k, "traceparent") == 0) {
		xeargs_set(&a->traceparent, v);
	} else {
		return 0;
	}
	return 1;
}

/* Splits word at its first '=' and tries it as a keyword. */
static int
xeargs_keyword_eq(struct xeargs *a, const char *word)
{
	const char *eq = strchr(word, '=');
	char *k;
	int r;

	if (!eq)
		return 0;
	k = xstrndup(word, (size_t)(eq - word));
	r = xeargs_keyword(a, k, eq + 1);
	free(k);
	return r;
}

/* Switches taking a value, with the keyword they set. */
static const struct {
	const char *sw;
	const char *key;
} xeargs_switches[] = {
    {"-s", "server"},
    {"-h", "server"},
    {"-p", "port"},
    {"-u", "username"},
    {"-pw", "password"},
    {"-pwf", "passwordfile"},
    {"--traceparent", "traceparent"},
};

/* Switches without a value. */
static const struct {
	const char *sw;
	const char *key;
} xeargs_flags[] = {
    {"--nossl", "nossl"},
    {"--debug", "debug"},
    {"--debug-on-fail", "debugonfail"},
};

/*
 * Processes words w[0..n) as xapi's process_args does: connection options
 * are consumed, everything else is appended to rest.
 */
static int
xeargs_process(struct xeargs *a, char *const *w, size_t n,
               struct xeargs_list *rest)
{
	size_t i = 0, j;
	int r, done;

	while (i < n) {
		done = 0;
		for (j = 0; j < sizeof(xeargs_flags) / sizeof(xeargs_flags[0]);
		     j++) {
			if (strcmp(w[i], xeargs_flags[j].sw) == 0) {
				if (xeargs_keyword(a, xeargs_flags[j].key,
				                   "true") < 0)
					return -1;
				i++;
				done = 1;
				break;
			}
		}
		for (j = 0;
		     !done && i + 1 < n &&
		     j < sizeof(xeargs_switches) / sizeof(xeargs_switches[0]);
		     j++) {
			if (strcmp(w[i], xeargs_switches[j].sw) == 0) {
				if (xeargs_keyword(a, xeargs_switches[j].key,
				                   w[i + 1]) < 0)
					return -1;
				i += 2;
				done = 1;
			}
		}
		if (done)
			continue;
		r = xeargs_keyword_eq(a, w[i]);
		if (r < 0)
			return -1;
		if (r == 0)
			xeargs_list_push(rest, xstrdup(w[i]));
		i++;
	}
	return 0;
}

/* Splits XE_EXTRA_ARGS at commas not preceded by a backslash and removes
 * the backslashes, exactly as xapi's client does. */
static void
xeargs_split_extra(const char *s, struct xeargs_list *out)
{
	size_t len = strlen(s), pos = 0, i = 0, k;
	struct buf seg = BUF_INIT;

	while (pos < len) {
		if (s[pos] == ',') {
			pos++;
			i = pos;
		} else if (i >= len || (s[i] == ',' && s[i - 1] != '\\')) {
			buf_reset(&seg);
			buf_add(&seg, "", 0);
			for (k = pos; k < i; k++)
				if (s[k] != '\\')
					buf_addc(&seg, s[k]);
			xeargs_list_push(out, xstrndup(seg.data, seg.len));
			i++;
			pos = i;
		} else {
			i++;
		}
	}
	buf_free(&seg);
}

/* Applies the rc text: key=value lines (empty lines skipped). A line
 * without '=' makes the whole file ignored. */
static int
xeargs_rc(struct xeargs *a, const char *text, struct xeargs_list *rest)
{
	struct xeargs_list lines = {0};
	const char *p = text, *nl;
	size_t i, len;
	int r = 0;

	while (*p) {
		nl = strchr(p, '\n');
		len = nl ? (size_t)(nl - p) : strlen(p);
		if (len > 0 && p[len - 1] == '\r')
			len--;
		if (len > 0) {
			if (!memchr(p, '=', len)) {
				a->rc_error = 1;
				xeargs_list_free(&lines);
				return 0;
			}
			xeargs_list_push(&lines, xstrndup(p, len));
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	for (i = 0; i < lines.n && r >= 0; i++) {
		r = xeargs_keyword_eq(a, lines.v[i]);
		if (r == 0)
			xeargs_list_push(rest, xstrdup(lines.v[i]));
	}
	xeargs_list_free(&lines);
	return r < 0 ? -1 : 0;
}

/* Appends src's words to a->words, turning "--flag" into "flag=true"
 * except for the first word (the command name). */
static void
xeargs_take(struct xeargs_list *words, const struct xeargs_list *src)
{
	size_t i;
	const char *w;

	for (i = 0; i < src->n; i++) {
		w = src->v[i];
		if (words->n > 0 && strncmp(w, "--", 2) == 0 && w[2] &&
		    !strchr(w, '='))
			xeargs_list_push(words, xasprintf("%s=true", w + 2));
		else
			xeargs_list_push(words, xstrdup(w));
	}
}

int
xeargs_parse(struct xeargs *a, const char *const *args, size_t nargs,
             const char *extra_args, const char *rc_text)
{
	struct xeargs_list rc_rest = {0}, extra = {0}, extra_rest = {0};
	struct xeargs_list cmd = {0}, cmd_rest = {0}, words = {0};
	size_t i;
	int r = -1;

	memset(a, 0, sizeof(*a));
	a->server = xstrdup(XEARGS_LOCALHOST);
	a->username = xstrdup("root");
	a->port = -1;
	for (i = 0; i < nargs; i++) {
		if (strcmp(args[i], "-version") == 0) {
			a->version = 1;
			return 0;
		}
	}
	if (rc_text && xeargs_rc(a, rc_text, &rc_rest) < 0)
		goto out;
	if (extra_args) {
		xeargs_split_extra(extra_args, &extra);
		if (xeargs_process(a, extra.v, extra.n, &extra_rest) < 0)
			goto out;
	}
	for (i = 0; i < nargs; i++) {
		if (strcmp(args[i], "-help") == 0 ||
		    strcmp(args[i], "--help") == 0)
			a->help = 1;
		else
			xeargs_list_push(&cmd, xstrdup(args[i]));
	}
	if (xeargs_process(a, cmd.v, cmd.n, &cmd_rest) < 0)
		goto out;
	xeargs_take(&words, &cmd_rest);
	xeargs_take(&words, &extra_rest);
	xeargs_take(&words, &rc_rest);
	for (i = 0; i < words.n; i++) {
		if (strchr(words.v[i], '\n')) {
			xeargs_fail(a, "Arguments must not contain newlines");
			goto out;
		}
	}
	if (words.n == 0)
		a->help = 1;
	a->words = words.v ? words.v : xcalloc(1, sizeof(char *));
	a->nwords = words.n;
	memset(&words, 0, sizeof(words));
	r = 0;
out:
	xeargs_list_free(&rc_rest);
	xeargs_list_free(&extra);
	xeargs_list_free(&extra_rest);
	xeargs_list_free(&cmd);
	xeargs_list_free(&cmd_rest);
	xeargs_list_free(&words);
	return r;
}

void
xeargs_free(struct xeargs *a)
{
	size_t i;

	free(a->server);
	free(a->username);
	free(a->password);
	free(a->password_file);
	free(a->traceparent);
	if (a->words) {
		for (i = 0; i < a->nwords; i++)
			free(a->words[i]);
		free(a->words);
	}
	memset(a, 0, sizeof(*a));
}

/* Copies the line at *p (without "\n" or "\r\n") and advances *p past it;
 * NULL at the end of text. */
static char *
xeargs_line(const char **p)
{
	const char *s = *p, *nl;
	size_t len;

	if (!*s)
		return NULL;
	nl = strchr(s, '\n');
	len = nl ? (size_t)(nl - s) : strlen(s);
	*p = nl ? nl + 1 : s + len;
	if (len > 0 && s[len - 1] == '\r')
		len--;
	return xstrndup(s, len);
}

int
xeargs_apply_password_file(struct xeargs *a, const char *text)
{
	const char *p = text;
	char *user, *pass;

	user = xeargs_line(&p);
	pass = user ? xeargs_line(&p) : NULL;
	if (!pass) {
		free(user);
		return xeargs_fail(a, "Error: password file format: expecting"
		                      " username on the first line, password"
		                      " on the second line");
	}
	free(a->username);
	free(a->password);
	a->username = user;
	a->password = pass;
	a->auth_given = 1;
	return 0;
}

char *
xeargs_body(const struct xeargs *a)
{
	struct buf b = BUF_INIT;
	size_t i;

	buf_add(&b, "", 0);
	for (i = 0; i < a->nwords; i++) {
		if (i)
			buf_addc(&b, '\n');
		buf_adds(&b, a->words[i]);
	}
	if (a->auth_given) {
		if (b.len)
			buf_addc(&b, '\n');
		buf_addf(&b, "username=%s\npassword=%s",
		         a->username ? a->username : "",
		         a->password ? a->password : "");
	}
	return buf_steal(&b);
}

char *
xeargs_canonicalize(const char *cwd, const char *path)
{
	struct buf in = BUF_INIT, out = BUF_INIT;
	const char *p, *seg;
	size_t len;
	char *slash;

	if (path[0] != '/')
		buf_addf(&in, "%s/", cwd && cwd[0] ? cwd : "/");
	buf_adds(&in, path);
	buf_add(&out, "", 0);
	buf_reserve(&out, in.len);
	for (p = in.data; *p;) {
		while (*p == '/')
			p++;
		seg = p;
		while (*p && *p != '/')
			p++;
		len = (size_t)(p - seg);
		if (len == 0 || (len == 1 && seg[0] == '.'))
			continue;
		if (len == 2 && seg[0] == '.' && seg[1] == '.') {
			slash = out.len ? strrchr(out.data, '/') : NULL;
			out.len = slash ? (size_t)(slash - out.data) : 0;
			out.data[out.len] = '\0';
			continue;
		}
		buf_addc(&out, '/');
		buf_add(&out, seg, len);
	}
	if (out.len == 0)
		buf_addc(&out, '/');
	buf_free(&in);
	return buf_steal(&out);
}

int
xeargs_file_permitted(const struct xeargs *a, const char *cwd, const char *file,
                      int allow_cwd)
{
	char *want = xeargs_canonicalize(cwd, file), *c;
	const char *eq, *v;
	size_t i;
	int ok = 0;

	if (allow_cwd) {
		c = xeargs_canonicalize(cwd, ".");
		ok = strcmp(c, want) == 0;
		free(c);
	}
	for (i = 0; !ok && i < a->nwords; i++) {
		eq = strchr(a->words[i], '=');
		if (!eq)
			continue;
		for (v = eq + 1; isspace((unsigned char)*v); v++)
			;
		if (!*v)
			continue;
		c = xeargs_canonicalize(cwd, eq + 1);
		ok = strcmp(c, want) == 0;
		free(c);
	}
	free(want);
	return ok;
}
