#!/bin/sh
# Storage live migration in a two-host pool with a real guest (qemu backend,
# TCG): the guest has a disk on h1's local SR and writes a known pattern on
# it; xe vm-migrate vm= host=h2 vdi:<vdi>=<h2's local SR> moves it while a
# writer in the guest keeps writing; on h2 the guest reads back (caches
# dropped) the pattern and the writer's last record; the source VDI is gone,
# the new one on h2's SR passes qemu-img check; the VDIs of a snapshot of
# the VM move along (copied first); then the halted VM moves back to h1's
# SR and boots there; (the destination's answer at
# the hand-over is lost once: the source asks again and learns that the VM
# runs on h2, never resuming its own copy); refusals (VDI_NOT_IN_MAP,
# VM_REQUIRES_SR for an SR h2 does not see); and the destination's QEMU
# killed mid-mirror: VM_MIGRATE_FAILED, the VM runs on as before with its
# data, no VDI left at the destination.
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/lib.sh"

CACHE=${XAPID_GUEST_CACHE:-/var/cache/xapid/guest}
export XAPID_GUEST_CACHE=$CACHE
if ! bash "$TOP/tools/build-guest.sh" "$CACHE" > "$T_DIR/build-guest.log" 2>&1; then
	echo "1..0 # SKIP no test guest (tools/build-guest.sh failed)"
	exit 0
fi

kill_qemus() {
	for f in "$T_DIR"/h*/vms/*/pid; do
		[ -f "$f" ] || continue
		pid=$(cut -d' ' -f1 "$f")
		[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	done
	true
}
trap 'kill_qemus; pool_teardown; t_cleanup' EXIT
trap 'exit 1' INT TERM
POOL_XAPID_ARGS="--vm-backend qemu"
# the real move below loses the destination's answer at the hand-over once
# (the destination already runs the VM): the source must ask again and learn
# it, not resume its own copy
export XAPID_FIST=migrate_end_drop_reply
if ! pool_make 2; then
	not_ok "two hosts start"
	done_testing
	exit 1
fi
u1=$(pool_uuid 1)
u2=$(pool_uuid 2)
out=$(pool_join 2 2>&1)
check "h2 joins h1's pool" "Host agent will restart and attempt to join pool in 10. seconds..." "$out"
wait_for() { # seconds cmd...
	w=$(($1 * 10))
	shift
	while [ $w -gt 0 ]; do "$@" > /dev/null 2>&1 && return 0; sleep 0.1; w=$((w - 1)); done
	return 1
}
two_enabled() { [ "$(pool_xe 1 host-list enabled=true --minimal | tr ',' '\n' | grep -c .)" = 2 ]; }
wait_for 120 two_enabled
check "two enabled hosts" 2 "$(pool_xe 1 host-list enabled=true --minimal | tr ',' '\n' | grep -c .)"
# h2 must see its own local SR plugged (its PBD comes with the join)
sr1=$(pool_xe 1 pbd-list host-uuid="$u1" params=sr-uuid --minimal | tr ',' '\n' |
	while read -r s; do [ "$(pool_xe 1 sr-param-get uuid="$s" param-name=type)" = iso ] || echo "$s"; done | head -1)
sr2=$(pool_xe 1 pbd-list host-uuid="$u2" params=sr-uuid --minimal | tr ',' '\n' |
	while read -r s; do [ "$(pool_xe 1 sr-param-get uuid="$s" param-name=type)" = iso ] || echo "$s"; done | head -1)
[ -n "$sr1" ] && [ -n "$sr2" ] && [ "$sr1" != "$sr2" ] && ok "each host has its local SR" ||
	not_ok "each host has its local SR" "h1: $sr1 h2: $sr2"

VM=$(pool_xe 1 vm-install template="xapid test guest" new-name-label=sxm1)
pool_xe 1 vm-param-set uuid="$VM" PV-args="console=ttyS0 quiet xapid.tick=1"
VDI=$(pool_xe 1 vdi-create sr-uuid="$sr1" name-label=sxm-disk virtual-size=256MiB)
pool_xe 1 vbd-create vm-uuid="$VM" vdi-uuid="$VDI" device=1 > /dev/null
# 200 MiB of bytes 0x42 from 32 MiB on, written before the guest starts, so
# that copying the disk takes a while
img1=$(ls "$T_DIR"/h1/sr-local/*"$VDI"* 2>/dev/null | head -1)
check_rc "200 MiB written into the disk's image" 0 qemu-io -f qcow2 -c 'write -q -P 0x42 32M 200M' "$img1"
# a snapshot of the VM: its VDIs move along (to where their snapshot_of go)
SNAP=$(pool_xe 1 vm-snapshot vm=sxm1 new-name-label=sxm-snap)
SVDI=$(pool_xe 1 vbd-list vm-uuid="$SNAP" userdevice=1 params=vdi-uuid --minimal)
check "the snapshot's VDI is a snapshot of the disk" "$VDI" \
	"$(pool_xe 1 vdi-param-get uuid="$SVDI" param-name=snapshot-of)"
check_rc "vm-start on h1" 0 pool_xe 1 vm-start vm=sxm1 on=h1
check "resident on h1" "$u1" "$(pool_xe 1 vm-param-get uuid="$VM" param-name=resident-on)"
tick() { grep -q '^TICK' "$T_DIR/h$1/vms/$VM/console.log" 2>/dev/null; }
wait_for 240 tick 1 && ok "the guest boots on h1" || not_ok "the guest boots on h1"

ga() { # host command
	python3 "$TOP/tests/pool/qga.py" "$T_DIR/h$1/vms/$VM/qga.sock" "$2"
}
# the guest's name of the disk (by size: 256 MiB)
dev_of() { ga 1 "for d in /sys/block/vd*; do [ \"\$(cat \$d/size)\" = $1 ] && echo /dev/\${d##*/}; done"; }
DEV=$(dev_of 524288)
[ -n "$DEV" ] && ok "the guest sees its disk ($DEV)" || not_ok "the guest sees its disk"
# 8 MiB of a pattern at the start of the disk, its md5 as the host computes it
pat_md5=$(python3 -c 'import hashlib,sys; p=b"XAPIDSXM\n"*1000000; print(hashlib.md5(p[:8388608]).hexdigest())')
out=$(ga 1 'yes XAPIDSXM | head -c 8388608 > '"$DEV"' && sync && echo 3 > /proc/sys/vm/drop_caches && head -c 8388608 '"$DEV"' | md5sum' 2>&1)
check "the guest writes the pattern on h1" "$pat_md5  -" "$out"
# a writer that goes on during the migration: record n at 16 MiB, n in /run/w
ga 1 '(i=0; while [ ! -e /run/stop ]; do echo "W$i" | dd of='"$DEV"' bs=512 seek=32768 conv=notrunc,fsync 2>/dev/null; echo $i > /run/w; i=$((i+1)); done; touch /run/stopped) > /dev/null 2>&1 &
echo started' > /dev/null 2>&1

