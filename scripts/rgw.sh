#!/usr/bin/env bash
# A throwaway Ceph RGW (16.2, Debian's) on this machine, on 127.0.0.1 only: one monitor, one OSD,
# one radosgw, one S3 user with fixed keys. Used as the upstream of keyless's gateway mode
# (scripts/gateway-rgw.sh, tests/clients/upstream.py with KEYLESS_TEST_UPSTREAM=rgw) and as a
# peer by the benchmarks.
#
#   scripts/rgw.sh start DIR [PORT [MON_PORT]]   # PORT: S3 port (7480), MON_PORT: monitor (40000)
#   scripts/rgw.sh stop DIR                      # kill the daemons (pid files), remove DIR
#   scripts/rgw.sh status DIR                    # exit 0 if RGW answers HTTP
#
# `start` installs what is missing (apt-get install --no-install-recommends radosgw ceph-mon
# ceph-osd, which also bring `ceph`, `monmaptool` and `radosgw-admin`), builds a fresh cluster
# under DIR, waits until RGW answers HTTP, and prints, on stdout and in DIR/env:
#
#   endpoint=http://127.0.0.1:PORT
#   access_key=...
#   secret_key=...
#
# Everything else (progress, errors) goes to stderr. Idempotent: `start` on a DIR whose RGW
# already answers just prints the lines again; `start` on a DIR left by a dead cluster stops
# whatever is left of it and builds a new one; `stop` on a missing DIR does nothing. About 18 s
# to start here (the first time, plus about a minute of apt-get install); ~120 MB of memory idle,
# ~300 MB under the client suite (mon ~35, OSD ~140, radosgw ~115).
#
# Environment:
#   RGW_STORE=bluestore|memstore   the OSD's object store (default bluestore)
#   RGW_BLOCK_SIZE=BYTES           size of bluestore's block file DIR/osd0/block (sparse;
#                                  default 20 GiB; only what is written takes disk space)
#   RGW_ACCESS_KEY / RGW_SECRET_KEY  the S3 user's keys (defaults below)
#   RGW_OSD_MEMORY=BYTES           osd_memory_target (default 1 GiB; Ceph's own default is 4 GiB)
#
# Durability. With RGW_STORE=bluestore (the default) the OSD keeps objects in BlueStore on a
# plain file, DIR/osd0/block, opened with O_DIRECT (bdev_aio = true). An OSD acknowledges a write
# to RGW only when it is committed ("on disk"): BlueStore writes the data to the block file,
# flushes the device (fdatasync on the file) and then commits the metadata transaction to its
# RocksDB WAL, itself flushed, before it answers; RGW answers the client after that commit, so an
# acknowledged PUT survives a power loss. There is no separate journal to tune (that was
# FileStore's osd_journal); the defaults that matter here were checked with
# `ceph-osd --show-config`: bluestore_sync_submit_transaction = false (only which thread submits,
# not whether it is synced), bluefs_sync_write = false (BlueFS still flushes at each RocksDB WAL
# sync), bdev_enable_discard = false, bluestore_prefer_deferred_size_ssd = 0 (on an "SSD" such as
# this file, small writes are not deferred through the WAL). With osd_pool_default_size = 1 there
# is one copy: durable against a crash or power loss of this machine, not against losing the disk.
# With RGW_STORE=memstore nothing survives the OSD process: numbers from it are not comparable
# with a store that syncs.
set -euo pipefail

DEFAULT_ACCESS_KEY="KLRGWACCESSKEY000001"
DEFAULT_SECRET_KEY="kLrGwSeCrEtKeY0123456789abcdefghIJKLMNOP"

log() { echo "rgw.sh: $*" >&2; }
die() { log "$*"; exit 1; }

