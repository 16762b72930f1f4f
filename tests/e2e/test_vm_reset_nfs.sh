#!/bin/sh
# VDI on_boot=reset on an nfs SR (the test's own nfs-ganesha), real guest
# (QEMU, TCG): the per-boot overlay lives in the VM's directory on this host
# and backs onto the image on the share (QEMU's nfs driver); writes go to
# the overlay, the image on the share never changes, and every boot (hard
# and clean reboot, start after shutdown) finds the disk as it was. A
# persist disk on the same share keeps its writes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nfs_lib.sh"

if ! nfs_available; then
	echo "1..0 # SKIP nfs-ganesha/rpcbind not installed (tools/install-deps.sh)"
	exit 0
fi
guest_setup xrn
trap 'stop_xapid; kill_qemus; nfs_cleanup' EXIT
trap 'exit 1' INT TERM
nfs_start || { not_ok "ganesha starts"; done_testing; exit 1; }
start_xapid rn1 || { not_ok "xapid starts"; done_testing; exit 1; }
SRV="device-config:server=$NFS_IP device-config:serverpath=$NFS_EXPORT"
SR=$($XE sr-create type=nfs name-label=nfs shared=true content-type=user $SRV)
check "nfs sr-create" 36 "${#SR}"
VM=$($XE vm-install template="xapid test guest" new-name-label=rnfs)
RESET=$($XE vdi-create sr-uuid=$SR name-label=scratch virtual-size=16777216)
KEEP=$($XE vdi-create sr-uuid=$SR name-label=keep virtual-size=16777216)
$XE vbd-create vm-uuid=$VM vdi-uuid=$RESET device=1 > /dev/null
$XE vbd-create vm-uuid=$VM vdi-uuid=$KEEP device=2 > /dev/null
check_rc "vdi-param-set on-boot=reset" 0 $XE vdi-param-set uuid=$RESET on-boot=reset
IMG=$NFS_EXPORT/$SR/$RESET.qcow2
sum0=$(md5sum < "$IMG")

check_rc "vm-start" 0 $XE vm-start uuid=$VM
CONSOLE=$STATE/vms/$VM/console.log
ups() { grep -c QGA-UP "$CONSOLE"; }
wait_for 180 grep -q QGA-UP "$CONSOLE" && ok "guest boots" || not_ok "guest boots" "$(tail -5 "$CONSOLE" 2>&1)"
OV=$STATE/vms/$VM/reset-vbd1.qcow2
[ -f "$OV" ] && ok "the reset disk has a per-boot overlay on this host" || not_ok "overlay file" "$(ls "$STATE/vms/$VM"; grep -i overlay "$T_DIR"/*.log | tail -3)"
b=$(qemu-img info -U "$OV" 2>/dev/null | sed -n 's/^backing file: //p')
case "$b" in nfs://*) ok "it backs onto the image on the share ($b)";; *) not_ok "overlay backing" "$b";; esac

dev() { echo "d=; for s in /sys/block/vd*; do [ \"\$(cat \$s/serial)\" = $1 ] && d=/dev/\${s##*/}; done"; }
gwrite() { gexec "$(dev "$1"); printf '%-16s' $2 | dd of=\$d bs=16 count=1 conv=notrunc 2>/dev/null; sync"; }
gread() { gexec "$(dev "$1"); dd if=\$d bs=16 count=1 iflag=direct 2>/dev/null | tr -d '\\000 '"; }
both() { echo "$(gread 1)/$(gread 2)"; }

gwrite 1 SCRATCH-1 && gwrite 2 KEPT-1
check "the guest writes both disks" "SCRATCH-1/KEPT-1" "$(both)"
check "the image on the share is untouched" "$sum0" "$(md5sum < "$IMG")"
n=$(ups)
check_rc "vm-reboot --force (hard)" 0 $XE vm-reboot uuid=$VM --force
wait_for 180 sh -c "[ \$(grep -c QGA-UP '$CONSOLE') -gt $n ]" && ok "the guest comes back" || not_ok "guest back" "$(tail -5 "$CONSOLE")"
check "after a hard reboot: the reset disk is as it was, the other kept" "/KEPT-1" "$(both)"

gwrite 1 SCRATCH-2
n=$(ups)
check_rc "vm-reboot (clean)" 0 $XE vm-reboot uuid=$VM
wait_for 180 sh -c "[ \$(grep -c QGA-UP '$CONSOLE') -gt $n ]" && ok "the guest comes back" || not_ok "guest back" "$(tail -5 "$CONSOLE")"
check "after a clean reboot: reset" "/KEPT-1" "$(both)"

gwrite 1 SCRATCH-3
check_rc "vm-shutdown" 0 $XE vm-shutdown uuid=$VM --force
[ -f "$OV" ] && not_ok "the overlay is gone after the shutdown" "$(ls "$STATE/vms/$VM")" \
	|| ok "the overlay is gone after the shutdown"
check "the image on the share never changed" "$sum0" "$(md5sum < "$IMG")"
n=$(ups)
check_rc "vm-start again" 0 $XE vm-start uuid=$VM
wait_for 180 sh -c "[ \$(grep -c QGA-UP '$CONSOLE') -gt $n ]" && ok "guest boots" || not_ok "guest boots"
check "a fresh boot: reset" "/KEPT-1" "$(both)"
$XE vm-shutdown uuid=$VM --force > /dev/null
done_testing
