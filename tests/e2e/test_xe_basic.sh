#!/bin/sh
# The xe server: output layout byte for byte (reference/xenapi.md 3.3),
# --minimal, errors and exit codes (3.4), the generated class commands
# (list, param-list/get/set/add/remove/clear), the explicit commands of the
# first milestone, help, and authentication over TCP.
. "$(dirname "$0")/lib.sh"

start_xapid h1 || { not_ok "xapid starts"; done_testing; exit 1; }

# out CMD...: stdout and stderr of an xe run, trailing newlines kept
# (a final "|" marks the end), exit code in RC.
out() {
	"$XE" "$@" > "$T_DIR/o" 2> "$T_DIR/e"
	RC=$?
	OUT=$(cat "$T_DIR/o"; echo "|")
	ERR=$(cat "$T_DIR/e"; echo "|")
}

# --- vm-list: the layout, two blank lines after each record ---
DOM0=$($XE vm-list is-control-domain=true params=uuid --minimal)
out vm-list
check "vm-list exit 0" 0 $RC
check "vm-list layout" "uuid ( RO)           : $DOM0
     name-label ( RW): Control domain on host: h1
    power-state ( RO): running


|" "$OUT"

HOST=$($XE host-list params=uuid --minimal)
out host-list
check "host-list layout (w = 26)" "uuid ( RO)                : $HOST
          name-label ( RW): h1
    name-description ( RW): Default install


|" "$OUT"

out vm-list params=name-label
check "single field: first key padded on the right" "name-label ( RW)    : Control domain on host: h1


|" "$OUT"

# --- --minimal ---
out vm-list name-label=no-such-vm --minimal
check "--minimal with no match prints an empty line" "
|" "$OUT"
check "--minimal with no match exits 0" 0 $RC
out vm-list name-label=no-such-vm
check "no match prints nothing" "|" "$OUT"
NET=$($XE network-create name-label='a,b\c' MTU=9000)
out network-list uuid=$NET params=name-label --minimal
check "--minimal escapes , and \\" 'a\,b\\c
|' "$OUT"
check "network-param-get MTU" 9000 "$($XE network-param-get uuid=$NET param-name=MTU)"

# --- CLI errors ---
out no-such-command
check "unknown command" "1 Unknown command: no-such-command
For usage run: 'xe help'
|" "$RC $ERR"
out vm-param-get uuid=$DOM0
check "missing required parameter" "1 Required parameter not found: param-name
For usage run: 'xe help'
|" "$RC $ERR"
out vm-list nosuch=1
check "unknown filter field" "1 Error: Unknown field 'nosuch'
|" "$RC $ERR"
out vm-param-list uuid=not-a-uuid
check "API error: sentence and named parameters" "1 The uuid you supplied was invalid.
type: VM
uuid: not-a-uuid
|" "$RC $ERR"
out vm-param-get uuid=$DOM0 param-name=no-such-field
check "param-get of an unknown field" "1 Error code: Missing parameter
Error parameters: no-such-field
|" "$RC $ERR"

# --- vm-install and the generated VM commands ---
TPL=$($XE template-list params=name-label --minimal | cut -d, -f1)
VM=$($XE vm-install template="$TPL" new-name-label=web01)
check "vm-install prints the new uuid" 36 "${#VM}"
out vm-list uuid=$VM
check "installed VM is halted and not a template" "uuid ( RO)           : $VM
     name-label ( RW): web01
    power-state ( RO): halted


|" "$OUT"
check "vm-install sets the description" "Installed via xe CLI" \
	"$($XE vm-param-get uuid=$VM param-name=name-description)"
check_rc "vm-param-set scalar and map key" 0 $XE vm-param-set uuid=$VM \
	name-description="my web server" other-config:role=web other-config:tier=1
check "vm-param-get" "my web server" "$($XE vm-param-get uuid=$VM param-name=name-description)"
check "map shown as k: v; k2: v2" "role: web; tier: 1" \
	"$($XE vm-param-get uuid=$VM param-name=other-config | sed 's/^.*role/role/')"
check "param-get param-key" web "$($XE vm-param-get uuid=$VM param-name=other-config param-key=role)"
check "filter on a map key" "$VM" "$($XE vm-list other-config:role=web params=uuid --minimal)"
out vm-param-set uuid=$VM power-state=running
check "param-set of a read-only field" "1 Error: Field 'power-state' is read-only.
|" "$RC $ERR"
check_rc "param-add to a set" 0 $XE vm-param-add uuid=$VM param-name=tags param-key=blue
check_rc "param-add to a set again" 0 $XE vm-param-add uuid=$VM param-name=tags param-key=green
check "set members joined" "blue, green" "$($XE vm-param-get uuid=$VM param-name=tags)"
check "filter on set membership" "web01" "$($XE vm-list tags:contains=green params=name-label --minimal)"
check_rc "param-remove from a set" 0 $XE vm-param-remove uuid=$VM param-name=tags param-key=blue
check "set after remove" "green" "$($XE vm-param-get uuid=$VM param-name=tags)"
out vm-param-remove uuid=$VM param-name=tags param-key=red
check "param-remove of an absent member" "1 Error: Key red is not in the set
|" "$RC $ERR"
check_rc "param-add to a map" 0 $XE vm-param-add uuid=$VM param-name=platform acpi=1 apic=true
check "map after add" "acpi: 1; apic: true" "$($XE vm-param-get uuid=$VM param-name=platform)"
check_rc "param-clear of a map" 0 $XE vm-param-clear uuid=$VM param-name=platform
check "map after clear" "" "$($XE vm-param-get uuid=$VM param-name=platform)"
out vm-param-list uuid=$VM
check "param-list exit 0" 0 $RC
echo "$OUT" | grep -q '^                          other-config (MRW): ' \
	&& ok "param-list marks maps (MRW)" || not_ok "param-list marks maps (MRW)" "$OUT"
