#!/usr/bin/env python3
"""Extract the uncompressed vmlinux ELF from a bzImage (e.g. Debian's
/boot/vmlinuz-*), the way the kernel's scripts/extract-vmlinux does it: look for
the magic of each compressor the kernel supports, try to decompress from there,
keep the first result that is an ELF file.

QEMU boots such a vmlinux through its PVH entry point (`-kernel vmlinux`): no
real-mode setup and no decompression inside the guest (worth ~6 s under TCG).
This needs the Xen PVH ELF note (XEN_ELFNOTE_PHYS32_ENTRY, CONFIG_PVH=y), which
is checked.

usage: extract-vmlinux.py BZIMAGE OUT        extract, check the PVH note
       extract-vmlinux.py --check VMLINUX    only check an ELF for the PVH note
Python stdlib only (zstd through the zstd program, if a kernel uses it)."""
import bz2
import lzma
import mmap
import os
import shutil
import struct
import subprocess
import sys
import zlib

XEN_ELFNOTE_PHYS32_ENTRY = 18


def _gzip(buf):
    return zlib.decompressobj(wbits=31).decompress(buf)


def _xz(buf):
    return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(buf)


def _lzma(buf):
    return lzma.LZMADecompressor(format=lzma.FORMAT_ALONE).decompress(buf)


def _bzip2(buf):
    return bz2.BZ2Decompressor().decompress(buf)


def _zstd(buf):
    exe = shutil.which("zstd")
    if not exe:
        raise RuntimeError("zstd stream found but no zstd program (apt-get install zstd)")
    # zstd -d stops at the end of the frame; trailing bytes make it fail,
    # but it still writes the decompressed frame first.
    p = subprocess.run([exe, "-dc", "-q"], input=buf, stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL)
    return p.stdout


# magic, name, decompressor (same list and order as scripts/extract-vmlinux)
METHODS = [
    (b"\x1f\x8b\x08", "gzip", _gzip),
    (b"\xfd7zXZ\x00", "xz", _xz),
    (b"BZh", "bzip2", _bzip2),
    (b"\x5d\x00\x00\x00", "lzma", _lzma),
    (b"\x28\xb5\x2f\xfd", "zstd", _zstd),
]


def is_elf(buf):
    return buf[:4] == b"\x7fELF"


def pvh_entry(elf):
    """Return the PVH entry address from the Xen ELF notes, or None."""
    if not is_elf(elf) or elf[4] != 2 or elf[5] != 1:   # ELF64 little endian
        return None
    e_phoff, = struct.unpack_from("<Q", elf, 0x20)
    e_phentsize, e_phnum = struct.unpack_from("<HH", elf, 0x36)
    for i in range(e_phnum):
        ph = e_phoff + i * e_phentsize
        p_type, = struct.unpack_from("<I", elf, ph)
        if p_type != 4:                                  # PT_NOTE
            continue
        p_offset, = struct.unpack_from("<Q", elf, ph + 8)
        p_filesz, = struct.unpack_from("<Q", elf, ph + 32)
        off, end = p_offset, p_offset + p_filesz
        while off + 12 <= end:
            namesz, descsz, ntype = struct.unpack_from("<III", elf, off)
            name = elf[off + 12:off + 12 + namesz].rstrip(b"\0")
            doff = off + 12 + ((namesz + 3) & ~3)
            if name == b"Xen" and ntype == XEN_ELFNOTE_PHYS32_ENTRY:
                fmt = "<I" if descsz == 4 else "<Q"
                return struct.unpack_from(fmt, elf, doff)[0]
            off = doff + ((descsz + 3) & ~3)
    return None


def extract(data):
    for magic, name, fn in METHODS:
        pos = data.find(magic)
        while pos >= 0:
            try:
                out = fn(data[pos:])
            except Exception:
                out = b""
            if is_elf(out):
                return out, name, pos
            pos = data.find(magic, pos + 1)
    return None, None, None


def main(argv):
    if len(argv) == 3 and argv[1] == "--check":
        with open(argv[2], "rb") as f:
            elf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            entry = pvh_entry(elf)
        if entry is None:
            sys.exit(f"{argv[2]}: no PVH entry ELF note (Xen note type 18)")
        print(f"{argv[2]}: PVH entry 0x{entry:x}")
        return
    if len(argv) != 3:
        sys.exit(__doc__)
    src, dst = argv[1], argv[2]
    data = open(src, "rb").read()
    if is_elf(data):
        out, name, pos = data, "none", 0
    else:
        out, name, pos = extract(data)
    if out is None:
        sys.exit(f"{src}: no compressed ELF payload found")
    entry = pvh_entry(out)
    if entry is None:
        sys.exit(f"{src}: vmlinux has no PVH entry note (CONFIG_PVH): qemu -kernel cannot boot it")
    tmp = dst + ".tmp"
    with open(tmp, "wb") as f:
        f.write(out)
    os.replace(tmp, dst)
    print(f"{dst}: {len(out)} bytes ({name} stream at offset {pos}), PVH entry 0x{entry:x}")


if __name__ == "__main__":
    main(sys.argv)
