#!/usr/bin/env python3
"""Snapshots and disk I/O of a running guest (tools/build-guest.sh, TCG), each
beside a peer measured in the same run.

1. Snapshot + delete cycle on a running VM (VM.snapshot, then the snapshot and
   its disk destroyed, which coalesces the chain live), and the length of the
   VM's disk chain after every cycle; peer: the same steps by hand on the same
   QEMU command line (qemu-img create of the overlay, blockdev-add +
   blockdev-snapshot, then block-stream and rm), and `qemu-img snapshot -c/-d`
   (internal snapshot) on a copy of the image, offline.
2. 4 KiB random reads at queue depth 1 with O_DIRECT inside the guest
   (tools/guest/randread.c: the guest has no fio) on its data disk, against fio
   on the host reading the same image file with the same pattern.
  bench/bench_snapshot.py [CYCLES] [IO_SECONDS]
Goal (issue #5): the guest's IOPS >= 0.8 x the host's under KVM. Under TCG
every guest instruction is emulated: the figure is printed as measured."""
import base64
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import xmlrpc.client

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))
sys.path.insert(0, os.path.join(TOP, "tools"))
os.environ.setdefault("XAPID", os.path.join(TOP, "build/xapid"))
from xapidtest import Xapid  # noqa: E402
import qmp_probe  # noqa: E402

CYCLES = int(sys.argv[1]) if len(sys.argv) > 1 else 10
IO_SECONDS = float(sys.argv[2]) if len(sys.argv) > 2 else 10
DISK_MB = 512
CACHE = os.environ.get("XAPID_GUEST_CACHE", "/var/cache/xapid/guest")
subprocess.run(["bash", os.path.join(TOP, "tools/build-guest.sh"), CACHE], check=True,
               stdout=subprocess.DEVNULL)
os.environ["XAPID_GUEST_CACHE"] = CACHE


def wait_for(fn, timeout=180, what="condition"):
    end = time.time() + timeout
    while time.time() < end:
        try:
            r = fn()
            if r:
                return r
        except (OSError, RuntimeError, EOFError, qmp_probe.Timeout, ValueError, IndexError):
            pass
        time.sleep(0.2)
    raise RuntimeError("timed out waiting for " + what)


def chain_len(path):
    out = subprocess.run(["qemu-img", "info", "-U", "--backing-chain", "--output=json", path],
                         check=True, capture_output=True, text=True).stdout
    return len(json.loads(out))


