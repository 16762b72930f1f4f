#!/bin/sh
# Calls that must run on a given host are run there: vm-start on=<slave>
# and a VM whose affinity is a slave start on that slave (resident-on), its
# shutdown is run by the host it is resident on; each host runs its own VMs.
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/lib.sh"
trap 'pool_teardown; t_cleanup' EXIT
if ! pool_make 3 || ! pool_join 2 > /dev/null || ! pool_join 3 > /dev/null; then
	not_ok "a pool of three"
	done_testing
	exit 1
fi
ok "a pool of three"
u2=$(pool_uuid 2)
u3=$(pool_uuid 3)
tpl=$(pool_xe 1 template-list name-label="Other install media" params=uuid --minimal)
vm1=$(pool_xe 1 vm-install template="$tpl" new-name-label=on-h2)
vm2=$(pool_xe 1 vm-install template="$tpl" new-name-label=affine-h3)
pool_xe 1 vm-param-set uuid="$vm2" affinity="$u3"
out=$(pool_xe 1 vm-start uuid="$vm1" on="$u2" 2>&1)
check "vm-start on=<slave>" "" "$out"
check "the VM runs on the slave" "$u2" "$(pool_xe 1 vm-param-get uuid="$vm1" param-name=resident-on)"
grep -q "VM.start_on runs on host" "$T_DIR/h1.out" && ok "the master forwarded the start" ||
	not_ok "the master forwarded the start"
grep -q "xe vm-start\|VM.start" "$T_DIR/h2.out" || true
out=$(pool_xe 2 vm-start uuid="$vm2" 2>&1)
check "vm-start of a VM whose affinity is h3 (through a slave)" "" "$out"
check "it runs on h3" "$u3" "$(pool_xe 1 vm-param-get uuid="$vm2" param-name=resident-on)"
check "vm-shutdown is run by the VM's host" "" "$(pool_xe 1 vm-shutdown uuid="$vm1" 2>&1)"
check "the VM is halted" halted "$(pool_xe 1 vm-param-get uuid="$vm1" param-name=power-state)"
check "... and on no host" "<not in database>" "$(pool_xe 1 vm-param-get uuid="$vm1" param-name=resident-on)"
grep -q "VM.shutdown runs on host\|VM.clean_shutdown runs on host\|VM.hard_shutdown runs on host" "$T_DIR/h1.out" &&
	ok "the master forwarded the shutdown" || not_ok "the master forwarded the shutdown"
check "the other VM still runs on h3" running "$(pool_xe 3 vm-param-get uuid="$vm2" param-name=power-state)"
done_testing
