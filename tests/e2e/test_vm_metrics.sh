#!/bin/sh
# VM data sources (src/vm/metrics.c) through xe: vm-data-source-list /
# -query / -record / -forget on the sim backend (names, units, the record
# format of cli_operations.ml, errors), VM_metrics.memory-actual, sources
# dropped when the VM stops; then, if the test guest can be built, a real
# guest under QEMU: CPU use while it boots, memory, disk reads, VIF bytes
# from its tap.
. "$(dirname "$0")/lib.sh"

export XAPID_METRICS_PERIOD=0.5
XAPID_EXTRA_ARGS="--vm-backend sim"
start_xapid m1 || { not_ok "xapid starts"; done_testing; exit 1; }

wait_for() { # seconds cmd...
	n=$(($1 * 10)); shift
	while [ $n -gt 0 ]; do "$@" > /dev/null 2>&1 && return 0; sleep 0.1; n=$((n - 1)); done
	return 1
}

SR=$($XE sr-list params=uuid --minimal | cut -d, -f1)
NET=$($XE network-list params=uuid --minimal | cut -d, -f1)
TPL=$($XE template-list params=name-label --minimal | cut -d, -f1)
VM=$($XE vm-install template="$TPL" new-name-label=mx1 sr-uuid=$SR)
VDI=$($XE vdi-create sr-uuid=$SR name-label=mxd virtual-size=67108864)
$XE vbd-create vm-uuid=$VM vdi-uuid=$VDI device=0 > /dev/null
$XE vif-create vm-uuid=$VM network-uuid=$NET device=0 > /dev/null

check "no data sources while halted" "" "$($XE vm-data-source-list uuid=$VM)"
check_rc "query on a halted VM fails" 1 $XE vm-data-source-query uuid=$VM data-source=memory
check_rc "vm-start" 0 $XE vm-start uuid=$VM

has_ds() { $XE vm-data-source-list uuid=$VM --minimal | grep -q "vbd_xvda_avgqu_sz"; }
wait_for 20 has_ds && ok "data sources appear once running" || not_ok "data sources appear" "$($XE vm-data-source-list uuid=$VM 2>&1)"
LIST=$($XE vm-data-source-list uuid=$VM --minimal)
for ds in memory cpu0 vbd_xvda_read vbd_xvda_write vbd_xvda_read_latency \
	vbd_xvda_write_latency vbd_xvda_iops_read vbd_xvda_iops_write \
	vbd_xvda_io_throughput_read vbd_xvda_avgqu_sz vif_0_rx vif_0_tx; do
	case ",$LIST," in *",$ds,"*) ok "data source $ds" ;; *) not_ok "data source $ds" "$LIST" ;; esac
done

# the record as xapi prints it (data_source_to_kvs)
$XE vm-data-source-list uuid=$VM > "$T_DIR/list"
REC=$(awk '/name_label *: cpu0$/ {p=1} p && /^$/ {exit} p' "$T_DIR/list")
WANT="name_label          : cpu0
    name_description: CPU0 usage
             enabled: true
            standard: true
                 min: 0.
                 max: 1.
               units: (fraction)"
check "cpu0 record" "$WANT" "$REC"
check "memory units" "B" "$(grep -A6 'name_label *: memory$' "$T_DIR/list" | awk '/units/ {print $2}')"
check "max of a rate is inf" "inf" "$(grep -A5 'name_label *: vbd_xvda_read$' "$T_DIR/list" | awk '/max/ {print $2}')"

