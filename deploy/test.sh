#!/usr/bin/env bash
# The project's single test command (CI runs it via .ci/run, stdin closed).
# Runs every check even after one fails, so one CI run reports all problems,
# and exits non-zero if any step failed.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

# Nothing here may wait for input; make that true even when run from a terminal.
exec </dev/null

# Installs/verifies system packages, the venv with `bao`, and cargo tools.
# Without them nothing below is meaningful, so a failure here stops at once.
"$REPO/deploy/setup.sh"

# rustup puts cargo in ~/.cargo/bin, which non-login shells (CI) may lack.
command -v cargo >/dev/null 2>&1 || export PATH="$HOME/.cargo/bin:$PATH"
# Integration tests start a private OpenBao dev server from `bao` on PATH.
export PATH="$REPO/.venv/bin:$PATH"

LOG_DIR="$(mktemp -d)"
trap 'rm -rf "$LOG_DIR"' EXIT

failed=()
# run NAME CMD...: run one step, tee its output to $LOG_DIR/NAME, record failure.
run() {
  local name="$1"; shift
  local start=$SECONDS rc=0
  echo "==> $name: $*"
  "$@" 2>&1 | tee "$LOG_DIR/$name" || rc=$?
  echo "==> $name: $([ "$rc" -eq 0 ] && echo ok || echo "FAILED (exit $rc)") in $((SECONDS - start))s"
  [ "$rc" -eq 0 ] || failed+=("$name")
}

run fmt     cargo fmt --all -- --check
run clippy  cargo clippy --workspace --all-targets -- -D warnings
run nextest cargo nextest run --workspace --no-fail-fast
run doctest cargo test --workspace --doc

# One plain "N passed, N failed" closing line over both runners, so the
# result is read correctly even when the doc-test run (last) has 0 tests.
passed=0 failed_tests=0 counted=0
summary="$(grep -E '^ *Summary \[' "$LOG_DIR/nextest" 2>/dev/null | tail -n1 || true)"
if [ -n "$summary" ]; then
  counted=1
  p="$(grep -oE '[0-9]+ passed' <<<"$summary" | grep -oE '[0-9]+' || true)"
  f="$(grep -oE '[0-9]+ failed' <<<"$summary" | grep -oE '[0-9]+' || true)"
  passed=$((passed + ${p:-0})); failed_tests=$((failed_tests + ${f:-0}))
fi
while read -r p f; do
  counted=1
  passed=$((passed + p)); failed_tests=$((failed_tests + f))
done < <(sed -nE 's/^test result: [A-Za-z]+\. ([0-9]+) passed; ([0-9]+) failed.*/\1 \2/p' "$LOG_DIR/doctest" 2>/dev/null || true)

if [ "${#failed[@]}" -gt 0 ]; then
  echo "test.sh: FAILED steps: ${failed[*]}"
fi
if [ "$counted" -eq 1 ]; then
  echo "tests: $passed passed, $failed_tests failed"
fi
[ "${#failed[@]}" -eq 0 ]
