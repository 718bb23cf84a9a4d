#!/usr/bin/env bash
# The example A/B experiment (manifests/examples/experiment) and its A/A twin (the control's
# parameters on both arms) over simulator seeds: each seed's recording backtested with both, one
# line per run. Counts how often the sequential test stops, and on which arm. With INTERLEAVE
# timeSlot the arms take turns in 3 s slots on all the Markets (as the backtest test runs them).
#   scripts/verify/experiment_seeds.sh [SEEDS=30] [FRAMES=200000] [POLYFLEET=target/debug/polyfleet] [INTERLEAVE=market]
set -euo pipefail
cd "$(dirname "$0")/../.."
seeds=${1:-30} frames=${2:-200000} bin=$(realpath "${3:-target/debug/polyfleet}") interleave=${4:-market}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/ab" "$work/aa"
cp manifests/examples/venue-simulator.yaml manifests/examples/experiment/*.yaml "$work/ab/"
if [ "$interleave" = timeSlot ]; then
  sed -i -e 's/interleave: market /interleave: timeSlot /' -e 's/slotSeconds: 5 /slotSeconds: 3 /' "$work/ab/"strategy-*.yaml
fi
cp "$work/ab/"*.yaml "$work/aa/"
sed -e 's/name: quoting-control/name: quoting-aggressive/' -e 's/arm: A/arm: B/' \
  "$work/ab/strategy-quoting-control.yaml" > "$work/aa/strategy-quoting-aggressive.yaml"
for seed in $(seq 1 "$seeds"); do
  mkdir -p "$work/gen"
  cp "$work/ab/"*.yaml "$work/gen/"
  sed -i "s/seed: 42/seed: $seed/" "$work/gen/venue-simulator.yaml"
  "$bin" venue-sim --generate "$frames" --out "$work/rec.jsonl" -f "$work/gen" > /dev/null 2>&1
  for kind in ab aa; do
    line=$("$bin" backtest -f "$work/$kind" --recording "$work/rec.jsonl" --out "$work/out" 2>&1 | grep 'experiment quoting' || true)
    echo "seed $seed ${kind^^}: ${line#*quoting-aggressive: }"
  done
done | tee "$work/log"
for kind in AB AA; do
  echo "$kind: $(grep -c " $kind: A better" "$work/log") stopped on A, $(grep -c " $kind: B better" "$work/log") on B, of $seeds"
done
