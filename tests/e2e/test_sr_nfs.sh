#!/bin/sh
# The nfs SR over a test nfs-ganesha (userspace: libnfs + QEMU's nfs://):
# sr-create, sr-probe, VDIs and chains on it, sr-forget + sr-introduce +
# pbd-plug + sr-scan bringing the VDIs back, sr-destroy, and the errors of
# bad device-configs (xapi's SR_BACKEND_FAILURE_<n> of the NFS SM).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nfs_lib.sh"

if ! nfs_available; then
	echo "1..0 # SKIP nfs-ganesha/rpcbind not installed (tools/install-deps.sh)"
	exit 0
fi
XAPID_EXTRA_ARGS="--vm-backend sim"
start_xapid h1 || { not_ok "xapid starts"; done_testing; exit 1; }
nfs_start || { not_ok "ganesha starts"; done_testing; exit 1; }
xe() { "$XE" "$@"; }
# the code of the last error: "Error code: X" for codes xe does not know,
# else the code whose sentence xe printed
err_code() {
	c=$(sed -n 's/^Error code: //p' "$T_DIR/last.err")
	[ -n "$c" ] && { echo "$c"; return; }
	first=$(head -1 "$T_DIR/last.err")
	grep -F "\"$first\"" "$TOP/src/api/errors_gen.def" | sed -n 's/^XERR(\([A-Z_0-9]*\),.*/\1/p' | head -1
}

SRV="device-config:server=$NFS_IP device-config:serverpath=$NFS_EXPORT"

# ---- bad device-configs: nothing is made ----
check_rc "sr-create without server fails" 1 xe sr-create type=nfs name-label=x shared=true device-config:serverpath=/x
check "missing server is SR_BACKEND_FAILURE_102" SR_BACKEND_FAILURE_102 "$(err_code)"
check_rc "sr-create without serverpath fails" 1 xe sr-create type=nfs name-label=x shared=true device-config:server=$NFS_IP
check "missing serverpath is SR_BACKEND_FAILURE_101" SR_BACKEND_FAILURE_101 "$(err_code)"
check_rc "sr-create on a path not exported fails" 1 xe sr-create type=nfs name-label=x shared=true device-config:server=$NFS_IP device-config:serverpath=/no/such/export
check "bad path is SR_BACKEND_FAILURE_73 (NFS mount error)" SR_BACKEND_FAILURE_73 "$(err_code)"
grep -q "opterr=mount $NFS_IP:/no/such/export" "$T_DIR/last.err" && ok "the error carries libnfs's message" || not_ok "libnfs message" "$(cat "$T_DIR/last.err")"
check_rc "sr-create on a server that is not there fails" 1 xe sr-create type=nfs name-label=x shared=true device-config:server=$NFS_NET.9 device-config:serverpath=$NFS_EXPORT
check "no server is SR_BACKEND_FAILURE_73" SR_BACKEND_FAILURE_73 "$(err_code)"
check_rc "nfsversion=2 is refused" 1 xe sr-create type=nfs name-label=x shared=true $SRV device-config:nfsversion=2
check "bad nfsversion is SR_BACKEND_FAILURE_72" SR_BACKEND_FAILURE_72 "$(err_code)"
check_rc "serverpath with .. is refused" 1 xe sr-create type=nfs name-label=x shared=true device-config:server=$NFS_IP device-config:serverpath=$NFS_EXPORT/../x
check "bad serverpath is SR_BACKEND_FAILURE_103" SR_BACKEND_FAILURE_103 "$(err_code)"
check "no SR row was left by the failures" "" "$(xe sr-list type=nfs --minimal)"
check "nothing was made on the export" "" "$(ls "$NFS_EXPORT")"

# ---- sr-probe ----
check_rc "sr-probe without serverpath lists the exports in the error" 1 xe sr-probe type=nfs device-config:server=$NFS_IP
grep -q "<Path>$NFS_EXPORT</Path>" "$T_DIR/last.err" && ok "exports XML names the export" || not_ok "exports XML" "$(cat "$T_DIR/last.err")"
check_rc "sr-probe of a host with no NFS service" 1 xe sr-probe type=nfs device-config:server=$NFS_NET.1
check "no service is SR_BACKEND_FAILURE_108" SR_BACKEND_FAILURE_108 "$(err_code)"
check "empty export probes to an empty SRlist" '<?xml version="1.0" ?>
<SRlist/>' "$(xe sr-probe type=nfs $SRV)"

