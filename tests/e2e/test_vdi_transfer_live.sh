#!/bin/sh
# vdi-export of a running guest's disk the way backup scripts do it
# (VmBackup's vdi-export mode, XO's deltas): refused on the disk the VM
# writes, then vdi-snapshot (live) and export of the snapshots, full and
# differencing, while the guest keeps running on the same chain.
. "$(dirname "$0")/lib.sh"

guest_setup xl
cleanup_bridge() { ip link del "${BR}0" 2> /dev/null; true; }
trap 'stop_xapid; cleanup_bridge; t_cleanup' EXIT
start_xapid lv || { not_ok "xapid starts"; done_testing; exit 1; }
SR=$($XE sr-list params=uuid --minimal)
SRDIR=$STATE/sr-local
file_of() { echo "$SRDIR/$($XE vdi-param-get uuid=$1 param-name=location).qcow2"; }
reads() { qemu-io -f raw -r -c "read -P $2 $3 1M" "$1" > "$T_DIR/qio" 2>&1 && grep -q 'read 1048576' "$T_DIR/qio" && ! grep -q 'verification failed' "$T_DIR/qio"; }

VM=$($XE vm-install template="xapid test guest" new-name-label=live)
D=$($XE vdi-create sr-uuid=$SR name-label=data virtual-size=67108864)
qemu-io -f qcow2 -c 'write -P 0xa1 0 1M' -c 'write -P 0xa2 40M 1M' "$(file_of $D)" > /dev/null
$XE vbd-create vm-uuid=$VM vdi-uuid=$D device=1 > /dev/null
check_rc "vm-start" 0 $XE vm-start uuid=$VM
CONSOLE=$STATE/vms/$VM/console.log
n=1200
while [ $n -gt 0 ] && ! grep -q GUEST-UP "$CONSOLE" 2> /dev/null; do sleep 0.1; n=$((n - 1)); done
grep -q GUEST-UP "$CONSOLE" && ok "guest boots" || not_ok "guest boots" "$(tail -5 "$CONSOLE" 2>&1)"

check_rc "export of the disk the guest writes is refused" 1 $XE vdi-export uuid=$D filename="$T_DIR/no.raw"
S1=$($XE vdi-snapshot uuid=$D)
check "vdi-snapshot of the running disk" 36 "${#S1}"
check_rc "vdi-export of the snapshot (raw)" 0 $XE vdi-export uuid=$S1 filename="$T_DIR/s1.raw" format=raw
reads "$T_DIR/s1.raw" 0xa1 0 && reads "$T_DIR/s1.raw" 0xa2 40M && ok "it holds the disk's data" || not_ok "it holds the disk's data"
check_rc "vdi-export of the snapshot (vhd)" 0 $XE vdi-export uuid=$S1 filename="$T_DIR/s1.vhd" format=vhd
qemu-img compare -q -f vpc -F raw "$T_DIR/s1.vhd" "$T_DIR/s1.raw" && ok "the VHD matches the raw export" || not_ok "the VHD matches the raw export"
S2=$($XE vdi-snapshot uuid=$D)
check_rc "differencing export between two live snapshots" 0 $XE vdi-export uuid=$S2 base=$S1 filename="$T_DIR/d.vhd" format=vhd
R=$($XE vdi-create sr-uuid=$SR name-label=restore virtual-size=67108864)
$XE vdi-import uuid=$R filename="$T_DIR/s1.vhd" format=vhd && $XE vdi-import uuid=$R filename="$T_DIR/d.vhd" format=vhd
qemu-img compare -q "$(file_of $R)" "$(file_of $S2)" && ok "full + difference restore the second snapshot" || not_ok "full + difference restore the second snapshot"
check "the guest still runs" running "$($XE vm-param-get uuid=$VM param-name=power-state)"
check_rc "vm-shutdown --force" 0 $XE vm-shutdown uuid=$VM --force
done_testing
