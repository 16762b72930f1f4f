#!/bin/sh
# xe snapshot-uninstall (cli_operations.ml snapshot_uninstall): the
# snapshot and the disks it owns go, after a prompt unless force=true;
# disks the VM still uses and other VMs stay; a VM that is not a snapshot
# is refused with xapi's message.
. "$(dirname "$0")/lib.sh"

XAPID_EXTRA_ARGS=${XAPID_EXTRA_ARGS:---vm-backend sim}
start_xapid h1 || { not_ok "xapid starts"; done_testing; exit 1; }

sr=$($XE pool-list params=default-SR --minimal)
vm=$($XE vm-install template="Other install media" new-name-label=su1)
vdi=$($XE vdi-create sr-uuid="$sr" name-label=su1-disk virtual-size=8MiB)
vbd=$($XE vbd-create vm-uuid="$vm" vdi-uuid="$vdi" device=0)
# the disk is the VM's own (as vm-install's provisioned disks are)
$XE vbd-param-set uuid="$vbd" other-config:owner=true
snap=$($XE vm-snapshot vm="$vm" new-name-label=su1-snap)
check_rc "vm-snapshot" 0 test -n "$snap"
svdi=$($XE vbd-list vm-uuid="$snap" params=vdi-uuid --minimal)
check "the snapshot's disk is owned" "true" \
	"$($XE vbd-param-get uuid="$($XE vbd-list vm-uuid="$snap" --minimal)" param-name=other-config param-key=owner 2>&1)"

out=$($XE snapshot-uninstall uuid="$vm" force=true 2>&1)
check "a VM is refused (xapi's failwith)" "1 message: Failure: This operation can only be performed on a VM snapshot. $vm is not a VM snapshot." "$? $(echo "$out" | tail -1)"
out=$($XE snapshot-uninstall 2>&1)
check "no uuid" "1 message: Failure: Required parameter not found: snapshot-uuid or uuid." "$? $(echo "$out" | tail -1)"
out=$($XE snapshot-uninstall snapshot-uuid=nosuch force=true 2>&1)
check "an unknown uuid" "1" "$?"
out=$(echo no | $XE snapshot-uninstall snapshot-uuid="$snap" 2>&1)
check "without force it asks" "0" "$?"
check "and keeps the snapshot" "$snap" "$($XE snapshot-list uuid="$snap" --minimal)"

out=$($XE snapshot-uninstall snapshot-uuid="$snap" force=true 2>&1)
check "snapshot-uninstall force=true" "0 The following items are about to be destroyed
VM : $snap (su1-snap)
VDI: $svdi (su1-disk) 
All objects destroyed" "$? $out"
check "the snapshot is gone" "" "$($XE snapshot-list uuid="$snap" --minimal)"
check "its disk too" "" "$($XE vdi-list uuid="$svdi" --minimal)"
check "the VM stays" "$vm" "$($XE vm-list uuid="$vm" --minimal)"
check "with its disk" "$vdi" "$($XE vdi-list uuid="$vdi" --minimal)"
done_testing
