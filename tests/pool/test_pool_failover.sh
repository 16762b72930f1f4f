#!/bin/sh
# Master changes in a three-host pool: planned (pool-designate-new-master,
# no write lost) and unplanned (master kill -9: the new Raft leader becomes
# master, the dead master's host shows it down, the old master comes back
# as a slave); then the whole pool restarted keeps everything.
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
u3=$(pool_uuid 3)

# master_is K UUID: waits until host K names UUID as the pool's master
master_is() {
	n=0
	while [ $n -lt 300 ]; do
		got=$(pool_replica $1 master)
		[ "$got" = "$2" ] && return 0
		sleep 0.1
		n=$((n + 1))
	done
	echo "# h$1 says the master is '$got'"
	return 1
}

# count_on K NAME: networks named NAME as host K's replica sees them
count_on() {
	pool_replica $1 count network name_label "$2"
}

# planned handover: writes before and after it are all kept
for i in 1 2 3 4 5; do pool_xe 1 network-create name-label=before-$i > /dev/null; done
pool_xe 1 pool-designate-new-master host-uuid="$u2" > /dev/null 2>&1 &&
	ok "pool-designate-new-master h2" || not_ok "pool-designate-new-master h2"
master_is 1 "$u2" && ok "h1 follows h2" || not_ok "h1 follows h2"
master_is 3 "$u2" && ok "h3 follows h2" || not_ok "h3 follows h2"
check "a login on the old master: HOST_IS_SLAVE [new master]" \
	"Failure HOST_IS_SLAVE,$(pool_ip 2)" "$(pool_replica 1 login)"
n=0
for i in 1 2 3 4 5; do n=$((n + $(count_on 2 before-$i))); done
check "no write lost across the handover" 5 "$n"
pool_xe 2 network-create name-label=after-handover > /dev/null
check "the new master takes writes" 1 "$(count_on 2 after-handover)"

# unplanned: kill -9 the master (h2); h1 or h3 takes over
pool_stop 2 KILL
n=0
new=
while [ $n -lt 300 ]; do
	for k in 1 3; do
		m=$(pool_replica $k master)
		if [ -n "$m" ] && [ "$m" != "$u2" ]; then new=$m; break 2; fi
	done
	sleep 0.1
	n=$((n + 1))
done
if [ -n "$new" ]; then
	ok "a new master after kill -9 of the master"
else
	not_ok "a new master after kill -9 of the master"
	for k in 1 3; do
		grep -v "refused the link\|db_follow" "$T_DIR/h$k.out" | tail -15 | sed "s/^/# h$k: /"
	done
fi
nk=1
[ "$new" = "$u3" ] && nk=3
ok=0
n=0
while [ $n -lt 100 ]; do
	pool_xe $nk network-create name-label=after-failover > /dev/null 2>&1 && { ok=1; break; }
	sleep 0.1
	n=$((n + 1))
done
[ $ok = 1 ] && ok "the new master takes writes" || not_ok "the new master takes writes"
check "the dead master's host is shown down" false \
	"$(pool_xe $nk host-param-get uuid="$u2" param-name=host-metrics-live 2>&1)"
for k in 1 3; do
	n=0
	while [ $n -lt 100 ] && [ "$(count_on $k after-failover)" != 1 ]; do sleep 0.1; n=$((n + 1)); done
	check "h$k has the write made after the failover" 1 "$(count_on $k after-failover)"
	check "h$k kept the writes from before" 1 "$(count_on $k after-handover)"
done

# the old master comes back: a slave of the new one
pool_start 2 || not_ok "h2 restarts"
master_is 2 "$new" && ok "the returning old master is a slave" || not_ok "the returning old master is a slave"
check "it has the writes made while it was down" 1 "$(count_on 2 after-failover)"
n=0
while [ $n -lt 100 ]; do
	live=$(pool_xe $nk host-param-get uuid="$u2" param-name=host-metrics-live 2>&1)
	[ "$live" = true ] && break
	sleep 0.1
	n=$((n + 1))
done
check "... and is shown live again" true "$live"

# the whole pool restarted
for k in 1 2 3; do pool_stop $k; done
for k in 1 2 3; do pool_launch $k; done
for k in 1 2 3; do pool_wait $k || not_ok "h$k restarts with the pool"; done
for k in 1 2 3; do
	check "h$k keeps every write after a pool restart" 1 "$(count_on $k after-failover)"
done
check "one master for all" 1 "$(for k in 1 2 3; do pool_replica $k master; done | sort -u | grep -c .)"
check "three hosts" 3 "$(pool_xe 1 host-list --minimal | tr ',' '\n' | grep -c .)"
done_testing
