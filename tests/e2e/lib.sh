# Helpers for end-to-end tests: start/stop a private xapid, TAP output.
# Source it; it cleans up its xapid (by PID) and temp dir on exit.
#   XAPID, XE: the programs under test (default: the ASan builds)
#   XAPID_EXTRA_ARGS: more xapid options (word-split), e.g. --vm-backend sim

TOP=$(cd "$(dirname "$0")/../.." && pwd)
XAPID=${XAPID:-$TOP/build/asan/xapid}
XE=${XE:-$TOP/build/asan/xe}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

t_n=0
t_failed=0
T_DIR=$(mktemp -d /tmp/xapid-e2e.XXXXXX)
XAPID_PID=

# A free TCP port on loopback.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# start_xapid NAME: starts xapid with state in $T_DIR/NAME; sets PORT,
# XAPI_SOCKET, PASSWORD, XAPID_PID.
start_xapid() {
	name=${1:-h1}
	PORT=$(free_port)
	PASSWORD=pw-$$-$RANDOM
	STATE=$T_DIR/$name
	mkdir -p "$STATE"
	echo "$PASSWORD" > "$T_DIR/$name.pw"
	# a restart must not be taken for ready on the previous run's traces:
	# the log is emptied and a socket left by a kill -9 removed first
	: > "$T_DIR/$name.out"
	rm -f "$STATE/xapi.sock"
	"$XAPID" --state-dir "$STATE" --listen 127.0.0.1:$PORT --no-tls \
		--password-file "$T_DIR/$name.pw" --host-name "$name" \
		${XAPID_EXTRA_ARGS:-} >> "$T_DIR/$name.out" 2>&1 &
	XAPID_PID=$!
	export XAPI_SOCKET=$STATE/xapi.sock
	i=0
	while [ $i -lt 300 ]; do
		if [ -S "$XAPI_SOCKET" ] && grep -q "xapid ready" "$T_DIR/$name.out" 2>/dev/null; then
			return 0
		fi
		if ! kill -0 $XAPID_PID 2>/dev/null; then
			echo "# xapid died:"; sed 's/^/# /' "$T_DIR/$name.out"
			return 1
		fi
		sleep 0.1
		i=$((i + 1))
	done
	echo "# xapid did not become ready"
	return 1
}

# stop_xapid [SIGNAL]: stops the xapid started last and waits for it.
stop_xapid() {
	[ -n "$XAPID_PID" ] || return 0
	kill -${1:-TERM} $XAPID_PID 2>/dev/null
	i=0
	while kill -0 $XAPID_PID 2>/dev/null && [ $i -lt 200 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -KILL $XAPID_PID 2>/dev/null
	wait $XAPID_PID 2>/dev/null
	XAPID_PID=
}

t_cleanup() {
	stop_xapid
	if [ $t_failed -ne 0 ]; then
		for f in "$T_DIR"/*.out; do [ -f "$f" ] && sed 's/^/# /' "$f" | tail -40; done
		# XAPID_TEST_KEEP=dir: keep the failed test's state and logs there
		[ -n "${XAPID_TEST_KEEP:-}" ] && mkdir -p "$XAPID_TEST_KEEP" &&
			cp -r "$T_DIR" "$XAPID_TEST_KEEP/" 2>/dev/null
	fi
	rm -rf "$T_DIR"
}
trap t_cleanup EXIT
# killed (a runner's timeout, ^C): still run the EXIT trap, whatever the test
# set it to, so that its processes, namespaces and mounts are cleaned up
trap 'exit 143' TERM
trap 'exit 130' INT

ok() {
	t_n=$((t_n + 1))
	echo "ok $t_n - $1"
}

not_ok() {
	t_n=$((t_n + 1))
	t_failed=$((t_failed + 1))
	echo "not ok $t_n - $1"
	[ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/# /'
}

# check NAME EXPECTED ACTUAL
check() {
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "expected: [$2]
actual:   [$3]"; fi
}

# check_rc NAME EXPECTED_RC CMD...
check_rc() {
	name=$1; want=$2; shift 2
	"$@" > "$T_DIR/last.out" 2> "$T_DIR/last.err"
	rc=$?
	if [ $rc -eq $want ]; then ok "$name"; else not_ok "$name" "exit $rc, wanted $want
$(cat "$T_DIR/last.out" "$T_DIR/last.err")"; fi
}

done_testing() {
	echo "1..$t_n"
	[ $t_failed -eq 0 ]
}

# Real-guest tests (QEMU under TCG).
#   guest_setup TAG   builds (or reuses) the test guest in $XAPID_GUEST_CACHE
#                     and sets BR (a bridge prefix: TAG and the PID) and
#                     XAPID_EXTRA_ARGS for the qemu backend; when the guest
#                     cannot be built the test fails and exits
#   kill_qemus        ends this test's QEMUs (they survive xapid) by PID and
#                     removes its bridge
#   wait_for SECS CMD...  runs CMD every 0.1 s until it succeeds, at most
#                     SECS seconds; false if it never did
#   gexec CMD         runs CMD in the guest $VM through its agent (3 tries)
guest_setup() {
	CACHE=${XAPID_GUEST_CACHE:-/var/cache/xapid/guest}
	export XAPID_GUEST_CACHE=$CACHE
	if ! bash "$TOP/tools/build-guest.sh" "$CACHE" > "$T_DIR/build-guest.log" 2>&1; then
		not_ok "test guest builds" "$(tail -20 "$T_DIR/build-guest.log")"
		done_testing
		exit 1
	fi
	BR=$(echo "$1$$" | cut -c1-10)
	XAPID_EXTRA_ARGS="--vm-backend qemu --bridge-prefix $BR"
}

kill_qemus() {
	for p in "$STATE"/vms/*/pid; do
		[ -f "$p" ] && kill -KILL "$(cut -d' ' -f1 "$p")" 2>/dev/null
	done
	ip link del "${BR}0" 2>/dev/null
	true
}

wait_for() {
	n=$(($1 * 10)); shift
	while [ $n -gt 0 ]; do "$@" > /dev/null 2>&1 && return 0; sleep 0.1; n=$((n - 1)); done
	return 1
}

gexec() {
	for _ in 1 2 3; do
		python3 "$TOP/tools/qmp_probe.py" --timeout 20 qga-exec "$STATE/vms/$VM/qga.sock" "$1" && return 0
		sleep 1
	done
	return 1
}
