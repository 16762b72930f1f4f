#!/bin/sh
# A real guest (QEMU, TCG) whose disk is on an nfs SR served by the test's
# own nfs-ganesha: QEMU reaches the image with its nfs:// driver. The guest
# writes a pattern, a live vm-snapshot is taken (the new top layer on NFS),
# the guest changes the data, snapshot-revert brings the pattern back. Then
# sr-forget + sr-introduce + pbd-plug + sr-scan bring the VDIs back and the
# guest boots from them again; an ISO SR on the same share gives a CD.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nfs_lib.sh"

if ! nfs_available; then
	echo "1..0 # SKIP nfs-ganesha/rpcbind not installed (tools/install-deps.sh)"
	exit 0
fi
guest_setup xn
trap 'stop_xapid; kill_qemus; nfs_cleanup' EXIT
trap 'exit 1' INT TERM
nfs_start || { not_ok "ganesha starts"; done_testing; exit 1; }
# an ISO image on the share before the server looks at it
mkdir -p "$NFS_EXPORT/isos"
{ printf 'XAPID-ISO-%-6s' 1; head -c 2032 /dev/zero; head -c 63488 /dev/zero; } > "$NFS_EXPORT/isos/tools.iso"
start_xapid n1 || { not_ok "xapid starts"; done_testing; exit 1; }
SRV="device-config:server=$NFS_IP device-config:serverpath=$NFS_EXPORT"
SR=$($XE sr-create type=nfs name-label=nfs shared=true content-type=user $SRV)
check "nfs sr-create" 36 "${#SR}"
VM=$($XE vm-install template="xapid test guest" new-name-label=onnfs sr-uuid=$SR)
$XE vm-param-set uuid=$VM PV-args="console=ttyS0 quiet xapid.tick=1"
VDI=$($XE vdi-create sr-uuid=$SR name-label=root virtual-size=67108864)
$XE vbd-create vm-uuid=$VM vdi-uuid=$VDI device=0 > /dev/null
check "the disk is on the export" yes "$([ -f "$NFS_EXPORT/$SR/$VDI.qcow2" ] && echo yes)"
check_rc "vm-start with its disk on nfs" 0 $XE vm-start uuid=$VM
CONSOLE=$STATE/vms/$VM/console.log
wait_for 180 grep -q QGA-UP "$CONSOLE" && ok "guest boots" || not_ok "guest boots" "$(tail -5 "$CONSOLE" 2>&1)"
qpid=$(cut -d' ' -f1 "$STATE/vms/$VM/pid")
# the disks are attached over QMP: the spec names an nfs:// URL and QEMU
# holds no file of the export open (it reads through its own NFS client)
grep -q '"path": *"nfs://' "$STATE/vms/$VM/state.json" &&
	! ls -l "/proc/$qpid/fd" 2>/dev/null | grep -q "$VDI.qcow2" \
	&& ok "QEMU opens the image with its nfs driver" || not_ok "nfs blockdev" "$(cat "$STATE/vms/$VM/state.json"; ls -l "/proc/$qpid/fd")"
gwrite() { gexec "printf '%-16s' $1 | dd of=/dev/vda bs=16 count=1 conv=notrunc 2>/dev/null; sync"; }
gread() { gexec "dd if=/dev/vda bs=16 count=1 iflag=direct 2>/dev/null"; }
gwrite PATTERN-ONE && ok "the guest writes a pattern" || not_ok "guest write"
check "and reads it back" "PATTERN-ONE" "$(gread | tr -d ' ')"

SNAP=$($XE vm-snapshot uuid=$VM new-name-label=s1)
check "live vm-snapshot on nfs" 36 "${#SNAP}"
b=$(qemu-img info -U "$NFS_EXPORT/$SR/$VDI.qcow2" | sed -n 's/^backing file: //p')
case "$b" in nfs://*) ok "the new top layer backs onto an nfs:// URL";; *) not_ok "backing URL" "$b";; esac
gwrite CHANGED-TWO
check "the guest changes the data" "CHANGED-TWO" "$(gread | tr -d ' ')"
check_rc "vm-shutdown" 0 $XE vm-shutdown uuid=$VM --force
check_rc "snapshot-revert" 0 $XE snapshot-revert snapshot-uuid=$SNAP
check_rc "vm-start after the revert" 0 $XE vm-start uuid=$VM
wait_for 180 sh -c "[ \$(grep -c QGA-UP '$CONSOLE') -ge 2 ]" && ok "guest boots again" || not_ok "guest boots again" "$(tail -5 "$CONSOLE")"
check "the pattern is back" "PATTERN-ONE" "$(gread | tr -d ' ')"

# memory images on the nfs SR (QEMU streams them through a FIFO that
# xapid pumps to the share with libnfs): suspend/resume, checkpoint/revert
$XE pool-param-set uuid=$($XE pool-list --minimal) suspend-image-SR=$SR
check_rc "vm-suspend onto the nfs SR" 0 $XE vm-suspend uuid=$VM
SUSP=$($XE vm-param-get uuid=$VM param-name=suspend-VDI-uuid)
[ -s "$NFS_EXPORT/$SR/$SUSP.suspend" ] && ok "the memory image is on the export" || not_ok "memory image on the export" "$(ls -la "$NFS_EXPORT/$SR")"
check_rc "vm-resume from it" 0 $XE vm-resume uuid=$VM
check "the guest goes on" "PATTERN-ONE" "$(gread | tr -d ' ')"
CP=$($XE vm-checkpoint uuid=$VM new-name-label=cp)
check "vm-checkpoint with its memory on nfs" 36 "${#CP}"
gwrite AFTER-CHECK
check "the guest changes the data" "AFTER-CHECK" "$(gread | tr -d ' ')"
check_rc "snapshot-revert to the checkpoint" 0 $XE snapshot-revert snapshot-uuid=$CP
check "suspended at the checkpoint" suspended "$($XE vm-param-get uuid=$VM param-name=power-state)"
check_rc "vm-resume" 0 $XE vm-resume uuid=$VM
check "the guest is back at the checkpoint" "PATTERN-ONE" "$(gread | tr -d ' ')"

