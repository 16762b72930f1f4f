#!/bin/sh
# Live migration in a two-host pool with real guests (qemu backend, TCG):
# xe vm-migrate from the master to the slave (the guest's TICK counter goes
# on there, no reboot, nothing left on the source), Async.VM.pool_migrate
# back (called on the master, run by the host the VM is on; the downtime
# recorded on the task), refusals (a disabled destination: HOST_DISABLED; a
# disk on the source's local SR: VM_REQUIRES_SR; a halted VM:
# VM_BAD_POWER_STATE), a migration whose destination QEMU is killed halfway
# (VM_MIGRATE_FAILED, the VM keeps running on the source, nothing left on
# the destination), host-evacuate moving the VM off the master, and a source
# that dies after the memory went (the paused VM at the destination is
# dropped after a while).
# The guest is diskless (kernel + initramfs), so no shared SR is needed.
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/lib.sh"

CACHE=${XAPID_GUEST_CACHE:-/var/cache/xapid/guest}
export XAPID_GUEST_CACHE=$CACHE
if ! bash "$TOP/tools/build-guest.sh" "$CACHE" > "$T_DIR/build-guest.log" 2>&1; then
	echo "1..0 # SKIP no test guest (tools/build-guest.sh failed)"
	exit 0
fi

# QEMUs run in sessions of their own: stop them by PID whatever happens
kill_qemus() {
	for f in "$T_DIR"/h*/vms/*/pid; do
		[ -f "$f" ] || continue
		pid=$(cut -d' ' -f1 "$f")
		[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	done
	true
}
trap 'kill_qemus; pool_teardown; t_cleanup' EXIT
trap 'exit 1' INT TERM
POOL_XAPID_ARGS="--vm-backend qemu"
if ! pool_make 2; then
	not_ok "two hosts start"
	done_testing
	exit 1
fi
u1=$(pool_uuid 1)
u2=$(pool_uuid 2)
out=$(pool_join 2 2>&1)
check "h2 joins h1's pool" "Host agent will restart and attempt to join pool in 10. seconds..." "$out"
n=0
while [ $n -lt 300 ]; do
	[ "$(pool_xe 1 host-list enabled=true --minimal | tr ',' '\n' | grep -c .)" = 2 ] && break
	sleep 0.2
	n=$((n + 1))
done
check "two enabled hosts" 2 "$(pool_xe 1 host-list enabled=true --minimal | tr ',' '\n' | grep -c .)"
# the destination builds the VM from its replica: it must follow the master
out=$(python3 - "$(pool_ip 2)" "$(cat "$T_DIR/h2/pool-secret" 2>/dev/null)" "$u1" <<'PY' 2>&1
import sys, time, xmlrpc.client
s = xmlrpc.client.ServerProxy("http://%s/" % sys.argv[1])
for _ in range(600):
    try:
        sid = s.session.slave_login("OpaqueRef:NULL", sys.argv[2])["Value"]
        if s.host.get_by_uuid(sid, sys.argv[3])["Status"] == "Success":
            print("follows")
            break
    except Exception:
        pass
    time.sleep(0.2)
else:
    print("h1's host record never reached h2's replica")
PY
)
if [ "$out" != follows ]; then
	not_ok "h2's replica follows the master" "$out"
	done_testing
	exit 1
fi
ok "h2's replica follows the master"

wait_for() { # seconds cmd...
	w=$(($1 * 10))
	shift
	while [ $w -gt 0 ]; do "$@" > /dev/null 2>&1 && return 0; sleep 0.1; w=$((w - 1)); done
	return 1
}
# last_tick K: the guest's last TICK on host K's console
last_tick() {
	sed -n 's/^TICK \([0-9]*\).*/\1/p' "$T_DIR/h$1/vms/$VM/console.log" 2>/dev/null | tail -1
}
tick_above() { # host n
	t=$(last_tick "$1")
	[ -n "$t" ] && [ "$t" -gt "$2" ]
}
resident() { pool_xe 1 vm-param-get uuid="$VM" param-name=resident-on; }
has_qemu() { # host: a pid file for the VM there
	[ -f "$T_DIR/h$1/vms/$VM/pid" ]
}

