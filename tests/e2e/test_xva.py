#!/usr/bin/env python3
"""xe vm-export / vm-import in XenServer's XVA format: round trips (plain,
gzip, zstd, metadata only, with snapshots), an XVA made as XenServer makes
it, and every kind of bad upload refused with nothing left behind."""
import os
import socket
import subprocess
import sys
import tarfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xapidtest import XE, Tap, Xapid  # noqa: E402
import xvamake  # noqa: E402

MiB = 1 << 20
t = Tap()
x = Xapid(args=["--vm-backend", "sim"]).start()
os.environ["XAPI_SOCKET"] = x.sock
srdir = os.path.join(x.state, "sr-local")


def xe(*args, check=True):
    p = subprocess.run([XE] + list(args), capture_output=True, text=True)
    if check and p.returncode != 0:
        raise RuntimeError("xe %s: %s%s" % (" ".join(args), p.stdout, p.stderr))
    return p.stdout.strip()


def xe_rc(*args):
    p = subprocess.run([XE] + list(args), capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def vdi_file(vdi):
    return os.path.join(srdir, xe("vdi-param-get", "uuid=" + vdi, "param-name=location") + ".qcow2")


def raw_of(vdi):
    out = os.path.join(x.tmp, "raw.tmp")
    subprocess.run(["qemu-img", "convert", "-f", "qcow2", "-O", "raw", vdi_file(vdi), out],
                   check=True)
    with open(out, "rb") as f:
        data = f.read()
    os.unlink(out)
    return data


def disks_of(vm):
    """{userdevice: vdi} of a VM's disk VBDs."""
    out = {}
    for vbd in filter(None, xe("vbd-list", "vm-uuid=" + vm, "type=Disk", "params=uuid",
                               "--minimal").split(",")):
        out[xe("vbd-param-get", "uuid=" + vbd, "param-name=userdevice")] = \
            xe("vbd-param-get", "uuid=" + vbd, "param-name=vdi-uuid")
    return out


def state():
    """What exists: VMs, VDIs, files in the SR (to show failures leave nothing)."""
    return (sorted(filter(None, xe("vm-list", "params=uuid", "--minimal").split(","))),
            sorted(filter(None, xe("vdi-list", "params=uuid", "--minimal").split(","))),
            sorted(os.listdir(srdir)))


def write_file(name, data):
    path = os.path.join(x.tmp, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


EOF_MSG = "the end of the file was reached prematurely"   # IMPORT_ERROR_PREMATURE_EOF
IMPORT_MSG = "The VM could not be imported."               # IMPORT_ERROR
VERSION_MSG = "(incompatible) product version"             # IMPORT_INCOMPATIBLE_VERSION


def refused(name, path, msg, *extra):
    before = state()
    rc, out = xe_rc("vm-import", "filename=" + path, *extra)
    t.ok(rc == 1 and msg in out, name + ": refused (" + msg + ")", out)
    t.eq(state(), before, name + ": nothing left behind")


mounted = []
try:
    sr = xe("sr-list", "params=uuid", "--minimal")
    vm = xe("vm-install", "template=Other install media", "new-name-label=src")
    xe("vm-param-set", "uuid=" + vm, "VCPUs-max=2", "VCPUs-at-startup=2",
       "other-config:owner-test=yes", "name-description=to be exported")
    d0 = xe("vdi-create", "sr-uuid=" + sr, "name-label=disk0", "virtual-size=%d" % (64 * MiB))
    d1 = xe("vdi-create", "sr-uuid=" + sr, "name-label=disk1", "virtual-size=%d" % (8 * MiB + 4096))
    xe("vbd-create", "vm-uuid=" + vm, "vdi-uuid=" + d0, "device=0", "bootable=true")
    xe("vbd-create", "vm-uuid=" + vm, "vdi-uuid=" + d1, "device=1")
    net = xe("network-list", "params=uuid", "--minimal").split(",")[0]
    xe("vif-create", "vm-uuid=" + vm, "network-uuid=" + net, "device=0")
    for f, cmds in ((vdi_file(d0), ["write -P 0xab 0 3M", "write -P 0xcd 40M 1M"]),
                    (vdi_file(d1), ["write -P 0x77 8M 4096"])):
        args = ["qemu-io", "-f", "qcow2"]
        for c in cmds:
            args += ["-c", c]
        subprocess.run(args + [f], check=True, capture_output=True)
    src_disks = {k: raw_of(v) for k, v in disks_of(vm).items()}

    # ---- export: the tar as xapi writes it ----
    xva = os.path.join(x.tmp, "vm.xva")
    t.eq(xe("vm-export", "vm=" + vm, "filename=" + xva), "Export succeeded", "vm-export")
    with tarfile.open(xva) as tar:
        names = tar.getnames()
    t.eq(names[0], "ova.xml", "ova.xml comes first")
    chunks = [n for n in names[1:] if not n.endswith(".xxhash")]
    sums = [n for n in names[1:] if n.endswith(".xxhash")]
    t.eq(len(chunks), len(sums), "every chunk has its .xxhash")
    big = sorted(set(n.split("/")[0] for n in chunks))
    t.eq(len(big), 2, "both disks are streamed")
    per = {}
    for n in chunks:
        per.setdefault(n.split("/")[0], []).append(n.split("/")[1])
    sizes = sorted(len(v) for v in per.values())
    # disk0: chunks 0,1,2 (data), 40 (data), 63 (last); disk1: 0 (first), 8 (data + last)
    t.eq(sizes, [2, 5], "all-zero chunks are left out (first and last kept)")
    with tarfile.open(xva) as tar:
        ova = tar.extractfile("ova.xml").read().decode()
    t.ok("<name>export_vsn</name><value><i4>2</i4>" in ova, "ova.xml: export_vsn 2")
    t.ok("<name>power_state</name><value>Halted</value>" in ova, "ova.xml: VM halted")

    # ---- import: a new VM with the same settings and the same bytes ----
    new = xe("vm-import", "filename=" + xva)
    t.eq(len(new), 36, "vm-import prints the new VM's uuid")
    t.ok(new != vm, "the import is a new VM")
    for p in ("name-label", "name-description", "VCPUs-max", "memory-static-max", "HVM-boot-policy"):
        t.eq(xe("vm-param-get", "uuid=" + new, "param-name=" + p),
             xe("vm-param-get", "uuid=" + vm, "param-name=" + p), "same " + p)
    t.eq(xe("vm-param-get", "uuid=" + new, "param-name=other-config", "param-key=owner-test"),
         "yes", "other-config travels")
    t.eq(xe("vm-param-get", "uuid=" + new, "param-name=power-state"), "halted", "imported halted")
    new_disks = disks_of(new)
    t.eq(sorted(new_disks), sorted(src_disks), "same disk devices")
    t.ok(all(raw_of(new_disks[k]) == src_disks[k] for k in src_disks), "disk contents identical")
    t.ok(not set(new_disks.values()) & set(disks_of(vm).values()), "the import has its own disks")
    vif_src = xe("vif-list", "vm-uuid=" + vm, "params=MAC", "--minimal")
    vif_new = xe("vif-list", "vm-uuid=" + new, "params=MAC", "--minimal")
    t.ok(vif_new and vif_new != vif_src, "a new MAC (not preserve)", vif_new)
    used = int(xe("vdi-param-get", "uuid=" + new_disks["0"], "param-name=physical-utilisation"))
    t.ok(used < 16 * MiB, "the imported disk stays sparse", used)
    t.eq(xe("vm-param-get", "uuid=" + new, "param-name=current-operations"), "",
         "no operation left on the imported VM")

    for comp, magic in (("true", b"\x1f\x8b"), ("zstd", b"\x28\xb5\x2f\xfd")):
        path = os.path.join(x.tmp, "vm-%s.xva" % comp)
        xe("vm-export", "vm=" + vm, "filename=" + path, "compress=" + comp)
        with open(path, "rb") as f:
            t.eq(f.read(4)[:len(magic)], magic, "compress=%s is compressed" % comp)
        n2 = xe("vm-import", "filename=" + path)
        t.ok(all(raw_of(v) == src_disks[k] for k, v in disks_of(n2).items()),
             "compress=%s round trip" % comp)

    # preserve=true keeps uuid and MACs: refused while the original exists
    rc, out = xe_rc("vm-import", "filename=" + xva, "preserve=true")
    t.ok(rc == 1 and "VM_TO_IMPORT_IS_NOT_NEWER_VERSION" in out or "cannot be imported unforced" in out,
         "preserve=true over the same VM is refused (not newer)", out)

    # ---- metadata only: the new VM uses the existing disks ----
    meta = os.path.join(x.tmp, "meta.xva")
    xe("vm-export", "vm=" + vm, "filename=" + meta, "metadata=true")
    with tarfile.open(meta) as tar:
        t.eq(tar.getnames(), ["ova.xml"], "metadata export holds only ova.xml")
    stdout = subprocess.run([XE, "vm-export", "vm=" + vm, "filename=", "metadata=true"],
                            capture_output=True).stdout
    t.ok(stdout[:7] == b"ova.xml", "metadata export to stdout (NAUbackup's pipe)")
    m = xe("vm-import", "filename=" + meta, "metadata=true")
    t.eq(sorted(disks_of(m).values()), sorted(disks_of(vm).values()),
         "metadata import finds the VM's disks")

    # ---- snapshots travel with include-snapshots=true ----
    snap = xe("vm-snapshot", "vm=" + vm, "new-name-label=before")
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P 0xee 0 1M", vdi_file(d0)],
                   check=True, capture_output=True)
    snap_disk0 = raw_of(disks_of(snap)["0"])
    sx = os.path.join(x.tmp, "snaps.xva")
    xe("vm-export", "vm=" + vm, "filename=" + sx, "include-snapshots=true")
    ns = xe("vm-import", "filename=" + sx)
    t.eq(len(ns), 36, "an export with snapshots imports as one VM")
    snaps = xe("snapshot-list", "snapshot-of=" + ns, "params=uuid", "--minimal")
    t.eq(len(snaps), 36, "the imported VM has its snapshot")
    if len(snaps) == 36:
        t.eq(xe("snapshot-param-get", "uuid=" + snaps, "param-name=name-label"), "before",
             "the snapshot keeps its name")
        t.ok(raw_of(disks_of(snaps)["0"]) == snap_disk0, "the snapshot's disk has its data")
    t.ok(raw_of(disks_of(ns)["0"])[:MiB] == b"\xee" * MiB, "the VM's disk has today's data")

    # ---- an XVA as XenServer makes it ----
    disk = xvamake.pattern_disk(16 * MiB + 512 * 1024)
    xs = write_file("xs.xva", xvamake.build(disk, keepalive_after=5))
    xv = xe("vm-import", "filename=" + xs)
    t.eq(len(xv), 36, "XenServer's XVA (SHA-1 checksums, gaps, keep-alive) imports")
    t.eq(xe("vm-param-get", "uuid=" + xv, "param-name=name-label"), "xs-vm", "its name")
    t.eq(xe("vm-param-get", "uuid=" + xv, "param-name=VCPUs-max"), "2", "its VCPUs")
    t.eq(xe("vm-param-get", "uuid=" + xv, "param-name=tags"), "imported", "its tags")
    xd = disks_of(xv)
    t.ok("0" in xd and raw_of(xd["0"]) == disk, "its disk byte for byte")
    t.eq(xe("vbd-list", "vm-uuid=" + xv, "type=CD", "params=empty", "--minimal"), "true",
         "its empty CD drive")
    t.eq(len(xe("vif-list", "vm-uuid=" + xv, "params=uuid", "--minimal")), 36, "its VIF")
    gz = write_file("xs.xva.gz", xvamake.build(disk, gzip=True))
    t.eq(len(xe("vm-import", "filename=" + gz)), 36, "a gzip XVA from XenServer imports")

    # ---- bad uploads ----
    good = xvamake.build(disk)
    refused("truncated", write_file("trunc.xva", good[:len(good) // 2]),
            EOF_MSG)
    refused("bad checksum", write_file("csum.xva", xvamake.build(disk, corrupt_chunk=5)),
            "checksum failed")
    refused("missing last chunk", write_file("miss.xva", xvamake.build(disk, drop_chunk=16)),
            EOF_MSG)
    refused("bad ova.xml", write_file("ova.xva", xvamake.build(disk, ova_override=b"<value><struct>")),
            "ova.xml: XML error")
    refused("newer version", write_file("new.xva", xvamake.build(disk, version=(99, 0))),
            VERSION_MSG)
    refused("not an XVA", write_file("junk.xva", os.urandom(100000)), "Not an XVA file")
    with open(xva, "rb") as f:
        ours = bytearray(f.read())
    with tarfile.open(xva) as tar:
        first = tar.getmembers()[1]
    ours[first.offset_data + 777] ^= 0xff  # the first chunk's data: its xxhash fails
    refused("our XVA with a flipped byte", write_file("flip.xva", bytes(ours)), "checksum failed")
    forced = xe("vm-import", "filename=" + write_file("flip2.xva", bytes(ours)), "force=true")
    t.eq(len(forced), 36, "force=true imports despite the checksum")

    # ---- an export's task: progress, and cancel stops the stream ----
    # (of a VM whose XVA is far bigger than what the socket buffers hold:
    # the export is sent from the image file as fast as the client reads)
    big = bytes(range(256)) * (48 * MiB // 256)
    bv = xe("vm-import", "filename=" + write_file("big.xva", xvamake.build(big)))
    big_len = len(xvamake.build(big))
    # its export (chunks checked by two threads, sent from the image file)
    # imports back to the same bytes
    bx = os.path.join(x.tmp, "big-out.xva")
    xe("vm-export", "vm=" + bv, "filename=" + bx)
    bv2 = xe("vm-import", "filename=" + bx)
    t.ok(raw_of(disks_of(bv2)["0"]) == big, "a 48 MiB disk exported and imported back")
    xe("vm-uninstall", "uuid=" + bv2, "force=true")
    os.unlink(bx)
    import xmlrpc.client
    api = xmlrpc.client.ServerProxy(x.url)
    sid = api.session.login_with_password("root", x.password)["Value"]
    task = api.task.create(sid, "export", "")["Value"]
    conn = socket.create_connection(("127.0.0.1", x.port))
    conn.sendall(("GET /export?session_id=%s&task_id=%s&uuid=%s HTTP/1.1\r\nHost: x\r\n\r\n"
                  % (sid, task, bv)).encode())
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    got = conn.recv(65536)
    time.sleep(1.5)
    t.ok(api.task.get_progress(sid, task)["Value"] >= 0.0, "the export's task has a progress")
    t.eq(api.task.cancel(sid, task)["Status"], "Success", "task.cancel of an export")
    deadline = time.time() + 120
    while time.time() < deadline:
        time.sleep(0.2)
        try:
            d = conn.recv(1 << 20)
        except OSError:
            break
        if not d:
            break
        got += d
    conn.close()
    t.eq(api.task.get_status(sid, task)["Value"], "cancelled", "the cancelled export's task")
    t.ok(len(got) < big_len, "the stream stopped early", len(got))
    xe("vm-uninstall", "uuid=" + bv, "force=true")

    # ---- a running VM is not exported (xapi: halted or suspended) ----
    xe("vm-start", "uuid=" + vm)
    rc, out = xe_rc("vm-export", "vm=" + vm, "filename=" + os.path.join(x.tmp, "run.xva"))
    t.ok(rc == 1 and "VM_BAD_POWER_STATE" in out or "halted, suspended" in out,
         "export of a running VM is refused", out)
    xe("vm-shutdown", "uuid=" + vm, "--force")

    # ---- a full SR mid-import: SR_FULL, nothing left, the space back ----
    small = os.path.join(x.tmp, "small")
    os.makedirs(small)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", small]).returncode == 0:
        mounted.append(small)
        ssr = xe("sr-create", "type=file", "name-label=small",
                 "device-config:location=" + os.path.join(small, "sr"))
        big = write_file("big.xva", xvamake.build(bytes([0x5a]) * (40 * MiB)))
        before = state()
        rc, out = xe_rc("vm-import", "filename=" + big, "sr-uuid=" + ssr)
        t.ok(rc == 1 and "The SR is full" in out, "import into a full SR: SR_FULL", out)
        t.eq(state(), before, "import into a full SR: no VM or VDI left")
        t.eq(xe("vdi-list", "sr-uuid=" + ssr, "--minimal"), "", "no VDI in the small SR")
        left = [f for f in os.listdir(os.path.join(small, "sr")) if not f.startswith(".")]
        t.eq(left, [], "no image left in the small SR")
        st = os.statvfs(small)
        t.ok((st.f_blocks - st.f_bfree) * st.f_frsize < 4 * MiB, "the space is back",
             (st.f_blocks - st.f_bfree) * st.f_frsize)
    else:
        t.ok(True, "# SKIP tmpfs mount not allowed")

    # ---- kill -9 in the middle of an import: nothing left after restart ----
    before = state()
    body = xvamake.build(xvamake.pattern_disk(32 * MiB))
    s = socket.socket(socket.AF_UNIX)
    s.connect(x.sock)
    srref = None
    s.sendall(("PUT /import?sr_uuid=%s HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\n\r\n"
               % (sr, len(body))).encode())
    s.sendall(body[:len(body) // 2])
    deadline = time.time() + 120
    while time.time() < deadline and len(state()[1]) == len(before[1]):
        time.sleep(0.1)
    t.ok(len(state()[1]) > len(before[1]), "the import is under way (its disk exists)")
    x.stop(sig=9)
    s.close()
    x.start()
    t.eq(state(), before, "after kill -9 and restart nothing of the import is left")
    t.eq(len(xe("vm-import", "filename=" + xs)), 36, "imports work after the restart")
finally:
    x.stop()
    for m in mounted:
        subprocess.run(["umount", m])
    x.cleanup()
sys.exit(t.done())