# refusals first: nothing may change
out=$(python3 - "$(pool_ip 1)" "$POOL_PW" "$VM" "$u2" <<'PY' 2>&1
import sys, xmlrpc.client
s = xmlrpc.client.ServerProxy("http://%s/" % sys.argv[1])
sid = s.session.login_with_password("root", sys.argv[2], "1.0", "test")["Value"]
vm = s.VM.get_by_uuid(sid, sys.argv[3])["Value"]
host = s.host.get_by_uuid(sid, sys.argv[4])["Value"]
net = s.network.get_all(sid)["Value"][0]
dest = s.host.migrate_receive(sid, host, net, {})["Value"]
print(sorted(dest.keys()))
r = s.VM.migrate_send(sid, vm, dest, True, {}, {}, {}, {})
print(r["Status"], r.get("ErrorDescription", [""])[0])
PY
)
check "Host.migrate_receive gives xapi's keys" "['SM', 'host', 'master', 'session_id', 'xenops']" "$(echo "$out" | head -1)"
check "VM.migrate_send without the disk in vdi_map: VDI_NOT_IN_MAP" "Failure VDI_NOT_IN_MAP" "$(echo "$out" | sed -n 2p)"
out=$(pool_xe 1 vm-migrate vm=sxm1 host=h2 vdi:"$VDI"="$sr1" 2>&1)
check "mapped to h1's own SR: VM_REQUIRES_SR" "You attempted to run a VM on a host which doesn't have access to an SR needed by the VM. The VM has at least one VBD attached to a VDI in the SR." \
	"$(echo "$out" | grep -v '^Performing\|^Will migrate\|^VDI ' | head -1)"
check "... still on h1" "$u1" "$(pool_xe 1 vm-param-get uuid="$VM" param-name=resident-on)"

