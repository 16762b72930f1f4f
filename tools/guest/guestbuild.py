#!/usr/bin/env python3
"""Helpers of tools/build-guest.sh (Python stdlib only).

  guestbuild.py moddeps MODDIR NAME...
      MODDIR is lib/modules/KVER of an extracted linux-image package (Debian's
      package ships no modules.dep: depmod runs in its postinst). Resolves the
      named modules and their dependencies from the "depends=" field of each
      module's .modinfo section (what modpost wrote, what depmod also uses),
      skips the built-in ones (modules.builtin), and prints the module files
      relative to MODDIR, dependencies first (the insmod order).

  guestbuild.py cpio ROOT OUT.cpio.gz
      Writes ROOT as a newc cpio archive, gzip -6 (-9: 3x the time for 0.5 %
      less), every entry owned by root
      with mtime 0: the same tree gives the same bytes, whoever builds it.
"""
import gzip
import os
import stat
import struct
import sys

KO_SUFFIXES = (".ko", ".ko.xz", ".ko.zst", ".ko.gz")


def modname(path):
    base = os.path.basename(path)
    for s in KO_SUFFIXES:
        if base.endswith(s):
            base = base[: -len(s)]
            break
    return base.replace("-", "_")


def read_ko(path):
    data = open(path, "rb").read()
    if path.endswith(".xz"):
        import lzma
        data = lzma.decompress(data)
    elif path.endswith(".gz"):
        data = gzip.decompress(data)
    elif path.endswith(".zst"):
        import subprocess
        data = subprocess.run(["zstd", "-dc", path], check=True,
                              stdout=subprocess.PIPE).stdout
    return data


def modinfo(data):
    """The .modinfo section of an ELF64 LE relocatable, as a list of (k, v)."""
    if data[:4] != b"\x7fELF" or data[4] != 2:
        raise ValueError("not an ELF64 module")
    e_shoff, = struct.unpack_from("<Q", data, 0x28)
    e_shentsize, e_shnum, e_shstrndx = struct.unpack_from("<HHH", data, 0x3A)

    def sh(i):
        o = e_shoff + i * e_shentsize
        name, = struct.unpack_from("<I", data, o)
        off, size = struct.unpack_from("<QQ", data, o + 24)
        return name, off, size

    _, stroff, _ = sh(e_shstrndx)
    for i in range(e_shnum):
        name, off, size = sh(i)
        end = data.index(b"\0", stroff + name)
        if data[stroff + name:end] == b".modinfo":
            out = []
            for item in data[off:off + size].split(b"\0"):
                if b"=" in item:
                    k, v = item.split(b"=", 1)
                    out.append((k.decode(), v.decode(errors="replace")))
            return out
    return []


def moddeps(moddir, names):
    index = {}
    for dirpath, _, files in os.walk(os.path.join(moddir, "kernel")):
        for f in files:
            if f.endswith(KO_SUFFIXES):
                p = os.path.join(dirpath, f)
                index[modname(p)] = os.path.relpath(p, moddir)
    builtin = set()
    bf = os.path.join(moddir, "modules.builtin")
    if os.path.exists(bf):
        builtin = {modname(l.strip()) for l in open(bf) if l.strip()}
    order, state = [], {}

    def visit(name, chain):
        name = name.replace("-", "_")
        if state.get(name) == "done":
            return
        if state.get(name) == "busy":
            raise SystemExit("module dependency loop: " + " -> ".join(chain + [name]))
        if name not in index:
            if name in builtin:
                state[name] = "done"
                return
            raise SystemExit(f"module {name} not found under {moddir} "
                             f"(wanted by {' -> '.join(chain) or 'the list'})")
        state[name] = "busy"
        info = modinfo(read_ko(os.path.join(moddir, index[name])))
        for k, v in info:
            if k == "depends":
                for d in filter(None, v.split(",")):
                    visit(d, chain + [name])
        state[name] = "done"
        order.append(index[name])

    for n in names:
        visit(n, [])
    return order


def cpio(root, out):
    entries = []
    for dirpath, dirs, files in os.walk(root):
        dirs.sort()
        for n in sorted(dirs + files):
            entries.append(os.path.join(dirpath, n))
    entries.sort(key=lambda p: os.path.relpath(p, root))
    ino = 1
    tmp = out + ".tmp"
    with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb",
                                               compresslevel=6, mtime=0) as z:
        def put(name, mode, body, nlink=1):
            nonlocal ino
            nb = name.encode() + b"\0"
            hdr = b"070701" + b"".join(b"%08X" % v for v in (
                ino, mode, 0, 0, nlink, 0, len(body), 0, 0, 0, 0, len(nb), 0))
            ino += 1
            z.write(hdr + nb + b"\0" * ((4 - (110 + len(nb)) % 4) % 4))
            z.write(body + b"\0" * ((4 - len(body) % 4) % 4))

        for p in entries:
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                put(rel, st.st_mode, os.readlink(p).encode())
            elif stat.S_ISDIR(st.st_mode):
                put(rel, st.st_mode, b"", 2)
            elif stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    put(rel, st.st_mode, f.read())
            else:
                raise SystemExit(f"cpio: unsupported file type: {p}")
        put("TRAILER!!!", 0, b"")
    os.replace(tmp, out)


def main(argv):
    if len(argv) >= 3 and argv[1] == "moddeps":
        for p in moddeps(argv[2], argv[3:]):
            print(p)
    elif len(argv) == 4 and argv[1] == "cpio":
        cpio(argv[2], argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
