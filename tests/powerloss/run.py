"""The power-loss suite: keyless on ext4 on a lazy disk, the plug pulled mid-storm, N times.

First a control run proves the rig loses data: a file written without fsync is gone after the
cut, a file written with fsync (and its directory fsynced) is there. Then keyless starts on the
ext4 mount and each cycle runs a write storm (storm.py; the writeback regime alternates: the
kernel's, or eager), pulls the plug at a random moment (half the time `torn`: a random half of the
unsynced blocks reach the platter first) and at once kill -9s keyless, unmounts (the plugged disk drops what ext4 still had to write), detaches,
stops the lazy disk (its unsynced blocks die), powers on again (ext4 replays its journal), starts
keyless and checks: it starts, `tmp/` is empty, every write acknowledged before the plug is
there with its bytes, ETag and metadata, deletes stay deleted, nothing no client sent is visible,
acknowledged multipart parts survive, and the blob files are exactly those the metadata names.

    python tests/powerloss/run.py [--cycles N] [--seed S] [--work DIR] [--json FILE]

Exit status 0 when every cycle lost nothing and broke no invariant, 1 otherwise, 2 when the rig
cannot run here (not root, no /dev/fuse, ...).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "clients"))

import storm  # noqa: E402
from rig import Rig, ext4_messages, kernel_log, kernel_stamp, preflight  # noqa: E402

# tests/clients/conftest.py: start_server/stop_server, root keys, hermetic boto3 environment.
# Power loss is about keyless's own store: always the embedded engine, never gateway mode.
os.environ["KEYLESS_TEST_BACKEND"] = "embedded"
import conftest  # noqa: E402

WORKERS = 4


def files_under(p: Path) -> list[Path]:
    return [Path(d) / f for d, _, fs in os.walk(p) for f in fs] if p.exists() else []


# --------------------------------------------------------------------------
# The control run: does the rig lose what was not synced?
# --------------------------------------------------------------------------
def sanity(rig: Rig) -> dict:
    data_unsynced = random.Random(1).randbytes(300_000)
    data_synced = random.Random(2).randbytes(300_000)
    rig.power_on()
    d = rig.mnt / "sanity"
    d.mkdir(exist_ok=True)
    dfd = os.open(rig.mnt, os.O_RDONLY)
    os.fsync(dfd)
    os.close(dfd)
    with open(d / "synced", "wb") as f:
        f.write(data_synced)
        f.flush()
        os.fsync(f.fileno())
    dfd = os.open(d, os.O_RDONLY)
    os.fsync(dfd)  # the new name is durable too
    os.close(dfd)
    with open(d / "unsynced", "wb") as f:
        f.write(data_unsynced)  # closed, never fsynced
    rig.plug()
    rig.power_off()
    dropped = rig.last_stats.get("dropped_writes", 0)
    rig.power_on()
    try:
        u = d / "unsynced"
        unsynced_kept = u.exists() and u.read_bytes() == data_unsynced
        s = d / "synced"
        synced_kept = s.exists() and s.read_bytes() == data_synced
        shutil.rmtree(d)
        dfd = os.open(rig.mnt, os.O_RDONLY)
        os.fsync(dfd)
        os.close(dfd)
    finally:
        rig.power_off()
    return {"unsynced_lost": not unsynced_kept, "synced_kept": synced_kept,
            "writes_dropped_after_plug": dropped}


# --------------------------------------------------------------------------
# Cycles
# --------------------------------------------------------------------------
RECOVERY = re.compile(r"temp_files_removed\W+(\d+).*?orphan_blobs_removed\W+(\d+)")


# `--mutant all|blobs|dirs`: keyless with some fsyncs turned into no-ops (mutant.c, LD_PRELOADed
# into keyless only). The suite must catch it losing acknowledged writes, or the suite is broken.
MUTANT_PRELOAD: str | None = None


def build_mutant(work: Path, mode: str) -> str:
    so = work / "mutant.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-o", str(so), str(HERE / "mutant.c"), "-ldl"],
                   check=True)
    os.environ["KEYLESS_MUTANT"] = mode  # read by the shim; harmless to everything else
    return str(so)


def start(rig: Rig, logs: Path):
    logs.mkdir(parents=True, exist_ok=True)
    if MUTANT_PRELOAD:
        os.environ["LD_PRELOAD"] = MUTANT_PRELOAD  # start_server copies os.environ
    try:
        return conftest.start_server(logs, data_dir=rig.mnt / "data"), None
    except BaseException as e:  # pytest.fail raises an OutcomeException
        return None, f"keyless did not start after the cut: {e}"
    finally:
        os.environ.pop("LD_PRELOAD", None)


def recovery_counts(srv) -> tuple[int, int] | None:
    m = RECOVERY.search(srv.log_path.read_text(errors="replace"))
    return (int(m.group(1)), int(m.group(2))) if m else None


def run_cycle(rig: Rig, srv, baseline: dict, cycle: int, rng: random.Random, logs: Path):
    """One storm and cut on a running `srv`; returns (row, new server, new baseline)."""
    t0 = time.monotonic()
    storm_writeback = "eager" if rig.bdi_limited else "kernel"
    j = storm.Journal(baseline)
    stop = threading.Event()
    errors: list[str] = []
    threads = [threading.Thread(target=storm.worker,
                                args=(srv.client(), j, rng.getrandbits(64), stop, errors))
               for _ in range(WORKERS)]
    threads.append(threading.Thread(target=storm.pinning_reader,
                                    args=(srv.client(), rng.getrandbits(64), stop)))
    for t in threads:
        t.start()
    storm_secs = rng.choice([rng.uniform(0.2, 1.0), rng.uniform(1.0, 5.0), rng.uniform(1.0, 5.0)])
    torn = rng.random() < 0.5
    time.sleep(storm_secs)
    plug = time.monotonic()
    rig.plug(torn)
    conftest.stop_server(srv, kill=True)  # kill -9, right after the plug
    stop.set()
    for t in threads:
        t.join(timeout=60)
    at_plug = rig.stats()
    rig.power_off()
    cut = rig.last_stats

    # Alternate the writeback regime from storm to storm: with the kernel's (ext4's delayed
    # allocation keeps unsynced file data in memory; the cut catches files with names but no
    # blocks) and eager (data reaches the disk early; the cut catches half-written files).
    rig.eager = cycle % 2 == 1
    rig.power_on()
    row = {"cycle": cycle, "storm_s": round(storm_secs, 2), "plug": "torn" if torn else "drop",
           "writeback": storm_writeback,
           "dirty_blocks_torn_in": at_plug.get("blocks_torn_in", 0),
           "dirty_blocks_at_plug": at_plug.get("blocks_discarded", 0),
           "writes_dropped_after_plug": cut.get("dropped_writes", 0),
           "fsyncs_before_plug": at_plug.get("fsyncs", 0),
           "violations": list(errors) + [f"a 5xx before the plug: {e}" for t, e in j.server_errors
                                          if t < plug]}
    srv, err = start(rig, logs / f"cycle{cycle:03d}")
    if err:
        # Nothing can be read back: every acknowledged write counts as lost.
        row["violations"].append(err)
        t = storm.tally(j, plug)
        row.update(t, verified=0, lost=t["acknowledged"])
        return row, None, baseline
    rec = recovery_counts(srv)
    if rec is None:
        row["violations"].append("keyless's log has no 'store opened and recovered' line")
    row["tmp_removed"], row["orphans_removed"] = rec or (None, None)
    data = rig.mnt / "data"
    tmp = files_under(data / "tmp")
    if tmp:
        row["violations"].append(f"tmp/ not empty after start-up: {[p.name for p in tmp]}")
    c = srv.client()
    try:
        v = storm.verify(c, j, plug)
    except Exception as e:
        row["violations"].append(f"verification failed: {e!r}")
        t = storm.tally(j, plug)
        row.update(t, verified=0, lost=t["acknowledged"])
        return row, srv, baseline
    row.update(acknowledged=v.acknowledged, uncertain=v.uncertain, unanswered=v.unanswered,
               verified=v.verified, lost=v.lost)
    row["violations"] += v.violations
    row["by_kind"] = v.by_kind
    blobs = len(files_under(data / "blobs"))
    if blobs != v.referenced_blobs:
        row["violations"].append(
            f"{blobs} blob files, but the metadata names {v.referenced_blobs} (objects "
            f"{v.object_blobs} + open parts): orphans survived the sweep, or a blob is missing")
    storm.abort_open_uploads(c, v.open_uploads)
    blobs = len(files_under(data / "blobs"))
    if blobs != v.object_blobs:
        row["violations"].append(f"after aborting the open uploads {blobs} blob files, "
                                 f"objects name {v.object_blobs}")
    row["blobs"] = blobs
    row["seconds"] = round(time.monotonic() - t0, 1)
    return row, srv, v.state


def fmt(row: dict) -> str:
    return (f"cycle {row['cycle']:3d}: storm {row['storm_s']:4.1f}s  acknowledged {row['acknowledged']:4d}"
            f"  uncertain {row['uncertain']:2d}  unanswered {row['unanswered']:2d}"
            f"  verified {row['verified']:4d}  lost {row['lost']}"
            f"  | writeback {row['writeback']}, plug {row['plug']}: {row['dirty_blocks_at_plug']} unsynced blocks lost, "
            f"{row['dirty_blocks_torn_in']} kept, {row['writes_dropped_after_plug']}"
            f" writes dropped | recovery: tmp {row.get('tmp_removed')}, orphans "
            f"{row.get('orphans_removed')} | blobs {row.get('blobs')} | {row.get('seconds')}s"
            + ("  VIOLATIONS: " + str(len(row["violations"])) if row["violations"] else ""))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cycles", type=int, default=20)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--work", type=Path, default=None, help="scratch directory (default: a new temp dir)")
    ap.add_argument("--json", type=Path, default=None, help="write the summary here")
    ap.add_argument("--size-mib", type=int, default=512)
    ap.add_argument("--dirty-kib", type=int, default=256,
                    help="cap ext4's dirty page cache on the lazy disk at this many KiB, so file "
                         "data is written out before it is fsynced (0: the kernel's defaults)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--mutant", choices=["all", "blobs", "dirs"], default=None,
                    help="run a keyless whose fsyncs (all, of staged blobs, of directories) do "
                         "nothing; succeeds when the suite catches it")
    a = ap.parse_args()

    missing = preflight()
    if missing:
        print("powerloss: cannot run here: " + "; ".join(missing), file=sys.stderr)
        return 2
    seed = a.seed if a.seed is not None else random.SystemRandom().randrange(2**32)
    rng = random.Random(seed)
    work = a.work or Path(tempfile.mkdtemp(prefix="keyless-powerloss-"))
    work.mkdir(parents=True, exist_ok=True)
    logs = work / "logs"
    logs.mkdir(exist_ok=True)
    print(f"powerloss: seed {seed}, {a.cycles} cycles, work dir {work}", flush=True)
    t_start = time.monotonic()
    kernel_before = max([kernel_stamp(l) for l in kernel_log()] + [-1.0])
    rig = Rig(work, a.size_mib, eager_writeback=a.dirty_kib * 1024)
    summary = {"seed": seed, "cycles": 0, "acknowledged": 0, "uncertain": 0, "unanswered": 0,
               "verified": 0, "lost": 0, "violations": [], "rows": []}
    srv = None
    global MUTANT_PRELOAD
    try:
        if a.mutant:
            MUTANT_PRELOAD = build_mutant(work, a.mutant)
            print(f"powerloss: MUTANT {a.mutant}: keyless runs with {MUTANT_PRELOAD}; "
                  f"the suite must report losses", flush=True)
        rig.format()
        san = sanity(rig)
        summary["sanity"] = san
        print(f"sanity: unsynced file lost: {san['unsynced_lost']}, fsynced file kept: "
              f"{san['synced_kept']} ({san['writes_dropped_after_plug']} writes dropped after "
              f"the plug)", flush=True)
        if not (san["unsynced_lost"] and san["synced_kept"]):
            summary["violations"].append("sanity: the rig does not lose unsynced data "
                                         "or loses synced data; its results mean nothing")
        else:
            rig.eager = False  # cycle 1 with the kernel's writeback, then alternating
            rig.power_on()
            srv, err = start(rig, logs / "cycle000")
            if err:
                raise RuntimeError(err)
            srv.client().create_bucket(Bucket=storm.BUCKET)
            baseline = {k: (None, None) for k in storm.KEYS}
            for cycle in range(1, a.cycles + 1):
                row, srv, baseline = run_cycle(rig, srv, baseline, cycle, rng, logs)
                summary["rows"].append(row)
                summary["cycles"] += 1
                for k in ("acknowledged", "uncertain", "unanswered", "verified", "lost"):
                    summary[k] += row[k]
                summary["violations"] += [f"cycle {cycle}: {v}" for v in row["violations"]]
                for k, n in row.get("by_kind", {}).items():
                    summary.setdefault("by_kind", {})[k] = summary.get("by_kind", {}).get(k, 0) + n
                print(fmt(row), flush=True)
                for v in row["violations"]:
                    print(f"  ! {v}", flush=True)
                if srv is None:
                    break
            if srv is not None:
                conftest.stop_server(srv)
                srv = None
    finally:
        if srv is not None:
            conftest.stop_server(srv, kill=True)
        rig.power_off()
    summary["seconds"] = round(time.monotonic() - t_start, 1)
    # ext4's own view: it replayed its journal after each cut, and never reported an error.
    recoveries, ext4_errors = ext4_messages(kernel_log(kernel_before), rig.loops_used)
    summary["ext4_journal_recoveries"] = recoveries
    summary["violations"] += [f"ext4: {l}" for l in ext4_errors]
    print("acknowledged by kind: " + ", ".join(f"{k} {n}" for k, n in
                                              sorted(summary.get("by_kind", {}).items())), flush=True)
    print(f"ext4: {recoveries} journal recoveries, {len(ext4_errors)} errors", flush=True)
    for l in ext4_errors[:20]:
        print(f"  ! {l}", flush=True)
    ok = not summary["violations"] and summary["lost"] == 0
    if a.mutant:
        summary["mutant"] = a.mutant
        summary["mutant_caught"] = bool(summary["violations"]) and summary.get("cycles", 0) > 0 \
            and "sanity" in summary and not any(v.startswith("sanity") for v in summary["violations"])
    print(f"total: {summary['cycles']} cycles, acknowledged {summary['acknowledged']}, uncertain "
          f"{summary['uncertain']}, unanswered {summary['unanswered']}, verified "
          f"{summary['verified']}, lost {summary['lost']}, violations {len(summary['violations'])}, "
          f"{summary['seconds']}s, seed {seed}: {'OK' if ok else 'FAILED'}", flush=True)
    if a.json:
        a.json.write_text(json.dumps(summary, indent=1, default=str))
    if ok and not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    elif not ok:
        print(f"powerloss: logs and the platter kept in {work}", flush=True)
    if a.mutant:
        print(f"mutant {a.mutant}: {'caught' if summary['mutant_caught'] else 'NOT CAUGHT'}",
              flush=True)
        return 0 if summary["mutant_caught"] else 1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
