"""A lazy disk: a FUSE file system with one file, `disk.img`, that forgets what was not fsynced.

In the spirit of Jepsen's LazyFS, at the block level. `disk.img` is backed by a real image file
(the "platter"), but a write only lands in this process's memory (4 KiB blocks; reads see it).
Only an fsync/fdatasync of `disk.img` writes the dirty blocks to the image and fsyncs the image.
The loop driver turns every cache flush of the file system above it (an fsync, a journal commit)
into exactly such an fsync, so the image holds what that file system made durable, and nothing
more.

Writing `plug` to the control file `ctl` pulls the plug: from then on every write is accepted and
dropped, every fsync succeeds and does nothing, and the dirty blocks are never written. `plug torn`
first writes a random half of the dirty blocks to the image (a volatile disk cache that got some of
its blocks out, in no particular order), then pulls the plug. Reads keep
seeing the frozen pre-plug view, so the file system above can still be unmounted cleanly. When
this process ends the dirty blocks are gone: starting it again on the same image is the reboot.
Reading `ctl` returns counters as JSON.

The mount uses `direct_io`, so the kernel keeps no page cache of `disk.img`: every read and write
reaches this process, and nothing of the old disk survives a restart.

    python lazydisk.py BACKING_IMAGE MOUNTPOINT     # foreground; `fusermount -u MOUNTPOINT` ends it
"""

from __future__ import annotations

import errno
import json
import os
import random
import stat
import sys
import threading
import time

from fuse import FUSE, FuseOSError, Operations

BLOCK = 4096
DISK = "/disk.img"
CTL = "/ctl"


