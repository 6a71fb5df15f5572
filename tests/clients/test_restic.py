"""restic (Debian; minio-go underneath, which sends `delimiter=` and
streaming-signed chunked uploads): `init`, `backup` of a tree, `check
--read-data`, `restore`, and a byte-for-byte comparison."""

import json

import pytest

from conftest import empty_and_delete_bucket, make_odd_tree, run, system_tool, tree_digest


@pytest.fixture
def restic(server, client_env, tmp_path, bucket_name, s3):
    env = dict(client_env)
    env["RESTIC_PASSWORD"] = "correct horse battery staple"
    env["AWS_ACCESS_KEY_ID"] = server.access_key
    env["AWS_SECRET_ACCESS_KEY"] = server.secret_key
    env["RESTIC_CACHE_DIR"] = str(tmp_path / "restic-cache")
    exe = system_tool("restic")
    repo = f"s3:{server.endpoint}/{bucket_name}"

    def restic(*args, check=True):
        return run([exe, "-r", repo, "-o", f"s3.region={server.region}", *args], env,
                   check=check)

    yield restic
    empty_and_delete_bucket(s3, bucket_name)


def test_restic_backup_check_restore(restic, s3, bucket_name, tmp_path):
    restic("init")  # restic creates the bucket itself
    assert bucket_name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket_name)["Contents"]]
    assert "config" in keys and any(k.startswith("keys/") for k in keys)

    src = tmp_path / "src"
    want = make_odd_tree(src)
    restic("backup", "--host", "testhost", str(src))
    snaps = json.loads(restic("snapshots", "--json").stdout)
    assert len(snaps) == 1 and snaps[0]["paths"] == [str(src)]

    restic("check", "--read-data")

    dst = tmp_path / "dst"
    restic("restore", "latest", "--target", str(dst))
    restored = dst / str(src).lstrip("/")
    assert tree_digest(restored) == want

    # an incremental backup after a change, and a restore of only that file
    (src / "plain.txt").write_bytes(b"second generation")
    restic("backup", "--host", "testhost", str(src))
    assert len(json.loads(restic("snapshots", "--json").stdout)) == 2
    dst2 = tmp_path / "dst2"
    restic("restore", "latest", "--target", str(dst2), "--include", str(src / "plain.txt"))
    assert (dst2 / str(src).lstrip("/") / "plain.txt").read_bytes() == b"second generation"

    # forget + prune deletes pack files; the repository stays consistent
    restic("forget", "--keep-last", "1", "--prune")
    restic("check", "--read-data")
    assert len(json.loads(restic("snapshots", "--json").stdout)) == 1
