#!/bin/sh
# VDI on_boot=reset on a real guest (QEMU, TCG), as xapi: the disk returns to
# its state at every boot. A per-boot overlay takes the writes and is dropped
# when the VM stops or reboots (clean, hard and guest-initiated reboots);
# on_boot=persist keeps them. xapi's refusals: set_on_boot on an attached
# VDI, snapshot/copy of such a VDI, VM snapshot/checkpoint/suspend.
. "$(dirname "$0")/lib.sh"

CACHE=${XAPID_GUEST_CACHE:-/var/cache/xapid/guest}
export XAPID_GUEST_CACHE=$CACHE
if ! bash "$TOP/tools/build-guest.sh" "$CACHE" > "$T_DIR/build-guest.log" 2>&1; then
	not_ok "test guest builds" "$(tail -20 "$T_DIR/build-guest.log")"
	done_testing
	exit 1
fi
BR=$(echo "xr$$" | cut -c1-10)
XAPID_EXTRA_ARGS="--vm-backend qemu --bridge-prefix $BR"
kill_qemus() { # QEMUs survive xapid: end ours by PID
	for p in "$STATE"/vms/*/pid; do
		[ -f "$p" ] && kill -KILL "$(cut -d' ' -f1 "$p")" 2>/dev/null
	done
	ip link del "${BR}0" 2>/dev/null
	true
}
trap 'stop_xapid; kill_qemus; t_cleanup' EXIT
start_xapid r1 || { not_ok "xapid starts"; done_testing; exit 1; }
wait_for() { # seconds cmd...
	n=$(($1 * 10)); shift
	while [ $n -gt 0 ]; do "$@" > /dev/null 2>&1 && return 0; sleep 0.1; n=$((n - 1)); done
	return 1
}
SR=$($XE sr-list params=uuid --minimal)
VM=$($XE vm-install template="xapid test guest" new-name-label=rb)
RESET=$($XE vdi-create sr-uuid=$SR name-label=scratch virtual-size=16777216)
KEEP=$($XE vdi-create sr-uuid=$SR name-label=keep virtual-size=16777216)
$XE vbd-create vm-uuid=$VM vdi-uuid=$RESET device=1 > /dev/null
$XE vbd-create vm-uuid=$VM vdi-uuid=$KEEP device=2 > /dev/null
check_rc "vdi-param-set on-boot=reset" 0 $XE vdi-param-set uuid=$RESET on-boot=reset
check "on-boot reads reset" reset "$($XE vdi-param-get uuid=$RESET param-name=on-boot)"
check_rc "a VDI with on_boot=reset cannot be snapshotted" 1 $XE vdi-snapshot uuid=$RESET
grep -q "on-boot=reset. mode" "$T_DIR/last.err" \
	&& ok "VDI_ON_BOOT_MODE_INCOMPATIBLE_WITH_OPERATION" || not_ok "error code" "$(cat "$T_DIR/last.err")"
check_rc "nor copied" 1 $XE vdi-copy uuid=$RESET sr-uuid=$SR
check_rc "nor its VM snapshotted" 1 $XE vm-snapshot uuid=$VM new-name-label=s1
grep -q "on-boot=reset. mode" "$T_DIR/last.err" \
	&& ok "VM.snapshot: VDI_ON_BOOT_MODE_INCOMPATIBLE_WITH_OPERATION" || not_ok "VM.snapshot error" "$(cat "$T_DIR/last.err")"
check "and no snapshot was made" "" "$($XE snapshot-list params=uuid --minimal)"
check_rc "vdi-param-set on-boot=bogus is refused" 1 $XE vdi-param-set uuid=$RESET on-boot=bogus
check "on-boot unchanged" reset "$($XE vdi-param-get uuid=$RESET param-name=on-boot)"

check_rc "vm-start" 0 $XE vm-start uuid=$VM
CONSOLE=$STATE/vms/$VM/console.log
ups() { grep -c QGA-UP "$CONSOLE"; }
wait_for 120 grep -q QGA-UP "$CONSOLE" && ok "guest boots" || not_ok "guest boots" "$(tail -5 "$CONSOLE" 2>&1)"
check_rc "set_on_boot while the VDI is attached" 1 $XE vdi-param-set uuid=$KEEP on-boot=reset
grep -q "VDI is in use" "$T_DIR/last.err" && ok "VDI_IN_USE" || not_ok "VDI_IN_USE" "$(cat "$T_DIR/last.err")"
check "unchanged" persist "$($XE vdi-param-get uuid=$KEEP param-name=on-boot)"
check_rc "vm-suspend is refused" 1 $XE vm-suspend uuid=$VM
check "still running" running "$($XE vm-param-get uuid=$VM param-name=power-state)"
[ -f "$STATE/vms/$VM/reset-vbd1.qcow2" ] && ok "the reset disk has a per-boot overlay" \
	|| not_ok "overlay file" "$(ls "$STATE/vms/$VM")"
[ -f "$STATE/vms/$VM/reset-vbd2.qcow2" ] && not_ok "the persist disk has no overlay" || ok "the persist disk has no overlay"

gexec() {
	for _ in 1 2 3; do
		python3 "$TOP/tools/qmp_probe.py" --timeout 20 qga-exec "$STATE/vms/$VM/qga.sock" "$1" && return 0
		sleep 1
	done
	return 1
}
# the guest's device of a disk: by its virtio serial (= userdevice)
dev() { echo "d=; for s in /sys/block/vd*; do [ \"\$(cat \$s/serial)\" = $1 ] && d=/dev/\${s##*/}; done"; }
gwrite() { gexec "$(dev "$1"); printf '%-16s' $2 | dd of=\$d bs=16 count=1 conv=notrunc 2>/dev/null; sync"; }
gread() { gexec "$(dev "$1"); dd if=\$d bs=16 count=1 iflag=direct 2>/dev/null | tr -d '\\000 '"; }
both() { echo "$(gread 1)/$(gread 2)"; }

