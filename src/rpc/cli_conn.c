/* cli_conn: server-side helpers for one thin-CLI session on an upgraded socket.
 */
#include "rpc/cli_conn.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Records a failure in conn->err; marks the connection broken if asked. */
static int cli_conn_fail(struct cli_conn *conn, int broken, const char *fmt,
                         ...) __attribute__((format(printf, 3, 4)));

static int
cli_conn_fail(struct cli_conn *conn, int broken, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(conn->err, sizeof(conn->err), fmt, ap);
	va_end(ap);
	if (broken)
		conn->broken = 1;
	return -1;
}

/* Converts the result of a cliproto call into ours. */
static int
cli_conn_io(struct cli_conn *conn, int r, const char *what)
{
	if (r >= 0)
		return 0;
	return cli_conn_fail(conn, 1, "%s: %s", what, conn->io.err);
}

/* Fails at once on a broken connection. */
static int
cli_conn_check(struct cli_conn *conn)
{
	if (conn->broken)
		return cli_conn_fail(conn, 1, "connection already failed");
	return 0;
}

/* Reads the next client message; end of stream is an error here. */
static int
cli_conn_read(struct cli_conn *conn, struct cliproto_msg *m)
{
	int r;

	r = cliproto_read_msg(&conn->io, m);
	if (r < 0) {
		cliproto_msg_free(m);
		return cli_conn_fail(conn, 1, "reading from client: %s",
		                     conn->io.err);
	}
	if (r == 0)
		return cli_conn_fail(conn, 1, "client closed the connection");
	return 0;
}

/* A message the protocol does not allow here breaks the connection. */
static int
cli_conn_unexpected(struct cli_conn *conn, struct cliproto_msg *m,
                    const char *when)
{
	cli_conn_fail(conn, 1, "unexpected %s from client %s",
	              cliproto_type_name(m->type), when);
	cliproto_msg_free(m);
	return -1;
}

void
cli_conn_init(struct cli_conn *conn, int fd)
{
	memset(conn, 0, sizeof(*conn));
	cliproto_stream_init_fd(&conn->io, fd, CLI_CONN_TIMEOUT_MS);
	conn->load_max = CLI_CONN_LOAD_MAX;
}

int
cli_conn_handshake(struct cli_conn *conn)
{
	if (cli_conn_check(conn) < 0)
		return -1;
	if (cliproto_write_handshake(&conn->io) < 0)
		return cli_conn_io(conn, -1, "sending handshake");
	if (cliproto_read_handshake(&conn->io, &conn->client_major,
	                            &conn->client_minor) < 0)
		return cli_conn_io(conn, -1, "reading client handshake");
	if (conn->client_major != CLIPROTO_MAJOR)
		return cli_conn_fail(conn, 1,
		                     "client protocol version %d.%d, need %d.x",
		                     (int)conn->client_major,
		                     (int)conn->client_minor, CLIPROTO_MAJOR);
	return 0;
}

int
cli_conn_print(struct cli_conn *conn, const char *text)
{
	if (cli_conn_check(conn) < 0)
		return -1;
	return cli_conn_io(conn, cliproto_write_print(&conn->io, text),
	                   "sending Print");
}

int
cli_conn_printerr(struct cli_conn *conn, const char *text)
{
	if (cli_conn_check(conn) < 0)
		return -1;
	return cli_conn_io(conn, cliproto_write_print_stderr(&conn->io, text),
	                   "sending PrintStderr");
}

int
cli_conn_debug(struct cli_conn *conn, const char *text)
{
	if (cli_conn_check(conn) < 0)
		return -1;
	return cli_conn_io(conn, cliproto_write_debug(&conn->io, text),
	                   "sending Debug");
}

int
cli_conn_error(struct cli_conn *conn, const char *code,
               const char *const *params, size_t n)
{
	if (cli_conn_check(conn) < 0)
		return -1;
	return cli_conn_io(conn,
	                   cliproto_write_error(&conn->io, code, params, n),
	                   "sending Error");
}

int
cli_conn_exit(struct cli_conn *conn, int code)
{
	if (cli_conn_check(conn) < 0)
		return -1;
	return cli_conn_io(conn, cliproto_write_exit(&conn->io, code),
	                   "sending Exit");
}

