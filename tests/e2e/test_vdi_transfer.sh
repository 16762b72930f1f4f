#!/bin/sh
# vdi-export / vdi-import through xe and /export_raw_vdi, /import_raw_vdi:
# raw and VHD (dynamic, differencing with base=), checked against qemu-img;
# bad uploads, a full disk and a kill -9 leave the VDI as it was.
. "$(dirname "$0")/lib.sh"
XAPID_EXTRA_ARGS="--vm-backend sim"
start_xapid vx || { not_ok "xapid starts"; done_testing; exit 1; }
SR=$($XE sr-list params=uuid --minimal)
SRDIR=$STATE/sr-local
file_of() { echo "$SRDIR/$($XE vdi-param-get uuid=$1 param-name=location).qcow2"; }
qio() { f=$1; shift; qemu-io -f qcow2 "$@" "$f" > /dev/null; }
same() { qemu-img compare -q "$1" "$2" 2> /dev/null; }
no_tmp() { ! ls -a "$SRDIR" | grep -q '\.tmp$'; }

# 20 MiB + 64 KiB (not a whole number of VHD blocks), data here and there
SIZE=21037056
V=$($XE vdi-create sr-uuid=$SR name-label=src virtual-size=$SIZE)
qio "$(file_of $V)" -c 'write -P 0x11 0 1M' -c 'write -P 0x22 3000k 64k' \
	-c 'write -P 0x33 19M 1M' -c 'write -z 5M 1M' -c 'write -P 0x44 20M 64k'