# changed-block tracking of the running disk: QEMU writes each closed
# interval's bits into a log on the share (its nfs driver)
CV=$($XE vbd-list vm-uuid=$VM userdevice=0 params=vdi-uuid --minimal)
check_rc "vdi-enable-cbt of the running disk" 0 $XE vdi-enable-cbt uuid=$CV
C1=$($XE vdi-snapshot uuid=$CV)
gexec "printf 'CBT-BLOCK-AT-1M' | dd of=/dev/vda bs=65536 seek=16 conv=notrunc 2>/dev/null; sync"
C2=$($XE vdi-snapshot uuid=$CV)
check "live snapshots with CBT" "36 36" "${#C1} ${#C2}"
ls "$NFS_EXPORT/$SR" | grep -q '\.cbtlog$' && ok "the interval logs are on the share" || not_ok "cbt logs on the share" "$(ls "$NFS_EXPORT/$SR")"
bits=$($XE vdi-list-changed-blocks vdi-from-uuid=$C1 vdi-to-uuid=$C2)
python3 -c 'import base64,sys; b=base64.b64decode(sys.argv[1]); sys.exit(0 if b[2] & 0x80 else 1)' "$bits" &&
	ok "the guest's write at 1 MiB shows as changed" || not_ok "changed blocks" "$bits"
$XE vdi-destroy uuid=$C1
$XE vdi-destroy uuid=$C2
check_rc "vdi-disable-cbt" 0 $XE vdi-disable-cbt uuid=$CV

# two writers: a second VM may not open the disk the first one writes
VM2=$($XE vm-install template="xapid test guest" new-name-label=second)
DISK=$($XE vbd-list vm-uuid=$VM params=vdi-uuid --minimal)
$XE vbd-create vm-uuid=$VM2 vdi-uuid=$DISK device=0 > /dev/null
check_rc "a second VM using the disk read-write does not start" 1 $XE vm-start uuid=$VM2
$XE vm-uninstall uuid=$VM2 --force > /dev/null 2>&1 || $XE vm-destroy uuid=$VM2

check_rc "vm-shutdown" 0 $XE vm-shutdown uuid=$VM --force
PBD=$($XE pbd-list sr-uuid=$SR --minimal)
check_rc "pbd-unplug" 0 $XE pbd-unplug uuid=$PBD
check_rc "sr-forget" 0 $XE sr-forget uuid=$SR
check_rc "sr-introduce" 0 $XE sr-introduce uuid=$SR type=nfs name-label=nfs-again shared=true content-type=user
PBD=$($XE pbd-create host-uuid=$($XE host-list --minimal) sr-uuid=$SR $SRV)
check_rc "pbd-plug" 0 $XE pbd-plug uuid=$PBD
check_rc "sr-scan" 0 $XE sr-scan uuid=$SR
check "the disk is back" "$DISK" "$($XE vdi-list uuid=$DISK params=uuid --minimal)"
# the VM's old VBD names the forgotten VDI row: a new one, as after xapi's sr-forget
for b in $($XE vbd-list vm-uuid=$VM --minimal | tr , ' '); do $XE vbd-destroy uuid=$b; done
$XE vbd-create vm-uuid=$VM vdi-uuid=$DISK device=0 > /dev/null

# a CD from an ISO SR on the same share
ISO=$($XE sr-create type=iso name-label=isos content-type=iso device-config:location=nfs://$NFS_IP$NFS_EXPORT/isos)
check "iso sr-create over nfs" 36 "${#ISO}"
$XE sr-scan uuid=$ISO
CDV=$($XE vdi-list sr-uuid=$ISO name-label=tools.iso --minimal)
check "the ISO is a VDI" 36 "${#CDV}"
check "read-only" true "$($XE vdi-param-get uuid=$CDV param-name=read-only)"
$XE vbd-create vm-uuid=$VM vdi-uuid=$CDV device=3 type=CD mode=RO > /dev/null
check_rc "vm-start from the re-introduced SR, with the CD" 0 $XE vm-start uuid=$VM
wait_for 180 sh -c "[ \$(grep -c QGA-UP '$CONSOLE') -ge 3 ]" && ok "guest boots from it" || not_ok "guest boots from it" "$(tail -5 "$CONSOLE")"
check "the data survived forget and introduce" "PATTERN-ONE" "$(gread | tr -d ' ')"
# (the test guest has virtio drivers only: the CD is checked on QEMU's side)
qpid=$(cut -d' ' -f1 "$STATE/vms/$VM/pid")
tr '\0' '\n' < "/proc/$qpid/cmdline" | grep '"nfs"' | grep -q "$NFS_EXPORT/isos/tools.iso" \
	&& ok "QEMU has the ISO as its CD over NFS" || not_ok "CD over NFS" "$(tr '\0' ' ' < "/proc/$qpid/cmdline")"
check_rc "vm-shutdown" 0 $XE vm-shutdown uuid=$VM --force
for f in "$NFS_EXPORT/$SR"/*.qcow2; do qemu-img check -U -q "$f" > /dev/null 2>&1 || echo "$f"; done | grep -q . \
	&& not_ok "every image on the export checks" || ok "every image on the export checks"
done_testing