check "memory query" "268435456.000000" "$($XE vm-data-source-query uuid=$VM data-source=memory)"
Q=$($XE vm-data-source-query uuid=$VM data-source=vbd_xvda_avgqu_sz)
case "$Q" in [0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9]) ok "avgqu_sz query is a number" ;; *) not_ok "avgqu_sz query" "$Q" ;; esac
check "vm-data-source-query by name" "268435456.000000" "$($XE vm-data-source-query vm=mx1 data-source=memory)"
check_rc "unknown data source fails" 1 $XE vm-data-source-query uuid=$VM data-source=nope
grep -q "Datasource_missing" "$T_DIR/last.err" "$T_DIR/last.out" && ok "unknown source named in the error" || not_ok "unknown source error" "$(cat "$T_DIR/last.err")"
check_rc "query without data-source" 1 $XE vm-data-source-query uuid=$VM
grep -q "Required parameter not found: data-source" "$T_DIR/last.err" "$T_DIR/last.out" && ok "missing data-source reported" || not_ok "missing data-source reported" "$(cat "$T_DIR/last.out" "$T_DIR/last.err")"
check_rc "vm-data-source-record" 0 $XE vm-data-source-record uuid=$VM data-source=cpu0
check_rc "vm-data-source-forget" 0 $XE vm-data-source-forget uuid=$VM data-source=cpu0
check_rc "no matching VM" 1 $XE vm-data-source-list vm=no-such-vm
check "memory-actual in VM_metrics" 268435456 "$($XE vm-param-get uuid=$VM param-name=memory-actual)"
# xe's io_read_kbs / io_write_kbs of VBDs and VIFs: their data sources / 1024
# (records.ml), "<unknown>" once halted
VBD=$($XE vbd-list vm-uuid=$VM params=uuid --minimal)
VIF=$($XE vif-list vm-uuid=$VM params=uuid --minimal)
kbs() { # class uuid field data-source
	got=$($XE $1-param-get uuid=$2 param-name=$3) &&
		want=$($XE vm-data-source-query uuid=$VM data-source=$4) &&
		python3 -c "import sys; g, w = float(sys.argv[1]), float(sys.argv[2]) / 1024
sys.exit(0 if abs(g - w) <= max(1.0, 0.5 * w) else 1)" "$got" "$want"
}
for f in "vbd $VBD io_read_kbs vbd_xvda_read" "vbd $VBD io_write_kbs vbd_xvda_write" \
	"vif $VIF io_read_kbs vif_0_rx" "vif $VIF io_write_kbs vif_0_tx"; do
	set -- $f
	wait_for 10 kbs $f && ok "$1 $3 from $4" || not_ok "$1 $3 from $4" "$($XE $1-param-get uuid=$2 param-name=$3 2>&1)"
done

# the API directly (JSON-RPC): a data_source record set and a float
python3 - "$PORT" "$PASSWORD" "$VM" > "$T_DIR/api.out" 2>&1 <<'EOF'
import json, sys, urllib.request
port, pw, vm = sys.argv[1:]
def call(m, *p):
    r = urllib.request.urlopen(urllib.request.Request(
        "http://127.0.0.1:%s/jsonrpc" % port,
        json.dumps({"jsonrpc": "2.0", "id": 1, "method": m, "params": list(p)}).encode(),
        {"Content-Type": "application/json"}))
    return json.loads(r.read())
s = call("session.login_with_password", "root", pw, "1", "t")["result"]
ref = call("VM.get_by_uuid", s, vm)["result"]
dss = call("VM.get_data_sources", s, ref)["result"]
d = [x for x in dss if x["name_label"] == "memory"][0]
assert sorted(d) == sorted(["name_label", "name_description", "enabled", "standard",
                            "units", "min", "max", "value"]), d
assert d["value"] == 268435456, d
v = call("VM.query_data_source", s, ref, "cpu0")["result"]
assert isinstance(v, float) and 0 <= v <= 1, v
print("ok")
EOF
check "API get_data_sources / query_data_source" ok "$(tail -1 "$T_DIR/api.out")"

check_rc "vm-pause" 0 $XE vm-pause uuid=$VM
sleep 1.2
check "a paused VM keeps its sources" "268435456.000000" "$($XE vm-data-source-query uuid=$VM data-source=memory)"
check_rc "vm-unpause" 0 $XE vm-unpause uuid=$VM
check_rc "vm-shutdown --force" 0 $XE vm-shutdown uuid=$VM --force
gone() { [ -z "$($XE vm-data-source-list uuid=$VM)" ]; }
wait_for 20 gone && ok "data sources dropped when the VM stops" || not_ok "data sources dropped"
check "io_read_kbs of a halted VM's VBD" "<unknown>" "$($XE vbd-param-get uuid=$VBD param-name=io_read_kbs)"
stop_xapid

