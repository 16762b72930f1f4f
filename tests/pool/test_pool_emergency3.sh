#!/bin/sh
# XenServer's emergency path in a three-host pool that lost its majority:
# the master and another host are killed, the survivor (in emergency mode:
# it cannot elect itself) is made master with every write it had; the two
# others restart (together they are a majority of the old cluster, yet
# neither may become a second master) and end up its slaves, which
# pool-recover-slaves reports.
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/lib.sh"
trap 'pool_teardown; t_cleanup' EXIT

wait_for() {
	n=0
	lim=$1
	shift
	while [ $n -lt "$lim" ]; do
		"$@" > /dev/null 2>&1 && return 0
		sleep 0.1
		n=$((n + 1))
	done
	return 1
}
is_master_here() { [ "$(pool_local "$1" pool-list params=master --minimal 2>&1)" = "$2" ]; }
is_true() { [ "$("$@" 2>&1)" = true ]; }
has_1() { [ "$("$@" 2>&1)" = 1 ]; }
is_master() { [ "$(pool_replica "$1" master 2>&1)" = "$2" ]; }

if ! pool_make 3 || ! pool_join 2 > /dev/null || ! pool_join 3 > /dev/null; then
	not_ok "a pool of three"
	done_testing
	exit 1
fi
ok "a pool of three"
u1=$(pool_uuid 1)
u2=$(pool_uuid 2)
u3=$(pool_uuid 3)
for i in 1 2 3; do
	pool_xe 1 network-create name-label=before-$i > /dev/null
done
wait_for 300 has_1 pool_replica 3 count network name_label before-3
check "the survivor-to-be has the writes" 1 "$(pool_replica 3 count network name_label before-3)"

pool_stop 1 KILL
pool_stop 2 KILL
wait_for 600 is_true pool_local 3 host-is-in-emergency-mode
check "majority gone: the survivor is in emergency mode" true "$(pool_local 3 host-is-in-emergency-mode 2>&1)"
check "... and no master" "$u1" "$(pool_replica 3 master)"
check "pool-emergency-transition-to-master" \
	"Host agent will restart and transition to master in 10. seconds..." \
	"$(pool_local 3 pool-emergency-transition-to-master 2>&1)"
# the agent restarts as the master
wait_for 600 is_master_here 3 "$u3"
check "the survivor is the master" "$u3" "$(pool_local 3 pool-list params=master --minimal 2>&1)"
out=$(pool_xe 3 network-create name-label=after-1 2>&1)
echo "$out" | grep -q '^[0-9a-f-]\{36\}$' && ok "it writes" || not_ok "it writes" "$out"
check "the writes made before are there" "1 1 1" \
	"$(for i in 1 2 3; do pool_xe 3 network-list name-label=before-$i --minimal | grep -c .; done | xargs)"
check "the two dead hosts are not live" "false false" \
	"$(pool_xe 3 host-param-get uuid="$u1" param-name=host-metrics-live) $(pool_xe 3 host-param-get uuid="$u2" param-name=host-metrics-live)"

# both come back at once: a majority of the old cluster
pool_launch 1
pool_launch 2
pool_wait 1 || not_ok "h1 restarts"
pool_wait 2 || not_ok "h2 restarts"
wait_for 600 is_master 1 "$u3"
wait_for 600 is_master 2 "$u3"
check "the old master follows the survivor" "$u3" "$(pool_replica 1 master)"
check "the other one too" "$u3" "$(pool_replica 2 master)"
check "one master: h1 refuses logins" "Failure HOST_IS_SLAVE,$(pool_ip 3)" "$(pool_replica 1 login)"
check "... h2 refuses logins" "Failure HOST_IS_SLAVE,$(pool_ip 3)" "$(pool_replica 2 login)"
check "pool-recover-slaves reports both" "$(printf '%s\n%s\n' "$u1" "$u2" | sort | xargs)" \
	"$(pool_xe 3 pool-recover-slaves 2>&1 | sort | xargs)"
out=$(pool_local 2 network-create name-label=after-2 2>&1)
echo "$out" | grep -q '^[0-9a-f-]\{36\}$' && ok "writes through a slave" || not_ok "writes through a slave" "$out"
wait_for 300 has_1 pool_replica 1 count network name_label after-2
check "every write on every host" "1 1 1 1 1 1 1 1 1 1 1 1 1 1 1" \
	"$(for h in 1 2 3; do for n in before-1 before-2 before-3 after-1 after-2; do pool_replica $h count network name_label $n; done; done | xargs)"
wait_for 300 is_true pool_xe 3 host-param-get uuid="$u1" param-name=host-metrics-live
wait_for 300 is_true pool_xe 3 host-param-get uuid="$u2" param-name=host-metrics-live
check "both are live again" "true true" \
	"$(pool_xe 3 host-param-get uuid="$u1" param-name=host-metrics-live) $(pool_xe 3 host-param-get uuid="$u2" param-name=host-metrics-live)"
# the pool is whole again: losing one host of three fails over by itself
pool_stop 3 KILL
wait_for 600 sh -c "[ \"\$(python3 '$TOP/tests/pool/replica.py' '$(pool_ip 1)' '$(cat "$T_DIR/h1/pool-secret")' master)\" != '$u3' ]"
m=$(pool_replica 1 master)
[ "$m" = "$u1" ] || [ "$m" = "$u2" ] && ok "the rebuilt pool fails over on its own" ||
	not_ok "the rebuilt pool fails over on its own" "master: $m"
done_testing
