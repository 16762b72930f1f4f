#!/bin/sh
# Live migration between two qemu VM backends in two network namespaces,
# with real TCG guests, without xapid: builds
# tests/e2e/qemu_migrate_test.c (+ qemu_migrate_harness.c) against the ASan library and runs it with
# the test guest of tools/build-guest.sh (built first if needed). TAP.
# Needs root (taps, a bridge). Skips when the guest cannot be built.
#   XAPID_GUEST_CACHE  guest cache dir (see tools/build-guest.sh)
#   KEEP=1             keep the test's state dir; DEBUG=1 backend debug log
TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP" || exit 1
if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP needs root (taps and bridges)"
	exit 0
fi
if ! command -v qemu-system-x86_64 >/dev/null 2>&1; then
	echo "1..0 # SKIP qemu-system-x86_64 is not installed"
	exit 0
fi
paths=$(timeout 900 bash tools/build-guest.sh 2>/tmp/qemu-migrate-guest.$$.log)
rc=$?
vmlinux=$(echo "$paths" | sed -n 1p)
initrd=$(echo "$paths" | sed -n 2p)
if [ $rc -ne 0 ] || [ ! -f "$vmlinux" ] || [ ! -f "$initrd" ]; then
	echo "1..0 # SKIP no test guest (tools/build-guest.sh failed)"
	sed 's/^/# /' /tmp/qemu-migrate-guest.$$.log | tail -5
	rm -f /tmp/qemu-migrate-guest.$$.log
	exit 0
fi
rm -f /tmp/qemu-migrate-guest.$$.log
[ -f build/asan/libxapid.a ] || make -s build/asan/libxapid.a >/dev/null || exit 1
bin=build/asan/tests-e2e/qemu_migrate_test
mkdir -p build/asan/tests-e2e
PKGS="libmicrohttpd jansson libxml-2.0 dqlite sqlite3 gnutls uuid libnfs zlib libzstd libxxhash"
# shellcheck disable=SC2046
${CC:-cc} -std=gnu11 -g -O1 -D_GNU_SOURCE -Isrc $(pkg-config --cflags $PKGS) -pthread \
	-Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-unused-parameter \
	-Wno-missing-field-initializers -fsanitize=address,undefined -fno-omit-frame-pointer \
	-o "$bin" tests/e2e/qemu_migrate_test.c tests/e2e/qemu_migrate_harness.c \
	build/asan/libxapid.a \
	$(pkg-config --libs $PKGS) -lpam -lpthread -lm || exit 1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
exec timeout 900 "$bin" "$vmlinux" "$initrd"
