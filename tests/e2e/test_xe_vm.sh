#!/bin/sh
# The xe VM lifecycle commands on the sim backend (reference/xenapi.md 3.4,
# 3.5): vm-install from a template, vm-start (again: VM_BAD_POWER_STATE as
# xapi prints it), pause/unpause, shutdown (clean and --force), reboot,
# --multiple with filters and do_multiple's report, start_on, paused
# starts, vm-reset-powerstate, vm-clone, vm-copy and vm-suspend selection
# rules, hot-plugged disks (vdi-create, vbd-create, vbd-plug/unplug,
# vm-disk-list, vdi-resize), VIFs (vif-plug/unplug, vif-configure-ipv4
# and its errors), sr-scan, vm-uninstall --force, and exit codes.
. "$(dirname "$0")/lib.sh"

XAPID_EXTRA_ARGS=${XAPID_EXTRA_ARGS:---vm-backend sim}
start_xapid h1 || { not_ok "xapid starts"; done_testing; exit 1; }

# out CMD...: stdout and stderr of an xe run, trailing newlines kept
# (a final "|" marks the end), exit code in RC.
out() {
	"$XE" "$@" > "$T_DIR/o" 2> "$T_DIR/e"
	RC=$?
	OUT=$(cat "$T_DIR/o"; echo "|")
	ERR=$(cat "$T_DIR/e"; echo "|")
}

# power NAME: the power state of the VM called NAME.
power() {
	"$XE" vm-list name-label="$1" params=power-state --minimal
}

BAD_POWER="You attempted an operation on a VM that was not in an appropriate power state at the time; for example, you attempted to start a VM that was already running. The parameters returned are the VM's handle, and the expected and actual VM state at the time of the call."

HOST=$($XE host-list params=uuid --minimal)
SR=$($XE sr-list params=uuid --minimal | cut -d, -f1)
NET=$($XE network-list params=uuid --minimal | cut -d, -f1)
TPL=$($XE template-list params=name-label --minimal | cut -d, -f1)

# --- vm-install ---
VM=$($XE vm-install template="$TPL" new-name-label=web01 sr-uuid=$SR)
check "vm-install prints the new uuid" 36 "${#VM}"
check "installed VM is not a template" false "$($XE vm-param-get uuid=$VM param-name=is-a-template)"
check "installed VM is halted" halted "$(power web01)"
$XE vm-param-get uuid=$VM param-name=allowed-operations | grep -q start \
	&& ok "installed VM may start" || not_ok "installed VM may start"
check "vm-install sets the suspend SR" "$SR" "$($XE vm-param-get uuid=$VM param-name=suspend-SR-uuid)"
out vm-install template="$TPL" new-name-label=x sr-name-label=no-such-sr
check "vm-install with an unknown SR name" "1 Error: No SR with that name-label found
|" "$RC $ERR"

# --- vm-start, and again ---
out vm-start vm=web01
check "vm-start prints nothing, exits 0" "0 ||" "$RC $OUT$ERR"
check "VM running" running "$(power web01)"
out vm-start vm=web01
check "vm-start of a running VM" "1 $BAD_POWER
vm: $VM (web01)
expected: halted
actual: running
|" "$RC $ERR"
check "nothing on stdout" "|" "$OUT"
check "no task left behind" "" "$($XE task-list --minimal)"

# --- pause, unpause, reboot ---
check_rc "vm-pause" 0 $XE vm-pause vm=web01
check "VM paused" paused "$(power web01)"
out vm-pause uuid=$VM
check "vm-pause of a paused VM" "1 $BAD_POWER
vm: $VM (web01)
expected: running
actual: paused
|" "$RC $ERR"
check_rc "vm-unpause" 0 $XE vm-unpause uuid=$VM
check "VM running again" running "$(power web01)"
check_rc "vm-reboot" 0 $XE vm-reboot vm=web01
check "VM running after reboot" running "$(power web01)"
check_rc "vm-reboot --force" 0 $XE vm-reboot vm=web01 --force
check "VM running after hard reboot" running "$(power web01)"

# --- shutdown ---
out vm-shutdown vm=web01
check "vm-shutdown" "0 ||" "$RC $OUT$ERR"
check "VM halted" halted "$(power web01)"
out vm-shutdown vm=web01
check "vm-shutdown of a halted VM" "1 $BAD_POWER
vm: $VM (web01)
expected: running
actual: halted
|" "$RC $ERR"
check_rc "vm-start paused=true" 0 $XE vm-start vm=web01 paused=true
check "VM started paused" paused "$(power web01)"
check_rc "vm-shutdown --force of a paused VM" 0 $XE vm-shutdown vm=web01 --force
check "VM halted after --force" halted "$(power web01)"
out vm-start vm=web01 --progress
check "vm-start --progress exits 0" 0 $RC
case "$ERR" in
*"

