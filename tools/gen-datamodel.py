#!/usr/bin/env python3
"""Generate src/api/dm_gen.{h,c} and src/api/errors_gen.def from xapi's API
description (doc/data/xenapi.json and ocaml/idl/datamodel_errors.ml of
xapi-project/xen-api). The output is checked in; run this only to follow a
new API release:

    tools/gen-datamodel.py /path/to/xen-api-checkout-or-git-dir

Only facts of the interface are taken (names, types, qualifiers, defaults,
error codes, parameter names and the error sentences `xe` prints).
"""
import json
import os
import re
import subprocess
import sys

NAMESPACES = {
    "*": ["name_label", "name_description"],
    "VM": ["memory_overhead", "memory_target", "memory_static_max",
           "memory_dynamic_max", "memory_dynamic_min", "memory_static_min",
           "VCPUs_params", "VCPUs_max", "VCPUs_at_startup",
           "actions_soft_reboot", "actions_after_softreboot",
           "actions_after_shutdown", "actions_after_reboot",
           "actions_after_crash",
           "PV_bootloader", "PV_kernel", "PV_ramdisk", "PV_args",
           "PV_bootloader_args", "PV_legacy_args",
           "HVM_boot_policy", "HVM_boot_params", "HVM_shadow_multiplier"],
    "host": ["memory_overhead", "API_version_major", "API_version_minor",
             "API_version_vendor", "API_version_vendor_implementation"],
    "host_metrics": ["memory_total", "memory_free"],
    "VM_metrics": ["memory_actual", "VCPUs_number", "VCPUs_utilisation",
                   "VCPUs_CPU", "VCPUs_params", "VCPUs_flags"],
    "VBD_metrics": ["io_read_kbs", "io_write_kbs"],
    "VIF_metrics": ["io_read_kbs", "io_write_kbs"],
    "PIF_metrics": ["io_read_kbs", "io_write_kbs"],
    "VBD": ["qos_algorithm_type", "qos_algorithm_params",
            "qos_supported_algorithms"],
    "VIF": ["qos_algorithm_type", "qos_algorithm_params",
            "qos_supported_algorithms"],
}
NON_PERSISTENT = {"session", "task"}
# classes that are tables although their get_* messages are explicit
EXTRA_TABLES = {"message"}


def db_name(cls, field):
    ns = NAMESPACES["*"] + NAMESPACES.get(cls, [])
    if field in ns:
        i = field.index("_", 1) if not field.startswith("API_version") else len("API_version")
        return field[:i] + "__" + field[i + 1:]
    return field


def read_src(src, path):
    if os.path.isdir(os.path.join(src, "objects")) or src.endswith(".git") or os.path.exists(os.path.join(src, "HEAD")):
        return subprocess.check_output(["git", "-C", src, "show", "HEAD:" + path]).decode()
    return open(os.path.join(src, path)).read()


def cstr(s):
    if s is None:
        return "NULL"
    return json.dumps(s, ensure_ascii=False)


