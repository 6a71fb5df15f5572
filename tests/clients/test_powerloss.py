"""Power loss, the short version for CI: tests/powerloss/run.py (the suite behind
scripts/powerloss.sh) for 4 cycles, then once against a mutant keyless that skips the fsync of its
staged blobs.

Each cycle pulls the plug on a lazy disk (a FUSE file that keeps writes in memory until fsynced)
under ext4 in the middle of a write storm, kill -9s keyless, remounts and restarts it, and checks
every acknowledged write. Passing means: the rig lost the data a control file never fsynced (so a
cut is a real cut), no acknowledged write was lost, no invariant broke — and the mutant, which
only drops the blob fdatasync that the durability contract's step 1 requires, was caught.

Needs root, /dev/fuse and loop devices (these machines have them; the test says so if not).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, keyless_binary

RUN = REPO / "tests" / "powerloss" / "run.py"


def run_suite(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    assert os.geteuid() == 0, "the power-loss suite mounts a FUSE disk and ext4 on a loop device: run it as root"
    out = tmp_path / "summary.json"
    env = dict(os.environ, KEYLESS_BIN=str(keyless_binary()))
    res = subprocess.run([sys.executable, str(RUN), "--work", str(tmp_path / "work"),
                          "--json", str(out), *args],
                         capture_output=True, text=True, timeout=300, env=env)
    if res.returncode == 2:
        pytest.fail(f"the power-loss rig cannot run here: {res.stderr.strip()}", pytrace=False)
    summary = json.loads(out.read_text()) if out.exists() else {}
    return res, summary


@pytest.mark.timeout(400)
def test_power_loss_cycles_lose_no_acknowledged_write(tmp_path):
    res, s = run_suite(tmp_path, "--cycles", "4")
    report = f"--- stdout ---\n{res.stdout[-6000:]}\n--- stderr ---\n{res.stderr[-3000:]}"
    sanity = s.get("sanity", {})
    assert sanity.get("unsynced_lost") is True, f"the rig kept data nobody fsynced\n{report}"
    assert sanity.get("synced_kept") is True, f"the rig lost fsynced data\n{report}"
    assert s.get("cycles") == 4, report
    assert s["acknowledged"] > 0, report
    assert s["lost"] == 0 and not s["violations"], report
    assert s["verified"] == s["acknowledged"], report
    assert res.returncode == 0, report


@pytest.mark.timeout(400)
def test_power_loss_suite_catches_a_keyless_that_skips_the_blob_fsync(tmp_path):
    res, s = run_suite(tmp_path, "--cycles", "3", "--seed", "3", "--mutant", "blobs")
    report = f"--- stdout ---\n{res.stdout[-6000:]}\n--- stderr ---\n{res.stderr[-3000:]}"
    assert s.get("mutant_caught") is True, f"the suite did not notice unsynced blobs\n{report}"
    assert s["lost"] > 0, report
    assert res.returncode == 0, report
