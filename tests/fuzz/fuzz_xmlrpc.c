/*
 * libFuzzer target for the XML-RPC codec: the input is parsed as a
 * methodCall, a methodResponse and a <value> document; whatever parses is
 * written back out (and the written call must parse again to the same
 * parameters). Crashes, sanitizer reports and leaks are the findings.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/xmlrpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct buf b = BUF_INIT;
	struct xmlrpc_call call, again;
	struct xmlrpc_response resp;
	xv *v = NULL;

	if (xmlrpc_parse_call(text, size, &call) == XMLRPC_OK) {
		xmlrpc_write_success(&b, call.params);
		buf_reset(&b);
		xmlrpc_write_call(&b, call.method, call.params);
		/* Control characters are dropped on output, so only the
		 * well-formedness of the round trip is checked. */
		if (xmlrpc_parse_call(b.data, b.len, &again) != XMLRPC_OK)
			abort();
		xmlrpc_call_clear(&again);
	}
	xmlrpc_call_clear(&call);
	if (xmlrpc_parse_response(text, size, &resp) == XMLRPC_OK) {
		buf_reset(&b);
		if (resp.ok)
			xmlrpc_write_bare(&b, resp.value);
		else
			xmlrpc_write_failure_xv(&b, resp.error);
	}
	xmlrpc_response_clear(&resp);
	if (xmlrpc_parse_value(text, size, &v, NULL, 0) == XMLRPC_OK) {
		buf_reset(&b);
		xmlrpc_write_value(&b, v);
		xv_free(v);
	}
	buf_free(&b);
	return 0;
}
