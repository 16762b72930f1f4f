#!/bin/sh
# Faults and less common paths on an nfs SR (test nfs-ganesha, sim VMs):
# a kill -9 of xapid during an import leaves no partial image on the share
# once xapid is back (start-up and PBD.plug clean it up, as on a local SR);
# CBT logs live on the share (every host reads them); suspend and
# checkpoint memory images are written to and read from the share through
# libnfs; nfsversion=4 is refused with the reason.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nfs_lib.sh"

if ! nfs_available; then
	echo "1..0 # SKIP nfs-ganesha/rpcbind not installed (tools/install-deps.sh)"
	exit 0
fi
XAPID_EXTRA_ARGS="--vm-backend sim"
start_xapid nf || { not_ok "xapid starts"; done_testing; exit 1; }
nfs_start || { not_ok "ganesha starts"; done_testing; exit 1; }
xe() { "$XE" "$@"; }
SRV="device-config:server=$NFS_IP device-config:serverpath=$NFS_EXPORT"

# ---- nfsversion ----
check_rc "nfsversion=4 is refused" 1 xe sr-create type=nfs name-label=x shared=true $SRV device-config:nfsversion=4
grep -q "SR_BACKEND_FAILURE_72" "$T_DIR/last.err" && grep -q "NFSv3 only" "$T_DIR/last.err" &&
	ok "SR_BACKEND_FAILURE_72 saying why (userspace NFS is v3 only)" || not_ok "nfsversion=4 error" "$(cat "$T_DIR/last.err")"
check "nothing made on the export" "" "$(ls "$NFS_EXPORT")"
SR=$(xe sr-create type=nfs name-label=nfs1 shared=true content-type=user $SRV device-config:nfsversion=3)
check "nfsversion=3 is fine" 0 $?
SRDIR=$NFS_EXPORT/$SR
PBD=$(xe pbd-list sr-uuid=$SR --minimal)
partials() { ls -a "$SRDIR" | grep -c '^\.import-.*\.tmp$'; }

# ---- kill -9 during an import ----
V=$(xe vdi-create sr-uuid=$SR name-label=target virtual-size=8388608)
head -c 2097152 /dev/urandom > "$T_DIR/part.raw"
mkfifo "$T_DIR/fifo"
(cat "$T_DIR/part.raw"; sleep 120) > "$T_DIR/fifo" &
FEEDER=$!
curl -s --unix-socket "$XAPI_SOCKET" -T - "http://localhost/import_raw_vdi?vdi=$V&format=raw" \
	< "$T_DIR/fifo" > /dev/null 2>&1 &
