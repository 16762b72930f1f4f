#!/bin/sh
# Changed-block tracking on halted disks: vdi-enable-cbt, snapshots cutting
# the history, vdi-list-changed-blocks between snapshots (and up to the disk
# itself) as xapi returns it (base64, a bit per 64 KiB block, MSB first),
# vdi-data-destroy, xapi's refusals, logs collected when no longer needed.
. "$(dirname "$0")/lib.sh"
XAPID_EXTRA_ARGS="--vm-backend sim"
start_xapid cb || { not_ok "xapid starts"; done_testing; exit 1; }
SR=$($XE sr-list params=uuid --minimal)
SRDIR=$STATE/sr-local
V=$($XE vdi-create sr-uuid=$SR name-label=tracked virtual-size=16777216)
file_of() { echo "$SRDIR/$($XE vdi-param-get uuid=$1 param-name=location).qcow2"; }
wr() { qemu-io -f qcow2 -c "write -P 0x5a $2 4k" "$(file_of $1)" > /dev/null; }
# the set block numbers of a list_changed_blocks answer
blocks() { python3 -c '
import base64, sys
b = base64.b64decode(sys.argv[1])
print(" ".join(str(i) for i in range(len(b) * 8) if b[i // 8] & (0x80 >> (i % 8))), len(b))' "$1"; }

check "cbt-enabled is false at first" false "$($XE vdi-param-get uuid=$V param-name=cbt-enabled)"
check_rc "vdi-enable-cbt" 0 $XE vdi-enable-cbt uuid=$V
check "cbt-enabled" true "$($XE vdi-param-get uuid=$V param-name=cbt-enabled)"
check_rc "vdi-enable-cbt again is a no-op" 0 $XE vdi-enable-cbt uuid=$V
wr $V 0
S1=$($XE vdi-snapshot uuid=$V)
check "the snapshot tracks too" true "$($XE vdi-param-get uuid=$S1 param-name=cbt-enabled)"
wr $V 1M
wr $V 5M
S2=$($XE vdi-snapshot uuid=$V)
check "changed between two snapshots" "16 80 32" "$(blocks "$($XE vdi-list-changed-blocks vdi-from-uuid=$S1 vdi-to-uuid=$S2)")"
check "a snapshot against itself: nothing" " 32" "$(blocks "$($XE vdi-list-changed-blocks vdi-from-uuid=$S2 vdi-to-uuid=$S2)")"
wr $V 2M
check "up to the (unattached) disk itself" "32 32" "$(blocks "$($XE vdi-list-changed-blocks vdi-from-uuid=$S2 vdi-to-uuid=$V)")"
check "across several intervals" "16 32 80 32" "$(blocks "$($XE vdi-list-changed-blocks vdi-from-uuid=$S1 vdi-to-uuid=$V)")"
check_rc "the newer as vdi-from is refused" 1 $XE vdi-list-changed-blocks vdi-from-uuid=$S2 vdi-to-uuid=$S1
S3=$($XE vdi-snapshot uuid=$V)
check_rc "destroy a middle snapshot" 0 $XE vdi-destroy uuid=$S2
check "its interval still counts" "16 32 80 32" "$(blocks "$($XE vdi-list-changed-blocks vdi-from-uuid=$S1 vdi-to-uuid=$S3)")"
C=$($XE vdi-clone uuid=$V)
check "a clone is a new disk, untracked" false "$($XE vdi-param-get uuid=$C param-name=cbt-enabled)"
wr $V 3M
check "the disk's interval survives a clone" "48 32" "$(blocks "$($XE vdi-list-changed-blocks vdi-from-uuid=$S3 vdi-to-uuid=$V)")"

# xapi's refusals
check_rc "enable-cbt on a snapshot" 1 $XE vdi-enable-cbt uuid=$S1
grep -q "OPERATION_NOT_ALLOWED\|not allowed" "$T_DIR/last.err" && ok "OPERATION_NOT_ALLOWED" || not_ok "OPERATION_NOT_ALLOWED" "$(cat "$T_DIR/last.err")"
check_rc "list from a disk without CBT" 1 $XE vdi-list-changed-blocks vdi-from-uuid=$C vdi-to-uuid=$V
grep -q "VDI_NO_CBT_METADATA\|changed block tracking metadata" "$T_DIR/last.err" && ok "VDI_NO_CBT_METADATA" || not_ok "VDI_NO_CBT_METADATA" "$(cat "$T_DIR/last.err")"
check_rc "data-destroy of a disk that is not a snapshot" 1 $XE vdi-data-destroy uuid=$V
W=$($XE vdi-create sr-uuid=$SR name-label=other virtual-size=16777216)
$XE vdi-enable-cbt uuid=$W
W1=$($XE vdi-snapshot uuid=$W)
check_rc "snapshots of two different disks" 1 $XE vdi-list-changed-blocks vdi-from-uuid=$W1 vdi-to-uuid=$V
VM=$($XE vm-install template="Other install media" new-name-label=user)
$XE vbd-create vm-uuid=$VM vdi-uuid=$V device=0 > /dev/null
$XE vm-start uuid=$VM
check_rc "list up to a disk a running VM writes to" 1 $XE vdi-list-changed-blocks vdi-from-uuid=$S3 vdi-to-uuid=$V
grep -q "VDI_IN_USE\|in use" "$T_DIR/last.err" && ok "VDI_IN_USE" || not_ok "VDI_IN_USE" "$(cat "$T_DIR/last.err")"
$XE vm-shutdown uuid=$VM --force

# data-destroy: the snapshot keeps its record and history, not its data
SF=$(file_of $S1)
check_rc "vdi-data-destroy" 0 $XE vdi-data-destroy uuid=$S1
check "type cbt_metadata" "CBT metadata" "$($XE vdi-param-get uuid=$S1 param-name=type)"
[ ! -f "$SF" ] && ok "its data is gone" || not_ok "its data is gone"
check "the history still answers" "16 32 48 80 32" "$(blocks "$($XE vdi-list-changed-blocks vdi-from-uuid=$S1 vdi-to-uuid=$V)")"
check_rc "a CBT-metadata VDI cannot be cloned" 1 $XE vdi-clone uuid=$S1
grep -q "VDI_INCOMPATIBLE_TYPE\|incompatible" "$T_DIR/last.err" && ok "VDI_INCOMPATIBLE_TYPE" || not_ok "VDI_INCOMPATIBLE_TYPE" "$(cat "$T_DIR/last.err")"
check_rc "nor copied" 1 $XE vdi-copy uuid=$S1 sr-uuid=$SR
# xapi's other refusals of a metadata-only VDI (check_operation_error,
# VBD.create) and of a tracked one (set_on_boot)
check_rc "nor resized" 1 $XE vdi-resize uuid=$S1 disk-size=33554432
grep -q "incompatible type" "$T_DIR/last.err" && ok "resize: VDI_INCOMPATIBLE_TYPE" || not_ok "resize: VDI_INCOMPATIBLE_TYPE" "$(cat "$T_DIR/last.err")"
VM2=$($XE vm-install template="Other install media" new-name-label=meta)
check_rc "no VBD can hold it" 1 $XE vbd-create vm-uuid=$VM2 vdi-uuid=$S1 device=1
grep -q "incompatible type" "$T_DIR/last.err" && grep -q "CBT metadata" "$T_DIR/last.err" &&
	ok "vbd-create: VDI_INCOMPATIBLE_TYPE [vdi; CBT metadata]" || not_ok "vbd-create: VDI_INCOMPATIBLE_TYPE" "$(cat "$T_DIR/last.err")"
check "and no VBD was made" "" "$($XE vbd-list vm-uuid=$VM2 --minimal)"
check_rc "vdi-param-set on-boot=reset of a tracked VDI" 1 $XE vdi-param-set uuid=$V on-boot=reset
grep -q "CBT is enabled\|VDI_CBT_ENABLED" "$T_DIR/last.err" && ok "VDI_CBT_ENABLED" || not_ok "VDI_CBT_ENABLED" "$(cat "$T_DIR/last.err")"
check "on-boot unchanged" persist "$($XE vdi-param-get uuid=$V param-name=on-boot)"
check_rc "on-boot=reset of a metadata-only VDI" 1 $XE vdi-param-set uuid=$S1 on-boot=reset
grep -q "incompatible type" "$T_DIR/last.err" && ok "set_on_boot: VDI_INCOMPATIBLE_TYPE" || not_ok "set_on_boot: VDI_INCOMPATIBLE_TYPE" "$(cat "$T_DIR/last.err")"
R=$($XE vdi-create sr-uuid=$SR name-label=resetting virtual-size=4194304)
check_rc "on-boot=reset of an untracked VDI" 0 $XE vdi-param-set uuid=$R on-boot=reset
check "set" reset "$($XE vdi-param-get uuid=$R param-name=on-boot)"
check_rc "a reset VDI cannot be snapshotted" 1 $XE vdi-snapshot uuid=$R
grep -q "on-boot=reset" "$T_DIR/last.err" && ok "VDI_ON_BOOT_MODE_INCOMPATIBLE_WITH_OPERATION" || not_ok "snapshot of a reset VDI" "$(cat "$T_DIR/last.err")"
check_rc "nor copied" 1 $XE vdi-copy uuid=$R sr-uuid=$SR
check_rc "on-boot=persist again" 0 $XE vdi-param-set uuid=$R on-boot=persist
$XE vdi-destroy uuid=$R
$XE vm-destroy uuid=$VM2
check_rc "data-destroy again is a no-op" 0 $XE vdi-data-destroy uuid=$S1

# logs: kept while a snapshot may ask, gone after
ls "$SRDIR" | grep -q '\.cbtlog$' && ok "interval logs on the SR" || not_ok "interval logs on the SR" "$(ls "$SRDIR")"
for s in $S1 $S3 $W1; do $XE vdi-destroy uuid=$s; done
check_rc "vdi-disable-cbt" 0 $XE vdi-disable-cbt uuid=$V
check "cbt-enabled false" false "$($XE vdi-param-get uuid=$V param-name=cbt-enabled)"
check "no log left" "" "$(ls "$SRDIR" | grep '\.cbtlog$')"
qemu-img info "$(file_of $V)" | grep -q xapid-cbt && not_ok "the bitmap is gone from the disk" || ok "the bitmap is gone from the disk"
done_testing
