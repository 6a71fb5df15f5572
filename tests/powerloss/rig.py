"""The power-loss rig: ext4 on a loop device over the lazy disk's `disk.img`.

    backing image (a plain file: the platter)
      └ lazydisk.py (FUSE): disk.img, writes in memory until fsynced; `plug` drops everything
          └ losetup /dev/loopN disk.img        (ext4's cache flushes become fsyncs of disk.img)
              └ mount -t ext4 (defaults: barriers on, data=ordered)  →  <work>/mnt

`Rig.power_on()` starts the lazy disk, attaches the loop device and mounts ext4 (which replays its
journal); `Rig.plug()` pulls the plug; `Rig.power_off()` unmounts, detaches and stops the lazy disk,
so whatever was not durable at the plug is gone. Needs root, /dev/fuse and loop devices.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
LAZYDISK = HERE / "lazydisk.py"


def sh(*cmd: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({res.returncode}): {res.stderr.strip()}")
    return res


def preflight() -> list[str]:
    """What is missing for the rig to run, as sentences; empty when all is there."""
    missing = []
    if os.geteuid() != 0:
        missing.append("must run as root (loop devices and mounts)")
    if not os.path.exists("/dev/fuse"):
        missing.append("/dev/fuse is missing")
    if not os.path.exists("/dev/loop-control"):
        missing.append("/dev/loop-control is missing (no loop devices)")
    for tool in ("losetup", "mkfs.ext4", "mount", "umount", "fusermount"):
        if not any(os.access(Path(d) / tool, os.X_OK) for d in os.environ.get("PATH", "").split(":")
                   + ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]):
            missing.append(f"{tool} is not installed")
    try:
        import fuse  # noqa: F401
    except (ImportError, OSError) as e:
        missing.append(f"fusepy/libfuse2 not importable: {e} (scripts/install-test-deps.sh)")
    return missing


class Rig:
    def __init__(self, work: Path, size_mib: int = 512, eager_writeback: int = 0):
        self.work = work
        self.image = work / "platter.img"
        self.fuse_dir = work / "lazy"
        self.mnt = work / "mnt"
        self.size_mib = size_mib
        self.eager_writeback = eager_writeback  # bytes of dirty page cache allowed; 0: no cap
        self.eager = True  # apply that cap at the next power_on (the run alternates)
        self.bdi_limited = False
        self.fuse_proc: subprocess.Popen | None = None
        self.loop: str | None = None
        self.fuse_log = work / "lazydisk.log"
        self.last_stats: dict = {}  # the lazy disk's counters when it was last stopped
        self.loops_used: set[str] = set()  # loop device names, to find ext4's kernel messages

    # --- set-up -------------------------------------------------------------
    def format(self) -> None:
        """Create the platter and mkfs.ext4 it once (directly: nothing lazy about formatting)."""
        self.work.mkdir(parents=True, exist_ok=True)
        self.fuse_dir.mkdir(exist_ok=True)
        self.mnt.mkdir(exist_ok=True)
        with open(self.image, "wb") as f:
            f.truncate(self.size_mib << 20)
        # Initialize inode tables and journal now, so no lazy-init thread writes during cycles.
        sh("mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0",
           "-L", "powerloss", str(self.image), timeout=120)
        fd = os.open(self.image, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)

    # --- power --------------------------------------------------------------
    @property
    def disk(self) -> Path:
        return self.fuse_dir / "disk.img"

    @property
    def ctl(self) -> Path:
        return self.fuse_dir / "ctl"

    def power_on(self) -> None:
        log = open(self.fuse_log, "a")
        self.fuse_proc = subprocess.Popen(
            [sys.executable, str(LAZYDISK), str(self.image), str(self.fuse_dir)],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + 20
        while not (os.path.ismount(self.fuse_dir) and self.disk.exists()):
            if self.fuse_proc.poll() is not None:
                raise RuntimeError(f"lazydisk exited with {self.fuse_proc.returncode}: "
                                   f"{self.fuse_log.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("lazydisk did not mount within 20 s")
            time.sleep(0.05)
        self.loop = sh("losetup", "-f", "--show", str(self.disk)).stdout.strip()
        self.loops_used.add(os.path.basename(self.loop))
        if self.eager_writeback and self.eager:
            self._bdi_limit(True)
        sh("mount", "-t", "ext4", self.loop, str(self.mnt), timeout=120)

    def _bdi_limit(self, on: bool) -> None:
        """Eager writeback: cap the loop device's dirty page cache (strict_limit + max_bytes), so
        ext4 writes file data out long before anyone fsyncs it, as a busy machine does. Then the
        lazy disk holds unsynced blocks at the cut (half-written temp files, redb pages not yet
        committed) instead of ext4's page cache holding them all."""
        rdev = os.stat(self.loop).st_rdev
        bdi = Path(f"/sys/class/bdi/{os.major(rdev)}:{os.minor(rdev)}")
        try:
            if on:
                (bdi / "strict_limit").write_text("1")
                (bdi / "max_bytes").write_text(str(self.eager_writeback))
                self.bdi_limited = True
            else:
                (bdi / "max_ratio").write_text("100")
                (bdi / "strict_limit").write_text("0")
                self.bdi_limited = False
        except OSError:
            pass  # an older kernel without max_bytes: writeback as usual

    def plug(self, torn: bool = False) -> None:
        """Pull the plug: when this returns, nothing more reaches the platter. `torn`: a random
        half of the unsynced blocks reach it first."""
        with open(self.ctl, "w") as f:
            f.write("plug torn" if torn else "plug")

    def stats(self) -> dict:
        return json.loads(self.ctl.read_text())

    def power_off(self) -> None:
        """Unmount, detach, stop the lazy disk (its unsynced blocks die with it). Idempotent."""
        if os.path.ismount(self.mnt):
            sh("umount", str(self.mnt), timeout=120)
        if self.loop:
            if self.bdi_limited:
                self._bdi_limit(False)
            sh("losetup", "-d", self.loop, check=False)
            # Detaching is asynchronous: wait until the loop device let go of disk.img.
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                out = sh("losetup", "-l", "-n", "-O", "NAME,BACK-FILE", check=False).stdout
                if not any(line.split()[0] == self.loop for line in out.splitlines() if line.split()):
                    break
                time.sleep(0.05)
            self.loop = None
        if os.path.ismount(self.fuse_dir):
            try:
                self.last_stats = self.stats()
            except (OSError, ValueError):
                self.last_stats = {}
            if sh("fusermount", "-u", str(self.fuse_dir), check=False).returncode != 0:
                time.sleep(0.5)
                sh("fusermount", "-u", "-z", str(self.fuse_dir), check=False)
        if self.fuse_proc:
            try:
                self.fuse_proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.fuse_proc.kill()
                self.fuse_proc.wait()
            self.fuse_proc = None



def kernel_log(after: float = -1.0) -> list[str]:
    """The kernel's messages (dmesg) stamped later than `after` seconds since boot; [] when they
    cannot be read. (By time, not by line number: the ring buffer drops its oldest lines.)"""
    res = subprocess.run(["dmesg"], capture_output=True, text=True)
    if res.returncode != 0:
        return []
    return [l for l in res.stdout.splitlines() if kernel_stamp(l) > after]


def kernel_stamp(line: str) -> float:
    """The `[ 12345.678901]` time of a dmesg line, or -1."""
    try:
        return float(line[line.index("[") + 1:line.index("]")])
    except ValueError:
        return -1.0


def ext4_messages(lines: list[str], loops: set[str]) -> tuple[int, list[str]]:
    """(journal recoveries, error lines) that ext4 logged for our loop devices."""
    ours = [l for l in lines if any(f"EXT4-fs ({d})" in l or f"EXT4-fs error (device {d})" in l
                                    for d in loops)]
    recoveries = sum(1 for l in ours if "recovery complete" in l)
    errors = [l for l in ours if re.search(r"\berror\b|corrupt|inconsisten", l, re.I)]
    return recoveries, errors