# the destination's QEMU dies mid-mirror: the VM stays on h1 with its disk
nvdi2=$(pool_xe 1 vdi-list sr-uuid="$sr2" --minimal | tr ',' '\n' | grep -c .)
# (killed once the copy on h2's SR holds more than 32 MiB of the 208 MiB)
# (the copies made before, the snapshot's 200 MiB, are already there: only
# a file that grows once h2's QEMU runs counts)
( n=0
  while [ $n -lt 6000 ] && [ ! -f "$T_DIR/h2/vms/$VM/pid" ]; do sleep 0.01; n=$((n + 1)); done
  before=$(find "$T_DIR/h2/sr-local" -name '*.qcow2' -size +32M 2>/dev/null)
  while [ $n -lt 12000 ]; do
	big=$(find "$T_DIR/h2/sr-local" -name '*.qcow2' -size +32M 2>/dev/null |
		while read -r f; do echo "$before" | grep -qxF "$f" || echo "$f"; done | head -1)
	[ -n "$big" ] && break
	sleep 0.01
	n=$((n + 1))
  done
  pid=$(cut -d' ' -f1 "$T_DIR/h2/vms/$VM/pid" 2>/dev/null)
  echo "# killing h2's QEMU ($pid) with $(du -m "$big" 2>/dev/null | cut -f1) MiB copied"
  [ -n "$pid" ] && kill -9 "$pid" ) &
killer=$!
out=$(pool_xe 1 vm-migrate vm=sxm1 host=h2 vdi:"$VDI"="$sr2" 2>&1)
wait $killer
echo "$out" | sed 's/^/# /'
check "destination QEMU killed mid-mirror: VM_MIGRATE_FAILED" "An error occurred during the migration process." \
	"$(echo "$out" | grep -v '^Performing\|^Will migrate\|^VDI ' | head -1)"
check "... the VM is still resident on h1" "$u1" "$(pool_xe 1 vm-param-get uuid="$VM" param-name=resident-on)"
check "... and running" running "$(pool_xe 1 vm-param-get uuid="$VM" param-name=power-state)"
check "... its disk is still the VDI on h1" "$VDI" "$(pool_xe 1 vbd-list vm-uuid="$VM" userdevice=1 params=vdi-uuid --minimal)"
gone_on_h2() { [ "$(pool_xe 1 vdi-list sr-uuid="$sr2" --minimal | tr ',' '\n' | grep -c .)" = "$nvdi2" ]; }
wait_for 60 gone_on_h2 && ok "... no VDI left on h2's SR" ||
	not_ok "... no VDI left on h2's SR" "$(pool_xe 1 vdi-list sr-uuid="$sr2" params=uuid,name-label)"
out=$(ga 1 'echo 3 > /proc/sys/vm/drop_caches; head -c 8388608 '"$DEV"' | md5sum' 2>&1)
check "... the guest still reads its pattern on h1" "$pat_md5  -" "$out"
wait_for 60 sh -c "! test -f '$T_DIR/h2/vms/$VM/pid'" && ok "... no QEMU left on h2" ||
	not_ok "... no QEMU left on h2"

# what crosses the wire to h2 is watched for the pattern in clear
sniff_start() {
	rm -f "$T_DIR/sniff" "$T_DIR/sniff.ready" "$T_DIR/sniff.stop"
	python3 "$TOP/tests/pool/sniff.py" "xpv${POOL_ID}2" XAPIDSXM "$T_DIR/sniff" "$T_DIR/sniff.stop" \
		2> "$T_DIR/sniff.err" &
	SNIFF=$!
	wait_for 30 test -f "$T_DIR/sniff.ready"
}
sniff_stop() { # (not in a subshell: it waits for the sniffer) -> $SN
	touch "$T_DIR/sniff.stop"
	wait $SNIFF
	SN=$(cat "$T_DIR/sniff" 2>/dev/null || sed 's/^/# /' "$T_DIR/sniff.err")
}
sniff_start
pool_xe 2 vm-param-set uuid="$VM" name-description=XAPIDSXM
sniff_stop
[ "${SN#* }" -gt 0 ] 2>/dev/null && ok "the sniffer sees clear text to h2 (frames, hits: $SN)" ||
	not_ok "the sniffer sees clear text to h2" "$SN"

# the real move
w0=""
n=0
while [ -z "$w0" ] && [ $n -lt 100 ]; do # (the agent can miss under load)
	w0=$(ga 1 'cat /run/w' 2> /dev/null)
	[ -n "$w0" ] || sleep 0.3
	n=$((n + 1))
done
l0=$(wc -l < "$T_DIR/h1.out")
sniff_start
out=$(pool_xe 1 vm-migrate vm=sxm1 host=h2 vdi:"$VDI"="$sr2" 2>&1)
rc=$?
sniff_stop
[ "${SN#* }" = 0 ] && [ "${SN% *}" -gt 1000 ] && ok "memory and disk went encrypted: no pattern on the wire (frames, hits: $SN)" ||
	not_ok "memory and disk went encrypted" "frames, hits: $SN"
