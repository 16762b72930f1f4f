#!/bin/sh
# Install the Debian packages xapid needs to build, run and test.
# Idempotent: installs only what is missing. Run as root on Debian 12.
set -eu

PKGS="build-essential make gcc clang pkg-config libclang-rt-14-dev \
libmicrohttpd-dev libxml2-dev libjansson-dev libdqlite-dev libraft-dev \
libsqlite3-dev libuv1-dev libgnutls28-dev uuid-dev libpam0g-dev libcmocka-dev \
zlib1g-dev libzstd-dev libxxhash-dev \
qemu-system-x86 qemu-utils busybox-static socat cpio xz-utils zstd iptables nftables \
python3 openssl procps iproute2 ca-certificates \
libnfs-dev libnfs-utils qemu-block-extra nfs-ganesha nfs-ganesha-vfs rpcbind fio"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

# Node.js: the machine may carry its own build (with npm inside); take Debian's only if absent
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"

if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "install-deps: need root to install:$missing" >&2
		exit 1
	fi
	echo "install-deps: installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq || apt-get update
	apt-get install -y -qq --no-install-recommends $missing
fi

# npm xen-api client (Xen Orchestra's) for the end-to-end tests, kept under tests/
top=$(cd "$(dirname "$0")/.." && pwd)
if [ -f "$top/tests/e2e/package.json" ] && [ ! -d "$top/tests/e2e/node_modules/xen-api" ]; then
	(cd "$top/tests/e2e" && npm install --no-audit --no-fund --silent) ||
		echo "install-deps: npm install of xen-api failed; its tests will be skipped" >&2
fi
exit 0
