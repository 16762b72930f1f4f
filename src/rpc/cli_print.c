/* cli_print: xe's output layout (tables, lists, --minimal). */
#include "rpc/cli_print.h"

#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

void
cli_out_init(struct cli_out *out, int (*print)(void *, const char *),
	     int (*printerr)(void *, const char *), void *arg, bool minimal)
{
	memset(out, 0, sizeof(*out));
	out->print = print;
	out->printerr = printerr;
	out->arg = arg;
	out->minimal = minimal;
}

void
cli_out_free(struct cli_out *out)
{
	for (size_t i = 0; i < out->nchunks; i++)
		free(out->chunks[i]);
	free(out->chunks);
	out->chunks = NULL;
	out->nchunks = 0;
}

/* Sends one Print. */
static void
cli_out_send(struct cli_out *out, const char *text)
{
	if (out->failed)
		return;
	if (out->print(out->arg, text) < 0)
		out->failed = true;
}

/* Sends one PrintStderr. */
static void
cli_out_send_err(struct cli_out *out, const char *text)
{
	if (out->failed)
		return;
	if (out->printerr(out->arg, text) < 0)
		out->failed = true;
}

/* Keeps one comma-joined chunk for the minimal line. */
static void
cli_out_chunk(struct cli_out *out, char *chunk)
{
	out->chunks = xrealloc(out->chunks,
			       (out->nchunks + 1) * sizeof(*out->chunks));
	out->chunks[out->nchunks++] = chunk;
}

void
cli_escape_commas(struct buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == ',' || *s == '\\')
			buf_addc(b, '\\');
		buf_addc(b, *s);
	}
}

void
cli_format_record(struct buf *b, const struct cli_table_rec *r)
{
	size_t w = 0;

	for (size_t i = 0; i < r->n; i++) {
		size_t l = strlen(r->keys[i]);
		if (l > w)
			w = l;
	}
	w += 4;
	for (size_t i = 0; i < r->n; i++) {
		size_t l = strlen(r->keys[i]);
		size_t pad = l < w ? w - l : 0;

		if (i)
			buf_addc(b, '\n');
		if (i) {
			for (size_t j = 0; j < pad; j++)
				buf_addc(b, ' ');
			buf_adds(b, r->keys[i]);
		} else {
			buf_adds(b, r->keys[i]);
			for (size_t j = 0; j < pad; j++)
				buf_addc(b, ' ');
		}
		buf_adds(b, ": ");
		buf_adds(b, r->vals[i]);
	}
	buf_addc(b, '\n');
}

void
cli_out_table(struct cli_out *out, const struct cli_table_rec *recs, size_t n)
{
	struct buf b = BUF_INIT;

	if (out->minimal) {
		if (n == 0)
			return;
		for (size_t i = 0; i < n; i++)
			if (recs[i].n == 0)
				return;
		buf_adds(&b, "");
		for (size_t i = 0; i < n; i++) {
			if (i)
				buf_addc(&b, ',');
			cli_escape_commas(&b, recs[i].vals[0]);
		}
		cli_out_chunk(out, buf_steal(&b));
		return;
	}
	for (size_t i = 0; i < n; i++) {
		buf_reset(&b);
		cli_format_record(&b, &recs[i]);
		buf_addc(&b, '\n');
		cli_out_send(out, b.data);
	}
	buf_free(&b);
}

void
cli_out_list(struct cli_out *out, const char *const *items, size_t n)
{
	struct buf b = BUF_INIT;

	if (out->minimal) {
		buf_adds(&b, "");
		for (size_t i = 0; i < n; i++) {
			if (i)
				buf_addc(&b, ',');
			cli_escape_commas(&b, items[i]);
		}
		cli_out_chunk(out, buf_steal(&b));
		return;
	}
	for (size_t i = 0; i < n; i++)
		cli_out_send(out, items[i]);
}

void
cli_out_line(struct cli_out *out, const char *text)
{
	cli_out_list(out, &text, 1);
}

void
cli_out_msg(struct cli_out *out, const char *text)
{
	if (!out->minimal)
		cli_out_send(out, text);
}

void
cli_out_stderr(struct cli_out *out, const char *text)
{
	char *s;

	if (out->minimal)
		return;
	s = xasprintf("%s\n", text);
	cli_out_send_err(out, s);
	free(s);
}

void
cli_out_flush(struct cli_out *out)
{
	struct buf b = BUF_INIT;

	if (!out->minimal)
		return;
	buf_adds(&b, "");
	for (size_t i = out->nchunks; i > 0; i--) {
		if (i != out->nchunks)
			buf_addc(&b, ',');
		buf_adds(&b, out->chunks[i - 1]);
	}
	cli_out_send(out, b.data);
	buf_free(&b);
	cli_out_free(out);
}

void
cli_out_err(struct cli_out *out, const char *text)
{
	cli_out_send_err(out, text);
}

void
cli_out_raw(struct cli_out *out, const char *text)
{
	cli_out_send(out, text);
}

void
cli_out_apierr(struct cli_out *out, const char *code,
	       const char *const *params, size_t n)
{
	struct buf b = BUF_INIT;

	if (out->failed)
		return;
	if (out->error) {
		if (out->error(out->arg, code, params, n) < 0)
			out->failed = true;
		return;
	}
	buf_addf(&b, "Error code: %s\nError parameters: ", code);
	for (size_t i = 0; i < n; i++)
		buf_addf(&b, "%s%s", i ? ", " : "", params[i]);
	buf_addc(&b, '\n');
	cli_out_send_err(out, b.data);
	buf_free(&b);
}

void
cli_rec_add_own(struct cli_table_rec *r, char *key, char *val)
{
	r->keys = xrealloc(r->keys, (r->n + 1) * sizeof(*r->keys));
	r->vals = xrealloc(r->vals, (r->n + 1) * sizeof(*r->vals));
	r->keys[r->n] = key;
	r->vals[r->n] = val;
	r->n++;
}

void
cli_rec_add(struct cli_table_rec *r, const char *key, const char *val)
{
	cli_rec_add_own(r, xstrdup(key), xstrdup(val));
}

void
cli_rec_free(struct cli_table_rec *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->keys[i]);
		free(r->vals[i]);
	}
	free(r->keys);
	free(r->vals);
	memset(r, 0, sizeof(*r));
}
