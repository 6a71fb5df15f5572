"""Faults: a full disk, a read-only data directory, and a damaged metadata database. For each:
the client gets a clear error with the right code, no other object is harmed, nothing half-written
becomes visible, service comes back when the cause goes away, and a store keyless cannot trust
is refused at start-up with the reason.

The small and read-only filesystems are real: tmpfs mounts made here (these machines run the
suite as root; the test says so if it is not).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from conftest import keyless_binary, start_server, stop_server


def need_root():
    assert os.geteuid() == 0, "the fault suite mounts small and read-only filesystems: run it as root"


@pytest.fixture
def tmpfs(tmp_path):
    need_root()
    mounts = []

    def mount(size_mib: int) -> Path:
        where = tmp_path / f"fs-{uuid.uuid4().hex[:6]}"
        where.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mib}m", "tmpfs", str(where)], check=True)
        mounts.append(where)
        return where

    yield mount
    for m in reversed(mounts):
        subprocess.run(["umount", "-l", str(m)], check=False)


def server_on(tmp_path: Path, data_dir: Path, limits: dict):
    cfg = tmp_path / f"keyless-{uuid.uuid4().hex[:6]}.yaml"
    cfg.write_text("limits: {" + ", ".join(f"{k}: {v}" for k, v in limits.items()) + "}\n")
    return start_server(tmp_path, data_dir=data_dir, extra_args=("--config", str(cfg)))


def err(e: ClientError) -> tuple[str, int]:
    return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]


def md5(b: bytes) -> str:
    return hashlib.md5(b).hexdigest()


def test_a_full_disk_refuses_new_data_with_507_and_recovers_when_space_is_freed(tmp_path, tmpfs):
    data = tmpfs(48) / "data"
    srv = server_on(tmp_path, data, {"min_free_bytes": 8 << 20})
    try:
        c = srv.client()
        c.create_bucket(Bucket="full")
        stored = {}
        refusal = None
        for i in range(200):
            body = os.urandom(1 << 20)
            try:
                c.put_object(Bucket="full", Key=f"obj-{i:03d}", Body=body)
                stored[f"obj-{i:03d}"] = md5(body)
            except ClientError as e:
                refusal = e
                break
        assert refusal is not None, "the disk never filled"
        code, status = err(refusal)
        assert (code, status) == ("InsufficientStorage", 507), (code, status)
        assert "disk is full" in refusal.response["Error"]["Message"]
        print(f"\n48 MiB tmpfs, 8 MiB reserve: {len(stored)} objects of 1 MiB stored before 507")
        assert len(stored) >= 20
        # A multipart part is refused the same way, and a second PUT too.
        with pytest.raises(ClientError) as again:
            c.put_object(Bucket="full", Key="again", Body=os.urandom(1 << 20))
        assert err(again.value)[1] == 507
        # Nothing half-written is visible, every acknowledged object is intact, no temp file left.
        listed = {o["Key"]: o["ETag"].strip('"') for o in c.list_objects_v2(Bucket="full")["Contents"]}
        assert listed == stored
        for key, digest in stored.items():
            assert md5(c.get_object(Bucket="full", Key=key)["Body"].read()) == digest
        assert list((data / "tmp").iterdir()) == []
        # Reads and deletes still work; deleting frees space and writes resume.
        for key in list(stored)[:6]:
            c.delete_object(Bucket="full", Key=key)
            del stored[key]
        body = os.urandom(1 << 20)
        c.put_object(Bucket="full", Key="after", Body=body)
        assert md5(c.get_object(Bucket="full", Key="after")["Body"].read()) == md5(body)
        assert srv.proc.poll() is None
    finally:
        stop_server(srv)


def test_missing_or_truncated_data_files_are_found_at_start_up(tmp_path):
    """What a disk that lost writes leaves (the power-loss suite's broken builds showed it): a
    record whose data file is gone or short. Start-up compares every referenced file with its
    record and refuses to serve, naming objects; an operator may accept and serve the rest, and
    then a damaged object is an error, never a short or wrong body."""
    data = tmp_path / "data"
    srv = start_server(tmp_path, data_dir=data)
    c = srv.client()
    c.create_bucket(Bucket="blobs")
    bodies = {f"k{i}": os.urandom(10_000 + i) for i in range(6)}
    for k, v in bodies.items():
        c.put_object(Bucket="blobs", Key=k, Body=v)
    assert stop_server(srv) == 0
    files = sorted((p for p in (data / "blobs").rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    assert len(files) == 6
    files[0].unlink()                       # k0's data is gone
    with open(files[1], "r+b") as f:        # k1's is short
        f.truncate(100)
    stderr = start_fails(tmp_path, data)
    assert "1 data files that the metadata names are missing and 1 have the wrong size" in stderr, stderr[-2000:]
    assert "blobs/k0" in stderr and "blobs/k1" in stderr and "write `accept`" in stderr
    (data / "DAMAGED").write_text("accept\n")
    srv = start_server(tmp_path, data_dir=data)
    try:
        c = srv.client()
        for k, v in bodies.items():
            if k in ("k0", "k1"):
                with pytest.raises(ClientError) as e:
                    c.get_object(Bucket="blobs", Key=k)
                assert err(e.value) == ("InternalError", 500)
            else:
                assert c.get_object(Bucket="blobs", Key=k)["Body"].read() == v
        assert "is damaged" in srv.log_path.read_text()
    finally:
        stop_server(srv)


def test_a_data_directory_keyless_may_not_write_refuses_writes_with_503_serves_reads_and_recovers(
        tmp_path, monkeypatch):
    """The common mistake (a volume with the wrong owner, a folder made read-only): keyless runs
    as an unprivileged user whose data directory stops being writable while it runs. (A read-only
    remount cannot be made here while keyless holds its database open for writing; the statvfs
    check that catches one runs on every write either way.)"""
    need_root()
    import conftest
    base = Path(tempfile.mkdtemp(prefix="keyless-perm-"))
    os.chmod(base, 0o755)
    data = base / "data"
    data.mkdir()
    shutil.chown(data, "nobody", "nogroup")
    wrapper = base / "keyless-as-nobody"
    wrapper.write_text(f"#!/bin/sh\nexec setpriv --reuid=nobody --regid=nogroup --clear-groups "
                       f"{conftest.keyless_binary()} \"$@\"\n")
    wrapper.chmod(0o755)
    monkeypatch.setattr(conftest, "keyless_binary", lambda: wrapper)
    srv = server_on(base, data, {"min_free_bytes": 1 << 20})  # the config must be readable by nobody
    try:
        c = srv.client()
        c.create_bucket(Bucket="rodir")
        keep = os.urandom(300_000)
        c.put_object(Bucket="rodir", Key="keep", Body=keep)
        os.chmod(data / "tmp", 0o555)
        try:
            for i in range(3):
                with pytest.raises(ClientError) as e:
                    c.put_object(Bucket="rodir", Key=f"new-{i}", Body=b"x" * 1000)
                assert err(e.value) == ("ServiceUnavailable", 503), err(e.value)
                assert "not writable" in e.value.response["Error"]["Message"]
            assert c.get_object(Bucket="rodir", Key="keep")["Body"].read() == keep
            assert [o["Key"] for o in c.list_objects_v2(Bucket="rodir")["Contents"]] == ["keep"]
        finally:
            os.chmod(data / "tmp", 0o755)
        # The cause is gone: writes work again, in the same process.
        c.put_object(Bucket="rodir", Key="new", Body=b"y" * 1000)
        c.delete_object(Bucket="rodir", Key="keep")
        assert [o["Key"] for o in c.list_objects_v2(Bucket="rodir")["Contents"]] == ["new"]
        assert srv.proc.poll() is None
    finally:
        stop_server(srv)
        shutil.rmtree(base, ignore_errors=True)


def damage(path: Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "one-byte":
        # One byte in the middle of the file: a page whose checksum no longer matches.
        data[len(data) // 2] ^= 0x5A
    else:
        # Garbage over much of the file.
        for i in range(512, len(data), 997):
            data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def start_fails(tmp_path: Path, data: Path) -> str:
    r = subprocess.run([str(keyless_binary()), "serve", "--data-dir", str(data), "--listen", "127.0.0.1:0"],
                       capture_output=True, text=True, timeout=60,
                       env={**os.environ, "RUST_BACKTRACE": "0",
                            "KEYLESS_ROOT_ACCESS_KEY": "KLTESTROOTACCESSKEY1",
                            "KEYLESS_ROOT_SECRET_KEY": "kLtEsTrOoTsEcReTkEy0123456789abcdefGHIJ"})
    assert r.returncode == 1, (r.returncode, r.stderr[-2000:])
    return r.stderr


@pytest.mark.parametrize("how", ["one-byte", "garbage"])
def test_a_damaged_metadata_database_is_refused_at_start_up_saying_why(tmp_path, how):
    data = tmp_path / "data"
    srv = start_server(tmp_path, data_dir=data)
    c = srv.client()
    c.create_bucket(Bucket="meta")
    objects = {f"k{i:04d}/" + "x" * 200: os.urandom(100) for i in range(400)}  # enough to span pages
    for k, v in objects.items():
        c.put_object(Bucket="meta", Key=k, Body=v)
    assert stop_server(srv) == 0
    backup = tmp_path / "backup"
    shutil.copytree(data, backup)

    damage(data / "meta.redb", how)
    stderr = start_fails(tmp_path, data)
    assert "damaged" in stderr and "will not serve it" in stderr and "backup" in stderr, stderr[-2000:]
    assert (data / "DAMAGED").exists()
    # It stays refused: the marker says why, and what to do.
    stderr = start_fails(tmp_path, data)
    assert "an earlier start found the store damaged" in stderr and "DAMAGED" in stderr

    # The cause goes away (the backup is restored): keyless serves again, every object intact.
    shutil.rmtree(data)
    shutil.copytree(backup, data)
    srv = start_server(tmp_path, data_dir=data)
    try:
        c = srv.client()
        for k, v in list(objects.items())[::37]:
            assert c.get_object(Bucket="meta", Key=k)["Body"].read() == v
        assert c.list_objects_v2(Bucket="meta", MaxKeys=1000)["KeyCount"] == len(objects)
    finally:
        stop_server(srv)


EIO_SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
/* fsync and fdatasync fail with EIO while the file named by $KEYLESS_EIO_TRIGGER exists. */
static int failing(void) {
    const char *t = getenv("KEYLESS_EIO_TRIGGER");
    return t && access(t, F_OK) == 0;
}
int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = dlsym(RTLD_NEXT, "fsync");
    if (failing()) { errno = EIO; return -1; }
    return real(fd);
}
int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = dlsym(RTLD_NEXT, "fdatasync");
    if (failing()) { errno = EIO; return -1; }
    return real(fd);
}
"""


def test_an_io_error_under_a_write_fails_it_and_a_failed_commit_stops_keyless_for_recovery(tmp_path, monkeypatch):
    """fsync and fdatasync start failing with EIO (an LD_PRELOAD shim: the disk went bad). A PUT
    whose data cannot be synced fails with 500 and is not stored; a metadata commit that cannot be
    synced makes keyless stop writing and exit 1 — its supervisor restarts it, and recovery runs on
    what is on disk. Once the disk is good again nothing acknowledged is missing."""
    shim_c = tmp_path / "eio.c"
    shim_c.write_text(EIO_SHIM)
    shim = tmp_path / "eio.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-o", str(shim), str(shim_c), "-ldl"], check=True)
    trigger = tmp_path / "EIO"
    monkeypatch.setenv("LD_PRELOAD", str(shim))
    monkeypatch.setenv("KEYLESS_EIO_TRIGGER", str(trigger))
    data = tmp_path / "data"
    srv = start_server(tmp_path, data_dir=data)
    c = srv.client()
    c.create_bucket(Bucket="eio")
    kept = {f"k{i}": os.urandom(50_000) for i in range(10)}
    for k, v in kept.items():
        c.put_object(Bucket="eio", Key=k, Body=v)

    trigger.touch()
    # New data: the staged file cannot be synced, so the write fails and nothing is stored.
    with pytest.raises(ClientError) as e:
        c.put_object(Bucket="eio", Key="lost", Body=b"x" * 10_000)
    assert err(e.value)[1] == 500, err(e.value)
    # A metadata-only write (a delete) reaches the commit, whose fsync fails: keyless stops. The
    # client sees the refusal, or — if its SDK retries — a closed port: keyless is already gone.
    with pytest.raises((ClientError, EndpointConnectionError)) as e:
        c.delete_object(Bucket="eio", Key="k0")
    if isinstance(e.value, ClientError):
        assert err(e.value)[1] in (500, 503), err(e.value)
    code = srv.proc.wait(timeout=30)
    assert code == 1, code
    log = srv.log_path.read_text()
    assert "the store failed" in log and "start keyless again to recover" in log, log[-3000:]

    # The disk is good again: a restart recovers, everything acknowledged is there.
    trigger.unlink()
    srv = start_server(tmp_path, data_dir=data)
    try:
        c = srv.client()
        # The delete was never acknowledged: k0 may be there or not, but not half.
        for k, v in kept.items():
            try:
                assert c.get_object(Bucket="eio", Key=k)["Body"].read() == v
            except ClientError as e:
                assert k == "k0" and err(e) == ("NoSuchKey", 404), (k, err(e))
        with pytest.raises(ClientError):
            c.head_object(Bucket="eio", Key="lost")
        assert list((data / "tmp").iterdir()) == []
        c.put_object(Bucket="eio", Key="after", Body=b"fine")
    finally:
        stop_server(srv)
