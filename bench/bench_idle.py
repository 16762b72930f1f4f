#!/usr/bin/env python3
"""Idle cost of xapid with N running guests (qemu backend, TCG, test guest
of tools/build-guest.sh, 256 MiB, no NICs): once every guest is up and has
settled, xapid's CPU over a window (utime+stime from /proc/<pid>/stat, as %
of one core) and its resident memory per VM, beside the same figures for
the QEMU processes (the peer: what running the guests costs anyway).
  bench/bench_idle.py [N [WINDOW_S]]      (default 20 guests, 30 s)
Goal: xapid < 1% of a core with 20 running VMs."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import xmlrpc.client

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
XAPID = os.environ.get("XAPID", os.path.join(TOP, "build/xapid"))
N = int(sys.argv[1]) if len(sys.argv) > 1 else 20
WINDOW = float(sys.argv[2]) if len(sys.argv) > 2 else 30.0
SETTLE = float(os.environ.get("SETTLE_S", "15"))
CACHE = os.environ.get("XAPID_GUEST_CACHE", "/var/cache/xapid/guest")
TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def cpu_s(pid):
    """utime + stime of a process (all its threads), in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        tail = f.read().rsplit(")", 1)[1].split()
    return (int(tail[11]) + int(tail[12])) / TCK


def rss(pid):
    with open("/proc/%d/statm" % pid) as f:
        return int(f.read().split()[1]) * PAGE


def mib(b):
    return b / 1048576.0


def main():
    subprocess.run(["bash", os.path.join(TOP, "tools/build-guest.sh"), CACHE], check=True,
                   stdout=subprocess.DEVNULL)
    tmp = tempfile.mkdtemp(prefix="xapid-idle.")
    state = os.path.join(tmp, "h1")
    os.makedirs(state)
    pw = "pw-%d" % os.getpid()
    with open(os.path.join(tmp, "pw"), "w") as f:
        f.write(pw + "\n")
    port = free_port()
    env = dict(os.environ, XAPID_GUEST_CACHE=CACHE)
    log = open(os.path.join(tmp, "xapid.out"), "w")
    proc = subprocess.Popen(
        [XAPID, "--state-dir", state, "--listen", "127.0.0.1:%d" % port, "--no-tls",
         "--password-file", os.path.join(tmp, "pw"), "--host-name", "idle",
         "--vm-backend", "qemu", "--bridge-prefix", "xi%d" % (os.getpid() % 100000)],
        stdout=log, stderr=subprocess.STDOUT, env=env)
    vms, qpids = [], []
    s = sid = None
    try:
        deadline = time.time() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError("xapid exited: see %s" % log.name)
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        s = xmlrpc.client.ServerProxy("http://127.0.0.1:%d" % port)
        sid = s.session.login_with_password("root", pw)["Value"]
        time.sleep(2)
        rss0 = rss(proc.pid)
        tpl = s.VM.get_by_name_label(sid, "xapid test guest")["Value"][0]
        t0 = time.time()
        for i in range(N):
            vm = s.VM.clone(sid, tpl, "idle%d" % i)["Value"]
            s.VM.set_is_a_template(sid, vm, False)
            r = s.VM.start(sid, vm, False, False)
            if r["Status"] != "Success":
                raise RuntimeError("VM.start: %s" % r)
            uuid = s.VM.get_uuid(sid, vm)["Value"]
            vms.append((vm, uuid))
            with open(os.path.join(state, "vms", uuid, "pid")) as f:
                qpids.append(int(f.read().split()[0]))
        # every guest up (its console says so)
        pending = set(u for _, u in vms)
        deadline = time.time() + 60 + 20 * N
        while pending and time.time() < deadline:
            for u in list(pending):
                try:
                    with open(os.path.join(state, "vms", u, "console.log"), "rb") as f:
                        if b"QGA-UP" in f.read():
                            pending.discard(u)
                except OSError:
                    pass
            time.sleep(0.5)
        if pending:
            raise RuntimeError("%d guests did not come up" % len(pending))
        up = time.time() - t0
        time.sleep(SETTLE)
        # the window
        a_x = cpu_s(proc.pid)
        a_q = [cpu_s(p) for p in qpids]
        w0 = time.time()
        time.sleep(WINDOW)
        dt = time.time() - w0
        x_cpu = (cpu_s(proc.pid) - a_x) / dt * 100
        q_cpu = [(cpu_s(p) - a) / dt * 100 for p, a in zip(qpids, a_q)]
        x_rss = rss(proc.pid)
        q_rss = [rss(p) for p in qpids]
        # the data sources answer (sampled meanwhile)
        dss = s.VM.get_data_sources(sid, vms[0][0])["Value"]
        q = s.VM.query_data_source(sid, vms[0][0], "cpu0")
        cpu0 = "%.3f" % q["Value"] if q["Status"] == "Success" else "n/a"

        print("bench_idle: %d running guests (TCG, 256 MiB, no NICs), all up in %.1f s; "
              "window %.0f s after %.0f s settling" % (N, up, dt, SETTLE))
        print("  %-22s %12s %14s %16s" % ("", "CPU % core", "RSS MiB", "RSS MiB per VM"))
        print("  %-22s %12.2f %14.1f %16.2f" % ("xapid", x_cpu, mib(x_rss), mib(x_rss) / N))
        print("  %-22s %12s %14s %16.2f" % ("xapid, growth per VM", "", "",
                                           mib(x_rss - rss0) / N))
        print("  %-22s %12.2f %14.1f %16s" % ("QEMU (mean of %d)" % N, sum(q_cpu) / N,
                                              mib(sum(q_rss)) / N, ""))
        print("  %-22s %12.2f %14.1f %16s" % ("QEMU (all)", sum(q_cpu), mib(sum(q_rss)), ""))
        print("  xapid = %.2f%% of the QEMUs' CPU, %.2f%% of their RSS" %
              (100 * x_cpu / max(sum(q_cpu), 1e-9), 100 * x_rss / max(sum(q_rss), 1)))
        print("  data sources of one VM: %d (cpu0 = %s)" % (len(dss), cpu0))
        print("  goal: xapid < 1%% of a core: %s" % ("MET" if x_cpu < 1 else "NOT MET"))
    finally:
        for vm, _ in vms:
            try:
                s.VM.hard_shutdown(sid, vm)
            except Exception as e:  # noqa: BLE001 (keep cleaning)
                print("hard_shutdown: %s" % e, file=sys.stderr)
        for p in qpids:  # any QEMU of ours left behind, by its PID
            try:
                with open("/proc/%d/cmdline" % p, "rb") as f:
                    if state.encode() in f.read():
                        os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()
        if os.environ.get("KEEP"):
            print("state kept in %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