echo "$out" | sed 's/^/# /'
check "xe vm-migrate vm=sxm1 host=h2 vdi:<vdi>=<h2's SR> succeeds" 0 "$rc"
check "... it says what it does" "Performing a storage live migration. Your VM's VDIs will be migrated with the VM." \
	"$(echo "$out" | head -1)"
check "resident on h2" "$u2" "$(pool_xe 1 vm-param-get uuid="$VM" param-name=resident-on)"
check "still running" running "$(pool_xe 1 vm-param-get uuid="$VM" param-name=power-state)"
NEW=$(pool_xe 1 vbd-list vm-uuid="$VM" userdevice=1 params=vdi-uuid --minimal)
[ -n "$NEW" ] && [ "$NEW" != "$VDI" ] && ok "the VBD now uses a new VDI ($NEW)" || not_ok "the VBD uses a new VDI" "$NEW"
check "... on h2's SR" "$sr2" "$(pool_xe 1 vdi-param-get uuid="$NEW" param-name=sr-uuid)"
check "... with the old one's name" sxm-disk "$(pool_xe 1 vdi-param-get uuid="$NEW" param-name=name-label)"
check "... and size" "$(python3 -c 'print(256<<20)')" "$(pool_xe 1 vdi-param-get uuid="$NEW" param-name=virtual-size)"
check "... not pending any more" "" "$(pool_xe 1 vdi-param-get uuid="$NEW" param-name=sm-config)"
out=$(pool_xe 1 vdi-list uuid="$VDI" --minimal 2>&1)
check "the source VDI is gone" "" "$out"
NSVDI=$(pool_xe 1 vbd-list vm-uuid="$SNAP" userdevice=1 params=vdi-uuid --minimal)
[ -n "$NSVDI" ] && [ "$NSVDI" != "$SVDI" ] && ok "the snapshot's VBD uses a copy of its VDI" ||
	not_ok "the snapshot's VBD uses a copy of its VDI" "$NSVDI"
