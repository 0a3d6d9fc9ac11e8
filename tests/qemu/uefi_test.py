#!/usr/bin/env python3
"""OVMF with fbnic-emu as a PCI device: the UEFI shell's `pci` lists 1d9b:0013 with its
BARs assigned, and `mm` reaches the model through BAR0.

  uefi_test.py --transcript FILE -- COMMAND...

COMMAND starts fbnic-emu and QEMU (run.sh builds it); the fbnic is expected at 00:03.0.
Prints one line per check ("ok" or "FAIL") with the time since QEMU started, then
"UEFI-QEMU PASS" or "UEFI-QEMU FAIL"; the exit status follows.
"""
import argparse
import re
import sys

from console import UefiShell

SCRATCH = 0x20000          # BAR0 offset of an RXB register the model stores as written
PATTERN = 0x1D9B0013


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--transcript")
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    argv = args.command[1:] if args.command[:1] == ["--"] else args.command
    sh = UefiShell(argv, args.transcript)
    failed = []

    def check(ok, text):
        print("[%6.2fs] %s %s" % (sh.elapsed(), "ok  " if ok else "FAIL", text), flush=True)
        if not ok:
            failed.append(text)
        return ok

    if check(sh.start_shell(args.timeout), "OVMF reached the UEFI shell"):
        print("UEFI-QEMU boot-to-shell %.2f s" % sh.elapsed(), flush=True)
        out = sh.run("pci") or ""
        dev = re.search(r"00\s+00\s+03\s+00 ==> (.*)\n\s+Vendor (\w+) Device (\w+)", out)
        check(dev is not None and dev.group(2) == "1D9B" and dev.group(3) == "0013",
              "`pci` lists 00:03.0 as %s" % (" ".join(dev.groups()) if dev else "nothing"))
        dump = sh.run("pci 00 03 00 -i") or ""
        cfg = bytearray(64)
        for line in re.finditer(r"^\s+000000([0-3])0: ([0-9A-F ]+)-([0-9A-F ]+)", dump, re.M):
            row = bytes.fromhex(line.group(2) + line.group(3))
            cfg[int(line.group(1)) * 16:int(line.group(1)) * 16 + 16] = row
        bar = [int.from_bytes(cfg[0x10 + 4 * i:0x14 + 4 * i], "little") for i in range(6)]
        command = int.from_bytes(cfg[4:6], "little")
        check(bar[0] & ~0xF != 0 and bar[4] & ~0xF != 0 and command & 0x2,
              "BARs assigned: BAR0 %#x, BAR2 %#x, BAR4 %#x (32-bit memory), command %#x" %
              (bar[0], bar[2], bar[4], command))
        base = bar[0] & ~0xF
        out = sh.run("mm %X %X -w 4 -MMIO -n" % (base + SCRATCH, PATTERN)) or ""
        out = sh.run("mm %X -w 4 -MMIO -n" % (base + SCRATCH)) or ""
        got = re.search(r"MMIO\s+0x0*%X\s*:\s*0x([0-9A-F]+)" % (base + SCRATCH), out)
        check(got is not None and int(got.group(1), 16) == PATTERN,
              "`mm` wrote %#x to BAR0+%#x and read back %s from the model" %
              (PATTERN, SCRATCH, "0x" + got.group(1) if got else repr(out.strip())))
        out = sh.run("mm %X -w 4 -MMIO -n" % ((bar[4] & ~0xF) + 0x18000)) or ""
        check(re.search(r"MMIO\s+0x0*%X\s*:\s*0x[0-9A-F]+" % ((bar[4] & ~0xF) + 0x18000), out),
              "`mm` reads BAR4 (the mailbox): %s" % out.strip().splitlines()[-1:])
        sh.send("reset -s")
    rc = sh.finish(args.timeout)
    check(rc == 0, "QEMU powered off and fbnic-emu exited with %s" % rc)
    print("UEFI-QEMU %s" % ("PASS" if not failed else "FAIL"), flush=True)
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
