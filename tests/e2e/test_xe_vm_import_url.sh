#!/bin/sh
# xe vm-import url= (cli_operations.ml vm_import -> VM.import, xapi_vm.ml
# import): the host fetches the XVA itself over HTTP, following redirects
# (at most five); any other answer is IMPORT_ERROR and leaves nothing;
# url= and filename= together are refused.
. "$(dirname "$0")/lib.sh"

XAPID_EXTRA_ARGS=${XAPID_EXTRA_ARGS:---vm-backend sim}
start_xapid h1 || { not_ok "xapid starts"; done_testing; exit 1; }
sr=$($XE pool-list params=default-SR --minimal)
vm=$($XE vm-install template="Other install media" new-name-label=src)
vdi=$($XE vdi-create sr-uuid="$sr" name-label=d0 virtual-size=4MiB)
$XE vbd-create vm-uuid="$vm" vdi-uuid="$vdi" device=0 > /dev/null
head -c 4194304 /dev/urandom > "$T_DIR/pat.raw"
$XE vdi-import uuid="$vdi" filename="$T_DIR/pat.raw" format=raw
mkdir "$T_DIR/www"
$XE vm-export vm="$vm" filename="$T_DIR/www/vm.xva" > /dev/null

# a web server of our own: /hop/N redirects N times, then to the file
WPORT=$(free_port)
python3 - "$T_DIR/www" "$WPORT" <<'PY' > "$T_DIR/www.log" 2>&1 &
import http.server, os, sys
root, port = sys.argv[1], int(sys.argv[2])
class H(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *a, **k):
        super().__init__(*a, directory=root, **k)
    def do_GET(self):
        if self.path.startswith("/hop/"):
            n = int(self.path.split("/")[2])
            self.send_response(302)
            self.send_header("Location", "/hop/%d" % (n - 1) if n > 1 else "/vm.xva")
            self.end_headers()
            return
        super().do_GET()
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY
WWW=$!
trap 'kill $WWW 2>/dev/null; t_cleanup' EXIT
i=0
while ! curl -s -o /dev/null "http://127.0.0.1:$WPORT/vm.xva" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done

new=$($XE vm-import url="http://127.0.0.1:$WPORT/vm.xva" 2>&1)
check "vm-import url= prints the new VM" "src" "$($XE vm-param-get uuid="$new" param-name=name-label 2>&1)"
nvdi=$($XE vbd-list vm-uuid="$new" params=vdi-uuid --minimal)
$XE vdi-export uuid="$nvdi" filename="$T_DIR/back.raw" format=raw > /dev/null
check "with the disk's bytes" "$(sha256sum < "$T_DIR/pat.raw")" "$(sha256sum < "$T_DIR/back.raw")"
new2=$($XE vm-import url="http://127.0.0.1:$WPORT/hop/5" sr-uuid="$sr" 2>&1)
check "five redirects are followed" "src" "$($XE vm-param-get uuid="$new2" param-name=name-label 2>&1)"
out=$($XE vm-import url="http://127.0.0.1:$WPORT/vm.xva" preserve=true 2>&1)
check "preserve=true: the VM exists, as xapi says" "1" "$?"
# the API itself, as a task (Async.VM.import), from an XML-RPC client
python3 - "$PORT" "$PASSWORD" "http://127.0.0.1:$WPORT/vm.xva" <<'PY' > "$T_DIR/py.out" 2>&1
import sys, time, xmlrpc.client
port, pw, url = sys.argv[1:]
x = xmlrpc.client.ServerProxy("http://127.0.0.1:%s/" % port)
s = x.session.login_with_password("root", pw, "1.0", "test")["Value"]
sr = x.pool.get_default_SR(s, x.pool.get_all(s)["Value"][0])["Value"]
t = getattr(x, "Async.VM.import")(s, url, sr, False, False)["Value"]
for i in range(1200):
    st = x.task.get_status(s, t)["Value"]
    if st != "pending":
        break
    time.sleep(0.1)
print(st, x.task.get_progress(s, t)["Value"], "OpaqueRef:" in x.task.get_result(s, t)["Value"])
bad = getattr(x, "VM.import")(s, url + ".nosuch", sr, False, False)
print(bad["Status"], bad["ErrorDescription"])
PY
check "Async.VM.import: the task succeeds with the VM refs" "success 1.0 True" "$(sed -n 1p "$T_DIR/py.out")"
check "VM.import of a missing file: IMPORT_ERROR" "Failure ['IMPORT_ERROR', 'HTTP status 404']" "$(sed -n 2p "$T_DIR/py.out")"
nvms=$($XE vm-list name-label=src --minimal | tr ',' '\n' | grep -c .)
out=$($XE vm-import url="http://127.0.0.1:$WPORT/hop/6" 2>&1)
check "a sixth is not" "1" "$?"
echo "$out" | grep -q "IMPORT_ERROR\|could not be imported" && echo "$out" | grep -q "Maximum redirect limit reached" &&
	ok "IMPORT_ERROR saying why" || not_ok "redirect limit error" "$out"
out=$($XE vm-import url="http://127.0.0.1:$WPORT/nosuch.xva" 2>&1)
check "a 404 fails" "1" "$?"
echo "$out" | grep -q "HTTP status 404" && ok "IMPORT_ERROR [HTTP status 404]" || not_ok "404 error" "$out"
head -c 3000000 "$T_DIR/www/vm.xva" > "$T_DIR/www/cut.xva"
out=$($XE vm-import url="http://127.0.0.1:$WPORT/cut.xva" 2>&1)
check "a truncated XVA fails" "1" "$?"
out=$($XE vm-import url="ftp://127.0.0.1/vm.xva" 2>&1)
check "an ftp URL is refused" "1" "$?"
out=$($XE vm-import url="http://127.0.0.1:$WPORT/vm.xva" filename="$T_DIR/www/vm.xva" 2>&1)
check "url= with filename= is refused" "1" "$?"
check "no VM left by the failures" "$nvms" "$($XE vm-list name-label=src --minimal | tr ',' '\n' | grep -c .)"
check "no disk left" 4 "$($XE vdi-list name-label=d0 --minimal | tr ',' '\n' | grep -c .)"
done_testing
