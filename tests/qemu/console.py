"""A guest's serial console on QEMU's stdio, for test scripts: start a command (usually
`fbnic-emu qemu ... -- qemu-system-x86_64 ... -serial stdio`), wait for text, type lines,
and drive OVMF's UEFI shell. Output is kept without ANSI escapes or carriage returns; a raw
transcript can be written to a file.
"""
import os
import re
import select
import subprocess
import time

ANSI = re.compile(rb"\x1b\[[0-9;?=]*[A-Za-z]|\x1b[()][A-Z0-9]")


class Console:
    def __init__(self, argv, transcript=None, env=None):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, bufsize=0, env=env)
        self.buf = b""
        self.held = b""  # an escape sequence cut by a read, completed by the next one
        self.mark = 0
        self.t0 = time.monotonic()
        self.transcript = open(transcript, "wb") if transcript else None

    def elapsed(self):
        return time.monotonic() - self.t0

    def pump(self, timeout):
        """Reads what is there within timeout; False once the command's output ended."""
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            return True
        data = os.read(self.proc.stdout.fileno(), 65536)
        if not data:
            return False
        if self.transcript:
            self.transcript.write(data)
            self.transcript.flush()
        data = self.held + data
        cut = data.rfind(b"\x1b")
        if cut != -1 and not ANSI.match(data, cut) and len(data) - cut < 16:
            data, self.held = data[:cut], data[cut:]
        else:
            self.held = b""
        self.buf += ANSI.sub(b"", data).replace(b"\r", b"")
        return True

    def wait_for(self, pattern, timeout):
        """The first match of pattern after the mark, or None at the timeout or the end."""
        rx = re.compile(pattern.encode() if isinstance(pattern, str) else pattern)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.buf, self.mark)
            if m:
                return m
            left = deadline - time.monotonic()
            if left <= 0 or not self.pump(min(left, 0.2)):
                return rx.search(self.buf, self.mark)

    def send(self, text):
        """Types text and Enter; output from here on is what wait_for and since_mark see."""
        self.mark = len(self.buf)
        for ch in text.encode() + b"\r":
            # The emulated UART takes a few bytes at a time; pace the typing.
            self.proc.stdin.write(bytes([ch]))
            self.proc.stdin.flush()
            time.sleep(0.002)

    def since_mark(self):
        return self.buf[self.mark:].decode("utf-8", "replace")

    def finish(self, timeout):
        """Waits for the command to end (reading its output); stops it at the timeout.
        Returns its exit status, or None when it had to be stopped."""
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self.pump(0.2)
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            return None
        while self.pump(0):
            pass
        return self.proc.returncode


class UefiShell(Console):
    PROMPT = r"Shell> "

    def start_shell(self, timeout):
        """Waits for OVMF's shell, skipping its startup.nsh countdown; True at the prompt."""
        m = self.wait_for(r"Press ESC in \d+ seconds|Shell> ", timeout)
        if m is None:
            return False
        if m.group(0).startswith(b"Press"):
            self.send("")  # any key: no 5 s wait
        return self.wait_for(self.PROMPT, timeout) is not None

    def run(self, command, timeout=30):
        """Runs one shell command; its output, or None when no prompt came back."""
        self.send(command)
        # The echo of the command comes first, then its output, then the next prompt.
        m = self.wait_for(self.PROMPT, timeout)
        return None if m is None else self.buf[self.mark:m.start()].decode("utf-8", "replace")
