#!/usr/bin/env bash
# Installs whatever building and testing Posture needs on a Debian machine, and nothing that is
# already there. Everything comes from the package registries (Debian, crates.io, npm).
# It writes .bootstrap.env, which the Makefile sources before every cargo command.
#
#   POSTURE_FORCE_WASM_FALLBACK=1 scripts/bootstrap.sh   # take the Debian rustc-web path even
#                                                         # when rustup could add the wasm target
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
ENV_FILE="$ROOT/.bootstrap.env"
CARGO_LEPTOS_VERSION="0.3.10"   # 0.3.11's lock file needs rustc 1.96+; 0.3.10's builds on 1.95.
BINARYEN_MAJOR="132"            # pinned in end2end/package.json; Debian's binaryen breaks hydration.
WASM_BINDGEN_VERSION="$(sed -n 's/^wasm-bindgen = "=\(.*\)"$/\1/p' Cargo.toml)"
if [ -z "$WASM_BINDGEN_VERSION" ]; then
  echo "bootstrap: Cargo.toml must pin wasm-bindgen exactly (wasm-bindgen = \"=x.y.z\")" >&2
  exit 1
fi

say() { echo "bootstrap: $*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
APT_UPDATED=""
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing Debian packages: ${missing[*]}"
  if [ -z "$APT_UPDATED" ]; then as_root apt-get update -qq; APT_UPDATED=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

export PATH="$HOME/.cargo/bin:$PATH"
env_lines=()

# 1. The wasm32 target: rustup's standard path first, Debian's rustc-web with build-std if not.
wasm_path=""
if [ -z "${POSTURE_FORCE_WASM_FALLBACK:-}" ] && command -v rustup >/dev/null; then
  if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    wasm_path="rustup"
  elif rustup target add wasm32-unknown-unknown >/dev/null 2>&1; then
    wasm_path="rustup"
    say "added the wasm32-unknown-unknown target with rustup"
  else
    say "rustup could not add the wasm32 target; falling back to Debian's rustc-web"
  fi
fi
if [ -z "$wasm_path" ]; then
  wasm_path="debian rustc-web + build-std"
  apt_install rustc-web cargo-web rust-web-src libstd-rust-web-dev rust-web-clippy lld-22
  # Debian's toolchain (1.96) builds everything, so the wasm std it compiles matches the server's.
  shim="$ROOT/.tools/debian-rust"
  mkdir -p "$shim"
  for tool in cargo rustc rustdoc cargo-clippy clippy-driver; do
    [ -x "/usr/bin/$tool" ] && ln -sf "/usr/bin/$tool" "$shim/$tool"
  done
  env_lines+=(
    "export PATH=\"$shim:\$PATH\""
    "export RUSTC_BOOTSTRAP=1"
    "export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=wasm-ld-22"
    "export POSTURE_WASM_CARGO_ARGS=-Zbuild-std=std,panic_abort"
  )
fi

# 2. Debian packages: the browser for Playwright; PostgreSQL and Redis for the data-layer tests;
#    brotli and curl for `make measure`; python3 for the import-cycle check of `make lint`;
#    wrk for the load of `make measure-faults`; nginx for `make run-cluster`; python3-venv for
#    the venv scripts/test-services.sh puts aiosmtpd (the tests' SMTP server) in.
apt_install chromium postgresql redis-server brotli curl python3 python3-venv wrk nginx

# 3. Node packages (Playwright and binaryen's wasm-opt) from the committed lock file.
if [ ! -f end2end/node_modules/.package-lock.json ] \
   || [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
  say "installing end2end Node packages (npm ci)"
  (cd end2end && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
env_lines+=("export PATH=\"$ROOT/end2end/node_modules/.bin:\$PATH\"")
if ! "$ROOT/end2end/node_modules/.bin/wasm-opt" --version | grep -q "version $BINARYEN_MAJOR"; then
  say "end2end/node_modules has the wrong binaryen; expected version $BINARYEN_MAJOR"
  exit 1
fi

# 4. Cargo tools, built from crates.io.
if ! cargo leptos --version 2>/dev/null | grep -q " $CARGO_LEPTOS_VERSION\$"; then
  say "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 20 minutes on 2 cores)"
  cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked --features no_downloads --quiet
fi
if ! wasm-bindgen --version 2>/dev/null | grep -q " $WASM_BINDGEN_VERSION\$"; then
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 4 minutes)"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --quiet \
    || cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --locked --quiet
fi

{
  echo "# Written by scripts/bootstrap.sh; sourced by the Makefile. Do not commit."
  echo "export PATH=\"\$HOME/.cargo/bin:\$PATH\""
  printf '%s\n' "${env_lines[@]}"
  echo "export POSTURE_WASM_PATH=\"$wasm_path\""
} > "$ENV_FILE.tmp"
mv "$ENV_FILE.tmp" "$ENV_FILE"
say "ready (wasm32 via $wasm_path)"
