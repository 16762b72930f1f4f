# Multi-host test helper: N hosts, each a network namespace with a veth on a
# test bridge, its own xapid and state dir (DESIGN §9). Source it after
# tests/e2e/lib.sh. Everything it makes (namespaces, bridge, processes by
# PID, state) is removed on exit, even when a test fails.
#   pool_make N          makes hosts h1..hN: namespace xp<id>-hK, address
#                        $POOL_NET.K, xapid listening on it (plain HTTP)
#   pool_ip K            the address of host K
#   pool_xe K args...    xe against host K over its address (-s -p -u -pw)
#   pool_local K args... xe on host K's Unix socket
#   pool_stop K [SIG]    stops host K's xapid; pool_start K starts it again
#   pool_launch K / pool_wait K   start without waiting / wait for ready
#                        (a pool member waits for a majority of its peers)
#   pool_join K [M]      host K joins the pool of host M (default 1)
#   pool_uuid K          host K's uuid
#   pool_replica K ARGS  reads host K's own replica (replica.py ARGS)
#   pool_cut K / pool_heal K   drops / restores host K's traffic (nft)

POOL_ID=$(printf '%x' $(($$ % 65536)))
POOL_BR=xpbr$POOL_ID
POOL_NET=10.$((($$ >> 8) % 200 + 30)).$(($$ % 250))
POOL_N=0
POOL_PW=pool-$$

pool_ns() { echo "xp$POOL_ID-h$1"; }
pool_ip() { echo "$POOL_NET.$(($1 + 1))"; }

pool_teardown() {
	if [ "${t_failed:-0}" -gt 0 ]; then
		i=1
		while [ $i -le $POOL_N ]; do
			grep -h " pool: \| db: \|ERROR\|runtime error" "$T_DIR/h$i.out" 2>/dev/null |
				grep -v "refused the link\|db_follow" | tail -25 | sed "s/^/# h$i: /"
			i=$((i + 1))
		done
	fi
	i=1
	while [ $i -le $POOL_N ]; do
		pool_stop $i KILL
		ip netns del "$(pool_ns $i)" 2>/dev/null
		i=$((i + 1))
	done
	ip link del "$POOL_BR" 2>/dev/null
	true
}

pool_launch() {
	k=$1
	dir=$T_DIR/h$k
	mkdir -p "$dir"
	echo "$POOL_PW" > "$T_DIR/h$k.pw"
	# emptied here, not by the background job's redirection: else the wait
	# below can read the previous run's "xapid ready"
	: > "$T_DIR/h$k.out"
	rm -f "$dir/xapi.sock"
	ip netns exec "$(pool_ns $k)" "$XAPID" --state-dir "$dir" \
		--listen "$(pool_ip $k):80" --tls-listen "$(pool_ip $k):443" \
		--password-file "$T_DIR/h$k.pw" \
		--host-name "h$k" --bridge-prefix "xp${POOL_ID}h$k" --vm-backend sim \
		${POOL_XAPID_ARGS:-} >> "$T_DIR/h$k.out" 2>&1 &
	eval "POOL_PID_$k=$!"
}

pool_wait() {
	k=$1
	n=0
	while [ $n -lt ${POOL_WAIT:-600} ]; do
		grep -q "xapid ready" "$T_DIR/h$k.out" 2>/dev/null && return 0
		kill -0 "$(eval echo \$POOL_PID_$k)" 2>/dev/null || break
		sleep 0.1
		n=$((n + 1))
	done
	echo "# host h$k did not start:"; tail -5 "$T_DIR/h$k.out" | sed 's/^/# /'
	return 1
}

pool_start() {
	pool_launch "$1"
	pool_wait "$1"
}

pool_join() {
	pool_xe "$1" pool-join master-address="$(pool_ip ${2:-1})" \
		master-username=root master-password="$POOL_PW"
}

pool_uuid() {
	pool_local "$1" host-list name-label="h$1" params=uuid --minimal
}

pool_stop() {
	pid=$(eval echo "\${POOL_PID_$1:-}")
	[ -n "$pid" ] || return 0
	kill -${2:-TERM} "$pid" 2>/dev/null
	n=0
	while kill -0 "$pid" 2>/dev/null && [ $n -lt 200 ]; do sleep 0.1; n=$((n + 1)); done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	eval "POOL_PID_$1="
}

pool_make() {
	POOL_N=$1
	ip link add "$POOL_BR" type bridge || return 1
	ip link set "$POOL_BR" up
	ip addr add "$POOL_NET.1/24" dev "$POOL_BR"
	i=1
	while [ $i -le $POOL_N ]; do
		ns=$(pool_ns $i)
		ip netns add "$ns" || return 1
		ip link add "xpv$POOL_ID$i" type veth peer name eth0 netns "$ns" || return 1
		ip link set "xpv$POOL_ID$i" master "$POOL_BR" up
		ip -n "$ns" addr add "$(pool_ip $i)/24" dev eth0
		ip -n "$ns" link set eth0 up
		ip -n "$ns" link set lo up
		pool_start $i || return 1
		i=$((i + 1))
	done
}

pool_xe() {
	k=$1
	shift
	"$XE" -s "$(pool_ip $k)" -p 80 --nossl -u root -pw "$POOL_PW" "$@"
}

pool_local() {
	k=$1
	shift
	XAPI_SOCKET=$T_DIR/h$k/xapi.sock "$XE" "$@"
}

pool_cut() {
	ip netns exec "$(pool_ns $1)" nft add table inet xptest 2>/dev/null
	ip netns exec "$(pool_ns $1)" nft add chain inet xptest in '{ type filter hook input priority 0; policy drop; }'
	ip netns exec "$(pool_ns $1)" nft add chain inet xptest out '{ type filter hook output priority 0; policy drop; }'
}

pool_heal() {
	ip netns exec "$(pool_ns $1)" nft delete table inet xptest 2>/dev/null
	true
}

pool_replica() {
	k=$1
	shift
	python3 "$TOP/tests/pool/replica.py" "$(pool_ip $k)" \
		"$(cat "$T_DIR/h$k/pool-secret")" "$@" 2>&1
}
