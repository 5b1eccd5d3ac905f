#!/usr/bin/env bash
# The benchmark (not part of the tests): the engine natively, the page in headless Chromium on
# WebGPU and CPU, and TF.js on the same adapter. Prints a table; writes bench-out/benchmarks.json.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/layerlab/target}"
scripts/install-tools.sh --test
scripts/fetch-mnist.sh data/mnist
cargo build --release --bin layerlab
trunk build --release
if [ ! -d bench/node_modules/@tensorflow/tfjs ]; then (cd bench && npm ci --no-audit --no-fund --silent); fi
# PyTorch CPU for the same-run ratios (bench/torch_cpu.py), from PyPI into a venv of its own.
TORCH_VENV="$HOME/.cache/layerlab/torch-venv"
if ! "$TORCH_VENV/bin/python" -c 'import torch' 2>/dev/null; then
  python3 -m venv "$TORCH_VENV" && "$TORCH_VENV/bin/pip" install --quiet torch numpy
fi
node bench/run.mjs
exec node bench/seed-study.mjs
