#!/usr/bin/env bash
# "Run it": make sure the machine is set up, then start Tollgate in dev mode.
# Extra arguments go to `tollgate dev`, e.g. deploy/dev.sh --help
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$REPO/deploy/setup.sh"

cd "$REPO"
# rustup puts cargo in ~/.cargo/bin, which non-login shells (CI) may lack.
command -v cargo >/dev/null 2>&1 || export PATH="$HOME/.cargo/bin:$PATH"
# Dev mode starts OpenBao from `bao`, which lives in the project's venv.
export PATH="$REPO/.venv/bin:$PATH"
exec cargo run --release --bin tollgate -- dev "$@"
