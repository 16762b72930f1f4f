#!/bin/sh
# Every benchmark, each printing its figures beside a peer measured in the
# same run. `make bench` builds the optimised programs first.
TOP=$(cd "$(dirname "$0")/.." && pwd)
echo "== XenAPI getter calls/s (vs a bare libmicrohttpd responder)"
sh "$TOP/bench/bench_rpc.sh" 5 4
echo "== 10,000 VMs / 40,000 VBDs in the database"
python3 "$TOP/bench/bench_scale.py" 10000 4
echo "== VM.start to guest up (vs the same QEMU command by hand; libvirt: bench/libvirt-peer.sh)"
python3 "$TOP/bench/bench_vm_start.py" 5
echo "== idle xapid with 20 running guests (CPU % of a core, memory per VM; vs the QEMUs)"
python3 "$TOP/bench/bench_idle.py" 20 30
echo "== live migration of an idle 512 MiB guest between two namespaces (vs raw QEMU by hand)"
python3 "$TOP/bench/bench_migrate.py" 3 512
echo "== snapshot + delete cycles on a running VM (vs QMP by hand, qemu-img snapshot); guest 4 KiB random reads (vs fio on the host)"
python3 "$TOP/bench/bench_snapshot.py" 10 10
