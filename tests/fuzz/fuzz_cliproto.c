/*
 * Fuzz target for the thin-CLI decoder (src/util/cliproto.c): the bytes a
 * client (or server) sends are read as a handshake followed by messages,
 * with chunk bodies consumed raw, until the input ends or is rejected.
 * Every decoded message is re-encoded and decoded again to the same value.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "util/buf.h"
#include "util/cliproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_mem {
	const uint8_t *p;
	size_t left;
	struct buf out;
};

static ssize_t
fuzz_read(void *ctx, void *p, size_t n, int timeout_ms)
{
	struct fuzz_mem *m = ctx;

	(void)timeout_ms;
	if (n > m->left)
		n = m->left;
	memcpy(p, m->p, n);
	m->p += n;
	m->left -= n;
	return (ssize_t)n;
}

static int
fuzz_write(void *ctx, const void *p, size_t n)
{
	struct fuzz_mem *m = ctx;

	buf_add(&m->out, p, n);
	return 0;
}

/* Re-encodes msg and checks that it decodes to the same message. */
static void
fuzz_roundtrip(const struct cliproto_msg *msg)
{
	struct fuzz_mem mem = {0};
	struct cliproto_stream s;
	struct cliproto_msg again;
	size_t i;

	cliproto_stream_init_hooks(&s, fuzz_read, fuzz_write, &mem, 0);
	if (cliproto_write_msg(&s, msg) < 0)
		abort();
	mem.p = (const uint8_t *)mem.out.data;
	mem.left = mem.out.len;
	if (cliproto_read_msg(&s, &again) != 1 || again.type != msg->type ||
	    again.num != msg->num || again.nparams != msg->nparams ||
	    again.text_len != msg->text_len ||
	    (msg->text && memcmp(again.text, msg->text, msg->text_len)) ||
	    (msg->url && strcmp(again.url, msg->url)))
		abort();
	for (i = 0; i < msg->nparams; i++)
		if (strcmp(again.params[i], msg->params[i]) != 0)
			abort();
	cliproto_msg_free(&again);
	buf_free(&mem.out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_mem mem = {data, size, BUF_INIT};
	struct cliproto_stream s;
	struct cliproto_msg msg;
	int32_t major, minor;
	char *chunk;

	cliproto_stream_init_hooks(&s, fuzz_read, fuzz_write, &mem, 0);
	if (size > 0 && data[0] == 'X' &&
	    cliproto_read_handshake(&s, &major, &minor) < 0)
		return 0;
	while (cliproto_read_msg(&s, &msg) == 1) {
		fuzz_roundtrip(&msg);
		if (msg.type == CLIPROTO_CHUNK) {
			if ((size_t)msg.num > mem.left) {
				cliproto_msg_free(&msg);
				break;
			}
			chunk = malloc((size_t)msg.num + 1);
			if (cliproto_read_raw(&s, chunk, (size_t)msg.num) < 0)
				abort();
			free(chunk);
		}
		cliproto_msg_free(&msg);
	}
	cliproto_msg_free(&msg);
	return 0;
}