# ---- a real guest (QEMU, TCG): skipped when the test guest cannot be built ----
CACHE=${XAPID_GUEST_CACHE:-/var/cache/xapid/guest}
export XAPID_GUEST_CACHE=$CACHE
if ! command -v qemu-system-x86_64 > /dev/null 2>&1 ||
	! bash "$TOP/tools/build-guest.sh" "$CACHE" > "$T_DIR/build-guest.log" 2>&1; then
	ok "real guest # SKIP no QEMU or no test guest"
	done_testing
	exit $?
fi
BR=$(echo "xm$$" | cut -c1-10)
XAPID_EXTRA_ARGS="--vm-backend qemu --bridge-prefix $BR"
cleanup_bridge() { ip link del "${BR}0" 2>/dev/null; true; }
trap 'stop_xapid; cleanup_bridge; t_cleanup' EXIT
start_xapid q1 || { not_ok "xapid (qemu) starts"; done_testing; exit 1; }
G=$($XE vm-install template="xapid test guest" new-name-label=mxg)
NETW=$($XE network-list bridge=${BR}0 params=uuid --minimal)
$XE vif-create vm-uuid=$G network-uuid=$NETW device=0 > /dev/null
GSR=$($XE sr-list params=uuid --minimal | cut -d, -f1)
GVDI=$($XE vdi-create sr-uuid=$GSR name-label=mxg-d virtual-size=67108864)
$XE vbd-create vm-uuid=$G vdi-uuid=$GVDI device=0 > /dev/null
# the kernel reads the partition table of xvda while it boots: one
# snapshot of all sources at a time (get_data_sources), polled from before
# the start on
python3 - "$PORT" "$PASSWORD" "$G" > "$T_DIR/io.log" 2>&1 <<'EOF2' &
import json, sys, time, urllib.request
port, pw, vm = sys.argv[1:]
def call(m, *p):
    r = urllib.request.urlopen(urllib.request.Request(
        "http://127.0.0.1:%s/jsonrpc" % port,
        json.dumps({"jsonrpc": "2.0", "id": 1, "method": m, "params": list(p)}).encode(),
        {"Content-Type": "application/json"}))
    return json.loads(r.read())["result"]
s = call("session.login_with_password", "root", pw, "1", "t")
ref = call("VM.get_by_uuid", s, vm)
end = time.time() + 240  # generous: a loaded machine boots slowly
while time.time() < end:
    d = {x["name_label"]: x["value"] for x in call("VM.get_data_sources", s, ref)}
    n, b, l = d.get("vbd_xvda_iops_read", 0), d.get("vbd_xvda_read", 0), d.get("vbd_xvda_read_latency", 0)
    if n > 0 and b >= 512 * n and l > 0:
        print("iops %.1f B/s %.0f latency %.0f us avgqu %.3f" % (n, b, l, d.get("vbd_xvda_avgqu_sz", 0)))
        print("ok")
        break
    time.sleep(0.05)
EOF2
IOPID=$!
check_rc "real guest starts" 0 $XE vm-start uuid=$G
busy() {
	v=$($XE vm-data-source-query uuid=$G data-source=cpu0) || return 1
	awk -v v="$v" 'BEGIN { exit !(v > 0.01 && v <= 1) }'
}
wait_for 60 busy && ok "cpu0 shows the booting guest" || not_ok "cpu0 of the real guest" "$($XE vm-data-source-query uuid=$G data-source=cpu0 2>&1)"
check "memory of the real guest" "268435456.000000" "$($XE vm-data-source-query uuid=$G data-source=memory)"
sends() {
	v=$($XE vm-data-source-query uuid=$G data-source=vif_0_tx) || return 1
	awk -v v="$v" 'BEGIN { exit !(v > 0) }'
}
wait_for 60 sends && ok "vif_0_tx counts what the guest sends (DHCP)" || not_ok "vif_0_tx of the real guest" "$($XE vm-data-source-list uuid=$G --minimal 2>&1)"
wait $IOPID
check "vbd_xvda read rate, IOPS and latency from query-blockstats" ok "$(tail -1 "$T_DIR/io.log")"
check_rc "real guest hard shutdown" 0 $XE vm-shutdown uuid=$G --force
done_testing
