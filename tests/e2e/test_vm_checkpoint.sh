#!/bin/sh
# VM.checkpoint on a real guest (QEMU, TCG): a snapshot with memory of a
# running VM that keeps running; snapshot-revert to it brings back the disk
# and (after vm-resume) the guest at that moment: its TICK counter carries
# on from the checkpoint, no second boot. Then kill -9 of xapid in the middle
# of a checkpoint: after the restart the guest runs, nothing half-made.
. "$(dirname "$0")/lib.sh"

guest_setup xc
trap 'stop_xapid; kill_qemus; t_cleanup' EXIT
start_xapid c1 || { not_ok "xapid starts"; done_testing; exit 1; }
SR=$($XE sr-list params=uuid --minimal)
SRDIR=$STATE/sr-local
VM=$($XE vm-install template="xapid test guest" new-name-label=ck)
$XE vm-param-set uuid=$VM PV-args="console=ttyS0 quiet xapid.tick=1"
VDI=$($XE vdi-create sr-uuid=$SR name-label=data virtual-size=67108864)
$XE vbd-create vm-uuid=$VM vdi-uuid=$VDI device=1 > /dev/null
check_rc "vm-start" 0 $XE vm-start uuid=$VM
CONSOLE=$STATE/vms/$VM/console.log
wait_for 120 grep -q QGA-UP "$CONSOLE" && ok "guest boots" || not_ok "guest boots" "$(tail -5 "$CONSOLE" 2>&1)"
# a shell command in the guest through its agent (retried: xapid talks to
# the agent too, one client at a time)
gwrite() { gexec "printf '%-16s' $1 | dd of=/dev/vda bs=16 count=1 conv=notrunc 2>/dev/null; sync"; }
gread() { gexec "dd if=/dev/vda bs=16 count=1 iflag=direct 2>/dev/null"; }
lasttick() { grep -o 'TICK [0-9]*' "$CONSOLE" | tail -1 | cut -d' ' -f2; }
gwrite BEFORE-CKPT && ok "the guest writes a pattern to its disk" || not_ok "guest write"
check "and reads it back" "BEFORE-CKPT" "$(gread | tr -d ' ')"

t0=$(lasttick)
CK=$($XE vm-checkpoint uuid=$VM new-name-label=ck1)
check "vm-checkpoint prints a uuid" 36 "${#CK}"
t1=$(lasttick)
check "the VM keeps running" running "$($XE vm-param-get uuid=$VM param-name=power-state)"
check "the checkpoint is suspended" suspended "$($XE snapshot-param-get uuid=$CK param-name=power-state)"
check "and is a snapshot" true "$($XE snapshot-param-get uuid=$CK param-name=is-a-snapshot)"
SUSP=$($XE snapshot-param-get uuid=$CK param-name=suspend-VDI-uuid)
check "it holds a memory image (suspend-VDI)" 36 "${#SUSP}"
[ -s "$SRDIR/$SUSP.suspend" ] && ok "the memory image is on the SR" || not_ok "memory image file" "$(ls "$SRDIR")"
ticking() { [ "$(lasttick)" -gt "$((t1 + 2))" ]; }
wait_for 60 ticking && ok "the guest ticks on after the checkpoint" || not_ok "the guest ticks on" "$(tail -3 "$CONSOLE")"
ups=$(grep -c GUEST-UP "$CONSOLE")

gwrite AFTER-CKPT
check "a later write" "AFTER-CKPT" "$(gread | tr -d ' ')"
wait_for 30 sh -c "[ \$(grep -o 'TICK [0-9]*' '$CONSOLE' | tail -1 | cut -d' ' -f2) -gt $((t1 + 8)) ]"
tbefore=$(lasttick)

