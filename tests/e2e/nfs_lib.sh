# A private NFS server for tests (reference/shared-storage.md): nfs-ganesha
# and rpcbind in their own network namespace (a veth from this namespace
# reaches it) and mount namespace (their /run files stay private). Source it
# after lib.sh; everything is removed on exit, by PID, even on failure.
#   nfs_start         starts it; sets NFS_IP (server address), NFS_EXPORT
#                     (the exported directory, as NFSv3 clients name it)
#   nfs_stop          stops it (nfs_start again restarts it, same export)
#   nfs_available     true if the packages are installed
# Set NFS_BRIDGE (a bridge) and NFS_IP (a free address of its /24) before
# nfs_start to put the server on that bridge instead (pool tests).

NFS_ID=$(printf '%x' $(($$ % 65536)))
NFS_NS=xsrnfs$NFS_ID
NFS_VETH=xsrn$NFS_ID
NFS_NET=10.$((($$ >> 8) % 50 + 200)).$(($$ % 250))
NFS_IP=${NFS_IP:-$NFS_NET.2}
NFS_DIR=$T_DIR/nfs
NFS_EXPORT=$NFS_DIR/export
NFS_PID=

nfs_available() {
	command -v ganesha.nfsd >/dev/null 2>&1 && command -v rpcbind >/dev/null 2>&1 &&
		[ -e /usr/lib/x86_64-linux-gnu/ganesha/libfsalvfs.so ] || return 1
}

nfs_net_up() {
	ip netns add "$NFS_NS" || return 1
	ip link add "$NFS_VETH" type veth peer name eth0 netns "$NFS_NS" || return 1
	if [ -n "${NFS_BRIDGE:-}" ]; then
		ip link set "$NFS_VETH" master "$NFS_BRIDGE"
	else
		ip addr add "$NFS_NET.1/24" dev "$NFS_VETH"
	fi
	ip link set "$NFS_VETH" up
	ip -n "$NFS_NS" addr add "$NFS_IP/24" dev eth0
	ip -n "$NFS_NS" link set eth0 up
	ip -n "$NFS_NS" link set lo up
}

nfs_start() {
	mkdir -p "$NFS_EXPORT" "$NFS_DIR/recov"
	[ -e "/run/netns/$NFS_NS" ] || nfs_net_up || return 1
	cat > "$NFS_DIR/ganesha.conf" <<EOF
NFS_CORE_PARAM { Protocols = 3, 4; NFS_Port = 2049; MNT_Port = 20048; NLM_Port = 32803;
	Enable_NLM = false; Enable_RQUOTA = false; Bind_addr = $NFS_IP; }
NFSV4 { Graceless = true; RecoveryBackend = fs; RecoveryRoot = $NFS_DIR/recov; }
EXPORT { Export_Id = 1; Path = $NFS_EXPORT; Pseudo = /export; Protocols = 3, 4;
	Transports = TCP; Access_Type = RW; Squash = No_Root_Squash; SecType = sys;
	FSAL { Name = VFS; } }
LOG { Default_Log_Level = EVENT; }
EOF
	: > "$NFS_DIR/ganesha.log"
	# one process tree: rpcbind in the background, ganesha in front; the
	# private /run is a tmpfs that goes with the mount namespace
	ip netns exec "$NFS_NS" unshare -m sh -c "
		mount -t tmpfs none /run && mkdir -p /run/rpcbind /run/ganesha || exit 1
		rpcbind -f -w & echo \$! > '$NFS_DIR/rpcbind.pid'
		sleep 0.2
		exec ganesha.nfsd -F -L '$NFS_DIR/ganesha.log' -p '$NFS_DIR/ganesha.pid' \
			-f '$NFS_DIR/ganesha.conf' -N NIV_EVENT" > "$NFS_DIR/out" 2>&1 &
	NFS_PID=$!
	i=0
	while [ $i -lt 600 ]; do
		grep -q "NFS SERVER INITIALIZED" "$NFS_DIR/ganesha.log" 2>/dev/null && return 0
		kill -0 "$NFS_PID" 2>/dev/null || break
		sleep 0.1
		i=$((i + 1))
	done
	echo "# ganesha did not start:"; tail -5 "$NFS_DIR/ganesha.log" "$NFS_DIR/out" | sed 's/^/# /'
	return 1
}

nfs_stop() {
	if [ -n "$NFS_PID" ]; then
		kill -TERM "$NFS_PID" 2>/dev/null
		i=0
		while kill -0 "$NFS_PID" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
		kill -KILL "$NFS_PID" 2>/dev/null
		wait "$NFS_PID" 2>/dev/null
		NFS_PID=
	fi
	if [ -f "$NFS_DIR/rpcbind.pid" ]; then
		kill -KILL "$(cat "$NFS_DIR/rpcbind.pid")" 2>/dev/null
		rm -f "$NFS_DIR/rpcbind.pid"
	fi
}

nfs_cleanup() {
	nfs_stop
	ip link del "$NFS_VETH" 2>/dev/null
	ip netns del "$NFS_NS" 2>/dev/null
	t_cleanup
}
trap nfs_cleanup EXIT
trap "exit 1" INT TERM
