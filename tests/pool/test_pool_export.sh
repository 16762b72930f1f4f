#!/bin/sh
# Transfers through the master of disks only another member sees (h2's
# local SR): the master answers 302 to that member (xapi export.ml,
# import.ml, export_raw_vdi.ml, import_raw_vdi.ml), whose xapid takes the
# master's session (sessions are pool-wide) and reports on the master's
# task; `xe` follows the redirect, re-sending an upload's body.
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/lib.sh"
trap 'pool_teardown; t_cleanup' EXIT
if ! pool_make 2 || ! pool_join 2 > /dev/null; then
	not_ok "a pool of two"
	done_testing
	exit 1
fi
ok "a pool of two"
u2=$(pool_uuid 2)
# a disk on h2's local SR
sr2=$(pool_xe 1 pbd-list host-uuid="$u2" params=sr-uuid --minimal | tr ',' '\n' |
	while read s; do [ "$(pool_xe 1 sr-param-get uuid=$s param-name=type)" = ext ] && echo $s; done | head -1)
vdi=$(pool_xe 1 vdi-create sr-uuid="$sr2" name-label=on-h2 virtual-size=4MiB)
vm=$(pool_xe 1 vm-install template="Other install media" new-name-label=exp-h2)
pool_xe 1 vbd-create vm-uuid="$vm" vdi-uuid="$vdi" device=0 > /dev/null

curl -s -D "$T_DIR/h.txt" -o /dev/null --unix-socket "$T_DIR/h1/xapi.sock" \
	"http://localhost/export?uuid=$vm&use_compression=false"
check "the master redirects" 302 "$(head -1 "$T_DIR/h.txt" | cut -d' ' -f2)"
loc=$(grep -i '^location:' "$T_DIR/h.txt" | tr -d '\r' | cut -d' ' -f2)
check "to h2, with the same query" "https://$(pool_ip 2)/export?uuid=$vm&use_compression=false" "$loc"
curl -s -D "$T_DIR/h2.txt" -o /dev/null --unix-socket "$T_DIR/h2/xapi.sock" \
	"http://localhost/export?uuid=$vm"
check "h2 serves it itself" 200 "$(head -1 "$T_DIR/h2.txt" | cut -d' ' -f2)"

# a known pattern into the disk, through the master (PUT /import_raw_vdi
# redirected before the body; xe sends it to h2)
head -c 4194304 /dev/urandom > "$T_DIR/pat.raw"
out=$(pool_xe 1 vdi-import uuid="$vdi" filename="$T_DIR/pat.raw" format=raw 2>&1)
check "xe vdi-import through the master" "0:" "$?:$out"
pool_xe 1 vdi-export uuid="$vdi" filename="$T_DIR/back.raw" format=raw > "$T_DIR/ve.out" 2>&1
check "xe vdi-export through the master" 0 "$?"
check "the bytes came back" "$(sha256sum < "$T_DIR/pat.raw")" "$(sha256sum < "$T_DIR/back.raw" 2>/dev/null)"

# the whole VM: exported through the master, imported back into h2's SR
out=$(pool_xe 1 vm-export vm="$vm" filename="$T_DIR/vm.xva" 2>&1)
check "xe vm-export through the master" "0:Export succeeded" "$?:$out"
new=$(pool_xe 1 vm-import filename="$T_DIR/vm.xva" sr-uuid="$sr2" 2>&1)
check "xe vm-import into h2's SR through the master" 0 "$?"
nvdi=$(pool_xe 1 vbd-list vm-uuid="$new" params=vdi-uuid --minimal 2>&1)
check "the import's disk is on h2's SR" "$sr2" "$(pool_xe 1 vdi-param-get uuid="$nvdi" param-name=sr-uuid 2>&1)"
pool_xe 1 vdi-export uuid="$nvdi" filename="$T_DIR/back2.raw" format=raw > /dev/null 2>&1
check "with the same bytes" "$(sha256sum < "$T_DIR/pat.raw")" "$(sha256sum < "$T_DIR/back2.raw" 2>/dev/null)"
# xe on h2's own socket: the command runs on the master, the transfer
# comes back to h2 with the master's session (and a disk on h1's SR goes
# from h2 to h1 by a redirect)
rm -f "$T_DIR/vm2.xva"
out=$(pool_local 2 vm-export vm="$vm" filename="$T_DIR/vm2.xva" 2>&1)
check "xe vm-export on h2's socket" "0:Export succeeded" "$?:$out"
check "the same XVA size" "$(stat -c %s "$T_DIR/vm.xva")" "$(stat -c %s "$T_DIR/vm2.xva" 2>/dev/null)"
sr1=$(pool_xe 1 pool-list params=default-SR --minimal)
vdi1=$(pool_xe 1 vdi-create sr-uuid="$sr1" name-label=on-h1 virtual-size=4MiB)
out=$(pool_local 2 vdi-import uuid="$vdi1" filename="$T_DIR/pat.raw" format=raw 2>&1)
check "xe vdi-import on h2's socket into h1's SR" "0:" "$?:$out"
rm -f "$T_DIR/back3.raw"
pool_local 2 vdi-export uuid="$vdi1" filename="$T_DIR/back3.raw" format=raw > /dev/null 2>&1
check "and back" "$(sha256sum < "$T_DIR/pat.raw")" "$(sha256sum < "$T_DIR/back3.raw" 2>/dev/null)"

