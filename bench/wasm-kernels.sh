#!/usr/bin/env sh
# The engine's CPU kernels timed in wasm and natively, one thread each, same shapes: where the
# page's CPU engine loses to the CLI, kernel by kernel (not part of the tests or of bench.sh).
# Builds examples/conv_layers and examples/dense_layers for wasm32-wasip1 (SIMD128 and relaxed
# SIMD, as the page's module) and runs them under Node's WASI (V8, the page's engine), then the
# same examples natively with LAYERLAB_THREADS=1.
#   bench/wasm-kernels.sh [BATCH [ROUNDS]]     (after scripts/fetch-mnist.sh data/mnist)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
batch="${1:-128}"
rounds="${2:-10}"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
rustup target add wasm32-wasip1 >/dev/null 2>&1 || true
RUSTFLAGS="-C target-feature=+simd128,+relaxed-simd" cargo build --quiet --release --target wasm32-wasip1 \
  --features relaxed-simd --example conv_layers --example dense_layers --target-dir "$target_dir/wasi"
cargo build --quiet --release --example conv_layers --example dense_layers
wasm="$target_dir/wasi/wasm32-wasip1/release/examples"
flags=$(scripts/test-wasm-kernels.sh --node-flags)
for example in conv_layers dense_layers; do
  extra=""
  [ "$example" = dense_layers ] && extra="/data/mnist"
  echo "== $example, wasm (Node $(node --version), one thread)"
  # Node 20 segfaults on its way out after dense_layers has printed everything (its WASI after a
  # preopened file was read); say so and go on to the native figures.
  node --no-warnings $flags scripts/wasi-run.mjs "$wasm/$example.wasm" "$batch" "$rounds" $extra ||
    echo "(node exited with status $?)"
  [ "$example" = dense_layers ] && extra="data/mnist"
  echo "== $example, native (one thread)"
  LAYERLAB_THREADS=1 "$target_dir/release/examples/$example" "$batch" "$rounds" $extra
done
