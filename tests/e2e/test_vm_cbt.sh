#!/bin/sh
# Changed-block tracking on a real guest (QEMU, TCG): enabled while the VM
# runs, live snapshots cut the history, vdi-list-changed-blocks between them
# names exactly the 64 KiB blocks the guest wrote; the tracking survives a
# shutdown and a start; deleting a snapshot while the VM runs (live
# coalesce) keeps the answers right.
. "$(dirname "$0")/lib.sh"

guest_setup xb
trap 'stop_xapid; kill_qemus; cp "$T_DIR"/cbt1.out /tmp/cbt1.log 2>/dev/null; t_cleanup' EXIT
start_xapid cbt1 || { not_ok "xapid starts"; done_testing; exit 1; }
SR=$($XE sr-list params=uuid --minimal)
VM=$($XE vm-install template="xapid test guest" new-name-label=cbt)
$XE vm-param-set uuid=$VM PV-args="console=ttyS0 quiet"
V=$($XE vdi-create sr-uuid=$SR name-label=data virtual-size=67108864)
$XE vbd-create vm-uuid=$VM vdi-uuid=$V device=1 > /dev/null
check_rc "vm-start" 0 $XE vm-start uuid=$VM
CONSOLE=$STATE/vms/$VM/console.log
wait_for 120 grep -q QGA-UP "$CONSOLE" && ok "guest boots" || not_ok "guest boots" "$(tail -5 "$CONSOLE" 2>&1)"
# gw BLOCK...: the guest writes 4 KiB into each 64 KiB block, past its cache
gw() {
	c=""
	for b in "$@"; do c="$c dd if=/dev/urandom of=/dev/vda bs=4096 count=1 seek=$((b * 16)) oflag=direct conv=notrunc 2>/dev/null;"; done
	gexec "$c sync"
}
blocks() { python3 -c '
import base64, sys
b = base64.b64decode(sys.argv[1])
print(" ".join(str(i) for i in range(len(b) * 8) if b[i // 8] & (0x80 >> (i % 8))))' "$1"; }
lcb() { blocks "$($XE vdi-list-changed-blocks vdi-from-uuid=$1 vdi-to-uuid=$2)"; }
# a 16-byte mark in block B, and reading it back past the guest's cache
mark() { gexec "printf '%-16s' $2 | dd of=/dev/vda bs=16 count=1 seek=$(($1 * 4096)) conv=notrunc 2>/dev/null; sync"; }
rmark() { gexec "dd if=/dev/vda bs=4096 count=1 skip=$(($1 * 16)) iflag=direct 2>/dev/null | head -c 16" | tr -d ' '; }

check_rc "vdi-enable-cbt on the running VM's disk" 0 $XE vdi-enable-cbt uuid=$V
gw 3
mark 200 MARK-A
S1=$($XE vdi-snapshot uuid=$V)
check "a live snapshot of a tracked disk" 36 "${#S1}"
gw 7 100 511
S2=$($XE vdi-snapshot uuid=$V)
check "the blocks the guest wrote between two live snapshots" "7 100 511" "$(lcb $S1 $S2)"
gw 42
mark 300 MARK-B
S3=$($XE vdi-snapshot uuid=$V)
check "the next interval" "42 300" "$(lcb $S2 $S3)"
check "both intervals" "7 42 100 300 511" "$(lcb $S1 $S3)"
check "data written before the first snapshot reads back" MARK-A "$(rmark 200)"
check "data written between snapshots reads back (layers reopened)" MARK-B "$(rmark 300)"
check_rc "up to the disk while the VM writes to it: refused" 1 $XE vdi-list-changed-blocks vdi-from-uuid=$S3 vdi-to-uuid=$V

# a snapshot deleted while the VM runs: its chain is coalesced live, the
# history is kept
check_rc "vdi-destroy of the middle snapshot (live coalesce)" 0 $XE vdi-destroy uuid=$S2
check "the history across the deleted snapshot" "7 42 100 300 511" "$(lcb $S1 $S3)"
S5=$($XE vdi-snapshot uuid=$V)
check_rc "a second live coalesce of the same disk" 0 $XE vdi-destroy uuid=$S5
nchain=$(qemu-img info -U --backing-chain "$STATE/sr-local/$V.qcow2" | grep -c '^image:')
[ "$nchain" -le 2 ] && ok "the chain stays short ($nchain)" || not_ok "the chain stays short" "$nchain layers"
check "the marks still read back" "MARK-A MARK-B" "$(rmark 200) $(rmark 300)"
gw 9
check_rc "vm-shutdown" 0 $XE vm-shutdown uuid=$VM
check "the disk's own interval, kept in its file" "9" "$(lcb $S3 $V)"
check_rc "vm-start again" 0 $XE vm-start uuid=$VM
wait_for 120 sh -c "grep -c QGA-UP '$CONSOLE' | grep -q 2" && ok "guest boots again" || not_ok "guest boots again"
gw 20
S4=$($XE vdi-snapshot uuid=$V)
check "tracking goes on across a stop and a start" "9 20" "$(lcb $S3 $S4)"
check_rc "vdi-disable-cbt while running" 0 $XE vdi-disable-cbt uuid=$V
check_rc "vm-shutdown" 0 $XE vm-shutdown uuid=$VM --force
for s in $S1 $S3 $S4; do $XE vdi-destroy uuid=$s; done
check "no log left" "" "$(ls "$STATE/sr-local" | grep '\.cbtlog$')"
done_testing
