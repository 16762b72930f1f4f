/*
 * Fuzz target for the QMP message parser (src/vm/qemu/qmp_parse.c): the
 * input is split into lines as the monitor's reader thread splits QEMU's
 * output, and each line is parsed. Accepted messages must be consistent
 * (a reply has its value, an error its class and description, an event its
 * name and an object or no data); rejected ones must say why and hold
 * nothing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vm/qemu/qmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Parses one line and checks the result. */
static void
fuzz_line(const char *line, size_t len)
{
	struct qmp_msg msg;
	char *err = NULL;

	if (qmp_parse_message(line, len, &msg, &err) != QMP_OK) {
		if (!err || msg.root)
			abort();
		free(err);
		return;
	}
	switch (msg.type) {
	case QMP_MSG_RETURN:
		if (!msg.ret)
			abort();
		break;
	case QMP_MSG_ERROR:
		if (!msg.err_class || !msg.err_desc)
			abort();
		break;
	case QMP_MSG_EVENT:
		if (!msg.event || (msg.data && !json_is_object(msg.data)))
			abort();
		break;
	case QMP_MSG_GREETING:
		break;
	}
	qmp_msg_clear(&msg);
	qmp_msg_clear(&msg);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t start = 0;

	while (start <= size) {
		const uint8_t *nl = memchr(data + start, '\n', size - start);
		size_t end = nl ? (size_t)(nl - data) : size;
		fuzz_line((const char *)data + start, end - start);
		if (!nl)
			break;
		start = end + 1;
	}
	return 0;
}