class LazyDisk(Operations):
    def __init__(self, backing: str):
        self.fd = os.open(backing, os.O_RDWR)
        self.size = os.fstat(self.fd).st_size
        if self.size % BLOCK:
            raise SystemExit(f"lazydisk: {backing}: size {self.size} is not a multiple of {BLOCK}")
        self.mutex = threading.Lock()
        self.dirty: dict[int, bytes] = {}  # block index -> BLOCK bytes not yet on the image
        self.plugged = False
        self.stats = {
            "writes": 0, "bytes_written": 0, "fsyncs": 0, "blocks_flushed": 0,
            "dropped_writes": 0, "dropped_fsyncs": 0, "blocks_discarded": 0, "blocks_torn_in": 0,
        }
        self.t0 = time.time()

    # --- the file's blocks --------------------------------------------------
    def _block(self, idx: int) -> bytes:
        b = self.dirty.get(idx)
        if b is None:
            b = os.pread(self.fd, BLOCK, idx * BLOCK)
        return b

    def _read(self, size: int, offset: int) -> bytes:
        size = max(0, min(size, self.size - offset))
        if size == 0:
            return b""
        first, last = offset // BLOCK, (offset + size - 1) // BLOCK
        if not any(i in self.dirty for i in range(first, last + 1)):
            return os.pread(self.fd, size, offset)
        buf = b"".join(self._block(i) for i in range(first, last + 1))
        start = offset - first * BLOCK
        return buf[start:start + size]

    def _write(self, data: bytes, offset: int) -> None:
        end = offset + len(data)
        if end > self.size:
            raise FuseOSError(errno.ENOSPC)
        mv = memoryview(data)
        pos = offset
        while pos < end:
            idx, within = divmod(pos, BLOCK)
            n = min(BLOCK - within, end - pos)
            chunk = mv[pos - offset:pos - offset + n]
            if n == BLOCK:
                self.dirty[idx] = bytes(chunk)
            else:
                b = bytearray(self._block(idx))
                b[within:within + n] = chunk
                self.dirty[idx] = bytes(b)
            pos += n

    def _flush_dirty(self) -> None:
        """Write the dirty blocks to the image (contiguous runs in one pwrite) and fsync it."""
        idxs = sorted(self.dirty)
        i = 0
        while i < len(idxs):
            j = i
            while j + 1 < len(idxs) and idxs[j + 1] == idxs[j] + 1:
                j += 1
            os.pwrite(self.fd, b"".join(self.dirty[k] for k in idxs[i:j + 1]), idxs[i] * BLOCK)
            i = j + 1
        os.fsync(self.fd)
        self.stats["blocks_flushed"] += len(idxs)
        self.dirty.clear()

    # --- FUSE operations ----------------------------------------------------
    def getattr(self, path, fh=None):
        now = self.t0
        if path == "/":
            return {"st_mode": stat.S_IFDIR | 0o755, "st_nlink": 2, "st_size": 0,
                    "st_atime": now, "st_mtime": now, "st_ctime": now}
        if path == DISK:
            return {"st_mode": stat.S_IFREG | 0o600, "st_nlink": 1, "st_size": self.size,
                    "st_atime": now, "st_mtime": now, "st_ctime": now}
        if path == CTL:
            return {"st_mode": stat.S_IFREG | 0o600, "st_nlink": 1, "st_size": 4096,
                    "st_atime": now, "st_mtime": now, "st_ctime": now}
        raise FuseOSError(errno.ENOENT)

    def readdir(self, path, fh):
        return [".", "..", DISK[1:], CTL[1:]]

    def open(self, path, flags):
        if path not in (DISK, CTL):
            raise FuseOSError(errno.ENOENT)
        return 0

    def truncate(self, path, length, fh=None):
        if path == CTL:
            return 0
        if path == DISK and length == self.size:
            return 0
        raise FuseOSError(errno.EPERM)

    def read(self, path, size, offset, fh):
        if path == CTL:
            with self.mutex:
                doc = dict(self.stats, plugged=self.plugged, dirty_blocks=len(self.dirty))
            return (json.dumps(doc) + "\n").encode()[offset:offset + size]
        with self.mutex:
            return self._read(size, offset)

    def write(self, path, data, offset, fh):
        if path == CTL:
            cmd = bytes(data).decode(errors="replace").split()
            if cmd not in (["plug"], ["plug", "torn"]):
                raise FuseOSError(errno.EINVAL)
            with self.mutex:
                if cmd == ["plug", "torn"] and not self.plugged:
                    # A disk whose volatile cache wrote some of its blocks, in any order, before
                    # the power went: a random subset of the unsynced blocks reaches the image.
                    rng = random.SystemRandom()
                    for idx in [i for i in self.dirty if rng.random() < 0.5]:
                        os.pwrite(self.fd, self.dirty[idx], idx * BLOCK)
                        self.stats["blocks_torn_in"] += 1
                    os.fsync(self.fd)
                # From here on nothing reaches the image; the dirty blocks stay readable (so the
                # file system above can unmount) and die with this process.
                self.plugged = True
                self.stats["blocks_discarded"] = len(self.dirty) - self.stats["blocks_torn_in"]
            return len(data)
        with self.mutex:
            if self.plugged:
                self.stats["dropped_writes"] += 1
                return len(data)
            self._write(bytes(data), offset)
            self.stats["writes"] += 1
            self.stats["bytes_written"] += len(data)
        return len(data)

    def fsync(self, path, datasync, fh):
        if path != DISK:
            return 0
        with self.mutex:
            if self.plugged:
                self.stats["dropped_fsyncs"] += 1
                return 0
            self._flush_dirty()
            self.stats["fsyncs"] += 1
        return 0

    def flush(self, path, fh):
        return 0  # close() is no durability point

    def release(self, path, fh):
        return 0

    def statfs(self, path):
        return {"f_bsize": BLOCK, "f_frsize": BLOCK, "f_blocks": self.size // BLOCK,
                "f_bfree": 0, "f_bavail": 0, "f_files": 3, "f_ffree": 0, "f_namemax": 255}


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    backing, mountpoint = sys.argv[1], sys.argv[2]
    # direct_io: no kernel page cache of disk.img; big_writes + max_write: 128 KiB per write call.
    FUSE(LazyDisk(backing), mountpoint, foreground=True, nothreads=False, direct_io=True,
         big_writes=True, max_write=131072, max_read=131072, allow_other=True,
         fsname="lazydisk", subtype="lazydisk")


if __name__ == "__main__":
    main()
