#!/usr/bin/env bash
# Builds the page (release) and serves it on http://127.0.0.1:8080, MNIST included.
# Installs the build tools first when they are missing (see scripts/install-tools.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/layerlab/target}"
scripts/install-tools.sh
scripts/fetch-mnist.sh data/mnist
exec trunk serve --release "$@"
