"""Builds XVA files the way XenServer writes them (xapi export.ml and
stream_vdi.ml; reference/xenapi.md section 5.2), for import tests: ova.xml
as one XML-RPC value with ints as strings, version ints as <i4>, records
carrying fields xapid does not know; disks in 1 MiB chunks "Ref:N/%08d"
with all-zero chunks left out, zero-length keep-alive chunks, and a SHA-1
".checksum" after each chunk (as xapi before xxhash)."""
import hashlib
import io
import tarfile
from xml.sax.saxutils import escape

MiB = 1 << 20


class I4(int):
    """An int written as <i4> (the version block)."""


def value(v):
    if isinstance(v, bool):
        return "<value><boolean>%d</boolean></value>" % int(v)
    if isinstance(v, I4):
        return "<value><i4>%d</i4></value>" % v
    if isinstance(v, int):
        return "<value>%d</value>" % v  # xapi: ints as bare strings
    if isinstance(v, dict):
        return "<value><struct>%s</struct></value>" % "".join(
            "<member><name>%s</name>%s</member>" % (escape(k), value(x)) for k, x in v.items())
    if isinstance(v, (list, tuple)):
        return "<value><array><data>%s</data></array></value>" % "".join(value(x) for x in v)
    return "<value>%s</value>" % escape(str(v))


NULL = "OpaqueRef:NULL"


def vm_record(name, uuid, vbds, vifs, metrics):
    return {
        "uuid": uuid, "allowed_operations": ["export", "clone", "copy"],
        "current_operations": {}, "name_label": name, "name_description": "made by XenServer",
        "power_state": "Halted", "user_version": 1, "is_a_template": False,
        "is_default_template": False, "suspend_VDI": NULL, "resident_on": NULL,
        "scheduled_to_be_resident_on": NULL, "affinity": NULL,
        "memory_overhead": 1048576, "memory_target": 268435456,
        "memory_static_max": 268435456, "memory_dynamic_max": 268435456,
        "memory_dynamic_min": 268435456, "memory_static_min": 134217728,
        "VCPUs_params": {"weight": "256"}, "VCPUs_max": 2, "VCPUs_at_startup": 2,
        "actions_after_softreboot": "soft_reboot", "actions_after_shutdown": "destroy",
        "actions_after_reboot": "restart", "actions_after_crash": "restart",
        "consoles": [], "VIFs": vifs, "VBDs": vbds, "VUSBs": [], "crash_dumps": [], "VTPMs": [],
        "PV_bootloader": "", "PV_kernel": "", "PV_ramdisk": "", "PV_args": "",
        "PV_bootloader_args": "", "PV_legacy_args": "", "HVM_boot_policy": "BIOS order",
        "HVM_boot_params": {"order": "cd"}, "HVM_shadow_multiplier": 1.0,
        "platform": {"timeoffset": "0", "device-model": "qemu-upstream-compat", "vga": "std",
                     "videoram": "8", "apic": "true", "acpi": "1", "pae": "true",
                     "viridian": "false", "nx": "true"},
        "PCI_bus": "", "other_config": {"mac_seed": "0f1b5e1a-1111-2222-3333-444455556666",
                                        "base_template_name": "Other install media",
                                        "xs-test": "kept"},
        "domid": -1, "domarch": "", "last_boot_CPU_flags": {}, "is_control_domain": False,
        "metrics": metrics, "guest_metrics": NULL, "last_booted_record": "",
        "recommendations": "", "xenstore_data": {}, "ha_always_run": False,
        "ha_restart_priority": "", "is_a_snapshot": False, "snapshot_of": NULL,
        "snapshots": [], "snapshot_time": "19700101T00:00:00Z",
        "transportable_snapshot_id": "", "blobs": {}, "tags": ["imported"],
        "blocked_operations": {}, "snapshot_info": {}, "snapshot_metadata": "",
        "parent": NULL, "children": [], "bios_strings": {}, "protection_policy": NULL,
        "is_snapshot_from_vmpp": False, "snapshot_schedule": NULL,
        "is_vmss_snapshot": False, "appliance": NULL, "start_delay": 0,
        "shutdown_delay": 0, "order": 0, "VGPUs": [], "attached_PCIs": [],
        "suspend_SR": NULL, "version": 0, "generation_id": "", "hardware_platform_version": 0,
        "has_vendor_device": False, "requires_reboot": False, "reference_label": "",
        "domain_type": "hvm", "NVRAM": {}, "pending_guidances": [],
        "pending_guidances_recommended": [], "pending_guidances_full": []}


