#!/bin/sh
# A shared nfs SR in a two-host pool: sr-create shared=true on the master
# makes a PBD per host and plugs each on its own host (the slave's through
# an internal call: its own libnfs client checks the export); VDIs made on
# the master are files every host reaches; a slave's PBD is unplugged and
# plugged again from the master; the SR goes with sr-destroy.
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
out=$(pool_join 2 2>&1)
check "h2 joins h1's pool" "Host agent will restart and attempt to join pool in 10. seconds..." "$out"
# the slave itself must answer (joining can take minutes on a loaded
# machine): bounded wait, and a visible skip if the pool never settles
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
u2=$(pool_xe 1 host-list name-label=h2 params=uuid --minimal)
check "the pool has two hosts" 36 "${#u2}"

SRV="device-config:server=$NFS_IP device-config:serverpath=$NFS_EXPORT"
SR=$(pool_xe 1 sr-create type=nfs name-label=shared shared=true content-type=user $SRV)
check "sr-create shared=true on the master" 36 "${#SR}"
check "a PBD per host" 2 "$(pool_xe 1 pbd-list sr-uuid=$SR --minimal | tr ',' '\n' | grep -c .)"
P2=$(pool_xe 1 pbd-list sr-uuid=$SR host-uuid=$u2 --minimal)
check "the slave's PBD is plugged (by the slave)" true "$(pool_xe 1 pbd-param-get uuid=$P2 param-name=currently-attached)"
check "every PBD is plugged" "true,true" "$(pool_xe 1 pbd-list sr-uuid=$SR params=currently-attached --minimal)"
V=$(pool_xe 1 vdi-create sr-uuid=$SR name-label=shared-disk virtual-size=32MiB)
check "vdi-create on the shared SR" yes "$([ -f "$NFS_EXPORT/$SR/$V.qcow2" ] && echo yes)"
check_rc "pbd-unplug of the slave's PBD from the master" 0 pool_xe 1 pbd-unplug uuid=$P2
check "unplugged" false "$(pool_xe 1 pbd-param-get uuid=$P2 param-name=currently-attached)"
check_rc "pbd-plug of the slave's PBD from the master" 0 pool_xe 1 pbd-plug uuid=$P2
check "plugged again" true "$(pool_xe 1 pbd-param-get uuid=$P2 param-name=currently-attached)"
check_rc "xe on the slave sees the SR's VDI" 0 pool_xe 2 vdi-list uuid=$V --minimal
check "... the same one" "$V" "$(cat "$T_DIR/last.out")"
pool_xe 1 vdi-destroy uuid=$V
for p in $(pool_xe 1 pbd-list sr-uuid=$SR --minimal | tr ',' ' '); do pool_xe 1 pbd-unplug uuid=$p; done
check_rc "sr-destroy of the shared SR" 0 pool_xe 1 sr-destroy uuid=$SR
check "its directory is gone" "" "$(ls "$NFS_EXPORT")"
done_testing
