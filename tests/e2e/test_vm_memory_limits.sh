#!/bin/sh
# A VM's memory settings with xapi's rules: vm-memory-limits-set,
# vm-memory-set, vm-memory-static-range-set, vm-memory-dynamic-range-set,
# vm-memory-target-set and the single-field setters (vm-param-set, XenAPI)
# keep static_min <= dynamic_min <= dynamic_max <= static_max
# (MEMORY_CONSTRAINT_VIOLATION_ORDER otherwise, nothing changed); the static
# range and the limits change only while the VM is halted, the dynamic range
# while it is halted or running. (sim backend)
. "$(dirname "$0")/lib.sh"
XAPID_EXTRA_ARGS="--vm-backend sim"
start_xapid ml1 || { not_ok "xapid starts"; done_testing; exit 1; }
M=1048576
VM=$($XE vm-install template="Other install media" new-name-label=mem)
mem() {
	for f in static-min dynamic-min dynamic-max static-max; do
		printf '%s ' $(($($XE vm-param-get uuid=$VM param-name=memory-$f) / M))
	done
}
check_rc "vm-memory-limits-set" 0 $XE vm-memory-limits-set uuid=$VM static-min=64MiB \
	static-max=512MiB dynamic-min=128MiB dynamic-max=256MiB
check "the four limits" "64 128 256 512 " "$(mem)"
check_rc "limits out of order" 1 $XE vm-memory-limits-set uuid=$VM static-min=64MiB \
	static-max=512MiB dynamic-min=300MiB dynamic-max=256MiB
grep -q "static_min <= dynamic_min <= dynamic_max <= static_max" "$T_DIR/last.err" \
	&& ok "MEMORY_CONSTRAINT_VIOLATION_ORDER" || not_ok "ORDER error" "$(cat "$T_DIR/last.err")"
check "nothing changed" "64 128 256 512 " "$(mem)"
check_rc "a size that does not parse" 1 $XE vm-memory-limits-set uuid=$VM static-min=lots \
	static-max=512MiB dynamic-min=128MiB dynamic-max=256MiB
grep -q "Failed to parse field 'static-min'" "$T_DIR/last.err" && ok "says which field" \
	|| not_ok "parse error" "$(cat "$T_DIR/last.err")"
check_rc "static-max below dynamic-max (vm-param-set)" 1 $XE vm-param-set uuid=$VM memory-static-max=200MiB
check "nothing changed" "64 128 256 512 " "$(mem)"
check_rc "dynamic-min above dynamic-max (vm-param-set)" 1 $XE vm-param-set uuid=$VM memory-dynamic-min=300MiB
check_rc "static-min above dynamic-min" 1 $XE vm-memory-static-range-set uuid=$VM min=200MiB max=512MiB
check_rc "vm-memory-static-range-set" 0 $XE vm-memory-static-range-set uuid=$VM min=32MiB max=1GiB
check "static range" "32 128 256 1024 " "$(mem)"
check_rc "vm-memory-dynamic-range-set" 0 $XE vm-memory-dynamic-range-set uuid=$VM min=256MiB max=768MiB
check "dynamic range" "32 256 768 1024 " "$(mem)"
check_rc "vm-memory-set" 0 $XE vm-memory-set uuid=$VM memory=384MiB
check "static-max and the dynamic range at the value, static-min kept" "32 384 384 384 " "$(mem)"

check_rc "vm-start" 0 $XE vm-start uuid=$VM
check_rc "vm-memory-limits-set on a running VM" 1 $XE vm-memory-limits-set uuid=$VM \
	static-min=32MiB static-max=512MiB dynamic-min=128MiB dynamic-max=256MiB
grep -q "power state" "$T_DIR/last.err" && ok "VM_BAD_POWER_STATE" || not_ok "power state error" "$(cat "$T_DIR/last.err")"
check_rc "vm-memory-static-range-set on a running VM" 1 $XE vm-memory-static-range-set uuid=$VM min=32MiB max=512MiB
check_rc "memory-static-max on a running VM" 1 $XE vm-param-set uuid=$VM memory-static-max=512MiB
check "unchanged" "32 384 384 384 " "$(mem)"
check_rc "the dynamic range of a running VM" 0 $XE vm-memory-dynamic-range-set uuid=$VM min=256MiB max=384MiB
check "changed" "32 256 384 384 " "$(mem)"
check_rc "but not beyond static-max" 1 $XE vm-memory-dynamic-range-set uuid=$VM min=256MiB max=512MiB
check_rc "vm-memory-target-set" 0 $XE vm-memory-target-set uuid=$VM target=300MiB
check "target: dynamic-min = dynamic-max" "32 300 300 384 " "$(mem)"
check "no operation left behind" "" "$($XE vm-param-get uuid=$VM param-name=current-operations)"
$XE vm-shutdown uuid=$VM --force > /dev/null
done_testing
