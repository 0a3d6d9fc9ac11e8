#!/usr/bin/env python3
"""Writes the hand-made seeds of rx_ring_fuzz, tx_ring_fuzz and mailbox_fuzz (not run in
CI; the seeds it wrote are committed):
    tests/fuzz/make_seeds.py tests/fuzz
Each seed: a split byte, operations in the target's encoding, then 256 bytes of entropy
for the model's hostile choices. The op numbers follow LLVMFuzzerTestOneInput."""
import os
import random
import sys

out = sys.argv[1]

def write(target, name, body):
    os.makedirs(os.path.join(out, 'corpus_' + target), exist_ok=True)
    data = bytes([230]) + body + bytes(random.Random(name).getrandbits(8) for _ in range(256))
    with open(os.path.join(out, 'corpus_' + target, name), 'wb') as f:
        f.write(data)

# rx_ring_fuzz: 0 send(u16 len) | 5 advance(u8) | 6 reclaim | 7 poll(u8 budget, u8 keep)
#               11 release(u8 n, u8 index...) | 13 hostility(u8 what, u8 value) | 15 close/open
def rsend(n): return bytes([0, n & 0xff, (n >> 8) & 0xff])
def radv(t): return bytes([5, t])
def rpoll(b, keep): return bytes([7, b, keep])
def rrel(n): return bytes([11, n] + [0] * n)
def rhost(w, v): return bytes([13, w, v])
RCYCLE = bytes([15])
RREC = bytes([6])
write('rx_ring_fuzz', 'faithful_loopback',
      b''.join(rsend(100 + i * 37) + radv(1) + RREC + rpoll(7, 0x55) for i in range(20)) + rrel(8)
      + RCYCLE + RCYCLE + rsend(3000 | 0x8000) + radv(1) + rpoll(3, 0))
write('rx_ring_fuzz', 'hold_across_close',
      b''.join(rsend(200) + radv(1) + rpoll(15, 0xff) for _ in range(30)) + RCYCLE + rrel(8)
      + RCYCLE + rsend(64) + radv(1) + rpoll(15, 0))
for w, name in [(0, 'corrupt'), (1, 'stale'), (2, 'duplicate'), (3, 'ignore_disable'),
                (4, 'never_idle'), (5, 'removal')]:
    value = 255 if w < 3 else (1 if w < 5 else 40)
    write('rx_ring_fuzz', 'hostile_' + name,
          rhost(w, value) + b''.join(rsend(150 + i) + radv(1) + rpoll(5, 0x0f) for i in range(25))
          + RCYCLE + rrel(8))

# tx_ring_fuzz: 0 send(u8 count, per packet u8 pieces, u8 length per piece) | 6 advance(u8)
#               8 reclaim(u8 budget) | 12 hostility(u8 what, u8 value) | 15 close/open
def tsend(k, pieces=1, length=50):
    b = bytes([0, k - 1])
    for _ in range(k):
        b += bytes([pieces - 1] + [length] * pieces)
    return b
def tadv(t): return bytes([6, t])
def trec(b): return bytes([8, b])
def thost(w, v): return bytes([12, w, v])
TCYCLE = bytes([15])
write('tx_ring_fuzz', 'faithful_batches',
      b''.join(tsend(1 + i % 8, 1 + i % 3) + tadv(1) + trec(63 if i % 2 else 2) for i in range(30))
      + TCYCLE + TCYCLE + tsend(8) + TCYCLE)
write('tx_ring_fuzz', 'stall_then_close',
      thost(4, 1) + b''.join(tsend(4, 2) for _ in range(8)) + tadv(5) + trec(10) + TCYCLE)
for w, name in [(0, 'corrupt'), (1, 'stale'), (2, 'duplicate'), (3, 'ignore_disable'),
                (5, 'never_idle'), (6, 'removal')]:
    value = 255 if w < 3 else (1 if w in (3, 5) else 30)
    write('tx_ring_fuzz', 'hostile_' + name,
          tsend(2) + tadv(1) + trec(5) + thost(w, value)
          + b''.join(tsend(1 + i % 4) + tadv(1) + trec(3) for i in range(25)) + TCYCLE)

# mailbox_fuzz: 0 start(u8 deadline ms) | 1 stop(u8) | 2 request(u8 kind, args, u8 deadline)
#               7 firmware(u8 what, u8 value, args) | 11 advance(u8 x 100 ms) + keepalive
#               12 poll | 13 advance(u16 us)
MSTART = bytes([0, 250])
MSTOP = bytes([1, 250])
def mreq(kind, *args): return bytes([2, kind] + list(args) + [250])
def mfw(what, value, *args): return bytes([7, what, value] + list(args))
MKEEP = bytes([11, 20])
MPOLL = bytes([12])
requests = (mreq(0) + mreq(1) + mreq(2, 0, 0, 0, 127) + mreq(3, 0, 1, 0, 16) + mreq(4, 1)
            + mreq(5, 0, 40) + mreq(6, 1, 3) + mreq(7, 1, 2, 3, 4) + mreq(8, 0, 16, 0xab, 0, 1)
            + mreq(9, 1, 1) + MPOLL + MKEEP + MKEEP)
write('mailbox_fuzz', 'healthy', MSTART + requests + MSTOP + MSTART + mreq(0) + MSTOP)
for what, value, name in [(0, 1, 'silent'), (1, 100, 'late'), (3, 30, 'flood'), (4, 1, 'malformed'),
                          (5, 1, 'truncated'), (6, 1, 'garbage'), (7, 1, 'unknown_first'),
                          (8, 1, 'storm'), (9, 1, 'unindexed_attrs'), (10, 64, 'finish_early'),
                          (12, 0, 'stuck_rx_fw_cmpl'), (12, 2, 'stuck_tx_fw_cmpl'),
                          (13, 100, 'removal')]:
    write('mailbox_fuzz', 'fw_' + name, MSTART + mfw(what, value) + requests + MSTOP)
write('mailbox_fuzz', 'late_ownership', mfw(2, 2) + mfw(1, 250) + MSTART + MSTART + requests + MSTOP)
heartbeat = bytes([0x15, 0x80, 0x04, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x39, 0x30, 0, 0, 0, 0, 0, 0])
write('mailbox_fuzz', 'raw_messages',
      MSTART + mfw(14, len(heartbeat), 16, 0, 0) + heartbeat + MPOLL
      + mfw(14, 8, 0xff, 0xff, 1) + bytes(8) + MPOLL + mfw(15, 1, 0, 0, 1, 0) + MPOLL + requests + MSTOP)
