#!/bin/sh
# SR lifecycle on local storage: file SRs made, plugged, forgotten,
# re-introduced and destroyed as xapi does; ISO SRs of a directory; SR_FULL
# before a byte is written (on a small tmpfs); xapi's errors for each misuse.
. "$(dirname "$0")/lib.sh"

SMALL=$T_DIR/small
cleanup_small() {
	umount "$SMALL" 2>/dev/null
	t_cleanup
}
trap cleanup_small EXIT

XAPID_EXTRA_ARGS="--vm-backend sim"
start_xapid h1 || { not_ok "xapid starts"; done_testing; exit 1; }
xe() { "$XE" "$@"; }
err_code() {
	c=$(sed -n 's/^Error code: //p' "$T_DIR/last.err")
	[ -n "$c" ] && { echo "$c"; return; }
	first=$(head -1 "$T_DIR/last.err")
	grep -F "\"$first\"" "$TOP/src/api/errors_gen.def" | sed -n 's/^XERR(\([A-Z_0-9]*\),.*/\1/p' | head -1
}
H=$(xe host-list --minimal)


# ---- errors before anything is made ----
check_rc "unknown type" 1 xe sr-create type=nosuch name-label=x device-config:location=$T_DIR/x
check "SR_UNKNOWN_DRIVER" SR_UNKNOWN_DRIVER "$(err_code)"
check_rc "file SR without location" 1 xe sr-create type=file name-label=x
check "missing location is SR_BACKEND_FAILURE_94" SR_BACKEND_FAILURE_94 "$(err_code)"
check_rc "relative location" 1 xe sr-create type=file name-label=x device-config:location=rel/dir
check "bad location is SR_BACKEND_FAILURE_91" SR_BACKEND_FAILURE_91 "$(err_code)"
check "no SR was left" 1 "$(xe sr-list --minimal | tr , '\n' | wc -l)"

# ---- create, plug state, VDIs ----
SR=$(xe sr-create type=file name-label=f1 device-config:location=$T_DIR/f1)
check "sr-create" 0 $?
check "directory made" yes "$([ -d "$T_DIR/f1" ] && echo yes)"
PBD=$(xe pbd-list sr-uuid=$SR --minimal)
check "one PBD, plugged" true "$(xe pbd-param-get uuid=$PBD param-name=currently-attached)"
check "not shared" false "$(xe sr-param-get uuid=$SR param-name=shared)"
V=$(xe vdi-create sr-uuid=$SR name-label=a virtual-size=16MiB)
check "vdi-create" 0 $?
check "virtual-allocation" 16777216 "$(xe sr-param-get uuid=$SR param-name=virtual-allocation)"
pu=$(xe sr-param-get uuid=$SR param-name=physical-utilisation)
[ "$pu" -gt 0 ] 2>/dev/null && ok "physical-utilisation known ($pu)" || not_ok "physical-utilisation" "$pu"
check_rc "pbd-unplug" 0 xe pbd-unplug uuid=$PBD
check_rc "vdi-resize on a detached SR fails" 1 xe vdi-resize uuid=$V disk-size=32MiB
check "SR_HAS_NO_PBDS" SR_HAS_NO_PBDS "$(err_code)"
check_rc "vdi-destroy on a detached SR fails" 1 xe vdi-destroy uuid=$V
check "the image is untouched" yes "$([ -f "$T_DIR/f1/$V.qcow2" ] && echo yes)"
check_rc "pbd-destroy of an unplugged PBD" 0 xe pbd-destroy uuid=$PBD
check_rc "sr-destroy without a PBD is SR_HAS_NO_PBDS" 1 xe sr-destroy uuid=$SR
check "SR_HAS_NO_PBDS" SR_HAS_NO_PBDS "$(err_code)"
PBD=$(xe pbd-create host-uuid=$H sr-uuid=$SR device-config:location=$T_DIR/f1)
check_rc "pbd-plug of a new PBD" 0 xe pbd-plug uuid=$PBD
PBD2=$(xe pbd-create host-uuid=$H sr-uuid=$SR device-config:location=$T_DIR/f1 2>/dev/null)
check "a second PBD on the host is refused" "" "$PBD2"

# ---- forget / introduce / scan keeps data ----
qemu-io -f qcow2 -c "write -P 0x33 0 1M" "$T_DIR/f1/$V.qcow2" >/dev/null
xe pbd-unplug uuid=$PBD
check_rc "sr-forget" 0 xe sr-forget uuid=$SR
check "VDI rows gone" "" "$(xe vdi-list uuid=$V --minimal)"
xe sr-introduce uuid=$SR type=file name-label=f1b >/dev/null
PBD=$(xe pbd-create host-uuid=$H sr-uuid=$SR device-config:location=$T_DIR/f1)
xe pbd-plug uuid=$PBD
check_rc "sr-scan" 0 xe sr-scan uuid=$SR
check "VDI back with its uuid" "$V" "$(xe vdi-list sr-uuid=$SR --minimal)"
qemu-io -f qcow2 -c "read -P 0x33 0 1M" "$T_DIR/f1/$V.qcow2" >/dev/null
check "its data too" 0 $?
check_rc "pbd-plug of a missing directory fails" 0 xe pbd-unplug uuid=$PBD
mv "$T_DIR/f1" "$T_DIR/f1.moved"
check_rc "... pbd-plug" 1 xe pbd-plug uuid=$PBD
check "SR_BACKEND_FAILURE_47" SR_BACKEND_FAILURE_47 "$(err_code)"
mv "$T_DIR/f1.moved" "$T_DIR/f1"
xe pbd-plug uuid=$PBD

