#!/bin/sh
# Runs every test: cmocka unit tests, fuzz corpus replays, end-to-end
# scripts (TAP). Prints each result and ends with "N passed, N failed".
# Run from the top of the tree after `make` has built build/asan/.
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP" || exit 1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
LOG=$TOP/build/test-logs
rm -rf "$LOG"
mkdir -p "$LOG"
pass=0
fail=0
failed_names=""

record() { # name rc passed-count failed-count
	pass=$((pass + $3))
	fail=$((fail + $4))
	if [ "$2" -ne 0 ] && [ "$4" -eq 0 ]; then
		fail=$((fail + 1))
	fi
	if [ "$2" -ne 0 ] || [ "$4" -ne 0 ]; then
		failed_names="$failed_names $1"
		echo "FAIL $1 (log: $LOG/$1.log)"
		tail -30 "$LOG/$1.log" | sed 's/^/    /'
	else
		echo "pass $1 ($3)"
	fi
}

# the build is warning-clean under clang too (gcc builds everything above)
if command -v clang >/dev/null 2>&1; then
	: > "$LOG/clang-warnings.log"
	rc=0
	for f in $(git ls-files 'src/*.c' 'tests/*.c' 'bench/*.c' 2>/dev/null || find src tests bench -name '*.c'); do
		clang -std=gnu11 -D_GNU_SOURCE -Isrc $(pkg-config --cflags libmicrohttpd jansson libxml-2.0 gnutls uuid) \
			-Wall -Wextra -Werror -Wformat=2 -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
			-Wno-unused-parameter -Wno-missing-field-initializers -fsyntax-only "$f" >> "$LOG/clang-warnings.log" 2>&1 || rc=1
	done
	if [ $rc -eq 0 ]; then record clang-warnings 0 1 0; else record clang-warnings 1 0 1; fi
fi

# cmocka unit tests: count each test case
for t in build/asan/tests/test_*; do
	[ -x "$t" ] || continue
	n=$(basename "$t")
	timeout 600 "$t" > "$LOG/$n.log" 2>&1
	rc=$?
	p=$(grep -c '^\[       OK \]' "$LOG/$n.log")
	f=$(sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) test(s).*/\1/p' "$LOG/$n.log" | head -1)
	f=${f:-0}
	[ $rc -ne 0 ] && [ "$f" -eq 0 ] && f=1
	record "$n" $rc "$p" "$f"
done

# fuzz targets: replay their corpus
for t in build/asan/fuzz/fuzz_*; do
	[ -x "$t" ] || continue
	n=$(basename "$t")
	c=tests/fuzz/corpus/${n#fuzz_}
	timeout 600 "$t" "$c" > "$LOG/$n.log" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then record "$n" 0 1 0; else record "$n" $rc 0 1; fi
done

# end-to-end scripts: TAP
for t in tests/e2e/test_*.sh tests/e2e/test_*.py tests/pool/test_*.sh; do
	[ -f "$t" ] || continue
	n=$(basename "$t")
	case "$t" in
	*.py) timeout 1200 python3 "$t" > "$LOG/$n.log" 2>&1 ;;
	*) timeout 1200 sh "$t" > "$LOG/$n.log" 2>&1 ;;
	esac
	rc=$?
	p=$(grep -c '^ok ' "$LOG/$n.log")
	f=$(grep -c '^not ok ' "$LOG/$n.log")
	record "$n" $rc "$p" "$f"
done

[ -n "$failed_names" ] && echo "failed:$failed_names"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
