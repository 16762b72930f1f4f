#!/bin/sh
# kill -9 of xapid while a snapshot of a running guest is deleted (live
# coalesce) and while a VM is reverted: after the restart the guest runs
# and reads its data, every image checks, the chain is whole and gets
# coalesced, nothing half-made is left (no VDI still marked pending).
. "$(dirname "$0")/lib.sh"

guest_setup xk
trap 'stop_xapid; kill_qemus; t_cleanup' EXIT
start_xapid k1 || { not_ok "xapid starts"; done_testing; exit 1; }
SR=$($XE sr-list params=uuid --minimal)
SRDIR=$STATE/sr-local
VM=$($XE vm-install template="xapid test guest" new-name-label=crash)
$XE vm-param-set uuid=$VM PV-args="console=ttyS0 quiet"
V=$($XE vdi-create sr-uuid=$SR name-label=data virtual-size=268435456)
qemu-io -f qcow2 -c 'write -P 0x33 0 256M' "$SRDIR/$V.qcow2" > /dev/null # a stream with work to do
$XE vbd-create vm-uuid=$VM vdi-uuid=$V device=1 > /dev/null
check_rc "vm-start" 0 $XE vm-start uuid=$VM
CONSOLE=$STATE/vms/$VM/console.log
wait_for 120 grep -q QGA-UP "$CONSOLE" && ok "guest boots" || not_ok "guest boots" "$(tail -5 "$CONSOLE" 2>&1)"
mark() { gexec "printf '%-16s' $2 | dd of=/dev/vda bs=16 count=1 seek=$(($1 * 4096)) conv=notrunc 2>/dev/null; sync"; }
rmark() { gexec "dd if=/dev/vda bs=4096 count=1 skip=$(($1 * 16)) iflag=direct 2>/dev/null | head -c 16" | tr -d ' '; }
images_ok() { for f in "$SRDIR"/*.qcow2; do qemu-img check -U -q "$f" > /dev/null 2>&1 || echo "$f"; done | grep -q . && return 1; return 0; }
no_pending() { ! $XE vdi-list params=sm-config | grep -q xapid-pending; }

# 1. kill -9 during the live coalesce of a deleted snapshot
mark 10 BEFORE
S=$($XE vm-snapshot uuid=$VM new-name-label=s1)
mark 20 AFTER
SV=$($XE vbd-list vm-uuid=$S params=vdi-uuid --minimal)
$XE vm-destroy uuid=$S
$XE vdi-destroy uuid=$SV > /dev/null 2>&1 &
XEPID=$!
wait_for 60 grep -q "vdi-destroy" "$T_DIR/k1.out"
sleep 0.3
stop_xapid KILL
wait $XEPID 2>/dev/null
start_xapid k1 || { not_ok "xapid restarts"; done_testing; exit 1; }
ok "kill -9 of xapid during a live coalesce"
check "the VM runs on" running "$($XE vm-param-get uuid=$VM param-name=power-state)"
check "its data reads back" "BEFORE AFTER" "$(rmark 10) $(rmark 20)"
images_ok && ok "every image checks" || not_ok "every image checks"
$XE sr-scan uuid=$SR
nchain=$(qemu-img info -U --backing-chain "$SRDIR/$V.qcow2" | grep -c '^image:')
[ "$nchain" -le 2 ] && ok "the chain is coalesced ($nchain)" || not_ok "the chain is coalesced" "$nchain layers"
check "no hidden base left" "$($XE vdi-list sr-uuid=$SR --minimal | tr , '\n' | grep -c .)" "$(ls "$SRDIR"/*.qcow2 | wc -l)"

# 2. kill -9 during a revert (the VM is shut down first, its disks swapped)
S2=$($XE vm-snapshot uuid=$VM new-name-label=s2)
mark 30 LATER
nvdi=$($XE vdi-list sr-uuid=$SR --minimal | tr , '\n' | grep -c .)
$XE snapshot-revert snapshot-uuid=$S2 > /dev/null 2>&1 &
XEPID=$!
wait_for 60 grep -q "snapshot-revert" "$T_DIR/k1.out"
sleep 0.5
stop_xapid KILL
wait $XEPID 2>/dev/null
start_xapid k1 || { not_ok "xapid restarts"; done_testing; exit 1; }
ok "kill -9 of xapid during a revert"
no_pending && ok "no VDI left marked pending" || not_ok "no VDI left marked pending" "$($XE vdi-list params=uuid,sm-config)"
images_ok && ok "every image checks" || not_ok "every image checks"
VD=$($XE vbd-list vm-uuid=$VM userdevice=1 params=vdi-uuid --minimal)
[ -n "$VD" ] && [ -f "$SRDIR/$($XE vdi-param-get uuid=$VD param-name=location).qcow2" ] \
	&& ok "the VM's disk is whole" || not_ok "the VM's disk is whole" "$VD"
check "no VDI more than before (old or new disk, not both)" "$nvdi" "$($XE vdi-list sr-uuid=$SR --minimal | tr , '\n' | grep -c .)"
state=$($XE vm-param-get uuid=$VM param-name=power-state)
[ "$state" = running ] || $XE vm-start uuid=$VM > /dev/null
wait_for 120 sh -c "[ \$(grep -c QGA-UP '$CONSOLE') -ge 2 ] || [ '$state' = running ]" 
check "the VM runs" running "$($XE vm-param-get uuid=$VM param-name=power-state)"
m=$(rmark 10)
check "and reads its data" BEFORE "$m"
check_rc "revert works again" 0 $XE snapshot-revert snapshot-uuid=$S2
check_rc "vm-start" 0 $XE vm-start uuid=$VM
check_rc "vm-shutdown --force" 0 $XE vm-shutdown uuid=$VM --force
done_testing
