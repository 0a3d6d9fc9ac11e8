#!/usr/bin/env python3
"""Builds the test guest from an unpacked Debian kernel package, without root or kmod.

  guest.py vmlinux BZIMAGE OUT
      Finds the compressed kernel inside a bzImage (xz, gzip or zstd) and writes the ELF
      vmlinux, which QEMU boots directly through its PVH note: no decompression under TCG.

  guest.py modules MODULES_DIR OUT_DIR NAME...
      Copies the named modules and everything they depend on (modules.dep) into OUT_DIR
      as plain .ko files (busybox insmod cannot read .ko.xz/.ko.zst) and writes OUT_DIR/order,
      one module per line in load order. Dependencies come from each module's .modinfo.

  guest.py initramfs OUT (DEST=SOURCE[:MODE])...
      Writes an uncompressed newc cpio with the given files, the directories they need,
      /proc /sys /dev and a /dev/console node (the kernel needs one for init's output, and
      creating it here needs no mknod).
"""
import lzma
import os
import stat
import subprocess
import sys
import zlib

ELF = b"\x7fELF"


def vmlinux(bzimage, out):
    data = open(bzimage, "rb").read()
    candidates = []
    for magic, kind in ((b"\xfd7zXZ\x00", "xz"), (b"\x1f\x8b\x08", "gzip"),
                        (b"\x28\xb5\x2f\xfd", "zstd")):
        at = data.find(magic)
        while at != -1:
            candidates.append((at, kind))
            at = data.find(magic, at + 1)
    for at, kind in sorted(candidates):
        try:
            if kind == "xz":
                image = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data[at:])
            elif kind == "gzip":
                image = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data[at:])
            else:
                image = subprocess.run(["zstd", "-dc"], input=data[at:], capture_output=True).stdout
        except (lzma.LZMAError, zlib.error, OSError):
            continue
        if image.startswith(ELF):
            with open(out + ".tmp", "wb") as f:
                f.write(image)
            os.replace(out + ".tmp", out)
            print("vmlinux: %s payload at %#x, %d bytes" % (kind, at, len(image)))
            return 0
    print("vmlinux: no ELF kernel found inside " + bzimage, file=sys.stderr)
    return 1


def read_module(path):
    if path.endswith(".xz"):
        return lzma.open(path).read()
    if path.endswith(".zst"):
        return subprocess.run(["zstd", "-dc", path], check=True, capture_output=True).stdout
    return open(path, "rb").read()


def modules(moddir, outdir, names):
    # The package ships no modules.dep (depmod makes it at install), so dependencies come
    # from each module's own .modinfo "depends=" string.
    def stem(path):
        base = os.path.basename(path)
        return base[:base.index(".ko")].replace("-", "_")

    paths = {}
    for root, _, files in os.walk(moddir):
        for name in files:
            if ".ko" in name:
                paths[stem(name)] = os.path.join(root, name)
    images = {}
    order = []

    def visit(name, chain):
        if name in order:
            return True
        if name in chain or name not in paths:
            print("modules: cannot resolve %s (via %s)" % (name, " > ".join(chain)),
                  file=sys.stderr)
            return False
        images[name] = read_module(paths[name])
        at = images[name].find(b"\0depends=")
        deps = []
        if at != -1:
            end = images[name].index(b"\0", at + 1)
            deps = [d.replace("-", "_") for d in
                    images[name][at + 9:end].decode().split(",") if d]
        if not all(visit(d, chain + [name]) for d in deps):
            return False
        order.append(name)
        return True

    if not all(visit(n.replace("-", "_"), []) for n in names):
        return 1
    os.makedirs(outdir, exist_ok=True)
    for name in order:
        with open(os.path.join(outdir, name + ".ko"), "wb") as f:
            f.write(images[name])
    with open(os.path.join(outdir, "order"), "w") as f:
        f.write("\n".join(order) + "\n")
    print("modules: " + " ".join(order))
    return 0


def initramfs(out, specs):
    entries = {}  # name -> (mode, data, rdev)

    def add_dirs(name):
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            entries.setdefault("/".join(parts[:i]), (stat.S_IFDIR | 0o755, b"", (0, 0)))

    for d in ("proc", "sys", "dev", "tmp"):
        entries[d] = (stat.S_IFDIR | 0o755, b"", (0, 0))
    entries["dev/console"] = (stat.S_IFCHR | 0o600, b"", (5, 1))
    for spec in specs:
        dest, _, src = spec.partition("=")
        src, _, mode = src.partition(":")
        dest = dest.strip("/")
        add_dirs(dest)
        perm = int(mode, 8) if mode else stat.S_IMODE(os.stat(src).st_mode)
        entries[dest] = (stat.S_IFREG | perm, open(src, "rb").read(), (0, 0))

    def record(ino, name, mode, data, rdev):
        encoded = name.encode() + b"\0"
        fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(encoded), 0]
        head = b"070701" + b"".join(b"%08X" % v for v in fields)
        blob = head + encoded
        blob += b"\0" * (-len(blob) % 4) + data
        return blob + b"\0" * (-len(blob) % 4)

    with open(out + ".tmp", "wb") as f:
        for ino, name in enumerate(sorted(entries), start=1):
            mode, data, rdev = entries[name]
            f.write(record(ino, name, mode, data, rdev))
        f.write(record(0, "TRAILER!!!", 0, b"", (0, 0)))
    os.replace(out + ".tmp", out)
    return 0


def main(argv):
    if len(argv) >= 3 and argv[0] == "vmlinux":
        return vmlinux(argv[1], argv[2])
    if len(argv) >= 4 and argv[0] == "modules":
        return modules(argv[1], argv[2], argv[3:])
    if len(argv) >= 2 and argv[0] == "initramfs":
        return initramfs(argv[1], argv[2:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