/*
 * Reads Blob Chunk messages (each followed by its raw bytes) up to Blob End,
 * appending at most max bytes to out.
 */
static int
cli_conn_read_blob(struct cli_conn *conn, struct buf *out, size_t max,
                   const char *what)
{
	struct cliproto_msg m;
	size_t total = 0, n;

	for (;;) {
		if (cli_conn_read(conn, &m) < 0)
			return -1;
		if (m.type == CLIPROTO_END) {
			cliproto_msg_free(&m);
			return 0;
		}
		if (m.type != CLIPROTO_CHUNK)
			return cli_conn_unexpected(conn, &m, what);
		n = (size_t)m.num;
		cliproto_msg_free(&m);
		if (n > max - total)
			return cli_conn_fail(conn, 1,
			                     "client sent more than %zu bytes"
			                     " %s",
			                     max, what);
		buf_reserve(out, n);
		if (cliproto_read_raw(&conn->io, out->data + out->len, n) < 0)
			return cli_conn_io(conn, -1, "reading blob");
		out->len += n;
		out->data[out->len] = '\0';
		total += n;
	}
}

int
cli_conn_prompt(struct cli_conn *conn, struct buf *line)
{
	if (cli_conn_check(conn) < 0)
		return -1;
	if (cliproto_write_prompt(&conn->io) < 0)
		return cli_conn_io(conn, -1, "sending Prompt");
	buf_reset(line);
	buf_add(line, "", 0);
	return cli_conn_read_blob(conn, line, CLI_CONN_PROMPT_MAX,
	                          "answering Prompt");
}

int
cli_conn_load(struct cli_conn *conn, const char *filename, struct buf *out)
{
	struct cliproto_msg m;

	if (cli_conn_check(conn) < 0)
		return -1;
	if (cliproto_write_load(&conn->io, filename) < 0)
		return cli_conn_io(conn, -1, "sending Load");
	if (cli_conn_read(conn, &m) < 0)
		return -1;
	if (m.type == CLIPROTO_FAILED) {
		cliproto_msg_free(&m);
		return cli_conn_fail(conn, 0, "client could not read file %s",
		                     filename);
	}
	if (m.type != CLIPROTO_OK)
		return cli_conn_unexpected(conn, &m, "answering Load");
	cliproto_msg_free(&m);
	buf_add(out, "", 0);
	return cli_conn_read_blob(conn, out, conn->load_max,
	                          "uploading a file");
}

/* Waits for the final answer to an HttpGet/HttpPut, skipping Wait. */
static int
cli_conn_http_wait(struct cli_conn *conn, const char *what)
{
	struct cliproto_msg m;

	for (;;) {
		if (cli_conn_read(conn, &m) < 0)
			return -1;
		switch (m.type) {
		case CLIPROTO_WAIT:
			cliproto_msg_free(&m);
			continue;
		case CLIPROTO_OK:
			cliproto_msg_free(&m);
			return 0;
		case CLIPROTO_FAILED:
			cliproto_msg_free(&m);
			return cli_conn_fail(conn, 0,
			                     "client reports %s failed", what);
		default:
			return cli_conn_unexpected(conn, &m, what);
		}
	}
}

int
cli_conn_http_get(struct cli_conn *conn, const char *filename, const char *url)
{
	if (cli_conn_check(conn) < 0)
		return -1;
	if (cliproto_write_http_get(&conn->io, filename, url) < 0)
		return cli_conn_io(conn, -1, "sending HttpGet");
	return cli_conn_http_wait(conn, "HttpGet");
}

int
cli_conn_http_connect(struct cli_conn *conn, const char *url)
{
	if (cli_conn_check(conn) < 0)
		return -1;
	if (cliproto_write_http_connect(&conn->io, url) < 0)
		return cli_conn_io(conn, -1, "sending HttpConnect");
	return cli_conn_http_wait(conn, "HttpConnect");
}

int
cli_conn_http_put(struct cli_conn *conn, const char *filename, const char *url)
{
	if (cli_conn_check(conn) < 0)
		return -1;
	if (cliproto_write_http_put(&conn->io, filename, url) < 0)
		return cli_conn_io(conn, -1, "sending HttpPut");
	return cli_conn_http_wait(conn, "HttpPut");
}
