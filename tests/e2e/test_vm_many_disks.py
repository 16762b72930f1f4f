#!/usr/bin/env python3
"""Many disks: xapi's 255 VBDs per VM (userdevice 0..254) through the API,
and a real guest (TCG) started with 40 disks, attached in parallel chunks
before its vCPUs run, that sees all of them; one more hot-plugged disk goes
on the disk bridges too and is seen, then goes away on unplug. The same
guest has VNC on request (platform:vnc=true): its rfb console record, and
the RFB banner read through xapid's /console relay."""
import os
import socket
import subprocess
import sys
import time
import xmlrpc.client

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xapidtest import TOP, Tap, Xapid  # noqa: E402

NDISKS = 40
CACHE = os.environ.get("XAPID_GUEST_CACHE", "/var/cache/xapid/guest")
t = Tap()
if subprocess.run(["bash", os.path.join(TOP, "tools/build-guest.sh"), CACHE],
                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0:
    t.ok(False, "test guest builds")
    sys.exit(t.done())
os.environ["XAPID_GUEST_CACHE"] = CACHE
x = Xapid("md1", args=["--vm-backend", "qemu", "--bridge-prefix", "xmd%d" % (os.getpid() % 10000)])
vm = None


def vbd_rec(vm, vdi, userdevice, cd=False):
    return {"VM": vm, "VDI": vdi, "userdevice": userdevice, "bootable": False,
            "mode": "RO" if cd else "RW", "type": "CD" if cd else "Disk", "empty": cd,
            "other_config": {}, "qos_algorithm_type": "", "qos_algorithm_params": {}}


def err(r):
    return r.get("ErrorDescription", ["none"]) if r["Status"] != "Success" else ["none"]


def disks_seen(console):
    try:
        lines = [ln for ln in open(console, errors="replace").read().splitlines()
                 if ln.startswith("DISKS:")]
    except OSError:
        return -1
    return len(lines[-1].split()) - 1 if lines else -1


def relay_read(x, sid, console_uuid, n):
    """n bytes from a console through /console (HTTP upgrade)."""
    c = socket.create_connection(("127.0.0.1", x.port), 30)
    c.sendall(("POST /console?uuid=%s&session_id=%s HTTP/1.1\r\nHost: x\r\n"
               "Connection: Upgrade\r\nUpgrade: xe-console\r\nContent-Length: 0\r\n\r\n"
               % (console_uuid, sid)).encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = c.recv(4096)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    while len(rest) < n:
        chunk = c.recv(4096)
        if not chunk:
            break
        rest += chunk
    c.close()
    return head.split(b"\r\n")[0].decode(errors="replace"), rest[:n]


def wait(cond, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.2)
    return False


try:
    x.start()
    s = xmlrpc.client.ServerProxy(x.url)
    sid = s.session.login_with_password("root", x.password)["Value"]
    tpl = s.VM.get_by_name_label(sid, "xapid test guest")["Value"][0]

    # the API: 255 VBDs, not one more (empty CD drives: no VDIs needed)
    api = s.VM.clone(sid, tpl, "api")["Value"]
    s.VM.set_is_a_template(sid, api, False)
    results = [s.VBD.create(sid, vbd_rec(api, "OpaqueRef:NULL", str(n), cd=True))
               for n in range(255)]
    t.ok(all(r["Status"] == "Success" for r in results), "255 VBDs (userdevice 0..254)",
         [err(r) for r in results if r["Status"] != "Success"][:3])
    t.eq(err(s.VBD.create(sid, vbd_rec(api, "OpaqueRef:NULL", "autodetect", cd=True))),
         ["INVALID_DEVICE", "autodetect"], "the 256th (autodetect) is refused as xapi does")
    t.eq(err(s.VBD.create(sid, vbd_rec(api, "OpaqueRef:NULL", "255", cd=True))),
         ["INVALID_DEVICE", "255"], "userdevice 255 is refused")
    t.eq(len(s.VM.get_VBDs(sid, api)["Value"]), 255, "and the VM still has 255 VBDs")
    t.eq(err(s.VBD.create(sid, vbd_rec(api, "OpaqueRef:NULL", "xvdc", cd=True))),
         ["DEVICE_ALREADY_EXISTS", "xvdc"], "xvdc is userdevice 2, taken")
    other = s.VM.clone(sid, tpl, "api2")["Value"]
    r = s.VBD.create(sid, vbd_rec(other, "OpaqueRef:NULL", "autodetect", cd=True))
    t.eq(s.VBD.get_userdevice(sid, r.get("Value", ""))["Value"] if r["Status"] == "Success"
         else err(r), "0", "autodetect takes the first free userdevice")
    rec = vbd_rec(other, "OpaqueRef:NULL", "1")
    rec["empty"] = True
    t.eq(err(s.VBD.create(sid, rec)), ["VBD_NOT_REMOVABLE_MEDIA", "in constructor"],
         "only CDs may be empty")
    rec = vbd_rec(other, "OpaqueRef:NULL", "1", cd=True)
    rec["mode"] = "RW"
    t.eq(err(s.VBD.create(sid, rec)), ["VBD_CDS_MUST_BE_READONLY"], "CDs are read-only")

    # a real guest with 40 disks
    vm = s.VM.clone(sid, tpl, "many")["Value"]
    s.VM.set_is_a_template(sid, vm, False)
    uuid = s.VM.get_uuid(sid, vm)["Value"]
    sr = [r for r in s.SR.get_all(sid)["Value"]
          if s.SR.get_type(sid, r)["Value"] in ("ext", "file")][0]
    for n in range(NDISKS + 1):
        vdi = s.VDI.create(sid, {"name_label": "d%d" % n, "name_description": "", "SR": sr,
                                 "virtual_size": str(8 << 20), "type": "user",
                                 "sharable": False, "read_only": False,
                                 "other_config": {}})["Value"]
        r = s.VBD.create(sid, vbd_rec(vm, vdi, str(n + 1)))
        if n == NDISKS:
            extra = r["Value"]
    s.VM.add_to_platform(sid, vm, "vnc", "true")
    t.eq(s.VM.get_consoles(sid, vm)["Value"], [], "a halted VM has no console")
    r = s.VM.start(sid, vm, False, False)
    t.eq(err(r), ["none"], "VM.start with %d disks (and one more defined)" % (NDISKS + 1))
    cons = {s.console.get_protocol(sid, c)["Value"]: s.console.get_record(sid, c)["Value"]
            for c in s.VM.get_consoles(sid, vm)["Value"]}
    t.eq(sorted(cons), ["rfb", "vt100"], "running: a serial (vt100) and a VNC (rfb) console")
    rfb = cons.get("rfb", {})
    t.ok(rfb.get("location", "").endswith("/console?uuid=" + rfb.get("uuid", "-")) and
         rfb.get("location", "").startswith("https://"), "the rfb console's location",
         rfb.get("location"))
    status, banner = relay_read(x, sid, rfb.get("uuid", ""), 12)
    t.eq((status.split(" ")[1:2], banner), (["101"], b"RFB 003.008\n"),
         "the RFB banner through the /console relay")
    console = os.path.join(x.state, "vms", uuid, "console.log")
    t.ok(wait(lambda: disks_seen(console) == NDISKS + 1, 300),
         "the guest sees all %d disks" % (NDISKS + 1), "seen %d" % disks_seen(console))
    log = open(os.path.join(x.state, "xapid.log")).read()
    t.ok("disk-attach phase: %d disks" % (NDISKS + 1) in log and "(chunks of 10)" in log,
         "the disks were attached in one phase, in chunks of 10",
         [ln for ln in log.splitlines() if "disk-attach" in ln])
    t.eq(err(s.VBD.unplug(sid, extra)), ["none"], "unplug one of them")
    t.ok(wait(lambda: disks_seen(console) == NDISKS, 120), "the guest sees it go",
         "seen %d" % disks_seen(console))
    t.eq(err(s.VBD.plug(sid, extra)), ["none"], "hot-plug it again")
    t.ok(wait(lambda: disks_seen(console) == NDISKS + 1, 120), "the guest sees it again",
         "seen %d" % disks_seen(console))
    t.eq(err(s.VM.hard_shutdown(sid, vm)), ["none"], "hard shutdown")
    t.eq(s.VM.get_consoles(sid, vm)["Value"], [], "and the consoles are gone")
    vm = None
finally:
    if vm:
        try:
            s.VM.hard_shutdown(sid, vm)
        except Exception:
            pass
    x.cleanup()
sys.exit(t.done())
