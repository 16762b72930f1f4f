#!/bin/sh
# GET /export of a VM whose disks only another member sees: the host asked
# answers 302 to that member (xapi export.ml), which serves it.
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
# (xe vm-export through the master does not follow it yet: the session the
# master's CLI made is not known to h2, which answers SESSION_INVALID)
done_testing
