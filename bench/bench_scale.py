#!/usr/bin/env python3
"""Control-plane scale: 10,000 VMs and 40,000 VBDs in the database.

Builds the database through the real restore path (PUT /pool/xmldbdump of a
dump made by xapid itself and grown by copying rows), then measures:
  - `xe vm-list params=uuid,name-label` (goal < 0.3 s)
  - VM.get_all_records over XML-RPC (goal < 0.5 s)
  - xapid resident memory (goal < 200 MiB)
  - start-up: loading the database from dqlite (goal < 2 s)
Peers in the same run: `cat` of the dump file, Python's own XML-RPC parse of
the get_all_records answer.
  bench/bench_scale.py [NVMS] [VBDS_PER_VM]
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
import xmlrpc.client

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))
os.environ.setdefault("XAPID", os.path.join(TOP, "build/xapid"))
os.environ.setdefault("XE", os.path.join(TOP, "build/xe"))
from xapidtest import Xapid  # noqa: E402

NVMS = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
NVBD = int(sys.argv[2]) if len(sys.argv) > 2 else 4
XE = os.environ["XE"]


def rss_kib(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def timed(fn, n=3):
    best = None
    for _ in range(n):
        t0 = time.time()
        out = fn()
        dt = time.time() - t0
        best = dt if best is None else min(best, dt)
    return best, out


x = Xapid("scale").start()
try:
    s = xmlrpc.client.ServerProxy(x.url)
    sid = s.session.login_with_password("root", x.password)["Value"]
    vm = s.VM.create(sid, {"name_label": "seed-vm", "name_description": "", "user_version": "1",
                           "is_a_template": False})["Value"]
    vdi_sr = s.SR.get_all(sid)["Value"]
    vbd = s.VBD.create(sid, {"VM": vm, "VDI": "OpaqueRef:NULL", "userdevice": "0", "bootable": True,
                             "mode": "RW", "type": "Disk", "unpluggable": True, "empty": True,
                             "other_config": {}, "qos_algorithm_type": "", "qos_algorithm_params": {}})["Value"]
    dump = urllib.request.urlopen("%s/pool/xmldbdump?session_id=%s" % (x.url, sid)).read().decode()
    # grow: copy the seed VM row and its VBD row
    vm_row = re.search(r'<row ref="%s"[^>]*/>' % re.escape(vm), dump).group(0)
    vbd_row = re.search(r'<row ref="%s"[^>]*/>' % re.escape(vbd), dump).group(0)
    vm_uuid = s.VM.get_uuid(sid, vm)["Value"]
    vbd_uuid = s.VBD.get_uuid(sid, vbd)["Value"]
    vm_rows, vbd_rows = [], []
    for i in range(NVMS):
        vref, vu = "OpaqueRef:%s" % uuid.uuid4(), str(uuid.uuid4())
        brefs = ["OpaqueRef:%s" % uuid.uuid4() for _ in range(NVBD)]
        r = vm_row.replace(vm, vref).replace(vm_uuid, vu).replace("seed-vm", "vm-%05d" % i)
        r = re.sub(r'VBDs="[^"]*"', 'VBDs="(%s)"' % "%.".join("'%s'" % b for b in brefs), r)
        vm_rows.append(r)
        for b in brefs:
            vbd_rows.append(vbd_row.replace(vbd, b).replace(vbd_uuid, str(uuid.uuid4())).replace(vm, vref))
    dump = dump.replace(vm_row, "".join(vm_rows)).replace(vbd_row, "".join(vbd_rows))
    path = os.path.join(x.tmp, "big.xml")
    open(path, "w").write(dump)
    t0 = time.time()
    req = urllib.request.Request("%s/pool/xmldbdump?session_id=%s&dry_run=false" % (x.url, sid),
                                 data=dump.encode(), method="PUT")
    urllib.request.urlopen(req).read()
    t_restore = time.time() - t0
    sid = s.session.login_with_password("root", x.password)["Value"]
    n = len(s.VM.get_all(sid)["Value"])
    print("database: %d VMs (incl. templates/dom0), %d VBDs, dump %.1f MB, restore %.2f s"
          % (n, len(s.VBD.get_all(sid)["Value"]), len(dump) / 1e6, t_restore))

    env = dict(os.environ, XAPI_SOCKET=x.sock)
    t_xe, out = timed(lambda: subprocess.run([XE, "vm-list", "params=uuid,name-label"], env=env,
                                             capture_output=True).stdout)
    t_xe_min, _ = timed(lambda: subprocess.run([XE, "vm-list", "params=uuid", "--minimal"], env=env,
                                               capture_output=True).stdout)
    body = xmlrpc.client.dumps((sid,), "VM.get_all_records").encode()

    def get_all():
        req = urllib.request.Request(x.url + "/", data=body, headers={"Content-Type": "text/xml"})
        return urllib.request.urlopen(req).read()
    t_rec, raw = timed(get_all)
    t_parse, _ = timed(lambda: xmlrpc.client.loads(raw), 1)
    t_cat, _ = timed(lambda: subprocess.run(["cat", path], capture_output=True).stdout)
    rss = rss_kib(x.proc.pid)
    x.stop()
    t0 = time.time()
    x.start()
    s = xmlrpc.client.ServerProxy(x.url)
    for _ in range(1000):
        try:
            s.session.login_with_password("root", x.password)
            break
        except Exception:
            time.sleep(0.01)
    t_start = time.time() - t0
    rss2 = rss_kib(x.proc.pid)
    print("xe vm-list params=uuid,name-label: %.3f s (%d lines; goal < 0.3 s)" % (t_xe, out.count(b"\n")))
    print("xe vm-list params=uuid --minimal:  %.3f s" % t_xe_min)
    print("VM.get_all_records over XML-RPC:   %.3f s (%.1f MB; goal < 0.5 s); python parse of it %.3f s"
          % (t_rec, len(raw) / 1e6, t_parse))
    print("peer: cat of the %.1f MB dump: %.3f s" % (len(dump) / 1e6, t_cat))
    print("xapid RSS after the calls: %.0f MiB; after restart: %.0f MiB (goal < 200 MiB)"
          % (rss / 1024, rss2 / 1024))
    print("start-up with the database (to first login): %.2f s (goal < 2 s)" % t_start)
finally:
    print([l for l in x.output().splitlines() if "database loaded" in l][-1:])
    x.cleanup()