check_rc "vdi-export format=raw" 0 $XE vdi-export uuid=$V filename="$T_DIR/v.raw" format=raw
check "the raw export has the disk's size" $SIZE "$(stat -c %s "$T_DIR/v.raw")"
same "$T_DIR/v.raw" "$(file_of $V)" && ok "the raw export is the disk's bytes" || not_ok "the raw export is the disk's bytes"
check_rc "vdi-export with no format is raw" 0 $XE vdi-export uuid=$V filename="$T_DIR/v2.raw"
cmp -s "$T_DIR/v.raw" "$T_DIR/v2.raw" && ok "same bytes" || not_ok "same bytes"
# filename= streams to stdout: into a pipe and a device (spliced), and into
# a file (written as it comes)
$XE vdi-export uuid=$V filename= format=raw | cmp -s - "$T_DIR/v.raw" && ok "raw export into a pipe" || not_ok "raw export into a pipe"
check_rc "raw export into /dev/null" 0 sh -c "$XE vdi-export uuid=$V filename= format=raw > /dev/null"
$XE vdi-export uuid=$V filename= format=raw > "$T_DIR/v3.raw"
cmp -s "$T_DIR/v.raw" "$T_DIR/v3.raw" && ok "raw export into stdout as a file" || not_ok "raw export into stdout as a file"
# a plain HTTP client over TCP reads the same bytes (the head comes from
# xapid, not MHD)
SID=$(python3 -c "
import xmlrpc.client
s=xmlrpc.client.ServerProxy('http://127.0.0.1:$PORT')
print(s.session.login_with_password('root','$PASSWORD')['Value'])")
curl -sS -D "$T_DIR/h.txt" -o "$T_DIR/v4.raw" "http://127.0.0.1:$PORT/export_raw_vdi?session_id=$SID&vdi=$V&format=raw"
cmp -s "$T_DIR/v.raw" "$T_DIR/v4.raw" && ok "curl of /export_raw_vdi" || not_ok "curl of /export_raw_vdi"
grep -qi "^content-length: $SIZE" "$T_DIR/h.txt" && ok "its Content-Length" || not_ok "its Content-Length" "$(cat "$T_DIR/h.txt")"

check_rc "vdi-export format=vhd" 0 $XE vdi-export uuid=$V filename="$T_DIR/v.vhd" format=vhd
qemu-img info --output=json "$T_DIR/v.vhd" | grep -q '"format": "vpc"' && ok "qemu-img reads it as a VHD" || not_ok "qemu-img reads it as a VHD"
qemu-img compare -q -f vpc "$T_DIR/v.vhd" "$(file_of $V)" && ok "qemu-img compare: the VHD holds the disk" || not_ok "qemu-img compare: the VHD holds the disk"
# blocks of zeros are not in it: 4 blocks of 2 MiB have data
[ "$(stat -c %s "$T_DIR/v.vhd")" -lt 10000000 ] && ok "the VHD is sparse" || not_ok "the VHD is sparse" "$(stat -c %s "$T_DIR/v.vhd")"

# imports write a fresh qcow2 that qemu-img finds consistent
I=$($XE vdi-create sr-uuid=$SR name-label=in virtual-size=$SIZE)
check_rc "vdi-import format=raw" 0 $XE vdi-import uuid=$I filename="$T_DIR/v.raw" format=raw
same "$(file_of $I)" "$(file_of $V)" && ok "the raw import holds the disk" || not_ok "the raw import holds the disk"
qemu-img check -q "$(file_of $I)" && ok "qemu-img check of the imported image" || not_ok "qemu-img check of the imported image"
[ "$(stat -c %s "$(file_of $I)")" -lt 8000000 ] && ok "zero blocks were not written" || not_ok "zero blocks were not written" "$(stat -c %s "$(file_of $I)")"
PU=$($XE vdi-param-get uuid=$I param-name=physical-utilisation)
[ "$PU" -gt 2000000 ] && [ "$PU" -lt 8000000 ] && ok "physical-utilisation follows the import" || not_ok "physical-utilisation follows the import" "$PU"
I2=$($XE vdi-create sr-uuid=$SR name-label=in2 virtual-size=$SIZE)
check_rc "vdi-import format=vhd of our VHD" 0 $XE vdi-import uuid=$I2 filename="$T_DIR/v.vhd" format=vhd
same "$(file_of $I2)" "$(file_of $V)" && ok "the VHD import holds the disk" || not_ok "the VHD import holds the disk"
qemu-img convert -O vpc -o subformat=dynamic "$(file_of $V)" "$T_DIR/q.vhd"
I3=$($XE vdi-create sr-uuid=$SR name-label=in3 virtual-size=$SIZE)
check_rc "vdi-import of a VHD made by qemu-img" 0 $XE vdi-import uuid=$I3 filename="$T_DIR/q.vhd" format=vhd
qemu-img compare -q -f qcow2 -F vpc "$(file_of $I3)" "$T_DIR/q.vhd" && ok "it holds what qemu-img reads in it" || not_ok "it holds what qemu-img reads in it"

# compressed clusters cannot be read in place: the export reads them
# through qemu-nbd, with the same result
C=$($XE vdi-create sr-uuid=$SR name-label=comp virtual-size=$SIZE)
qio "$(file_of $C)" -c 'write -c -P 0x99 2M 64k' -c 'write -P 0x98 4M 64k'
check_rc "vdi-export of an image with compressed clusters" 0 $XE vdi-export uuid=$C filename="$T_DIR/c.vhd" format=vhd
qemu-img compare -q -f vpc "$T_DIR/c.vhd" "$(file_of $C)" && ok "it holds the disk" || not_ok "it holds the disk"
grep -q 'read through qemu-nbd' "$T_DIR/vx.out" && ok "through the fallback" || not_ok "through the fallback"
no_tmp && ok "no copy left behind" || not_ok "no copy left behind" "$(ls -a "$SRDIR")"

# differences: snapshot, change, snapshot; base= gives what changed between
S1=$($XE vdi-snapshot uuid=$V)
qio "$(file_of $V)" -c 'write -P 0x55 512k 1M' -c 'write -z 19M 64k' -c 'write -P 0x66 8M 4k'
S2=$($XE vdi-snapshot uuid=$V)
check_rc "vdi-export format=vhd base=" 0 $XE vdi-export uuid=$S2 base=$S1 filename="$T_DIR/d.vhd" format=vhd
od -A d -t x1 -j 60 -N 4 "$T_DIR/d.vhd" | head -1 | grep -q '00 00 00 04' && ok "a differencing VHD" || not_ok "a differencing VHD"
[ "$(stat -c %s "$T_DIR/d.vhd")" -lt 8000000 ] && ok "only the changed blocks" || not_ok "only the changed blocks" "$(stat -c %s "$T_DIR/d.vhd")"
strings -e b "$T_DIR/d.vhd" | grep -q "$S1.vhd" && ok "the parent is named as XenServer names it" || not_ok "the parent is named"
check_rc "vdi-export the base as VHD" 0 $XE vdi-export uuid=$S1 filename="$T_DIR/s1.vhd" format=vhd
R=$($XE vdi-create sr-uuid=$SR name-label=restore virtual-size=$SIZE)
check_rc "import the full VHD" 0 $XE vdi-import uuid=$R filename="$T_DIR/s1.vhd" format=vhd
check_rc "import the differencing VHD onto it" 0 $XE vdi-import uuid=$R filename="$T_DIR/d.vhd" format=vhd
same "$(file_of $R)" "$(file_of $S2)" && ok "full + difference = the second snapshot" || not_ok "full + difference = the second snapshot"
check_rc "vdi-export format=raw base=" 0 $XE vdi-export uuid=$S2 base=$S1 filename="$T_DIR/d.raw" format=raw
qemu-img convert -O raw "$(file_of $S2)" "$T_DIR/s2.raw"
cmp -s -i 524288:524288 -n 1048576 "$T_DIR/d.raw" "$T_DIR/s2.raw" && ok "the raw difference has the changed bytes" || not_ok "the raw difference has the changed bytes"
cmp -s -n 65536 "$T_DIR/d.raw" /dev/zero && ok "and zeros where nothing changed" || not_ok "and zeros where nothing changed"
check_rc "base= unknown" 1 $XE vdi-export uuid=$S2 base=00000000-0000-0000-0000-000000000000 filename="$T_DIR/x.vhd" format=vhd
grep -q 'invalid object reference' "$T_DIR/last.err" "$T_DIR/last.out" && ok "HANDLE_INVALID" || not_ok "HANDLE_INVALID" "$(cat "$T_DIR/last.err")"
check_rc "an unknown format" 1 $XE vdi-export uuid=$V filename="$T_DIR/x.img" format=vmdk
grep -q 'Unknown format vmdk' "$T_DIR/last.err" "$T_DIR/last.out" && ok "says so as xapi does" || not_ok "says so as xapi does" "$(cat "$T_DIR/last.err")"

# no vdi=: a raw upload of known length becomes a new VDI of the SR (xapi's
# sr_id= / sr_uuid=); a VHD cannot
curl -s -f --unix-socket "$XAPI_SOCKET" -T "$T_DIR/v.raw" "http://localhost/import_raw_vdi?sr_uuid=$SR&format=raw" > /dev/null
NEWV=$($XE vdi-list name-label="Imported VDI" params=uuid --minimal)
check "PUT /import_raw_vdi?sr_uuid= makes one VDI" 36 "${#NEWV}"
check "of the upload's size" $SIZE "$($XE vdi-param-get uuid=$NEWV param-name=virtual-size)"
same "$(file_of $NEWV)" "$T_DIR/v.raw" && ok "holding the upload" || not_ok "holding the upload"
curl -s --unix-socket "$XAPI_SOCKET" -T "$T_DIR/v.vhd" "http://localhost/import_raw_vdi?sr_uuid=$SR&format=vhd" > /dev/null
check "a VHD upload without vdi= is refused, no VDI made" "$NEWV" "$($XE vdi-list name-label="Imported VDI" params=uuid --minimal)"

(head -c 1048576 "$T_DIR/v.raw"; sleep 60) | curl -s --unix-socket "$XAPI_SOCKET" -H "Content-Length: $SIZE" \
	-T - "http://localhost/import_raw_vdi?sr_uuid=$SR&format=raw" > /dev/null 2>&1 &
CURL=$!
i=0
while [ "$($XE vdi-list name-label="Imported VDI" --minimal | tr ',' '\n' | wc -l)" -lt 2 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
kill $CURL 2> /dev/null
wait $CURL 2> /dev/null
i=0
while [ "$($XE vdi-list name-label="Imported VDI" params=uuid --minimal)" != "$NEWV" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
check "a broken-off upload into a new VDI leaves no VDI" "$NEWV" "$($XE vdi-list name-label="Imported VDI" params=uuid --minimal)"

# bad uploads leave the VDI as it was
qemu-img convert -O raw "$(file_of $I2)" "$T_DIR/before.raw"
head -c 3000000 "$T_DIR/v.vhd" > "$T_DIR/trunc.vhd"
check_rc "a truncated VHD is refused" 1 $XE vdi-import uuid=$I2 filename="$T_DIR/trunc.vhd" format=vhd
cp "$T_DIR/v.vhd" "$T_DIR/bad.vhd"
printf '\377' | dd of="$T_DIR/bad.vhd" bs=1 seek=600 conv=notrunc 2> /dev/null
check_rc "a VHD with a bad header checksum is refused" 1 $XE vdi-import uuid=$I2 filename="$T_DIR/bad.vhd" format=vhd
grep -q 'checksum' "$T_DIR/last.err" "$T_DIR/last.out" && ok "the error says why" || not_ok "the error says why" "$(cat "$T_DIR/last.err")"
head -c 1000000 /dev/urandom > "$T_DIR/junk.vhd"
check_rc "a file that is no VHD is refused" 1 $XE vdi-import uuid=$I2 filename="$T_DIR/junk.vhd" format=vhd
SMALL=$($XE vdi-create sr-uuid=$SR name-label=small virtual-size=4194304)
check_rc "a VHD larger than the VDI is refused" 1 $XE vdi-import uuid=$SMALL filename="$T_DIR/v.vhd" format=vhd
grep -q "minimum size: $SIZE" "$T_DIR/last.err" "$T_DIR/last.out" && ok "VDI_TOO_SMALL with the size needed" || not_ok "VDI_TOO_SMALL with the size needed" "$(cat "$T_DIR/last.err")"
check_rc "a raw image larger than the VDI is refused" 1 $XE vdi-import uuid=$SMALL filename="$T_DIR/v.raw" format=raw
grep -q "minimum size: $SIZE" "$T_DIR/last.err" "$T_DIR/last.out" && ok "VDI_TOO_SMALL with the upload's size" || not_ok "VDI_TOO_SMALL with the upload's size" "$(cat "$T_DIR/last.err")"
same "$(file_of $I2)" "$T_DIR/before.raw" && ok "the VDI is as it was" || not_ok "the VDI is as it was"
no_tmp && ok "no partial image left in the SR" || not_ok "no partial image left in the SR" "$(ls -a "$SRDIR")"

# kill -9 in the middle of an upload: the VDI is untouched, the partial
# image goes at the next scan
mkfifo "$T_DIR/fifo"
(head -c 4194304 "$T_DIR/v.raw"; sleep 60) > "$T_DIR/fifo" &
FEEDER=$!
curl -s --unix-socket "$XAPI_SOCKET" -T - "http://localhost/import_raw_vdi?vdi=$I2&format=raw" \
	< "$T_DIR/fifo" > /dev/null 2>&1 &
CURL=$!
i=0
while no_tmp && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
no_tmp && not_ok "the upload is under way" || ok "the upload is under way"
stop_xapid KILL
kill $FEEDER $CURL 2> /dev/null
wait $CURL 2> /dev/null
start_xapid vx || not_ok "xapid restarts"
check_rc "sr-scan" 0 $XE sr-scan uuid=$SR
no_tmp && ok "the partial image is gone" || not_ok "the partial image is gone" "$(ls -a "$SRDIR")"
same "$(file_of $I2)" "$T_DIR/before.raw" && ok "the VDI is as it was before the upload" || not_ok "the VDI is as it was before the upload"

# a VDI a running VM writes to is refused
VM=$($XE vm-install template="Other install media" new-name-label=vm)
$XE vbd-create vm-uuid=$VM vdi-uuid=$I device=0 bootable=true > /dev/null
$XE vm-start uuid=$VM
check_rc "export of a VDI a running VM writes to" 1 $XE vdi-export uuid=$I filename="$T_DIR/busy.raw"
grep -q 'VDI is in use' "$T_DIR/last.err" "$T_DIR/last.out" && ok "VDI_IN_USE" || not_ok "VDI_IN_USE" "$(cat "$T_DIR/last.err")"
check_rc "import into it" 1 $XE vdi-import uuid=$I filename="$T_DIR/v.raw"
[ ! -e "$T_DIR/busy.raw" ] || [ ! -s "$T_DIR/busy.raw" ] && ok "nothing exported" || not_ok "nothing exported"
$XE vm-shutdown uuid=$VM --force > /dev/null 2>&1

# the disk fills up in the middle of an import: SR_FULL, the VDI as it
# was, the space back (an SR on a 12 MiB tmpfs, a 20 MiB upload of noise)
stop_xapid
FULL=$T_DIR/vf/sr-local
mkdir -p "$FULL"
if mount -t tmpfs -o size=12m tmpfs "$FULL" 2> /dev/null; then
	trap 'umount "$FULL" 2> /dev/null; t_cleanup' EXIT
	start_xapid vf || not_ok "xapid starts on the small SR"
	SRDIR=$STATE/sr-local
	F=$($XE vdi-create sr-uuid="$($XE sr-list params=uuid --minimal)" name-label=f virtual-size=$SIZE)
	qio "$(file_of $F)" -c 'write -P 0x77 0 1M'
	head -c $SIZE /dev/urandom > "$T_DIR/noise.raw"
	check_rc "an import that fills the disk fails" 1 $XE vdi-import uuid=$F filename="$T_DIR/noise.raw"
	grep -q 'SR is full' "$T_DIR/last.err" "$T_DIR/last.out" && ok "SR_FULL" || not_ok "SR_FULL" "$(cat "$T_DIR/last.err")"
	qemu-io -f qcow2 -r -c 'read -P 0x77 0 1M' "$(file_of $F)" > "$T_DIR/qio" 2>&1
	grep -q 'read 1048576' "$T_DIR/qio" && ! grep -q 'verification failed' "$T_DIR/qio" && ok "the VDI keeps its data" || not_ok "the VDI keeps its data"
	no_tmp && ok "the partial image is removed" || not_ok "the partial image is removed" "$(ls -a "$SRDIR")"
	[ "$(du -sk "$FULL" | cut -f1)" -lt 4096 ] && ok "the space is back" || not_ok "the space is back" "$(du -sk "$FULL")"
	stop_xapid
	umount "$FULL"
else
	ok "# SKIP no tmpfs mount here"
fi

done_testing
