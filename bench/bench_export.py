#!/usr/bin/env python3
"""vdi-export raw / vhd and vdi-import raw / vhd of a 2 GiB disk holding 1 GiB of
data, against `cat` of the image file and `cp` of the raw file in the same
run (reference/peers.md). Goals: raw export >= 0.8 x cat, import likewise vs cp.
Then vm-export (XVA, uncompressed) of a VM with that disk vs the same `cat`
(goal >= 0.6) and vm-import of the XVA vs `cp` of the XVA file (+sync).
  bench/bench_export.py [SIZE_GIB] [WRITTEN_GIB]"""
import os
import statistics
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))
os.environ.setdefault("XAPID", os.path.join(TOP, "build/xapid"))
XE = os.environ.get("XE", os.path.join(TOP, "build/xe"))
from xapidtest import Xapid  # noqa: E402

SIZE = int(float(sys.argv[1]) * (1 << 30)) if len(sys.argv) > 1 else 2 << 30
WRITTEN = int(float(sys.argv[2]) * (1 << 30)) if len(sys.argv) > 2 else 1 << 30


def run(*a, **kw):
    return subprocess.run(list(a), check=True, capture_output=True, **kw)


def best(fn, n=3):
    ts = []
    for _ in range(n):
        t0 = time.time()
        fn()
        ts.append(time.time() - t0)
    return statistics.median(ts)


x = Xapid("exp").start()
try:
    env = dict(os.environ, XAPI_SOCKET=x.sock)
    xe = lambda *a: run(XE, *a, env=env).stdout.decode().strip()  # noqa: E731
    sr = xe("sr-list", "params=uuid", "--minimal")
    vdi = xe("vdi-create", "sr-uuid=" + sr, "name-label=bench", "virtual-size=%d" % SIZE)
    img = os.path.join(x.state, "sr-local", vdi + ".qcow2")
    # 1 GiB of non-zero data spread over the disk
    step = 64 << 20
    cmds = []
    for off in range(0, WRITTEN * 2, step * 2):
        if off + step <= SIZE:
            cmds += ["-c", "write -P 0x5a %d %d" % (off, step)]
    run("qemu-io", "-f", "qcow2", *cmds, img)
    out = os.path.join(x.tmp, "out")

    def export(fmt):
        if os.path.exists(out):
            os.unlink(out)
        xe("vdi-export", "uuid=" + vdi, "filename=" + out, "format=" + fmt)

    t_raw = best(lambda: export("raw"))
    raw_size = os.path.getsize(out)
    t_vhd = best(lambda: export("vhd"))
    t_cat = best(lambda: run("sh", "-c", "cat '%s' > /dev/null" % img))
    export("raw")
    dst = xe("vdi-create", "sr-uuid=" + sr, "name-label=dst", "virtual-size=%d" % SIZE)
    t_imp = best(lambda: xe("vdi-import", "uuid=" + dst, "filename=" + out, "format=raw"))
    cp_dst = os.path.join(x.tmp, "cp")
    t_cp = best(lambda: run("sh", "-c", "cp --sparse=always '%s' '%s' && sync" % (out, cp_dst)))
    vhd_out = os.path.join(x.tmp, "out.vhd")
    run(XE, "vdi-export", "uuid=" + vdi, "filename=" + vhd_out, "format=vhd", env=env)
    t_impv = best(lambda: xe("vdi-import", "uuid=" + dst, "filename=" + vhd_out, "format=vhd"))
    print("image %.1f GiB with %.1f GiB written (qcow2 file %.2f GiB)"
          % (SIZE / 2**30, WRITTEN / 2**30, os.path.getsize(img) / 2**30))
    print("vdi-export raw: %.2f s (%.0f MB/s of the %.1f GiB disk)" % (t_raw, raw_size / t_raw / 1e6, SIZE / 2**30))
    print("vdi-export vhd: %.2f s" % t_vhd)
    print("cat of the image file: %.2f s" % t_cat)
    print("ratio cat/export (raw): %.2f (goal >= 0.8), (vhd): %.2f" % (t_cat / t_raw, t_cat / t_vhd))
    print("vdi-import raw: %.2f s; cp of the raw file (+sync): %.2f s; ratio %.2f (goal >= 0.8)"
          % (t_imp, t_cp, t_cp / t_imp))
    print("vdi-import vhd: %.2f s; ratio cp/import %.2f" % (t_impv, t_cp / t_impv))

    # XVA: a VM with the disk, exported uncompressed and imported back
    vm = xe("vm-install", "template=Other install media", "new-name-label=bench-xva")
    xe("vbd-create", "vm-uuid=" + vm, "vdi-uuid=" + vdi, "device=0", "bootable=true")
    xva = os.path.join(x.tmp, "vm.xva")

    def vm_export():
        if os.path.exists(xva):
            os.unlink(xva)
        xe("vm-export", "vm=" + vm, "filename=" + xva)

    t_xexp = best(vm_export)
    t_cat2 = best(lambda: run("sh", "-c", "cat '%s' > /dev/null" % img))
    xva_size = os.path.getsize(xva)
    imported = []

    def vm_import():
        for u in imported:
            xe("vm-uninstall", "uuid=" + u, "force=true")
        imported[:] = [xe("vm-import", "filename=" + xva, "sr-uuid=" + sr)]

    t_ximp = best(vm_import)
    cp_xva = os.path.join(x.tmp, "cp.xva")
    t_cpx = best(lambda: run("sh", "-c", "cp '%s' '%s' && sync" % (xva, cp_xva)))
    print("vm-export xva: %.2f s (%.0f MB/s of the %.2f GiB XVA); cat of the image: %.2f s;"
          " ratio cat/export %.2f (goal >= 0.6)"
          % (t_xexp, xva_size / t_xexp / 1e6, xva_size / 2**30, t_cat2, t_cat2 / t_xexp))
    print("vm-import xva: %.2f s; cp of the XVA file (+sync): %.2f s; ratio cp/import %.2f"
          % (t_ximp, t_cpx, t_cpx / t_ximp))
finally:
    x.cleanup()