# ---- sr-create ----
SR=$(xe sr-create type=nfs name-label=nfs1 shared=true content-type=user $SRV)
check "sr-create prints the uuid" 0 $?
check "the SR is a directory named after it on the export" yes "$([ -d "$NFS_EXPORT/$SR" ] && echo yes)"
check "shared" true "$(xe sr-param-get uuid=$SR param-name=shared)"
PBD=$(xe pbd-list sr-uuid=$SR --minimal)
check "its PBD is plugged" true "$(xe pbd-param-get uuid=$PBD param-name=currently-attached)"
check "device-config kept" "$NFS_IP" "$(xe pbd-param-get uuid=$PBD param-name=device-config param-key=server)"
size=$(xe sr-param-get uuid=$SR param-name=physical-size)
[ "$size" -gt 0 ] 2>/dev/null && ok "physical-size from statvfs over NFS ($size)" || not_ok "physical-size" "$size"
check "sr-probe finds it" "<?xml version=\"1.0\" ?>
<SRlist>
	<SR>
		<UUID>$SR</UUID>
	</SR>
</SRlist>" "$(xe sr-probe type=nfs $SRV)"
check_rc "a second sr-create into the same export works" 0 xe sr-create type=nfs name-label=nfs2 shared=true $SRV
SR2=$(cat "$T_DIR/last.out")

# ---- VDIs, snapshots, space ----
V=$(xe vdi-create sr-uuid=$SR name-label=disk1 virtual-size=64MiB)
check "vdi-create on nfs" 0 $?
check "the image is on the export" yes "$([ -f "$NFS_EXPORT/$SR/$V.qcow2" ] && echo yes)"
check "virtual-allocation counts it" 67108864 "$(xe sr-param-get uuid=$SR param-name=virtual-allocation)"
qemu-io -f qcow2 -c "write -P 0x5a 0 1M" "nfs://$NFS_IP$NFS_EXPORT/$SR/$V.qcow2" >/dev/null 2>&1
S=$(xe vdi-snapshot uuid=$V)
check "vdi-snapshot on nfs" 0 $?
b=$(qemu-img info "$NFS_EXPORT/$SR/$V.qcow2" | sed -n 's/^backing file: //p')
case "$b" in nfs://$NFS_IP$NFS_EXPORT/$SR/*.base.qcow2) ok "backing names are absolute nfs:// URLs";;
*) not_ok "absolute backing name" "$b";; esac
check "virtual-allocation counts both" 134217728 "$(xe sr-param-get uuid=$SR param-name=virtual-allocation)"
qemu-io -f qcow2 -c "read -P 0x5a 0 1M" "nfs://$NFS_IP$NFS_EXPORT/$SR/$S.qcow2" >/dev/null 2>&1
check "the snapshot holds the data" 0 $?
check_rc "vdi-resize on nfs" 0 xe vdi-resize uuid=$V disk-size=128MiB
check "virtual-allocation follows the resize" 201326592 "$(xe sr-param-get uuid=$SR param-name=virtual-allocation)"
check_rc "vdi-create beyond what qcow2 holds fails" 1 xe vdi-create sr-uuid=$SR name-label=huge virtual-size=100000TiB
check "as a backend failure with qemu-img's message" SR_BACKEND_FAILURE_1 "$(err_code)"
check_rc "vdi-destroy of the snapshot" 0 xe vdi-destroy uuid=$S
check "the GC merged the base away" "$V.qcow2" "$(ls "$NFS_EXPORT/$SR")"
qemu-io -f qcow2 -c "read -P 0x5a 0 1M" "nfs://$NFS_IP$NFS_EXPORT/$SR/$V.qcow2" >/dev/null 2>&1
check "data intact after the merge" 0 $?

# ---- vdi-export / vdi-import on nfs (read through qemu-nbd) ----
check_rc "vdi-export raw from nfs" 0 xe vdi-export uuid=$V filename="$T_DIR/nfs.raw" format=raw
qemu-img compare -q "$T_DIR/nfs.raw" "$NFS_EXPORT/$SR/$V.qcow2" && ok "the raw export holds the disk" || not_ok "the raw export holds the disk"
check_rc "vdi-export vhd from nfs" 0 xe vdi-export uuid=$V filename="$T_DIR/nfs.vhd" format=vhd
qemu-img compare -q -f vpc -F qcow2 "$T_DIR/nfs.vhd" "$NFS_EXPORT/$SR/$V.qcow2" && ok "the VHD export holds the disk" || not_ok "the VHD export holds the disk"
I=$(xe vdi-create sr-uuid=$SR name-label=imported virtual-size=128MiB)
check_rc "vdi-import raw onto nfs (through qemu-nbd)" 0 xe vdi-import uuid=$I filename="$T_DIR/nfs.raw" format=raw
qemu-img compare -q "$NFS_EXPORT/$SR/$I.qcow2" "$T_DIR/nfs.raw" && ok "the imported VDI holds the upload" || not_ok "the imported VDI holds the upload"
check_rc "vdi-import vhd onto nfs" 0 xe vdi-import uuid=$I filename="$T_DIR/nfs.vhd" format=vhd
qemu-img compare -q "$NFS_EXPORT/$SR/$I.qcow2" "$T_DIR/nfs.raw" && ok "and from the VHD" || not_ok "and from the VHD"
head -c 100000 "$T_DIR/nfs.vhd" > "$T_DIR/nfs-trunc.vhd"
check_rc "a truncated VHD is refused on nfs" 1 xe vdi-import uuid=$I filename="$T_DIR/nfs-trunc.vhd" format=vhd
qemu-img compare -q "$NFS_EXPORT/$SR/$I.qcow2" "$T_DIR/nfs.raw" && ok "the VDI is as it was" || not_ok "the VDI is as it was"
check "no partial image left on the share" "" "$(ls -a "$NFS_EXPORT/$SR" | grep '\.tmp$')"
xe vdi-destroy uuid=$I
S=$(xe vdi-snapshot uuid=$V)
xe vdi-param-set uuid=$V name-label=keepme

