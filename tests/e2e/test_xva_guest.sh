#!/bin/sh
# A real guest (QEMU, TCG) exported as an XVA and imported back: the copy
# boots, sees its disk, and the disk holds the pattern written before.
. "$(dirname "$0")/lib.sh"

guest_setup xx
cleanup_bridge() { ip link del "${BR}0" 2>/dev/null; true; }
trap 'stop_xapid; cleanup_bridge; t_cleanup' EXIT
start_xapid x1 || { not_ok "xapid starts"; done_testing; exit 1; }

SR=$($XE sr-list params=uuid --minimal | cut -d, -f1)
VM=$($XE vm-install template="xapid test guest" new-name-label=orig)
$XE vm-param-set uuid=$VM PV-args="console=ttyS0 quiet xapid.tick=5"
VDI=$($XE vdi-create sr-uuid=$SR name-label=data virtual-size=67108864)
$XE vbd-create vm-uuid=$VM vdi-uuid=$VDI device=1 > /dev/null
file_of() { echo "$STATE/sr-local/$($XE vdi-param-get uuid=$1 param-name=location).qcow2"; }
qemu-io -f qcow2 -c 'write -P 0x3c 1M 2M' -c 'write -P 0xc3 60M 1M' "$(file_of $VDI)" > /dev/null
check_rc "vm-export of the guest (zstd)" 0 $XE vm-export vm=$VM filename="$T_DIR/g.xva" compress=zstd
check_rc "vm-destroy of the original" 0 $XE vm-destroy uuid=$VM
NEW=$($XE vm-import filename="$T_DIR/g.xva")
check "vm-import prints a uuid" 36 "${#NEW}"
NVDI=$($XE vbd-list vm-uuid=$NEW userdevice=1 params=vdi-uuid --minimal)
pat() { qemu-io -f qcow2 -r -U -c "read -P $2 $3 $4" "$(file_of $NVDI)" 2>&1 | grep -q "^read" && ! qemu-io -f qcow2 -r -U -c "read -P $2 $3 $4" "$(file_of $NVDI)" 2>&1 | grep -q 'Pattern verification failed'; }
pat x 0x3c 1M 2M && pat x 0xc3 60M 1M && pat x 0 0 1M && ok "the imported disk holds the pattern" || not_ok "the imported disk holds the pattern"
check_rc "vm-start of the imported guest" 0 $XE vm-start uuid=$NEW
CONSOLE=$STATE/vms/$NEW/console.log
wait_for 180 grep -q GUEST-UP "$CONSOLE" && ok "the imported guest boots" || not_ok "the imported guest boots" "$(tail -5 "$CONSOLE" 2>&1)"
wait_for 120 grep -q 'DISKS:.*vd[a-z]:131072' "$CONSOLE" && ok "the guest sees its imported disk" || not_ok "the guest sees its imported disk" "$(grep DISKS "$CONSOLE" | tail -3)"
check_rc "vm-export of the running guest is refused" 1 $XE vm-export vm=$NEW filename="$T_DIR/run.xva"
grep -q "halted, suspended" "$T_DIR/last.err" && ok "VM_BAD_POWER_STATE as xapi words it" || not_ok "VM_BAD_POWER_STATE" "$(cat "$T_DIR/last.err")"
check_rc "vm-shutdown --force" 0 $XE vm-shutdown uuid=$NEW --force
done_testing
