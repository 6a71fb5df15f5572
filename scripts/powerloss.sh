#!/usr/bin/env bash
# The power-loss suite: keyless on ext4 on a lazy disk (a FUSE file that keeps writes in memory
# until fsynced), the plug pulled at random moments of a write storm, then remount, restart and
# check every acknowledged write. See tests/powerloss/run.py for what a cycle checks.
#
#   scripts/powerloss.sh [CYCLES]            # default 20; needs root, /dev/fuse, loop devices
#   scripts/powerloss.sh 50 --seed 7         # extra arguments go to run.py
#   scripts/powerloss.sh 3 --mutant blobs    # self-check: a keyless that skips some fsyncs must fail
#
# Prints one line per cycle (acknowledged, uncertain, unanswered, verified, lost) and the totals;
# exits non-zero on any lost write or broken invariant (with --mutant: when the mutant is NOT
# caught). Build first: `cargo build -p keyless` (or set KEYLESS_BIN); deps:
# scripts/install-test-deps.sh.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CYCLES="${1:-20}"
[ "$#" -gt 0 ] && shift
case "$CYCLES" in ''|*[!0-9]*) echo "usage: scripts/powerloss.sh [CYCLES] [run.py args...]" >&2; exit 2 ;; esac

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
export KEYLESS_BIN="${KEYLESS_BIN:-$TARGET_DIR/debug/keyless}"
[ -x "$KEYLESS_BIN" ] || { echo "powerloss: no keyless binary at $KEYLESS_BIN; run cargo build -p keyless" >&2; exit 2; }

exec "$ROOT/.venv/bin/python" "$ROOT/tests/powerloss/run.py" --cycles "$CYCLES" "$@"