# ---- writers: the pool's DB and leases on the share ----
TPL=$(xe template-list params=name-label --minimal | cut -d, -f1)
VM1=$(xe vm-install template="$TPL" new-name-label=w1)
VM2=$(xe vm-install template="$TPL" new-name-label=w2)
xe vbd-create vm-uuid=$VM1 vdi-uuid=$V device=0 >/dev/null
xe vbd-create vm-uuid=$VM2 vdi-uuid=$V device=0 >/dev/null
check_rc "a VM with its disk on nfs starts" 0 xe vm-start uuid=$VM1
HU=$(xe host-list params=uuid --minimal)
check "it holds the VDI's lease on the share" "$HU" "$(cut -d' ' -f1 "$NFS_EXPORT/$SR/.lease-$V" 2>/dev/null)"
check_rc "a second VM writing the same VDI does not start" 1 xe vm-start uuid=$VM2
check "VDI_IN_USE" VDI_IN_USE "$(err_code)"
check_rc "vm-shutdown" 0 xe vm-shutdown uuid=$VM1 --force
check_rc "then the second starts" 0 xe vm-start uuid=$VM2
xe vm-shutdown uuid=$VM2 --force
# another pool's host holds the lease (written while the server is down:
# ganesha caches directories)
FOREIGN=$(cat /proc/sys/kernel/random/uuid)
nfs_stop
echo "$FOREIGN $(date +%s)" > "$NFS_EXPORT/$SR/.lease-$V"
nfs_start || not_ok "ganesha restarts"
check_rc "a VDI another pool's host writes does not start here" 1 xe vm-start uuid=$VM1
check "VDI_IN_USE" VDI_IN_USE "$(err_code)"
check "the foreign lease is left alone" "$FOREIGN" "$(cut -d' ' -f1 "$NFS_EXPORT/$SR/.lease-$V")"
nfs_stop
echo "$FOREIGN $(($(date +%s) - 600))" > "$NFS_EXPORT/$SR/.lease-$V"
nfs_start || not_ok "ganesha restarts"
check_rc "a lease its holder stopped renewing long ago is taken over" 0 xe vm-start uuid=$VM1
check "now ours" "$HU" "$(cut -d' ' -f1 "$NFS_EXPORT/$SR/.lease-$V")"
xe vm-shutdown uuid=$VM1 --force
gone() { [ ! -e "$NFS_EXPORT/$SR/.lease-$V" ]; }
n=0; while ! gone && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
gone && ok "the lease goes once no VM of ours uses the VDI" || not_ok "lease dropped"
xe vm-destroy uuid=$VM1
xe vm-destroy uuid=$VM2

# ---- detached SRs ----
check_rc "sr-forget while plugged is SR_HAS_PBD" 1 xe sr-forget uuid=$SR
check "SR_HAS_PBD" SR_HAS_PBD "$(err_code)"
check_rc "sr-destroy while plugged is SR_HAS_PBD" 1 xe sr-destroy uuid=$SR
check_rc "pbd-destroy while plugged is refused" 1 xe pbd-destroy uuid=$PBD
check "OPERATION_NOT_ALLOWED" OPERATION_NOT_ALLOWED "$(err_code)"
check_rc "pbd-unplug" 0 xe pbd-unplug uuid=$PBD
check_rc "vdi-create on an unplugged SR fails" 1 xe vdi-create sr-uuid=$SR name-label=x virtual-size=1MiB
check "SR_HAS_NO_PBDS" SR_HAS_NO_PBDS "$(err_code)"
check_rc "sr-scan on an unplugged SR fails" 1 xe sr-scan uuid=$SR
check_rc "pbd-plug again" 0 xe pbd-plug uuid=$PBD
check_rc "pbd-plug twice is fine" 0 xe pbd-plug uuid=$PBD
xe pbd-unplug uuid=$PBD