# ---- SR_FULL on a small file system ----
mkdir -p "$SMALL"
if mount -t tmpfs -o size=8m tmpfs "$SMALL" 2>/dev/null; then
	SM=$(xe sr-create type=file name-label=small device-config:location=$SMALL/sr)
	qemu-io -f qcow2 -c "write -P 0x44 0 12M" "$T_DIR/f1/$V.qcow2" >/dev/null
	check_rc "vdi-copy into an SR too small is refused" 1 xe vdi-copy uuid=$V sr-uuid=$SM
	check "SR_FULL" SR_FULL "$(err_code)"
	check "nothing was written" "" "$(ls "$SMALL/sr")"
	check "no VDI row" "" "$(xe vdi-list sr-uuid=$SM --minimal)"
	check_rc "a thin VDI larger than the SR is fine" 0 xe vdi-create sr-uuid=$SM name-label=thin virtual-size=1GiB
	T=$(cat "$T_DIR/last.out")
	xe vdi-destroy uuid=$T
	xe pbd-unplug uuid=$(xe pbd-list sr-uuid=$SM --minimal)
	check_rc "sr-destroy of the small SR" 0 xe sr-destroy uuid=$SM
	umount "$SMALL"
else
	ok "# SKIP tmpfs mount not allowed"
fi

# ---- destroy ----
xe pbd-unplug uuid=$PBD
check_rc "sr-destroy with VDIs is SR_NOT_EMPTY" 1 xe sr-destroy uuid=$SR
check "SR_NOT_EMPTY" SR_NOT_EMPTY "$(err_code)"
xe sr-param-set uuid=$SR other-config:indestructible=true
check_rc "indestructible" 1 xe sr-destroy uuid=$SR
check "SR_INDESTRUCTIBLE" SR_INDESTRUCTIBLE "$(err_code)"
xe sr-param-remove uuid=$SR param-name=other-config param-key=indestructible
xe pbd-plug uuid=$PBD
xe vdi-destroy uuid=$V
xe pbd-unplug uuid=$PBD
check_rc "sr-destroy" 0 xe sr-destroy uuid=$SR
check "directory removed" no "$([ -d "$T_DIR/f1" ] && echo yes || echo no)"

# ---- ISO SR ----
mkdir -p "$T_DIR/isos"
head -c 65536 /dev/urandom > "$T_DIR/isos/a.iso"
head -c 4096 /dev/urandom > "$T_DIR/isos/B.IMG"
echo notes > "$T_DIR/isos/readme.txt"
ISO=$(xe sr-create type=iso name-label=isos content-type=iso device-config:location=$T_DIR/isos)
check "iso sr-create" 0 $?
check "every image is a VDI" "B.IMG,a.iso" "$(xe vdi-list sr-uuid=$ISO params=name-label --minimal | tr , '\n' | sort | paste -sd,)"
A=$(xe vdi-list sr-uuid=$ISO name-label=a.iso --minimal)
check "read-only" true "$(xe vdi-param-get uuid=$A param-name=read-only)"
check "sized as the file" 65536 "$(xe vdi-param-get uuid=$A param-name=virtual-size)"
head -c 8192 /dev/urandom > "$T_DIR/isos/new.iso"
rm "$T_DIR/isos/B.IMG"
xe sr-scan uuid=$ISO
check "sr-scan picks up new images and drops gone ones" "a.iso,new.iso" "$(xe vdi-list sr-uuid=$ISO params=name-label --minimal | tr , '\n' | sort | paste -sd,)"
check_rc "vdi-create on an ISO SR" 1 xe vdi-create sr-uuid=$ISO name-label=x virtual-size=1MiB
check "SR_OPERATION_NOT_SUPPORTED" SR_OPERATION_NOT_SUPPORTED "$(err_code)"
check_rc "iso SR without location" 1 xe sr-create type=iso name-label=x
check "SR_BACKEND_FAILURE_220" SR_BACKEND_FAILURE_220 "$(err_code)"
check_rc "iso SR on a missing directory" 1 xe sr-create type=iso name-label=x device-config:location=$T_DIR/none
check "SR_BACKEND_FAILURE_226" SR_BACKEND_FAILURE_226 "$(err_code)"
xe pbd-unplug uuid=$(xe pbd-list sr-uuid=$ISO --minimal)
check_rc "sr-forget of the ISO SR" 0 xe sr-forget uuid=$ISO
check "the images stay" "a.iso new.iso readme.txt" "$(ls "$T_DIR/isos" | sort | paste -sd' ')"

done_testing
