#!/usr/bin/env bash
# Instructions per packet of the data path (library and baseline) and per message of the
# TLV codec, counted exactly by valgrind's callgrind (Debian package valgrind): no timer,
# no noise, where hardware counters are not available (a virtual machine).
#
#   bench/callgrind.sh BUILD_DIR [RING [BATCH]]     (default ring 1024, batch 32)
#
# BUILD_DIR holds bench/datapath_bench and bench/tlv_bench. Each benchmark step is a
# function of its own (bench/paired.hpp), so a step's inclusive count divided by its
# number of calls (both from callgrind) is its cost per call; divided by the batch, per
# packet.
set -euo pipefail
build=${1:?usage: bench/callgrind.sh BUILD_DIR [RING [BATCH]]}
ring=${2:-1024}
batch=${3:-32}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# Prints "name instructions-per-call" for each step function found in a callgrind file.
per_call() {
  callgrind_annotate --threshold=100 --inclusive=yes --tree=caller "$1" 2>/dev/null | awk '
    /^ *[0-9,]+ \([ 0-9.]+%\)  < / {  # a caller line: "(Nx)" is how often it called
      if (match($0, /\(([0-9,]+)x\)/)) { c = substr($0, RSTART + 1, RLENGTH - 3); gsub(",", "", c); calls += c }
      next
    }
    /^ *[0-9,]+ \([ 0-9.]+%\)  \* / {  # the function itself, after its callers
      ir = $1; gsub(",", "", ir)
      if (match($0, /::(lib|base)_[a-z_]+/)) {
        name = substr($0, RSTART + 2, RLENGTH - 2)
        if (calls > 0) printf "%s %.1f\n", name, ir / calls
      }
      calls = 0
      next
    }
    { calls = 0 }'
}

valgrind --tool=callgrind --callgrind-out-file="$out/dp" "$build/bench/datapath_bench" \
  --samples=2000 --benchmark_repetitions=1 \
  "--benchmark_filter=^(tx|rx|forward)/ring:$ring/batch:$batch/" >/dev/null 2>&1
valgrind --tool=callgrind --callgrind-out-file="$out/tlv" "$build/bench/tlv_bench" \
  --samples=1000 --benchmark_repetitions=1 '--benchmark_filter=^(encode|parse)/' \
  >/dev/null 2>&1

echo "callgrind: instructions per packet (ring $ring, batch $batch) and per TLV message"
printf '%-8s %10s %10s %7s\n' path library baseline ratio
{ per_call "$out/dp"; per_call "$out/tlv"; } | sort -u | awk -v batch="$batch" '
  { side = substr($1, 1, index($1, "_") - 1); path = substr($1, index($1, "_") + 1)
    per = (path == "encode" || path == "parse") ? $2 : $2 / batch
    v[path, side] = per; paths[path] = 1 }
  END {
    n = split("tx rx forward encode parse", order, " ")
    for (i = 1; i <= n; ++i) {
      p = order[i]
      if (!((p, "lib") in v) || !((p, "base") in v)) continue
      printf "%-8s %10.1f %10.1f %7.2f\n", p, v[p, "lib"], v[p, "base"], v[p, "lib"] / v[p, "base"]
    }
  }'
