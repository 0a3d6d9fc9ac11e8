#!/usr/bin/env python3
"""fbnic.efi in OVMF with fbnic-emu at 00:03.0, driven over the serial console (see
driver.sh, which makes the namespace, runs dnsmasq and starts this with the command).

  driver_test.py --scenario S [--then-pxe] --transcript FILE --dnsmasq-log FILE -- COMMAND...

Scenarios: shell (load, connect, DHCP, ping, drivers/dh, disconnect, unload; with
--then-pxe also bcfg driver add, reset, and the PXE boot), silent-firmware, removed,
no-link (a variable store with the Driver#### option: the driver is loaded at boot).
Prints one line per check ("ok" or "FAIL") with the time since QEMU started, and
"UEFI-DRIVER-TEST PASS" or "... FAIL"; the exit status follows.
"""
import argparse
import os
import re
import signal
import sys
import time

from console import UefiShell

DRIVER_NAME = "Meta fbnic SNP Driver"
BDF = "00 03 00"
# With no Device Serial Number (a conventional PCI function), fbnic.efi makes a locally
# administered address from the PCI location: segment 0, bus 0, device 3, function 0.
MAC = "02:1d:9b:00:00:18"
NS_IP = "10.72.0.1"


class Shell(UefiShell):
    # After `fs0:` the prompt names the current directory.
    PROMPT = r"(?:Shell|FS\d+:\\[^>\n]*)> "


