#!/bin/sh
# A two-host pool: the master is its only Raft voter (the slave a standby),
# so a slave's absence never stops the master, and a dead master leaves the
# slave in emergency mode (XenServer's behaviour) until the master is back.
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/lib.sh"
trap 'pool_teardown; t_cleanup' EXIT
if ! pool_make 2 || ! pool_join 2 > /dev/null; then
	not_ok "a pool of two"
	done_testing
	exit 1
fi
ok "a pool of two"
u1=$(pool_uuid 1)
check "the slave is not in emergency mode" false "$(pool_local 2 host-is-in-emergency-mode 2>&1)"

pool_stop 2 KILL
out=$(pool_xe 1 network-create name-label=slave-down 2>&1)
echo "$out" | grep -q '^[0-9a-f-]\{36\}$' && ok "the master writes while its slave is down" ||
	{ not_ok "the master writes while its slave is down"; echo "$out" | sed 's/^/# /'; }
pool_start 2 || not_ok "h2 restarts"
n=0
while [ $n -lt 300 ] && [ "$(pool_replica 2 count network name_label slave-down)" != 1 ]; do sleep 0.1; n=$((n + 1)); done
check "the slave catches up when back" 1 "$(pool_replica 2 count network name_label slave-down)"

pool_stop 1 KILL
n=0
while [ $n -lt 600 ]; do
	m=$(pool_local 2 host-is-in-emergency-mode 2>&1)
	[ "$m" = true ] && break
	sleep 0.1
	n=$((n + 1))
done
check "the master dead: the slave is in emergency mode" true "$m"
check "... and does not make itself master" "$u1" "$(pool_replica 2 master)"
pool_start 1 || not_ok "h1 restarts"
n=0
while [ $n -lt 300 ]; do
	m=$(pool_local 2 host-is-in-emergency-mode 2>&1)
	[ "$m" = false ] && break
	sleep 0.1
	n=$((n + 1))
done
check "the master back: emergency mode over" false "$m"
check "writes through the slave work again" 1 \
	"$(pool_xe 2 network-create name-label=after-return | grep -c .)"
check "and nothing was lost" 1 "$(pool_replica 2 count network name_label slave-down)"
done_testing
