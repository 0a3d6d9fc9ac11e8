#!/usr/bin/env python3
"""Turns a position-independent riscv64 ELF into a PE32+ UEFI image.

  elf2pe.py [--subsystem application|boot-driver|runtime-driver] IN.elf OUT.efi

No Debian 12 tool writes a riscv64 PE/COFF image (clang emits ELF even for a -windows
triple, lld-link has no /machine:riscv64, binutils 2.40 no pei-riscv64 target), so this
does what EDK2's GenFw does for its ELF builds: the program is linked as a PIE at RVA
0x1000 with tools/elf2pe.ld, and this script

  - writes the PE headers into the first page (DOS stub header, COFF header with machine
    0x5064 IMAGE_FILE_MACHINE_RISCV64, PE32+ optional header, section table);
  - makes one PE section of each run of ELF sections of one kind (.text: code, .rdata:
    constants, .data: data then zero-filled .bss), each at its ELF address, so that code
    sees the layout it was linked for;
  - turns every R_RISCV_RELATIVE dynamic relocation into an IMAGE_REL_BASED_DIR64 entry of
    a .reloc section (and stores its addend, the link-time address, in the image, which is
    what a PE loader adds the load offset to).

Anything else is refused with an error naming it: another relocation type (a symbol the
image does not define, a PLT), a library dependency, W+X sections, sections a PE section
cannot hold at their address. The input is the one tests/uefi/run.sh links; the checks are
there so that a new compiler or flag that breaks these assumptions fails the build, not the
boot.
"""
import argparse
import struct
import sys

EM_RISCV = 243
ET_DYN = 3
PT_DYNAMIC = 2
SHT_NOBITS = 8
SHF_WRITE = 0x1
SHF_ALLOC = 0x2
SHF_EXECINSTR = 0x4
R_RISCV_RELATIVE = 3
RELA_SIZE = 24

# Dynamic tags
DT_NULL, DT_NEEDED, DT_PLTRELSZ = 0, 1, 2
DT_RELA, DT_RELASZ, DT_RELAENT = 7, 8, 9
DT_REL, DT_TEXTREL, DT_JMPREL, DT_RELR = 17, 22, 23, 36

# Dynamic-linking tables: read here, never loaded by a PE loader, so not in the image.
DYNAMIC_SECTIONS = {".dynamic", ".dynsym", ".dynstr", ".hash", ".gnu.hash", ".rela.dyn"}

IMAGE_FILE_MACHINE_RISCV64 = 0x5064
IMAGE_FILE_EXECUTABLE_IMAGE = 0x0002
IMAGE_FILE_LARGE_ADDRESS_AWARE = 0x0020
IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE = 0x0040
IMAGE_DLLCHARACTERISTICS_NX_COMPAT = 0x0100
IMAGE_SCN_CNT_CODE = 0x00000020
IMAGE_SCN_CNT_INITIALIZED_DATA = 0x00000040
IMAGE_SCN_MEM_DISCARDABLE = 0x02000000
IMAGE_SCN_MEM_EXECUTE = 0x20000000
IMAGE_SCN_MEM_READ = 0x40000000
IMAGE_SCN_MEM_WRITE = 0x80000000
IMAGE_REL_BASED_ABSOLUTE = 0
IMAGE_REL_BASED_DIR64 = 10
IMAGE_DIRECTORY_ENTRY_BASERELOC = 5
SUBSYSTEMS = {"application": 10, "boot-driver": 11, "runtime-driver": 12}

SECTION_ALIGNMENT = 0x1000  # the UEFI page; tools/elf2pe.ld aligns each kind to it
FILE_ALIGNMENT = 0x200
DOS_HEADER_SIZE = 0x40
COFF_HEADER_SIZE = 20
OPTIONAL_HEADER_SIZE = 112 + 16 * 8  # PE32+ fields and 16 data directories
SECTION_HEADER_SIZE = 40

KINDS = {  # (executable, writable) -> PE name and characteristics
    (True, False): (".text", IMAGE_SCN_CNT_CODE | IMAGE_SCN_MEM_EXECUTE | IMAGE_SCN_MEM_READ),
    (False, False): (".rdata", IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_READ),
    (False, True): (".data", IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_READ
                     | IMAGE_SCN_MEM_WRITE),
}


