#!/bin/sh
# Runs the npm xen-api client test against a private xapid.
. "$(dirname "$0")/lib.sh"
if [ ! -d "$TOP/tests/e2e/node_modules/xen-api" ]; then
	echo "1..0 # SKIP npm xen-api not installed"
	exit 0
fi
start_xapid js || { not_ok "xapid starts"; done_testing; exit 1; }
node "$TOP/tests/e2e/test_xenapi_js.mjs" "http://127.0.0.1:$PORT" "$PASSWORD"
rc=$?
stop_xapid
trap - EXIT
t_cleanup
exit $rc
