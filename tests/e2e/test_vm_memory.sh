#!/bin/sh
# Host memory is accounted as xapi does with ballooning: every VM that runs
# (or is being started) here counts with its dynamic_min and overhead; a
# start that does not fit fails with HOST_NOT_ENOUGH_FREE_MEMORY and
# changes nothing. The memory targets of the running VMs are shared as
# squeezed shares them (the same fraction of every dynamic range), and a
# dynamic_min raised beyond what the host has is refused (xapi's
# reserve_memory_for_dynamic_change).
. "$(dirname "$0")/lib.sh"
XAPID_EXTRA_ARGS="--vm-backend sim"
start_xapid m1 || { not_ok "xapid starts"; done_testing; exit 1; }
total=$(($(awk '/^MemTotal:/ {print $2}' /proc/meminfo) * 1024))
size=$((total / 4))
big=$((total * 2))
VM=$($XE vm-install template="Other install media" new-name-label=huge)
$XE vm-param-set uuid=$VM memory-static-max=$big memory-dynamic-max=$big memory-dynamic-min=$big
check_rc "a VM bigger than the host does not start" 1 $XE vm-start uuid=$VM
grep -q "needed: " "$T_DIR/last.err" && grep -q "available: " "$T_DIR/last.err" \
	&& ok "HOST_NOT_ENOUGH_FREE_MEMORY with needed and available" \
	|| not_ok "HOST_NOT_ENOUGH_FREE_MEMORY printed" "$(cat "$T_DIR/last.err")"
check "and stays halted" halted "$($XE vm-param-get uuid=$VM param-name=power-state)"
started=0
failed=0
running=""
i=1
while [ $i -le 5 ]; do
	v=$($XE vm-install template="Other install media" new-name-label=q$i)
	$XE vm-param-set uuid=$v memory-static-max=$size memory-dynamic-max=$size memory-dynamic-min=$size
	if $XE vm-start uuid=$v > /dev/null 2>&1; then
		started=$((started + 1))
		running="$running $v"
	else
		failed=$((failed + 1))
	fi
	i=$((i + 1))
done
check "quarter-host VMs: three fit beside the host's reserve, the rest are refused" "3 2" "$started $failed"
for v in $running; do
	$XE vm-shutdown uuid=$v --force
done

# ---- ballooning ----
M=1048576
reserve=$((total / 10)); [ $reserve -gt 1073741824 ] && reserve=1073741824
guest=$((total - reserve))
big=$((total * 6 / 10 / M * M))
small=$((total / 10 / M * M))
ov=$((16 * M + big / 256))
mk() {
	v=$($XE vm-install template="Other install media" new-name-label=$1)
	$XE vm-memory-limits-set uuid=$v static-min=$small static-max=$big dynamic-min=$small dynamic-max=$big
	echo $v
}
tgt() { $XE vm-param-get uuid=$1 param-name=memory-target; }
A=$(mk ba)
B=$(mk bb)
check_rc "a VM of 60% of the host with dynamic-min 10% starts" 0 $XE vm-start uuid=$A
check "alone, it has all of its dynamic range" $big "$(tgt $A)"
check_rc "a second one starts too (its dynamic-min fits)" 0 $XE vm-start uuid=$B
ta=$(tgt $A); tb=$(tgt $B)
check "both get the same share" "$ta" "$tb"
[ "$ta" -gt $small ] && [ "$ta" -lt $big ] && ok "between dynamic-min and dynamic-max" || not_ok "target in range" "$small < $ta < $big"
d=$((ta + tb - (guest - 2 * ov))); [ $d -lt 0 ] && d=$((-d))
[ $d -lt $M ] && ok "together they fill the host's guest memory" || not_ok "targets fill the host" "$ta + $tb vs $((guest - 2 * ov))"
actual() { [ "$($XE vm-param-get uuid=$A param-name=memory-actual)" = "$ta" ]; }
wait_for 60 actual && ok "memory-actual follows the target" || not_ok "memory-actual" "$($XE vm-param-get uuid=$A param-name=memory-actual) vs $ta"
check_rc "vm-memory-dynamic-range-set min=max on a running VM" 0 $XE vm-memory-dynamic-range-set uuid=$A min=$big max=$big
check "its target: all of it" $big "$(tgt $A)"
check "the other gets what is left" $((guest - 2 * ov - big)) "$(tgt $B)"
C=$(mk bc)
$XE vm-param-set uuid=$C memory-dynamic-min=$big
check_rc "a third whose dynamic-min does not fit beside theirs now is refused" 1 $XE vm-start uuid=$C
grep -q "HOST_NOT_ENOUGH_FREE_MEMORY\|needed: " "$T_DIR/last.err" && ok "HOST_NOT_ENOUGH_FREE_MEMORY" || not_ok "not enough memory" "$(cat "$T_DIR/last.err")"
check_rc "raising the other's dynamic-min beyond the host is refused" 1 $XE vm-memory-dynamic-range-set uuid=$B min=$big max=$big
grep -q "HOST_NOT_ENOUGH_FREE_MEMORY\|needed: " "$T_DIR/last.err" && ok "HOST_NOT_ENOUGH_FREE_MEMORY" || not_ok "not enough memory" "$(cat "$T_DIR/last.err")"
check "nothing changed" "$small $big" "$($XE vm-param-get uuid=$B param-name=memory-dynamic-min) $($XE vm-param-get uuid=$B param-name=memory-dynamic-max)"
check_rc "vm-shutdown the first" 0 $XE vm-shutdown uuid=$A --force
wait_for 30 sh -c "[ \$($XE vm-param-get uuid=$B param-name=memory-target) = $big ]" \
	&& ok "the other grows back to its dynamic-max" || not_ok "grows back" "$(tgt $B)"
check "host-compute-free-memory: the host with every VM at its dynamic-min" \
	$((guest - small - ov)) "$($XE host-compute-free-memory)"
$XE host-compute-memory-overhead | grep -qx '[0-9][0-9]*' && ok "host-compute-memory-overhead prints a size" \
	|| not_ok "host-compute-memory-overhead" "$($XE host-compute-memory-overhead 2>&1)"
done_testing