class Error(Exception):
    pass


def align(n, a):
    return (n + a - 1) // a * a


class Elf:
    def __init__(self, data):
        self.data = data
        if data[:4] != b"\x7fELF":
            raise Error("not an ELF file")
        if data[4] != 2 or data[5] != 1:
            raise Error("not a 64-bit little-endian ELF")
        (e_type, e_machine, _, self.entry, e_phoff, e_shoff, _, _, e_phentsize, e_phnum,
         e_shentsize, e_shnum, e_shstrndx) = struct.unpack_from("<HHIQQQIHHHHHH", data, 16)
        if e_machine != EM_RISCV:
            raise Error("machine %d is not RISC-V (%d)" % (e_machine, EM_RISCV))
        if e_type != ET_DYN:
            raise Error("not position-independent (ELF type %d): link with -pie" % e_type)
        self.segments = [struct.unpack_from("<IIQQQQQQ", data, e_phoff + i * e_phentsize)
                         for i in range(e_phnum)]
        raw = [struct.unpack_from("<IIQQQQIIQQ", data, e_shoff + i * e_shentsize)
               for i in range(e_shnum)]
        names = raw[e_shstrndx]

        def name(off):
            start = names[4] + off
            return data[start:data.index(b"\0", start)].decode()

        # (name, type, flags, addr, offset, size)
        self.sections = [(name(s[0]), s[1], s[2], s[3], s[4], s[5]) for s in raw]

    def dynamic(self):
        """The PT_DYNAMIC entries as (tag, value), up to DT_NULL."""
        for seg in self.segments:
            if seg[0] == PT_DYNAMIC:
                off, size = seg[2], seg[5]
                tags = []
                for i in range(0, size, 16):
                    tag, val = struct.unpack_from("<qQ", self.data, off + i)
                    if tag == DT_NULL:
                        break
                    tags.append((tag, val))
                return tags
        return []

    def offset_of(self, addr, size, what):
        """The file offset of [addr, addr + size) if a section holds it in the file."""
        for name, typ, flags, s_addr, s_off, s_size in self.sections:
            if flags & SHF_ALLOC and s_addr <= addr and addr + size <= s_addr + s_size:
                if typ == SHT_NOBITS:
                    raise Error("%s at 0x%x is in %s, which has no file contents"
                                % (what, addr, name))
                return s_off + (addr - s_addr)
        raise Error("%s at 0x%x is outside every section" % (what, addr))


def relocations(elf):
    """The RVAs of the R_RISCV_RELATIVE relocations, with their addends."""
    tags = elf.dynamic()
    values = dict(tags)
    for tag, what in ((DT_NEEDED, "depends on a shared library"),
                      (DT_REL, "has REL relocations (expected RELA)"),
                      (DT_RELR, "has packed RELR relocations (link without -z pack-relative-relocs)"),
                      (DT_TEXTREL, "has relocations in read-only code (link with -z text)")):
        if tag in values:
            raise Error("the ELF %s" % what)
    if values.get(DT_JMPREL) or values.get(DT_PLTRELSZ):
        raise Error("the ELF has PLT relocations: a function it calls is not defined in it")
    if DT_RELA not in values:
        return []
    if values.get(DT_RELAENT, RELA_SIZE) != RELA_SIZE:
        raise Error("unexpected RELA entry size %d" % values[DT_RELAENT])
    table = elf.offset_of(values[DT_RELA], values.get(DT_RELASZ, 0), "the RELA table")
    out = []
    for i in range(0, values.get(DT_RELASZ, 0), RELA_SIZE):
        r_offset, r_info, r_addend = struct.unpack_from("<QQq", elf.data, table + i)
        rtype, sym = r_info & 0xFFFFFFFF, r_info >> 32
        if rtype != R_RISCV_RELATIVE or sym != 0:
            raise Error("relocation type %d (symbol %d) at 0x%x: only R_RISCV_RELATIVE (%d) "
                        "becomes a PE base relocation; is a symbol undefined or preemptible "
                        "(build with -fvisibility=hidden, link with -pie)?"
                        % (rtype, sym, r_offset, R_RISCV_RELATIVE))
        out.append((r_offset, r_addend))
    return out