|") ok "--progress ends stderr with a blank line" ;;
*) not_ok "--progress ends stderr with a blank line" "$ERR" ;;
esac
check_rc "vm-shutdown force=true" 0 $XE vm-shutdown vm=web01 force=true
out vm-shutdown vm=web01 force=maybe
check "a bad boolean" "1 Error: Failed to parse parameter 'force': Expected 'true','t','yes','y','1','false','f','no','n','0' got maybe
|" "$RC $ERR"

# --- on=, selectors ---
out vm-start vm=web01 on=no-such-host
check "vm-start on an unknown host" "1 Error: Host no-such-host not found
|" "$RC $ERR"
check_rc "vm-start on=<host name>" 0 $XE vm-start vm=web01 on=h1
check "started on the host" "$HOST" "$($XE vm-param-get uuid=$VM param-name=resident-on)"
check_rc "vm-shutdown --force" 0 $XE vm-shutdown uuid=$VM --force
check_rc "vm-start on=<host uuid>" 0 $XE vm-start vm=$VM on=$HOST
check_rc "vm-shutdown --force" 0 $XE vm-shutdown uuid=$VM --force
out vm-start vm=no-such-vm
check "no matching VM" "1 Error: No matching VMs found
|" "$RC $ERR"
out vm-start vm=web01 nosuch=1
check "unknown filter field" "1 Error: Unknown field 'nosuch'
|" "$RC $ERR"

# --- --multiple with filters ---
VM2=$($XE vm-install template="$TPL" new-name-label=web02)
check_rc "tag web01" 0 $XE vm-param-set uuid=$VM other-config:grp=web
check_rc "tag web02" 0 $XE vm-param-set uuid=$VM2 other-config:grp=web
out vm-start other-config:grp=web
check "two matches need --multiple" "1 Error: Multiple matches VMs found. --multiple required to complete the operation
|" "$RC $ERR"
check "neither started" "halted,halted" "$($XE vm-list other-config:grp=web params=power-state --minimal)"
out vm-start other-config:grp=web --multiple
check "vm-start --multiple" "0 ||" "$RC $OUT$ERR"
check "both running" "running,running" "$($XE vm-list other-config:grp=web params=power-state --minimal)"
out vm-start other-config:grp=web --multiple
check "do_multiple's report: every failure on stdout, latest first" "1 operation failed on $VM2: $BAD_POWER
vm: $VM2 (web02)
expected: halted
actual: running
operation failed on $VM: $BAD_POWER
vm: $VM (web01)
expected: halted
actual: running
|" "$RC $OUT"
check_rc "vm-shutdown one of them" 0 $XE vm-shutdown vm=web02
out vm-start other-config:grp=web power-state=halted --multiple
check "filters narrow the selection" "0 running,running" "$RC $($XE vm-list other-config:grp=web params=power-state --minimal)"
out vm-shutdown other-config:grp=web --multiple --force
check "vm-shutdown --multiple --force" "0 halted,halted" "$RC $($XE vm-list other-config:grp=web params=power-state --minimal)"

# --- reset-powerstate, suspend, copy ---
out vm-reset-powerstate vm=web02
check "vm-reset-powerstate needs --force" "1 Error: This operation is dangerous and may cause data loss. This operation must be forced (use --force).
|" "$RC $ERR"
check_rc "vm-reset-powerstate --force" 0 $XE vm-reset-powerstate vm=web02 --force
check "VM still halted" halted "$(power web02)"
check_rc "vm-suspend of a halted VM fails" 1 $XE vm-suspend vm=web02
out vm-copy other-config:grp=web new-name-label=cp
check "vm-copy takes one VM" "1 Error: Multiple matches VMs found. Operation can only be performed on one VM at a time
|" "$RC $ERR"

