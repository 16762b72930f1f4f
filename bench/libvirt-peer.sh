#!/bin/sh
# Runs libvirt without systemd as the peer of bench_vm_start.py (see
# shared reference peers.md), then the benchmark, then stops libvirt.
#   bench/libvirt-peer.sh [RUNS]
# Needs: apt-get install --no-install-recommends libvirt-daemon-system libvirt-clients
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
command -v libvirtd > /dev/null || { echo "libvirt not installed"; exit 1; }
D=$(mktemp -d /tmp/xapid-libvirt.XXXXXX)
mkdir -p "$D/run"
printf 'unix_sock_dir = "%s/run"\nauth_unix_rw = "none"\nauth_unix_ro = "none"\nunix_sock_rw_perms = "0700"\nlog_outputs = "3:file:%s/libvirtd.log"\npid_file = "%s/libvirtd.pid"\n' "$D" "$D" "$D" > "$D/libvirtd.conf"
printf 'log_outputs = "3:file:%s/virtlogd.log"\npid_file = "%s/virtlogd.pid"\n' "$D" "$D" > "$D/virtlogd.conf"
kvm_mode=$(stat -c '%a %G' /dev/kvm 2>/dev/null || true)
virtlogd -f "$D/virtlogd.conf" & VL=$!
libvirtd -f "$D/libvirtd.conf" & LV=$!
cleanup() {
	kill $LV $VL 2>/dev/null || true
	wait $LV $VL 2>/dev/null || true
	# libvirt re-probes QEMU on each lookup unless group kvm can open /dev/kvm
	[ -n "$kvm_mode" ] && chmod "${kvm_mode%% *}" /dev/kvm && chgrp "${kvm_mode#* }" /dev/kvm
	rm -rf "$D"
}
trap cleanup EXIT
[ -e /dev/kvm ] && chgrp kvm /dev/kvm && chmod 660 /dev/kvm
URI="qemu:///system?socket=$D/run/libvirt-sock"
i=0
until virsh -c "$URI" domcapabilities --virttype qemu > /dev/null 2>&1; do
	i=$((i + 1)); [ $i -lt 100 ] || { echo "libvirtd did not start"; exit 1; }
	sleep 0.2
done
XAPID_BENCH_LIBVIRT_URI="$URI" python3 "$TOP/bench/bench_vm_start.py" "${1:-5}"