def pe_sections(elf):
    """Groups the loaded ELF sections into PE sections: [name, flags, rva, vsize, bytes]."""
    groups = []
    loaded = sorted((s for s in elf.sections if s[2] & SHF_ALLOC and s[5] > 0),
                    key=lambda s: s[3])
    for name, typ, flags, addr, off, size in loaded:
        if name in DYNAMIC_SECTIONS:
            continue
        key = (bool(flags & SHF_EXECINSTR), bool(flags & SHF_WRITE))
        if key not in KINDS:
            raise Error("section %s is both writable and executable" % name)
        pe_name, characteristics = KINDS[key]
        if groups and groups[-1][0] == pe_name:
            g = groups[-1]
        else:
            if any(g[0] == pe_name for g in groups):
                raise Error("section %s at 0x%x: %s sections are not contiguous (link with "
                            "tools/elf2pe.ld)" % (name, addr, pe_name))
            if addr % SECTION_ALIGNMENT:
                raise Error("section %s at 0x%x does not start a %d-byte page (link with "
                            "tools/elf2pe.ld)" % (name, addr, SECTION_ALIGNMENT))
            g = [pe_name, characteristics, addr, 0, bytearray()]
            groups.append(g)
        if addr < g[2] + g[3]:
            raise Error("section %s at 0x%x overlaps the one before it" % (name, addr))
        if typ == SHT_NOBITS:
            g[3] = addr + size - g[2]  # zero-filled by the loader
        else:
            if len(g[4]) < g[3]:
                raise Error("section %s at 0x%x follows zero-filled data (.bss must come last)"
                            % (name, addr))
            g[4] += bytes(addr - g[2] - len(g[4])) + elf.data[off:off + size]
            g[3] = len(g[4])
    if not groups or groups[0][0] != ".text":
        raise Error("no code, or code does not come first")
    if groups[0][2] < SECTION_ALIGNMENT:
        raise Error("sections start at 0x%x, inside the page the PE headers need (link with "
                    "tools/elf2pe.ld)" % groups[0][2])
    return groups


def reloc_section(relocs):
    """IMAGE_BASE_RELOCATION blocks, one per 4 KiB page, each padded to 4 bytes."""
    pages = {}
    for rva in sorted(relocs):
        pages.setdefault(rva & ~0xFFF, []).append(IMAGE_REL_BASED_DIR64 << 12 | (rva & 0xFFF))
    out = bytearray()
    for page, entries in sorted(pages.items()):
        if len(entries) % 2:
            entries.append(IMAGE_REL_BASED_ABSOLUTE << 12)
        out += struct.pack("<II", page, 8 + 2 * len(entries))
        out += struct.pack("<%dH" % len(entries), *entries)
    return out


