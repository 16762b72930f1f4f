#!/bin/sh
# A slave (re)started while the master of its two-host pool is dead: it
# comes up in emergency mode from the replica it keeps (HOST_STILL_BOOTING
# for all but the emergency calls); when the master comes back it becomes a
# normal slave by itself; started again with the master dead, it is made the
# master by pool-emergency-transition-to-master with every write and its
# running VM (never started twice), and the old master rejoins as its slave.
# Regression test too: a slave's restart marked the VMs running on other
# hosts halted (its resync found no QEMU of theirs here).
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/lib.sh"
trap 'pool_teardown; t_cleanup' EXIT
POOL_WAIT=1800

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
is() { want=$1; shift; [ "$("$@" 2>&1)" = "$want" ]; }
# copies K VM: on how many hosts the (simulated) VM runs
copies() { ls "$T_DIR"/h*/vms-sim/"$1".json 2> /dev/null | grep -c .; }
is_uuid() { echo "$1" | grep -q '^[0-9a-f-]\{36\}$'; }

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
tpl=$(pool_xe 1 template-list name-label="Other install media" params=uuid --minimal)
va=$(pool_xe 1 vm-install template="$tpl" new-name-label=on-h2)
vb=$(pool_xe 1 vm-install template="$tpl" new-name-label=on-h1)
check "a VM started on the slave" "" "$(pool_xe 1 vm-start uuid="$va" on="$u2" 2>&1)"
check "a VM started on the master" "" "$(pool_xe 1 vm-start uuid="$vb" on="$u1" 2>&1)"
wait_for 300 is 1 pool_replica 2 count network name_label before-3
check "the slave has the master's writes" 1 "$(pool_replica 2 count network name_label before-3)"
[ -s "$T_DIR/h2/pool-replica.jsonl" ] && ok "the slave keeps its replica on disk" ||
	not_ok "the slave keeps its replica on disk"

# the slave is down when the master dies, and starts again
pool_stop 2 KILL
pool_stop 1 KILL
pool_start 2 && ok "the slave starts with its master dead" || not_ok "the slave starts with its master dead"
grep -q "as slave in emergency mode" "$T_DIR/h2.out" && ok "... from the replica it kept" ||
	not_ok "... from the replica it kept" "$(grep ' pool: ' "$T_DIR/h2.out" | tail -5)"
check "it is in emergency mode" true "$(pool_local 2 host-is-in-emergency-mode 2>&1)"
check_rc "... normal xe commands are refused" 1 pool_local 2 network-list
grep -q "still initialising" "$T_DIR/last.out" "$T_DIR/last.err" &&
	ok "... with HOST_STILL_BOOTING" || not_ok "... with HOST_STILL_BOOTING" "$(cat "$T_DIR/last.out" "$T_DIR/last.err")"
check "... and so are logins over TCP" "Failure HOST_STILL_BOOTING" "$(pool_replica 2 login)"
check "its replica has the pool's writes" "1 1 1" \
	"$(for i in 1 2 3; do pool_replica 2 count network name_label before-$i; done | xargs)"
check "... and names the dead master" "$u1" "$(pool_replica 2 master)"
check "its VM still runs, once" 1 "$(copies "$va")"

# the master comes back: the slave becomes a normal slave by itself
pool_start 1 || not_ok "the master restarts"
wait_for 1800 is false pool_local 2 host-is-in-emergency-mode
check "master back: the slave is out of emergency mode" false "$(pool_local 2 host-is-in-emergency-mode 2>&1)"
grep -q "restarting xapid" "$T_DIR/h2.out" && ok "... (its agent restarted by itself)" ||
	not_ok "... (its agent restarted by itself)"
check "... a slave of the master" "$u1" "$(pool_replica 2 master)"
check "... that refuses logins (HOST_IS_SLAVE)" "Failure HOST_IS_SLAVE,$(pool_ip 1)" "$(pool_replica 2 login)"
check "one master" "$u1" "$(pool_xe 1 pool-list params=master --minimal 2>&1)"
out=$(pool_local 2 network-create name-label=after-back 2>&1)
is_uuid "$out" && ok "writes through the slave" || not_ok "writes through the slave" "$out"
wait_for 300 is 1 pool_replica 2 count network name_label after-back
check "... reach both" "1 1" \
	"$(pool_replica 1 count network name_label after-back) $(pool_replica 2 count network name_label after-back)"
