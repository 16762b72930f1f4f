#!/bin/sh
# Network faults in a three-host pool (nft drops in a host's namespace):
# the master cut off -> the other two elect a new master, the cut one
# accepts no write (dqlite cannot commit without a majority), so there are
# never two masters taking writes; healed, it follows the new master. A cut
# slave does not stop the pool, and catches up when healed.
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/lib.sh"
trap 'pool_teardown; t_cleanup' EXIT
if ! pool_make 3 || ! pool_join 2 > /dev/null || ! pool_join 3 > /dev/null; then
	not_ok "a pool of three"
	done_testing
	exit 1
fi
ok "a pool of three"
u1=$(pool_uuid 1)
count_on() { pool_replica $1 count network name_label "$2"; }
wait_count() { # K NAME N
	n=0
	while [ $n -lt 300 ] && [ "$(count_on $1 "$2")" != "$3" ]; do sleep 0.1; n=$((n + 1)); done
	count_on $1 "$2"
}

# the master cut off
pool_cut 1
new=
n=0
while [ $n -lt 300 ] && [ -z "$new" ]; do
	for k in 2 3; do
		m=$(pool_replica $k master)
		[ -n "$m" ] && [ "$m" != "$u1" ] && { new=$m; nk=$k; break; }
	done
	sleep 0.1
	n=$((n + 1))
done
[ -n "$new" ] && ok "the majority elects a new master" || not_ok "the majority elects a new master"
out=$(pool_local 1 network-create name-label=written-on-the-cut-master 2>&1)
[ -n "$out" ] && ! echo "$out" | grep -q '^[0-9a-f-]\{36\}$' &&
	ok "the cut master accepts no write" ||
	{ not_ok "the cut master accepts no write"; echo "$out" | sed 's/^/# /'; }
ok=0
n=0
while [ $n -lt 100 ]; do
	pool_xe $nk network-create name-label=during-cut > /dev/null 2>&1 && { ok=1; break; }
	sleep 0.1
	n=$((n + 1))
done
[ $ok = 1 ] && ok "the majority takes writes" || not_ok "the majority takes writes"

pool_heal 1
check "healed, the old master has the majority's writes" 1 "$(wait_count 1 during-cut 1)"
n=0
while [ $n -lt 300 ] && [ "$(pool_replica 1 master)" != "$new" ]; do sleep 0.1; n=$((n + 1)); done
check "... and follows the new master" "$new" "$(pool_replica 1 master)"
for k in 1 2 3; do
	check "h$k: the write tried on the cut master is nowhere" 0 "$(count_on $k written-on-the-cut-master)"
done
check "one master" 1 "$(for k in 1 2 3; do pool_replica $k master; done | sort -u | grep -c .)"

# a slave cut off: the pool goes on; healed, it catches up
sk=1
[ "$nk" = 1 ] && sk=2
pool_cut $sk
ok=0
n=0
while [ $n -lt 100 ]; do
	pool_xe $nk network-create name-label=slave-cut > /dev/null 2>&1 && { ok=1; break; }
	sleep 0.1
	n=$((n + 1))
done
[ $ok = 1 ] && ok "writes go on while a slave is cut off" || not_ok "writes go on while a slave is cut off"
pool_heal $sk
check "the healed slave catches up" 1 "$(wait_count $sk slave-cut 1)"
done_testing
