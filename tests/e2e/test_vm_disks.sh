#!/bin/sh
# Copy-on-write disks: VDI.clone / VDI.snapshot and VM.clone / VM.snapshot of
# halted VMs with disks; the data of each copy stays its own.
. "$(dirname "$0")/lib.sh"
XAPID_EXTRA_ARGS="--vm-backend sim"
start_xapid d1 || { not_ok "xapid starts"; done_testing; exit 1; }
SR=$($XE sr-list params=uuid --minimal)
SRDIR=$STATE/sr-local
VM=$($XE vm-install template="Other install media" new-name-label=src)
VDI=$($XE vdi-create sr-uuid=$SR name-label=disk0 virtual-size=16777216)
$XE vbd-create vm-uuid=$VM vdi-uuid=$VDI device=0 bootable=true > /dev/null
file_of() { echo "$SRDIR/$($XE vdi-param-get uuid=$1 param-name=location).qcow2"; }
qemu-io -f qcow2 -c 'write -P 0xab 0 1M' "$(file_of $VDI)" > /dev/null
# qemu-io prints "read N bytes" even when the pattern check fails: judge by
# its exit status and the absence of the failure line
pattern() {
	out=$(qemu-io -f qcow2 -r -U -c "read -P $2 0 1M" "$(file_of $1)" 2>&1) &&
		! echo "$out" | grep -q 'verification failed' && echo "$out" | grep -q 'read 1048576'
}

CL=$($XE vm-clone uuid=$VM new-name-label=copy)
check "vm-clone prints a uuid" 36 "${#CL}"
CVDI=$($XE vbd-list vm-uuid=$CL params=vdi-uuid --minimal)
[ -n "$CVDI" ] && [ "$CVDI" != "$VDI" ] && ok "the clone has its own disk" || not_ok "the clone has its own disk" "$CVDI"
pattern $CVDI 0xab && ok "the clone sees the source's data" || not_ok "the clone sees the source's data"
qemu-io -f qcow2 -c 'write -P 0xcd 0 1M' "$(file_of $VDI)" > /dev/null
pattern $CVDI 0xab && ok "writes to the source do not reach the clone" || not_ok "writes to the source do not reach the clone"
pattern $VDI 0xcd && ok "the source has its new data" || not_ok "the source has its new data"
pattern $VDI 0xab && not_ok "the pattern check tells old data from new" || ok "the pattern check tells old data from new"

SN=$($XE vm-snapshot uuid=$VM new-name-label=snap1)
check "vm-snapshot prints a uuid" 36 "${#SN}"
check "snapshot is a snapshot" true "$($XE snapshot-param-get uuid=$SN param-name=is-a-snapshot)"
check "snapshot-of" "$VM" "$($XE snapshot-param-get uuid=$SN param-name=snapshot-of)"
SVDI=$($XE vbd-list vm-uuid=$SN params=vdi-uuid --minimal)
check "snapshot VDI is-a-snapshot" true "$($XE vdi-param-get uuid=$SVDI param-name=is-a-snapshot)"
qemu-io -f qcow2 -c 'write -P 0xef 0 1M' "$(file_of $VDI)" > /dev/null
pattern $SVDI 0xcd && ok "the snapshot keeps the data of its time" || not_ok "the snapshot keeps the data of its time"
pattern $CVDI 0xab && ok "the clone is still untouched" || not_ok "the clone is still untouched"
check_rc "vdi-destroy of the clone's disk after vm-destroy" 0 sh -c "$XE vm-destroy uuid=$CL && $XE vdi-destroy uuid=$CVDI"
pattern $VDI 0xef && ok "the source still reads after the clone is gone" || not_ok "the source still reads"
check_rc "vdi-clone of a halted VM's disk" 0 $XE vdi-clone uuid=$VDI