VM=$(pool_xe 1 vm-install template="xapid test guest" new-name-label=mig1)
pool_xe 1 vm-param-set uuid="$VM" PV-args="console=ttyS0 quiet xapid.tick=1"
out=$(pool_xe 1 vm-migrate vm=mig1 host=h2 2>&1)
check "a halted VM cannot migrate" "You attempted an operation on a VM that was not in an appropriate power state at the time; for example, you attempted to start a VM that was already running. The parameters returned are the VM's handle, and the expected and actual VM state at the time of the call." \
	"$(echo "$out" | head -1)"
check_rc "vm-start (on the master)" 0 pool_xe 1 vm-start vm=mig1
check "resident on h1" "$u1" "$(resident)"
wait_for 180 tick_above 1 1 && ok "the guest boots and ticks on h1" || not_ok "the guest boots on h1"

# to the slave
t=$(last_tick 1)
out=$(pool_xe 1 vm-migrate vm=mig1 host=h2 live=true 2>&1)
check "xe vm-migrate vm=mig1 host=h2 live=true" "" "$out"
check "resident on h2" "$u2" "$(resident)"
check "still running" running "$(pool_xe 1 vm-param-get uuid="$VM" param-name=power-state)"
wait_for 30 tick_above 2 "$t" && ok "its TICK goes on on h2 (h1's last: $t, now $(last_tick 2))" ||
	not_ok "its TICK goes on on h2" "$(tail -3 "$T_DIR/h2/vms/$VM/console.log" 2>&1)"
grep -q GUEST-UP "$T_DIR/h2/vms/$VM/console.log" && not_ok "no reboot on h2" || ok "no reboot on h2"
has_qemu 1 && not_ok "no QEMU left on h1" || ok "no QEMU left on h1"
grep "now runs on" "$T_DIR/h1.out" | tail -1 | sed 's/^/# /'

# back, through the API on the master (the VM runs on h2: h2 does it)
out=$(python3 - "$(pool_ip 1)" "$POOL_PW" "$VM" "$u1" <<'PY' 2>&1
import sys, time, xmlrpc.client
s = xmlrpc.client.ServerProxy("http://%s/" % sys.argv[1])
sid = s.session.login_with_password("root", sys.argv[2], "1.0", "test")["Value"]
vm = s.VM.get_by_uuid(sid, sys.argv[3])["Value"]
host = s.host.get_by_uuid(sid, sys.argv[4])["Value"]
task = s.Async.VM.pool_migrate(sid, vm, host, {"live": "true"})["Value"]
for _ in range(1200):
    st = s.task.get_status(sid, task)["Value"]
    if st != "pending":
        break
    time.sleep(0.1)
print(st, ",".join(s.task.get_error_info(sid, task)["Value"]))
oc = s.task.get_other_config(sid, task)["Value"]
print("downtime", "migration_downtime_ms" in oc, oc.get("migration_downtime_ms", "?"))
PY
)
echo "$out" | sed 's/^/# /'
check "Async.VM.pool_migrate back to h1 succeeds" "success " "$(echo "$out" | head -1)"
check "the task records the downtime" "downtime True" "$(echo "$out" | sed -n 2p | cut -d' ' -f1,2)"
check "resident on h1 again" "$u1" "$(resident)"
t=$(last_tick 2)
wait_for 30 tick_above 1 "$t" && ok "its TICK goes on on h1" || not_ok "its TICK goes on on h1"
has_qemu 2 && not_ok "no QEMU left on h2" || ok "no QEMU left on h2"

