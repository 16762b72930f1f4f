#!/bin/sh
# `make run`: starts a one-host pool with its state under STATE (default
# ./run-state), boots the demo VM (tools/build-guest.sh's guest) and tells the
# user how to reach everything with xe. Ctrl-C stops the demo VM and xapid.
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
STATE=${1:-$TOP/run-state}
PORT=${XAPID_PORT:-8080}
TLS_PORT=${XAPID_TLS_PORT:-8443}
BACKEND=${XAPID_VM_BACKEND:-qemu}
NET=${XAPID_DEMO_NET:-10.71.0}
export XAPID_GUEST_CACHE=${XAPID_GUEST_CACHE:-/var/cache/xapid/guest}
mkdir -p "$STATE"
if [ ! -s "$STATE/root.pw" ]; then
	head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$STATE/root.pw"
	echo >> "$STATE/root.pw"
	chmod 600 "$STATE/root.pw"
fi
PW=$(cat "$STATE/root.pw")
XE="$TOP/build/xe"
export XAPI_SOCKET="$STATE/xapi.sock"

echo "xapid: building the demo guest (cached after the first time)..."
bash "$TOP/tools/build-guest.sh" "$XAPID_GUEST_CACHE" > "$STATE/build-guest.log" 2>&1 ||
	{ echo "build-guest failed: see $STATE/build-guest.log"; exit 1; }

# its own session: Ctrl-C reaches this script, which stops the demo VM first
setsid "$TOP/build/xapid" --state-dir "$STATE" --listen "0.0.0.0:$PORT" \
	--tls-listen "0.0.0.0:$TLS_PORT" --password-file "$STATE/root.pw" \
	--vm-backend "$BACKEND" --foreground &
XAPID_PID=$!
DEMO=
stop() {
	trap - INT TERM EXIT
	if [ -n "$DEMO" ]; then
		echo "stopping the demo VM..."
		"$XE" vm-shutdown uuid="$DEMO" --force > /dev/null 2>&1 || true
	fi
	kill "$XAPID_PID" 2>/dev/null || true
	wait "$XAPID_PID" 2>/dev/null || true
}
trap stop INT TERM EXIT
i=0
until "$XE" host-list > /dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 300 ] || { echo "xapid did not start: see $STATE/xapid.log"; exit 1; }
	kill -0 "$XAPID_PID" 2>/dev/null || { echo "xapid exited: see $STATE/xapid.log"; exit 1; }
	sleep 0.1
done

DEMO=$("$XE" vm-list name-label=demo params=uuid --minimal)
if [ -z "$DEMO" ]; then
	DEMO=$("$XE" vm-install template="xapid test guest" new-name-label=demo)
	NETW=$("$XE" network-list bridge=xenbr0 params=uuid --minimal)
	"$XE" vif-create vm-uuid="$DEMO" network-uuid="$NETW" device=0 > /dev/null
	"$XE" vm-param-set uuid="$DEMO" PV-args="console=ttyS0 quiet xapid.ip=$NET.2/24 xapid.gw=$NET.1"
fi
if [ "$("$XE" vm-param-get uuid="$DEMO" param-name=power-state)" != running ]; then
	"$XE" vm-start uuid="$DEMO"
fi
ip addr add "$NET.1/24" dev xenbr0 2>/dev/null || true
printf 'waiting for the demo VM to report its address'
i=0
while [ $i -lt 120 ]; do
	nets=$("$XE" vm-param-get uuid="$DEMO" param-name=networks 2>/dev/null || true)
	case "$nets" in *ip:*) break ;; esac
	printf '.'
	sleep 1
	i=$((i + 1))
done
echo
cat <<EOM

xapid is running a one-host pool (state in $STATE).

  Local xe (Unix socket, no password):
    export XAPI_SOCKET=$STATE/xapi.sock
    $XE vm-list params=name-label,power-state,networks
    $XE host-list
  Remote xe / XenAPI clients:
    $XE -s 127.0.0.1 -p $PORT --nossl -u root -pw $PW pool-list
    XML-RPC: http://127.0.0.1:$PORT/   JSON-RPC: http://127.0.0.1:$PORT/jsonrpc
    HTTPS:   https://127.0.0.1:$TLS_PORT/ (self-signed certificate)
  root password: $PW   (in $STATE/root.pw)
  The demo VM "demo" ($DEMO):
$("$XE" vm-list uuid="$DEMO" params=name-label,power-state,networks | sed 's/^/    /')
  Its serial console log: $STATE/vms/$DEMO/console.log
  Logs: $STATE/xapid.log, audit: $STATE/audit.log.  Stop with Ctrl-C.
EOM
wait "$XAPID_PID"
