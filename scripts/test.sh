#!/usr/bin/env bash
# Runs every test: formatting, the native test suite (engine, CLI, data decoders on real files),
# then the release build of the page and its end-to-end tests in headless Chromium.
# Expects the tools scripts/install-tools.sh --test installs (.ci/run calls it first).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/layerlab/target}"
step() { printf '\n== %s\n' "$*" >&2; }

step "data"
scripts/fetch-mnist.sh data/mnist

step "cargo fmt --check"
cargo fmt --all -- --check

step "native tests (cargo test --release, the engine and crates/gemm)"
cargo test --release -p layerlab -p gemm

step "the kernels' tests in wasm (SIMD128 and relaxed SIMD under Node, as the page runs them)"
scripts/test-wasm-kernels.sh

step "page build (trunk build --release)"
trunk build --release

step "end-to-end tests in headless Chromium"
LAYERLAB_CLI="$CARGO_TARGET_DIR/release/layerlab" node tests/e2e/e2e.mjs
