#!/usr/bin/env bash
# Fuzzes everything keyless parses that an attacker controls: builds the cargo-fuzz targets in
# fuzz/ and runs each for SECONDS_PER_TARGET (default 30), one at a time, one process.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Assumes (a fresh Debian machine is enough): rustup with a nightly toolchain
# (`rustup toolchain install nightly`; cargo-fuzz needs it for the sanitizer-coverage flags), a C++
# compiler (`apt-get install build-essential`: libFuzzer is C++), and crates.io reachable for the
# first build. cargo-fuzz is installed (`cargo install cargo-fuzz --locked`) when missing. The fuzz
# crate is its own workspace with its own lock file and target dir (fuzz/target), so nothing here
# touches the project's stable build.
#
# Per target it prints executions, run time, the new corpus entries and crashes, and exits non-zero
# if any target crashed; the crashing input stays in fuzz/artifacts/<target>/ (path printed) and is
# replayed with `cargo +nightly fuzz run <target> <path>`. The committed seeds in
# fuzz/corpus/<target>/ are only read; what a run discovers goes to fuzz/target/corpus/<target>/
# (git-ignored), which the next run starts from.
#
# Environment: FUZZ_SANITIZER (default `none`: the targets are safe Rust, and without ASan the
# build is quicker and runs 2-3x more inputs; `address` for ASan), FUZZ_RSS_LIMIT_MB (2048),
# FUZZ_MAX_LEN (8192 bytes per input).
set -euo pipefail

secs=${1:-30}
shift || true
case $secs in '' | *[!0-9]*) echo "usage: $0 [SECONDS_PER_TARGET] [TARGET...]" >&2; exit 2 ;; esac
sanitizer=${FUZZ_SANITIZER:-none}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/fuzz"

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    echo "fuzz.sh: the nightly toolchain is missing: rustup toolchain install nightly" >&2
    exit 2
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi

dict_of() {
    case $1 in
        policy | trust_role | s3_authz | session) echo dict/policy.dict ;;
        *) [ -f "dict/$1.dict" ] && echo "dict/$1.dict" ;;
    esac
}

fuzz_args=(-s "$sanitizer" --debug-assertions)
start=$(date +%s)
if [ ${#targets[@]} -eq 1 ]; then
    cargo +nightly fuzz build "${fuzz_args[@]}" "${targets[0]}"
else
    cargo +nightly fuzz build "${fuzz_args[@]}"
fi
echo "fuzz.sh: built ${#targets[@]} targets in $(( $(date +%s) - start )) s (sanitizer: $sanitizer)"

mkdir -p target/fuzz-logs
failed=()
printf '\n%-12s %10s %8s %9s %8s %s\n' target executions seconds new corpus crashes
for t in "${targets[@]}"; do
    work=target/corpus/$t
    mkdir -p "$work" "artifacts/$t" "corpus/$t"
    log=target/fuzz-logs/$t.log
    before=$(find "$work" -type f | wc -l)
    dict=$(dict_of "$t" || true)
    t0=$(date +%s)
    rc=0
    cargo +nightly fuzz run "${fuzz_args[@]}" "$t" "$work" "corpus/$t" -- \
        -max_total_time="$secs" -jobs=1 -workers=1 -print_final_stats=1 \
        -rss_limit_mb="${FUZZ_RSS_LIMIT_MB:-2048}" -max_len="${FUZZ_MAX_LEN:-8192}" -timeout=10 \
        ${dict:+-dict=$dict} >"$log" 2>&1 || rc=$?
    rm -f fuzz-*.log # libFuzzer's per-job copy of the output, already in $log
    elapsed=$(( $(date +%s) - t0 ))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    new=$(( $(find "$work" -type f | wc -l) - before ))
    crashes=$(grep -Eo '(Test unit|artifact) written to [^ ]+' "$log" | awk '{print $NF}' | sort -u || true)
    if [ "$rc" -ne 0 ] || [ -n "$crashes" ]; then
        failed+=("$t")
        printf '%-12s %10s %8s %9s %8s %s\n' "$t" "${execs:-?}" "$elapsed" "$new" "$(find "$work" -type f | wc -l)" "CRASH (exit $rc)"
        grep -E 'panicked at|^thread .* panicked|ERROR: libFuzzer|SUMMARY' "$log" | head -5 | sed 's/^/    /'
        for c in $crashes; do echo "    artifact: fuzz/${c#"$root"/fuzz/}"; done
        echo "    log: fuzz/$log"
    else
        printf '%-12s %10s %8s %9s %8s %s\n' "$t" "${execs:-?}" "$elapsed" "$new" "$(find "$work" -type f | wc -l)" 0
    fi
done
echo "fuzz.sh: total $(( $(date +%s) - start )) s"
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz.sh: CRASHES in: ${failed[*]}" >&2
    exit 1
fi