# --- clone ---
out vm-clone vm=web02 new-name-label=web03 new-name-description="a clone"
CL=$(printf '%s' "$OUT" | head -n 1)
check "vm-clone prints the new uuid" "0 36" "$RC ${#CL}"
check "clone's name" web03 "$($XE vm-param-get uuid=$CL param-name=name-label)"
check "clone's description" "a clone" "$($XE vm-param-get uuid=$CL param-name=name-description)"
check "clone is halted" halted "$(power web03)"
check_rc "vm-start web02" 0 $XE vm-start vm=web02
out vm-clone vm=web02 new-name-label=web04
check "vm-clone of a running VM" "1 $BAD_POWER
vm: $VM2 (web02)
expected: halted
actual: running
|" "$RC $ERR"
out vm-clone vm=web02
check "vm-clone needs new-name-label" "1 Required parameter not found: new-name-label
For usage run: 'xe help'
|" "$RC $ERR"
CLT=$($XE vm-clone vm="$TPL" new-name-label=tpl-copy)
check "vm-clone of a template makes a template" true "$($XE template-param-get uuid=$CLT param-name=is-a-template)"

# --- disks on a running VM ---
VDI=$($XE vdi-create sr-uuid=$SR name-label=data virtual-size=64MiB)
check "vdi-create" 36 "${#VDI}"
VBD=$($XE vbd-create vm-uuid=$VM2 vdi-uuid=$VDI device=1)
check "vbd-create on a running VM" 36 "${#VBD}"
check "not attached yet" false "$($XE vbd-param-get uuid=$VBD param-name=currently-attached)"
out vbd-plug uuid=$VBD
check "vbd-plug" "0 ||" "$RC $OUT$ERR"
check "attached" true "$($XE vbd-param-get uuid=$VBD param-name=currently-attached)"
out vbd-plug uuid=$VBD
check "vbd-plug again" "1 The device is already attached to a VM
device: $VBD
|" "$RC $ERR"
out vm-disk-list vm=web02
check "vm-disk-list" "0 Disk 0 VBD:
uuid ( RO)             : $VBD
    vm-name-label ( RO): web02
       userdevice ( RW): 1


Disk 0 VDI:
uuid ( RO)             : $VDI
       name-label ( RW): data
    sr-name-label ( RO): $($XE sr-param-get uuid=$SR param-name=name-label)
     virtual-size ( RO): 67108864


|" "$RC $OUT"
out vm-disk-list vm=web02 vbd-params=userdevice,empty vdi-params=uuid
check "vm-disk-list vbd-params= vdi-params=" "0 Disk 0 VBD:
empty ( RO)         : false
    userdevice ( RW): 1


Disk 0 VDI:
uuid ( RO)    : $VDI


|" "$RC $OUT"
check "vm-cd-list of a VM without CDs" "" "$($XE vm-cd-list vm=web02)"
check "vm-disk-list --minimal" "$VDI,$VBD" "$($XE vm-disk-list vm=web02 --minimal)"
out vbd-unplug uuid=$VBD
check "vbd-unplug" "0 ||" "$RC $OUT$ERR"
check "detached" false "$($XE vbd-param-get uuid=$VBD param-name=currently-attached)"
out vbd-unplug uuid=$VBD
check "vbd-unplug again" "1 The device is not currently attached
device: $VBD
|" "$RC $ERR"
out vbd-unplug uuid=$VBD timeout=soon
check "vbd-unplug timeout= must be a float" "1 Error: Failed to parse parameter 'timeout': expecting a float
|" "$RC $ERR"
check_rc "vbd-destroy" 0 $XE vbd-destroy uuid=$VBD
check "VBD gone" "" "$($XE vbd-list uuid=$VBD --minimal)"
check_rc "vdi-resize 128MiB" 0 $XE vdi-resize uuid=$VDI disk-size=128MiB
check "resized" 134217728 "$($XE vdi-param-get uuid=$VDI param-name=virtual-size)"
check_rc "vdi-resize 1GiB" 0 $XE vdi-resize uuid=$VDI disk-size=1GiB
check "resized with GiB" 1073741824 "$($XE vdi-param-get uuid=$VDI param-name=virtual-size)"
out vdi-resize uuid=$VDI disk-size=12XB
check "vdi-resize of a bad size" "1 Error: Failed to parse field 'disk-size': expecting an integer (possibly with suffix KiB, MiB, GiB, TiB), got '12XB'
|" "$RC $ERR"
out vdi-resize uuid=not-a-uuid disk-size=1GiB
check "vdi-resize of an unknown VDI" "1 The uuid you supplied was invalid.
type: VDI
uuid: not-a-uuid
|" "$RC $ERR"
check_rc "sr-scan" 0 $XE sr-scan uuid=$SR
check "the VDI survives the scan" "$VDI" "$($XE vdi-list uuid=$VDI params=uuid --minimal)"
check_rc "vdi-destroy" 0 $XE vdi-destroy uuid=$VDI
check "VDI gone" "" "$($XE vdi-list uuid=$VDI --minimal)"

