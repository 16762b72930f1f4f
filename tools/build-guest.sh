#!/bin/bash
# Build the xapid test/demo guest from Debian packages into a cache dir:
#   vmlinux            the Debian kernel's uncompressed ELF (PVH boot: qemu -kernel vmlinux)
#   initramfs.cpio.gz  busybox-static, virtio/evdev/button modules, qemu-guest-agent and
#                      its libraries, /init (tools/guest/init)
#   guest.env          VMLINUX=, INITRD=, CMDLINE=, KVER= (shell syntax, for other scripts)
#
# usage: tools/build-guest.sh [--force|--refresh] [CACHE_DIR]
#   CACHE_DIR  default: $XAPID_GUEST_CACHE, else /var/cache/xapid/guest
#   --refresh  ask apt again which package versions are current (new Debian kernel...)
#              and rebuild only if they changed; without it, a cache built from the same
#              tools/ files is used as is (no apt, no network: exits in a few ms)
#   --force    rebuild everything (the .debs already downloaded are kept)
# Environment:
#   XAPID_GUEST_KERNEL_PKG     kernel package (default: what linux-image-amd64 depends on)
#   XAPID_GUEST_EXTRA_MODULES  more kernel modules for the initramfs (space separated)
#   XAPID_GUEST_NO_INSTALL=1   never apt-get install on the host
# As root, it installs the host packages it and the guest's users need when missing
# (qemu-system-x86 qemu-utils python3, the libraries qemu-ga links against) and runs
# apt-get update when the package lists are missing. The kernel, qemu-guest-agent and
# busybox-static .debs are downloaded into CACHE_DIR/debs (apt-get download), not installed.
# Prints the paths of the outputs (and of guest.env) on stdout; progress goes to stderr.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
force=0 refresh=0 cache=""
for a in "$@"; do
	case "$a" in
	--force) force=1;;
	--refresh) refresh=1;;
	-h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0;;
	-*) echo "build-guest: unknown option $a" >&2; exit 2;;
	*) cache=$a;;
	esac
done
cache=${cache:-${XAPID_GUEST_CACHE:-/var/cache/xapid/guest}}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

MODULES="virtio_ring virtio virtio_pci virtio_blk virtio_net virtio_console virtio_balloon evdev button ${XAPID_GUEST_EXTRA_MODULES:-}"
GUEST_PKGS="qemu-guest-agent busybox-static"
CMDLINE="console=ttyS0 quiet"
t0=$(date +%s.%N)
log() { echo "build-guest: $*" >&2; }
die() { echo "build-guest: ERROR: $*" >&2; exit 1; }
is_root() { [ "$(id -u)" = 0 ]; }
can_install() { is_root && [ -z "${XAPID_GUEST_NO_INSTALL:-}" ]; }
elapsed() { awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}'; }

print_paths() {
	echo "$cache/vmlinux"
	echo "$cache/initramfs.cpio.gz"
	echo "$cache/guest.env"
}

# host tools for running the guest: cheap check (no fork) even on the fast path
ensure_host_pkgs() {
	local want="" p
	command -v qemu-system-x86_64 >/dev/null || want="$want qemu-system-x86"
	command -v qemu-img >/dev/null || want="$want qemu-utils"
	command -v python3 >/dev/null || want="$want python3"
	command -v dpkg-deb >/dev/null || want="$want dpkg"
	for p in "$@"; do
		[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] ||
			want="$want $p"
	done
	[ -n "$want" ] || return 0
	if can_install; then
		log "installing:$want"
		apt_lists
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $want >&2
	else
		log "warning: missing host packages:$want (run as root to install them)"
	fi
}

apt_updated=0
apt_update() {
	[ $apt_updated = 1 ] && return 0
	can_install || return 1
	log "apt-get update"
	apt-get update -qq >&2 || apt-get update >&2
	apt_updated=1
}
# package lists present? (a fresh machine has none: apt-cache then finds nothing)
apt_lists() {
	apt-cache show linux-image-amd64 >/dev/null 2>&1 || apt_update || true
}

# --- fast path ------------------------------------------------------------------------
inhash=$( {
	cat "$here/build-guest.sh" "$here/extract-vmlinux.py"
	for f in "$here"/guest/*; do echo "== ${f##*/}"; cat "$f"; done
	echo "modules=$MODULES kpkg=${XAPID_GUEST_KERNEL_PKG:-} cmdline=$CMDLINE"
} | sha256sum | cut -c1-16)

