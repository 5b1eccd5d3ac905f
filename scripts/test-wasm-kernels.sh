#!/usr/bin/env bash
# The CPU kernels' own tests in wasm: the page's SIMD128 code paths (crates/gemm's 4×8 tile with
# relaxed SIMD's fused multiply-add, the dot blocks, the offset products, the pooling masks) built
# for wasm32-wasip1 with the page's target features and run under Node's WASI on V8, one thread.
# Natively those paths are not compiled at all; the page-vs-CLI e2e test sees them only through
# four configs' results. Expects the wasm32-wasip1 target (scripts/install-tools.sh --test).
#   scripts/test-wasm-kernels.sh               build and run the tests
#   scripts/test-wasm-kernels.sh --node-flags  print the Node flags wasm SIMD needs here
set -euo pipefail
cd "$(dirname "$0")/.."

# Node 20's V8 has relaxed SIMD behind a flag; later ones ship it (and may not know the flag).
node_flags=""
if node --experimental-wasm-relaxed-simd -e 0 2>/dev/null; then
  node_flags="--experimental-wasm-relaxed-simd"
fi
if [ "${1:-}" = "--node-flags" ]; then
  echo "$node_flags"
  exit 0
fi

target_dir="${CARGO_TARGET_DIR:-$PWD/target}/wasi"
export RUSTFLAGS="-C target-feature=+simd128,+relaxed-simd"
build() {
  cargo test --release --target wasm32-wasip1 --features relaxed-simd --target-dir "$target_dir" \
    --no-run --message-format=json-render-diagnostics "$@" |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{for(const l of s.split("\n")){if(!l)continue;const m=JSON.parse(l);if(m.reason==="compiler-artifact"&&m.executable)console.log(m.executable)}})'
}
# The engine's kernels (the rest of the library's tests need threads or files WASI lacks here) and
# crates/gemm's integration tests (its unit tests drive the thread pool).
lib=$(build -p layerlab --lib)
gemm=$(build -p gemm --test bits --test offset)
node --no-warnings $node_flags scripts/wasi-run.mjs "$lib" engine::kernels:: --test-threads=1
for test in $gemm; do
  node --no-warnings $node_flags scripts/wasi-run.mjs "$test" --test-threads=1
done
