#!/usr/bin/env bash
# THE test command: installs the test dependencies, builds the whole
# workspace, runs the Rust unit and integration tests, then the client
# interoperability suite (tests/clients: the real keyless binary driven by
# boto3, awscli v1, rclone, restic and s3cmd), with the fuzz targets run briefly in between,
# then the client scenarios again with keyless in gateway mode in front of SeaweedFS.
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

# The same client scenarios with the other storage engine: keyless in gateway mode in front of a
# real SeaweedFS (tests/clients/upstream.py), buckets one to one, then all in one shared upstream
# bucket. The suites about the embedded store itself (crash, power loss, faults, persistence,
# benchmarks) and the ones that start their own servers regardless of the backend are not repeated.
GATEWAY_SCENARIOS=(test_boto3_buckets.py test_boto3_keys_and_errors.py test_boto3_listing.py
    test_boto3_multipart.py test_boto3_objects.py test_boto3_presigned_vhost.py test_awscli.py
    test_rclone.py test_restic.py test_s3cmd.py test_web_identity.py test_web_identity_clients.py)
gateway_rc=0
for mode in one-to-one shared-bucket; do
    step "pytest: client scenarios through gateway mode in front of SeaweedFS ($mode)"
    shared=""
    [ "$mode" = shared-bucket ] && shared="keyless-shared"
    KEYLESS_TEST_BACKEND=gateway KEYLESS_TEST_GATEWAY_SHARED_BUCKET="$shared" \
        timeout --kill-after=30s 20m "$ROOT/.venv/bin/python" -m pytest \
        "${GATEWAY_SCENARIOS[@]/#/tests/clients/}" -p no:cacheprovider -q \
        --junitxml="$LOGDIR/pytest-gateway-$mode.xml" "$@" || gateway_rc=1
done

# ---- summary ---------------------------------------------------------------
cargo_passed=$(grep -Eo 'test result: [A-Za-z]+\. [0-9]+ passed' "$LOGDIR/cargo-test.log" \
    | awk '{s+=$4} END {print s+0}')
cargo_failed=$(grep -Eo '[0-9]+ failed;' "$LOGDIR/cargo-test.log" | awk '{s+=$1} END {print s+0}')
junit_counts() { # junit_counts FILE...: tests failures errors skipped, summed
    "$ROOT/.venv/bin/python" - "$@" <<'PY'
import sys, xml.etree.ElementTree as ET
t = [0, 0, 0, 0]
for path in sys.argv[1:]:
    try:
        root = ET.parse(path).getroot()
    except Exception:
        continue
    suites = [root] if root.tag == "testsuite" else list(root)
    for i, a in enumerate(("tests", "failures", "errors", "skipped")):
        t[i] += sum(int(s.get(a, 0)) for s in suites)
print(*t)
PY
}
read -r py_tests py_failed py_errors py_skipped < <(junit_counts "$LOGDIR/pytest.xml")
read -r gw_tests gw_failed gw_errors gw_skipped < <(junit_counts "$LOGDIR"/pytest-gateway-*.xml)
gw_passed=$(( gw_tests - gw_failed - gw_errors - gw_skipped ))
gw_bad=$(( gw_failed + gw_errors ))
if [ "$gateway_rc" -ne 0 ] && [ "$gw_bad" -eq 0 ]; then gw_bad=1; fi
py_passed=$(( py_tests - py_failed - py_errors - py_skipped ))
py_bad=$(( py_failed + py_errors ))
if [ "$cargo_rc" -ne 0 ] && [ "$cargo_failed" -eq 0 ]; then cargo_failed=1; fi
if [ "$pytest_rc" -ne 0 ] && [ "$py_bad" -eq 0 ]; then py_bad=1; fi

echo
echo "cargo test: $cargo_passed passed, $cargo_failed failed (exit $cargo_rc)"
echo "pytest tests/clients: $py_passed passed, $py_bad failed, $py_skipped skipped (exit $pytest_rc)"
echo "pytest through gateway mode (SeaweedFS; one-to-one + shared bucket): $gw_passed passed, $gw_bad failed, $gw_skipped skipped"
echo "fuzz: exit $fuzz_rc ($(tail -n 1 "$LOGDIR/fuzz.log" 2>/dev/null))"
fuzz_bad=$(( fuzz_rc != 0 ? 1 : 0 ))
echo "total time: $(elapsed)"
echo "summary: $(( cargo_passed + py_passed + gw_passed )) passed, $(( cargo_failed + py_bad + gw_bad + fuzz_bad )) failed"
rm -rf "$LOGDIR"
[ "$cargo_rc" -eq 0 ] && [ "$pytest_rc" -eq 0 ] && [ "$gateway_rc" -eq 0 ] && [ "$fuzz_rc" -eq 0 ]