# ---- forget, introduce, plug, scan ----
check_rc "sr-forget" 0 xe sr-forget uuid=$SR
check "the SR row is gone" "" "$(xe sr-list uuid=$SR --minimal)"
check "its VDI rows are gone" "" "$(xe vdi-list sr-uuid=$SR --minimal)"
check "its files are not" 3 "$(ls "$NFS_EXPORT/$SR" | wc -l)"
check_rc "sr-introduce" 0 xe sr-introduce uuid=$SR type=nfs name-label=back shared=true content-type=user
check "sr-introduce prints the uuid" "$SR" "$(cat "$T_DIR/last.out")"
check_rc "sr-introduce of a known uuid is SR_UUID_EXISTS" 1 xe sr-introduce uuid=$SR type=nfs name-label=again
check "SR_UUID_EXISTS" SR_UUID_EXISTS "$(err_code)"
H=$(xe host-list --minimal)
PBD=$(xe pbd-create host-uuid=$H sr-uuid=$SR $SRV)
check "pbd-create" 0 $?
check_rc "a second PBD for the host is PBD_EXISTS" 1 xe pbd-create host-uuid=$H sr-uuid=$SR $SRV
check "PBD_EXISTS" PBD_EXISTS "$(err_code)"
check_rc "pbd-plug" 0 xe pbd-plug uuid=$PBD
check_rc "sr-scan" 0 xe sr-scan uuid=$SR
check "the VDIs are back with their uuids" "$(printf '%s\n' $S $V | sort)" "$(xe vdi-list sr-uuid=$SR --minimal | tr , '\n' | sort)"
check "with their sizes" 134217728 "$(xe vdi-param-get uuid=$V param-name=virtual-size)"
qemu-io -f qcow2 -c "read -P 0x5a 0 1M" "nfs://$NFS_IP$NFS_EXPORT/$SR/$S.qcow2" >/dev/null 2>&1
check "data still there" 0 $?
# removed while the server is down: ganesha caches directories, a change
# behind a running server's back would not be seen at once
nfs_stop
rm -f "$NFS_EXPORT/$SR/$S.qcow2"
nfs_start || not_ok "ganesha restarts"
check_rc "sr-scan after an image vanished" 0 xe sr-scan uuid=$SR
check "the vanished VDI is forgotten" "$V" "$(xe vdi-list sr-uuid=$SR --minimal)"
check_rc "vdi-forget" 0 xe vdi-forget uuid=$V
check_rc "vdi-introduce brings it back" 0 xe vdi-introduce uuid=$V sr-uuid=$SR type=user location=$V name-label=again
check "introduced with its size" 134217728 "$(xe vdi-param-get uuid=$V param-name=virtual-size)"
check_rc "vdi-introduce of a missing location is VDI_MISSING" 1 xe vdi-introduce uuid=$(cat /proc/sys/kernel/random/uuid) sr-uuid=$SR type=user location=nothere
check "VDI_MISSING" VDI_MISSING "$(err_code)"

# ---- server gone ----
nfs_stop
check_rc "pbd-plug with the server down fails" 0 xe pbd-unplug uuid=$PBD
check_rc "... and pbd-plug then is an NFS error" 1 xe pbd-plug uuid=$PBD
check "SR_BACKEND_FAILURE_73" SR_BACKEND_FAILURE_73 "$(err_code)"
nfs_start || not_ok "ganesha restarts"
check_rc "pbd-plug once the server is back" 0 xe pbd-plug uuid=$PBD

# ---- destroy ----
xe pbd-unplug uuid=$PBD
check_rc "sr-destroy with a VDI is SR_NOT_EMPTY" 1 xe sr-destroy uuid=$SR
check "SR_NOT_EMPTY" SR_NOT_EMPTY "$(err_code)"
xe pbd-plug uuid=$PBD
xe vdi-destroy uuid=$V
xe pbd-unplug uuid=$PBD
check_rc "sr-destroy" 0 xe sr-destroy uuid=$SR
check "its directory is gone" "" "$(ls "$NFS_EXPORT" | grep -x "$SR")"
check "its rows are gone" "" "$(xe pbd-list sr-uuid=$SR --minimal)$(xe sr-list uuid=$SR --minimal)"
xe pbd-unplug uuid=$(xe pbd-list sr-uuid=$SR2 --minimal)
check_rc "sr-destroy of the second SR" 0 xe sr-destroy uuid=$SR2
check "the export is empty again" "" "$(ls "$NFS_EXPORT")"

done_testing
