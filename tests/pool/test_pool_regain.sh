#!/bin/sh
# Regression: a master that lost the leadership and later regained it could
# neither load nor write ("no database opened": dqlite had dropped the
# database of its kept connection). Handover h1 -> h2 -> h1, then writes.
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
u2=$(pool_uuid 2)
pool_xe 1 network-create name-label=first > /dev/null
check "handover to h2" "" "$(pool_xe 1 pool-designate-new-master host-uuid="$u2" 2>&1)"
check "h2 takes writes" 1 "$(pool_xe 2 network-create name-label=on-h2 | grep -c .)"
check "handover back to h1" "" "$(pool_xe 2 pool-designate-new-master host-uuid="$u1" 2>&1)"
check "h1 is the master again" "$u1" "$(pool_replica 1 master)"
check "h1 takes writes again" 1 "$(pool_xe 1 network-create name-label=on-h1-again 2>&1 | grep -c '^[0-9a-f-]\{36\}$')"
for k in 1 2 3; do
	n=0
	while [ $n -lt 100 ] && [ "$(pool_replica $k count network name_label on-h1-again)" != 1 ]; do sleep 0.1; n=$((n + 1)); done
	check "h$k has every write" 3 "$(( $(pool_replica $k count network name_label first) + $(pool_replica $k count network name_label on-h2) + $(pool_replica $k count network name_label on-h1-again) ))"
done
# regression: a write made right when the master changed hands failed with
# HOST_IS_SLAVE (the old master had handed over, the new one did not serve
# yet); writes on a slave during a hand-over now wait for it to settle
u3=$(pool_uuid 3)
pool_xe 1 pool-designate-new-master host-uuid="$u2" > "$T_DIR/designate.out" 2>&1 &
dpid=$!
fails=0
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
	pool_xe 3 network-create name-label=during-handover > /dev/null 2>> "$T_DIR/during.err" || fails=$((fails + 1))
done
wait $dpid
check "hand-over to h2 while h3 writes" "" "$(cat "$T_DIR/designate.out")"
check "every write made during the hand-over succeeded" 0 "$fails"
[ "$fails" -eq 0 ] || sed 's/^/# /' "$T_DIR/during.err" | head -5
for k in 1 2 3; do
	n=0
	while [ $n -lt 100 ] && [ "$(pool_replica $k count network name_label during-handover)" != 12 ]; do sleep 0.1; n=$((n + 1)); done
	check "h$k has the writes made during the hand-over" 12 "$(pool_replica $k count network name_label during-handover)"
done
check "h2 is the master" "$u2" "$(pool_replica 3 master)"
done_testing
