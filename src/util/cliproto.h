/*
 * cliproto: xapi's "thin CLI" protocol (version 0.2) spoken between `xe` and
 * the server's /cli endpoint once the HTTP connection has been upgraded.
 *
 * Wire format (reference/xenapi.md section 3.1): all integers are 32-bit
 * little-endian; a message is len:int32 + payload, the payload starting with
 * a tag (9 Command, 10 Response, 11 Blob) and a sub-tag. Strings are
 * len:int32 + bytes, lists count:int32 + items. A Blob Chunk message carries
 * only the chunk length: that many raw bytes follow the message on the
 * stream. The handshake is the literal prefix "XenSource thin CLI protocol"
 * + major:int32 + minor:int32, sent by the server first and answered by the
 * client.
 *
 * Every read is bounded by the stream's timeout (one deadline per call) and
 * every message by CLIPROTO_MAX_MSG. Functions return 0 on success and -1 on
 * failure with errno set (ETIMEDOUT, EMSGSIZE for an oversized message,
 * EPROTO for malformed data, ECONNRESET when the peer closes mid-message, or
 * the errno of the failed system call) and a description in the stream's err.
 */
#ifndef XAPID_UTIL_CLIPROTO_H
#define XAPID_UTIL_CLIPROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CLIPROTO_PREFIX "XenSource thin CLI protocol"
#define CLIPROTO_MAJOR 0
#define CLIPROTO_MINOR 2
/* Largest message payload accepted (raw chunk bytes are not counted). */
#define CLIPROTO_MAX_MSG (64u * 1024 * 1024)

/* Message types, flattened: commands (server to client), then responses and
 * blob headers (client to server). */
enum cliproto_type {
	CLIPROTO_PRINT,        /* text */
	CLIPROTO_PRINT_STDERR, /* text */
	CLIPROTO_DEBUG,        /* text */
	CLIPROTO_LOAD,         /* text = file name */
	CLIPROTO_PROMPT,       /* - */
	CLIPROTO_EXIT,         /* num = exit code */
	CLIPROTO_HTTP_GET,     /* text = file name, url */
	CLIPROTO_HTTP_PUT,     /* text = file name, url */
	CLIPROTO_HTTP_CONNECT, /* url */
	CLIPROTO_ERROR,        /* text = code, params */
	CLIPROTO_OK,
	CLIPROTO_FAILED,
	CLIPROTO_WAIT,
	CLIPROTO_CHUNK, /* num = length of the raw bytes that follow */
	CLIPROTO_END,
};

/* A decoded message. Strings are NUL-terminated copies (they may also
 * contain NULs; text_len is the true length). */
struct cliproto_msg {
	enum cliproto_type type;
	char *text;
	size_t text_len;
	char *url;
	int32_t num;
	char **params;
	size_t nparams;
};

/*
 * A byte stream: a plain fd, or a transport given by read/write hooks (the
 * client uses hooks for TLS and for bytes already buffered while reading
 * the HTTP response). read must wait at most timeout_ms (-1: forever) and
 * return the number of bytes read, 0 at end of stream, or -1 with errno
 * (ETIMEDOUT on timeout); write must write everything or return -1.
 */
struct cliproto_stream {
	int fd;
	int timeout_ms; /* per call; -1 waits forever */
	ssize_t (*read)(void *ctx, void *p, size_t n, int timeout_ms);
	int (*write)(void *ctx, const void *p, size_t n);
	void *ctx;
	int not_socket; /* fd is not a socket: use write(2), not send(2) */
	char err[160];  /* why the last call failed */
};

/* Makes s a stream over fd with the given timeout (-1: none). Does not take
 * ownership of fd. */
void cliproto_stream_init_fd(struct cliproto_stream *s, int fd, int timeout_ms);
/* Makes s a stream over the given hooks. */
void cliproto_stream_init_hooks(struct cliproto_stream *s,
                                ssize_t (*rd)(void *, void *, size_t, int),
                                int (*wr)(void *, const void *, size_t),
                                void *ctx, int timeout_ms);

/* Reads exactly n raw bytes (e.g. the body of a chunk) within the timeout. */
int cliproto_read_raw(struct cliproto_stream *s, void *p, size_t n);
/* Writes n raw bytes. */
int cliproto_write_raw(struct cliproto_stream *s, const void *p, size_t n);

/* Writes the handshake with our version (0.2). */
int cliproto_write_handshake(struct cliproto_stream *s);
/* Reads the peer's handshake. Fails with EPROTO ("not a thin CLI peer") if
 * the prefix differs; the version is not checked here. */
int cliproto_read_handshake(struct cliproto_stream *s, int32_t *major,
                            int32_t *minor);

/*
 * Reads one message into *m (which the caller frees with cliproto_msg_free,
 * also after a failure). Returns 1 for a message, 0 on a clean end of stream
 * before its first byte, -1 on error. Unknown tags fail with EPROTO; bytes
 * after a well-formed payload are ignored, as xapi does.
 */
int cliproto_read_msg(struct cliproto_stream *s, struct cliproto_msg *m);
/* Frees what *m owns and zeroes it. */
void cliproto_msg_free(struct cliproto_msg *m);
/* Writes any message (fields used per type as documented above). */
int cliproto_write_msg(struct cliproto_stream *s, const struct cliproto_msg *m);

/* Commands (server to client). */
int cliproto_write_print(struct cliproto_stream *s, const char *text);
int cliproto_write_print_stderr(struct cliproto_stream *s, const char *text);
int cliproto_write_debug(struct cliproto_stream *s, const char *text);
int cliproto_write_load(struct cliproto_stream *s, const char *file);
int cliproto_write_prompt(struct cliproto_stream *s);
int cliproto_write_exit(struct cliproto_stream *s, int code);
int cliproto_write_http_get(struct cliproto_stream *s, const char *file,
                            const char *url);
int cliproto_write_http_put(struct cliproto_stream *s, const char *file,
                            const char *url);
int cliproto_write_http_connect(struct cliproto_stream *s, const char *url);
int cliproto_write_error(struct cliproto_stream *s, const char *code,
                         const char *const *params, size_t nparams);

/* Responses (client to server): type is CLIPROTO_OK, _FAILED or _WAIT. */
int cliproto_write_response(struct cliproto_stream *s, enum cliproto_type type);
/* Blob header announcing len raw bytes; the caller writes them next. */
int cliproto_write_chunk_header(struct cliproto_stream *s, size_t len);
/* Blob header plus the len bytes at p. */
int cliproto_write_chunk(struct cliproto_stream *s, const void *p, size_t len);
/* Blob End. */
int cliproto_write_end(struct cliproto_stream *s);

/* Returns a static name for a type ("Print", "Response OK", ...). */
const char *cliproto_type_name(enum cliproto_type type);

#endif