def chunks_of(disk, gaps=True, keepalive_after=None):
    """(name number, data) pairs as stream_vdi.ml sends a disk: all-zero
    chunks left out (not the first nor the last); optionally a zero-length
    keep-alive after chunk keepalive_after, which shifts later numbers."""
    out = []
    n = (len(disk) + MiB - 1) // MiB
    shift = 0
    for i in range(n):
        data = disk[i * MiB:(i + 1) * MiB]
        if gaps and 0 < i < n - 1 and not any(data):
            continue
        out.append((i + shift, data))
        if keepalive_after is not None and i == keepalive_after:
            shift += 1
            out.append((i + shift, b""))
    return out


def build(disk, name="xs-vm", checksum="sha1", version=(1, 9), keepalive_after=None,
          drop_chunk=None, corrupt_chunk=None, ova_override=None, gzip=False):
    """An XVA (bytes) of a halted VM with one disk holding `disk`, a VIF, an
    empty CD drive, as XenServer exports it."""
    vsize = len(disk)
    objs = [
        ("VM", "Ref:0", vm_record(name, "7f2b3c1e-aaaa-4bbb-8ccc-000000000001",
                                  ["Ref:3", "Ref:4"], ["Ref:5"], "Ref:1")),
        ("VM_metrics", "Ref:1", {"uuid": "7f2b3c1e-aaaa-4bbb-8ccc-000000000002",
                                 "memory_actual": 0, "VCPUs_number": 0, "VCPUs_utilisation": {},
                                 "VCPUs_CPU": {}, "VCPUs_params": {}, "VCPUs_flags": {},
                                 "state": [], "start_time": "19700101T00:00:00Z",
                                 "install_time": "19700101T00:00:00Z",
                                 "last_updated": "19700101T00:00:00Z", "other_config": {},
                                 "hvm": False, "nested_virt": False, "nomigrate": False,
                                 "current_domain_type": "unspecified"}),
        ("VBD", "Ref:3", {"uuid": "7f2b3c1e-aaaa-4bbb-8ccc-000000000003",
                          "allowed_operations": [], "current_operations": {}, "VM": "Ref:0",
                          "VDI": "Ref:8", "device": "xvda", "userdevice": "0",
                          "bootable": True, "mode": "RW", "type": "Disk", "unpluggable": False,
                          "storage_lock": False, "empty": False, "other_config": {"owner": ""},
                          "currently_attached": False, "status_code": 0,
                          "status_detail": "", "runtime_properties": {},
                          "qos_algorithm_type": "", "qos_algorithm_params": {},
                          "qos_supported_algorithms": [], "metrics": NULL}),
        ("VBD", "Ref:4", {"uuid": "7f2b3c1e-aaaa-4bbb-8ccc-000000000004",
                          "allowed_operations": [], "current_operations": {}, "VM": "Ref:0",
                          "VDI": NULL, "device": "xvdd", "userdevice": "3", "bootable": False,
                          "mode": "RO", "type": "CD", "unpluggable": True,
                          "storage_lock": False, "empty": True, "other_config": {},
                          "currently_attached": False, "status_code": 0,
                          "status_detail": "", "runtime_properties": {},
                          "qos_algorithm_type": "", "qos_algorithm_params": {},
                          "qos_supported_algorithms": [], "metrics": NULL}),
        ("VIF", "Ref:5", {"uuid": "7f2b3c1e-aaaa-4bbb-8ccc-000000000005",
                          "allowed_operations": [], "current_operations": {}, "device": "0",
                          "network": "Ref:6", "VM": "Ref:0", "MAC": "2a:47:b0:11:22:33",
                          "MTU": 1500, "other_config": {}, "currently_attached": False,
                          "status_code": 0, "status_detail": "", "runtime_properties": {},
                          "qos_algorithm_type": "", "qos_algorithm_params": {},
                          "qos_supported_algorithms": [], "metrics": NULL,
                          "MAC_autogenerated": False, "locking_mode": "network_default",
                          "ipv4_allowed": [], "ipv6_allowed": [], "ipv4_configuration_mode":
                          "None", "ipv4_addresses": [], "ipv4_gateway": "",
                          "ipv6_configuration_mode": "None", "ipv6_addresses": [],
                          "ipv6_gateway": ""}),
        ("network", "Ref:6", {"uuid": "7f2b3c1e-aaaa-4bbb-8ccc-000000000006",
                              "name_label": "Pool-wide network associated with eth0",
                              "name_description": "", "allowed_operations": [],
                              "current_operations": {}, "VIFs": ["Ref:5"], "PIFs": [],
                              "MTU": 1500, "other_config": {}, "bridge": "xenbr0",
                              "managed": True, "blobs": {}, "tags": [],
                              "default_locking_mode": "unlocked", "assigned_ips": {},
                              "purpose": []}),
        ("VDI", "Ref:8", {"uuid": "7f2b3c1e-aaaa-4bbb-8ccc-000000000008",
                          "name_label": "xs disk 0", "name_description": "Created by XenServer",
                          "allowed_operations": [], "current_operations": {}, "SR": "Ref:9",
                          "VBDs": ["Ref:3"], "crash_dumps": [], "virtual_size": vsize,
                          "physical_utilisation": vsize, "type": "system",
                          "sharable": False, "read_only": False,
                          "other_config": {"xs-disk": "yes"}, "storage_lock": False,
                          "location": "7f2b3c1e-aaaa-4bbb-8ccc-000000000008",
                          "managed": True, "missing": False, "parent": NULL,
                          "xenstore_data": {}, "sm_config": {"vdi_type": "vhd"},
                          "is_a_snapshot": False, "snapshot_of": NULL, "snapshots": [],
                          "snapshot_time": "19700101T00:00:00Z", "tags": [],
                          "allow_caching": False, "on_boot": "persist",
                          "metadata_of_pool": NULL, "metadata_latest": False,
                          "is_tools_iso": False, "cbt_enabled": False}),
        ("SR", "Ref:9", {"uuid": "7f2b3c1e-aaaa-4bbb-8ccc-000000000009",
                         "name_label": "Local storage", "name_description": "",
                         "allowed_operations": [], "current_operations": {},
                         "VDIs": ["Ref:8"], "PBDs": [], "virtual_allocation": vsize,
                         "physical_utilisation": vsize, "physical_size": 1 << 40,
                         "type": "ext", "content_type": "user", "shared": False,
                         "other_config": {}, "tags": [], "sm_config": {}, "blobs": {},
                         "local_cache_enabled": False, "introduced_by": NULL,
                         "clustered": False, "is_tools_sr": False}),
    ]
    header = {"version": {"hostname": "xs-host-1", "date": "2024-05-02",
                          "product_version": "8.4.0", "product_brand": "XenServer",
                          "build_number": "cloud", "xapi_major": I4(version[0]),
                          "xapi_minor": I4(version[1]), "export_vsn": I4(2)},
              "objects": [{"class": c, "id": i, "snapshot": s} for c, i, s in objs]}
    ova = ova_override if ova_override is not None else value(header).encode()
    bio = io.BytesIO()
    mode = "w:gz" if gzip else "w"
    with tarfile.open(fileobj=bio, mode=mode, format=tarfile.GNU_FORMAT) as tar:
        def add(name, data):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mode = 0o400
            ti.mtime = 1714600000
            tar.addfile(ti, io.BytesIO(data))
        add("ova.xml", ova)
        for num, data in chunks_of(disk, keepalive_after=keepalive_after):
            if drop_chunk is not None and num == drop_chunk:
                continue
            name = "Ref:8/%08d" % num
            add(name, data)
            if corrupt_chunk is not None and num == corrupt_chunk:
                data = b"x" + data[1:]
            if checksum == "sha1":
                add(name + ".checksum", hashlib.sha1(data).hexdigest().encode())
    return bio.getvalue()


def pattern_disk(size):
    """A disk with recognisable data in a few places and zeros elsewhere."""
    d = bytearray(size)
    d[0:MiB] = bytes([0x5A]) * MiB
    d[5 * MiB:6 * MiB] = bytes(i % 251 for i in range(MiB))
    d[7 * MiB:7 * MiB + 4096] = b"XAPID-XVA-PATTERN" * 240 + b"\0" * 16
    d[size - 1000:size] = b"E" * 1000
    return bytes(d)
