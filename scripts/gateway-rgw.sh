#!/usr/bin/env bash
# keyless in gateway mode in front of Ceph RGW: the client scenarios of tests/clients (boto3,
# awscli v1, rclone, restic, s3cmd, web identity with boto3/awscli/aws-sdk-js/rclone/litestream,
# and test_gateway.py's replicas and access-control checks), each run through a keyless whose
# objects live in a real RGW 16.2 instead of its embedded store.
#
#   scripts/gateway-rgw.sh                 # everything below, then a one-line summary
#   scripts/gateway-rgw.sh -k multipart    # extra arguments go to pytest
#   scripts/gateway-rgw.sh tests/clients/test_gateway.py -x   # test paths given: only those run
#
# What it does:
#   1. installs the test dependencies if the venv is missing (scripts/install-test-deps.sh) and
#      builds keyless (cargo build -p keyless) if $KEYLESS_BIN / target/debug/keyless is missing;
#   2. starts one RGW with scripts/rgw.sh (one monitor, one OSD on BlueStore in a file, radosgw,
#      an S3 user; on free ports on 127.0.0.1; installs radosgw ceph-mon ceph-osd if missing);
#   3. runs pytest on the client-scenario files with KEYLESS_TEST_BACKEND=gateway
#      KEYLESS_TEST_UPSTREAM=rgw, pointing the suite at that RGW
#      (KEYLESS_TEST_UPSTREAM_ENDPOINT/_ACCESS_KEY/_SECRET_KEY);
#   4. stops RGW and removes its directory (also on Ctrl-C), and prints pytest's summary line.
#
# Not run here: the files about the embedded store itself (persistence, powerloss, faults, limits,
# overload, bench, attacks, operations, console, quickstart, manifests, webhook) — in gateway mode
# the objects are RGW's, so those say nothing about it.
#
# Takes about 3.5 minutes on 2 shared cores (RGW is up in ~18 s, pytest ~180 s), plus a minute
# for the first apt-get install. Exit status is pytest's.
# Environment: RGW_STORE=memstore for an OSD in memory (see scripts/rgw.sh); KEYLESS_BIN.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
START=$SECONDS
log() { printf 'gateway-rgw: %s (at %ss)\n' "$*" "$((SECONDS - START))"; }

FILES=(test_boto3_buckets.py test_boto3_keys_and_errors.py test_boto3_listing.py test_boto3_multipart.py
       test_boto3_objects.py test_boto3_presigned_vhost.py test_awscli.py test_rclone.py test_restic.py
       test_s3cmd.py test_web_identity.py test_web_identity_clients.py test_gateway.py)

if [ ! -x "$ROOT/.venv/bin/python" ] || [ ! -x "$ROOT/.venv/bin/aws" ]; then
    log "installing test dependencies"
    scripts/install-test-deps.sh || { echo "gateway-rgw: scripts/install-test-deps.sh failed"; exit 1; }
fi

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
export KEYLESS_BIN="${KEYLESS_BIN:-$TARGET_DIR/debug/keyless}"
if [ ! -x "$KEYLESS_BIN" ]; then
    log "building keyless (cargo build -p keyless)"
    cargo build -p keyless || { echo "gateway-rgw: cargo build failed"; exit 1; }
fi

RGW_DIR="$(mktemp -d "${TMPDIR:-/tmp}/keyless-gateway-rgw.XXXXXX")"
cleanup() {
    scripts/rgw.sh stop "$RGW_DIR/cluster" >/dev/null 2>&1
    rm -rf "$RGW_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# The same keys the suite's SeaweedFS gets (tests/clients/upstream.py): a secret with '/' and '+'.
export RGW_ACCESS_KEY="KLUPSTREAMACCESSKEY1" RGW_SECRET_KEY="kLuPsTrEaMsEcReT/kEy+0123456789abcdefGH"
log "starting Ceph RGW (scripts/rgw.sh, ${RGW_STORE:-bluestore})"
if ! out=$(scripts/rgw.sh start "$RGW_DIR/cluster" "$(free_port)" "$(free_port)"); then
    echo "gateway-rgw: scripts/rgw.sh start failed; logs were in $RGW_DIR/cluster/log"
    exit 1
fi
endpoint=$(sed -n 's/^endpoint=//p' <<<"$out")
log "RGW up at $endpoint"

# Test paths among the arguments replace the default list.
args=()
for a in "$@"; do case "$a" in *.py|*.py::*) args=("$@"); break ;; esac; done
if [ ${#args[@]} -eq 0 ]; then
    for f in "${FILES[@]}"; do args+=("tests/clients/$f"); done
    args+=("$@")
fi
log "pytest (KEYLESS_TEST_BACKEND=gateway KEYLESS_TEST_UPSTREAM=rgw, KEYLESS_BIN=$KEYLESS_BIN)"
KEYLESS_TEST_BACKEND=gateway KEYLESS_TEST_UPSTREAM=rgw \
KEYLESS_TEST_UPSTREAM_ENDPOINT="$endpoint" \
KEYLESS_TEST_UPSTREAM_ACCESS_KEY="$RGW_ACCESS_KEY" KEYLESS_TEST_UPSTREAM_SECRET_KEY="$RGW_SECRET_KEY" \
    timeout --kill-after=30s 40m "$ROOT/.venv/bin/python" -m pytest -p no:cacheprovider --durations=5 \
    "${args[@]}" 2>&1 | tee "$RGW_DIR/pytest.log"
rc=${PIPESTATUS[0]}
summary=$(grep -E '^(=+ )?[0-9]+ (passed|failed|error|skipped).* in [0-9.]+s' "$RGW_DIR/pytest.log" | tail -n1 | sed -E 's/^=+ //; s/ =+$//')
log "stopping RGW"
cleanup
trap - EXIT
echo "gateway-rgw: ${summary:-no pytest summary} (pytest exit $rc, $((SECONDS - START)) s in all)"
exit "$rc"
