#!/bin/sh
# host-evacuate moves several VMs at once (sim backend): six VMs on h1, a
# pool of two; batch-size=3 moves them in two batches of three migrating
# together (their migrations overlap in h1's log), every VM ends resident
# on h2 and running, nothing is left on h1; then the default batch (xapi's
# 10) moves them back in one batch.
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
u2=$(pool_uuid 2)
two_enabled() { [ "$(pool_xe 1 host-list enabled=true --minimal | tr ',' '\n' | grep -c .)" = 2 ]; }
n=0
while [ $n -lt 600 ] && ! two_enabled; do sleep 0.2; n=$((n + 1)); done
tpl=$(pool_xe 1 template-list name-label="Other install media" params=uuid --minimal)
vms=""
i=1
while [ $i -le 6 ]; do
	v=$(pool_xe 1 vm-install template="$tpl" new-name-label=ev$i)
	pool_xe 1 vm-param-set uuid="$v" memory-static-max=64MiB memory-dynamic-max=64MiB \
		memory-dynamic-min=64MiB memory-static-min=64MiB > /dev/null 2>&1
	pool_xe 1 vm-start uuid="$v" on="$u1" > /dev/null
	vms="$vms $v"
	i=$((i + 1))
done
on_host() { # host-uuid: how many of the VMs are resident there and running
	k=0
	for v in $vms; do
		[ "$(pool_xe 1 vm-param-get uuid="$v" param-name=resident-on)" = "$1" ] &&
			[ "$(pool_xe 1 vm-param-get uuid="$v" param-name=power-state)" = running ] &&
			k=$((k + 1))
	done
	echo $k
}
check "six VMs run on h1" 6 "$(on_host "$u1")"
out=$(pool_xe 1 host-evacuate host=h1 batch-size=3 2>&1)
check "host-evacuate host=h1 batch-size=3" "" "$out"
check "all six run on h2" 6 "$(on_host "$u2")"
check "none on h1" 0 "$(on_host "$u1")"
# the source logs "now runs on" per VM; with batches of three the "evacuate:
# VM" lines of a batch come before the first of its migrations ends
out=$(grep -n 'evacuate: VM\|now runs on' "$T_DIR/h1.out" | sed -n 1,4p | grep -c 'evacuate: VM')
check "a batch of three starts together" 3 "$out"
out=$(pool_xe 1 host-evacuate host=h2 2>&1)
check "host-evacuate host=h2 (default batch)" "" "$out"
check "all six back on h1" 6 "$(on_host "$u1")"
done_testing
