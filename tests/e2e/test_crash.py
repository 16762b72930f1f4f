#!/usr/bin/env python3
"""kill -9 of xapid at random moments while clients write: after each restart
every acknowledged write is there, nothing half-applied (relations between
objects stay consistent), and the generation only moves forward."""
import os
import random
import signal
import sys
import threading
import time
import xmlrpc.client

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xapidtest import Tap, Xapid  # noqa: E402

ROUNDS = int(os.environ.get("CRASH_ROUNDS", "5"))
t = Tap()
x = Xapid().start()
acked = []          # keys whose add_to_other_config was acknowledged
vifs_acked = []     # (vm, vif) created and acknowledged


def writer(url, pw, pool, vm, net, start, stop):
    s = xmlrpc.client.ServerProxy(url)
    try:
        sid = s.session.login_with_password("root", pw)["Value"]
    except Exception:
        return
    i = start
    while not stop.is_set():
        key = "k%06d" % i
        try:
            r = s.pool.add_to_other_config(sid, pool, key, "v")
        except Exception:
            return
        if r["Status"] == "Success":
            acked.append(key)
        if i % 5 == 0:
            try:
                r = s.VIF.create(sid, {"device": str(i % 7), "network": net, "VM": vm, "MAC": "",
                                       "MTU": "1500", "other_config": {}, "qos_algorithm_type": "",
                                       "qos_algorithm_params": {}})
            except Exception:
                return
            if r["Status"] == "Success":
                vifs_acked.append(r["Value"])
        i += 1


try:
    s = xmlrpc.client.ServerProxy(x.url)
    sid = s.session.login_with_password("root", x.password)["Value"]
    pool = s.pool.get_all(sid)["Value"][0]
    vm = s.VM.create(sid, {"name_label": "crash", "name_description": "", "user_version": "1",
                           "is_a_template": False})["Value"]
    net = s.network.create(sid, {"name_label": "n", "name_description": "", "MTU": "1500",
                                 "other_config": {}, "bridge": "xcr0"})["Value"]
    last_gen = 0
    next_key = 0
    ev_from = getattr(s.event, "from")
    token = ev_from(sid, ["pool"], "", 0)["Value"]["token"]
    for rnd in range(ROUNDS):
        stop = threading.Event()
        th = threading.Thread(target=writer, args=(x.url, x.password, pool, vm, net, next_key, stop))
        th.start()
        time.sleep(random.uniform(0.3, 1.5))
        x.stop(signal.SIGKILL)
        stop.set()
        th.join()
        next_key += 100000
        x.start()
        s = xmlrpc.client.ServerProxy(x.url)
        sid = s.session.login_with_password("root", x.password)["Value"]
        oc = s.pool.get_other_config(sid, pool)["Value"]
        missing = [k for k in acked if k not in oc]
        t.ok(not missing, "round %d: all %d acknowledged writes present" % (rnd, len(acked)),
             "missing: %r" % missing[:5])
        vifs = s.VIF.get_all_records(sid)["Value"]
        t.ok(all(v in vifs for v in vifs_acked), "round %d: acknowledged VIF creates present" % rnd)
        vm_vifs = set(s.VM.get_VIFs(sid, vm)["Value"])
        net_vifs = set(s.network.get_VIFs(sid, net)["Value"])
        t.ok(vm_vifs == set(vifs) == net_vifs,
             "round %d: VM.VIFs and network.VIFs match the VIFs (nothing half-applied)" % rnd,
             "%d %d %d" % (len(vm_vifs), len(vifs), len(net_vifs)))
        # a token of the previous run cannot be placed in this run's history
        # (sessions and tasks are not durable): EVENTS_LOST, the client reloads
        r = getattr(s.event, "from")(sid, ["pool"], token, 0)
        t.eq(r.get("ErrorDescription", [""])[0], "EVENTS_LOST",
             "round %d: event.from with a token of the previous run" % rnd)
        token = getattr(s.event, "from")(sid, ["pool"], "", 0)["Value"]["token"]
        r = getattr(s.event, "from")(sid, ["pool"], token, 0)
        t.eq(r["Status"], "Success", "round %d: a token of this run works" % rnd)
        gen = s.event.get_current_id(sid)["Value"]
        t.ok(int(gen) >= last_gen, "round %d: generation moves forward (%s)" % (rnd, gen))
        last_gen = int(gen)
finally:
    if t.failed:
        for line in x.output().splitlines()[-30:]:
            print("# " + line)
    x.cleanup()
sys.exit(t.done())