CURL=$!
i=0
while [ "$(partials)" = 0 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
check "the import's partial image is on the share" 1 "$(partials)"
stop_xapid KILL
kill $FEEDER $CURL 2> /dev/null
wait $CURL 2> /dev/null
check "kill -9 left it there" 1 "$(partials)"
start_xapid nf || not_ok "xapid restarts"
i=0
while [ "$(partials)" != 0 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
check "the restart removed it (no sr-scan)" 0 "$(partials)"
head -c 8388608 /dev/zero > "$T_DIR/zero.raw"
qemu-img compare -q -f qcow2 -F raw "$SRDIR/$V.qcow2" "$T_DIR/zero.raw" &&
	ok "the VDI reads as before: zeros" || not_ok "the VDI reads as before"
# PBD.plug cleans up as well; a partial image of another host (or of this
# xapid now) is not touched
HOST=$(xe host-list --minimal)
# (made through NFS: ganesha caches the directory)
qemu-img create -q -f raw "nfs://$NFS_IP$SRDIR/.import-$HOST.0badb00t.11111111-2222-3333-4444-555555555555.tmp" 0
qemu-img create -q -f raw "nfs://$NFS_IP$SRDIR/.import-00000000-0000-0000-0000-000000000000.0badb00t.x.tmp" 0
check_rc "pbd-unplug" 0 xe pbd-unplug uuid=$PBD
check_rc "pbd-plug" 0 xe pbd-plug uuid=$PBD
check "plug removed this host's stale partial image" "" "$(ls -a "$SRDIR" | grep "import-$HOST")"
check "another host's stays" 1 "$(partials)"
rm -f "$SRDIR"/.import-*.tmp

# ---- another host's clone under way ----
# its journal names a base that has no child yet: neither this host's
# recovery (which would put the base back as the VDI) nor its GC (which
# would remove a base nobody uses) may touch it
B=11111111-2222-3333-4444-555555555555
qemu-img create -q -f qcow2 "nfs://$NFS_IP$SRDIR/$B.base.qcow2" 1M
printf 'somevdi\n%s.base.qcow2\n' $B > "$T_DIR/journal"
J=.clone-00000000-0000-0000-0000-000000000001.0badb00t.$B.journal
nfs-cp "$T_DIR/journal" "nfs://$NFS_IP$SRDIR/$J" > /dev/null
check_rc "sr-scan" 0 xe sr-scan uuid=$SR
G=$(xe vdi-create sr-uuid=$SR name-label=gc virtual-size=1048576)
check_rc "vdi-destroy (runs the GC)" 0 xe vdi-destroy uuid=$G
check "the other host's base and journal stay, no VDI made of them" "$B.base.qcow2 $J no " \
	"$({ ls "$SRDIR" | grep "^$B"; ls -a "$SRDIR" | grep '^\.clone-'; [ -e "$SRDIR/somevdi.qcow2" ] && echo yes || echo no; } | tr '\n' ' ')"
rm -f "$SRDIR/$B.base.qcow2" "$SRDIR/$J"

# ---- CBT logs on the share ----
wr() { qemu-io -f qcow2 -c "write -P 0x5a $2 4k" "$SRDIR/$1.qcow2" > /dev/null; }
blocks() { python3 -c '
import base64, sys
b = base64.b64decode(sys.argv[1])
print(" ".join(str(i) for i in range(len(b) * 8) if b[i // 8] & (0x80 >> (i % 8))), len(b))' "$1"; }
C=$(xe vdi-create sr-uuid=$SR name-label=tracked virtual-size=16777216)
check_rc "vdi-enable-cbt on nfs" 0 xe vdi-enable-cbt uuid=$C
wr $C 0
S1=$(xe vdi-snapshot uuid=$C)
wr $C 1M
S2=$(xe vdi-snapshot uuid=$C)
check "the interval logs are in the SR's directory on the share" 2 "$(ls "$SRDIR" | grep -c '\.cbtlog$')"
check "none outside it" "" "$(ls "$NFS_EXPORT" | grep cbtlog)"
check "changed blocks read from the share's logs" "16 32" "$(blocks "$(xe vdi-list-changed-blocks vdi-from-uuid=$S1 vdi-to-uuid=$S2)")"
wr $C 2M
check "up to the disk itself" "32 32" "$(blocks "$(xe vdi-list-changed-blocks vdi-from-uuid=$S2 vdi-to-uuid=$C)")"
check_rc "vdi-data-destroy on nfs" 0 xe vdi-data-destroy uuid=$S1
check "its data is gone from the share" "CBT metadata no" "$(xe vdi-param-get uuid=$S1 param-name=type) $([ -e "$SRDIR/$S1.qcow2" ] && echo yes || echo no)"
check_rc "vdi-disable-cbt" 0 xe vdi-disable-cbt uuid=$C
xe vdi-destroy uuid=$S1
xe vdi-destroy uuid=$S2
check "the logs go when no snapshot needs them" "" "$(ls "$SRDIR" | grep '\.cbtlog$')"

# ---- memory images on the share ----
xe pool-param-set uuid=$(xe pool-list --minimal) suspend-image-SR=$SR
# (no disk: the sim backend snapshots no running disk, and only the memory
# image matters here)
VM=$(xe vm-install template="Other install media" new-name-label=vm)
xe vm-start uuid=$VM
check_rc "vm-suspend onto the nfs SR" 0 xe vm-suspend uuid=$VM
SUSP=$(xe vm-param-get uuid=$VM param-name=suspend-VDI-uuid)
check "the suspend VDI is on the nfs SR" "$SR" "$(xe vdi-param-get uuid=$SUSP param-name=sr-uuid)"
grep -q "xapid-sim-suspend-image" "$SRDIR/$SUSP.suspend" 2>/dev/null && ok "the image is on the share" || not_ok "image on the share" "$(ls -la "$SRDIR")"
check_rc "vm-resume reads it back" 0 xe vm-resume uuid=$VM
check "running" running "$(xe vm-param-get uuid=$VM param-name=power-state)"
check "the image went" "" "$(ls "$SRDIR" | grep '\.suspend$')"
CP=$(xe vm-checkpoint uuid=$VM new-name-label=cp)
check "vm-checkpoint onto the nfs SR" 0 $?
CPS=$(xe snapshot-param-get uuid=$CP param-name=suspend-VDI-uuid)
grep -q "xapid-sim-suspend-image" "$SRDIR/$CPS.suspend" 2>/dev/null && ok "the checkpoint's image is on the share" || not_ok "checkpoint image" "$(ls -la "$SRDIR")"
check_rc "snapshot-revert to the checkpoint (its image copied on the share)" 0 xe snapshot-revert snapshot-uuid=$CP
check "suspended after the revert" suspended "$(xe vm-param-get uuid=$VM param-name=power-state)"
NS=$(xe vm-param-get uuid=$VM param-name=suspend-VDI-uuid)
cmp -s "$SRDIR/$NS.suspend" "$SRDIR/$CPS.suspend" && ok "the copy has the checkpoint's bytes" || not_ok "copy of the image"
check_rc "vm-resume from it" 0 xe vm-resume uuid=$VM

# checkpoint of a suspended VM: xapi allows it (xapi_vm_lifecycle.ml): the
# disks snapshotted, the memory image copied; the VM stays suspended
LSR=$(xe sr-list name-label="Local storage" --minimal)
LD=$(xe vdi-create sr-uuid=$LSR name-label=ldisk virtual-size=4194304)
xe vm-shutdown uuid=$VM --force
xe vbd-create vm-uuid=$VM vdi-uuid=$LD device=0 bootable=true > /dev/null
xe vm-start uuid=$VM
check_rc "vm-suspend" 0 xe vm-suspend uuid=$VM
VS=$(xe vm-param-get uuid=$VM param-name=suspend-VDI-uuid)
CP2=$(xe vm-checkpoint uuid=$VM new-name-label=cp2)
check "vm-checkpoint of a suspended VM" 0 $?
check "the checkpoint is suspended" suspended "$(xe snapshot-param-get uuid=$CP2 param-name=power-state)"
CPS2=$(xe snapshot-param-get uuid=$CP2 param-name=suspend-VDI-uuid)
[ -n "$CPS2" ] && [ "$CPS2" != "$VS" ] && cmp -s "$SRDIR/$VS.suspend" "$SRDIR/$CPS2.suspend" &&
	ok "its own copy of the memory image" || not_ok "copy of the image" "$VS $CPS2"
check "the checkpoint has the disk" 1 "$(xe vbd-list vm-uuid=$CP2 type=Disk --minimal | tr ',' '\n' | grep -c .)"
check "the VM stays suspended" suspended "$(xe vm-param-get uuid=$VM param-name=power-state)"
check_rc "and resumes" 0 xe vm-resume uuid=$VM

# the NFS server gone: vm-suspend fails with the mount error, the VM runs
# on, and no suspend VDI row is left (nothing was written)
NV=$(xe vdi-list sr-uuid=$SR --minimal)
nfs_stop
check_rc "vm-suspend with the server gone" 1 xe vm-suspend uuid=$VM
grep -q "SR_BACKEND_FAILURE_73" "$T_DIR/last.err" && ok "SR_BACKEND_FAILURE_73 (NFS mount error)" || not_ok "suspend error" "$(cat "$T_DIR/last.err")"
check "the VM still runs" running "$(xe vm-param-get uuid=$VM param-name=power-state)"
check "no memory image VDI left" "$NV" "$(xe vdi-list sr-uuid=$SR --minimal)"
xe vm-shutdown uuid=$VM --force
done_testing