have_outputs() {
	[ -s "$cache/vmlinux" ] && [ -s "$cache/initramfs.cpio.gz" ] && [ -s "$cache/guest.env" ] &&
		[ -s "$cache/stamp" ]
}

if [ $force = 0 ] && [ $refresh = 0 ] && have_outputs &&
	[ "$(head -n1 "$cache/stamp")" = "$inhash" ]; then
	ensure_host_pkgs
	print_paths
	exit 0
fi

# --- one builder at a time per cache dir ----------------------------------------------
exec 9>"$cache/.lock"
if command -v flock >/dev/null; then
	flock 9
	# someone else may have just built it
	if [ $force = 0 ] && [ $refresh = 0 ] && have_outputs &&
		[ "$(head -n1 "$cache/stamp")" = "$inhash" ]; then
		print_paths
		exit 0
	fi
fi

rm -rf "$cache"/.build.*	# left by a builder that was killed
ensure_host_pkgs
command -v python3 >/dev/null || die "python3 is needed"
command -v apt-get >/dev/null || die "apt-get is needed (Debian)"

# --- resolve and download the .debs ----------------------------------------------------
debs=$cache/debs
mkdir -p "$debs"

kpkg=${XAPID_GUEST_KERNEL_PKG:-}
kdep() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		awk '$1 ~ /Depends:/ && $2 ~ /^linux-image-/ && !n++ {print $2}' || true
}
if [ -z "$kpkg" ]; then
	kpkg=$(kdep)
	# a fresh machine has no package lists: apt-cache finds nothing
	[ -n "$kpkg" ] || { apt_update && kpkg=$(kdep); } || true
elif ! apt-cache show "$kpkg" >/dev/null 2>&1; then
	apt_update || true
fi
if [ -z "$kpkg" ]; then	# no package lists (not root, offline): take the newest kernel .deb we have
	kpkg=$(ls "$debs"/linux-image-*.deb 2>/dev/null | sed 's|.*/||; s|_.*||' | sort -V | tail -n1)
	[ -n "$kpkg" ] || die "cannot tell which linux-image-* package is current (apt-get update as root?)"
	log "no apt package lists: using cached $kpkg"
fi

# candidate versions, one apt-cache call (each costs ~0.5 s)
candidates=$(apt-cache policy "$kpkg" $GUEST_PKGS 2>/dev/null |
	awk '/^[^ ].*:$/ {p=substr($0, 1, length($0)-1)} /^ +Candidate:/ {print p, $2}') || true
# fetch PKG: prints the path of PKG's .deb in $debs, at apt's candidate version
fetch() {
	local pkg=$1 ver f d
	ver=$(awk -v p="$pkg" '$1 == p && !n++ {print $2}' <<<"$candidates")
	[ "$ver" = "(none)" ] && ver=""
	for f in "$debs/${pkg}"_*.deb; do
		[ -e "$f" ] || continue
		d=$(dpkg-deb -f "$f" Version 2>/dev/null) || continue
		if [ -z "$ver" ] || [ "$d" = "$ver" ]; then echo "$f"; return 0; fi
	done
	[ -n "$ver" ] || { log "no candidate version for $pkg"; return 1; }
	local sandbox=()
	is_root && sandbox=(-o APT::Sandbox::User=root)
	log "downloading $pkg $ver"
	if ! (cd "$debs" && apt-get download -qq "${sandbox[@]}" "$pkg=$ver" >&2); then
		# stale lists (the mirror moved on): update once and retry
		apt_update || return 1
		ver=$(apt-cache policy "$pkg" | awk '/Candidate:/ && !n++ {print $2}')
		(cd "$debs" && apt-get download -qq "${sandbox[@]}" "$pkg=$ver" >&2) || return 1
	fi
	for f in "$debs/${pkg}"_*.deb; do
		d=$(dpkg-deb -f "$f" Version 2>/dev/null) || continue
		if [ "$d" = "$ver" ]; then echo "$f"; else rm -f "$f"; fi	# drop older versions
	done
}

