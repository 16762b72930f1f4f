#!/usr/bin/env python3
"""VDI_READONLY as xapi (xapi_vbd.ml create, xapi_vbd_helpers.ml): a VBD
cannot be created read-write on a read-only VDI, and a VM whose VBD asks
to write a read-only VDI does not start; read-only access is fine. (sim
backend: no guest needed.)"""
import os
import sys
import xmlrpc.client

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xapidtest import Tap, Xapid  # noqa: E402

t = Tap()
x = Xapid(args=["--vm-backend", "sim"]).start()


def code(r):
    return r["ErrorDescription"] if r.get("Status") == "Failure" else None


def vbd(s, sid, vm, vdi, mode, dev):
    return s.VBD.create(sid, {"VM": vm, "VDI": vdi, "userdevice": dev, "bootable": False,
                              "mode": mode, "type": "Disk", "empty": False, "other_config": {},
                              "qos_algorithm_type": "", "qos_algorithm_params": {}})


try:
    s = xmlrpc.client.ServerProxy(x.url)
    sid = s.session.login_with_password("root", x.password)["Value"]
    sr = [r for r in s.SR.get_all(sid)["Value"]
          if s.SR.get_type(sid, r)["Value"] in ("ext", "file")][0]
    vdi = s.VDI.create(sid, {"name_label": "ro", "name_description": "", "SR": sr,
                             "virtual_size": str(1 << 20), "type": "user", "sharable": False,
                             "read_only": True, "other_config": {}})["Value"]
    t.eq(s.VDI.get_read_only(sid, vdi)["Value"], True, "a read-only VDI")
    tpl = s.VM.get_by_name_label(sid, "Other install media")["Value"][0]
    vm = s.VM.clone(sid, tpl, "rovm")["Value"]
    s.VM.set_is_a_template(sid, vm, False)
    n0 = len(s.VBD.get_all(sid)["Value"])
    t.eq(code(vbd(s, sid, vm, vdi, "RW", "1")), ["VDI_READONLY", vdi],
         "VBD.create RW on it: VDI_READONLY [vdi]")
    t.eq(len(s.VBD.get_all(sid)["Value"]), n0, "and no VBD was made")
    r = vbd(s, sid, vm, vdi, "RO", "1")
    t.eq(r["Status"], "Success", "VBD.create RO on it")
    b = r["Value"]
    t.eq(s.VM.start(sid, vm, False, False)["Status"], "Success", "the VM starts with it read-only")
    t.eq(s.VBD.get_currently_attached(sid, b)["Value"], True, "attached")
    s.VM.hard_shutdown(sid, vm)
    r = s.VBD.set_mode(sid, b, "RW")
    t.eq(r["Status"], "Success", "VBD.set_mode RW while halted")
    t.eq(code(s.VM.start(sid, vm, False, False)), ["VDI_READONLY", vdi],
         "VM.start with a RW VBD on a read-only VDI: VDI_READONLY [vdi]")
    t.eq(s.VM.get_power_state(sid, vm)["Value"], "Halted", "the VM stays halted")
    t.eq(s.VBD.get_currently_attached(sid, b)["Value"], False, "the VBD is not attached")
finally:
    x.cleanup()
sys.exit(t.done())
