#!/usr/bin/env bash
# The market maker against a naive fixed-spread quoter, on uninformed and informed simulator flow,
# over many seeds: what issue 21 asks to show ("earn on uninformed flow, lose less than naive on
# informed flow"), with the spread of the outcome across seeds rather than one noisy sample.
#
# For every seed and flow (informedPercent 0 and 50) it generates one recording with the
# simulator (`polyfleet venue-sim --generate`) and backtests both quoters on it
# (`polyfleet backtest`): the example market maker (manifests/examples/strategy-market-making.yaml)
# and the same strategy made naive (gamma 1e-6, kappa 100, spread fixed at 2 cents, no toxic-flow
# alarm). Then `mm_flow_stats.py` prints each run's PnL and the paired statistics.
#
#   scripts/mm_flow_compare.sh [SEEDS] [FRAMES] [JOBS]     (defaults: 20 seeds, 400000 frames, 2 jobs)
#
# Environment: POLYFLEET (the binary; default target/debug/polyfleet), OUT (the work directory;
# default a new temporary one, kept), INFORMED (the informed flow's percentage; default 50).
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
seeds="${1:-20}"
frames="${2:-400000}"
jobs="${3:-2}"
bin="${POLYFLEET:-$here/target/debug/polyfleet}"
informed="${INFORMED:-50}"
out="${OUT:-$(mktemp -d /tmp/mm-flow.XXXXXX)}"
mkdir -p "$out"
[ -x "$bin" ] || { echo "no polyfleet binary at $bin (cargo build -p polyfleet-cli)" >&2; exit 2; }

ex="$here/manifests/examples"

# One directory per seed, flow and quoter: the Venue, the binary Market, the market-making
# RiskPolicy and the quoter.
setup() {
  local seed=$1 flow=$2 kind=$3 d="$out/s$1-f$2-$3"
  mkdir -p "$d"
  cp "$ex/market-binary.yaml" "$ex/riskpolicy-market-making.yaml" "$d/"
  cat > "$d/venue-simulator.yaml" <<EOF
apiVersion: polyfleet.dev/v1alpha1
kind: Venue
metadata:
  name: sim
spec:
  kind: simulator
  defaultMode: paper
  simulator:
    seed: $seed
    eventsPerSecond: 200
    tradePercent: 30
    movePercent: 10
    informedPercent: $flow
    feeRateBps: 700
    makerRebateBps: 2000
    rewards:
      minSize: "10"
      maxSpread: "0.045"
      dailyPool: "20"
EOF
  cp "$ex/strategy-market-making.yaml" "$d/"
  if [ "$kind" = naive ]; then
    sed -i -e 's/^\( *gamma:\).*/\1 "0.000001"/' -e 's/^\( *kappa:\).*/\1 "100"/' \
      -e 's/^\( *maxSpreadBps:\).*/\1 200/' -e 's/^\( *toxicMarkoutBps:\).*/\1 0/' "$d/strategy-market-making.yaml"
  fi
  echo "$d"
}

run() {
  local seed=$1 flow=$2 rec="$out/rec-s$1-f$2.jsonl.gz"
  local mm naive
  mm=$(setup "$seed" "$flow" mm)
  naive=$(setup "$seed" "$flow" naive)
  [ -s "$rec" ] || "$bin" venue-sim -f "$mm" --generate "$frames" --out "$rec" > "$out/gen-s$seed-f$flow.log" 2>&1
  for d in "$mm" "$naive"; do
    "$bin" backtest -f "$d" --recording "$rec" --out "$d/out" > "$d/backtest.log" 2>&1
  done
}

export -f setup run
export out frames bin ex
pids=()
for seed in $(seq 1 "$seeds"); do
  for flow in 0 "$informed"; do
    run "$seed" "$flow" &
    pids+=($!)
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
  done
done
wait
echo "runs in $out"
python3 "$here/scripts/mm_flow_stats.py" "$out" "$informed"
