#!/bin/sh
# Host memory is accounted as xapi does: every VM that runs (or is being
# started) here counts with its static_max; a start that does not fit fails
# with HOST_NOT_ENOUGH_FREE_MEMORY and changes nothing.
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
i=1
while [ $i -le 5 ]; do
	v=$($XE vm-install template="Other install media" new-name-label=q$i)
	$XE vm-param-set uuid=$v memory-static-max=$size memory-dynamic-max=$size memory-dynamic-min=$size
	if $XE vm-start uuid=$v > /dev/null 2>&1; then started=$((started + 1)); else failed=$((failed + 1)); fi
	i=$((i + 1))
done
check "quarter-host VMs: three fit beside the host's reserve, the rest are refused" "3 2" "$started $failed"
done_testing
