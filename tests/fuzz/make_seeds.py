#!/usr/bin/env python3
"""Writes the hand-made seeds of rx_ring_fuzz and tx_ring_fuzz (tools, not CI):
    tests/fuzz/make_ring_seeds.py tests/fuzz
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
