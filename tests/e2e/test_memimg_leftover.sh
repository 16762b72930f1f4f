#!/bin/sh
# Regression: the FIFO directories of memory images on NFS SRs
# (/tmp/xapid-mem.*, sr_memimg.c) that a crash during a suspend or resume
# left behind are removed when xapid starts again; those of another host
# (another xapid on this machine) and any without this host's run tag stay.
. "$(dirname "$0")/lib.sh"

XAPID_EXTRA_ARGS=${XAPID_EXTRA_ARGS:---vm-backend sim}
start_xapid h1 || { not_ok "xapid starts"; done_testing; exit 1; }
host=$($XE host-list params=uuid --minimal)
other=$(cat /proc/sys/kernel/random/uuid)
mine=/tmp/xapid-mem.$host.0badb007.Ab12Cd
theirs=/tmp/xapid-mem.$other.0badb007.Ab12Cd
plain=/tmp/xapid-mem.$host
trap 'rm -rf "$mine" "$theirs" "$plain"; t_cleanup' EXIT
stop_xapid KILL
# what a crash during a suspend leaves: the directory and its FIFO
mkdir "$mine" "$theirs" "$plain" && mkfifo "$mine/image" "$theirs/image"
start_xapid h1 || { not_ok "xapid starts again"; done_testing; exit 1; }
check "the leftover of this host's earlier run is gone" "no" "$([ -e "$mine" ] && echo yes || echo no)"
check "another host's stays" "yes" "$([ -p "$theirs/image" ] && echo yes || echo no)"
check "a name without a run tag stays" "yes" "$([ -d "$plain" ] && echo yes || echo no)"
check "the removal is logged" 1 "$(grep -c "removed $mine left by a crash" "$T_DIR/h1.out")"
done_testing
