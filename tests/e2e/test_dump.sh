#!/bin/sh
# pool-dump-database / pool-restore-database: a dump restored into a fresh
# xapid gives identical `xe ... -list` output; dry-run changes nothing; bad
# dumps are refused and change nothing.
. "$(dirname "$0")/lib.sh"

start_xapid src || { not_ok "xapid starts"; done_testing; exit 1; }
SR=$($XE sr-list params=uuid --minimal)
$XE network-create name-label="net with spaces" name-description="a 'quoted' <desc> & more" > /dev/null
VDI=$($XE vdi-create sr-uuid=$SR name-label=disk1 virtual-size=1048576)
$XE pool-param-set uuid=$($XE pool-list --minimal params=uuid) name-label="dump pool" other-config:key="va'l\\ue"
$XE message-create name=TEST_MESSAGE body="hello" priority=3 pool-uuid=$($XE pool-list --minimal params=uuid) > /dev/null 2>&1

lists() {
	for c in pool host vm template network sr vdi pbd vif vbd; do
		echo "== $c"
		$XE $c-list params=all 2>&1
	done
}
lists > "$T_DIR/before.txt"
check_rc "pool-dump-database" 0 $XE pool-dump-database file-name="$T_DIR/dump.xml"
head -c 60 "$T_DIR/dump.xml" | grep -q '<?xml version="1.0" encoding="UTF-8"?>' && ok "dump is xapi XML" || not_ok "dump is xapi XML"
grep -q '<table name="VM">' "$T_DIR/dump.xml" && grep -q 'name__label="dump%.pool"' "$T_DIR/dump.xml" \
	&& ok "columns and whitespace protection as xapi" || not_ok "columns and whitespace protection as xapi"
check_rc "dump refuses to overwrite a file" 1 $XE pool-dump-database file-name="$T_DIR/dump.xml"
stop_xapid

# a fresh xapid with the same host identity restores it
start_xapid dst || { not_ok "second xapid starts"; done_testing; exit 1; }
cp "$T_DIR/src/host-uuid" "$T_DIR/dst/host-uuid" 2>/dev/null
before_gen=$($XE pool-list params=name-label --minimal)
check_rc "restore dry-run" 0 $XE pool-restore-database file-name="$T_DIR/dump.xml" dry-run=true
check "dry-run changes nothing" "$before_gen" "$($XE pool-list params=name-label --minimal)"
head -c 3000 "$T_DIR/dump.xml" > "$T_DIR/trunc.xml"
check_rc "truncated dump refused" 1 $XE pool-restore-database file-name="$T_DIR/trunc.xml" --force
check "truncated dump changes nothing" "$before_gen" "$($XE pool-list params=name-label --minimal)"
sed 's/schema_minor_vsn" value="[0-9]*"/schema_minor_vsn" value="1"/' "$T_DIR/dump.xml" > "$T_DIR/oldver.xml"
check_rc "other schema version refused" 1 $XE pool-restore-database file-name="$T_DIR/oldver.xml" --force
grep -q "incompatible" "$T_DIR/last.err" "$T_DIR/last.out" && ok "RESTORE_INCOMPATIBLE_VERSION" || not_ok "RESTORE_INCOMPATIBLE_VERSION" "$(cat "$T_DIR/last.err")"
check_rc "restore" 0 $XE pool-restore-database file-name="$T_DIR/dump.xml" --force
lists > "$T_DIR/after.txt"
if diff "$T_DIR/before.txt" "$T_DIR/after.txt" > "$T_DIR/diff.txt"; then
	ok "xe -list output identical after restore"
else
	not_ok "xe -list output identical after restore" "$(head -40 "$T_DIR/diff.txt")"
fi
# and it is durable
stop_xapid
XAPID_PID=
"$XAPID" --state-dir "$T_DIR/dst" --listen 127.0.0.1:$PORT --no-tls --password-file "$T_DIR/dst.pw" --host-name src > "$T_DIR/dst2.out" 2>&1 &
XAPID_PID=$!
i=0; while [ $i -lt 200 ] && ! grep -q "xapid ready" "$T_DIR/dst2.out"; do sleep 0.1; i=$((i+1)); done
lists > "$T_DIR/after2.txt"
if diff "$T_DIR/before.txt" "$T_DIR/after2.txt" > "$T_DIR/diff2.txt"; then
	ok "restored database survives a restart"
else
	not_ok "restored database survives a restart" "$(head -40 "$T_DIR/diff2.txt")"
fi
done_testing
