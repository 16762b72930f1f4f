#!/usr/bin/env python3
"""Parallel disk plugging (XenServer 7.0 / xenopsd): 20 VMs x 8 VBDs started
at once, all in one run:
  1. xapid as configured by default (worker pool 16, disks in chunks of 10);
  2. the same xapid restarted with parallelism 1 (--worker-pool-size 1
     --parallel-chunk 1);
  3. a raw-QEMU boot storm: the same 20 QEMU command lines with the same
     disks on the command line, launched by hand at once.
Time spent attaching disks = the wall-clock time during which at least one
VM was in its disk-attach phase (from xapid's log); the sum of the per-VM
phases, the span from the first attach to the last, and the CPU time the
QEMUs spent in the phases (xapid reads it from /proc) are printed too: the
work of an attach is QEMU's main loop opening the images and adding the
devices, so on N cores the parallel phases cannot be shorter than that CPU
time / N. Total = first VM.start call to the last guest's GUEST-UP on its
serial console.
  bench/bench_vbd_plug.py [VMS [DISKS]]
Goals: parallel >= 4x less time attaching disks than parallelism 1; total
<= 1.3x the raw-QEMU storm."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import xmlrpc.client

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))
os.environ.setdefault("XAPID", os.path.join(TOP, "build/xapid"))
from xapidtest import Xapid  # noqa: E402

NVMS = int(sys.argv[1]) if len(sys.argv) > 1 else 20
NDISKS = int(sys.argv[2]) if len(sys.argv) > 2 else 8
MEM = 128 << 20
CACHE = os.environ.get("XAPID_GUEST_CACHE", "/var/cache/xapid/guest")
subprocess.run(["bash", os.path.join(TOP, "tools/build-guest.sh"), CACHE], check=True,
               stdout=subprocess.DEVNULL)
os.environ["XAPID_GUEST_CACHE"] = CACHE
PHASE = re.compile(r"disk-attach phase: (\d+) disks in ([0-9.]+) ms .* from ([0-9.]+)"
                   r"(?:, QEMU CPU ([0-9.]+) ms)?")
NCPU = os.cpu_count() or 1


def size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def wait_up(path, offset, deadline):
    while time.time() < deadline:
        try:
            with open(path, "rb") as f:
                f.seek(offset)
                if b"GUEST-UP" in f.read():
                    return time.time()
        except OSError:
            pass
        time.sleep(0.02)
    try:
        tail = open(path, errors="replace").read()[-600:]
    except OSError as e:
        tail = str(e)
    raise RuntimeError("no GUEST-UP in %s; it ends with:\n%s" % (path, tail))


def union(intervals):
    total, end = 0.0, None
    for a, b in sorted(intervals):
        if end is None or a > end:
            total += b - a
            end = b
        elif b > end:
            total += b - end
            end = b
    return total


def login(x):
    s = xmlrpc.client.ServerProxy(x.url)
    return s, s.session.login_with_password("root", x.password)["Value"]


def setup(x):
    s, sid = login(x)
    tpl = s.VM.get_by_name_label(sid, "xapid test guest")["Value"][0]
    srs = [r for r in s.SR.get_all(sid)["Value"]
           if s.SR.get_type(sid, r)["Value"] in ("ext", "file")]
    vms = []
    for v in range(NVMS):
        vm = s.VM.clone(sid, tpl, "storm%d" % v)["Value"]
        s.VM.set_is_a_template(sid, vm, False)
        for f in ("dynamic_min", "dynamic_max", "static_max"):
            r = getattr(s.VM, "set_memory_" + f)(sid, vm, str(MEM))
            assert r["Status"] == "Success", r
        for d in range(NDISKS):
            vdi = s.VDI.create(sid, {"name_label": "storm%d-%d" % (v, d), "name_description": "",
                                     "SR": srs[0], "virtual_size": str(16 << 20), "type": "user",
                                     "sharable": False, "read_only": False,
                                     "other_config": {}})["Value"]
            r = s.VBD.create(sid, {"VM": vm, "VDI": vdi, "userdevice": str(d + 1),
                                   "bootable": False, "mode": "RW", "type": "Disk",
                                   "empty": False, "other_config": {},
                                   "qos_algorithm_type": "", "qos_algorithm_params": {}})
            assert r["Status"] == "Success", r
        vms.append((vm, s.VM.get_uuid(sid, vm)["Value"]))
    return vms


def storm(x, vms):
    """Starts every VM at once; returns (total s, attach union s, attach sum
    s, span from the first attach to the last s, QEMU CPU s in the phases)."""
    logf = os.path.join(x.state, "xapid.log")
    log_off = size(logf)
    consoles = [os.path.join(x.state, "vms", u, "console.log") for _, u in vms]
    offs = [size(c) for c in consoles]
    errors = []

    def start(vm):
        s, sid = login(x)
        r = s.VM.start(sid, vm, False, False)
        if r["Status"] != "Success":
            errors.append(r)

    threads = [threading.Thread(target=start, args=(vm,)) for vm, _ in vms]
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError("VM.start failed: %s" % errors[0])
    up = max(wait_up(c, o, t0 + 600) for c, o in zip(consoles, offs))
    with open(logf) as f:
        f.seek(log_off)
        found = list(PHASE.finditer(f.read()))
    phases = [(float(m.group(3)), float(m.group(3)) + float(m.group(2)) / 1e3) for m in found]
    cpu = sum(float(m.group(4) or 0) for m in found) / 1e3
    if len(phases) != len(vms):
        raise RuntimeError("%d disk-attach phases logged for %d VMs" % (len(phases), len(vms)))
    span = max(b for _, b in phases) - min(a for a, _ in phases)
    return up - t0, union(phases), sum(b - a for a, b in phases), span, cpu


def stop_all(x, vms):
    def stop(vm):
        s, sid = login(x)
        if s.VM.get_power_state(sid, vm)["Value"] != "Halted":
            s.VM.hard_shutdown(sid, vm)

    threads = [threading.Thread(target=stop, args=(vm,)) for vm, _ in vms]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def raw_argv(x, uuid, d):
    """The QEMU command line xapid used, with the disks on it as xapid
    attaches them (TCG: no iothreads), in dir d."""
    vmdir = os.path.join(x.state, "vms", uuid)
    st = json.load(open(os.path.join(vmdir, "state.json")))
    pid = int(open(os.path.join(vmdir, "pid")).read().split()[0])
    argv = [w.decode() for w in open("/proc/%d/cmdline" % pid, "rb").read().split(b"\0")[:-1]]
    a = [w.replace(vmdir, d) for w in argv if w != "-S"]
    for disk, port in zip(st["spec"]["disks"], st["disk_port"]):
        i = disk["id"]
        a += ["-blockdev", json.dumps({"driver": "file", "filename": disk["path"],
                                       "node-name": i + "-file", "read-only": False,
                                       "cache": {"direct": True, "no-flush": False},
                                       "aio": "io_uring", "discard": "unmap"}),
              "-blockdev", json.dumps({"driver": disk["format"], "node-name": i + "-fmt",
                                       "file": i + "-file", "read-only": False,
                                       "cache": {"direct": True, "no-flush": False},
                                       "discard": "unmap"}),
              "-device", json.dumps({"driver": "virtio-blk-pci", "id": i, "drive": i + "-fmt",
                                     "serial": str(disk["userdevice"]),
                                     "bus": "pb%d" % ((port - 1) // 31 + 1),
                                     "addr": "0x%x" % ((port - 1) % 31 + 1),
                                     "disable-legacy": "on"})]
    return a


def raw_storm(argvs, tmp):
    procs = []
    t0 = time.time()
    try:
        for i, a in enumerate(argvs):
            err = open(os.path.join(tmp, "raw%d" % i, "qemu.err"), "w")
            procs.append(subprocess.Popen(a, stdout=subprocess.DEVNULL, stderr=err))
        dirs = [os.path.join(tmp, "raw%d" % i) for i in range(len(argvs))]
        try:
            up = max(wait_up(os.path.join(d, "console.log"), 0, t0 + 600) for d in dirs)
        except RuntimeError:
            for d in dirs:
                sys.stderr.write(open(os.path.join(d, "qemu.err")).read())
            raise
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()
    return up - t0


tmp = tempfile.mkdtemp(prefix="xapid-vbdplug.")
x = Xapid("vbdplug", tmp=tmp)
vms = []
try:
    x.start()
    vms = setup(x)
    par = storm(x, vms)
    print("parallel: total %.2f s, attaching %.2f s (sum %.2f s, span %.2f s, QEMU CPU %.2f s)"
          % par, flush=True)
    argvs = []
    for i, (_, u) in enumerate(vms):
        d = os.path.join(tmp, "raw%d" % i)
        os.makedirs(d)
        argvs.append(raw_argv(x, u, d))
    stop_all(x, vms)
    x.stop()
    x.args = ["--worker-pool-size", "1", "--parallel-chunk", "1"]
    x.start()
    ser = storm(x, vms)
    print("parallelism 1: total %.2f s, attaching %.2f s (sum %.2f s, span %.2f s, "
          "QEMU CPU %.2f s)" % ser, flush=True)
    stop_all(x, vms)
    raw = raw_storm(argvs, tmp)
finally:
    try:
        if x.proc:
            stop_all(x, vms)
    except Exception:
        pass
    x.stop()
    shutil.rmtree(tmp, ignore_errors=True)

print("%d VMs x %d VBDs started at once (TCG, %d MiB each)" % (NVMS, NDISKS, MEM >> 20))
print("time attaching disks (wall clock, any VM attaching): parallel %.2f s, "
      "parallelism 1 %.2f s -> %.1fx less (goal >= 4x)" % (par[1], ser[1], ser[1] / par[1]))
print("sum of the per-VM disk-attach phases: parallel %.2f s, parallelism 1 %.2f s"
      % (par[2], ser[2]))
print("first attach to last: parallel %.2f s, parallelism 1 %.2f s" % (par[3], ser[3]))
print("QEMU CPU used by the attach phases: parallel %.2f s, parallelism 1 %.2f s; on %d cores "
      "the parallel attach cannot take less than %.2f s (at best %.1fx less than parallelism 1)"
      % (par[4], ser[4], NCPU, par[4] / NCPU, ser[1] / max(par[4] / NCPU, 1e-3)))
print("total until every guest is up: parallel %.2f s, parallelism 1 %.2f s, raw QEMU storm "
      "%.2f s -> xapid/raw %.2fx (goal <= 1.3x)" % (par[0], ser[0], raw, par[0] / raw))
