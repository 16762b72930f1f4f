#!/usr/bin/env python3
"""Live migration of an idle guest between two network namespaces: xapid's
qemu backend (migrate_receive/migrate_send/migrate_end, driven by
tests/e2e/qemu_migrate_test.c --bench, built optimised) against the same
guest migrated by hand with raw QEMU (two qemu-system-x86_64, -incoming
defer, migrate tcp:) in the same run. TCG, test guest of tools/build-guest.sh.
  bench/bench_migrate.py [RUNS [MIB]]            (default 3 runs, 512 MiB)
Each run also migrates with the stream encrypted (TLS-PSK with a one-time
key, what xapid's hosts do).
Goal: downtime < 150 ms; total time close to the raw QEMU migration."""
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
MIB = int(sys.argv[2]) if len(sys.argv) > 2 else 512
CACHE = os.environ.get("XAPID_GUEST_CACHE", "/var/cache/xapid/guest")
PKGS = "libmicrohttpd jansson libxml-2.0 dqlite sqlite3 gnutls uuid libnfs zlib libzstd libxxhash"

paths = subprocess.run(["bash", os.path.join(TOP, "tools/build-guest.sh"), CACHE], check=True,
                       stdout=subprocess.PIPE, text=True).stdout.split()
VMLINUX, INITRD = paths[0], paths[1]


def build():
    """The backend driver, optimised, against build/libxapid.a."""
    subprocess.run(["make", "-s", "-C", TOP, "build/libxapid.a"], check=True)
    os.makedirs(os.path.join(TOP, "build/bench"), exist_ok=True)
    out = os.path.join(TOP, "build/bench/qemu_migrate_test")
    flags = subprocess.run("pkg-config --cflags --libs " + PKGS, shell=True, check=True,
                           stdout=subprocess.PIPE, text=True).stdout.split()
    subprocess.run(["cc", "-std=gnu11", "-O2", "-D_GNU_SOURCE", "-I" + os.path.join(TOP, "src"),
                    "-pthread", "-o", out, os.path.join(TOP, "tests/e2e/qemu_migrate_test.c"),
                    os.path.join(TOP, "tests/e2e/qemu_migrate_harness.c"),
                    os.path.join(TOP, "build/libxapid.a")] + flags + ["-lpam", "-lpthread", "-lm"],
                   check=True)
    return out


def ours(binary, tls=False):
    """tls: the stream encrypted with a one-time TLS-PSK key, as xapid's
    hosts migrate (VM.pool_migrate, VM.migrate_send)."""
    env = dict(os.environ)
    env.pop("MIG_PSK", None)
    if tls:
        env["MIG_PSK"] = os.urandom(32).hex()
    r = subprocess.run([binary, "--bench", str(MIB), VMLINUX, INITRD], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=900, env=env)
    m = re.search(r"^bench: (.*)$", r.stdout, re.M)
    if not m:
        sys.stdout.write(r.stdout)
        raise RuntimeError("the backend migration failed")
    return {k: float(v) for k, v in (kv.split("=") for kv in m.group(1).split())}


# ---- raw QEMU by hand ----

ID = "xmb%04x" % (os.getpid() % 65536)
NS = [ID + "a", ID + "b"]
NET = "10.%d.%d" % (150 + os.getpid() % 40, os.getpid() % 250)
IP = [NET + ".1", NET + ".2"]
DIR = "/tmp/" + ID


def sh(cmd):
    subprocess.run(cmd, shell=True, check=True)


def net_up():
    sh("ip link add %sbr type bridge && ip link set %sbr up" % (ID, ID))
    for i, n in enumerate(NS):
        sh("ip netns add {n} && ip link add {id}v{i} type veth peer name eth0 netns {n} && "
           "ip link set {id}v{i} master {id}br up && ip -n {n} addr add {ip}/24 dev eth0 && "
           "ip -n {n} link set eth0 up && ip -n {n} link set lo up".format(n=n, id=ID, i=i, ip=IP[i]))
    os.makedirs(DIR, exist_ok=True)


def net_down():
    for n in NS:
        subprocess.run("ip netns del %s 2>/dev/null" % n, shell=True)
    subprocess.run("ip link del %sbr 2>/dev/null; rm -rf %s" % (ID, DIR), shell=True)


class QMP:
    def __init__(self, path):
        for _ in range(600):
            try:
                self.s = socket.socket(socket.AF_UNIX)
                self.s.connect(path)
                break
            except OSError:
                self.s.close()
                time.sleep(0.01)
        self.f = self.s.makefile("rwb", buffering=0)
        self.f.readline()
        self.cmd("qmp_capabilities")

    def cmd(self, name, **args):
        m = {"execute": name}
        if args:
            m["arguments"] = args
        self.f.write(json.dumps(m).encode() + b"\n")
        while True:
            r = json.loads(self.f.readline())
            if "event" in r:
                continue
            if "error" in r:
                raise RuntimeError("%s: %s" % (name, r["error"]))
            return r["return"]


