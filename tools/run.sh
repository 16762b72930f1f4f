#!/bin/sh
# `make run`: starts a one-host pool in the foreground with its state under
# STATE (default ./run-state) and tells the user how to reach it with xe.
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
STATE=${1:-$TOP/run-state}
PORT=${XAPID_PORT:-8080}
TLS_PORT=${XAPID_TLS_PORT:-8443}
mkdir -p "$STATE"
if [ ! -s "$STATE/root.pw" ]; then
	head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$STATE/root.pw"
	echo >> "$STATE/root.pw"
	chmod 600 "$STATE/root.pw"
fi
PW=$(cat "$STATE/root.pw")
cat <<EOM
xapid: starting a one-host pool (state in $STATE)

  Local xe (Unix socket, no password):
    export XAPI_SOCKET=$STATE/xapi.sock
    $TOP/build/xe host-list
    $TOP/build/xe vm-list
  Remote xe / XenAPI clients:
    $TOP/build/xe -s 127.0.0.1 -p $PORT --nossl -u root -pw $PW pool-list
    XML-RPC: http://127.0.0.1:$PORT/   JSON-RPC: http://127.0.0.1:$PORT/jsonrpc
    HTTPS:   https://127.0.0.1:$TLS_PORT/ (self-signed certificate)
  root password: $PW   (in $STATE/root.pw)
  Logs: $STATE/xapid.log, audit: $STATE/audit.log.  Stop with Ctrl-C.

EOM
exec "$TOP/build/xapid" --state-dir "$STATE" --listen "0.0.0.0:$PORT" \
	--tls-listen "0.0.0.0:$TLS_PORT" --password-file "$STATE/root.pw" --foreground