# --- VIFs ---
VIF=$($XE vif-create vm-uuid=$VM2 network-uuid=$NET device=1)
check "vif-create" 36 "${#VIF}"
check_rc "vif-plug" 0 $XE vif-plug uuid=$VIF
check "VIF attached" true "$($XE vif-param-get uuid=$VIF param-name=currently-attached)"
out vif-configure-ipv4 uuid=$VIF mode=static
check "static needs an address" "1 Error: Required parameter not found: address
|" "$RC $ERR"
out vif-configure-ipv4 uuid=$VIF mode=static address=
check "static needs a non-empty address" "1 Error: Required parameter not found: address
|" "$RC $ERR"
out vif-configure-ipv4 uuid=$VIF mode=Bogus
check "unknown mode" "1 Error: Expected one of 'None', 'Static', got bogus
|" "$RC $ERR"
out vif-configure-ipv4 uuid=$VIF mode=static address=10.0.0.300/24
check "bad address" "1 A required parameter contained an invalid IP address
parameter: address
|" "$RC $ERR"
out vif-configure-ipv4 uuid=$VIF mode=static address=10.0.0.3
check "address without a prefix length" "1 A required parameter contained an invalid IP address
parameter: address
|" "$RC $ERR"
out vif-configure-ipv4 uuid=$VIF mode=static address=10.0.0.3/24 gateway=10.0.0
check "bad gateway" "1 A required parameter contained an invalid IP address
parameter: gateway
|" "$RC $ERR"
out vif-configure-ipv4 uuid=$VIF mode=none
check "mode=none" "0 None" "$RC $($XE vif-param-get uuid=$VIF param-name=ipv4-configuration-mode)"
check_rc "vif-unplug" 0 $XE vif-unplug uuid=$VIF
check "VIF detached" false "$($XE vif-param-get uuid=$VIF param-name=currently-attached)"
out vif-unplug uuid=$VIF
check "vif-unplug again" "1 The device is not currently attached
device: $VIF
|" "$RC $ERR"
VIF1=$($XE vif-create vm-uuid=$VM network-uuid=$NET device=0)
out vif-configure-ipv4 uuid=$VIF1 mode=static address=10.0.0.5/24 gateway=10.0.0.1
check "vif-configure-ipv4 on a halted VM's VIF" 0 $RC
check "ipv4 settings stored" "Static 10.0.0.5/24 10.0.0.1" \
	"$($XE vif-param-get uuid=$VIF1 param-name=ipv4-configuration-mode) $($XE vif-param-get uuid=$VIF1 param-name=ipv4-addresses) $($XE vif-param-get uuid=$VIF1 param-name=ipv4-gateway)"
out vif-plug uuid=$VIF1
check "vif-plug on a halted VM" "1 $BAD_POWER
vm: $VM (web01)
expected: running
actual: halted
|" "$RC $ERR"
check_rc "vif-destroy" 0 $XE vif-destroy uuid=$VIF1
check "VIF gone" "" "$($XE vif-list uuid=$VIF1 --minimal)"

# --- uninstall ---
out vm-uninstall vm=web02 --force
check "vm-uninstall --force of a running VM" "0 The following items are about to be destroyed
VM : $VM2 (web02)
All objects destroyed
|" "$RC $OUT"
check "VM gone" "" "$($XE vm-list uuid=$VM2 --minimal)"
check "its VIF gone" "" "$($XE vif-list uuid=$VIF --minimal)"
check_rc "vm-uninstall web03" 0 $XE vm-uninstall vm=web03 --force
check_rc "vm-uninstall web01" 0 $XE vm-uninstall uuid=$VM --force
check "only the control domain is left" "Control domain on host: h1" "$($XE vm-list params=name-label --minimal)"

# --- help and exit codes ---
out help vm-shutdown
check "help vm-shutdown" "0 command name            : vm-shutdown
        reqd params     : 
        optional params : force, <vm-selectors>" "$RC $(printf '%s' "$OUT" | head -n 3)"
out help vbd-plug
check "help vbd-plug" "0 command name            : vbd-plug
        reqd params     : uuid
        optional params : 
        description     : Attempt to attach the VBD while the VM is in the running state." "$RC $(printf '%s' "$OUT" | head -n 4)"
out vbd-plug
check "vbd-plug needs uuid" "1 Required parameter not found: uuid
For usage run: 'xe help'
|" "$RC $ERR"
out vm-pause vm=web01
check "vm-pause of nothing" "1 Error: No matching VMs found
|" "$RC $ERR"

done_testing
