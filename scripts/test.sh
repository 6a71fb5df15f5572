#!/usr/bin/env bash
# THE test command: installs the test dependencies, builds the whole
# workspace, runs the Rust unit and integration tests, then the client
# interoperability suite (tests/clients: the real keyless binary driven by
# boto3, awscli v1, rclone, restic and s3cmd), with the fuzz targets run briefly in between.
#
# Exits non-zero if anything fails. The last line is a plain
# "summary: N passed, M failed" over both runners.
#
# Extra arguments go to pytest, e.g. `scripts/test.sh -k multipart -x`.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
START=$(date +%s)
LOGDIR="$(mktemp -d "${TMPDIR:-/tmp}/keyless-test.XXXXXX")"
elapsed() { echo "$(( $(date +%s) - START ))s"; }
step() { printf '\n==> %s (at %s)\n' "$*" "$(elapsed)"; }

step "install test dependencies"
scripts/install-test-deps.sh || { echo "test.sh: installing test dependencies failed"; exit 1; }

step "cargo build --workspace --all-targets"
cargo build --workspace --all-targets || { echo "test.sh: cargo build failed"; exit 1; }

step "cargo test --workspace"
cargo test --workspace 2>&1 | tee "$LOGDIR/cargo-test.log"
cargo_rc=${PIPESTATUS[0]}

step "scripts/fuzz.sh 10 (every fuzz target for 10 s; nightly toolchain, fuzz/ workspace)"
scripts/fuzz.sh 10 2>&1 | tee "$LOGDIR/fuzz.log"
fuzz_rc=${PIPESTATUS[0]}

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
export KEYLESS_BIN="${KEYLESS_BIN:-$TARGET_DIR/debug/keyless}"

step "pytest tests/clients (KEYLESS_BIN=$KEYLESS_BIN)"
# A hard ceiling well inside CI's 90 minutes; each test also has its own timeout.
timeout --kill-after=30s 45m "$ROOT/.venv/bin/python" -m pytest tests/clients \
    -p no:cacheprovider --durations=8 --junitxml="$LOGDIR/pytest.xml" "$@"
pytest_rc=$?

# ---- summary ---------------------------------------------------------------
cargo_passed=$(grep -Eo 'test result: [A-Za-z]+\. [0-9]+ passed' "$LOGDIR/cargo-test.log" \
    | awk '{s+=$4} END {print s+0}')
cargo_failed=$(grep -Eo '[0-9]+ failed;' "$LOGDIR/cargo-test.log" | awk '{s+=$1} END {print s+0}')
read -r py_tests py_failed py_errors py_skipped < <("$ROOT/.venv/bin/python" - "$LOGDIR/pytest.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
    suites = [root] if root.tag == "testsuite" else list(root)
    tot = lambda a: sum(int(s.get(a, 0)) for s in suites)
    print(tot("tests"), tot("failures"), tot("errors"), tot("skipped"))
except Exception:
    print(0, 0, 0, 0)
PY
)
py_passed=$(( py_tests - py_failed - py_errors - py_skipped ))
py_bad=$(( py_failed + py_errors ))
if [ "$cargo_rc" -ne 0 ] && [ "$cargo_failed" -eq 0 ]; then cargo_failed=1; fi
if [ "$pytest_rc" -ne 0 ] && [ "$py_bad" -eq 0 ]; then py_bad=1; fi

echo
echo "cargo test: $cargo_passed passed, $cargo_failed failed (exit $cargo_rc)"
echo "pytest tests/clients: $py_passed passed, $py_bad failed, $py_skipped skipped (exit $pytest_rc)"
echo "fuzz: exit $fuzz_rc ($(tail -n 1 "$LOGDIR/fuzz.log" 2>/dev/null))"
fuzz_bad=$(( fuzz_rc != 0 ? 1 : 0 ))
echo "total time: $(elapsed)"
echo "summary: $(( cargo_passed + py_passed )) passed, $(( cargo_failed + py_bad + fuzz_bad )) failed"
rm -rf "$LOGDIR"
[ "$cargo_rc" -eq 0 ] && [ "$pytest_rc" -eq 0 ] && [ "$fuzz_rc" -eq 0 ]