usage() {
    sed -n '7,9p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

need_tools() {
    local missing=()
    for t in ceph-mon ceph-osd ceph monmaptool radosgw radosgw-admin curl python3; do
        command -v "$t" >/dev/null 2>&1 || missing+=("$t")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "missing ${missing[*]}: apt-get install radosgw ceph-mon ceph-osd"
    [ "$(id -u)" = 0 ] || die "not root: install radosgw ceph-mon ceph-osd (and curl) yourself"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y --no-install-recommends radosgw ceph-mon ceph-osd curl >&2; then
        apt-get update >&2 || true
        apt-get install -y --no-install-recommends radosgw ceph-mon ceph-osd curl >&2
    fi
    for t in ceph-mon ceph-osd ceph monmaptool radosgw radosgw-admin curl; do
        command -v "$t" >/dev/null 2>&1 || die "$t still missing after apt-get install"
    done
}

# Any HTTP answer from the S3 port means RGW is up.
answers() {
    local code
    code=$(curl -s -o /dev/null -m 3 -w '%{http_code}' "http://127.0.0.1:$1/" 2>/dev/null) || return 1
    [ "$code" != "000" ]
}

port_free() {
    python3 - "$1" <<'PY'
import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
PY
}

# Kill the daemons whose pid files are under DIR/run, TERM first, KILL after 20 s.
kill_daemons() {
    local dir=$1 pids=() pf pid
    [ -d "$dir/run" ] || return 0
    for pf in "$dir"/run/*.pid; do
        [ -e "$pf" ] || continue
        pid=$(cat "$pf" 2>/dev/null || true)
        # Only a process that still runs with this cluster's ceph.conf is ours.
        if [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$dir/ceph.conf"; then
            pids+=("$pid")
        fi
    done
    [ ${#pids[@]} -eq 0 ] && return 0
    kill -TERM "${pids[@]}" 2>/dev/null || true
    for _ in $(seq 1 200); do
        local alive=()
        for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
        [ ${#alive[@]} -eq 0 ] && return 0
        sleep 0.1
    done
    kill -KILL "${pids[@]}" 2>/dev/null || true
}

print_env() {
    local dir=$1
    cat "$dir/env"
}

# DIR is ours to wipe: empty, or holding a ceph.conf this script wrote.
ours() {
    [ -z "$(ls -A "$1")" ] || grep -qs "^run_dir = $1/run\$" "$1/ceph.conf"
}

cmd_stop() {
    local dir=$1
    [ -e "$dir" ] || return 0
    dir=$(cd "$dir" && pwd)
    ours "$dir" || die "$dir is neither empty nor a cluster of this script: not touching it"
    kill_daemons "$dir"
    rm -rf "$dir"
}

cmd_status() {
    local dir=$1
    [ -f "$dir/env" ] || return 1
    local port
    port=$(sed -n 's/^endpoint=http:\/\/127.0.0.1:\([0-9]*\)$/\1/p' "$dir/env")
    answers "$port"
}

cmd_start() {
    local dir=$1 port=${2:-7480} mon_port=${3:-40000}
    local store=${RGW_STORE:-bluestore}
    local access_key=${RGW_ACCESS_KEY:-$DEFAULT_ACCESS_KEY} secret_key=${RGW_SECRET_KEY:-$DEFAULT_SECRET_KEY}
    local block_size=${RGW_BLOCK_SIZE:-21474836480} osd_memory=${RGW_OSD_MEMORY:-1073741824}
    case "$store" in bluestore|memstore) ;; *) die "RGW_STORE must be bluestore or memstore" ;; esac

    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [ -f "$dir/env" ] && cmd_status "$dir"; then
        log "already running in $dir"
        print_env "$dir"
        return 0
    fi
    ours "$dir" || die "$dir is neither empty nor a cluster of this script: not touching it"
    need_tools
    # Whatever a dead or half-built cluster left behind goes.
    kill_daemons "$dir"
    find "$dir" -mindepth 1 -delete
    port_free "$port" || die "port $port (S3) is in use"
    port_free "$mon_port" || die "port $mon_port (monitor) is in use"

    local t0=$SECONDS
    mkdir -p "$dir/run" "$dir/log" "$dir/mon" "$dir/osd0" "$dir/rgw"
    local fsid conf=$dir/ceph.conf
    fsid=$(python3 -c 'import uuid; print(uuid.uuid4())')
    cat >"$conf" <<EOF
[global]
fsid = $fsid
mon_host = v2:127.0.0.1:$mon_port
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
ms_bind_msgr1 = false
ms_mon_client_mode = crc
ms_client_mode = crc
ms_mon_service_mode = crc
ms_service_mode = crc
ms_mon_cluster_mode = crc
ms_cluster_mode = crc
osd_pool_default_size = 1
osd_pool_default_min_size = 1
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
osd_crush_chooseleaf_type = 0
# RGW creates about eight pools: keep them small so one OSD stays under mon_max_pg_per_osd.
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
mon_max_pg_per_osd = 1000
run_dir = $dir/run
pid_file = $dir/run/\$name.pid
admin_socket = $dir/run/\$name.asok
log_file = $dir/log/\$name.log
mon_cluster_log_file = $dir/log/cluster.log
crash_dir = $dir/run/crash
keyring = $dir/keyring
log_to_stderr = false
err_to_stderr = true

[mon.a]
mon_data = $dir/mon

[osd.0]
osd_data = $dir/osd0
osd_objectstore = $store
osd_memory_target = $osd_memory
bluestore_block_create = true
bluestore_block_size = $block_size
bluestore_fsck_on_mkfs = false
memstore_device_bytes = 4294967296

[client.rgw.a]
rgw_frontends = beast endpoint=127.0.0.1:$port
rgw_data = $dir/rgw
rgw_enable_apis = s3, admin, sts, iam
rgw_s3_auth_use_sts = true
rgw_sts_key = kLrGwStSkEy01234
rgw_enable_usage_log = false
EOF
    : >"$dir/keyring"
    local ceph=(ceph -c "$conf" --connect-timeout 30)

    log "monitor on 127.0.0.1:$mon_port ($dir)"
    monmaptool --create --clobber --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_port]" "$dir/monmap" >"$dir/log/setup.log" 2>&1 \
        || die "monmaptool failed: $(tail -5 "$dir/log/setup.log")"
    ceph-mon -c "$conf" --mkfs -i a --monmap "$dir/monmap" >>"$dir/log/setup.log" 2>&1 \
        || die "ceph-mon --mkfs failed: $(tail -5 "$dir/log/setup.log")"
    ceph-mon -c "$conf" -i a >>"$dir/log/setup.log" 2>&1 || die "ceph-mon failed: $(tail -5 "$dir/log/mon.a.log")"

    log "OSD ($store)"
    local uuid
    uuid=$(python3 -c 'import uuid; print(uuid.uuid4())')
    local id
    id=$(timeout 60 "${ceph[@]}" osd new "$uuid" 2>>"$dir/log/setup.log") || die "ceph osd new failed: $(tail -5 "$dir/log/setup.log")"
    [ "$id" = 0 ] || die "ceph osd new gave id $id, expected 0"
    ceph-osd -c "$conf" -i 0 --mkfs --osd-uuid "$uuid" >>"$dir/log/setup.log" 2>&1 \
        || die "ceph-osd --mkfs failed: $(tail -5 "$dir/log/setup.log"; tail -5 "$dir/log/osd.0.log" 2>/dev/null)"
    ceph-osd -c "$conf" -i 0 >>"$dir/log/setup.log" 2>&1 || die "ceph-osd failed: $(tail -5 "$dir/log/osd.0.log")"
    local deadline=$((SECONDS + 90))
    until timeout 20 "${ceph[@]}" osd dump 2>/dev/null | grep -q '^osd\.0 up'; do
        [ $SECONDS -lt $deadline ] || die "osd.0 not up after 90 s: $(tail -5 "$dir/log/osd.0.log")"
        sleep 0.5
    done

    log "radosgw on 127.0.0.1:$port"
    radosgw -c "$conf" -n client.rgw.a >>"$dir/log/setup.log" 2>&1 || die "radosgw failed: $(tail -5 "$dir/log/client.rgw.a.log")"
    deadline=$((SECONDS + 120))
    until answers "$port"; do
        [ $SECONDS -lt $deadline ] || die "radosgw not answering on $port after 120 s: $(tail -5 "$dir/log/client.rgw.a.log")"
        [ -s "$dir/run/client.rgw.a.pid" ] && ! kill -0 "$(cat "$dir/run/client.rgw.a.pid")" 2>/dev/null \
            && die "radosgw exited: $(tail -5 "$dir/log/client.rgw.a.log")"
        sleep 0.5
    done

    log "S3 user"
    local admin=(timeout 60 radosgw-admin -c "$conf" -n client.rgw.a --log-file "$dir/log/radosgw-admin.log")
    "${admin[@]}" user create --uid=admin --display-name=admin --access-key="$access_key" --secret="$secret_key" \
        >>"$dir/log/setup.log" 2>&1 || die "radosgw-admin user create failed: $(tail -5 "$dir/log/setup.log")"
    # The user may create roles and OIDC providers through RGW's IAM API (STS tests).
    "${admin[@]}" caps add --uid=admin --caps="roles=*;oidc-provider=*;users=*;buckets=*" \
        >>"$dir/log/setup.log" 2>&1 || die "radosgw-admin caps add failed: $(tail -5 "$dir/log/setup.log")"

    printf 'endpoint=http://127.0.0.1:%s\naccess_key=%s\nsecret_key=%s\n' "$port" "$access_key" "$secret_key" >"$dir/env"
    log "up in $((SECONDS - t0)) s ($store)"
    print_env "$dir"
}

[ $# -ge 2 ] || usage
case "$1" in
    start) shift; cmd_start "$@" ;;
    stop) cmd_stop "$2" ;;
    status) cmd_status "$2" ;;
    *) usage ;;
esac
