#!/usr/bin/env python3
"""XenAPI over XML-RPC and JSON-RPC with Python's own clients (the protocol
XenAPI.py speaks): sessions, records, setters, errors, tasks, events,
durability across kill -9, audit."""
import http.client
import json
import os
import signal
import sys
import time
import urllib.request
import xmlrpc.client

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xapidtest import Tap, Xapid  # noqa: E402

t = Tap()
x = Xapid().start()


def fail_code(r):
    return r["ErrorDescription"] if r.get("Status") == "Failure" else None


def raw_post(path, body, ctype="text/xml"):
    c = http.client.HTTPConnection("127.0.0.1", x.port, timeout=30)
    c.request("POST", path, body, {"Content-Type": ctype})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, r.getheader("Content-Type"), data


def jcall(method, params, version2=True, rid=1):
    req = {"method": method, "params": params, "id": rid}
    if version2:
        req["jsonrpc"] = "2.0"
    st, ct, data = raw_post("/jsonrpc", json.dumps(req), "application/json")
    return ct, json.loads(data)


try:
    s = xmlrpc.client.ServerProxy(x.url)
    r = s.session.login_with_password("root", x.password, "2.23", "test")
    t.eq(r["Status"], "Success", "login with 4 parameters")
    sid = r["Value"]
    t.ok(sid.startswith("OpaqueRef:"), "session is an OpaqueRef")
    r2 = s.session.login_with_password("root", x.password)
    t.eq(r2["Status"], "Success", "login with 2 parameters (xen-api, VmBackup)")
    t.eq(fail_code(s.session.login_with_password("root", "wrong"))[0:2],
         ["SESSION_AUTHENTICATION_FAILED", "root"], "wrong password")
    for path in ("/RPC2", "/xmlrpc", "/"):
        sp = xmlrpc.client.ServerProxy(x.url + path)
        t.eq(sp.pool.get_all(sid)["Status"], "Success", "XML-RPC on %s" % path)

    pools = s.pool.get_all_records(sid)["Value"]
    t.eq(len(pools), 1, "one pool")
    pool_ref, pool = list(pools.items())[0]
    hosts = s.host.get_all_records(sid)["Value"]
    t.eq(len(hosts), 1, "one host")
    host_ref, host = list(hosts.items())[0]
    t.eq(pool["master"], host_ref, "the host is the master")
    t.eq(host["name_label"], "h1", "host name from --host-name")
    t.eq(host["API_version_major"], "2", "ints are untagged strings over XML-RPC")
    ver = host["software_version"]["product_version"].split(".")
    t.ok(all(v.isdigit() for v in ver), "product_version splits into ints (Ansible)")
    t.eq(s.host.get_by_uuid(sid, host["uuid"])["Value"], host_ref, "get_by_uuid")
    t.eq(fail_code(s.host.get_by_uuid(sid, "nope")), ["UUID_INVALID", "host", "nope"], "UUID_INVALID")
    t.eq(fail_code(s.VM.get_record(sid, "OpaqueRef:bad")), ["HANDLE_INVALID", "VM", "OpaqueRef:bad"],
         "HANDLE_INVALID")
    t.eq(fail_code(s.VM.no_such_call(sid)), ["MESSAGE_METHOD_UNKNOWN", "VM.no_such_call"], "MESSAGE_METHOD_UNKNOWN")
    t.eq(fail_code(s.VM.get_record(sid)), ["MESSAGE_PARAMETER_COUNT_MISMATCH", "VM.get_record", "2", "1"],
         "MESSAGE_PARAMETER_COUNT_MISMATCH")
    t.eq(fail_code(s.VM.get_all("OpaqueRef:nosession")), ["SESSION_INVALID", "OpaqueRef:nosession"],
         "SESSION_INVALID")
    vms = s.VM.get_all_records(sid)["Value"]
    dom0 = [r for r, v in vms.items() if v["is_control_domain"]]
    t.eq(len(dom0), 1, "a control domain")
    dom0 = dom0[0]
    t.eq(s.VM.get_power_state(sid, dom0)["Value"], "Running", "dom0 running")
    t.eq(fail_code(s.VM.set_power_state(sid, dom0, "Halted"))[0], "MESSAGE_METHOD_UNKNOWN",
         "no setter for a RO field")
    t.eq(fail_code(s.VM.set_is_a_template(sid, dom0, "yes"))[0], "FIELD_TYPE_ERROR", "wrong type")
    t.eq(fail_code(s.VM.set_name_label(sid, dom0, 5))[0], "FIELD_TYPE_ERROR", "int for a string")
    t.eq(s.VM.get_is_a_template(sid, dom0)["Value"], False, "nothing changed by the bad call")
    where = s.VM.get_all_records_where(sid, 'field "is_control_domain"="true"')["Value"]
    t.eq(list(where.keys()), [dom0], "get_all_records_where")
    t.eq(s.VM.get_by_name_label(sid, vms[dom0]["name_label"])["Value"], [dom0], "get_by_name_label")

    # setters, maps, sets
    t.eq(s.pool.set_name_label(sid, pool_ref, "my pool")["Status"], "Success", "set_name_label")
    t.eq(s.pool.get_name_label(sid, pool_ref)["Value"], "my pool", "name set")
    s.pool.add_to_other_config(sid, pool_ref, "k1", "v1")
    t.eq(fail_code(s.pool.add_to_other_config(sid, pool_ref, "k1", "v2"))[0], "MAP_DUPLICATE_KEY",
         "MAP_DUPLICATE_KEY")
    s.pool.add_to_other_config(sid, pool_ref, "k2", "v2")
    s.pool.remove_from_other_config(sid, pool_ref, "k1")
    t.eq(s.pool.get_other_config(sid, pool_ref)["Value"], {"k2": "v2"}, "map add/remove")
    s.pool.add_tags(sid, pool_ref, "a")
    s.pool.add_tags(sid, pool_ref, "b")
    s.pool.add_tags(sid, pool_ref, "a")
    s.pool.remove_tags(sid, pool_ref, "b")
    t.eq(s.pool.get_tags(sid, pool_ref)["Value"], ["a"], "set add/remove")

    # create / destroy and relations
    net = s.network.create(sid, {"name_label": "net1", "name_description": "", "MTU": "1500",
                                 "other_config": {}, "bridge": "xbr1"})
    t.eq(net["Status"], "Success", "network.create")
    net = net["Value"]
    vm = s.VM.create(sid, {"name_label": "vm1", "name_description": "", "user_version": "1",
                           "is_a_template": False, "memory_static_max": "268435456"})
    t.eq(vm["Status"], "Success", "VM.create")
    vm = vm["Value"]
    vif = s.VIF.create(sid, {"device": "0", "network": net, "VM": vm, "MAC": "", "MTU": "1500",
                             "other_config": {}, "qos_algorithm_type": "", "qos_algorithm_params": {}})
    t.eq(vif["Status"], "Success", "VIF.create")
    vif = vif["Value"]
    t.eq(s.VM.get_VIFs(sid, vm)["Value"], [vif], "VM.VIFs follows VIF.VM")
    t.eq(s.network.get_VIFs(sid, net)["Value"], [vif], "network.VIFs follows VIF.network")
    bad = s.VIF.create(sid, {"device": "1", "network": "OpaqueRef:nonet", "VM": vm, "MAC": "",
                             "MTU": "1500", "other_config": {}, "qos_algorithm_type": "",
                             "qos_algorithm_params": {}})
    t.eq(fail_code(bad)[0], "HANDLE_INVALID", "create with a dangling ref")
    t.eq(len(s.VIF.get_all(sid)["Value"]), 1, "failed create left nothing")
    s.VIF.destroy(sid, vif)
    t.eq(s.VM.get_VIFs(sid, vm)["Value"], [], "VIF.destroy updates VM.VIFs")

    # agility: PCI passthrough pins a VM to its host
    t.eq(s.VM.assert_agile(sid, vm)["Status"], "Success", "a plain VM is agile")
    s.VM.add_to_other_config(sid, vm, "pci", "0/0000:44:00.0")
    t.eq(fail_code(s.VM.assert_agile(sid, vm)), ["VM_HAS_PCI_ATTACHED", vm], "a VM with PCI devices is not agile")
    s.VM.remove_from_other_config(sid, vm, "pci")

    # async tasks
    tr = s.Async.network.create(sid, {"name_label": "net2", "name_description": "", "MTU": "1500",
                                      "other_config": {}, "bridge": "xbr2"})
    task = tr["Value"]
    t.ok(task.startswith("OpaqueRef:"), "Async returns a task")
    for _ in range(100):
        rec = s.task.get_record(sid, task)["Value"]
        if rec["status"] != "pending":
            break
        time.sleep(0.05)
    t.eq(rec["status"], "success", "task succeeded")
    t.ok(rec["result"].startswith("<value>OpaqueRef:"), "task result is XML-RPC text")
    t.eq(rec["progress"], 1.0, "task progress 1")
    tr = s.Async.VM.destroy(sid, "OpaqueRef:nothere")
    for _ in range(100):
        rec = s.task.get_record(sid, tr["Value"])["Value"]
        if rec["status"] != "pending":
            break
        time.sleep(0.05)
    t.eq(rec["status"], "failure", "failed task")
    t.eq(rec["error_info"][0], "HANDLE_INVALID", "task error_info")
    s.task.destroy(sid, task)
    t.eq(fail_code(s.task.get_record(sid, task))[0], "HANDLE_INVALID", "task.destroy")

    # events
    tok = s.event.inject(sid, "pool", pool_ref)["Value"]
    ev = getattr(s.event, "from")(sid, ["pool"], tok, 5.0)["Value"]
    t.ok(any(e["class"] == "pool" and e["operation"] == "mod" for e in ev["events"]),
         "event.inject then event.from sees the pool")
    tok = ev["token"]
    s.network.set_name_label(sid, net, "renamed")
    n3 = s.network.create(sid, {"name_label": "net3", "name_description": "", "MTU": "1500",
                                "other_config": {}, "bridge": "xbr3"})["Value"]
    s.network.destroy(sid, net)
    ev = getattr(s.event, "from")(sid, ["network"], tok, 5.0)["Value"]
    ops = {(e["ref"], e["operation"]) for e in ev["events"]}
    t.ok((net, "del") in ops and (n3, "add") in ops, "add and del events", ops)
    t.ok(all(e["class"] == "network" for e in ev["events"]), "class is lowercase and filtered")
    t.ok("snapshot" in [e for e in ev["events"] if e["operation"] == "add"][0], "add carries snapshot")
    t0 = time.time()
    ev = getattr(s.event, "from")(sid, ["network"], ev["token"], 0.5)["Value"]
    t.eq(ev["events"], [], "event.from times out with no events")
    t.eq(fail_code(getattr(s.event, "from")(sid, ["nosuchclass"], "", 0.1))[0],
         "EVENT_SUBSCRIPTION_PARSE_FAILURE", "bad class")
    t.eq(fail_code(getattr(s.event, "from")(sid, ["*"], "garbage", 0.1))[0],
         "EVENT_FROM_TOKEN_PARSE_FAILURE", "bad token")
    all_ev = getattr(s.event, "from")(sid, ["*"], "", 1.0)["Value"]
    t.ok(len(all_ev["events"]) >= 4, "empty token gives every object")
    s.event.register(sid, ["network"])
    s.network.set_name_label(sid, n3, "n3b")
    nx = s.event.next(sid)["Value"]
    t.ok(any(e["ref"] == n3 for e in nx), "event.register / event.next")

    # system.listMethods: bare array
    st, ct, body = raw_post("/", xmlrpc.client.dumps((), "system.listMethods"))
    methods = xmlrpc.client.loads(body)[0][0]
    t.ok(isinstance(methods, list) and "VM.get_record" in methods, "system.listMethods is a bare array")

    # JSON-RPC
    ct, r = jcall("session.login_with_password", ["root", x.password])
    t.eq(ct, "application/json", "JSON content type is exact")
    jsid = r["result"]
    ct, r = jcall("host.get_API_version_major", [jsid, host_ref])
    t.eq(r, {"jsonrpc": "2.0", "result": 2, "id": 1}, "JSON-RPC v2 result, int as number")
    ct, r = jcall("VM.get_record", [jsid, "OpaqueRef:x"], version2=False, rid="a")
    t.eq(r, {"result": None, "error": ["HANDLE_INVALID", "VM", "OpaqueRef:x"], "id": "a"}, "JSON-RPC v1 error")
    ct, r = jcall("VM.get_record", [jsid, "OpaqueRef:x"])
    t.eq(r["error"], {"code": 1, "message": "HANDLE_INVALID", "data": ["VM", "OpaqueRef:x"]}, "JSON-RPC v2 error")
    t.eq(s.pool.get_name_label(jsid, pool_ref)["Value"], "my pool", "JSON session valid over XML-RPC")

    # bad input at the transport
    st, ct, body = raw_post("/", "<methodCall><methodName>x</methodName><params>")
    t.eq(st, 500, "malformed XML gives HTTP 500")
    st, ct, body = raw_post("/jsonrpc", "{not json", "application/json")
    t.eq(st, 500, "malformed JSON gives HTTP 500")
    st, ct, body = raw_post("/", "<methodCall>" + "x" * (20 << 20) + "</methodCall>")
    t.eq(st, 413, "oversized body refused")
    body = ("<?xml version='1.0'?><methodCall><methodName>pool.set_name_label</methodName><params>"
            "<param><value>%s</value></param><param><value>%s</value></param>"
            "<param><value>\xff\xfe</value></param></params></methodCall>" % (sid, pool_ref)).encode("latin-1")
    st, ct, resp = raw_post("/", body)
    t.ok(b"INVALID_VALUE" in resp, "invalid UTF-8 gives INVALID_VALUE", resp[:300])
    t.eq(s.pool.get_name_label(sid, pool_ref)["Value"], "my pool", "and changes nothing")

    # logout
    s.session.logout(r2["Value"])
    t.eq(fail_code(s.pool.get_all(r2["Value"]))[0], "SESSION_INVALID", "logout invalidates the session")

    # durability: acknowledged writes survive kill -9
    s.pool.set_name_description(sid, pool_ref, "durable write")
    x.stop(signal.SIGKILL)
    x.start()
    s = xmlrpc.client.ServerProxy(x.url)
    sid = s.session.login_with_password("root", x.password)["Value"]
    t.eq(s.pool.get_name_description(sid, pool_ref)["Value"], "durable write", "write survives kill -9")
    t.eq(s.pool.get_other_config(sid, pool_ref)["Value"], {"k2": "v2"}, "map survives restart")
    t.eq(len(s.host.get_all(sid)["Value"]), 1, "restart does not duplicate the host")
    t.eq(len([v for v in s.VM.get_all_records(sid)["Value"].values() if v["is_control_domain"]]), 1,
         "restart does not duplicate dom0")

    audit = open(os.path.join(x.state, "audit.log")).read()
    t.ok("pool.set_name_description" in audit and "durable write" in audit, "writes are audited")
    t.ok(x.password not in audit, "passwords never in the audit log")
    t.ok(x.password not in x.output(), "passwords never in the daemon log")
finally:
    if t.failed:
        for line in x.output().splitlines()[-30:]:
            print("# " + line)
    x.cleanup()
sys.exit(t.done())