class Test:
    def __init__(self, args, argv):
        self.sh = Shell(argv, args.transcript)
        self.args = args
        self.failed = []

    def check(self, ok, text):
        print("[%6.2fs] %s %s" % (self.sh.elapsed(), "ok  " if ok else "FAIL", text), flush=True)
        if not ok:
            self.failed.append(text)
        return ok

    def note(self, text):
        print("[%6.2fs]      %s" % (self.sh.elapsed(), text), flush=True)

    def run(self, command, timeout=30):
        out = self.sh.run(command, timeout)
        if out is None:
            self.check(False, "`%s` came back to the prompt within %d s" % (command, timeout))
            return ""
        return out

    def command_register(self):
        dump = self.run("pci %s -i" % BDF)
        m = re.search(r"^\s*00000000: ([0-9A-F]{2} ){4}([0-9A-F]{2}) ([0-9A-F]{2})", dump, re.M)
        return None if m is None else int(m.group(3) + m.group(2), 16)

    def dnsmasq(self, pattern):
        try:
            with open(self.args.dnsmasq_log, encoding="utf-8", errors="replace") as f:
                return [l.rstrip() for l in f if re.search(pattern, l)]
        except OSError:
            return []

    def emu_counters(self):
        """fbnic-emu's counters so far (SIGUSR1 makes it print them to its log)."""
        log = self.args.emu_log
        before = os.path.getsize(log) if log and os.path.exists(log) else 0
        os.kill(self.sh.proc.pid, signal.SIGUSR1)
        for _ in range(50):
            time.sleep(0.1)
            with open(log, encoding="utf-8", errors="replace") as f:
                f.seek(before)
                m = re.search(r"so far: .*DMA (\d+), while bus mastering was off (\d+) "
                              r"\(turned off (\d+) times\)", f.read())
            if m:
                return tuple(int(x) for x in m.groups())
        return None

    def finish(self, timeout):
        rc = self.sh.finish(timeout)
        self.check(rc == 0, "QEMU powered off and fbnic-emu exited with %s" % rc)
        print("UEFI-DRIVER-TEST %s" % ("PASS" if not self.failed else "FAIL"), flush=True)
        return 0 if not self.failed else 1

    # --- the scenarios ---

    def shell(self):
        sh = self.sh
        if not self.check(sh.start_shell(self.args.timeout), "OVMF reached the UEFI shell"):
            return
        self.note("boot to shell %.2f s" % sh.elapsed())
        cmd0 = self.command_register()
        self.check(cmd0 is not None, "`pci %s -i`: command register %s before the driver"
                   % (BDF, "%#06x" % cmd0 if cmd0 is not None else "?"))
        self.run("fs0:")
        out = self.run("load fbnic.efi")
        self.check("Success" in out, "`load fbnic.efi`: %s" % out.strip().splitlines()[-1:])
        t = time.monotonic()
        out = self.run("connect -r", 120)
        self.check("Success" in out or out.strip() == "",
                   "`connect -r` in %.2f s: %s" % (time.monotonic() - t,
                                                  out.strip().splitlines()[-1:]))
        cmd1 = self.command_register()
        self.check(cmd1 is not None and cmd1 & 0x6 == 0x6,
                   "memory decoding and bus mastering on while managed (command %s)"
                   % ("%#06x" % cmd1 if cmd1 is not None else "?"))
        drivers = self.run("drivers")
        line = next((l for l in drivers.splitlines() if DRIVER_NAME in l), None)
        m = re.match(r"\s*([0-9A-F]+)\s+([0-9A-F]+)\s+(\w)\s+(\S)\s+(\S)\s+(\d+|-)\s+(\d+|-)", line or "")
        self.check(m is not None and m.group(6) == "1" and m.group(7) == "1",
                   "`drivers`: %s" % (line.strip() if line else "no line for " + DRIVER_NAME))
        drv = m.group(1) if m else None
        if drv is not None:
            dh = self.run("dh -d %s" % drv)
            print("\n".join("        | " + l for l in dh.strip().splitlines()), flush=True)
            ctrl = re.search(r"Ctrl\[\s*([0-9A-F]+)\]", dh)
            child = re.search(r"Child\[\s*([0-9A-F]+)\]", dh)
            self.check(ctrl is not None and child is not None,
                       "`dh -d %s`: manages Ctrl[%s] with Child[%s]" %
                       (drv, ctrl.group(1) if ctrl else "?", child.group(1) if child else "?"))
        else:
            ctrl = child = None
        out = self.run("ifconfig -s eth0 dhcp", 60)
        lease = None
        t = time.monotonic()
        while time.monotonic() - t < 60:
            out = self.run("ifconfig -l eth0")
            m = re.search(r"ipv4 address\s*:\s*(\d+\.\d+\.\d+\.\d+)", out)
            if m and m.group(1) != "0.0.0.0":
                lease = m.group(1)
                break
            time.sleep(1)
        self.check(lease is not None and lease.startswith("10.72.0."),
                   "`ifconfig -s eth0 dhcp`: `ifconfig -l eth0` shows %s after %.1f s" %
                   (lease, time.monotonic() - t))
        mac = re.search(r"mac addr\s*:\s*([0-9A-F:]+)", out, re.I)
        self.check(mac is not None and mac.group(1).lower() == MAC,
                   "the interface's MAC is %s" % (mac.group(1) if mac else "?"))
        acks = self.dnsmasq(r"DHCPACK\(.*%s" % MAC)
        self.check(lease is not None and any(lease in a for a in acks),
                   "dnsmasq's log: %s" % (acks[-1].split("dnsmasq-dhcp")[-1] if acks else "no DHCPACK"))
        out = self.run("ping -n 3 %s" % NS_IP, 60)
        m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
        self.check(m is not None and m.group(2) == m.group(1) != "0",
                   "`ping -n 3 %s`: %s" % (NS_IP, m.group(0) if m else out.strip()[-80:]))
        if ctrl is not None:
            out = self.run("disconnect %s" % ctrl.group(1), 60)
            self.check("Success" in out, "`disconnect %s`: %s" %
                       (ctrl.group(1), out.strip().splitlines()[-1:]))
            cmd2 = self.command_register()
            self.check(cmd2 is not None and cmd0 is not None and cmd2 == cmd0 & ~0x4,
                       "after disconnect the command register is %s: as before the driver, "
                       "bus mastering off" % ("%#06x" % cmd2 if cmd2 is not None else "?"))
            dma = self.emu_counters()
            self.check(dma is not None and dma[0] > 0 and dma[1] == 0 and dma[2] >= 1,
                       "fbnic-emu: %s DMA in all, none while bus mastering was off (turned off "
                       "%s times)" % (dma[0] if dma else "?", dma[2] if dma else "?"))
        if drv is not None:
            out = self.run("unload -n %s" % drv, 60)
            self.check("Success" in out, "`unload -n %s`: %s" % (drv, out.strip().splitlines()[-1:]))
            drivers = self.run("drivers")
            self.check(DRIVER_NAME not in drivers, "`drivers` no longer lists the driver")
            dh = self.run("dh", 60)
            self.check("fbnic" not in dh.lower() and "MAC(" not in dh,
                       "`dh`: no handle of the driver left (no image, no child, no MAC path)")
        if self.args.then_pxe:
            self.pxe()
        else:
            sh.send("reset -s")

    def pxe(self):
        sh = self.sh
        out = self.run('bcfg driver add 0 fs0:\\fbnic.efi "fbnic"')
        self.check("Success" in out or "added" in out.lower() or out.strip() == "",
                   "`bcfg driver add 0 fs0:\\fbnic.efi`: %s" % out.strip().splitlines()[-1:])
        out = self.run("bcfg driver dump")
        self.check("fbnic.efi" in out, "`bcfg driver dump` lists Driver0000")
        t0 = time.monotonic()
        sh.send("reset")
        m = sh.wait_for(r"FBNIC-PXE: (PASS|FAIL)[^\n]*", self.args.timeout)
        took = time.monotonic() - t0
        text = sh.buf.decode("utf-8", "replace")
        started = re.search(r"Start PXE over IPv4[^\n]*", text[sh.mark:])
        self.check(started is not None, "OVMF's boot manager started the UEFI PXEv4 option")
        self.check(m is not None and m.group(1) == b"PASS",
                   "%s, %.2f s after reset" % (m.group(0).decode() if m else "no PXE result", took))
        self.check(m is not None and MAC.encode() in m.group(0), "loaded over fbnic's SNP (%s)" % MAC)
        sent = self.dnsmasq(r"sent .*pxe\.efi")
        self.check(bool(sent), "dnsmasq's log: %s" % (sent[-1].split("dnsmasq-tftp")[-1]
                                                       if sent else "no TFTP transfer"))

    def bad(self, what):
        sh = self.sh
        error = sh.wait_for(r"fbnic[^\n]*(not started|bring-up failed|firmware mailbox)[^\n]*",
                            self.args.timeout)
        if what == "no-link":
            self.check(error is None, "no error from the driver (the device came up)")
            pxe = sh.wait_for(r"Start PXE over IPv4", self.args.timeout)
            self.check(pxe is not None, "OVMF tried the PXE boot option")
        else:
            self.check(error is not None, "the driver refused the controller: %s" %
                       (error.group(0).decode() if error else "no error line"))
        t = sh.elapsed()
        shell = sh.start_shell(self.args.timeout)
        self.check(shell, "OVMF went on to its next boot option, the shell, at %.2f s" % sh.elapsed())
        if not shell:
            return
        cmd = self.command_register()
        self.check(cmd is not None and cmd & 0x4 == 0,
                   "bus mastering off (command %s)" % ("%#06x" % cmd if cmd is not None else "?"))
        drivers = self.run("drivers")
        line = next((l for l in drivers.splitlines() if DRIVER_NAME in l), "")
        print("        | " + line.strip(), flush=True)
        if what == "no-link":
            self.check(line != "", "the driver is loaded (Driver0000) and manages the NIC")
        else:
            m = re.match(r"\s*([0-9A-F]+)\s+([0-9A-F]+)\s+(\w)\s+(\S)\s+(\S)\s+(\d+|-)\s+(\d+|-)", line)
            self.check(m is not None and m.group(6) in ("-", "0"),
                       "the driver is loaded (Driver0000) and manages nothing")
        del t
        sh.send("reset -s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario", required=True,
                    choices=["shell", "silent-firmware", "removed", "no-link"])
    ap.add_argument("--then-pxe", action="store_true")
    ap.add_argument("--transcript")
    ap.add_argument("--dnsmasq-log")
    ap.add_argument("--emu-log")
    ap.add_argument("--timeout", type=float, default=180)
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    argv = args.command[1:] if args.command[:1] == ["--"] else args.command
    if args.emu_log is None and "--log" in argv:
        args.emu_log = argv[argv.index("--log") + 1]
    test = Test(args, argv)
    if args.scenario == "shell":
        test.shell()
    else:
        test.bad(args.scenario)
    return test.finish(args.timeout)


if __name__ == "__main__":
    sys.exit(main())
