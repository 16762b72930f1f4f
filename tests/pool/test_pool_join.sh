#!/bin/sh
# Pool join: three hosts form one pool (dqlite over the TLS relay); writes
# on the master are seen on every host; a slave answers logins with
# HOST_IS_SLAVE and relays xe to the master; a slave's own writes go
# through the master; bad joins are refused with xapi's errors.
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/lib.sh"
trap 'pool_teardown; t_cleanup' EXIT
if ! pool_make 4; then
	not_ok "four hosts start"
	done_testing
	exit 1
fi
u1=$(pool_uuid 1)
u2=$(pool_uuid 2)
u3=$(pool_uuid 3)

# wrong password: the master refuses the login
out=$(pool_xe 2 pool-join master-address="$(pool_ip 1)" master-username=root \
	master-password=wrong 2>&1)
echo "$out" | grep -q "Authentication failed" &&
	ok "join with a wrong password: SESSION_AUTHENTICATION_FAILED" ||
	{ not_ok "join with a wrong password: SESSION_AUTHENTICATION_FAILED"; echo "$out" | sed 's/^/# /'; }

out=$(pool_join 2 2>&1)
check "h2 joins h1's pool" "Host agent will restart and attempt to join pool in 10. seconds..." "$out"
out=$(pool_join 3 2>&1)
check "h3 joins h1's pool" "Host agent will restart and attempt to join pool in 10. seconds..." "$out"
check "the master lists three hosts" 3 "$(pool_xe 1 host-list --minimal | tr ',' '\n' | grep -c .)"
check "the pool's master is h1" "$u1" "$(pool_xe 1 pool-list params=master --minimal)"

net=$(pool_xe 1 network-create name-label=pooltest-net)
[ -n "$net" ] && ok "a write on the master" || not_ok "a write on the master"
for k in 2 3; do
	n=0
	while [ $n -lt 100 ]; do
		got=$(pool_local $k network-list uuid="$net" params=name-label --minimal 2>&1)
		[ "$got" = pooltest-net ] && break
		sleep 0.1
		n=$((n + 1))
	done
	check "h$k sees the master's write (xe on its Unix socket)" pooltest-net "$got"
done

# HOST_IS_SLAVE for TCP logins on a slave (xapi's behaviour)
out=$(python3 - "$(pool_ip 2)" "$POOL_PW" <<'PY' 2>&1
import sys, xmlrpc.client
s = xmlrpc.client.ServerProxy("http://%s/" % sys.argv[1])
r = s.session.login_with_password("root", sys.argv[2], "1.0", "test")
print(r["Status"], ",".join(r.get("ErrorDescription", [])))
PY
)
check "XML-RPC login on a slave: HOST_IS_SLAVE [master]" "Failure HOST_IS_SLAVE,$(pool_ip 1)" "$out"

# the npm xen-api client (Xen Orchestra) follows HOST_IS_SLAVE
if [ -d "$TOP/tests/e2e/node_modules/xen-api" ]; then
	node "$TOP/tests/pool/xenapi_slave.mjs" "http://$(pool_ip 2)" "$POOL_PW" "$(pool_ip 1)" > "$T_DIR/js.out" 2>&1
	while read -r line; do
		case "$line" in
		"ok - "*) ok "xen-api: ${line#ok - }" ;;
		"not ok - "*) not_ok "xen-api: ${line#not ok - }" ;;
		esac
	done < "$T_DIR/js.out"
fi

# xe over TCP on a slave is run by the master
check "xe on a slave (TCP) lists the pool's hosts" 3 \
	"$(pool_xe 2 host-list --minimal | tr ',' '\n' | grep -c .)"
# a write made through a slave lands in the pool and is seen at once
net2=$(pool_xe 3 network-create name-label=via-slave)
check "a write through a slave is on the master" via-slave \
	"$(pool_xe 1 network-list uuid="$net2" params=name-label --minimal)"
check "... and on the slave itself" via-slave \
	"$(pool_local 3 network-list uuid="$net2" params=name-label --minimal)"

# each host's own records were made in the pool
for k in 2 3; do
	u=$(eval echo \$u$k)
	check "h$k keeps its uuid in the pool" "h$k" "$(pool_xe 1 host-list uuid="$u" params=name-label --minimal)"
	check "h$k has its control domain" 1 \
		"$(pool_xe 1 vm-list is-control-domain=true resident-on="$u" --minimal | tr ',' '\n' | grep -c .)"
	check "h$k has its local SR" 1 \
		"$(pool_xe 1 pbd-list host-uuid="$u" --minimal | tr ',' '\n' | grep -c .)"
done
check "every PIF is on the pool-wide network" 1 \
	"$(pool_xe 1 pif-list params=network-uuid --minimal | tr ',' '\n' | sort -u | grep -c .)"

# a host that is the master of other hosts cannot join another pool
out=$(pool_join 1 4 2>&1)
check "a master of other hosts cannot join another pool" \
	"The server joining the pool cannot already be a coordinator of another pool." "$out"
check "... and stays the master of its own" 3 "$(pool_xe 1 host-list --minimal | tr ',' '\n' | grep -c .)"

# the replica on a slave, read and written through an internal session
# (session.slave_login with the pool secret, as the master's forwarding does)
out=$(python3 - "$(pool_ip 2)" "$(cat "$T_DIR/h2/pool-secret")" "$net" <<'PY' 2>&1
import sys, xmlrpc.client
s = xmlrpc.client.ServerProxy("http://%s/" % sys.argv[1])
r = s.session.slave_login("OpaqueRef:NULL", sys.argv[2])
sid = r["Value"]
n = s.network.get_by_uuid(sid, sys.argv[3])
print(s.network.get_name_label(sid, n["Value"])["Value"])
c = s.network.create(sid, {"name_label": "from-slave-replica", "name_description": "",
    "MTU": "1500", "other_config": {}, "tags": []})
print(c["Status"])
print(s.network.get_name_label(sid, c["Value"])["Value"])
PY
)
check "a slave reads its replica and writes through the master" \
	"pooltest-net
Success
from-slave-replica" "$out"
check "the slave's write is in the pool" 1 \
	"$(pool_xe 1 network-list name-label=from-slave-replica --minimal | tr ',' '\n' | grep -c .)"

# eject: refused for the master, a slave leaves and comes back alone
out=$(pool_xe 1 pool-eject host-uuid="$u1" --force 2>&1)
echo "$out" | grep -q "Cannot_eject_master" && ok "eject of the master is refused" ||
	{ not_ok "eject of the master is refused"; echo "$out" | sed 's/^/# /'; }
out=$(pool_xe 1 pool-eject host-uuid="$u3" --force 2>&1)
check "eject of a slave" "Specified host will attempt to restart as a master of a new pool in 10. seconds..." "$out"
check "the pool has two hosts left" 2 "$(pool_xe 1 host-list --minimal | tr ',' '\n' | grep -c .)"
n=0
while [ $n -lt 300 ]; do
	got=$(pool_xe 3 host-list params=uuid --minimal 2>/dev/null)
	[ "$got" = "$u3" ] && break
	sleep 0.1
	n=$((n + 1))
done
check "the ejected host is a pool of its own again" "$u3" "$got"
check "... with a fresh database" 0 \
	"$(pool_xe 3 network-list name-label=pooltest-net --minimal | tr ',' '\n' | grep -c .)"
check "the pool still takes writes" 1 \
	"$(pool_xe 2 network-create name-label=after-eject | grep -c .)"
done_testing
