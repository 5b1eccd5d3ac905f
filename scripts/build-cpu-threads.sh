#!/usr/bin/env sh
# Builds the page's CPU engine with WebAssembly threads (web/worker-cpu with the `atomics` target
# feature and a shared memory) into DIST as layerlab-worker-cpu-mt{.js,_bg.wasm}; layerlab-stage
# then hashes it and writes its loader and the helper threads' script. Run by scripts/stage-data.sh
# (trunk's post-build hook) for release builds.
#
# Why outside trunk: threads need the standard library rebuilt with atomics (`-Z build-std`, on the
# stable toolchain through RUSTC_BOOTSTRAP, as wasm-bindgen's threads guide does with nightly) and
# their own RUSTFLAGS, which would otherwise apply to the app and the WebGPU engine too. Its own
# target dir, so the other wasm builds are not rebuilt with these flags.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
dist="$1"
target_dir="${CARGO_TARGET_DIR:-$root/target}/wasm-threads"
# +simd128 as in .cargo/config.toml (RUSTFLAGS replaces it). The linker makes the memory shared
# and imported (every thread's instance gets the same one), at most 4 GiB as without threads, and
# exports the thread-local storage symbols wasm-bindgen's thread start-up calls.
flags="-C target-feature=+atomics,+bulk-memory,+mutable-globals,+simd128"
for arg in --shared-memory --import-memory --max-memory=4294967296 --export=__wasm_init_tls \
  --export=__tls_size --export=__tls_align --export=__tls_base; do
  flags="$flags -C link-arg=$arg"
done
RUSTC_BOOTSTRAP=1 RUSTFLAGS="$flags" cargo build --quiet --release --target wasm32-unknown-unknown \
  -Z build-std=std,panic_abort -p layerlab-worker-cpu --manifest-path "$root/Cargo.toml" \
  --target-dir "$target_dir"
wasm-bindgen --target no-modules --no-typescript --out-dir "$dist" --out-name layerlab-worker-cpu-mt \
  "$target_dir/wasm32-unknown-unknown/release/layerlab_worker_cpu.wasm"
