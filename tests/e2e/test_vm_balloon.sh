#!/bin/sh
# Ballooning a real guest (QEMU, TCG): every QEMU has a virtio-balloon, the
# test guest loads virtio_balloon; vm-memory-target-set and
# vm-memory-dynamic-range-set on the running VM drive QMP "balloon": the
# guest's MemTotal drops (and comes back), VM.memory_target says the target
# and VM_metrics.memory_actual follows what the guest gave back
# (query-balloon). Hot-plug still works beside the balloon device.
. "$(dirname "$0")/lib.sh"

guest_setup xb
trap 'stop_xapid; kill_qemus; t_cleanup' EXIT
start_xapid b1 || { not_ok "xapid starts"; done_testing; exit 1; }
M=1048576
SR=$($XE sr-list params=uuid --minimal)
VM=$($XE vm-install template="xapid test guest" new-name-label=bal)
check_rc "vm-start" 0 $XE vm-start uuid=$VM
CONSOLE=$STATE/vms/$VM/console.log
wait_for 120 grep -q QGA-UP "$CONSOLE" && ok "guest boots" || not_ok "guest boots" "$(tail -5 "$CONSOLE" 2>&1)"
tr '\0' ' ' < /proc/"$(cut -d' ' -f1 "$STATE/vms/$VM/pid")"/cmdline | grep -q virtio-balloon-pci \
	&& ok "QEMU has a virtio-balloon" || not_ok "virtio-balloon on the command line"
grep MODULES "$CONSOLE" | grep -q failed && not_ok "every guest module loads" "$(grep MODULES "$CONSOLE")" \
	|| ok "every guest module loads"
check "the guest's balloon driver is bound" yes "$(gexec 'ls /sys/bus/virtio/drivers/virtio_balloon | grep -q virtio && echo yes')"
memtotal() { gexec "awk '/^MemTotal:/ {print int(\$2 / 1024)}' /proc/meminfo"; }
t0=$(memtotal)
[ -n "$t0" ] && [ "$t0" -gt 150 ] && ok "guest MemTotal ${t0} MiB" || not_ok "guest MemTotal" "$t0"
check "memory-target: all of it" 256 "$(($($XE vm-param-get uuid=$VM param-name=memory-target) / M))"

check_rc "vm-memory-target-set 160MiB on the running VM" 0 $XE vm-memory-target-set uuid=$VM target=160MiB
check "memory-target" 160 "$(($($XE vm-param-get uuid=$VM param-name=memory-target) / M))"
shrunk() { t=$(memtotal); [ -n "$t" ] && [ "$t" -le $((t0 - 90)) ]; }
wait_for 120 shrunk && ok "the guest's MemTotal drops by the 96 MiB ballooned out ($t0 -> $(memtotal) MiB)" \
	|| not_ok "guest MemTotal drops" "$t0 -> $(memtotal)"
actual() { a=$($XE vm-param-get uuid=$VM param-name=memory-actual); [ $((a / M)) -eq "$1" ]; }
wait_for 120 actual 160 && ok "memory-actual follows (160 MiB)" \
	|| not_ok "memory-actual follows" "$($XE vm-param-get uuid=$VM param-name=memory-actual)"
gexec "echo ok" > /dev/null && ok "the guest lives on with less memory" || not_ok "guest alive"
n=$(grep -c QGA-UP "$CONSOLE")
check_rc "vm-reboot --force" 0 $XE vm-reboot uuid=$VM --force
wait_for 120 sh -c "[ \$(grep -c QGA-UP '$CONSOLE') -gt $n ]" && ok "the guest comes back" || not_ok "guest back" "$(tail -5 "$CONSOLE")"
wait_for 120 shrunk && ok "and is ballooned to its target again ($(memtotal) MiB)" \
	|| not_ok "target after reboot" "$(memtotal)"

check_rc "vm-memory-dynamic-range-set min=128MiB max=256MiB" 0 \
	$XE vm-memory-dynamic-range-set uuid=$VM min=128MiB max=256MiB
check "the host has room: target = dynamic-max" 256 "$(($($XE vm-param-get uuid=$VM param-name=memory-target) / M))"
grown() { t=$(memtotal); [ -n "$t" ] && [ "$t" -ge $((t0 - 2)) ]; }
wait_for 120 grown && ok "the guest gets its memory back ($(memtotal) MiB)" || not_ok "guest MemTotal back" "$(memtotal)"
wait_for 120 actual 256 && ok "memory-actual back at 256 MiB" \
	|| not_ok "memory-actual back" "$($XE vm-param-get uuid=$VM param-name=memory-actual)"

check_rc "dynamic-max above static-max on the running VM" 1 \
	$XE vm-memory-dynamic-range-set uuid=$VM min=128MiB max=512MiB
check "target unchanged" 256 "$(($($XE vm-param-get uuid=$VM param-name=memory-target) / M))"

# hot-plug beside the balloon (it sits on a free ICH9 function, no root port)
VDI=$($XE vdi-create sr-uuid=$SR name-label=hp virtual-size=16777216)
VBD=$($XE vbd-create vm-uuid=$VM vdi-uuid=$VDI device=1)
check_rc "vbd-plug on the running VM" 0 $XE vbd-plug uuid=$VBD
wait_for 60 grep -q 'DISKS:.*vd[a-z]:32768' "$CONSOLE" && ok "the guest sees the hot-plugged disk" \
	|| not_ok "guest sees the disk" "$(grep DISKS "$CONSOLE" | tail -3)"
check_rc "vbd-unplug" 0 $XE vbd-unplug uuid=$VBD

check_rc "vm-shutdown" 0 $XE vm-shutdown uuid=$VM --force
done_testing
