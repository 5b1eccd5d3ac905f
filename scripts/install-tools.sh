#!/usr/bin/env bash
# Installs what building and testing LayerLab needs, skipping what is already there:
#   the wasm32 Rust target and rust-src, trunk 0.21.14, the wasm-bindgen CLI matching Cargo.lock,
#   and with --test also the wasm32-wasip1 target, Debian's Chromium and the e2e tests' npm
#   packages.
# Tools are built from crates.io (no binary downloads reach these machines) at opt-level 1,
# which builds them in about half the time and is fast enough for what they do.
set -euo pipefail
cd "$(dirname "$0")/.."
want_test=0
[ "${1:-}" = "--test" ] && want_test=1

step() { printf '\n== %s\n' "$*" >&2; }
fast_install() {
  CARGO_PROFILE_RELEASE_OPT_LEVEL=1 CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    CARGO_PROFILE_RELEASE_DEBUG=0 CARGO_PROFILE_RELEASE_STRIP=true CARGO_TARGET_DIR="$HOME/.cache/layerlab/tools-target" \
    cargo install "$@"
}

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# The kernels' tests in wasm (scripts/test-wasm-kernels.sh) run as WASI programs under Node.
if [ "$want_test" = 1 ] && ! rustup target list --installed | grep -qx wasm32-wasip1; then
  step "adding the wasm32-wasip1 target"
  rustup target add wasm32-wasip1
fi

# The page's CPU engine with WebAssembly threads rebuilds the standard library with atomics
# (scripts/build-cpu-threads.sh), from the toolchain's own sources.
if ! rustup component list --installed | grep -q '^rust-src'; then
  step "adding the rust-src component"
  rustup component add rust-src
fi

if ! trunk --version 2>/dev/null | grep -q '0\.21\.14'; then
  step "installing trunk 0.21.14 (about 10 minutes on 2 cores)"
  fast_install trunk --version 0.21.14 --locked
fi

bindgen=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if ! wasm-bindgen --version 2>/dev/null | grep -q "$bindgen"; then
  step "installing wasm-bindgen-cli $bindgen (about 7 minutes on 2 cores)"
  # Not --locked: a dependency pinned in its lock file is gone from the registry.
  fast_install wasm-bindgen-cli --version "$bindgen"
fi

if [ "$want_test" = 1 ]; then
  if ! command -v chromium >/dev/null; then
    step "installing Debian's Chromium"
    sudo_cmd=""
    [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium chromium-driver >/dev/null
  fi
  if [ ! -d tests/e2e/node_modules/playwright-core ]; then
    step "installing the e2e tests' npm packages"
    (cd tests/e2e && npm ci --no-audit --no-fund --silent)
  fi
fi
