#!/usr/bin/env python3
"""VM.start until the guest is up, against the same QEMU command launched by
hand, and (when libvirt is installed) `virsh create` of an equivalent domain.
All in one run, same guest (tools/build-guest.sh), TCG.
  bench/bench_vm_start.py [RUNS]
Goal: xapid <= 1.15 x raw QEMU, and faster than libvirt."""
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import xmlrpc.client

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))
os.environ.setdefault("XAPID", os.path.join(TOP, "build/xapid"))
from xapidtest import Xapid  # noqa: E402

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
CACHE = os.environ.get("XAPID_GUEST_CACHE", "/var/cache/xapid/guest")
subprocess.run(["bash", os.path.join(TOP, "tools/build-guest.sh"), CACHE], check=True,
               stdout=subprocess.DEVNULL)
os.environ["XAPID_GUEST_CACHE"] = CACHE


def wait_marker(path, offset, marker=b"GUEST-UP", timeout=120):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with open(path, "rb") as f:
                f.seek(offset)
                if marker in f.read():
                    return time.time()
        except OSError:
            pass
        time.sleep(0.005)
    raise RuntimeError("no %s in %s" % (marker, path))


def size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


x = Xapid("bench").start()
tmp = tempfile.mkdtemp(prefix="xapid-vmstart.")
ours, raw, virt = [], [], []
argv = None
try:
    s = xmlrpc.client.ServerProxy(x.url)
    sid = s.session.login_with_password("root", x.password)["Value"]
    tpl = s.VM.get_by_name_label(sid, "xapid test guest")["Value"][0]
    vm = s.VM.clone(sid, tpl, "bench")["Value"]
    s.VM.set_is_a_template(sid, vm, False)
    uuid = s.VM.get_uuid(sid, vm)["Value"]
    console = os.path.join(x.state, "vms", uuid, "console.log")
    for i in range(RUNS):
        off = size(console)
        t0 = time.time()
        r = s.VM.start(sid, vm, False, False)
        assert r["Status"] == "Success", r
        ours.append(wait_marker(console, off) - t0)
        if argv is None:
            pid = int(open(os.path.join(x.state, "vms", uuid, "pid")).read().split()[0])
            argv = open("/proc/%d/cmdline" % pid, "rb").read().split(b"\0")[:-1]
        s.VM.hard_shutdown(sid, vm)
    # the same command by hand: own console/sockets, no -S
    for i in range(RUNS):
        d = os.path.join(tmp, "raw%d" % i)
        os.makedirs(d)
        a = []
        for w in argv:
            w = w.decode()
            if w == "-S":
                continue
            a.append(w.replace(os.path.join(x.state, "vms", uuid), d))
        t0 = time.time()
        p = subprocess.Popen(a, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            raw.append(wait_marker(os.path.join(d, "console.log"), 0) - t0)
        finally:
            p.kill()
            p.wait()
    if shutil.which("virsh") and os.environ.get("XAPID_BENCH_LIBVIRT_URI"):
        uri = os.environ["XAPID_BENCH_LIBVIRT_URI"]
        for i in range(RUNS):
            log = os.path.join(tmp, "virt%d.log" % i)
            xml = os.path.join(tmp, "dom%d.xml" % i)
            open(xml, "w").write("""<domain type='qemu'><name>xbench%d</name><memory unit='MiB'>256</memory>
<vcpu>1</vcpu><os><type arch='x86_64' machine='q35'>hvm</type><kernel>%s/vmlinux</kernel>
<initrd>%s/initramfs.cpio.gz</initrd><cmdline>console=ttyS0 quiet</cmdline></os>
<devices><serial type='file'><source path='%s'/></serial><memballoon model='none'/></devices></domain>"""
                                 % (i, CACHE, CACHE, log))
            t0 = time.time()
            subprocess.run(["virsh", "-c", uri, "create", xml], check=True, stdout=subprocess.DEVNULL)
            try:
                virt.append(wait_marker(log, 0) - t0)
            finally:
                subprocess.run(["virsh", "-c", uri, "destroy", "xbench%d" % i],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
finally:
    # a guest left running by a failed run would outlive xapid by design
    try:
        s.VM.hard_shutdown(sid, vm)
    except Exception:
        pass
    x.cleanup()
    shutil.rmtree(tmp, ignore_errors=True)


def fmt(v):
    return "min %.2f / median %.2f / max %.2f s" % (min(v), statistics.median(v), max(v))


print("VM.start -> GUEST-UP (xapid, %d runs): %s" % (RUNS, fmt(ours)))
print("same QEMU command by hand -> GUEST-UP:  %s" % fmt(raw))
print("ratio xapid / raw QEMU (medians): %.2f (goal <= 1.15)" % (statistics.median(ours) / statistics.median(raw)))
if virt:
    print("virsh create -> GUEST-UP:             %s" % fmt(virt))
    print("ratio xapid / libvirt (medians): %.2f (goal < 1)" % (statistics.median(ours) / statistics.median(virt)))
else:
    print("libvirt: not measured (install libvirt and set XAPID_BENCH_LIBVIRT_URI; see reference/peers.md)")