# revert: the VM gets the snapshot's data back (0xcd), on a new disk
$XE vm-param-set uuid=$VM VCPUs-max=2 VCPUs-at-startup=2
check_rc "snapshot-revert" 0 $XE snapshot-revert snapshot-uuid=$SN
RVDI=$($XE vbd-list vm-uuid=$VM params=vdi-uuid --minimal)
[ -n "$RVDI" ] && [ "$RVDI" != "$VDI" ] && ok "reverted VM has a fresh disk" || not_ok "reverted VM has a fresh disk" "$RVDI"
pattern $RVDI 0xcd && ok "reverted disk holds the snapshot's data" || not_ok "reverted disk holds the snapshot's data"
check "configuration reverted" 1 "$($XE vm-param-get uuid=$VM param-name=VCPUs-max)"
[ -z "$($XE vdi-list uuid=$VDI --minimal)" ] && ok "the replaced disk is gone" || not_ok "the replaced disk is gone"
pattern $SVDI 0xcd && ok "the snapshot itself is unchanged" || not_ok "the snapshot itself is unchanged"
qemu-io -f qcow2 -c 'write -P 0x11 0 1M' "$(file_of $RVDI)" > /dev/null
pattern $SVDI 0xcd && ok "writes after the revert leave the snapshot alone" || not_ok "writes after the revert leave the snapshot alone"
check_rc "snapshot-revert of something that is not a snapshot" 1 $XE snapshot-revert snapshot-uuid=$VM

# full copies: stand-alone images with the same data
CP=$($XE vm-copy uuid=$VM new-name-label=fullcopy)
check "vm-copy prints a uuid" 36 "${#CP}"
CPVDI=$($XE vbd-list vm-uuid=$CP params=vdi-uuid --minimal)
pattern $CPVDI 0x11 && ok "the full copy has the VM's data" || not_ok "the full copy has the VM's data"
qemu-img info --output=json "$(file_of $CPVDI)" | grep -q backing-filename && not_ok "the full copy stands alone" || ok "the full copy stands alone"
VC=$($XE vdi-copy uuid=$RVDI sr-uuid=$SR)
check "vdi-copy prints a uuid" 36 "${#VC}"
pattern $VC 0x11 && ok "vdi-copy has the data" || not_ok "vdi-copy has the data"
$XE vm-destroy uuid=$CP
for v in $CPVDI $VC; do $XE vdi-destroy uuid=$v; done

# vdi-export / vdi-import, raw and VHD
check_rc "vdi-export raw" 0 $XE vdi-export uuid=$RVDI filename="$T_DIR/d.raw" format=raw
qemu-img convert -O raw "$(file_of $RVDI)" "$T_DIR/ref.raw"
cmp -s "$T_DIR/d.raw" "$T_DIR/ref.raw" && ok "the raw export is the disk's bytes" || not_ok "the raw export is the disk's bytes"
check_rc "vdi-export vhd" 0 $XE vdi-export uuid=$RVDI filename="$T_DIR/d.vhd" format=vhd
qemu-img info "$T_DIR/d.vhd" | grep -q 'file format: vpc' && ok "the VHD export is a VHD" || not_ok "the VHD export is a VHD"
IV=$($XE vdi-create sr-uuid=$SR name-label=imported virtual-size=16777216)
check_rc "vdi-import raw" 0 $XE vdi-import uuid=$IV filename="$T_DIR/d.raw" format=raw
pattern $IV 0x11 && ok "the imported VDI has the data" || not_ok "the imported VDI has the data"
IV2=$($XE vdi-create sr-uuid=$SR name-label=imported2 virtual-size=16777216)
check_rc "vdi-import vhd" 0 $XE vdi-import uuid=$IV2 filename="$T_DIR/d.vhd" format=vhd
pattern $IV2 0x11 && ok "the VHD import has the data" || not_ok "the VHD import has the data"
head -c 100000 "$T_DIR/d.vhd" > "$T_DIR/trunc.vhd"
check_rc "a truncated VHD is refused" 1 $XE vdi-import uuid=$IV2 filename="$T_DIR/trunc.vhd" format=vhd
pattern $IV2 0x11 && ok "and the VDI is as it was" || not_ok "and the VDI is as it was"
head -c 33554432 /dev/zero > "$T_DIR/big.raw"
check_rc "a raw image bigger than the VDI is refused" 1 $XE vdi-import uuid=$IV filename="$T_DIR/big.raw"
ls -a "$SRDIR" | grep -q '\.tmp$' && not_ok "no temporary file left in the SR" || ok "no temporary file left in the SR"
for v in $IV $IV2; do $XE vdi-destroy uuid=$v; done

