#!/bin/sh
# The less common upload formats of vdi-import / /import_raw_vdi: a fixed
# VHD (raw data + footer, as qemu-img and Hyper-V make them), xapi's
# "chunked" raw upload (query or cookie chunked=: offset/length headers
# before each piece of data, as vhd-tool sends it), and a raw upload in
# HTTP chunked transfer encoding (no Content-Length). Bad uploads leave the
# VDI as it was.
. "$(dirname "$0")/lib.sh"
XAPID_EXTRA_ARGS="--vm-backend sim"
start_xapid fmt || { not_ok "xapid starts"; done_testing; exit 1; }
SR=$($XE sr-list params=uuid --minimal)
SRDIR=$STATE/sr-local
file_of() { echo "$SRDIR/$($XE vdi-param-get uuid=$1 param-name=location).qcow2"; }
same() { qemu-img compare -q -f qcow2 -F raw "$1" "$2" 2> /dev/null; }
put() { # put QUERY FILE [curl args]: PUT FILE to /import_raw_vdi?QUERY, prints the HTTP code
	q=$1 f=$2
	shift 2
	curl -s -o "$T_DIR/put.out" -w '%{http_code}' --unix-socket "$XAPI_SOCKET" "$@" \
		-T "$f" "http://localhost/import_raw_vdi?$q"
}
SIZE=5243392 # 5 MiB + 3 sectors: the last VHD block is partial
python3 - "$T_DIR/disk.raw" $SIZE <<'EOF'
import sys
n = int(sys.argv[2])
b = bytearray(n)
for a, l, v in ((70000, 130000, 0x11), (3 << 20, 4096, 0x22), (n - 1000, 1000, 0x33)):
    b[a:a + l] = bytes([v]) * l
open(sys.argv[1], "wb").write(b)
EOF

# ---- fixed VHD ----
qemu-img convert -q -f raw -O vpc -o subformat=fixed,force_size=on "$T_DIR/disk.raw" "$T_DIR/fixed.vhd"
check "qemu-img made a fixed VHD: the data and a footer" $((SIZE + 512)) "$(stat -c %s "$T_DIR/fixed.vhd")"
V=$($XE vdi-create sr-uuid=$SR name-label=fixed virtual-size=$SIZE)
check_rc "vdi-import format=vhd of a fixed VHD" 0 $XE vdi-import uuid=$V filename="$T_DIR/fixed.vhd" format=vhd
same "$(file_of $V)" "$T_DIR/disk.raw" && ok "the VDI holds the fixed VHD's disk" || not_ok "fixed VHD content"
# a damaged footer: refused, the VDI as it was
cp "$T_DIR/fixed.vhd" "$T_DIR/bad.vhd"
printf 'X' | dd of="$T_DIR/bad.vhd" bs=1 seek=$((SIZE + 100)) conv=notrunc 2> /dev/null
W=$($XE vdi-create sr-uuid=$SR name-label=victim virtual-size=$SIZE)
check_rc "a fixed VHD with a bad footer is refused" 1 $XE vdi-import uuid=$W filename="$T_DIR/bad.vhd" format=vhd
grep -q "checksum" "$T_DIR/last.err" && ok "the error says why" || not_ok "bad footer error" "$(cat "$T_DIR/last.err")"
head -c $SIZE /dev/zero > "$T_DIR/zero.raw"
same "$(file_of $W)" "$T_DIR/zero.raw" && ok "the VDI is untouched" || not_ok "VDI untouched"
SMALL=$($XE vdi-create sr-uuid=$SR name-label=small virtual-size=2097152)
check_rc "a fixed VHD larger than the VDI" 1 $XE vdi-import uuid=$SMALL filename="$T_DIR/fixed.vhd" format=vhd
grep -q "minimum size" "$T_DIR/last.err" && ok "VDI_TOO_SMALL" || not_ok "VDI_TOO_SMALL" "$(cat "$T_DIR/last.err")"

# ---- xapi's chunked raw upload ----
# chunks: 4 KiB of 0x44 at 1 MiB, 100 bytes of 0x55 at 4 MiB + 7 (in two
# chunks), then the end
python3 - "$T_DIR" <<'EOF'
import struct, sys
d = sys.argv[1]
def ch(off, data): return struct.pack("<QI", off, len(data)) + data
end = struct.pack("<QI", 0, 0)
body = ch(1 << 20, b"\x44" * 4096) + ch((4 << 20) + 7, b"\x55" * 60) + ch((4 << 20) + 67, b"\x55" * 40)
open(d + "/up.chunked", "wb").write(body + end)
open(d + "/cut.chunked", "wb").write(body[:-20])
open(d + "/far.chunked", "wb").write(ch(64 << 20, b"\x66" * 512) + end)
exp = bytearray(5243392)
exp[1 << 20:(1 << 20) + 4096] = b"\x44" * 4096
exp[(4 << 20) + 7:(4 << 20) + 107] = b"\x55" * 100
open(d + "/expect.raw", "wb").write(exp)
EOF
C=$($XE vdi-create sr-uuid=$SR name-label=chunked virtual-size=$SIZE)
check "chunked=true upload" 200 "$(put "vdi=$C&format=raw&chunked=true" "$T_DIR/up.chunked")"
same "$(file_of $C)" "$T_DIR/expect.raw" && ok "the chunks are where their headers say" || not_ok "chunked content"
C2=$($XE vdi-create sr-uuid=$SR name-label=chunked2 virtual-size=$SIZE)
check "chunked as a cookie" 200 "$(put "vdi=$C2" "$T_DIR/up.chunked" -b chunked=true)"
same "$(file_of $C2)" "$T_DIR/expect.raw" && ok "same content" || not_ok "cookie chunked content"
check "a chunked VHD is refused (xapi)" 400 "$(put "vdi=$W&format=vhd&chunked=true" "$T_DIR/up.chunked")"
grep -q "Cannot handle chunked VHD" "$T_DIR/put.out" && ok "with xapi's message" || not_ok "chunked VHD message" "$(cat "$T_DIR/put.out")"
check "a cut chunked upload is refused" 400 "$(put "vdi=$W&chunked=true" "$T_DIR/cut.chunked")"
check "a chunk past the VDI's end is refused" 400 "$(put "vdi=$W&chunked=true" "$T_DIR/far.chunked")"
grep -q "VDI_TOO_SMALL" "$T_DIR/put.out" && ok "VDI_TOO_SMALL" || not_ok "chunk too far" "$(cat "$T_DIR/put.out")"
same "$(file_of $W)" "$T_DIR/zero.raw" && ok "the VDI is still untouched" || not_ok "VDI untouched after bad chunked uploads"
check "no partial image left" "" "$(ls -a "$SRDIR" | grep '\.tmp$')"

# ---- HTTP chunked transfer encoding (curl from a pipe: no length) ----
T=$($XE vdi-create sr-uuid=$SR name-label=te virtual-size=$SIZE)
check "raw upload in Transfer-Encoding: chunked" 200 "$(cat "$T_DIR/disk.raw" | put "vdi=$T&format=raw" - -H 'Transfer-Encoding: chunked')"
same "$(file_of $T)" "$T_DIR/disk.raw" && ok "the VDI holds the upload" || not_ok "TE chunked content"
done_testing