kdeb=$(fetch "$kpkg") || die "cannot download $kpkg"
qgadeb=$(fetch qemu-guest-agent) || die "cannot download qemu-guest-agent"
bbdeb=$(fetch busybox-static) || die "cannot download busybox-static"
fullstamp="$inhash
${kdeb##*/} ${qgadeb##*/} ${bbdeb##*/}"
if [ $force = 0 ] && have_outputs && [ "$(cat "$cache/stamp")" = "$fullstamp" ]; then
	# --refresh found nothing new
	printf '%s\n' "$fullstamp" > "$cache/stamp"
	print_paths
	exit 0
fi

work=$(mktemp -d "$cache/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT

# --- kernel: vmlinux + the modules we need (cached apart: re-extracting is the slow part)
kstamp="${kdeb##*/} $MODULES $(cat "$here/extract-vmlinux.py" "$here/guest/guestbuild.py" | sha256sum | cut -c1-16)"
if [ $force = 1 ] || [ ! -s "$cache/vmlinux" ] || [ ! -s "$cache/modules/load.order" ] ||
	[ "$(cat "$cache/kernel.stamp" 2>/dev/null)" != "$kstamp" ]; then
	log "extracting ${kdeb##*/}"
	mkdir -p "$work/k"
	# only the kernel and its modules (tar fails on the pattern that matches nothing:
	# /lib/modules in Debian 12, /usr/lib/modules later)
	dpkg-deb --fsys-tarfile "$kdeb" | tar -x -C "$work/k" --wildcards \
		'./boot/vmlinuz-*' './lib/modules/*' './usr/lib/modules/*' 2>/dev/null || true
	vmlinuz=$(echo "$work"/k/boot/vmlinuz-*)
	[ -f "$vmlinuz" ] || die "no /boot/vmlinuz-* in ${kdeb##*/}"
	kver=${vmlinuz##*/vmlinuz-}
	moddir=$work/k/lib/modules/$kver
	[ -d "$moddir" ] || moddir=$work/k/usr/lib/modules/$kver
	python3 "$here/extract-vmlinux.py" "$vmlinuz" "$work/vmlinux" >&2
	mkdir -p "$work/modules"
	python3 "$here/guest/guestbuild.py" moddeps "$moddir" $MODULES > "$work/modlist"
	: > "$work/modules/load.order"
	while read -r m; do
		b=${m##*/}
		case "$b" in
		*.ko.xz) xz -dc "$moddir/$m" > "$work/modules/${b%.xz}"; b=${b%.xz};;
		*.ko.zst) zstd -dcq "$moddir/$m" > "$work/modules/${b%.zst}"; b=${b%.zst};;
		*.ko.gz) gzip -dc "$moddir/$m" > "$work/modules/${b%.gz}"; b=${b%.gz};;
		*) cp "$moddir/$m" "$work/modules/$b";;
		esac
		echo "$b" >> "$work/modules/load.order"
	done < "$work/modlist"
	echo "$kver" > "$work/modules/kver"
	rm -rf "$work/k" "$cache/modules"
	mv "$work/modules" "$cache/modules"
	mv -f "$work/vmlinux" "$cache/vmlinux"
	echo "$kstamp" > "$cache/kernel.stamp"
	log "kernel $kver ready ($(elapsed) s)"
fi
kver=$(cat "$cache/modules/kver")
python3 "$here/extract-vmlinux.py" --check "$cache/vmlinux" >/dev/null ||
	die "$cache/vmlinux has no PVH note"

# --- initramfs root ------------------------------------------------------------------
R=$work/root
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,lib/modules,lib64,etc/acpi/PWRF,proc,sys,dev,run,tmp,root,var/log}
chmod 1777 "$R/tmp"
ln -s ../run "$R/var/run"

mkdir -p "$work/bb" "$work/qga"
dpkg-deb -x "$bbdeb" "$work/bb"
dpkg-deb -x "$qgadeb" "$work/qga"
bb=$work/bb/bin/busybox
[ -x "$bb" ] || die "no /bin/busybox in ${bbdeb##*/}"
cp "$bb" "$R/bin/busybox"
bbver=$("$bb" 2>&1 | awk 'NR == 1 {print $2}')
applets=$("$bb" --list-full)	# (no "busybox --list | grep -q": SIGPIPE + pipefail)
for a in acpid udhcpc ip insmod poweroff mkfifo ipcalc sleep; do
	grep -qE "(^|/)$a\$" <<<"$applets" || die "busybox lacks the $a applet"