def convert(elf, subsystem):
    sections = pe_sections(elf)
    relocs = relocations(elf)
    # The loader adds (load address - ImageBase) to each DIR64 place, so each place must
    # hold its link-time value; a RELA place may hold anything (lld leaves 0).
    for rva, addend in relocs:
        g = next((g for g in sections if g[2] <= rva and rva + 8 <= g[2] + len(g[4])), None)
        if g is None:
            raise Error("relocation at 0x%x is not in the image's initialized data" % rva)
        if g[1] & IMAGE_SCN_MEM_EXECUTE:
            raise Error("relocation at 0x%x is in code" % rva)
        struct.pack_into("<q", g[4], rva - g[2], addend)
    if relocs:
        end = sections[-1][2] + sections[-1][3]
        sections.append([".reloc", IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_READ
                         | IMAGE_SCN_MEM_DISCARDABLE, align(end, SECTION_ALIGNMENT), 0,
                         reloc_section([rva for rva, _ in relocs])])
        sections[-1][3] = len(sections[-1][4])
    text = sections[0]
    if not text[2] <= elf.entry < text[2] + text[3]:
        raise Error("entry point 0x%x is not in the code" % elf.entry)

    header_bytes = (DOS_HEADER_SIZE + 4 + COFF_HEADER_SIZE + OPTIONAL_HEADER_SIZE
                    + SECTION_HEADER_SIZE * len(sections))
    size_of_headers = align(header_bytes, FILE_ALIGNMENT)
    if size_of_headers > text[2]:
        raise Error("%d sections' headers do not fit before 0x%x" % (len(sections), text[2]))
    offset = size_of_headers
    table = bytearray()
    sizes = {"code": 0, "data": 0, "bss": 0}
    for name, characteristics, rva, vsize, raw in sections:
        raw_size = align(len(raw), FILE_ALIGNMENT)
        table += struct.pack("<8sIIIIIIHHI", name.encode(), vsize, rva, raw_size,
                             offset if raw_size else 0, 0, 0, 0, 0, characteristics)
        offset += raw_size
        if characteristics & IMAGE_SCN_CNT_CODE:
            sizes["code"] += raw_size
        else:
            sizes["data"] += raw_size
            sizes["bss"] += max(0, vsize - len(raw))
    size_of_image = align(sections[-1][2] + sections[-1][3], SECTION_ALIGNMENT)

    directories = [(0, 0)] * 16
    if relocs:
        directories[IMAGE_DIRECTORY_ENTRY_BASERELOC] = (sections[-1][2], sections[-1][3])
    coff = struct.pack("<HHIIIHH", IMAGE_FILE_MACHINE_RISCV64, len(sections), 0, 0, 0,
                       OPTIONAL_HEADER_SIZE,
                       IMAGE_FILE_EXECUTABLE_IMAGE | IMAGE_FILE_LARGE_ADDRESS_AWARE)
    optional = struct.pack(
        "<HBBIIIIIQIIHHHHHHIIIIHHQQQQII",
        0x20B, 0, 0,                            # PE32+, linker version
        sizes["code"], sizes["data"], sizes["bss"],
        elf.entry, text[2],                     # AddressOfEntryPoint, BaseOfCode
        0,                                      # ImageBase: the ELF was linked at 0
        SECTION_ALIGNMENT, FILE_ALIGNMENT,
        0, 0, 0, 0, 0, 0, 0,                    # OS, image, subsystem versions, Win32Version
        size_of_image, size_of_headers, 0,      # CheckSum: not checked by UEFI loaders
        SUBSYSTEMS[subsystem],
        IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE | IMAGE_DLLCHARACTERISTICS_NX_COMPAT,
        0, 0, 0, 0,                             # stack and heap: UEFI gives its own
        0, 16)
    optional += b"".join(struct.pack("<II", *d) for d in directories)
    assert len(optional) == OPTIONAL_HEADER_SIZE

    dos = bytearray(DOS_HEADER_SIZE)
    dos[0:2] = b"MZ"
    struct.pack_into("<I", dos, 0x3C, DOS_HEADER_SIZE)  # e_lfanew: the PE header follows
    image = bytearray(dos + b"PE\0\0" + coff + optional + table)
    image += bytes(size_of_headers - len(image))
    for _, _, _, _, raw in sections:
        image += raw + bytes(align(len(raw), FILE_ALIGNMENT) - len(raw))
    return image, sections, len(relocs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--subsystem", choices=sorted(SUBSYSTEMS), default="application")
    ap.add_argument("--verbose", "-v", action="store_true", help="list the PE sections")
    ap.add_argument("elf")
    ap.add_argument("efi")
    args = ap.parse_args()
    try:
        with open(args.elf, "rb") as f:
            image, sections, nrelocs = convert(Elf(f.read()), args.subsystem)
    except Error as e:
        print("elf2pe: %s: %s" % (args.elf, e), file=sys.stderr)
        return 1
    except (struct.error, ValueError, IndexError) as e:  # offsets pointing out of the file
        print("elf2pe: %s: malformed ELF (%s)" % (args.elf, e), file=sys.stderr)
        return 1
    with open(args.efi, "wb") as f:
        f.write(image)
    if args.verbose:
        for name, _, rva, vsize, raw in sections:
            print("elf2pe: %-7s rva 0x%06x virtual %7d file %7d" % (name, rva, vsize, len(raw)))
        print("elf2pe: %d base relocations, %d bytes" % (nrelocs, len(image)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
