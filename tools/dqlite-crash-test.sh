#!/bin/sh
# dqlite-crash-test.sh [ROUNDS]: kill -9 durability of the persist_dqlite
# backend at the process level.
#
# Builds a small driver against src/db (in a temp dir), then ROUNDS times
# (default 10): starts a writer that commits batches (3 rows per batch, all
# tagged with the batch's generation) and prints each generation once
# persist_commit() has returned; kills it with SIGKILL 0.1-1.1 s after its
# first acknowledged commit; restarts on the same data directory and checks
# that
#   - the stored generation is >= the last acknowledged one,
#   - every batch is complete (3 rows per generation, none partial),
#   - rows count == 3 x stored generation.
# Exits 0 when every round passes. Cleans up its processes and files.
set -eu

ROUNDS=${1:-10}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/xapid-crash-XXXXXX)
PID=
cleanup() {
	if [ -n "$PID" ]; then kill -9 "$PID" 2>/dev/null || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

cat >"$WORK/driver.c" <<'EOF'
/* usage: driver write|check DIR ADDR [ACKED] */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "db/persist.h"

static uint64_t rows, bad;
static uint64_t per_gen[1 << 20];

static int
row(void *ctx, const char *cls, const char *ref, const char *data)
{
	uint64_t g = strtoull(data, NULL, 10);
	(void)ctx;
	(void)cls;
	(void)ref;
	rows++;
	if (g >= (1 << 20))
		bad++;
	else
		per_gen[g]++;
	return 0;
}

int
main(int argc, char **argv)
{
	struct persist_dqlite_config cfg = {argv[2], argv[3], 0, 10, NULL};
	char *err = NULL;
	uint64_t gen = 0;
	struct persist *p = persist_dqlite_open(&cfg, &err);

	if (!p) {
		fprintf(stderr, "open: %s\n", err);
		return 2;
	}
	if (persist_load(p, row, NULL, &gen, &err) < 0) {
		fprintf(stderr, "load: %s\n", err);
		return 2;
	}
	if (strcmp(argv[1], "check") == 0) {
		uint64_t acked = strtoull(argv[4], NULL, 10);
		for (uint64_t g = 1; g <= gen && g < (1 << 20); g++)
			if (per_gen[g] != 3)
				bad++;
		printf("generation %" PRIu64 " acked %" PRIu64 " rows %" PRIu64
		       " bad %" PRIu64 "\n", gen, acked, rows, bad);
		persist_close(p);
		return gen >= acked && rows == 3 * gen && bad == 0 ? 0 : 1;
	}
	for (uint64_t g = gen + 1;; g++) {
		char r[3][64], d[32];
		struct persist_op ops[3];
		snprintf(d, sizeof(d), "%" PRIu64, g);
		for (int i = 0; i < 3; i++) {
			snprintf(r[i], sizeof(r[i]), "OpaqueRef:%" PRIu64 "-%d",
				 g, i);
			ops[i] = (struct persist_op){PERSIST_PUT, "VM", r[i], d};
		}
		if (persist_commit(p, ops, 3, g, &err) < 0) {
			fprintf(stderr, "commit: %s\n", err);
			return 2;
		}
		printf("%" PRIu64 "\n", g);
		fflush(stdout);
	}
}
EOF

cd "$ROOT"
# shellcheck disable=SC2046
cc -std=gnu11 -D_GNU_SOURCE -Isrc -O2 -pthread -o "$WORK/driver" "$WORK/driver.c" \
	src/db/dqc.c src/db/dqc_sql.c src/db/dqnode.c src/db/persist_dqlite.c \
	src/util/xalloc.c src/util/buf.c src/util/log.c \
	$(pkg-config --cflags --libs dqlite sqlite3) -lpthread

ADDR="@xapid-crash-$$"
fails=0
i=1
while [ "$i" -le "$ROUNDS" ]; do
	: >"$WORK/out"
	: >"$WORK/err"
	"$WORK/driver" write "$WORK/data" "$ADDR" >>"$WORK/out" 2>>"$WORK/err" &
	PID=$!
	# Wait (at most 10 s) for the first acknowledged commit, then kill
	# after a random 0.1-1.1 s of committing.
	t=0
	while [ ! -s "$WORK/out" ] && [ "$t" -lt 100 ]; do
		sleep 0.1
		t=$((t + 1))
	done
	ms=$(( 100 + $(od -An -N2 -tu2 /dev/urandom) % 1000 ))
	sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
	kill -9 "$PID" 2>/dev/null || true
	wait "$PID" 2>/dev/null || true
	PID=
	acked=$(tail -n 1 "$WORK/out" 2>/dev/null || true)
	grep -v " info " "$WORK/err" || true
	[ -s "$WORK/out" ] || { echo "no commit acknowledged; writer said:"; cat "$WORK/err"; }
	[ -n "$acked" ] || acked=0
	if res=$("$WORK/driver" check "$WORK/data" "$ADDR" "$acked" 2>"$WORK/cerr"); then
		echo "round $i: killed after ${ms} ms: ok: $res"
	else
		echo "round $i: killed after ${ms} ms: FAIL: $res"
		cat "$WORK/cerr" "$WORK/err"
		fails=$((fails + 1))
	fi
	i=$((i + 1))
done
echo "$ROUNDS rounds, $fails failed"
[ "$fails" -eq 0 ]