# a clone interrupted by a crash right after moving the data into the base
# (the journal is still there) is rolled back, not collected as garbage
L=$($XE vdi-param-get uuid=$RVDI param-name=location)
mv "$SRDIR/$L.qcow2" "$SRDIR/crashed0.base.qcow2"
printf '%s\ncrashed0.base.qcow2\n' "$L" > "$SRDIR/.clone-crashed0.journal"
check_rc "sr-scan after the crash" 0 $XE sr-scan uuid=$SR
[ -f "$SRDIR/$L.qcow2" ] && [ ! -f "$SRDIR/crashed0.base.qcow2" ] && ok "the interrupted clone is rolled back" || not_ok "the interrupted clone is rolled back" "$(ls -a "$SRDIR")"
pattern $RVDI 0x11 && ok "and no byte was lost" || not_ok "and no byte was lost"

# a backup script's cycle: snapshot, then vm-uninstall of the snapshot takes
# its disks with it (they belong to it: VBD other-config:owner)
S2=$($XE vm-snapshot uuid=$VM new-name-label=backup)
S2VDI=$($XE vbd-list vm-uuid=$S2 params=vdi-uuid --minimal)
check_rc "template-param-set is-a-template=false ha-always-run=false (as VmBackup)" 0 \
	$XE template-param-set is-a-template=false ha-always-run=false uuid=$S2
check_rc "vm-uninstall of the snapshot" 0 $XE vm-uninstall uuid=$S2 force=true
[ -z "$($XE vdi-list uuid=$S2VDI --minimal)" ] && ok "the snapshot's disk went with it" || not_ok "the snapshot's disk went with it"
pattern $RVDI 0x11 && ok "the VM's own disk is untouched" || not_ok "the VM's own disk is untouched"

# deleting snapshots coalesces the chains: no hidden base outlives its use
nbases() { ls "$SRDIR"/*.qcow2 | wc -l; }  # VDIs and hidden bases alike
for v in $($XE vdi-list sr-uuid=$SR params=uuid --minimal | tr , ' '); do
	[ "$v" = "$RVDI" ] && continue
	for b in $($XE vbd-list vdi-uuid=$v params=uuid --minimal | tr , ' '); do
		$XE vbd-destroy uuid=$b > /dev/null
	done
	$XE vdi-destroy uuid=$v
done
$XE vm-destroy uuid=$SN
check "only the VM's disk is left in the SR" "1 1" "$($XE vdi-list sr-uuid=$SR --minimal | tr , '\n' | grep -c .) $(nbases)"
pattern $RVDI 0x11 && ok "the VM's data survived the coalescing" || not_ok "the VM's data survived the coalescing"
qemu-img info --output=json "$(file_of $RVDI)" | grep -q backing-filename && not_ok "the disk stands alone again" || ok "the disk stands alone again"

# a suspend VDI an administrator made is theirs: a restart's recovery (which
# removes memory images of interrupted suspends and checkpoints) leaves it
UV=$($XE vdi-create sr-uuid=$SR name-label=mine type=suspend virtual-size=16777216)
stop_xapid
start_xapid d1 || not_ok "xapid restarts"
check "a user's suspend VDI survives a restart" "$UV" "$($XE vdi-list uuid=$UV --minimal)"
done_testing
