#!/usr/bin/env python3
"""fbnic.efi in OVMF with fbnic-emu at 00:03.0, driven over the serial console (see
driver.sh, which makes the namespace, runs dnsmasq and starts this with the command).

  driver_test.py --scenario S [--then-pxe] --transcript FILE --dnsmasq-log FILE -- COMMAND...

Scenarios:
  shell            load, connect -r, a second connect, DHCP, ping, drivers and dh -d,
                   disconnect, unload; with --then-pxe also bcfg driver add, reset, and the
                   PXE boot of pxe.efi
  unplug           load, connect, DHCP, ping; then the device is removed (SIGUSR2 to
                   fbnic-emu): ping fails and the shell goes on, disconnect and unload work
  silent-firmware, removed, no-link
                   a variable store with the Driver#### option (the driver is loaded at
                   boot) and a device that misbehaves from power-on
  aarch64          AAVMF (qemu-system-aarch64 has no proxy device, so no fbnic): the
                   aarch64 fbnic.efi loads, installs its driver, connects to nothing and
                   unloads
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
# `drivers`: handle, version, type, config, diagnostics, #devices, #children
DRIVERS_LINE = re.compile(r"\s*([0-9A-F]+)\s+([0-9A-F]+)\s+(\S)\s+(\S)\s+(\S)\s+(\d+|-)\s+(\d+|-)")
# What fbnic.efi prints when it refuses a controller (snp_driver.hpp).
REFUSED = r"fbnic: controller not started after (\d+) ms[^\n]*"


class Shell(UefiShell):
    # After `fs0:` the prompt names the current directory.
    PROMPT = r"(?:Shell|FS\d+:\\[^>\n]*)> "


def last_line(out):
    lines = out.strip().splitlines()
    return lines[-1].strip() if lines else ""


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
        """fbnic-emu's DMA counters so far (SIGUSR1 makes it print them to its log):
        (all DMA, DMA while bus mastering was off, times it was turned off)."""
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
        self.check(rc == 0, "QEMU powered off (exit status %s)" % rc)
        print("UEFI-DRIVER-TEST %s" % ("PASS" if not self.failed else "FAIL"), flush=True)
        return 0 if not self.failed else 1

    # --- steps ---

    def driver_line(self):
        """fbnic.efi's line of `drivers`: (handle, devices, children), or None."""
        out = self.run("drivers")
        line = next((l for l in out.splitlines() if DRIVER_NAME in l), None)
        m = DRIVERS_LINE.match(line or "")
        return None if m is None else (m.group(1), m.group(6), m.group(7), line.strip())

    def boot_to_shell(self):
        if not self.check(self.sh.start_shell(self.args.timeout), "OVMF reached the UEFI shell"):
            return False
        self.note("boot to shell %.2f s" % self.sh.elapsed())
        return True

    def load_and_connect(self):
        """load, connect -r; returns (driver, controller, child) handles or Nones."""
        self.run("fs0:")
        out = self.run("load fbnic.efi")
        self.check("Success" in out, "`load fbnic.efi`: %s" % last_line(out))
        t = time.monotonic()
        out = self.run("connect -r", 120)
        self.check("Success" in out, "`connect -r` in %.2f s: %s" % (time.monotonic() - t,
                                                                     last_line(out)))
        cmd = self.command_register()
        self.check(cmd is not None and cmd & 0x6 == 0x6,
                   "memory decoding and bus mastering on while managed (command %s)"
                   % ("%#06x" % cmd if cmd is not None else "?"))
        d = self.driver_line()
        self.check(d is not None and d[1] == "1" and d[2] == "1",
                   "`drivers`: %s" % (d[3] if d else "no line for " + DRIVER_NAME))
        if d is None:
            return None, None, None
        dh = self.run("dh -d %s" % d[0])
        print("\n".join("        | " + l for l in dh.strip().splitlines()), flush=True)
        ctrl = re.search(r"Ctrl\[\s*([0-9A-F]+)\]", dh)
        child = re.search(r"Child\[\s*([0-9A-F]+)\]", dh)
        self.check(ctrl is not None and child is not None,
                   "`dh -d %s`: manages Ctrl[%s] with Child[%s]" %
                   (d[0], ctrl.group(1) if ctrl else "?", child.group(1) if child else "?"))
        return d[0], ctrl.group(1) if ctrl else None, child.group(1) if child else None

    def dhcp(self):
        self.run("ifconfig -s eth0 dhcp", 60)
        lease = None
        out = ""
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
                   "dnsmasq's log: %s" % (acks[-1].split("dnsmasq-dhcp")[-1].strip()
                                          if acks else "no DHCPACK"))
        return lease

    def ping(self, count):
        """(sent, received) of `ping -n count`, or None when it printed no summary."""
        out = self.run("ping -n %d %s" % (count, NS_IP), 60)
        m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
        return (int(m.group(1)), int(m.group(2))) if m else None, out

    def disconnect_and_unload(self, drv, ctrl, cmd0):
        t = time.monotonic()
        out = self.run("disconnect %s" % ctrl, 60)
        self.check("Success" in out, "`disconnect %s` in %.2f s: %s" %
                   (ctrl, time.monotonic() - t, last_line(out)))
        cmd = self.command_register()
        self.check(cmd is not None and cmd0 is not None and cmd == cmd0 & ~0x4,
                   "after disconnect the command register is %s: as before the driver, "
                   "bus mastering off" % ("%#06x" % cmd if cmd is not None else "?"))
        out = self.run("unload -n %s" % drv, 60)
        self.check("Success" in out, "`unload -n %s`: %s" % (drv, last_line(out)))
        self.check(self.driver_line() is None, "`drivers` no longer lists the driver")
        dh = self.run("dh", 60)
        self.check("fbnic" not in dh.lower() and "MAC(" not in dh,
                   "`dh`: no handle of the driver left (no image, no child, no MAC path)")

    # --- the scenarios ---

    def shell(self):
        if not self.boot_to_shell():
            return
        cmd0 = self.command_register()
        self.check(cmd0 is not None, "`pci %s -i`: command register %s before the driver"
                   % (BDF, "%#06x" % cmd0 if cmd0 is not None else "?"))
        drv, ctrl, _ = self.load_and_connect()
        if ctrl is not None:
            # A second connect of a managed controller: the firmware asks Supported, which
            # finds PciIo already opened by this driver; nothing changes.
            out = self.run("connect %s" % ctrl, 60)
            d = self.driver_line()
            self.check(d is not None and d[1] == "1" and d[2] == "1",
                       "a second `connect %s` (%s): still one controller and one child"
                       % (ctrl, last_line(out)))
        lease = self.dhcp()
        got, out = self.ping(3)
        self.check(lease is not None and got is not None and got[0] == got[1] == 3,
                   "`ping -n 3 %s`: %s" % (NS_IP, "%d sent, %d received" % got if got
                                           else out.strip()[-80:]))
        if drv is None or ctrl is None:
            self.sh.send("reset -s")
            return
        self.disconnect_and_unload(drv, ctrl, cmd0)
        dma = self.emu_counters()
        self.check(dma is not None and dma[0] > 0 and dma[1] == 0 and dma[2] >= 1,
                   "fbnic-emu: %s DMA in all, none while bus mastering was off (turned off "
                   "%s times)" % (dma[0] if dma else "?", dma[2] if dma else "?"))
        if self.args.then_pxe:
            self.pxe()
        else:
            self.sh.send("reset -s")

    def pxe(self):
        sh = self.sh
        out = self.run('bcfg driver add 0 fs0:\\fbnic.efi "fbnic"')
        self.check(re.search(r"Add Driver\d{4}", out) is not None,
                   "`bcfg driver add 0 fs0:\\fbnic.efi`: %s" % last_line(out))
        out = self.run("bcfg driver dump")
        self.check("fbnic.efi" in out, "`bcfg driver dump` lists Driver0000")
        # OVMF creates the network boot options at the next boot and appends them to
        # BootOrder, after the shell's; it registers the shell's option again on every boot,
        # after the options it found. So the shell's option leaves BootOrder here, and comes
        # back after UEFI PXEv4.
        out = self.run("bcfg boot dump")
        shell = re.search(r"Option: (\d+)\. Variable: Boot\w+\s+Desc\s+- EFI Internal Shell", out)
        if self.check(shell is not None, "`bcfg boot dump` lists the shell as option %s"
                      % (shell.group(1) if shell else "?")):
            self.run("bcfg boot rm %d" % int(shell.group(1)))
            out = self.run("bcfg boot dump")
            self.check("EFI Internal Shell" not in out,
                       "`bcfg boot rm %s`: the shell is out of BootOrder" % shell.group(1))
        t0 = time.monotonic()
        sh.send("reset")
        m = sh.wait_for(r"FBNIC-PXE: (PASS|FAIL)[^\n]*", self.args.timeout)
        took = time.monotonic() - t0
        text = sh.buf.decode("utf-8", "replace")[sh.mark:]
        started = re.search(r"BdsDxe: starting Boot\w+ \"UEFI PXEv4[^\n]*", text)
        self.check(started is not None and "MAC(%s" % MAC.replace(":", "").upper() in text,
                   "OVMF's boot manager: %s" % (started.group(0) if started else "no PXEv4 boot"))
        self.check(m is not None and m.group(1) == b"PASS",
                   "%s, %.2f s after reset" % (m.group(0).decode() if m else "no PXE result", took))
        sent = self.dnsmasq(r"sent .*pxe\.efi")
        self.check(bool(sent), "dnsmasq's log: %s" % (sent[-1].split("dnsmasq-tftp")[-1].strip()
                                                       if sent else "no TFTP transfer"))

    def unplug(self):
        if not self.boot_to_shell():
            return
        cmd0 = self.command_register()
        drv, ctrl, _ = self.load_and_connect()
        lease = self.dhcp()
        got, _ = self.ping(1)
        self.check(lease is not None and got == (1, 1), "`ping -n 1`: %s" % (got,))
        if drv is None or ctrl is None:
            self.sh.send("reset -s")
            return
        os.kill(self.sh.proc.pid, signal.SIGUSR2)
        self.note("the device is removed (SIGUSR2 to fbnic-emu)")
        t = time.monotonic()
        got, out = self.ping(2)
        self.check(got is None or got[1] == 0,
                   "`ping -n 2` after the removal: %s, back at the prompt in %.1f s"
                   % ("%d sent, %d received" % got if got else last_line(out),
                      time.monotonic() - t))
        errors = re.findall(r"fbnic[^\n]*", self.sh.buf[self.sh.mark:].decode("utf-8", "replace"))
        self.note("the driver said: %s" % (errors[:3] if errors else "nothing"))
        self.disconnect_and_unload(drv, ctrl, cmd0)
        self.sh.send("reset -s")

    def aarch64(self):
        if not self.boot_to_shell():
            return
        self.run("fs0:")
        out = self.run("load fbnic.efi")
        self.check("Success" in out, "`load fbnic.efi` (aarch64): %s" % last_line(out))
        self.run("connect -r", 120)
        d = self.driver_line()
        self.check(d is not None and d[1] in ("-", "0"),
                   "`drivers`: %s (no fbnic on this machine)" % (d[3] if d else "no line"))
        if d is not None:
            out = self.run("unload -n %s" % d[0], 60)
            self.check("Success" in out, "`unload -n %s`: %s" % (d[0], last_line(out)))
            self.check(self.driver_line() is None, "`drivers` no longer lists the driver")
        self.sh.send("reset -s")

    def bad(self, what):
        sh = self.sh
        if what == "no-link":
            # PxeBcDxe asks SNP for media before it sends anything, and with none the boot
            # option fails at once; the boot manager goes on to the next one.
            pxe = sh.wait_for(r"BdsDxe: failed to load Boot\w+ \"UEFI PXEv4[^\n]*", self.args.timeout)
            self.check(pxe is not None, "at %.2f s OVMF tried the PXE boot option: %s" %
                       (sh.elapsed(), pxe.group(0).decode() if pxe else "no"))
        else:
            refused = sh.wait_for(REFUSED, self.args.timeout)
            self.check(refused is not None, "at %.2f s the driver refused the controller: %s" %
                       (sh.elapsed(), refused.group(0).decode() if refused else "no error line"))
        shell = sh.start_shell(self.args.timeout)
        self.check(shell, "OVMF went on to its next boot option, the shell, at %.2f s"
                   % sh.elapsed())
        if not shell:
            return
        text = sh.buf.decode("utf-8", "replace")
        self.check(re.search(r"PXE[^\n]*\bMAC\(", text) is None or what == "no-link",
                   "no PXE boot option for the refused controller")
        cmd = self.command_register()
        d = self.driver_line()
        self.check(d is not None, "the driver is loaded (Driver0000): %s" % (d[3] if d else "?"))
        if what == "no-link":
            self.check(d is not None and d[1] == "1" and d[2] == "1",
                       "it manages the controller and its child")
        else:
            self.check(d is not None and d[1] in ("-", "0"), "it manages nothing")
            self.check(cmd is not None and cmd & 0x4 == 0,
                       "bus mastering off (command %s)" % ("%#06x" % cmd if cmd else "?"))
        sh.send("reset -s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario", required=True,
                    choices=["shell", "unplug", "silent-firmware", "removed", "no-link",
                             "aarch64"])
    ap.add_argument("--then-pxe", action="store_true")
    ap.add_argument("--transcript")
    ap.add_argument("--dnsmasq-log")
    ap.add_argument("--emu-log")
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    argv = args.command[1:] if args.command[:1] == ["--"] else args.command
    if args.emu_log is None and "--log" in argv:
        args.emu_log = argv[argv.index("--log") + 1]
    test = Test(args, argv)
    if args.scenario == "shell":
        test.shell()
    elif args.scenario == "unplug":
        test.unplug()
    elif args.scenario == "aarch64":
        test.aarch64()
    else:
        test.bad(args.scenario)
    return test.finish(60)


if __name__ == "__main__":
    sys.exit(main())
