#!/bin/sh
# Authenticated getter calls/s over XML-RPC with keep-alive on loopback,
# beside a bare libmicrohttpd responder measured in the same run.
#   bench/bench_rpc.sh [SECONDS] [THREADS]
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
SECS=${1:-5}
THREADS=${2:-4}
XAPID=${XAPID:-$TOP/build/xapid}
T=$(mktemp -d /tmp/xapid-bench.XXXXXX)
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
P1=$(port); P2=$(port)
echo secret > "$T/pw"
"$XAPID" --state-dir "$T/s" --listen 127.0.0.1:$P1 --no-tls --password-file "$T/pw" > "$T/xapid.out" 2>&1 &
XP=$!
"$TOP/build/bench/mhd_bare" $P2 &
MP=$!
trap 'kill $XP $MP 2>/dev/null; wait $XP $MP 2>/dev/null; rm -rf "$T"' EXIT
python3 - "$P1" "$T/body.xml" <<'PY'
import sys, time, xmlrpc.client
port, out = sys.argv[1], sys.argv[2]
for _ in range(200):
    try:
        s = xmlrpc.client.ServerProxy("http://127.0.0.1:%s" % port)
        sid = s.session.login_with_password("root", "secret")["Value"]
        break
    except OSError:
        time.sleep(0.05)
host = s.host.get_all(sid)["Value"][0]
open(out, "w").write(xmlrpc.client.dumps((sid, host), "host.get_name_label"))
PY
sleep 0.3
ours=$("$TOP/build/bench/rpcload" 127.0.0.1 $P1 / "$T/body.xml" $THREADS $SECS)
peer=$("$TOP/build/bench/rpcload" 127.0.0.1 $P2 / "$T/body.xml" $THREADS $SECS)
r1=$(echo "$ours" | awk '{print $6}')
r2=$(echo "$peer" | awk '{print $6}')
echo "xapid host.get_name_label (authenticated, keep-alive, $THREADS conns): $ours"
echo "bare libmicrohttpd responder (same threading):                 $peer"
awk -v a="$r1" -v b="$r2" 'BEGIN { printf "getter calls/s: xapid %d, bare MHD %d, ratio %.2f (goal: xapid >= 20000/s)\n", a, b, a / b }'
