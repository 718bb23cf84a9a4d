#!/usr/bin/env bash
# Flame graphs of the order path under load, one per process: runs the order-path benchmark
# (agents/agent/benches/order_path.rs) with each process sampled by `perf record -g` during each
# rate (BENCH_PERF), then folds every recording into an SVG with inferno.
#
#   scripts/flamegraphs.sh [OUT_DIR]      (default target/flamegraphs)
#
# BENCH_RATES (default 10000) and BENCH_SECONDS (default 10) as the benchmark reads them. The
# agents are built with frame pointers and line tables in a target directory of their own
# (target/flamegraph-build), so the stacks are whole and the usual builds are left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-target/flamegraphs}")
command -v perf >/dev/null || { apt-get update -qq && apt-get install -y -qq linux-perf; }
command -v inferno-flamegraph >/dev/null || cargo install inferno --locked
rm -rf "$out" && mkdir -p "$out"
CARGO_TARGET_DIR=target/flamegraph-build \
  CARGO_PROFILE_BENCH_DEBUG=line-tables-only \
  RUSTFLAGS="-C force-frame-pointers=yes" \
  BENCH_PERF="$out" BENCH_RATES="${BENCH_RATES:-10000}" BENCH_SECONDS="${BENCH_SECONDS:-10}" \
  cargo bench -p polyfleet-agent --bench order_path | tee "$out/bench.txt"
for f in "$out"/*.data; do
  name=$(basename "${f%.data}")
  perf script -i "$f" 2>/dev/null | inferno-collapse-perf > "$out/$name.folded"
  inferno-flamegraph --title "$name events/s" < "$out/$name.folded" > "$out/$name.svg"
  echo "$out/$name.svg"
done
