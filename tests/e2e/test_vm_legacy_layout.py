#!/usr/bin/env python3
"""A VM left running by an older xapid, whose QEMU has one PCIe root port
per disk and no disk bridges: the restarted xapid re-attaches to it, and
refuses disk hot-plug (and migration) in it with a clear error instead of
addressing bridges it does not have; a reboot gives it a fresh QEMU with
the current layout, after which hot-plug works. The old QEMU is made here
from the command line xapid uses, with the disks moved onto root ports as
the older xapid put them, and the state files it wrote (no "layout")."""
import json
import os
import signal
import subprocess
import sys
import time
import xmlrpc.client

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xapidtest import TOP, Tap, Xapid  # noqa: E402

CACHE = os.environ.get("XAPID_GUEST_CACHE", "/var/cache/xapid/guest")
t = Tap()
if subprocess.run(["bash", os.path.join(TOP, "tools/build-guest.sh"), CACHE],
                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0:
    t.ok(False, "test guest builds")
    sys.exit(t.done())
os.environ["XAPID_GUEST_CACHE"] = CACHE
x = Xapid("ll1", args=["--vm-backend", "qemu", "--bridge-prefix", "xll%d" % (os.getpid() % 10000)])
pids = []


def err(r):
    return r.get("ErrorDescription", ["none"]) if r["Status"] != "Success" else ["none"]


def vbd_rec(vm, vdi, userdevice):
    return {"VM": vm, "VDI": vdi, "userdevice": userdevice, "bootable": False, "mode": "RW",
            "type": "Disk", "empty": False, "other_config": {}, "qos_algorithm_type": "",
            "qos_algorithm_params": {}}


def cmdline(pid):
    try:
        return [w.decode() for w in open("/proc/%d/cmdline" % pid, "rb").read().split(b"\0")[:-1]]
    except OSError:
        return []


def starttime(pid):
    return int(open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[19])


def gone(pid, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if not os.path.exists("/proc/%d" % pid):
            return True
        time.sleep(0.05)
    return False


def qemu_pid(vmdir):
    return int(open(os.path.join(vmdir, "pid")).read().split()[0])


try:
    x.start()
    s = xmlrpc.client.ServerProxy(x.url)
    sid = s.session.login_with_password("root", x.password)["Value"]
    sr = [r for r in s.SR.get_all(sid)["Value"]
          if s.SR.get_type(sid, r)["Value"] in ("ext", "file")][0]

    def vdi(name):
        return s.VDI.create(sid, {"name_label": name, "name_description": "", "SR": sr,
                                  "virtual_size": str(16 << 20), "type": "user",
                                  "sharable": False, "read_only": False,
                                  "other_config": {}})["Value"]

    tpl = s.VM.get_by_name_label(sid, "xapid test guest")["Value"][0]
    vm = s.VM.clone(sid, tpl, "legacy")["Value"]
    s.VM.set_is_a_template(sid, vm, False)
    uuid = s.VM.get_uuid(sid, vm)["Value"]
    s.VBD.create(sid, vbd_rec(vm, vdi("d1"), "1"))
    t.eq(err(s.VM.start(sid, vm, False, False)), ["none"], "the VM starts")
    vmdir = os.path.join(x.state, "vms", uuid)
    st = json.load(open(os.path.join(vmdir, "state.json")))
    pid = qemu_pid(vmdir)
    argv = cmdline(pid)
    t.eq(st.get("layout"), 2, "xapid records its layout in state.json")

    # what an older xapid left: the QEMU with a root port per disk
    x.stop()
    os.kill(pid, signal.SIGKILL)
    t.ok(gone(pid, 30), "its QEMU is gone")
    old, skip = [], False
    for i, w in enumerate(argv):
        if skip:
            skip = False
        elif w == "-device" and "pcie-pci-bridge" in argv[i + 1]:
            skip = True
        elif w != "-S":
            old.append(w)
    ports = []
    for k, d in enumerate(d for d in st["spec"]["disks"] if not d.get("cdrom")):
        i = d["id"]
        ports.append(k + 1)
        old += ["-blockdev", json.dumps({"driver": "file", "filename": d["path"],
                                         "node-name": i + "-file"}),
                "-blockdev", json.dumps({"driver": d["format"], "node-name": i + "-fmt",
                                         "file": i + "-file"}),
                "-device", json.dumps({"driver": "virtio-blk-pci", "id": i, "drive": i + "-fmt",
                                       "serial": str(d["userdevice"]), "bus": "rp%d" % (k + 1)})]
    p = subprocess.Popen(old, stdout=subprocess.DEVNULL,
                         stderr=open(os.path.join(x.tmp, "legacy-qemu.err"), "w"))
    pids.append(p.pid)
    time.sleep(0.5)
    st["pid"] = p.pid
    st["starttime"] = starttime(p.pid)
    st["disk_port"] = ports
    del st["layout"]
    json.dump(st, open(os.path.join(vmdir, "state.json"), "w"))
    open(os.path.join(vmdir, "pid"), "w").write("%d %d\n" % (p.pid, st["starttime"]))
    t.ok(p.poll() is None, "a QEMU with the old layout runs",
         open(os.path.join(x.tmp, "legacy-qemu.err")).read())

    x.start()
    s = xmlrpc.client.ServerProxy(x.url)
    sid = s.session.login_with_password("root", x.password)["Value"]
    t.eq(s.VM.get_power_state(sid, vm)["Value"], "Running", "xapid re-attaches to it")
    t.eq(qemu_pid(vmdir), p.pid, "the same QEMU")
    log = open(os.path.join(x.state, "xapid.log")).read()
    t.ok("layout of an older xapid" in log, "the log says what it found")
    extra = s.VBD.create(sid, vbd_rec(vm, vdi("d2"), "2"))["Value"]
    e = err(s.VBD.plug(sid, extra))
    t.ok(e[0] == "INTERNAL_ERROR" and "older xapid" in " ".join(e) and "reboot" in " ".join(e),
         "disk hot-plug is refused, saying why and what to do", e)
    t.eq(s.VBD.get_currently_attached(sid, extra)["Value"], False, "the VBD stays unplugged")
    t.ok(p.poll() is None, "and the VM runs on")
    t.eq(err(s.VM.hard_reboot(sid, vm)), ["none"], "hard reboot")
    try:
        t.ok(p.wait(30) is not None, "the old QEMU is gone")  # our child: reaped here
    except subprocess.TimeoutExpired:
        t.ok(False, "the old QEMU is gone")
    new = qemu_pid(vmdir)
    pids.append(new)
    t.ok(new != p.pid and any("pcie-pci-bridge" in w for w in cmdline(new)),
         "a fresh QEMU with the disk bridges")
    t.eq(json.load(open(os.path.join(vmdir, "state.json"))).get("layout"), 2,
         "state.json says so")
    t.eq(err(s.VBD.plug(sid, extra)), ["none"], "now hot-plug works")
    t.eq(err(s.VM.hard_shutdown(sid, vm)), ["none"], "hard shutdown")
finally:
    x.stop()
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    x.cleanup()
sys.exit(t.done())
