#!/bin/sh
# Slaves of a three-host pool (re)started while their master is dead:
# - only the master dead: the two others are a majority; the restarted slave
#   follows the master they elect (no emergency mode);
# - the master and another host dead: the restarted slave is alone (no
#   majority) and comes up in emergency mode from the replica it keeps; when
#   the master comes back it becomes a normal member by itself, one master
#   for all, every write on every host.
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/lib.sh"
trap 'pool_teardown; t_cleanup' EXIT
POOL_WAIT=1800

wait_for() {
	n=0
	lim=$1
	shift
	while [ $n -lt "$lim" ]; do
		"$@" > /dev/null 2>&1 && return 0
		sleep 0.1
		n=$((n + 1))
	done
	return 1
}
is() { want=$1; shift; [ "$("$@" 2>&1)" = "$want" ]; }
is_uuid() { echo "$1" | grep -q '^[0-9a-f-]\{36\}$'; }
# masters K...: the masters the replicas of hosts K... name, one a line
masters() { for k in "$@"; do pool_replica $k master; done | sort -u; }
one_master() { [ "$(masters "$@" | grep -c .)" = 1 ] && masters "$@" | grep -q '^[0-9a-f-]\{36\}$'; }
# host_of UUID: its number
host_of() { for k in 1 2 3; do [ "$(eval echo \$u$k)" = "$1" ] && echo $k; done; }

if ! pool_make 3 || ! pool_join 2 > /dev/null || ! pool_join 3 > /dev/null; then
	not_ok "a pool of three"
	done_testing
	exit 1
fi
ok "a pool of three"
u1=$(pool_uuid 1)
u2=$(pool_uuid 2)
u3=$(pool_uuid 3)
pool_xe 1 network-create name-label=before-1 > /dev/null
wait_for 300 is 1 pool_replica 3 count network name_label before-1

# only the master dies while h3 is down; h3 starts: h2 and h3 elect one
pool_stop 3
pool_stop 1 KILL
pool_start 3 && ok "h3 starts with the master dead" || not_ok "h3 starts with the master dead"
# (their replicas name the dead master until the new one has written)
new_master() { one_master 2 3 && [ "$(masters 2 3)" != "$u1" ]; }
wait_for 1800 new_master
m=$(masters 2 3)
[ "$m" = "$u2" ] || [ "$m" = "$u3" ] && ok "h2 and h3 follow one new master" ||
	not_ok "h2 and h3 follow one new master" "masters: $(masters 2 3 | xargs)"
grep -q "as slave in emergency mode" "$T_DIR/h3.out" && not_ok "h3 never went into emergency mode" ||
	ok "h3 never went into emergency mode"
check "h3 is not in emergency mode" false "$(pool_local 3 host-is-in-emergency-mode 2>&1)"
out=$(pool_local 3 network-create name-label=after-failover 2>&1)
is_uuid "$out" && ok "writes through h3" || not_ok "writes through h3" "$out"
pool_start 1 || not_ok "the old master restarts"
wait_for 1800 one_master 1 2 3
check "the old master follows the new one" "$m" "$(pool_replica 1 master)"
wait_for 300 is 1 pool_replica 1 count network name_label after-failover
check "... with the writes made without it" 1 "$(pool_replica 1 count network name_label after-failover)"

# now the master and another host die while the third is down; it starts
mk=$(host_of "$m")
others=$(for k in 1 2 3; do [ $k = "$mk" ] || echo $k; done | xargs)
s=${others% *}
o=${others#* }
pool_xe "$mk" network-create name-label=before-2 > /dev/null
wait_for 300 is 1 pool_replica $s count network name_label before-2
echo "# master h$mk, restarted slave h$s, other dead slave h$o"
pool_stop $s
pool_stop $mk KILL
pool_stop $o KILL
pool_start $s && ok "a slave starts with the master and the other slave dead" ||
	not_ok "a slave starts with the master and the other slave dead"
grep -q "as slave in emergency mode" "$T_DIR/h$s.out" && ok "... in emergency mode, from the replica it kept" ||
	not_ok "... in emergency mode, from the replica it kept" "$(grep ' pool: ' "$T_DIR/h$s.out" | tail -5)"
check "host-is-in-emergency-mode" true "$(pool_local $s host-is-in-emergency-mode 2>&1)"
check_rc "... normal xe commands are refused" 1 pool_local $s vm-list
grep -q "still initialising" "$T_DIR/last.out" "$T_DIR/last.err" &&
	ok "... with HOST_STILL_BOOTING" || not_ok "... with HOST_STILL_BOOTING" "$(cat "$T_DIR/last.out" "$T_DIR/last.err")"
check "its replica has the writes" "1 1 1" \
	"$(for n in before-1 after-failover before-2; do pool_replica $s count network name_label $n; done | xargs)"

# the master comes back: a majority again
pool_start $mk || not_ok "the master restarts"
wait_for 1800 is false pool_local $s host-is-in-emergency-mode
check "master back: out of emergency mode" false "$(pool_local $s host-is-in-emergency-mode 2>&1)"
wait_for 1800 one_master $s $mk
m2=$(masters $s $mk)
[ "$m2" = "$(eval echo \$u$s)" ] || [ "$m2" = "$(eval echo \$u$mk)" ] && ok "one master for both" ||
	not_ok "one master for both" "masters: $(masters $s $mk | xargs)"
out=$(pool_local $s network-create name-label=after-back 2>&1)
is_uuid "$out" && ok "writes through h$s" || not_ok "writes through h$s" "$out"
pool_start $o || not_ok "the other slave restarts"
wait_for 1800 one_master 1 2 3
check "all three follow one master" "$m2" "$(masters 1 2 3)"
for k in 1 2 3; do wait_for 300 is 1 pool_replica $k count network name_label after-back; done
check "every write on every host" "1 1 1 1 1 1 1 1 1 1 1 1" \
	"$(for k in 1 2 3; do for n in before-1 after-failover before-2 after-back; do pool_replica $k count network name_label $n; done; done | xargs)"
check "no host in emergency mode" "false false false" \
	"$(for k in 1 2 3; do pool_local $k host-is-in-emergency-mode 2>&1; done | xargs)"
check "three hosts" 3 "$(pool_xe 1 host-list --minimal | tr ',' '\n' | grep -c .)"
done_testing