def qemu(ns, name, disk, extra):
    p = os.path.join(DIR, name)
    # what the backend's guest has: q35, -nodefaults, one qcow2 disk on
    # virtio-blk with an iothread behind a root port (no NIC on either side)
    args = ["ip", "netns", "exec", ns, "qemu-system-x86_64", "-accel", "tcg", "-M", "q35",
            "-cpu", "max", "-m", "%dM" % MIB, "-nodefaults", "-no-user-config", "-display", "none",
            "-kernel", VMLINUX, "-initrd", INITRD, "-append", "console=ttyS0 quiet xapid.tick=1",
            "-serial", "file:%s.con" % p, "-qmp", "unix:%s.qmp,server=on,wait=off" % p,
            "-object", "iothread,id=io0",
            "-device", "pcie-root-port,id=rp1,bus=pcie.0,chassis=1,slot=1,port=1,addr=0x3.0x0",
            "-blockdev", json.dumps({"driver": "file", "filename": disk, "node-name": "f0"}),
            "-blockdev", json.dumps({"driver": "qcow2", "file": "f0", "node-name": "d0"}),
            "-device", "virtio-blk-pci,drive=d0,bus=rp1,iothread=io0,serial=0", "-S"] + extra
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), p


def wait_file(path, text, timeout=180):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with open(path) as f:
                if text in f.read():
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("no %r in %s" % (text, path))


def raw(k, tuned):
    """One migration by hand; tuned: the knobs xapid sets (bandwidth,
    downtime limit, return path), else QEMU's defaults."""
    disk = os.path.join(DIR, "d%d.qcow2" % k)
    sh("qemu-img create -q -f qcow2 %s 64M" % disk)
    sp, spath = qemu(NS[0], "s%d" % k, disk, [])
    procs = [sp]
    try:
        sq = QMP(spath + ".qmp")
        sq.cmd("cont")
        wait_file(spath + ".con", "TICK 5")
        t0 = time.monotonic()
        dp, dpath = qemu(NS[1], "d%d" % k, disk, ["-incoming", "defer"])
        procs.append(dp)
        dq = QMP(dpath + ".qmp")
        if tuned:
            for q in (sq, dq):
                q.cmd("migrate-set-capabilities",
                      capabilities=[{"capability": "return-path", "state": True}])
            dq.cmd("migrate-set-capabilities",
                   capabilities=[{"capability": "late-block-activate", "state": True}])
            sq.cmd("migrate-set-parameters", **{"max-bandwidth": 10 << 30, "downtime-limit": 100})
        dq.cmd("migrate-incoming", uri="tcp:%s:4455" % IP[1])
        t1 = time.monotonic()
        sq.cmd("migrate", uri="tcp:%s:4455" % IP[1])
        while True:
            st = sq.cmd("query-migrate")
            if st["status"] in ("completed", "failed", "cancelled"):
                break
            time.sleep(0.005)
        if st["status"] != "completed":
            raise RuntimeError("raw migration %s" % st["status"])
        while dq.cmd("query-migrate").get("status") != "completed":
            time.sleep(0.005)
        dq.cmd("cont")
        t2 = time.monotonic()
        return {"to_running_ms": (t2 - t0) * 1e3, "migrate_to_running_ms": (t2 - t1) * 1e3,
                "downtime_ms": st.get("downtime", 0), "qemu_total_ms": st.get("total-time", 0),
                "ram_mib": st["ram"]["transferred"] >> 20}
    finally:
        for p in procs:
            p.kill()
            p.wait()


def med(rs, key):
    return statistics.median(r[key] for r in rs)


def fmt(rs, key):
    return "median %.0f ms (%s)" % (med(rs, key), ", ".join("%.0f" % r[key] for r in rs))


binary = build()
mine, hand, hand_default, tls = [], [], [], []
try:
    net_up()
    for k in range(RUNS):
        mine.append(ours(binary))
        tls.append(ours(binary, True))
        hand.append(raw(k, True))
    hand_default.append(raw(RUNS, False))
finally:
    net_down()

print("live migration of an idle %d MiB TCG guest between two network namespaces, %d runs"
      % (MIB, RUNS))
print("xapid backend: downtime %s" % fmt(mine, "downtime_ms"))
print("xapid backend: destination spawn -> running at the destination %s" % fmt(mine, "to_running_ms"))
print("xapid backend: QEMU total %s, %.0f MiB sent" % (fmt(mine, "qemu_total_ms"), med(mine, "ram_mib")))
print("xapid backend, encrypted (TLS-PSK, as xapid migrates): downtime %s" % fmt(tls, "downtime_ms"))
print("xapid backend, encrypted: destination spawn -> running %s, QEMU total %s"
      % (fmt(tls, "to_running_ms"), fmt(tls, "qemu_total_ms")))
print("raw QEMU by hand (same knobs): downtime %s" % fmt(hand, "downtime_ms"))
print("raw QEMU by hand (same knobs): destination spawn -> running %s" % fmt(hand, "to_running_ms"))
print("raw QEMU by hand (same knobs): migrate -> running %s" % fmt(hand, "migrate_to_running_ms"))
print("raw QEMU by hand (QEMU defaults, 1 run): downtime %.0f ms, migrate -> running %.0f ms"
      % (hand_default[0]["downtime_ms"], hand_default[0]["migrate_to_running_ms"]))
print("downtime: %.0f ms in clear, %.0f ms encrypted (goal < 150 ms)"
      % (med(mine, "downtime_ms"), med(tls, "downtime_ms")))
print("ratio encrypted / in clear, QEMU total (medians): %.2f"
      % (med(tls, "qemu_total_ms") / med(mine, "qemu_total_ms")))
print("ratio xapid / raw QEMU, spawn -> running (medians): %.2f"
      % (med(mine, "to_running_ms") / med(hand, "to_running_ms")))
