/*
 * qmp_parse: one QMP message (a line of QEMU's output) to a struct
 * qmp_msg. Pure and separate from the client so that the fuzz target links
 * only this. Anything that is not a JSON object shaped like a greeting, a
 * reply (return/error) or an event is rejected, never trusted.
 */
#include <string.h>

#include "util/xalloc.h"
#include "vm/qemu/qmp.h"

void
qmp_msg_clear(struct qmp_msg *msg)
{
	if (!msg)
		return;
	json_decref(msg->root);
	memset(msg, 0, sizeof(*msg));
	msg->id = -1;
}

int
qmp_parse_message(const char *text, size_t len, struct qmp_msg *msg, char **err)
{
	json_error_t je;
	json_t *root, *v, *id;

	memset(msg, 0, sizeof(*msg));
	msg->id = -1;
	root = json_loadb(text, len, 0, &je);
	if (!root) {
		if (err)
			*err = xasprintf("malformed QMP message: %s", je.text);
		return QMP_EPROTO;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		if (err)
			*err = xstrdup("malformed QMP message: not an object");
		return QMP_EPROTO;
	}
	msg->root = root;
	id = json_object_get(root, "id");
	if (json_is_integer(id) && json_integer_value(id) >= 0)
		msg->id = json_integer_value(id);
	if ((v = json_object_get(root, "return"))) {
		msg->type = QMP_MSG_RETURN;
		msg->ret = v;
	} else if ((v = json_object_get(root, "error"))) {
		if (!json_is_object(v))
			goto bad;
		msg->type = QMP_MSG_ERROR;
		msg->err_class = json_string_value(json_object_get(v, "class"));
		msg->err_desc = json_string_value(json_object_get(v, "desc"));
		if (!msg->err_class)
			msg->err_class = "GenericError";
		if (!msg->err_desc)
			msg->err_desc = "(no description)";
	} else if ((v = json_object_get(root, "event"))) {
		json_t *ts = json_object_get(root, "timestamp");
		if (!json_is_string(v))
			goto bad;
		msg->type = QMP_MSG_EVENT;
		msg->event = json_string_value(v);
		msg->data = json_object_get(root, "data");
		if (msg->data && !json_is_object(msg->data))
			goto bad;
		if (json_is_object(ts))
			msg->timestamp =
				(double)json_integer_value(json_object_get(ts, "seconds")) +
				(double)json_integer_value(json_object_get(ts, "microseconds")) /
					1e6;
	} else if ((v = json_object_get(root, "QMP"))) {
		json_t *q = json_object_get(json_object_get(v, "version"), "qemu");
		if (!json_is_object(v))
			goto bad;
		msg->type = QMP_MSG_GREETING;
		msg->version[0] = (int)json_integer_value(json_object_get(q, "major"));
		msg->version[1] = (int)json_integer_value(json_object_get(q, "minor"));
		msg->version[2] = (int)json_integer_value(json_object_get(q, "micro"));
	} else {
		goto bad;
	}
	return QMP_OK;
bad:
	qmp_msg_clear(msg);
	if (err)
		*err = xstrdup("malformed QMP message: not a greeting, reply or event");
	return QMP_EPROTO;
}