class Types:
    def __init__(self, classes):
        self.classes = classes
        self.defs = {}
        self.order = []
        self.enums = {}

    def ident(self, text):
        return "T_" + re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")

    def parse(self, text):
        text = text.strip()
        if text in self.defs:
            return self.defs[text]
        kind, a, b, en, cls = "DMK_VOID", None, None, None, -1
        if text.endswith(" set"):
            kind, a = "DMK_SET", self.parse(text[:-4])
        elif text.endswith(" option"):
            kind, a = "DMK_OPTION", self.parse(text[:-7])
        elif text.endswith(" map"):
            inner = text[:-4].strip()
            assert inner[0] == "(" and inner[-1] == ")", text
            inner = inner[1:-1]
            depth, cut = 0, None
            for i, ch in enumerate(inner):
                if ch == "(":
                    depth += 1
                elif ch == ")":
                    depth -= 1
                elif inner.startswith(" -> ", i) and depth == 0:
                    cut = i
                    break
            kind, a, b = "DMK_MAP", self.parse(inner[:cut]), self.parse(inner[cut + 4:])
        elif text.endswith(" ref"):
            kind, cls = "DMK_REF", self.classes.get(text[:-4], -1)
        elif text.endswith(" record"):
            kind, cls = "DMK_RECORD", self.classes.get(text[:-7], -1)
        elif text.startswith("enum "):
            kind, en = "DMK_ENUM", text[5:]
            self.enums.setdefault(en, None)
        else:
            kind = {"string": "DMK_STRING", "int": "DMK_INT", "float": "DMK_FLOAT",
                    "bool": "DMK_BOOL", "datetime": "DMK_DATETIME",
                    "void": "DMK_VOID", "an event batch": "DMK_STRUCT_ANY"}[text]
        ident = self.ident(text)
        self.defs[text] = ident
        self.order.append((ident, kind, a, b, en, cls, text))
        return ident


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "/work/.mirror/xapi-project+xen-api/repo"
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    api = json.loads(read_src(src, "doc/data/xenapi.json"))
    errs_ml = read_src(src, "ocaml/idl/datamodel_errors.ml")
    api_errors_ml = read_src(src, "ocaml/xapi-consts/api_errors.ml")
    common = read_src(src, "ocaml/idl/datamodel_common.ml")
    smaj = re.search(r"let schema_major_vsn = (\d+)", common).group(1)
    smin = re.search(r"let schema_minor_vsn = (\d+)", common).group(1)
    apimaj = re.search(r"let api_version_major = (\d+)L?", read_src(src, "ocaml/idl/api_version.ml"))
    apimin = re.search(r"let api_version_minor = (\d+)L?", read_src(src, "ocaml/idl/api_version.ml"))

    classes = {}
    kept = []
    for c in api:
        implicit = {m["name"] for m in c["messages"] if m.get("implicit")}
        is_table = "get_record" in implicit or c["name"] in EXTRA_TABLES
        if not c["fields"] and not c["messages"]:
            continue
        classes[c["name"]] = len(kept)
        kept.append((c, is_table))
    T = Types(classes)
    enums = {}
    for c, _ in kept:
        for e in c.get("enums", []):
            enums[e["name"]] = [v["name"] for v in e["values"]]

    def cid(name):
        return "DMC_" + re.sub(r"[^A-Za-z0-9]", "_", name)

    h = []
    h.append("/* Generated by tools/gen-datamodel.py from xapi's API description; do not edit. */")
    h.append("#ifndef XAPID_API_DM_GEN_H\n#define XAPID_API_DM_GEN_H\n")
    h.append("#define DM_SCHEMA_MAJOR %s\n#define DM_SCHEMA_MINOR %s" % (smaj, smin))
    if apimaj and apimin:
        h.append("#define DM_API_VERSION_MAJOR %s\n#define DM_API_VERSION_MINOR %s" % (apimaj.group(1), apimin.group(1)))
    h.append("\nenum dm_class_id {")
    for c, _ in kept:
        h.append("\t%s," % cid(c["name"]))
    h.append("\tDMC__COUNT,\n};\n")

    body = []
    field_tabs = []
    msg_tabs = []
    for ci, (c, is_table) in enumerate(kept):
        name = c["name"]
        fields = [f for f in c["fields"] if f["lifecycle"]["state"] != "Removed_s"]
        h.append("enum dm_fields_%s {" % re.sub(r"\W", "_", name))
        rows = []
        for fi, f in enumerate(fields):
            h.append("\tDMF_%s_%s," % (re.sub(r"\W", "_", name), f["name"]))
            t = T.parse(f["type"])
            q = {"RW": "DMQ_RW", "RO/constructor": "DMQ_RO_CONSTRUCTOR",
                 "RO/runtime": "DMQ_RO_RUNTIME"}[f["qualifier"]]
            rel = f["lifecycle"]["transitions"][0]["release"] if f["lifecycle"]["transitions"] else ""
            dflt = f.get("default")
            rows.append("\t{%s, %s, &%s, %s, %s, %s, %s}," % (
                cstr(f["name"]), cstr(db_name(name, f["name"])), t, q,
                cstr(dflt), cstr(rel),
                "true" if f["lifecycle"]["state"] == "Deprecated_s" else "false"))
        h.append("\tDMF_%s__COUNT,\n};" % re.sub(r"\W", "_", name))
        field_tabs.append((ci, name, rows))
        mrows = []
        for m in c["messages"]:
            if m["lifecycle"]["state"] == "Removed_s":
                continue
            ps = m["params"]
            has_session = bool(ps) and ps[0]["type"] == "session ref" and ps[0]["name"] == "session_id"
            prow = []
            for p in ps:
                prow.append("{%s, &%s}" % (cstr(p["name"]), T.parse(p["type"])))
            res = m["result"][0] if m["result"] else "void"
            mrows.append((m["name"], prow, T.parse(res), m.get("implicit", False), has_session,
                          m["lifecycle"]["state"] == "Deprecated_s"))
        msg_tabs.append((ci, name, mrows))
    h.append("\n#endif")

    out = ["/* Generated by tools/gen-datamodel.py from xapi's API description; do not edit. */",
           '#include "api/datamodel.h"', ""]
    for en in sorted(T.enums):
        vals = enums.get(en, [])
        ident = re.sub(r"\W", "_", en)
        out.append("static const char *const EV_%s[] = {%s};" % (ident, ", ".join(cstr(v) for v in vals) or "NULL"))
        out.append("static const struct dm_enum E_%s = {%s, EV_%s, %d};" % (ident, cstr(en), ident, len(vals)))
    out.append("")
    for ident, kind, a, b, en, cls, text in T.order:
        out.append("static const struct dm_type %s = {%s, %s, %s, %s, %d, %s};" % (
            ident, kind, "&" + a if a else "NULL", "&" + b if b else "NULL",
            "&E_" + re.sub(r"\W", "_", en) if en else "NULL", cls, cstr(text)))
    out.append("")
    for ci, name, rows in field_tabs:
        ident = re.sub(r"\W", "_", name)
        if rows:
            out.append("static const struct dm_field F_%s[] = {" % ident)
            out.extend(rows)
            out.append("};")
    for ci, name, mrows in msg_tabs:
        ident = re.sub(r"\W", "_", name)
        for mi, (mn, prow, res, imp, sess, dep) in enumerate(mrows):
            if prow:
                out.append("static const struct dm_param P_%s_%d[] = {%s};" % (ident, mi, ", ".join(prow)))
        out.append("static const struct dm_message M_%s[] = {" % ident)
        for mi, (mn, prow, res, imp, sess, dep) in enumerate(mrows):
            out.append("\t{%s, %s, %d, &%s, %s, %s, %s}," % (
                cstr(mn), ("P_%s_%d" % (ident, mi)) if prow else "NULL", len(prow), res,
                "true" if imp else "false", "true" if sess else "false", "true" if dep else "false"))
        out.append("};")
    out.append("\nconst struct dm_class dm_classes[DMC__COUNT] = {")
    for ci, (c, is_table) in enumerate(kept):
        name = c["name"]
        ident = re.sub(r"\W", "_", name)
        fields = [f["name"] for f in c["fields"] if f["lifecycle"]["state"] != "Removed_s"]
        flags = []
        if is_table:
            flags.append("DMCF_TABLE")
            if name not in NON_PERSISTENT:
                flags.append("DMCF_PERSISTENT")
        out.append("\t[%s] = {%s, %s, %s, %d, M_%s, sizeof(M_%s) / sizeof(M_%s[0]), %s, %d, %d}," % (
            cid(name), cstr(name), cstr(name.lower()), ("F_" + ident) if fields else "NULL",
            len(fields), ident, ident, ident, " | ".join(flags) or "0",
            fields.index("uuid") if "uuid" in fields else -1,
            fields.index("name_label") if "name_label" in fields else -1))
    out.append("};")

    # relations: (class, ref field) <-> (class, set field), kept in step by the store
    dm_ml = read_src(src, "ocaml/idl/datamodel.ml")
    cvars = dict(re.findall(r'let\s+(_\w+)\s*=\s*"(\w+)"', common))
    rel_src = dm_ml[dm_ml.index("let all_relations"):]
    rel_src = rel_src[:rel_src.index("]\n")]
    rels = []
    for a, af, b, bf in re.findall(r'\(\s*\((_\w+),\s*"(\w+)"\)\s*,\s*\((_\w+),\s*"(\w+)"\)\s*\)', rel_src):
        ca, cb = cvars.get(a), cvars.get(b)
        if ca not in classes or cb not in classes:
            continue
        fa = [f for f in kept[classes[ca]][0]["fields"] if f["name"] == af and f["lifecycle"]["state"] != "Removed_s"]
        fb = [f for f in kept[classes[cb]][0]["fields"] if f["name"] == bf and f["lifecycle"]["state"] != "Removed_s"]
        if not fa or not fb or not fa[0]["type"].endswith(" ref") or not fb[0]["type"].endswith(" ref set"):
            continue
        rels.append("\t{%s, DMF_%s_%s, %s, DMF_%s_%s}," % (cid(ca), re.sub(r"\W", "_", ca), af, cid(cb), re.sub(r"\W", "_", cb), bf))
    out.append("\nconst struct dm_relation dm_relations[] = {")
    out.extend(rels)
    out.append("};\nconst size_t dm_nrelations = sizeof(dm_relations) / sizeof(dm_relations[0]);")

    # errors: code constant -> wire string from api_errors.ml; params + doc from datamodel_errors.ml
    consts = dict(re.findall(r'let\s+(\w+)\s*=\s*add_error\s+"([A-Z0-9_]+)"', api_errors_ml))
    if not consts:
        consts = dict(re.findall(r'let\s+(\w+)\s*=\s*"([A-Z0-9_]+)"', api_errors_ml))
    errs = []
    for m in re.finditer(r'error\s+Api_errors\.(\w+)\s*\[([^\]]*)\]\s*(~doc:\s*((?:"(?:[^"\\]|\\.)*"\s*(?:\^\s*)?)+))?', errs_ml, re.S):
        const, params, _, doc = m.group(1), m.group(2), m.group(3), m.group(4)
        code = consts.get(const, const.upper())
        pnames = re.findall(r'"([^"]*)"', params)
        text = ""
        if doc:
            parts = re.findall(r'"((?:[^"\\]|\\.)*)"', doc, re.S)
            text = "".join(parts)
            text = re.sub(r"\\\n\s*", "", text)
            text = text.replace('\\"', '"')
        errs.append((code, pnames, text))
    e = ["/* Generated by tools/gen-datamodel.py from xapi's error table; do not edit.",
         " * XERR(CODE, \"doc sentence\", \"param names, comma-separated\") */"]
    seen = set()
    for code, pnames, text in errs:
        if code in seen:
            continue
        seen.add(code)
        e.append("XERR(%s, %s, %s)" % (code, cstr(text), cstr(",".join(pnames))))
    open(os.path.join(top, "src/api/dm_gen.h"), "w").write("\n".join(h) + "\n")
    open(os.path.join(top, "src/api/dm_gen.c"), "w").write("\n".join(out) + "\n")
    open(os.path.join(top, "src/api/errors_gen.def"), "w").write("\n".join(e) + "\n")
    print("classes %d, types %d, enums %d, errors %d" % (len(kept), len(T.order), len(T.enums), len(seen)))


main()