# refusals
pool_xe 1 host-disable host=h2
out=$(pool_xe 1 vm-migrate vm=mig1 host=h2 2>&1)
check "to a disabled host: HOST_DISABLED" "The specified server is disabled." "$(echo "$out" | head -1)"
pool_xe 1 host-enable host=h2
sr1=$(pool_xe 1 pbd-list host-uuid="$u1" params=sr-uuid --minimal | cut -d, -f1)
vdi=$(pool_xe 1 vdi-create sr-uuid="$sr1" name-label=local-disk virtual-size=16MiB)
vbd=$(pool_xe 1 vbd-create vm-uuid="$VM" vdi-uuid="$vdi" device=1)
pool_xe 1 vbd-plug uuid="$vbd"
out=$(pool_xe 1 vm-migrate vm=mig1 host=h2 2>&1)
check "a disk on h1's local SR: VM_REQUIRES_SR" "You attempted to run a VM on a host which doesn't have access to an SR needed by the VM. The VM has at least one VBD attached to a VDI in the SR." \
	"$(echo "$out" | head -1)"
pool_xe 1 vbd-unplug uuid="$vbd"
pool_xe 1 vbd-destroy uuid="$vbd"
pool_xe 1 vdi-destroy uuid="$vdi"

# the destination's QEMU dies halfway: the VM stays on h1
( n=0
  while [ $n -lt 600 ] && [ ! -f "$T_DIR/h2/vms/$VM/pid" ]; do sleep 0.02; n=$((n + 1)); done
  pid=$(cut -d' ' -f1 "$T_DIR/h2/vms/$VM/pid" 2>/dev/null)
  [ -n "$pid" ] && kill -9 "$pid" ) &
killer=$!
out=$(pool_xe 1 vm-migrate vm=mig1 host=h2 2>&1)
wait $killer
check "destination killed halfway: VM_MIGRATE_FAILED" "An error occurred during the migration process." \
	"$(echo "$out" | head -1)"
echo "$out" | sed 's/^/# /'
check "... the VM is still resident on h1" "$u1" "$(resident)"
check "... and running" running "$(pool_xe 1 vm-param-get uuid="$VM" param-name=power-state)"
t=$(last_tick 1)
wait_for 30 tick_above 1 "$t" && ok "... its TICK goes on on h1" || not_ok "... its TICK goes on on h1"
wait_for 30 sh -c "! test -f '$T_DIR/h2/vms/$VM/pid'" && ok "... nothing left on h2" ||
	not_ok "... nothing left on h2"
check "... and no operation left on the VM" "" \
	"$(pool_xe 1 vm-param-get uuid="$VM" param-name=current-operations)"

# evacuate h1: the VM moves to h2
out=$(pool_xe 1 host-evacuate host=h1 2>&1)
check "host-evacuate of h1" "" "$out"
check "the VM is resident on h2" "$u2" "$(resident)"
t=$(last_tick 1)
wait_for 30 tick_above 2 "$t" && ok "its TICK goes on on h2" || not_ok "its TICK goes on on h2"
has_qemu 1 && not_ok "nothing left on h1" || ok "nothing left on h1"

# the source (h2) dies once the memory went: the VM paused at the
# destination, which the source never ends, is dropped after a while
# (migrate.c MIG_ABANDON_S, 120 s)
pid2=$(eval echo "\$POOL_PID_2")
( pool_xe 1 vm-migrate vm=mig1 host=h1 > "$T_DIR/late.out" 2>&1 ) &
mjob=$!
wait_for 120 has_qemu 1 && kill -STOP "$pid2"
wait_for 300 grep -q "VM $VM received" "$T_DIR/h1.out" &&
	ok "h1 got all of the VM while h2's xapid was stopped" ||
	not_ok "h1 got all of the VM while h2's xapid was stopped"
kill -KILL "$pid2"
wait "$pid2" 2>/dev/null
eval "POOL_PID_2="
wait $mjob
wait_for 400 sh -c "! test -f '$T_DIR/h1/vms/$VM/pid'" && ok "... h1 dropped the VM the dead source never ended" ||
	not_ok "... h1 dropped the VM the dead source never ended"
grep -q "VM $VM: the source never ended its migration here" "$T_DIR/h1.out" && ok "... and says why" ||
	not_ok "... and says why"

done_testing
