#!/usr/bin/env python3
"""A one-peer ivshmem server for QEMU's ivshmem-doorbell, and the host-side checks.

  ivshmem_server.py serve --socket PATH --shm PATH [--vectors 2] [--peer-id 1]
      Creates the shared memory file (1 MiB) with a random seed at 0x80000, listens on
      PATH, hands QEMU the memory and one eventfd per vector (QEMU's protocol: version 0,
      the peer's id, the memory fd tagged -1, then the peer's id once per eventfd). When
      the guest writes "REDY" at 0x80040 it fires vector 0 from the host, once. Prints what
      it did; exits when QEMU disconnects.

  ivshmem_server.py check --shm PATH
      After the guest ran: the seed echoed, the 512 KiB pattern derived from the seed, the
      header and the commit marker. Exit status 0 only if all hold.
"""
import argparse
import os
import socket
import struct
import sys
import time

SIZE = 1 << 20
PATTERN_BYTES = 0x80000
SEED = 0x80000
SEED_ECHO = 0x80010
HEADER = 0x80020
READY = 0x80040
FIRED = 0x80044
COMMIT = 0x80100
READY_MAGIC = 0x59444552  # "REDY"
COMMIT_MAGIC = 0xC0FFEE01


def log(*args):
    print("IVSHMEM-SERVER:", *args, flush=True)


def word(mem, offset):
    return struct.unpack_from("<I", mem, offset)[0]


def serve(args):
    fd = os.open(args.shm, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    os.ftruncate(fd, SIZE)
    seed = os.urandom(8)
    os.pwrite(fd, seed, SEED)
    log("memory", args.shm, "seed", seed.hex())
    efds = [os.eventfd(0) for _ in range(args.vectors)]

    if os.path.exists(args.socket):
        os.unlink(args.socket)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(args.socket)
    listener.listen(1)
    listener.settimeout(args.timeout)
    try:
        conn, _ = listener.accept()
    except socket.timeout:
        log("no client within", args.timeout, "s")
        return 1
    # One 8-byte message per sendmsg, so that each fd travels with its own message.
    conn.sendall(struct.pack("<q", 0))  # protocol version
    conn.sendall(struct.pack("<q", args.peer_id))
    socket.send_fds(conn, [struct.pack("<q", -1)], [fd])
    for efd in efds:
        socket.send_fds(conn, [struct.pack("<q", args.peer_id)], [efd])
    log("client connected: sent memory and", len(efds), "eventfds, peer id", args.peer_id)

    # Poll the memory (not the socket) for the guest's request; QEMU closing the socket
    # ends the session.
    conn.setblocking(False)
    deadline = time.monotonic() + args.timeout
    fired = False
    while time.monotonic() < deadline:
        if not fired and struct.unpack("<I", os.pread(fd, 4, READY))[0] == READY_MAGIC:
            os.eventfd_write(efds[0], 1)
            os.pwrite(fd, struct.pack("<I", 1), FIRED)
            fired = True
            log("guest ready: fired MSI-X vector 0 from the host")
        try:
            if conn.recv(64) == b"":
                break
        except BlockingIOError:
            pass
        time.sleep(0.005)
    log("client gone" + ("" if fired else " (vector 0 never requested)"))
    return 0


def check(args):
    with open(args.shm, "rb") as f:
        mem = f.read()
    ok = True

    def result(good, text):
        nonlocal ok
        ok = ok and good
        print(("HOST-CHECK ok   " if good else "HOST-CHECK FAIL ") + text, flush=True)

    seed_lo, seed_hi = word(mem, SEED), word(mem, SEED + 4)
    result(len(mem) == SIZE, "shared memory file is %d bytes" % len(mem))
    result(word(mem, COMMIT) == COMMIT_MAGIC, "commit marker written last by the guest")
    result((word(mem, SEED_ECHO), word(mem, SEED_ECHO + 4)) == (seed_lo, seed_hi),
           "guest read the host's seed %08x%08x and echoed it" % (seed_hi, seed_lo))
    bad = sum(1 for i in range(PATTERN_BYTES // 4)
              if word(mem, i * 4) != (i * 0x9E3779B1 + seed_lo) & 0xFFFFFFFF)
    result(bad == 0, "512 KiB pattern from the guest's BAR2 writes: %d mismatching words" % bad)
    header = mem[HEADER:HEADER + 16].decode("ascii", "replace")
    result(header == "FBNIC-VFIO-OK---", "header %r" % header)
    result(word(mem, FIRED) == 1, "the server fired vector 0 when the guest asked")
    return 0 if ok else 1


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--socket", required=True)
    s.add_argument("--shm", required=True)
    s.add_argument("--vectors", type=int, default=2)
    s.add_argument("--peer-id", type=int, default=1)
    s.add_argument("--timeout", type=float, default=600)
    c = sub.add_parser("check")
    c.add_argument("--shm", required=True)
    args = parser.parse_args()
    return serve(args) if args.cmd == "serve" else check(args)


if __name__ == "__main__":
    sys.exit(main())