wait_for 300 is true pool_xe 1 host-param-get uuid="$u2" param-name=host-metrics-live
check "the slave is live" true "$(pool_xe 1 host-param-get uuid="$u2" param-name=host-metrics-live 2>&1)"
check "its VM runs there, once" "running $u2 1" \
	"$(pool_xe 1 vm-param-get uuid="$va" param-name=power-state) $(pool_xe 1 vm-param-get uuid="$va" param-name=resident-on) $(copies "$va")"
check "the master's VM runs there, once (the slave's restart left it alone)" "running $u1 1" \
	"$(pool_xe 1 vm-param-get uuid="$vb" param-name=power-state) $(pool_xe 1 vm-param-get uuid="$vb" param-name=resident-on) $(copies "$vb")"

# again, and this time the administrator makes it the master
wait_for 300 is 1 pool_replica 2 count network name_label after-back
pool_stop 2 KILL
pool_stop 1 KILL
pool_start 2 || not_ok "the slave starts again with its master dead"
check "in emergency mode again" true "$(pool_local 2 host-is-in-emergency-mode 2>&1)"
check "pool-emergency-transition-to-master" \
	"Host agent will restart and transition to master in 10. seconds..." \
	"$(pool_local 2 pool-emergency-transition-to-master 2>&1)"
wait_for 1800 is "$u2" pool_local 2 pool-list params=master --minimal
check "it is the master" "$u2" "$(pool_local 2 pool-list params=master --minimal 2>&1)"
check "no longer in emergency mode" false "$(pool_local 2 host-is-in-emergency-mode 2>&1)"
check "with every write" "1 1 1 1" \
	"$(for n in before-1 before-2 before-3 after-back; do pool_xe 2 network-list name-label=$n --minimal | grep -c .; done | xargs)"
out=$(pool_xe 2 network-create name-label=after-transition 2>&1)
is_uuid "$out" && ok "the new master writes" || not_ok "the new master writes" "$out"
check "its VM runs on it, once" "running $u2 1" \
	"$(pool_xe 2 vm-param-get uuid="$va" param-name=power-state) $(pool_xe 2 vm-param-get uuid="$va" param-name=resident-on) $(copies "$va")"
check_rc "vm-start of that VM is refused (never twice)" 1 pool_xe 2 vm-start uuid="$va"
check "the dead master's VM is not taken for halted" "running $u1" \
	"$(pool_xe 2 vm-param-get uuid="$vb" param-name=power-state) $(pool_xe 2 vm-param-get uuid="$vb" param-name=resident-on)"
check "the dead master is not live" false "$(pool_xe 2 host-param-get uuid="$u1" param-name=host-metrics-live 2>&1)"

pool_start 1 || not_ok "the old master restarts"
wait_for 1800 is 1 pool_replica 1 count network name_label after-transition
check "the old master came back as a slave of the new one" "$u2" "$(pool_replica 1 master)"
check "... and refuses logins (HOST_IS_SLAVE)" "Failure HOST_IS_SLAVE,$(pool_ip 2)" "$(pool_replica 1 login)"
check "pool-recover-slaves lists it" "$u1" "$(pool_xe 2 pool-recover-slaves 2>&1)"
out=$(pool_local 1 network-create name-label=via-old 2>&1)
is_uuid "$out" && ok "writes through the old master" || not_ok "writes through the old master" "$out"
check "... reach both" "1 1" \
	"$(pool_replica 2 count network name_label via-old) $(pool_replica 1 count network name_label via-old)"
check "each VM runs on its host, once" "running $u2 1 running $u1 1" \
	"$(for v in "$va" "$vb"; do echo "$(pool_xe 2 vm-param-get uuid="$v" param-name=power-state) $(pool_xe 2 vm-param-get uuid="$v" param-name=resident-on) $(copies "$v")"; done | xargs)"
done_testing
