#!/usr/bin/env python3
"""Where the bytes of a UEFI image go: the function sections of its object (built with
-ffunction-sections), demangled, grouped by the layer or header they come from.

  sizes.py OBJDUMP CXXFILT OBJ [--top N]

Prints one line per group (bytes, functions, group) and the total; with --top N also the
N largest functions. Sizes are the sections' sizes before linking (lld-link drops what
nothing references with /opt:ref, so the total is an upper bound of the linked .text).
"""
import argparse
import collections
import re
import subprocess

# (group, pattern on the function's qualified name without template arguments); first
# match wins.
GROUPS = [
    ("hw/io.hpp: Io (checked register access)", r"^fbnic::Io::"),
    ("base/log.hpp, platform.hpp: log lines", r"^fbnic::detail::log_line$|^fbnic::LogLine::|"
     r"^fbnic::(fw::)?operator(<<)?$"),
    ("tlv/: TLV decode and encode", r"^fbnic::tlv::|^std::__apply_impl|^std::__invoke_impl"),
    ("fw/mailbox.hpp: Mailbox", r"^fbnic::fw::Mailbox::"),
    ("fw/client.hpp: Client (caps, ownership, heartbeat)", r"^fbnic::fw::Client::"),
    ("mac/datapath.hpp: datapath init", r"^fbnic::mac::init_"),
    ("mac/stats.hpp: MAC counters", r"^fbnic::mac::read_"),
    ("mac/link.hpp: link", r"^fbnic::mac::"),
    ("rpc/: classifier (MAC and action TCAMs, RSS)", r"^fbnic::rpc::"),
    ("ring/rx_queue.hpp, page_pool.hpp: Rx", r"^fbnic::RxQueue::|^fbnic::PagePool::"),
    ("ring/tx_queue.hpp: Tx", r"^fbnic::TxQueue::"),
    ("ring/tx_refusal.hpp: Tx packet checks and what they log",
     r"^fbnic::tx_problem$|^fbnic::log_tx_refusal$"),
    ("ring/desc_ring.hpp, vector.hpp, deadline.hpp: rings, vectors, waits",
     r"write_ring_base|^fbnic::DescRing::|_vector$|^fbnic::poll_until$"),
    ("hw/counter.hpp, dev/stats.hpp: counter reads (and the running totals, if kept)",
     r"^fbnic::HwCounters::|^fbnic::detail::CounterMap|^fbnic::read_split64$|"
     r"^fbnic::take_clear_on_read$"),
    ("dev/: Device, stop_dma", r"^fbnic::Device::|^fbnic::stop_dma$"),
    ("bare/uefi/snp_adapter.hpp: SnpAdapter", r"^fbnic::bare::uefi::SnpAdapter::|efi_status$"),
    ("bare/uefi/snp_driver.hpp: SnpDriver (Driver Binding, names, child)",
     r"^fbnic::bare::uefi::(SnpDriver|read_dsn|station_address)"),
    ("bare/uefi/: PciIo DMA and attributes, clock, events",
     r"^fbnic::bare::uefi::|^fbnic::bare::Clock::"),
    ("base/status.hpp: error names", r"^fbnic::error_name$"),
    ("DMA address checks and what they log (cold)", r"^fbnic::dma_refused$"),
    ("ring/drain.hpp: bounded drains at disable", r"^fbnic::drain_bounded$"),
    ("the image's own code (entry point, console, runtime)", r"."),
]


def strip_templates(name):
    out, depth = [], 0
    for ch in name:
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def qualified(name):
    """The function's qualified name: no return type, parameters or template arguments."""
    depth = 0
    for i, ch in enumerate(name):
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif ch == "(" and depth == 0 and i > 0:
            name = name[:i]
            break
    return strip_templates(name).split(" ")[-1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("objdump")
    ap.add_argument("cxxfilt")
    ap.add_argument("obj", nargs="+")
    ap.add_argument("--top", type=int, default=0)
    args = ap.parse_args()
    funcs = []
    for obj in args.obj:
        out = subprocess.run([args.objdump, "-h", obj], check=True, capture_output=True,
                             text=True).stdout
        for line in out.splitlines():
            f = line.split()
            if len(f) >= 3 and f[1].startswith(".text$"):
                # Cold functions ([[gnu::cold]]) sit in .text$unlikely$<symbol>.
                name = re.sub(r"^(unlikely|hot|startup|exit)\$", "", f[1][len(".text$"):])
                funcs.append((int(f[2], 16), name))
    names = subprocess.run([args.cxxfilt], input="\n".join(n for _, n in funcs), check=True,
                           capture_output=True, text=True).stdout.splitlines()
    size = collections.Counter()
    count = collections.Counter()
    for (bytes_, _), name in zip(funcs, names):
        q = qualified(name)
        for group, pattern in GROUPS:
            if re.search(pattern, q):
                size[group] += bytes_
                count[group] += 1
                break
    for group, bytes_ in size.most_common():
        print("    %6d B %4d fn  %s" % (bytes_, count[group], group))
    print("    %6d B %4d fn  total (function sections before /opt:ref)" %
          (sum(size.values()), sum(count.values())))
    if args.top:
        print("    largest functions:")
        ranked = sorted(zip(funcs, names), key=lambda x: -x[0][0])[:args.top]
        for (bytes_, _), name in ranked:
            print("    %6d  %s" % (bytes_, name[:150]))


if __name__ == "__main__":
    main()