check "... on h2's SR" "$sr2" "$(pool_xe 1 vdi-param-get uuid="$NSVDI" param-name=sr-uuid)"
check "... a snapshot of the moved disk" "$NEW" "$(pool_xe 1 vdi-param-get uuid="$NSVDI" param-name=snapshot-of)"
check "... is-a-snapshot" true "$(pool_xe 1 vdi-param-get uuid="$NSVDI" param-name=is-a-snapshot)"
check "... the old one is gone" "" "$(pool_xe 1 vdi-list uuid="$SVDI" --minimal 2>&1)"
fs=$(ls "$T_DIR"/h2/sr-local/*"$NSVDI"* 2>/dev/null | head -1)
out=$(qemu-io -r -U -f qcow2 -c 'read -P 0x42 32M 200M' "$fs" 2>&1 | grep -c '^read ')
check "... with the disk's data as it was at the snapshot" 1 "$out"
[ -z "$(ls "$T_DIR/h1/sr-local/" 2>/dev/null | grep "$VDI")" ] && ok "... and its file" ||
	not_ok "... and its file" "$(ls "$T_DIR/h1/sr-local/")"
grep -q GUEST-UP "$T_DIR/h2/vms/$VM/console.log" && not_ok "no reboot on h2" || ok "no reboot on h2"
w1=$(ga 2 'cat /run/w')
[ -n "$w1" ] && [ -n "$w0" ] && [ "$w1" -gt "$w0" ] && ok "the writer went on across the move ($w0 -> $w1)" ||
	not_ok "the writer went on across the move" "$w0 -> $w1"
out=$(ga 2 'touch /run/stop; n=0; while [ ! -e /run/stopped ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n+1)); done
sync; echo 3 > /proc/sys/vm/drop_caches
echo "W$(cat /run/w)"; dd if='"$DEV"' bs=512 skip=32768 count=1 2>/dev/null | head -1
head -c 8388608 '"$DEV"' | md5sum' 2>&1)
check "on h2, from the disk: the writer's last record" "$(echo "$out" | sed -n 1p)" "$(echo "$out" | sed -n 2p)"
check "on h2, from the disk: the pattern" "$pat_md5  -" "$(echo "$out" | sed -n 3p)"
grep "now runs on" "$T_DIR/h1.out" | tail -1 | sed 's/^/# /'
# the hand-over's answer was lost once (fault point): the source asked again
grep -q "fist: the destination's answer is dropped" "$T_DIR/h1.out" &&
	grep -q "the destination says it runs there" "$T_DIR/h1.out" &&
	ok "the lost answer at the hand-over: h1 asked again and learnt it runs on h2" ||
	not_ok "the lost answer at the hand-over: h1 asked again" "$(grep -i 'hand-over\|fist' "$T_DIR/h1.out" | tail -3)"
tail -n +"$l0" "$T_DIR/h1.out" | grep -q "migration undone" && not_ok "h1 never resumed its copy" || ok "h1 never resumed its copy"
grep "mirrored to the destination" "$T_DIR/h1.out" | tail -1 | sed 's/^/# /'
[ ! -f "$T_DIR/h1/vms/$VM/pid" ] && ok "no QEMU left on h1" || not_ok "no QEMU left on h1"
n=0
for f in "$T_DIR"/h*/vms/"$VM"/pid; do
	[ -f "$f" ] && kill -0 "$(cut -d' ' -f1 "$f")" 2>/dev/null && n=$((n + 1))
done
check "the VM runs exactly once" 1 "$n"

# a suspend after the (encrypted) arrival: QEMU's migration settings are
# plain again (the memory image is not written under the migration's TLS)
pool_xe 1 vm-param-set uuid="$VM" suspend-SR-uuid="$sr2"
check_rc "vm-suspend on h2 after the move" 0 pool_xe 1 vm-suspend vm=sxm1
check_rc "vm-resume on h2" 0 pool_xe 1 vm-resume vm=sxm1 on=h2
check "running again" running "$(pool_xe 1 vm-param-get uuid="$VM" param-name=power-state)"

# the image at h2 after the guest stopped
check_rc "vm-shutdown --force" 0 pool_xe 1 vm-shutdown vm=sxm1 --force
f=$(ls "$T_DIR"/h2/sr-local/*"$NEW"* 2>/dev/null | head -1)
if [ -n "$f" ]; then
	check_rc "qemu-img check of the new VDI on h2" 0 qemu-img check -q "$f"
	out=$(qemu-img info -U --backing-chain "$f" 2>&1 | grep -c '^image:')
	check "... a complete chain" 1 "$out"
	out=$(qemu-io -r -U -f qcow2 -c 'read -P 0x58 0 1' -c 'read -P 0x42 32M 200M' "$f" 2>&1 |
		grep -c '^read ')
	check "... and the pattern's first byte (X) and the 200 MiB of 0x42 in it" 2 "$out"
else
	not_ok "the new VDI's file is on h2's SR" "$(ls "$T_DIR/h2/sr-local/")"
fi

# a halted VM moves too (xapi: migrate_send of a halted VM copies its disks;
# the call goes to h2, which reads them): back to h1's SR, the snapshot's
# VDIs along
out=$(pool_xe 1 vm-migrate vm=sxm1 host=h1 vdi:"$NEW"="$sr1" 2>&1)
rc=$?
echo "$out" | sed 's/^/# /'
check "xe vm-migrate of the halted VM back to h1's SR" 0 "$rc"
check "... still halted" halted "$(pool_xe 1 vm-param-get uuid="$VM" param-name=power-state)"
B=$(pool_xe 1 vbd-list vm-uuid="$VM" userdevice=1 params=vdi-uuid --minimal)
check "... its disk on h1's SR" "$sr1" "$(pool_xe 1 vdi-param-get uuid="$B" param-name=sr-uuid)"
BS=$(pool_xe 1 vbd-list vm-uuid="$SNAP" userdevice=1 params=vdi-uuid --minimal)
check "... the snapshot's VDI too" "$sr1" "$(pool_xe 1 vdi-param-get uuid="$BS" param-name=sr-uuid)"
check "... still a snapshot of the disk" "$B" "$(pool_xe 1 vdi-param-get uuid="$BS" param-name=snapshot-of)"
check "... nothing of it left on h2's SR" "" "$(pool_xe 1 vdi-list uuid="$NEW" --minimal 2>&1)$(pool_xe 1 vdi-list uuid="$NSVDI" --minimal 2>&1)"
fb=$(ls "$T_DIR"/h1/sr-local/*"$B"* 2>/dev/null | head -1)
out=$(qemu-io -r -U -f qcow2 -c 'read -P 0x58 0 1' -c 'read -P 0x42 32M 200M' "$fb" 2>&1 | grep -c '^read ')
check "... the data came along" 2 "$out"
check_rc "vm-start on h1 after" 0 pool_xe 1 vm-start vm=sxm1 on=h1
wait_for 240 ga 1 true && ok "... it boots on h1" || not_ok "... it boots on h1"
out=$(ga 1 'head -c 8388608 '"$(dev_of 524288)"' | md5sum' 2>&1)
check "... and reads its pattern" "$pat_md5  -" "$out"
check_rc "vm-shutdown --force" 0 pool_xe 1 vm-shutdown vm=sxm1 --force

done_testing
