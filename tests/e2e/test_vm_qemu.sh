#!/bin/sh
# Real guests under QEMU (TCG), driven through xe: boot, the guest agent's
# address, disk hot-plug seen inside the guest, pause, reboot, clean shutdown
# seen from inside, restart of xapid with the VM running (re-attached, not
# started twice), hard shutdown, bad input.
. "$(dirname "$0")/lib.sh"

CACHE=${XAPID_GUEST_CACHE:-/var/cache/xapid/guest}
export XAPID_GUEST_CACHE=$CACHE
if ! bash "$TOP/tools/build-guest.sh" "$CACHE" > "$T_DIR/build-guest.log" 2>&1; then
	not_ok "test guest builds" "$(tail -20 "$T_DIR/build-guest.log")"
	done_testing
	exit 1
fi
ok "test guest built"
BR=xq$$
BR=$(echo "$BR" | cut -c1-10)
NET=10.$((($$ >> 8) % 200 + 20)).$(($$ % 250)).
XAPID_EXTRA_ARGS="--vm-backend qemu --bridge-prefix $BR"
cleanup_bridge() { ip link del "${BR}0" 2>/dev/null; true; }
trap 'stop_xapid; cleanup_bridge; [ $t_failed -ne 0 ] && cp "$T_DIR"/q1.out /tmp/q1.out.last; t_cleanup' EXIT
start_xapid q1 || { not_ok "xapid starts"; done_testing; exit 1; }

VM=$($XE vm-install template="xapid test guest" new-name-label=g1)
check "vm-install of the test guest" 36 "${#VM}"
NETW=$($XE network-list bridge=${BR}0 params=uuid --minimal)
$XE vif-create vm-uuid=$VM network-uuid=$NETW device=0 > /dev/null
$XE vm-param-set uuid=$VM PV-args="console=ttyS0 quiet xapid.ip=${NET}2/24 xapid.tick=5"
check_rc "vm-start" 0 $XE vm-start uuid=$VM
check "power state running" running "$($XE vm-param-get uuid=$VM param-name=power-state)"
CONSOLE=$STATE/vms/$VM/console.log
wait_for() { # seconds cmd...
	n=$(($1 * 10)); shift
	while [ $n -gt 0 ]; do "$@" > /dev/null 2>&1 && return 0; sleep 0.1; n=$((n - 1)); done
	return 1
}
wait_for 120 grep -q GUEST-UP "$CONSOLE" && ok "guest boots (GUEST-UP on its console)" || not_ok "guest boots" "$(tail -5 "$CONSOLE" 2>&1)"
has_ip() { $XE vm-param-get uuid=$VM param-name=networks | grep -q "0/ip: ${NET}2"; }
wait_for 120 has_ip && ok "guest agent reports the address in networks" || not_ok "guest agent reports the address" "$($XE vm-param-get uuid=$VM param-name=networks 2>&1)"
has_osv() { $XE vm-param-get uuid=$VM param-name=os-version | grep -q name; }
wait_for 60 has_osv && ok "os-version from the agent" || not_ok "os-version from the agent" "$($XE vm-param-get uuid=$VM param-name=os-version 2>&1)"
sleep 7 | timeout 30 $XE console uuid=$VM > "$T_DIR/console.out" 2>&1
grep -q TICK "$T_DIR/console.out" && ok "xe console relays the guest's serial console" || not_ok "xe console relays the serial console" "$(head -5 "$T_DIR/console.out")"
check_rc "vm-start of a running VM fails" 1 $XE vm-start uuid=$VM
grep -q "expected: halted" "$T_DIR/last.err" && ok "VM_BAD_POWER_STATE printed as xe does" || not_ok "VM_BAD_POWER_STATE printed" "$(cat "$T_DIR/last.err")"

# a static address set through the API reaches the guest
VIF=$($XE vif-list vm-uuid=$VM params=uuid --minimal)
check_rc "vif-configure-ipv4 static" 0 $XE vif-configure-ipv4 uuid=$VIF mode=static address=${NET}3/24
has_ip3() { $XE vm-param-get uuid=$VM param-name=networks | grep -q "0/ip: ${NET}3"; }
wait_for 60 has_ip3 && ok "the guest took the static address" || not_ok "the guest took the static address" "$($XE vm-param-get uuid=$VM param-name=networks 2>&1)"
check "VIF records the configuration" "${NET}3/24" "$($XE vif-param-get uuid=$VIF param-name=ipv4-addresses)"
check_rc "vif-configure-ipv4 with a bad address" 1 $XE vif-configure-ipv4 uuid=$VIF mode=static address=300.1.1.1/24
# it survives a reboot of the guest (which comes up with .2 from its kernel
# command line): re-applied when the agent comes up again
ups=$(grep -c GUEST-UP "$CONSOLE")
check_rc "vm-reboot" 0 $XE vm-reboot uuid=$VM
rebooted() { [ "$(grep -c GUEST-UP "$CONSOLE")" -gt "$ups" ]; }
wait_for 120 rebooted && ok "the guest rebooted" || not_ok "the guest rebooted"
has_only_ip3() { n=$($XE vm-param-get uuid=$VM param-name=networks) &&
	echo "$n" | grep -q "0/ip: ${NET}3" && ! echo "$n" | grep -q "0/ipv4/1"; }