gwrite 1 SCRATCH-1 && gwrite 2 KEPT-1
check "the guest writes both disks" "SCRATCH-1/KEPT-1" "$(both)"
n=$(ups)
check_rc "vm-reboot (clean)" 0 $XE vm-reboot uuid=$VM
wait_for 120 sh -c "[ \$(grep -c QGA-UP '$CONSOLE') -gt $n ]" && ok "the guest comes back" || not_ok "guest back" "$(tail -5 "$CONSOLE")"
check "after a clean reboot: the reset disk is back to its state, the other kept" "/KEPT-1" "$(both)"

gwrite 1 SCRATCH-2
n=$(ups)
check_rc "vm-reboot --force (hard)" 0 $XE vm-reboot uuid=$VM --force
wait_for 120 sh -c "[ \$(grep -c QGA-UP '$CONSOLE') -gt $n ]" && ok "the guest comes back" || not_ok "guest back" "$(tail -5 "$CONSOLE")"
check "after a hard reboot: reset" "/KEPT-1" "$(both)"

gwrite 1 SCRATCH-3 && gwrite 2 KEPT-3
n=$(ups)
# once: the agent's connection goes with the guest, a retry would reboot again
python3 "$TOP/tools/qmp_probe.py" --timeout 20 qga-exec "$STATE/vms/$VM/qga.sock" "reboot -f" > /dev/null 2>&1 || true
wait_for 120 sh -c "[ \$(grep -c QGA-UP '$CONSOLE') -gt $n ]" && ok "the guest reboots itself" || not_ok "guest reboot" "$(tail -5 "$CONSOLE")"
check "the VM stays running" running "$($XE vm-param-get uuid=$VM param-name=power-state)"
check "after a reboot from inside: reset" "/KEPT-3" "$(both)"

gwrite 1 SCRATCH-4
check_rc "vm-shutdown" 0 $XE vm-shutdown uuid=$VM --force
[ -f "$STATE/vms/$VM/reset-vbd1.qcow2" ] && not_ok "the overlay is gone after the shutdown" "$(ls "$STATE/vms/$VM")" \
	|| ok "the overlay is gone after the shutdown"
check_rc "vdi-param-set on-boot=persist while halted" 0 $XE vdi-param-set uuid=$RESET on-boot=persist
n=$(ups)
check_rc "vm-start" 0 $XE vm-start uuid=$VM
wait_for 120 sh -c "[ \$(grep -c QGA-UP '$CONSOLE') -gt $n ]" && ok "guest boots" || not_ok "guest boots"
check "the VDI never saw this boot's writes" "/KEPT-3" "$(both)"
gwrite 1 NOW-KEPT
n=$(ups)
check_rc "vm-reboot" 0 $XE vm-reboot uuid=$VM --force
wait_for 120 sh -c "[ \$(grep -c QGA-UP '$CONSOLE') -gt $n ]" && ok "the guest comes back" || not_ok "guest back" "$(tail -5 "$CONSOLE")"
check "on_boot=persist again: writes stay" "NOW-KEPT/KEPT-3" "$(both)"
$XE vm-shutdown uuid=$VM --force > /dev/null
done_testing