check_rc "snapshot-revert to the checkpoint (the running VM is shut down first)" 0 $XE snapshot-revert snapshot-uuid=$CK
check "the VM is suspended at the checkpoint" suspended "$($XE vm-param-get uuid=$VM param-name=power-state)"
check_rc "vm-resume" 0 $XE vm-resume uuid=$VM
check "running" running "$($XE vm-param-get uuid=$VM param-name=power-state)"
ticks_back() { n=$(grep -c TICK "$CONSOLE"); [ "$n" -gt "$nticks" ]; }
nticks=$(grep -c TICK "$CONSOLE")
wait_for 60 ticks_back
tafter=$(grep -o 'TICK [0-9]*' "$CONSOLE" | tail -n +"$((nticks + 1))" | head -1 | cut -d' ' -f2)
[ -n "$tafter" ] && [ "$tafter" -ge "$t0" ] && [ "$tafter" -le "$((t1 + 2))" ] && [ "$tafter" -lt "$tbefore" ] \
	&& ok "the guest carries on from the checkpoint (TICK $tafter after $t0..$t1, was $tbefore)" \
	|| not_ok "the guest carries on from the checkpoint" "t0=$t0 t1=$t1 before=$tbefore after=$tafter"
check "no second boot" "$ups" "$(grep -c GUEST-UP "$CONSOLE")"
check "the disk is back at the checkpoint" "BEFORE-CKPT" "$(gread | tr -d ' ')"
check "the checkpoint itself is still there" suspended "$($XE snapshot-param-get uuid=$CK param-name=power-state)"
[ -z "$($XE vm-param-get uuid=$VM param-name=suspend-VDI-uuid 2>/dev/null | grep -v '<not in database>')" ] \
	&& ok "the VM's copy of the memory image went with the resume" || not_ok "resume removed the image copy"

# kill -9 of xapid in the middle of a checkpoint (while the memory image is
# written): after the restart the guest runs on, no half-made snapshot or
# memory image is left, the chains are whole
nvdi=$($XE vdi-list sr-uuid=$SR --minimal | tr , '\n' | grep -c .)
nsnap=$($XE snapshot-list --minimal | tr , '\n' | grep -c .)
nsusp=$(ls "$SRDIR" | grep -c '\.suspend$')
$XE vm-checkpoint uuid=$VM new-name-label=doomed > /dev/null 2>&1 &
XEPID=$!
wait_for 60 sh -c "[ \$(ls '$SRDIR' | grep -c '\\.suspend\$') -gt $nsusp ]" \
	&& ok "the checkpoint is writing its memory image" || not_ok "the checkpoint started"
stop_xapid KILL
wait $XEPID 2>/dev/null
start_xapid c1 || { not_ok "xapid restarts"; done_testing; exit 1; }
check "the VM is running after the restart" running "$($XE vm-param-get uuid=$VM param-name=power-state)"
n=$(grep -c TICK "$CONSOLE")
wait_for 60 sh -c "[ \$(grep -c TICK '$CONSOLE') -gt $n ]" && ok "the guest ticks on" || not_ok "the guest ticks on after the crash" "$(tail -3 "$CONSOLE")"
check "no half-made snapshot" "$nsnap" "$($XE snapshot-list --minimal | tr , '\n' | grep -c .)"
check "no VDI left over" "$nvdi" "$($XE vdi-list sr-uuid=$SR --minimal | tr , '\n' | grep -c .)"
ls "$SRDIR"/*.suspend > /dev/null 2>&1 && ls "$SRDIR"/*.suspend | while read -r f; do
	u=$(basename "$f" .suspend); [ -n "$($XE vdi-list uuid=$u --minimal)" ] || echo "$f"; done | grep -q . \
	&& not_ok "no stray memory image" "$(ls "$SRDIR")" || ok "no stray memory image"
for f in "$SRDIR"/*.qcow2; do qemu-img check -U -q "$f" > /dev/null 2>&1 || echo "$f"; done | grep -q . \
	&& not_ok "every image checks" || ok "every image checks"
check "the disk still reads" "BEFORE-CKPT" "$(gread | tr -d ' ')"
check_rc "a checkpoint works again" 0 $XE vm-checkpoint uuid=$VM new-name-label=again
check_rc "vm-shutdown --force" 0 $XE vm-shutdown uuid=$VM --force
check_rc "checkpoint of a halted VM is a plain snapshot" 0 $XE vm-checkpoint uuid=$VM new-name-label=cold
done_testing