wait_for 90 has_only_ip3 && ok "the static address survives the reboot" || not_ok "the static address survives the reboot" "$($XE vm-param-get uuid=$VM param-name=networks 2>&1)"

# hot-plug a disk, seen by the guest
SR=$($XE sr-list params=uuid --minimal)
VDI=$($XE vdi-create sr-uuid=$SR name-label=hp virtual-size=67108864)
VBD=$($XE vbd-create vm-uuid=$VM vdi-uuid=$VDI device=1)
check_rc "vbd-plug on a running VM" 0 $XE vbd-plug uuid=$VBD
wait_for 60 grep -q 'DISKS:.*vd[a-z]:131072' "$CONSOLE" && ok "guest sees the hot-plugged disk" || not_ok "guest sees the disk" "$(grep DISKS "$CONSOLE" | tail -3)"
check "vbd currently-attached" true "$($XE vbd-param-get uuid=$VBD param-name=currently-attached)"

# live snapshot of the running VM (both its disks move onto new layers)
ticks0=$(grep -c TICK "$CONSOLE")
SNAP=$($XE vm-snapshot uuid=$VM new-name-label=live1)
check "vm-snapshot of a running VM prints a uuid" 36 "${#SNAP}"
check "the VM keeps running" running "$($XE vm-param-get uuid=$VM param-name=power-state)"
SNVDI=$($XE vbd-list vm-uuid=$SNAP params=vdi-uuid --minimal)
[ -n "$SNVDI" ] && qemu-img info --backing-chain -U "$STATE/sr-local/$SNVDI.qcow2" > /dev/null 2>&1 \
	&& ok "the snapshot's disk is a readable chain" || not_ok "the snapshot's disk is a readable chain" "$SNVDI"
qemu-img info -U --output=json "$STATE/sr-local/$VDI.qcow2" | grep -q '"backing-filename"' \
	&& ok "the VM's disk now writes to a new layer over the shared base" || not_ok "the VM's disk has a new layer"
ticking() { [ "$(grep -c TICK "$CONSOLE")" -gt "$ticks0" ]; }
wait_for 30 ticking && ok "the guest runs on after the snapshot" || not_ok "the guest runs on after the snapshot"
check_rc "a second live snapshot" 0 $XE vm-snapshot uuid=$VM new-name-label=live2
check_rc "vm-snapshot-with-quiesce (fsfreeze through the agent)" 0 $XE vm-snapshot-with-quiesce uuid=$VM new-name-label=quiet
check_rc "vbd-unplug" 0 $XE vbd-unplug uuid=$VBD
check_rc "vbd-plug again (block node names reusable)" 0 $XE vbd-plug uuid=$VBD
check_rc "vbd-unplug" 0 $XE vbd-unplug uuid=$VBD
wait_for 60 sh -c "tail -1 \$(ls $CONSOLE) >/dev/null; grep DISKS '$CONSOLE' | tail -1 | grep -qv 131072" && ok "guest sees the disk go" || not_ok "guest sees the disk go"

check_rc "vm-pause" 0 $XE vm-pause uuid=$VM
check "paused" paused "$($XE vm-param-get uuid=$VM param-name=power-state)"
check_rc "vm-unpause" 0 $XE vm-unpause uuid=$VM

# suspend, restart xapid, resume: the guest carries on where it was
ups_before=$(grep -c GUEST-UP "$CONSOLE")
check_rc "vm-suspend" 0 $XE vm-suspend uuid=$VM
check "suspended" suspended "$($XE vm-param-get uuid=$VM param-name=power-state)"
SVDI=$($XE vm-param-get uuid=$VM param-name=suspend-VDI-uuid 2>/dev/null)
ticks=$(grep -c TICK "$CONSOLE")
stop_xapid KILL
start_xapid q1 || { not_ok "xapid restarts"; done_testing; exit 1; }
check "still suspended after a xapid restart" suspended "$($XE vm-param-get uuid=$VM param-name=power-state)"
check_rc "vm-resume" 0 $XE vm-resume uuid=$VM
check "running after resume" running "$($XE vm-param-get uuid=$VM param-name=power-state)"
more_ticks() { [ "$(grep -c TICK "$CONSOLE")" -gt "$ticks" ]; }
wait_for 60 more_ticks && ok "the guest ticks on after resume" || not_ok "the guest ticks on after resume"
check "no second boot (uptime carried on)" "$ups_before" "$(grep -c GUEST-UP "$CONSOLE")"
[ -z "$SVDI" ] || [ -z "$($XE vdi-list uuid=$SVDI --minimal 2>/dev/null)" ] && ok "suspend image removed after resume" || not_ok "suspend image removed"

