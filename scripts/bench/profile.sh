#!/usr/bin/env bash
# Where keyless spends its time under one keyless-bench scenario: starts the release keyless on a
# fresh data directory, runs the scenario while `perf record` samples the server (cpu-clock, call
# graphs), prints the hottest symbols and, with --syscalls, `strace -c` counts of one more run.
#
#   scripts/bench/profile.sh small --duration 5s --concurrency 16
#   scripts/bench/profile.sh --syscalls small --duration 5s --concurrency 16
#   scripts/bench/profile.sh sts --count 5000 --concurrency 8      # (the STS issuer is set up here)
#
# Output: target/bench-profile/<scenario>.perf.data and .txt; `perf report -i FILE` to explore.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
SYSCALLS=0
if [ "${1:-}" = --syscalls ]; then SYSCALLS=1; shift; fi
SCENARIO=${1:?usage: profile.sh [--syscalls] SCENARIO [keyless-bench scenario flags]}
OUT="$ROOT/target/bench-profile"; WORK="$OUT/work"
AK=BENCHROOTKEY; SK=bench-root-secret-0123456789
ISSUER=https://bench.keyless.test; ROLE=arn:aws:iam::000000000000:role/bench
PORT=19100
export RUST_BACKTRACE=0
command -v perf >/dev/null || { echo "perf is not installed (Debian: linux-perf)" >&2; exit 1; }
cargo build --release -p keyless -p keyless-bench >&2
rm -rf "$WORK"; mkdir -p "$WORK"
[ -f "$OUT/issuer-key.pem" ] || openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$OUT/issuer-key.pem" 2>/dev/null
target/release/keyless-bench jwks --key "$OUT/issuer-key.pem" --jwks-out "$WORK/jwks.json" 2>/dev/null
cat > "$WORK/keyless.yaml" <<EOF
identity:
  account_id: "000000000000"
  issuers:
    - issuer: $ISSUER
      jwks_file: $WORK/jwks.json
  roles:
    - name: bench
      trust: {issuer: $ISSUER, service_accounts: ["bench/*"]}
      policies:
        - '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}'
EOF

KEYLESS_ROOT_ACCESS_KEY=$AK KEYLESS_ROOT_SECRET_KEY=$SK RUST_LOG=warn target/release/keyless serve \
  --config "$WORK/keyless.yaml" --data-dir "$WORK/data" --listen 127.0.0.1:$PORT >"$WORK/keyless.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -s -o /dev/null http://127.0.0.1:$PORT/healthz && break; sleep 0.1; done

extra=()
if [ "$SCENARIO" = sts ]; then extra=(--role-arn "$ROLE"); fi
run_bench() {
  local args=("$@")
  if [ "$SCENARIO" = sts ]; then args+=(--key "$OUT/issuer-key.pem" --issuer "$ISSUER"); fi
  target/release/keyless-bench --endpoint http://127.0.0.1:$PORT --access-key $AK --secret-key $SK \
    "${extra[@]}" "$SCENARIO" "${args[@]}" >/dev/null
}
shift
perf record -e cpu-clock -F 999 -g -p "$PID" -o "$OUT/$SCENARIO.perf.data" 2>/dev/null &
PERF=$!
sleep 0.5
run_bench "$@"
kill -INT $PERF; wait $PERF 2>/dev/null || true
perf report -i "$OUT/$SCENARIO.perf.data" --no-children --sort symbol --stdio 2>/dev/null \
  | grep -E '^ +[0-9]' | sed -E 's/ +- +- +$//; s/ +$//' | head -40 > "$OUT/$SCENARIO.txt" || true
cat "$OUT/$SCENARIO.txt"
if [ "$SYSCALLS" = 1 ]; then
  command -v strace >/dev/null || { echo "strace is not installed" >&2; exit 0; }
  strace -c -f -p "$PID" -o "$OUT/$SCENARIO.strace.txt" &
  ST=$!
  sleep 0.5
  run_bench "$@"
  kill -INT $ST; wait $ST 2>/dev/null || true
  head -25 "$OUT/$SCENARIO.strace.txt" || true
fi