echo "$OUT" | grep -q '^            ha-always-run ( RW) \[DEPRECATED\]: false$' \
	&& ok "param-list marks deprecated fields" || not_ok "param-list marks deprecated fields"
echo "$OUT" | grep -q '^                    allowed-operations (SRO): ' \
	&& ok "param-list marks read-only sets (SRO)" || not_ok "param-list marks read-only sets (SRO)"
check "template-list excludes VMs" "" "$($XE template-list uuid=$VM --minimal)"
check "snapshot-list is empty" "" "$($XE snapshot-list --minimal)"

# --- devices ---
VIF=$($XE vif-create vm-uuid=$VM network-uuid=$NET device=0 mac=aa:bb:cc:dd:ee:01)
check "vif-create prints the new uuid" 36 "${#VIF}"
out vm-vif-list vm=web01
check "vm-vif-list" "uuid ( RO)                  : $VIF
         vm-name-label ( RO): web01
                device ( RO): 0
                   MAC ( RO): aa:bb:cc:dd:ee:01
          network-uuid ( RO): $NET
    network-name-label ( RO): a,b\\c


|" "$OUT"
check "MAC filters ignore case" "$VIF" "$($XE vif-list MAC=AA:BB:CC:DD:EE:01 --minimal)"
check_rc "a read/write CD is refused (VBD_CDS_MUST_BE_READONLY)" 1 $XE vbd-create vm-uuid=$VM device=3 type=CD
VBD=$($XE vbd-create vm-uuid=$VM device=3 type=CD mode=RO)
check "vbd-create (empty CD)" "true" "$($XE vbd-param-get uuid=$VBD param-name=empty)"
check "vbd vdi-name-label of an empty drive" "<EMPTY>" "$($XE vbd-param-get uuid=$VBD param-name=vdi-name-label)"
check "vbd vm-name-label" "web01" "$($XE vbd-list vm-uuid=$VM params=vm-name-label --minimal)"
out vbd-create vm-uuid=$VM device=4
check "empty disk refused" "1 Error: Empty VBDs can only be made for type=CD
|" "$RC $ERR"

# --- messages ---
POOL=$($XE pool-list params=uuid --minimal)
check_rc "message-create" 0 $XE message-create name=HELLO body="hi there" priority=2 pool-uuid=$POOL
MSG=$($XE message-list name=HELLO params=uuid --minimal)
check "message fields" "Pool 2 hi there" "$($XE message-param-get uuid=$MSG param-name=class) $($XE message-param-get uuid=$MSG param-name=priority) $($XE message-param-get uuid=$MSG param-name=body)"
out message-create name=X body=y priority=2
check "message-create needs an object" "1 Error: Need one of: vm-uuid, host-uuid, sr-uuid or pool-uuid
|" "$RC $ERR"
check_rc "message-destroy" 0 $XE message-destroy uuid=$MSG
check "message gone" "" "$($XE message-list name=HELLO --minimal)"

# --- pool ---
check_rc "pool-param-set" 0 $XE pool-param-set uuid=$POOL name-label="my pool"
check "pool-list params=name-label" "my pool" "$($XE pool-list params=name-label --minimal)"
check "pool master is the host" "$HOST" "$($XE pool-param-get uuid=$POOL param-name=master)"

# --- vm-uninstall ---
out vm-uninstall vm=web01 --force
check "vm-uninstall" "0 The following items are about to be destroyed
VM : $VM (web01)
All objects destroyed
|" "$RC $OUT"
check "VM gone" "" "$($XE vm-list uuid=$VM --minimal)"
check "its VIF gone" "" "$($XE vif-list uuid=$VIF --minimal)"
check "its VBD gone" "" "$($XE vbd-list uuid=$VBD --minimal)"
out vm-uninstall vm=web01 --force
check "vm-uninstall of nothing" "1 Error: No matching VMs found
|" "$RC $ERR"
out vm-destroy uuid=$DOM0
check "control domain cannot be destroyed" "1 You attempted an operation that was not allowed.
reason: You cannot destroy a control domain via the CLI
|" "$RC $ERR"
check_rc "network-destroy" 0 $XE network-destroy uuid=$NET

# --- help ---
out help vm-destroy
check "help <command>" "command name            : vm-destroy
        reqd params     : uuid
        optional params : 
        description     : Destroy a VM. This leaves the storage associated with the VM intact. To delete storage too, use vm-uninstall.


|" "$OUT"
out help --all
echo "$OUT" | sed -n 19p | grep -q '^    host-[a-z-]*, host-[a-z-]*, host-' && ok "help --all lists host commands first" \
	|| not_ok "help --all lists host commands first"

# --- authentication over TCP ---
out -s localhost -p $PORT --nossl -u root -pw wrong vm-list
check "bad password" "1 Authentication failed
For usage run: 'xe help'
|" "$RC $ERR"
out -s localhost -p $PORT --nossl -u root -pw "$PASSWORD" vm-list params=uuid --minimal
check "good password" "0 $DOM0
|" "$RC $OUT"

done_testing