# xapid restart with the VM running: re-attached, not started twice
QPID=$(cat "$STATE/vms/$VM/pid" 2>/dev/null)
stop_xapid KILL
start_xapid q1 || { not_ok "xapid restarts"; done_testing; exit 1; }
check "VM still running after kill -9 of xapid" running "$($XE vm-param-get uuid=$VM param-name=power-state)"
check "same QEMU process (not started twice)" "$QPID" "$(cat "$STATE/vms/$VM/pid" 2>/dev/null)"
check_rc "vm-pause after the restart (QMP re-attached)" 0 $XE vm-pause uuid=$VM
check_rc "vm-unpause" 0 $XE vm-unpause uuid=$VM

# snapshots deleted while the VM runs: their chains are coalesced once it stops
for s in $($XE snapshot-list params=uuid --minimal | tr , ' '); do
	for v in $($XE vbd-list vm-uuid=$s params=vdi-uuid --minimal | tr , ' '); do
		$XE vm-destroy uuid=$s > /dev/null 2>&1
		$XE vdi-destroy uuid=$v
	done
	$XE vm-destroy uuid=$s > /dev/null 2>&1
done
nfiles=$(ls "$STATE"/sr-local/*.qcow2 | wc -l)
nvdis=$($XE vdi-list sr-uuid=$SR --minimal | tr , '\n' | grep -c .)
check "coalesced while the VM runs: no hidden base is left" "$nvdis" "$nfiles"
qemu-img info -U --output=json "$STATE/sr-local/$VDI.qcow2" | grep -q '"backing-filename"' \
	&& not_ok "the VM's disk stands alone again" || ok "the VM's disk stands alone again"
wait_for 30 sh -c "[ \$(grep -c TICK '$CONSOLE') -gt $(grep -c TICK "$CONSOLE") ]" && ok "the guest runs on after the live coalesce" || not_ok "the guest runs on after the live coalesce"
check_rc "clean shutdown" 0 $XE vm-shutdown uuid=$VM
check "halted" halted "$($XE vm-param-get uuid=$VM param-name=power-state)"
grep -q GUEST-POWERDOWN "$CONSOLE" && ok "the guest saw the ACPI power button" || not_ok "the guest saw the power button" "$(tail -3 "$CONSOLE")"
[ -n "$QPID" ] && ! kill -0 "$QPID" 2>/dev/null && ok "QEMU is gone" || not_ok "QEMU is gone"

check_rc "start again" 0 $XE vm-start uuid=$VM
check_rc "hard shutdown" 0 $XE vm-shutdown uuid=$VM --force
check "halted after --force" halted "$($XE vm-param-get uuid=$VM param-name=power-state)"
check_rc "xe console of a halted VM fails" 1 $XE console uuid=$VM

# bad input: a missing disk file, a PCI address that does not parse
VDI2=$($XE vdi-create sr-uuid=$SR name-label=gone virtual-size=67108864)
$XE vbd-create vm-uuid=$VM vdi-uuid=$VDI2 device=2 > /dev/null
rm -f "$STATE"/sr-local/$VDI2.qcow2
check_rc "start with a missing disk file fails" 1 $XE vm-start uuid=$VM
check "and leaves the VM halted" halted "$($XE vm-param-get uuid=$VM param-name=power-state)"
[ -z "$(ls "$STATE/vms/$VM/pid" 2>/dev/null)" ] || ! kill -0 "$(cat "$STATE/vms/$VM/pid")" 2>/dev/null && ok "no half-started QEMU left" || not_ok "no half-started QEMU left"
$XE vbd-destroy uuid=$($XE vbd-list vdi-uuid=$VDI2 params=uuid --minimal) > /dev/null
$XE vm-param-set uuid=$VM other-config:pci=0/garbage
check_rc "a PCI address that does not parse is refused" 1 $XE vm-start uuid=$VM
$XE vm-param-remove uuid=$VM param-name=other-config param-key=pci
$XE vm-param-set uuid=$VM other-config:pci=0/0000:7f:1f.7
check_rc "a PCI device that does not exist is refused" 1 $XE vm-start uuid=$VM
check "VM still halted" halted "$($XE vm-param-get uuid=$VM param-name=power-state)"
done_testing