done
# the applet links, in one process (400 ln calls take a second)
python3 -c '
import os, sys
for a in sys.stdin.read().split():
    p = os.path.join(sys.argv[1], a)
    if not os.path.lexists(p):
        os.makedirs(os.path.dirname(p), exist_ok=True)
        os.symlink("/bin/busybox", p)
' "$R" <<<"$applets"

cp "$cache"/modules/*.ko "$cache/modules/load.order" "$R/lib/modules/"

# qemu-guest-agent and the shared libraries it links against (the host's: Debian 12 too)
qga=$work/qga/usr/sbin/qemu-ga
[ -x "$qga" ] || die "no /usr/sbin/qemu-ga in ${qgadeb##*/}"
cp "$qga" "$R/usr/sbin/qemu-ga"
qgaldd=$(ldd "$qga")
if [[ $qgaldd == *"not found"* ]]; then
	libpkgs=$(dpkg-deb -f "$qgadeb" Depends | tr ',' '\n' | sed 's/(.*)//; s/|.*//; s/ //g' | grep -v '^$')
	log "qemu-ga needs libraries the host lacks: $(awk '/not found/ {printf "%s ", $1}' <<<"$qgaldd")"
	can_install || die "install as root: $libpkgs"
	apt_lists
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $libpkgs >&2
	qgaldd=$(ldd "$qga")
	[[ $qgaldd != *"not found"* ]] || die "qemu-ga libraries still missing"
fi
interp=""
while read -r l; do
	case "$l" in
	*"=> /"*) lib=${l#*=> }; lib=${lib%% (*};;
	/*) lib=${l%% (*}; interp=$lib;;
	*) continue;;
	esac
	mkdir -p "$R$(dirname "$lib")"
	cp -L "$lib" "$R$lib"
done <<<"$qgaldd"
[ -n "$interp" ] || die "ldd shows no dynamic loader for qemu-ga"
[ -e "$R/lib64/ld-linux-x86-64.so.2" ] || die "no dynamic loader copied ($interp)"

# scripts and config
install -m 755 "$here/guest/init" "$R/init"
install -m 755 "$here/guest/udhcpc.script" "$R/etc/udhcpc.script"
install -m 755 "$here/guest/power-button" "$R/etc/acpi/PWRF/00000080"
install -m 755 "$here/guest/shutdown" "$R/sbin/shutdown"
qgaver=$(dpkg-deb -f "$qgadeb" Version)
cat > "$R/etc/os-release" <<EOF
NAME="xapid test guest"
ID=xapid-test-guest
ID_LIKE=debian
VERSION_ID="1"
VERSION="1 (busybox $bbver, Debian kernel $kver)"
VERSION_CODENAME=bookworm
PRETTY_NAME="xapid test guest 1"
VARIANT="busybox initramfs"
VARIANT_ID=initramfs
BUILD_ID="$inhash"
EOF
mkdir -p "$R/usr/lib"
ln -s ../../etc/os-release "$R/usr/lib/os-release"
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$R/etc/passwd"
printf 'root:x:0:\n' > "$R/etc/group"
printf 'xapid-guest\n' > "$R/etc/hostname"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n' > "$R/etc/hosts"
: > "$R/etc/resolv.conf"
ln -s /proc/self/mounts "$R/etc/mtab"
cat > "$R/etc/xapid-guest" <<EOF
kernel=$kver
qemu-guest-agent=$qgaver
busybox=$bbver
build=$inhash
EOF

python3 "$here/guest/guestbuild.py" cpio "$R" "$work/initramfs.cpio.gz"
mv -f "$work/initramfs.cpio.gz" "$cache/initramfs.cpio.gz"

cat > "$work/guest.env" <<EOF
VMLINUX=$cache/vmlinux
INITRD=$cache/initramfs.cpio.gz
CMDLINE="$CMDLINE"
KVER=$kver
EOF
mv -f "$work/guest.env" "$cache/guest.env"
printf '%s\n' "$fullstamp" > "$cache/stamp"
log "built in $(elapsed) s: kernel $kver, initramfs $(stat -c %s "$cache/initramfs.cpio.gz") bytes, vmlinux $(stat -c %s "$cache/vmlinux") bytes"
print_paths
