#!/usr/bin/env python3
"""Where the code of a UEFI image goes, by the source file it was written in.

  sizes.py ROOT DWARFDUMP IMAGE [--top N OBJDUMP CXXFILT OBJ]

IMAGE is the image linked with its DWARF line table (/debug:dwarf; the image that ships is
the same code without it). Every byte of .text is given to the file of its line-table row:
the file the code was written in, also when the optimizer inlined it into a function of
another file, so that the table says what each header costs after link-time optimization.
Prints one line per file (bytes, share of .text, path under ROOT) and the total; code
without a row (the runtime, compiled without -g) is its own line.

With --top N, also the N largest functions of OBJ (the object LTO made, a section per
function; OBJDUMP and CXXFILT name them).
"""
import argparse
import collections
import os
import re
import subprocess


def line_table_bytes(dwarfdump, image):
    """{file path: bytes of code} from the image's .debug_line."""
    out = subprocess.run([dwarfdump, "--debug-line", image], check=True, capture_output=True,
                         text=True).stdout
    sizes = collections.Counter()
    dirs, files = {}, {}
    entry = None  # the file_names entry being read
    prev = None  # (address, file) of the last row of the current sequence
    row = re.compile(r"^0x([0-9a-f]+)\s+\d+\s+\d+\s+(\d+)\s.*?(end_sequence)?$")
    for line in out.splitlines():
        if line.startswith("debug_line["):
            dirs, files, entry, prev = {}, {}, None, None
            continue
        m = re.match(r'include_directories\[\s*(\d+)\] = "(.*)"', line)
        if m:
            dirs[int(m.group(1))] = m.group(2)
            continue
        m = re.match(r"file_names\[\s*(\d+)\]:", line)
        if m:
            entry = int(m.group(1))
            continue
        m = re.match(r'\s+name: "(.*)"', line)
        if m and entry is not None:
            files[entry] = [m.group(1), 0]
            continue
        m = re.match(r"\s+dir_index: (\d+)", line)
        if m and entry is not None:
            files[entry][1] = int(m.group(1))
            continue
        m = row.match(line)
        if not m:
            continue
        addr, index = int(m.group(1), 16), int(m.group(2))
        if prev is not None:
            name, d = files.get(prev[1], ["?", 0])
            sizes[os.path.join(dirs.get(d, ""), name)] += addr - prev[0]
        prev = None if m.group(3) else (addr, index)
    return sizes


def text_size(dwarfdump, image):
    objdump = os.path.join(os.path.dirname(dwarfdump), "llvm-objdump")
    if not os.path.exists(objdump):
        objdump = dwarfdump.replace("llvm-dwarfdump", "llvm-objdump")
    out = subprocess.run([objdump, "-h", image], check=True, capture_output=True,
                         text=True).stdout
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 3 and f[1] == ".text":
            return int(f[2], 16)
    return 0


def top_functions(objdump, cxxfilt, obj, n):
    out = subprocess.run([objdump, "-h", obj], check=True, capture_output=True,
                         text=True).stdout
    funcs = []
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 3 and f[1].startswith(".text$"):
            # Cold functions ([[gnu::cold]]) sit in .text$unlikely$<symbol>.
            name = re.sub(r"^(unlikely|hot|startup|exit)\$", "", f[1][len(".text$"):])
            funcs.append((int(f[2], 16), name))
    names = subprocess.run([cxxfilt], input="\n".join(name for _, name in funcs), check=True,
                           capture_output=True, text=True).stdout.splitlines()
    ranked = sorted(zip(funcs, names), key=lambda x: -x[0][0])[:n]
    print("    largest functions (after inlining):")
    for (bytes_, _), name in ranked:
        print("    %6d  %s" % (bytes_, name[:150]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("dwarfdump")
    ap.add_argument("image")
    ap.add_argument("--top", nargs=4, metavar=("N", "OBJDUMP", "CXXFILT", "OBJ"))
    args = ap.parse_args()
    root = os.path.realpath(args.root) + os.sep
    sizes = line_table_bytes(args.dwarfdump, args.image)
    text = text_size(args.dwarfdump, args.image)
    named = collections.Counter()
    for path, bytes_ in sizes.items():
        path = os.path.normpath(path)
        if path.startswith(root):
            path = path[len(root):]
        elif "/c++/" in path:
            path = "libstdc++: " + os.path.basename(path)
        named[path] += bytes_
    covered = sum(named.values())
    if text > covered:
        named["(no line table: the runtime, padding between functions)"] = text - covered
    for path, bytes_ in named.most_common():
        print("    %6d B %5.1f %%  %s" % (bytes_, 100.0 * bytes_ / max(text, 1), path))
    print("    %6d B          .text" % text)
    if args.top and int(args.top[0]) > 0:
        top_functions(args.top[1], args.top[2], args.top[3], int(args.top[0]))


if __name__ == "__main__":
    main()
