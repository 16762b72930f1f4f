#!/usr/bin/env python3
"""vdi-export raw / vhd and vdi-import raw / vhd of a 2 GiB disk holding 1 GiB of
data, against `cat` of the image file and `cp` of the raw file in the same
run (reference/peers.md). Goals: raw export >= 0.8 x cat, import likewise vs cp.
Then vm-export (XVA, uncompressed) of a VM with that disk vs the same `cat`
(goal >= 0.6) and vm-import of the XVA vs `cp` of the XVA file (+sync).
The exports are read by `xe` into /dev/null (filename=, stdout redirected),
as the peer `cat` writes into /dev/null; into a file as well (for the
record). Every timed run, ours and the peer's, starts with its input warm in
the page cache; the cases run interleaved, ROUNDS (5) times.
  [ROUNDS=N] bench/bench_export.py [SIZE_GIB] [WRITTEN_GIB]"""
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


ROUNDS = int(os.environ.get("ROUNDS", "5"))


def timed(fn, warm=None):
    """Seconds of one fn(); warm() first (untimed) puts the input into the
    page cache, so that ours and the peer start from the same state."""
    if warm:
        warm()
    t0 = time.time()
    fn()
    return time.time() - t0


def rounds(*cases):
    """cases: (fn, warm); they run interleaved ROUNDS times (the machine is
    shared: load changes between samples). Returns one list of times per
    case."""
    out = [[] for _ in cases]
    for _ in range(ROUNDS):
        for i, (fn, warm) in enumerate(cases):
            out[i].append(timed(fn, warm))
    return out


def span(ts):
    return "%.2f/%.2f/%.2f" % (min(ts), statistics.median(ts), max(ts))


def ratios(peer, ours):
    """Per-round peer/ours: min/median/max."""
    r = [p / o for p, o in zip(peer, ours)]
    return "%.2f/%.2f/%.2f" % (min(r), statistics.median(r), max(r))


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
    warm_img = lambda: run("sh", "-c", "cat '%s' > /dev/null" % img)  # noqa: E731
    cat = (warm_img, warm_img)

    def export(fmt, path):
        if path != "-" and os.path.exists(path):
            os.unlink(path)
        if path == "-":  # filename= streams to stdout, here /dev/null
            run("sh", "-c", "'%s' vdi-export uuid=%s filename= format=%s > /dev/null"
                % (XE, vdi, fmt), env=env)
        else:
            xe("vdi-export", "uuid=" + vdi, "filename=" + path, "format=" + fmt)

    # vdi-export: into /dev/null (as cat) and into a file (sparse), vs cat
    t_cat, t_raw, t_rawf, t_vhd = rounds(
        cat, (lambda: export("raw", "-"), warm_img),
        (lambda: export("raw", out), warm_img),
        (lambda: export("vhd", "-"), warm_img))
    export("raw", out)
    raw_size = os.path.getsize(out)
    print("image %.1f GiB with %.1f GiB written (qcow2 file %.2f GiB); seconds min/median/max"
          " of %d interleaved rounds, input warm in the page cache for every run"
          % (SIZE / 2**30, WRITTEN / 2**30, os.path.getsize(img) / 2**30, ROUNDS))
    print("cat of the image file > /dev/null: %s" % span(t_cat))
    print("vdi-export raw > /dev/null: %s (%.0f MB/s of the disk at the median); ratio cat/export %s (goal >= 0.8)"
          % (span(t_raw), raw_size / statistics.median(t_raw) / 1e6, ratios(t_cat, t_raw)))
    print("vdi-export raw filename=FILE (sparse): %s; ratio cat/export %s"
          % (span(t_rawf), ratios(t_cat, t_rawf)))
    print("vdi-export vhd > /dev/null: %s; ratio cat/export %s" % (span(t_vhd), ratios(t_cat, t_vhd)))

    # vdi-import of the raw file vs cp --sparse=always + sync of it
    dst = xe("vdi-create", "sr-uuid=" + sr, "name-label=dst", "virtual-size=%d" % SIZE)
    cp_dst = os.path.join(x.tmp, "cp")
    vhd_out = os.path.join(x.tmp, "out.vhd")
    export("vhd", vhd_out)
    warm_raw = lambda: run("sh", "-c", "cat '%s' > /dev/null" % out)  # noqa: E731
    warm_vhd = lambda: run("sh", "-c", "cat '%s' > /dev/null" % vhd_out)  # noqa: E731

    def cp():
        if os.path.exists(cp_dst):
            os.unlink(cp_dst)
        run("sh", "-c", "cp --sparse=always '%s' '%s' && sync" % (out, cp_dst))

    t_cp, t_imp, t_impv = rounds(
        (cp, warm_raw),
        (lambda: xe("vdi-import", "uuid=" + dst, "filename=" + out, "format=raw"), warm_raw),
        (lambda: xe("vdi-import", "uuid=" + dst, "filename=" + vhd_out, "format=vhd"), warm_vhd))
    print("cp --sparse=always of the raw file + sync: %s" % span(t_cp))
    print("vdi-import raw: %s; ratio cp/import %s (goal >= 0.8)" % (span(t_imp), ratios(t_cp, t_imp)))
    print("vdi-import vhd: %s; ratio cp/import %s" % (span(t_impv), ratios(t_cp, t_impv)))

    # XVA: a VM with the disk, exported uncompressed and imported back
    vm = xe("vm-install", "template=Other install media", "new-name-label=bench-xva")
    xe("vbd-create", "vm-uuid=" + vm, "vdi-uuid=" + vdi, "device=0", "bootable=true")
    xva = os.path.join(x.tmp, "vm.xva")

    def vm_export(path):
        if path == "-":
            run("sh", "-c", "'%s' vm-export vm=%s filename= > /dev/null" % (XE, vm), env=env)
            return
        if os.path.exists(path):
            os.unlink(path)
        xe("vm-export", "vm=" + vm, "filename=" + path)

    t_cat2, t_xexp, t_xexpf = rounds(
        cat, (lambda: vm_export("-"), warm_img), (lambda: vm_export(xva), warm_img))
    vm_export(xva)
    xva_size = os.path.getsize(xva)
    imported = []

    def vm_import():
        for u in imported:
            xe("vm-uninstall", "uuid=" + u, "force=true")
        imported[:] = [xe("vm-import", "filename=" + xva, "sr-uuid=" + sr)]

    cp_xva = os.path.join(x.tmp, "cp.xva")

    def cpx():
        if os.path.exists(cp_xva):
            os.unlink(cp_xva)
        run("sh", "-c", "cp '%s' '%s' && sync" % (xva, cp_xva))

    warm_xva = lambda: run("sh", "-c", "cat '%s' > /dev/null" % xva)  # noqa: E731
    t_cpx, t_ximp = rounds((cpx, warm_xva), (vm_import, warm_xva))
    print("cat of the image file > /dev/null: %s" % span(t_cat2))
    print("vm-export xva (uncompressed, %.2f GiB) > /dev/null: %s; ratio cat/export %s (goal >= 0.6)"
          % (xva_size / 2**30, span(t_xexp), ratios(t_cat2, t_xexp)))
    print("vm-export xva filename=FILE: %s; ratio cat/export %s" % (span(t_xexpf), ratios(t_cat2, t_xexpf)))
    print("cp of the XVA file + sync: %s" % span(t_cpx))
    print("vm-import xva: %s; ratio cp/import %s (goal >= 0.8)" % (span(t_ximp), ratios(t_cpx, t_ximp)))
finally:
    x.cleanup()
