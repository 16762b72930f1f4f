#!/bin/sh
# A whole three-host pool restarted, again and again, its hosts started in
# different orders: whoever wins the election, every host comes up, one
# master for all, no write lost. Regression test: a host that settled as the
# master and lost the leadership before its bootstrap wrote exited ("not the
# pool master"), and the slaves waited for its copy of the database forever.
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/lib.sh"
trap 'pool_teardown; t_cleanup' EXIT
if ! pool_make 3 || ! pool_join 2 > /dev/null || ! pool_join 3 > /dev/null; then
	not_ok "a pool of three"
	done_testing
	exit 1
fi
ok "a pool of three"

# master_of K: the master's uuid as host K's replica sees it
master_of() { pool_replica $1 master; }

round=0
for order in "1 2 3" "3 2 1" "2 1 3" "1 3 2"; do
	round=$((round + 1))
	# a write (forwarded by a slave to the master)
	pool_xe 1 network-create name-label=round-$round > /dev/null ||
		not_ok "round $round: a write before the restart"
	for k in 1 2 3; do pool_stop $k; done
	for k in $order; do pool_launch $k; done
	up=0
	for k in 1 2 3; do pool_wait $k && up=$((up + 1)); done
	check "round $round (started $order): every host comes up" 3 "$up"
	# the replicas settle on one master (bounded wait)
	n=0
	while [ $n -lt 300 ]; do
		ms=$(for k in 1 2 3; do master_of $k; done | sort -u | grep -c .)
		[ "$ms" = 1 ] && break
		sleep 0.1
		n=$((n + 1))
	done
	check "round $round: one master for all" 1 "$ms"
	for k in 1 2 3; do
		n=0
		while [ $n -lt 300 ]; do
			got=$(pool_replica $k count network name_label round-$round)
			[ "$got" = 1 ] && break
			sleep 0.1
			n=$((n + 1))
		done
		check "round $round: h$k has the write from before the restart" 1 "$got"
	done
done
check "three hosts" 3 "$(pool_xe 1 host-list --minimal | tr ',' '\n' | grep -c .)"
done_testing
