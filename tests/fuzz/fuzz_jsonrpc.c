/*
 * libFuzzer target for the JSON-RPC codec: the input is parsed as a request
 * and as a response; whatever parses is written back out, and the written
 * request must parse again to the same parameters.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/jsonrpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct buf b = BUF_INIT;
	struct jsonrpc_call call, again;
	struct jsonrpc_response resp;
	int r = jsonrpc_parse_call(text, size, &call);

	if (r == JSONRPC_OK) {
		jsonrpc_write_success(&b, call.version, call.id, call.params);
		buf_reset(&b);
		jsonrpc_write_call(&b, call.version, 1, call.method,
				   call.params);
		/* Non-finite floats are written as xapi does (NaN), which is
		 * not JSON; everything else must survive the round trip. */
		if (!strstr(b.data, "NaN") && !strstr(b.data, "Infinity")) {
			if (jsonrpc_parse_call(b.data, b.len, &again) !=
				    JSONRPC_OK ||
			    !xv_equal(again.params, call.params))
				abort();
			jsonrpc_call_clear(&again);
		}
	} else if (r == JSONRPC_INVALID_VALUE) {
		const char *p[] = {"Invalid UTF-8 string in parameter",
				   call.bad};
		jsonrpc_write_failure(&b, call.version, call.id,
				      "INVALID_VALUE", p, 2);
	}
	jsonrpc_call_clear(&call);
	if (jsonrpc_parse_response(text, size, &resp) == JSONRPC_OK) {
		buf_reset(&b);
		if (resp.ok)
			jsonrpc_write_success(&b, resp.version, resp.id,
					      resp.value);
		else
			jsonrpc_write_failure_xv(&b, resp.version, resp.id,
						 resp.error);
	}
	jsonrpc_response_clear(&resp);
	buf_free(&b);
	return 0;
}
