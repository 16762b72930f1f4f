#!/bin/bash
# Boot the xapid test guest with plain QEMU under TCG, the way xapid launches it,
# and check it: serial GUEST-UP, qemu-guest-agent (sync, ping, osinfo, network with
# the slirp DHCP address, exec), then QMP system_powerdown and QEMU's exit.
# Prints TAP (ok N - ...) and "# timing:" lines; exits non-zero on any failure.
# Every process it starts is killed by PID on the way out.
#
# usage: tools/boot-guest-check.sh [CACHE_DIR]
#   CACHE_DIR as for tools/build-guest.sh (built first if needed)
#   XAPID_BOOT_TIMEOUT  seconds to wait for GUEST-UP (default 60)
#   XAPID_KEEP=1        keep the work dir (serial log, sockets) afterwards
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
probe="python3 $here/qmp_probe.py"
boot_timeout=${XAPID_BOOT_TIMEOUT:-60}

n=0 failed=0 qpid=""
ok() { n=$((n+1)); echo "ok $n - $*"; }
not_ok() { n=$((n+1)); failed=$((failed+1)); echo "not ok $n - $*"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.2f", b-a}'; }

work=$(mktemp -d /tmp/xapid-bootcheck.XXXXXX)	# short path: unix socket names max 107 bytes
cleanup() {
	if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then
		kill "$qpid" 2>/dev/null
		for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$qpid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$qpid" 2>/dev/null
		wait "$qpid" 2>/dev/null
	fi
	if [ -n "${XAPID_KEEP:-}" ]; then echo "# kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
bail() {
	echo "Bail out! $*"
	if [ -s "$work/serial.log" ]; then sed 's/^/# serial: /' "$work/serial.log" | tail -n 40; fi
	if [ -s "$work/qemu.err" ]; then sed 's/^/# qemu: /' "$work/qemu.err" | tail -n 20; fi
	exit 1
}

echo "1..9"

# 1 build (or find) the guest
tb=$(now)
if out=$("$here/build-guest.sh" "$@" 2>"$work/build.err"); then
	ok "build-guest.sh ($(since "$tb") s)"
else
	not_ok "build-guest.sh"; sed 's/^/# /' "$work/build.err"; bail "no guest"
fi
env_file=$(echo "$out" | grep 'guest.env$')
# shellcheck disable=SC1090
. "$env_file"
echo "# kernel $KVER, initramfs $(stat -c %s "$INITRD") bytes"

# 2 launch
command -v qemu-system-x86_64 >/dev/null || bail "qemu-system-x86_64 not installed"
LOG=$work/serial.log QMP=$work/qmp.sock QGA=$work/qga.sock
t0=$(now)
qemu-system-x86_64 -name xapid-bootcheck -accel tcg -M q35 -m 256 \
	-nodefaults -no-user-config -display none \
	-serial "file:$LOG" \
	-kernel "$VMLINUX" -initrd "$INITRD" -append "$CMDLINE" \
	-qmp "unix:$QMP,server=on,wait=off" \
	-device virtio-serial-pci \
	-chardev "socket,id=qga0,path=$QGA,server=on,wait=off" \
	-device virtserialport,chardev=qga0,name=org.qemu.guest_agent.0 \
	-netdev user,id=n0 -device virtio-net-pci,netdev=n0 \
	</dev/null >"$work/qemu.err" 2>&1 &
qpid=$!
sleep 0.2
if kill -0 "$qpid" 2>/dev/null; then ok "qemu started (pid $qpid)"; else not_ok "qemu started"; bail "qemu died"; fi

# 3 GUEST-UP on the serial console
if line=$($probe wait-log "$LOG" '^GUEST-UP ' --timeout "$boot_timeout" --t0 "$t0" 2>"$work/p.err"); then
	t_up=$(since "$t0")
	ok "serial: $line after $t_up s"
else
	not_ok "serial: GUEST-UP within $boot_timeout s"; bail "guest did not boot"
fi

# 4 qemu-ga answers (guest-sync-delimited, then guest-ping)
if $probe qga-wait "$QGA" --timeout 30 >/dev/null 2>"$work/p.err"; then
	t_qga=$(since "$t0")
	ok "qemu-ga answers guest-sync + guest-ping after $t_qga s"
else
	not_ok "qemu-ga answers within 30 s"; cat "$work/p.err" | sed 's/^/# /'; bail "no guest agent"
fi

# 5 guest-get-osinfo
if os=$($probe qga "$QGA" guest-get-osinfo --timeout 10 2>"$work/p.err") &&
	echo "$os" | grep -q '"name": "xapid test guest"'; then
	ok "guest-get-osinfo: $(echo "$os" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("pretty-name"), d.get("kernel-release"))')"
else
	not_ok "guest-get-osinfo"; echo "# $os"; sed 's/^/# /' "$work/p.err"
fi

# 6 DHCP address from slirp, seen through guest-network-get-interfaces
if addr=$($probe qga-ip "$QGA" 10.0.2.15 --timeout 30 2>"$work/p.err"); then
	t_ip=$(since "$t0")
	ok "guest-network-get-interfaces: $addr after $t_ip s"
else
	not_ok "guest-network-get-interfaces shows 10.0.2.15 within 30 s"; sed 's/^/# /' "$work/p.err"
	t_ip=-
fi

# 7 guest-exec runs a shell command
if r=$($probe qga-exec "$QGA" 'echo exec-ok $(uname -r); cat /proc/uptime' --timeout 20 2>"$work/p.err") &&
	echo "$r" | grep -q "^exec-ok $KVER"; then
	ok "guest-exec /bin/sh: $(echo "$r" | head -n1)"
else
	not_ok "guest-exec"; echo "$r" | sed 's/^/# /'; sed 's/^/# /' "$work/p.err"
fi

# 8 serial log shows the init's loop (DISKS: once at start, TICK n)
if $probe wait-log "$LOG" '^TICK [0-9]+' --timeout 15 >/dev/null 2>&1 && grep -q '^DISKS:' "$LOG"; then
	ok "serial: DISKS and TICK lines"
else
	not_ok "serial: DISKS and TICK lines"
fi

# 9 QMP system_powerdown -> ACPI power button -> poweroff -> QEMU exits
tp=$(now)
$probe qmp "$QMP" system_powerdown --wait-event SHUTDOWN --timeout 20 >"$work/pd.out" 2>"$work/p.err"
exited=0
for _ in $(seq 1 200); do	# 20 s
	kill -0 "$qpid" 2>/dev/null || { exited=1; break; }
	sleep 0.1
done
if [ $exited = 1 ]; then
	wait "$qpid"; rc=$?
	t_pd=$(since "$tp")
	qpid=""
	if [ $rc = 0 ] && grep -q '"guest": true' "$work/pd.out"; then
		ok "system_powerdown: guest powered off, qemu exited 0 after $t_pd s"
	else
		not_ok "system_powerdown: qemu exit status $rc"; sed 's/^/# /' "$work/pd.out" "$work/p.err"
	fi
else
	not_ok "system_powerdown: qemu still running after 20 s"; sed 's/^/# /' "$work/pd.out" "$work/p.err"
	t_pd=-
fi

echo "# timing: launch->GUEST-UP ${t_up}s, launch->qemu-ga ${t_qga}s, launch->DHCP address ${t_ip}s, powerdown->exit ${t_pd}s"
grep -E '^(MODULES|QGA-UP|NET:)' "$LOG" | sed 's/^/# guest: /'
if [ $failed != 0 ]; then
	sed 's/^/# serial: /' "$LOG" | tail -n 30
	exit 1
fi
exit 0