# vm-import url= into h2's SR: the master has h2 fetch it
WPORT=$(free_port)
(cd "$T_DIR" && exec python3 -m http.server --bind "$POOL_NET.1" "$WPORT") > /dev/null 2>&1 &
WWW=$!
trap 'kill $WWW 2>/dev/null; pool_teardown; t_cleanup' EXIT
i=0
while ! curl -s -o /dev/null "http://$POOL_NET.1:$WPORT/vm.xva" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
new3=$(pool_xe 1 vm-import url="http://$POOL_NET.1:$WPORT/vm.xva" sr-uuid="$sr2" 2>&1)
check "vm-import url= into h2's SR through the master" "exp-h2" "$(pool_xe 1 vm-param-get uuid="$new3" param-name=name-label 2>&1)"
n3=$(pool_xe 1 vbd-list vm-uuid="$new3" params=vdi-uuid --minimal 2>&1)
check "its disk is on h2's SR" "$sr2" "$(pool_xe 1 vdi-param-get uuid="$n3" param-name=sr-uuid 2>&1)"
check "h2 fetched it" 1 "$(grep -c "import from http://$POOL_NET.1" "$T_DIR/h2.out")"
kill $WWW 2>/dev/null
pool_xe 1 vm-uninstall uuid="$new3" --force > /dev/null

# a failure on h2 reaches the master's task and xe
head -c 3000000 "$T_DIR/vm.xva" > "$T_DIR/cut.xva"
out=$(pool_xe 1 vm-import filename="$T_DIR/cut.xva" sr-uuid="$sr2" 2>&1)
rc=$?
check "a truncated XVA fails through the master" "1" "$rc"
echo "$out" | sed 's/^/# /'
check "and leaves no VM" "2" "$(pool_xe 1 vm-list name-label=exp-h2 --minimal | tr ',' '\n' | grep -c .)"
check "no task left pending on the master" "" "$(pool_xe 1 task-list status=pending --minimal)"

# an HTTP client of its own (as backup tools are): a session made on the
# master is good on h2; a made-up one is not, nor one logged out
big=$(pool_xe 1 vdi-create sr-uuid="$sr2" name-label=big virtual-size=1GiB)
python3 - "$(pool_ip 1)" "$(pool_ip 2)" "$POOL_PW" "$vdi" "$T_DIR/pat.raw" "$big" <<'EOF' > "$T_DIR/py.out" 2>&1
import hashlib, http.client, ssl, sys, time, urllib.parse, xmlrpc.client
m, h2, pw, vdi, pat = sys.argv[1:6]
x = xmlrpc.client.ServerProxy("http://%s/" % m)
s = x.session.login_with_password("root", pw, "1.0", "test")["Value"]
vref = x.VDI.get_by_uuid(s, vdi)["Value"]
ctx = ssl._create_unverified_context()

def req(method, url, body=None):
    u = urllib.parse.urlsplit(url)
    if u.scheme == "https":
        c = http.client.HTTPSConnection(u.hostname, u.port or 443, context=ctx, timeout=120)
    else:
        c = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=120)
    if body is None:
        c.request(method, u.path + "?" + u.query)
    else:
        # as a careful uploader: Expect: 100-continue, the body only after
        # "100 Continue" (a redirect comes before it)
        c.putrequest(method, u.path + "?" + u.query)
        c.putheader("Content-Length", str(len(body)))
        c.putheader("Expect", "100-continue")
        c.endheaders()
        fp = c.sock.makefile("rb")
        line = fp.readline()
        if b" 100 " in line:
            while fp.readline() not in (b"\r\n", b"\n", b""):
                pass
            c.send(body)
            line = fp.readline()
        status = int(line.split()[1])
        hdrs = {}
        while True:
            h = fp.readline().decode()
            if h in ("\r\n", "\n", ""):
                break
            k, _, v = h.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        return status, hdrs.get("location"), b""
    r = c.getresponse()
    data = r.read()
    return r.status, r.getheader("Location"), data