class Qmp:
    """A QMP connection (commands and events) to a QEMU started by hand."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        wait_for(lambda: self.s.connect(path) or True, 30, "QMP socket")
        self.f = self.s.makefile("rw")
        self.events = []
        self.f.readline()
        self.cmd("qmp_capabilities")

    def read(self):
        m = json.loads(self.f.readline())
        if "event" in m:
            self.events.append(m)
        return m

    def cmd(self, name, args=None):
        m = {"execute": name}
        if args is not None:
            m["arguments"] = args
        self.f.write(json.dumps(m) + "\n")
        self.f.flush()
        while True:
            r = self.read()
            if "return" in r:
                return r["return"]
            if "error" in r:
                raise RuntimeError("%s: %s" % (name, r["error"]))

    def wait_event(self, name):
        while True:
            for i, e in enumerate(self.events):
                if e["event"] == name:
                    return self.events.pop(i)
            self.read()


def guest_exec(sock, cmd, timeout=300):
    c = qmp_probe.qga_open(sock, time.monotonic() + 600)
    try:
        r = qmp_probe.qga_cmd(c, "guest-exec", {"path": "/bin/sh", "arg": ["-c", cmd],
                                                "capture-output": True})
        end = time.time() + timeout
        while time.time() < end:
            st = qmp_probe.qga_cmd(c, "guest-exec-status", {"pid": r["pid"]})
            if st.get("exited"):
                return (base64.b64decode(st.get("out-data", "")).decode() +
                        base64.b64decode(st.get("err-data", "")).decode(), st.get("exitcode"))
            time.sleep(0.2)
        raise RuntimeError("guest command did not finish: " + cmd)
    finally:
        c.close()


def guest_put(sock, path, data):
    c = qmp_probe.qga_open(sock, time.monotonic() + 600)
    try:
        h = qmp_probe.qga_cmd(c, "guest-file-open", {"path": path, "mode": "w"})
        for i in range(0, len(data), 32768):
            qmp_probe.qga_cmd(c, "guest-file-write", {
                "handle": h, "buf-b64": base64.b64encode(data[i:i + 32768]).decode()})
        qmp_probe.qga_cmd(c, "guest-file-close", {"handle": h})
    finally:
        c.close()


def fmt(v, unit="s"):
    return "min %.3f / median %.3f / max %.3f %s" % (min(v), statistics.median(v), max(v), unit)


tmp = tempfile.mkdtemp(prefix="xapid-bsnap.")
reader = os.path.join(tmp, "randread")
subprocess.run(["cc", "-static", "-O2", "-o", reader, os.path.join(TOP, "tools/guest/randread.c")],
               check=True)
x = Xapid("bsnap").start()
s = xmlrpc.client.ServerProxy(x.url)
sid = s.session.login_with_password("root", x.password)["Value"]
ours, chains, hand, internal = [], [], [], []
vm = None
qemu = None
try:
    tpl = s.VM.get_by_name_label(sid, "xapid test guest")["Value"][0]
    vm = s.VM.clone(sid, tpl, "bench-snap")["Value"]
    s.VM.set_is_a_template(sid, vm, False)
    uuid = s.VM.get_uuid(sid, vm)["Value"]
    sr = s.pool.get_default_SR(sid, s.pool.get_all(sid)["Value"][0])["Value"]
    vdi = s.VDI.create(sid, {"SR": sr, "name_label": "data", "virtual_size": str(DISK_MB << 20),
                             "type": "user", "sharable": False, "read_only": False,
                             "other_config": {}})["Value"]
    disk = os.path.join(x.state, "sr-local", s.VDI.get_location(sid, vdi)["Value"] + ".qcow2")
    # every cluster allocated: reads hit data on both sides
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 %dM" % DISK_MB, disk],
                   check=True, stdout=subprocess.DEVNULL)
    s.VBD.create(sid, {"VM": vm, "VDI": vdi, "userdevice": "1", "bootable": False, "mode": "RW",
                       "type": "Disk", "empty": False, "other_config": {},
                       "qos_algorithm_type": "", "qos_algorithm_params": {}})
    r = s.VM.start(sid, vm, False, False)
    assert r["Status"] == "Success", r
    vmdir = os.path.join(x.state, "vms", uuid)
    qga = os.path.join(vmdir, "qga.sock")
    wait_for(lambda: b"QGA-UP" in open(os.path.join(vmdir, "console.log"), "rb").read(), 180,
             "the guest")

    # 1a. snapshot + delete cycles through xapid
    for i in range(CYCLES):
        t0 = time.time()
        snap = s.VM.snapshot(sid, vm, "cycle%d" % i, [])["Value"]
        vdis = [s.VBD.get_VDI(sid, b)["Value"] for b in s.VM.get_VBDs(sid, snap)["Value"]]
        s.VM.destroy(sid, snap)
        for v in vdis:
            if v != "OpaqueRef:NULL":
                r = s.VDI.destroy(sid, v)
                assert r["Status"] == "Success", r
        ours.append(time.time() - t0)
        chains.append(chain_len(disk))

    for w in [ln for ln in x.output().splitlines() if "coalesce" in ln and "failed" in ln][:3]:
        print("# xapid: " + w)
    # 2. guest random reads, then fio on the host on the same file
    guest_put(qga, "/tmp/randread", open(reader, "rb").read())
    out, rc = guest_exec(qga, "chmod +x /tmp/randread && /tmp/randread /dev/vda %g" % IO_SECONDS)
    assert rc == 0, out
    guest_iops = float(out.split()[1])
    s.VM.hard_shutdown(sid, vm)
    fio = subprocess.run(["fio", "--name=host", "--filename=" + disk, "--rw=randread", "--bs=4k",
                          "--direct=1", "--ioengine=psync", "--iodepth=1", "--size=%dM" % DISK_MB,
                          "--runtime=%g" % IO_SECONDS, "--time_based", "--output-format=json"],
                         check=True, capture_output=True, text=True).stdout
    host_iops = json.loads(fio)["jobs"][0]["read"]["iops"]
    host_reader = float(subprocess.run([reader, disk, "%g" % IO_SECONDS], check=True,
                                       capture_output=True, text=True).stdout.split()[1])

    # 1b. the same cycle by hand on a QEMU with the same disk setup, a fresh
    # one per cycle (started untimed)
    hd = os.path.join(tmp, "hand")
    os.makedirs(hd)
    hdisk = os.path.join(hd, "disk.qcow2")
    shutil.copy(disk, hdisk)
    # the disk as xapid attaches it (O_DIRECT, native AIO, iothread), vCPUs stopped
    a = ["qemu-system-x86_64", "-M", "q35", "-S", "-nodefaults", "-display", "none",
         "-qmp", "unix:%s/qmp.sock,server=on,wait=off" % hd, "-object", "iothread,id=io1",
         "-blockdev", json.dumps({"driver": "file", "filename": hdisk, "node-name": "vbd1-file",
                                  "cache": {"direct": True, "no-flush": False},
                                  "aio": "native"}),
         "-blockdev", json.dumps({"driver": "qcow2", "file": "vbd1-file", "node-name": "vbd1-fmt",
                                  "cache": {"direct": True, "no-flush": False}}),
         "-device", "virtio-blk-pci,drive=vbd1-fmt,id=vbd1,iothread=io1"]
    for i in range(CYCLES):
        qemu = subprocess.Popen(a, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sock = os.path.join(hd, "qmp.sock")
        if os.path.exists(sock):
            os.unlink(sock)  # the previous QEMU's
        q = Qmp(sock)
        top = wait_for(lambda: [b["inserted"]["node-name"] for b in q.cmd("query-block")
                                if "vbd1" in b.get("qdev", "") and "inserted" in b][0],
                       60, "the disk of the hand-started QEMU")
        t0 = time.time()
        base = os.path.join(hd, "base%d.qcow2" % i)
        os.rename(hdisk, base)
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b",
                        os.path.basename(base), "-F", "qcow2", hdisk, "%dM" % DISK_MB], check=True)
        q.cmd("blockdev-add", {"driver": "qcow2", "node-name": "h%d" % i, "backing": None,
                               "file": {"driver": "file", "filename": hdisk,
                                        "node-name": "hf%d" % i}})
        q.cmd("blockdev-snapshot", {"node": top, "overlay": "h%d" % i})
        q.cmd("block-stream", {"job-id": "s%d" % i, "device": "h%d" % i})
        ev = q.wait_event("BLOCK_JOB_COMPLETED")
        if "error" in ev.get("data", {}):
            raise RuntimeError("block-stream: %s" % ev["data"]["error"])
        os.unlink(base)
        hand.append(time.time() - t0)
        q.cmd("quit")
        qemu.wait()
        qemu = None
    img = os.path.join(tmp, "internal.qcow2")
    shutil.copy(disk, img)
    for i in range(CYCLES):
        t0 = time.time()
        subprocess.run(["qemu-img", "snapshot", "-c", "s%d" % i, img], check=True)
        subprocess.run(["qemu-img", "snapshot", "-d", "s%d" % i, img], check=True)
        internal.append(time.time() - t0)
finally:
    if qemu:
        qemu.kill()
        qemu.wait()
    if vm:
        try:
            s.VM.hard_shutdown(sid, vm)
        except Exception:
            pass
    x.cleanup()
    shutil.rmtree(tmp, ignore_errors=True)

print("snapshot + delete of a running VM, %d MiB disk, %d cycles:" % (DISK_MB, CYCLES))
print("  xapid (VM.snapshot, VM.destroy + VDI.destroy, live coalesce): %s" % fmt(ours))
print("  by hand (qemu-img create, blockdev-snapshot, block-stream, rm; vCPUs stopped): %s" % fmt(hand))
print("  qemu-img snapshot -c / -d (internal, offline):                %s" % fmt(internal))
print("  ratio xapid / by hand (medians): %.2f" % (statistics.median(ours) / statistics.median(hand)))
print("  disk chain length after each cycle: %s (%s)" % (
    chains, "bounded" if max(chains) <= 2 else
    "NOT bounded: the live coalesce failed, see the xapid warnings above; the xapid "
    "times of those cycles lack the coalesce"))
print("4 KiB random reads, queue depth 1, O_DIRECT, %g s each:" % IO_SECONDS)
print("  guest (randread on its virtio-blk disk, iothread): %.0f IOPS" % guest_iops)
print("  host fio on the same image file:                     %.0f IOPS" % host_iops)
print("  host randread on the same file:                      %.0f IOPS" % host_reader)
print("  ratio guest / host fio: %.3f (goal >= 0.8 under KVM; this host runs TCG)" %
      (guest_iops / host_iops))
