#!/bin/sh
# XenServer's emergency path in a two-host pool: the master is killed, the
# slave goes into emergency mode (normal calls refused), is made master by
# pool-emergency-transition-to-master with every write it had, and the old
# master, restarted, becomes its slave (never a second master). Wrong
# addresses for pool-emergency-reset-master are refused and change nothing.
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/lib.sh"
trap 'pool_teardown; t_cleanup' EXIT

# wait_for N CMD...: runs CMD every 0.1 s until it succeeds (N tries)
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
is_false() { [ "$("$@" 2>&1)" = false ]; }
has_1() { [ "$("$@" 2>&1)" = 1 ]; }

if ! pool_make 2 || ! pool_join 2 > /dev/null; then
	not_ok "a pool of two"
	done_testing
	exit 1
fi
ok "a pool of two"
u1=$(pool_uuid 1)
u2=$(pool_uuid 2)
for i in 1 2 3; do
	pool_xe 1 network-create name-label=before-$i > /dev/null
done
wait_for 300 has_1 pool_replica 2 count network name_label before-3
check "the slave has the master's writes" 1 "$(pool_replica 2 count network name_label before-3)"

pool_stop 1 KILL
wait_for 600 is_true pool_local 2 host-is-in-emergency-mode
check "master killed: the slave is in emergency mode" true "$(pool_local 2 host-is-in-emergency-mode 2>&1)"
check_rc "... normal xe commands are refused" 1 pool_local 2 network-list
grep -q "still initialising" "$T_DIR/last.out" "$T_DIR/last.err" &&
	ok "... with HOST_STILL_BOOTING" || not_ok "... with HOST_STILL_BOOTING" "$(cat "$T_DIR/last.out" "$T_DIR/last.err")"
check "... and so are logins over TCP" "Failure HOST_STILL_BOOTING" "$(pool_replica 2 login)"

check "pool-emergency-transition-to-master" \
	"Host agent will restart and transition to master in 10. seconds..." \
	"$(pool_local 2 pool-emergency-transition-to-master 2>&1)"
# the agent restarts as the master
wait_for 600 is_master_here 2 "$u2"
check "no longer in emergency mode" false "$(pool_local 2 host-is-in-emergency-mode 2>&1)"
check "it is the master" "$u2" "$(pool_local 2 pool-list params=master --minimal 2>&1)"
check "a second transition says so" \
	"Host agent is already master. Use '--force' to execute the operation anyway." \
	"$(pool_local 2 pool-emergency-transition-to-master 2>&1)"
out=$(pool_xe 2 network-create name-label=after-1 2>&1)
echo "$out" | grep -q '^[0-9a-f-]\{36\}$' && ok "the new master writes" ||
	not_ok "the new master writes" "$out"
check "the writes made before are there" "1 1 1" \
	"$(for i in 1 2 3; do pool_xe 2 network-list name-label=before-$i --minimal | grep -c .; done | xargs)"
check "the POOL_MASTER_TRANSITION alert names it" "$u2" \
	"$(pool_xe 2 message-list name=POOL_MASTER_TRANSITION params=obj-uuid --minimal 2>&1)"
check "the dead master shows as not live" false \
	"$(pool_xe 2 host-param-get uuid="$u1" param-name=host-metrics-live 2>&1)"
check "pool-recover-slaves with the slave down recovers nobody" "" \
	"$(pool_xe 2 pool-recover-slaves 2>&1)"

pool_start 1 || not_ok "h1 restarts"
wait_for 600 has_1 pool_replica 1 count network name_label after-1
check "the old master came back as a slave of the new one" "$u2" "$(pool_replica 1 master)"
check "... and refuses logins (HOST_IS_SLAVE)" "Failure HOST_IS_SLAVE,$(pool_ip 2)" "$(pool_replica 1 login)"
check "one master: the new one takes logins (TCP)" "$u2" "$(pool_xe 2 pool-list params=master --minimal 2>&1)"
check "... with every write" "1 1 1 1" \
	"$(for n in before-1 before-2 before-3 after-1; do pool_replica 1 count network name_label $n; done | xargs)"
out=$(pool_local 1 network-create name-label=via-old 2>&1)
echo "$out" | grep -q '^[0-9a-f-]\{36\}$' && ok "writes through the old master go to the new one" ||
	not_ok "writes through the old master go to the new one" "$out"
check "... and reach both" "1 1" \
	"$(pool_replica 2 count network name_label via-old) $(pool_replica 1 count network name_label via-old)"
wait_for 300 is_true pool_xe 2 host-param-get uuid="$u1" param-name=host-metrics-live
check "the old master is live again" true \
	"$(pool_xe 2 host-param-get uuid="$u1" param-name=host-metrics-live 2>&1)"

# wrong addresses: an error, nothing changes
check_rc "reset-master to an address nobody answers: refused" 1 \
	pool_local 1 pool-emergency-reset-master master-address="$POOL_NET.250"
grep -q "cannot be contacted\|CANNOT_CONTACT_HOST" "$T_DIR/last.out" "$T_DIR/last.err" &&
	ok "... CANNOT_CONTACT_HOST" || not_ok "... CANNOT_CONTACT_HOST" "$(cat "$T_DIR/last.out" "$T_DIR/last.err")"
check_rc "reset-master to an unknown name: refused" 1 \
	pool_local 1 pool-emergency-reset-master master-address=no-such-host.invalid
check_rc "reset-master to itself: refused" 1 \
	pool_local 1 pool-emergency-reset-master master-address="$(pool_ip 1)"
grep -q "its own supporter\|HOST_ITS_OWN_SLAVE" "$T_DIR/last.out" "$T_DIR/last.err" &&
	ok "... HOST_ITS_OWN_SLAVE" || not_ok "... HOST_ITS_OWN_SLAVE" "$(cat "$T_DIR/last.out" "$T_DIR/last.err")"
check "after them, still the slave of the new master" "$u2" "$(pool_replica 1 master)"
out=$(pool_local 1 network-create name-label=after-bad 2>&1)
echo "$out" | grep -q '^[0-9a-f-]\{36\}$' && ok "... and its writes go through" ||
	not_ok "... and its writes go through" "$out"
check "reset-master to the master it has" \
	"Host agent will restart and become slave of $(pool_ip 2) in 10. seconds..." \
	"$(pool_local 1 pool-emergency-reset-master master-address="$(pool_ip 2)" 2>&1)"
check "pool-recover-slaves lists the slave" "$u1" "$(pool_xe 2 pool-recover-slaves 2>&1)"
out=$(pool_local 1 network-create name-label=after-recover 2>&1)
echo "$out" | grep -q '^[0-9a-f-]\{36\}$' && ok "writes through the slave after that" ||
	not_ok "writes through the slave after that" "$out"

# a master cut off (no answer at all, not a refused connection): the slave
# goes into emergency mode too, and out of it when the link is back
pool_cut 2
wait_for 900 is_true pool_local 1 host-is-in-emergency-mode
check "master cut off: the slave is in emergency mode" true "$(pool_local 1 host-is-in-emergency-mode 2>&1)"
pool_heal 2
wait_for 900 is_false pool_local 1 host-is-in-emergency-mode
check "link back: emergency mode over" false "$(pool_local 1 host-is-in-emergency-mode 2>&1)"
out=$(pool_local 1 network-create name-label=after-cut 2>&1)
echo "$out" | grep -q '^[0-9a-f-]\{36\}$' && ok "writes through the slave again" ||
	not_ok "writes through the slave again" "$out"
done_testing
