#!/bin/sh
# VBD.plug on a running VM runs the checks VM.start runs on its disks:
# a VDI another running VM has open read-write is refused (VDI_IN_USE, as
# is a read-write plug of a VDI another VM reads), a sharable one is not;
# on an nfs SR a VDI whose lease another pool's host holds is refused too,
# and the hot-plug takes the lease itself. Nothing changes on a refusal.
# (sim backend; the nfs part needs nfs-ganesha)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nfs_lib.sh"
XAPID_EXTRA_ARGS="--vm-backend sim"
start_xapid vs1 || { not_ok "xapid starts"; done_testing; exit 1; }
xe() { "$XE" "$@"; }
err_code() { head -1 "$T_DIR/last.err"; }
SR=$(xe sr-list params=uuid --minimal | cut -d, -f1)
TPL="Other install media"
A=$(xe vm-install template="$TPL" new-name-label=a)
B=$(xe vm-install template="$TPL" new-name-label=b)
V=$(xe vdi-create sr-uuid=$SR name-label=shared-disk virtual-size=16777216)
xe vbd-create vm-uuid=$A vdi-uuid=$V device=1 > /dev/null
check_rc "VM a starts with the VDI read-write" 0 xe vm-start uuid=$A
check_rc "VM b starts" 0 xe vm-start uuid=$B
VB=$(xe vbd-create vm-uuid=$B vdi-uuid=$V device=1)
check_rc "hot-plugging it read-write into b is refused" 1 xe vbd-plug uuid=$VB
grep -q "VDI_IN_USE\|in use" "$T_DIR/last.err" && ok "VDI_IN_USE" || not_ok "VDI_IN_USE" "$(cat "$T_DIR/last.err")"
check "b's VBD stays unplugged" false "$(xe vbd-param-get uuid=$VB param-name=currently-attached)"
xe vbd-destroy uuid=$VB
VB=$(xe vbd-create vm-uuid=$B vdi-uuid=$V device=1 mode=RO)
check_rc "read-only under a writer: refused too" 1 xe vbd-plug uuid=$VB
check "still unplugged" false "$(xe vbd-param-get uuid=$VB param-name=currently-attached)"
SV=$(xe vdi-create sr-uuid=$SR name-label=sharable virtual-size=16777216 sharable=true)
xe vbd-create vm-uuid=$A vdi-uuid=$SV device=2 > /dev/null
check_rc "a sharable VDI a writes" 0 xe vbd-plug uuid="$(xe vbd-list vm-uuid=$A vdi-uuid=$SV --minimal)"
SB=$(xe vbd-create vm-uuid=$B vdi-uuid=$SV device=2)
check_rc "may be plugged into b as well" 0 xe vbd-plug uuid=$SB
xe vbd-unplug uuid=$SB
check_rc "vm-shutdown a" 0 xe vm-shutdown uuid=$A --force
check_rc "once a stopped, b may plug it" 0 xe vbd-plug uuid=$VB
check "attached" true "$(xe vbd-param-get uuid=$VB param-name=currently-attached)"
check_rc "and a (read-write) does not start beside b's reader" 1 xe vm-start uuid=$A
xe vbd-unplug uuid=$VB

if ! nfs_available; then
	echo "# nfs-ganesha missing: the nfs part is skipped"
	done_testing
	exit 0
fi
nfs_start || { not_ok "ganesha starts"; done_testing; exit 1; }
NSR=$(xe sr-create type=nfs name-label=nfs shared=true device-config:server=$NFS_IP \
	device-config:serverpath=$NFS_EXPORT)
check "nfs SR made" 36 "${#NSR}"
NV=$(xe vdi-create sr-uuid=$NSR name-label=nfs-disk virtual-size=16777216)
NB=$(xe vbd-create vm-uuid=$B vdi-uuid=$NV device=3)
# another pool's host holds the lease (written while the server is down:
# ganesha caches directories)
FOREIGN=$(cat /proc/sys/kernel/random/uuid)
nfs_stop
echo "$FOREIGN $(date +%s)" > "$NFS_EXPORT/$NSR/.lease-$NV"
nfs_start || not_ok "ganesha restarts"
check_rc "hot-plugging a VDI another pool's host writes is refused" 1 xe vbd-plug uuid=$NB
grep -q "VDI_IN_USE\|in use" "$T_DIR/last.err" && ok "VDI_IN_USE" || not_ok "VDI_IN_USE" "$(cat "$T_DIR/last.err")"
check "the foreign lease is left alone" "$FOREIGN" "$(cut -d' ' -f1 "$NFS_EXPORT/$NSR/.lease-$NV")"
check "unplugged" false "$(xe vbd-param-get uuid=$NB param-name=currently-attached)"
nfs_stop
echo "$FOREIGN $(($(date +%s) - 600))" > "$NFS_EXPORT/$NSR/.lease-$NV"
nfs_start || not_ok "ganesha restarts"
check_rc "a stale lease: the hot-plug goes on" 0 xe vbd-plug uuid=$NB
HU=$(xe host-list params=uuid --minimal)
check "and takes the lease" "$HU" "$(cut -d' ' -f1 "$NFS_EXPORT/$NSR/.lease-$NV")"
xe vbd-unplug uuid=$NB
xe vm-shutdown uuid=$B --force
done_testing