q = "/export_raw_vdi?session_id=%s&vdi=%s&format=raw" % (s, vref)
st, loc, _ = req("GET", "http://%s%s" % (m, q))
print("get", st, loc.startswith("https://%s/export_raw_vdi?" % h2))
st, _, data = req("GET", loc)
print("followed", st, hashlib.sha256(data).hexdigest() == hashlib.sha256(open(pat, "rb").read()).hexdigest())
body = open(pat, "rb").read()
st, loc, _ = req("PUT", "http://%s/import_raw_vdi?session_id=%s&vdi=%s&format=raw" % (m, s, vref), body)
print("put", st, loc is not None and loc.startswith("https://%s/import_raw_vdi?" % h2))
st, _, _ = req("PUT", loc, body)
print("put followed", st)
st, _, data = req("GET", "https://%s/export_raw_vdi?session_id=OpaqueRef:made-up&vdi=%s" % (h2, vref))
print("made up", st, data.decode().split()[0])
s2 = x.session.login_with_password("root", pw, "1.0", "test")["Value"]
x.session.logout(s2)
st, _, data = req("GET", "https://%s/export_raw_vdi?session_id=%s&vdi=%s" % (h2, s2, vref))
print("logged out", st, data.decode().split()[0])

# a task of the master cancelled while h2 serves the transfer
big = sys.argv[6]
bref = x.VDI.get_by_uuid(s, big)["Value"]
size = int(x.VDI.get_virtual_size(s, bref)["Value"])
t = x.task.create(s, "export", "")["Value"]
st, loc, _ = req("GET", "http://%s/export_raw_vdi?session_id=%s&task_id=%s&vdi=%s" % (m, s, t, bref))
u = urllib.parse.urlsplit(loc)
c = http.client.HTTPSConnection(u.hostname, 443, context=ctx, timeout=120)
c.request("GET", u.path + "?" + u.query)
r = c.getresponse()
got = len(r.read(1 << 20))
x.task.cancel(s, t)
while True:
    try:
        b = r.read(1 << 20)
    except http.client.IncompleteRead as e:
        got += len(e.partial)
        break
    if not b:
        break
    got += len(b)
for i in range(600):
    status = x.task.get_status(s, t)["Value"]
    if status != "pending" and status != "cancelling":
        break
    time.sleep(0.1)
print("cancel", got < size, status)
EOF
check "python: the master redirects GET /export_raw_vdi" "get 302 True" "$(sed -n 1p "$T_DIR/py.out")"
check "python: h2 serves it with the master's session" "followed 200 True" "$(sed -n 2p "$T_DIR/py.out")"
check "python: PUT /import_raw_vdi redirected before the body" "put 302 True" "$(sed -n 3p "$T_DIR/py.out")"
check "python: h2 takes the upload" "put followed 200" "$(sed -n 4p "$T_DIR/py.out")"
check "a made-up session is refused on h2" "made up 403 SESSION_INVALID" "$(sed -n 5p "$T_DIR/py.out")"
check "a logged-out one too" "logged out 403 SESSION_INVALID" "$(sed -n 6p "$T_DIR/py.out")"
check "cancelling the master's task stops h2's export" "cancel True failure" "$(sed -n 7p "$T_DIR/py.out")"
[ "${t_failed:-0}" -gt 0 ] && sed 's/^/# /' "$T_DIR/py.out"
for p in /export /import /export_raw_vdi /import_raw_vdi; do
	n=$(grep -c " $p redirected to $(pool_ip 2)\$" "$T_DIR/h1.out")
	check "the master sent $p to h2" true "$([ "$n" -ge 1 ] && echo true)"
done
for p in /import_raw_vdi /export_raw_vdi; do
	n=$(grep -c " $p redirected to $(pool_ip 1)\$" "$T_DIR/h2.out")
	check "h2 sent $p to h1" true "$([ "$n" -ge 1 ] && echo true)"
done
done_testing
