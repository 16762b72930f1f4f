#!/bin/sh
# Storage calls follow the SR, as xapi forwards SR and VDI operations to a
# host that has the SR attached: with the master's PBD of a shared nfs SR
# unplugged, VDI.create/resize/snapshot/clone/copy/destroy, the CBT calls
# and SR.scan asked of the master run on the slave (whose PBD is plugged)
# and work. A VM suspended on one host onto the nfs SR resumes on the other
# (its memory image is on the share).
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/lib.sh"
NFS_IP=$POOL_NET.200
NFS_BRIDGE=$POOL_BR
. "$(dirname "$0")/../e2e/nfs_lib.sh"
trap 'pool_teardown; nfs_cleanup' EXIT
trap 'exit 1' INT TERM

if ! nfs_available; then
	echo "1..0 # SKIP nfs-ganesha/rpcbind not installed (tools/install-deps.sh)"
	exit 0
fi
if ! pool_make 2; then
	not_ok "two hosts start"
	done_testing
	exit 1
fi
nfs_start || { not_ok "ganesha starts on the pool's network"; done_testing; exit 1; }
pool_join 2 > /dev/null 2>&1
n=0
while [ "$(pool_xe 2 host-list --minimal 2>/dev/null | tr ',' '\n' | grep -c .)" != 2 ] && [ $n -lt 3000 ]; do
	sleep 0.1
	n=$((n + 1))
done
if [ $n -ge 3000 ]; then
	ok "# SKIP the slave does not answer after pool-join (pool not settled)"
	done_testing
	exit 0
fi
u1=$(pool_xe 1 host-list name-label=h1 params=uuid --minimal)
u2=$(pool_xe 1 host-list name-label=h2 params=uuid --minimal)
SRV="device-config:server=$NFS_IP device-config:serverpath=$NFS_EXPORT"
SR=$(pool_xe 1 sr-create type=nfs name-label=shared shared=true content-type=user $SRV)
check "sr-create shared=true" 36 "${#SR}"
SRDIR=$NFS_EXPORT/$SR
P1=$(pool_xe 1 pbd-list sr-uuid=$SR host-uuid=$u1 --minimal)
check_rc "the master's PBD unplugged" 0 pool_xe 1 pbd-unplug uuid=$P1
check "only the slave has the SR attached" "false" "$(pool_xe 1 pbd-param-get uuid=$P1 param-name=currently-attached)"

V=$(pool_xe 1 vdi-create sr-uuid=$SR name-label=routed virtual-size=16MiB)
check "vdi-create on the master runs on the slave" yes "$([ -f "$SRDIR/$V.qcow2" ] && echo yes)"
grep -q "VDI.create runs on host" "$T_DIR/h1.out" && ok "the master says where it ran" || not_ok "routing logged"
check_rc "vdi-resize" 0 pool_xe 1 vdi-resize uuid=$V disk-size=32MiB
check "resized" 33554432 "$(pool_xe 1 vdi-param-get uuid=$V param-name=virtual-size)"
check_rc "vdi-enable-cbt" 0 pool_xe 1 vdi-enable-cbt uuid=$V
S=$(pool_xe 1 vdi-snapshot uuid=$V)
check "vdi-snapshot" 36 "${#S}"
check "its CBT log is on the share" 1 "$(ls "$SRDIR" | grep -c '\.cbtlog$')"
check_rc "vdi-list-changed-blocks" 0 pool_xe 1 vdi-list-changed-blocks vdi-from-uuid=$S vdi-to-uuid=$V
C=$(pool_xe 1 vdi-clone uuid=$S)
check "vdi-clone" 36 "${#C}"
K=$(pool_xe 1 vdi-copy uuid=$C sr-uuid=$SR)
check "vdi-copy within the SR" 36 "${#K}"
check_rc "vdi-disable-cbt" 0 pool_xe 1 vdi-disable-cbt uuid=$V
check_rc "sr-scan" 0 pool_xe 1 sr-scan uuid=$SR
for v in $K $C $S $V; do pool_xe 1 vdi-destroy uuid=$v; done
check "vdi-destroy removed every file" "" "$(ls "$SRDIR" | grep '\.qcow2$')"
# VM-level copies follow the VM's disks the same way
D=$(pool_xe 1 vdi-create sr-uuid=$SR name-label=vmdisk virtual-size=8MiB)
VD=$(pool_xe 1 vm-install template="Other install media" new-name-label=disked)
pool_xe 1 vbd-create vm-uuid=$VD vdi-uuid=$D device=0 bootable=true > /dev/null
SN=$(pool_xe 1 vm-snapshot uuid=$VD new-name-label=snap)
check "vm-snapshot of a VM whose disk only h2 reaches" 36 "${#SN}"
grep -q "VM.snapshot runs on host" "$T_DIR/h1.out" && ok "it ran on h2" || not_ok "VM.snapshot routed"
CL=$(pool_xe 1 vm-clone uuid=$VD new-name-label=clone)
check "vm-clone" 36 "${#CL}"
CP=$(pool_xe 1 vm-copy uuid=$VD new-name-label=copy sr-uuid=$SR)
check "vm-copy onto the nfs SR" 36 "${#CP}"
check_rc "snapshot-revert" 0 pool_xe 1 snapshot-revert snapshot-uuid=$SN
for v in $CL $CP; do pool_xe 1 vm-uninstall uuid=$v --force > /dev/null; done
pool_xe 1 vm-uninstall uuid=$SN --force > /dev/null 2>&1
pool_xe 1 vm-uninstall uuid=$VD --force > /dev/null
check "their disks went" "" "$(ls "$SRDIR" | grep '\.qcow2$')"
check_rc "the master's PBD plugged again" 0 pool_xe 1 pbd-plug uuid=$P1

# a copy from the shared SR into h2's local SR runs where both are attached
L2=$(pool_xe 1 pbd-list host-uuid=$u2 params=sr-uuid --minimal | tr ',' '\n' | grep -v "$SR" | head -1)
D2=$(pool_xe 1 vdi-create sr-uuid=$SR name-label=tocopy virtual-size=4MiB)
K2=$(pool_xe 1 vdi-copy uuid=$D2 sr-uuid=$L2)
check "vdi-copy from the nfs SR into h2's local SR (asked of h1)" 36 "${#K2}"
check "the copy is in h2's SR" "$L2" "$(pool_xe 1 vdi-param-get uuid=$K2 param-name=sr-uuid)"
pool_xe 1 vdi-destroy uuid=$K2
pool_xe 1 vdi-destroy uuid=$D2

# suspend on h1, resume on h2: the memory image is on the share
pool_xe 1 pool-param-set uuid=$(pool_xe 1 pool-list --minimal) suspend-image-SR=$SR
VM=$(pool_xe 1 vm-install template="Other install media" new-name-label=mover)
check_rc "vm-start on h1" 0 pool_xe 1 vm-start uuid=$VM on=h1
check_rc "vm-suspend (image on the nfs SR)" 0 pool_xe 1 vm-suspend uuid=$VM
check "the image is on the share" 1 "$(ls "$SRDIR" | grep -c '\.suspend$')"
check_rc "vm-resume on=h2" 0 pool_xe 1 vm-resume uuid=$VM on=h2
check "it runs on h2" "$u2" "$(pool_xe 1 vm-param-get uuid=$VM param-name=resident-on)"
check "the image went" "" "$(ls "$SRDIR" | grep '\.suspend$')"
pool_xe 1 vm-shutdown uuid=$VM --force
done_testing
