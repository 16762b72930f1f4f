#!/bin/sh
# The multi-host harness itself: three hosts in their own network namespaces,
# each answering xe over its own address; a cut host stops answering and
# answers again once healed; everything is torn down afterwards.
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/lib.sh"
trap 'pool_teardown; t_cleanup' EXIT
if ! pool_make 3; then
	not_ok "three hosts in namespaces start"
	done_testing
	exit 1
fi
ok "three hosts in namespaces start"
for k in 1 2 3; do
	check "host h$k answers on $(pool_ip $k)" "h$k" "$(pool_xe $k host-list params=name-label --minimal)"
done
u1=$(pool_xe 1 host-list params=uuid --minimal)
u2=$(pool_xe 2 host-list params=uuid --minimal)
[ -n "$u1" ] && [ "$u1" != "$u2" ] && ok "each host has its own identity" || not_ok "each host has its own identity"
pool_cut 2
timeout 5 "$XE" -s "$(pool_ip 2)" -p 80 --nossl -u root -pw "$POOL_PW" host-list > /dev/null 2>&1
[ $? -ne 0 ] && ok "a cut host does not answer" || not_ok "a cut host does not answer"
check "the others still do" h3 "$(pool_xe 3 host-list params=name-label --minimal)"
pool_heal 2
check "a healed host answers again" h2 "$(pool_xe 2 host-list params=name-label --minimal)"
pool_stop 1 KILL
pool_start 1 || not_ok "h1 restarts"
got=$(pool_xe 1 host-list params=uuid --minimal 2> "$T_DIR/restart.err")
check "a killed host restarts with its identity" "$u1" "$got"
[ "$got" = "$u1" ] || { sed 's/^/# xe: /' "$T_DIR/restart.err"; tail -5 "$T_DIR/h1.out" | sed 's/^/# h1: /'; }
done_testing
