#!/usr/bin/env bash
# Installs what polyfleet needs on a fresh Debian machine (run as root) and builds the `polyfleet`
# binary the README's run command uses.
# Idempotent: safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
need=()
# curl, openssl, xz-utils: the cluster suites' envtest control plane (../shared/envtest);
# iproute2: the fleet suite's test node (network namespaces).
# postgresql: the journal's conformance suite starts its own server (agents/testkit/src/postgres.rs).
# chromium: the journal report's page is opened headless (agents/cli/tests/report.rs).
for pkg in nats-server redis-server redis-tools postgresql chromium pkg-config ca-certificates curl openssl xz-utils iproute2; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${need[@]}"
fi
# The Debian packages start system-wide services; polyfleet's tests start their own on free ports.
for svc in redis-server nats-server postgresql; do
  if command -v systemctl >/dev/null 2>&1; then systemctl disable --now "$svc" >/dev/null 2>&1 || true; fi
done

# The example signal publisher's NATS client (examples/signals/publish.py; a test runs it).
if ! python3 -c "import nats" >/dev/null 2>&1; then
  if ! python3 -m pip --version >/dev/null 2>&1; then
    apt-get update -q && apt-get install -y -q --no-install-recommends python3-pip
  fi
  python3 -m pip install -q nats-py==2.9.0 2>/dev/null || python3 -m pip install -q --break-system-packages nats-py==2.9.0
fi

command -v cargo >/dev/null || { echo "setup: cargo not found (install Rust 1.94+ with rustup)" >&2; exit 1; }
rustup component add rustfmt clippy >/dev/null 2>&1 || true
# What the run command needs, and nothing more: the tests build when the test command runs.
# POLYFLEET_SETUP_BUILD=0 skips it (CI: the test command builds every binary itself).
if [ "${POLYFLEET_SETUP_BUILD:-1}" != 0 ]; then
  cargo build --locked -p polyfleet-cli --bin polyfleet
fi
# The packaging checks' tools (helm, kubeconform, schemas, kubectl), when ../shared/tools is here.
if [ -d ../shared/tools ]; then bash scripts/tools.sh >/dev/null; fi
echo "setup: done (nats-server $(nats-server --version 2>/dev/null | awk '{print $2}'), $(redis-server --version | awk '{print $3}'))"
