"""awscli v1 (the pip one, from the venv — never Debian's awscli 2.9):
`s3 mb/cp/ls/sync/rm/rb` including a multipart upload (a 20 MiB file, which
the CLI splits at its 8 MiB threshold), `s3 presign` (SigV2 URLs), and `s3api` calls; every round trip is
compared byte for byte."""

import hashlib
import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from conftest import file_digest, make_odd_tree, run, tree_digest, venv_tool, write_file

MiB = 1024 * 1024


@pytest.fixture
def aws(server, client_env):
    env = dict(client_env)
    env["AWS_ACCESS_KEY_ID"] = server.access_key
    env["AWS_SECRET_ACCESS_KEY"] = server.secret_key
    env["AWS_DEFAULT_REGION"] = server.region
    env["AWS_MAX_ATTEMPTS"] = "1"
    exe = venv_tool("aws")

    def aws(*args, check=True):
        return run([exe, "--endpoint-url", server.endpoint, *args], env, check=check)

    version = aws("--version").stdout.decode() + aws("--version").stderr.decode()
    assert version.startswith("aws-cli/1."), version
    return aws


def test_s3_high_level_commands(aws, s3, bucket_name, tmp_path):
    url = f"s3://{bucket_name}"
    out = aws("s3", "mb", url).stdout.decode()
    assert f"make_bucket: {bucket_name}" in out
    try:
        assert bucket_name in aws("s3", "ls").stdout.decode()

        small = tmp_path / "small.txt"
        small.write_bytes(b"hello from awscli\n")
        aws("s3", "cp", str(small), f"{url}/dir/small.txt")

        big = write_file(tmp_path / "big.bin", 20 * MiB + 123, seed=5)
        aws("s3", "cp", str(big), f"{url}/big.bin")
        head = s3.head_object(Bucket=bucket_name, Key="big.bin")
        assert head["ContentLength"] == 20 * MiB + 123
        assert re.fullmatch(r'"[0-9a-f]{32}-3"', head["ETag"]), head["ETag"]  # 8+8+4 MiB parts

        listing = aws("s3", "ls", f"{url}/").stdout.decode()
        assert "PRE dir/" in listing
        assert re.search(rf"\s{20 * MiB + 123} big\.bin", listing), listing
        rec = aws("s3", "ls", "--recursive", url).stdout.decode()
        assert "dir/small.txt" in rec and "big.bin" in rec

        down = tmp_path / "down"
        aws("s3", "cp", f"{url}/big.bin", str(down / "big.bin"))
        aws("s3", "cp", f"{url}/dir/small.txt", str(down / "small.txt"))
        assert file_digest(down / "big.bin") == file_digest(big)
        assert (down / "small.txt").read_bytes() == small.read_bytes()

        # server-side copy (multipart source, copied as one object or with UploadPartCopy)
        aws("s3", "cp", f"{url}/big.bin", f"{url}/copy/big-copy.bin")
        aws("s3", "cp", f"{url}/copy/big-copy.bin", str(down / "big-copy.bin"))
        assert file_digest(down / "big-copy.bin") == file_digest(big)

        aws("s3", "mv", f"{url}/dir/small.txt", f"{url}/moved/small.txt")
        keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket_name)["Contents"])
        assert keys == ["big.bin", "copy/big-copy.bin", "moved/small.txt"]

        aws("s3", "rm", f"{url}/big.bin")
        aws("s3", "rm", "--recursive", f"{url}/copy/")
        keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket_name)["Contents"])
        assert keys == ["moved/small.txt"]
    finally:
        aws("s3", "rb", "--force", url, check=False)
    assert bucket_name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_s3_sync_round_trip(aws, s3, bucket, tmp_path):
    src = tmp_path / "src"
    want = make_odd_tree(src)
    # sync compares the file's mtime with LastModified, which S3 (and SeaweedFS) give in whole
    # seconds: a file written in the second of its upload would look newer than its copy.
    past = time.time() - 5
    for f in src.rglob("*"):
        os.utime(f, (past, past))
    url = f"s3://{bucket}/tree"
    aws("s3", "sync", str(src), url)
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == sorted(f"tree/{k}" for k in want)

    # an unchanged tree syncs nothing
    again = aws("s3", "sync", str(src), url).stdout.decode()
    assert again.strip() == "", again

    dst = tmp_path / "dst"
    aws("s3", "sync", url, str(dst))
    assert tree_digest(dst) == want

    # a changed and a deleted file propagate with --delete
    (src / "plain.txt").write_bytes(b"changed content, different size")
    (src / "empty.bin").unlink()
    out = aws("s3", "sync", "--delete", str(src), url).stdout.decode()
    assert "plain.txt" in out and "delete:" in out
    dst2 = tmp_path / "dst2"
    aws("s3", "sync", url, str(dst2))
    assert tree_digest(dst2) == tree_digest(src)

    aws("s3", "rm", "--recursive", url)
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_empty_file_then_more_uploads_on_one_connection(aws, client_env, s3, bucket, tmp_path):
    """awscli sends `Expect: 100-continue` for every file body, even an empty
    one; the next upload on the same keep-alive connection must still work
    (with one worker thread, every request reuses one connection)."""
    Path(client_env["AWS_CONFIG_FILE"]).write_text(
        "[default]\ns3 =\n  max_concurrent_requests = 1\n")
    src = tmp_path / "src"
    src.mkdir()
    (src / "a-empty").write_bytes(b"")
    for n in range(3):
        (src / f"b-small-{n}").write_bytes(f"small file {n}".encode())
    started = time.monotonic()
    aws("s3", "cp", "--recursive", "--cli-read-timeout", "10", str(src), f"s3://{bucket}/d/")
    assert time.monotonic() - started < 10, "an upload stalled until the read timeout"
    for p in sorted(src.iterdir()):
        assert s3.get_object(Bucket=bucket, Key=f"d/{p.name}")["Body"].read() == p.read_bytes()


def test_s3api_calls(aws, bucket, tmp_path):
    body = tmp_path / "body.bin"
    body.write_bytes(bytes(range(256)) * 40)
    put = json.loads(aws("s3api", "put-object", "--bucket", bucket, "--key", "api/obj",
                         "--body", str(body), "--content-type", "application/x-api",
                         "--metadata", "origin=awscli").stdout)
    assert put["ETag"] == '"%s"' % hashlib.md5(body.read_bytes()).hexdigest()

    head = json.loads(aws("s3api", "head-object", "--bucket", bucket, "--key", "api/obj").stdout)
    assert head["ContentLength"] == 10240
    assert head["ContentType"] == "application/x-api"
    assert head["Metadata"] == {"origin": "awscli"}

    out = tmp_path / "out.bin"
    got = json.loads(aws("s3api", "get-object", "--bucket", bucket, "--key", "api/obj",
                         "--range", "bytes=256-511", str(out)).stdout)
    assert got["ContentRange"] == "bytes 256-511/10240"
    assert out.read_bytes() == bytes(range(256))

    listed = json.loads(aws("s3api", "list-objects-v2", "--bucket", bucket,
                            "--prefix", "api/").stdout)
    assert [o["Key"] for o in listed["Contents"]] == ["api/obj"]

    # low-level multipart through s3api
    up = json.loads(aws("s3api", "create-multipart-upload", "--bucket", bucket,
                        "--key", "api/mp").stdout)
    part1 = write_file(tmp_path / "p1", 5 * MiB, seed=1)
    part2 = write_file(tmp_path / "p2", 1000, seed=2)
    etags = []
    for n, p in ((1, part1), (2, part2)):
        r = json.loads(aws("s3api", "upload-part", "--bucket", bucket, "--key", "api/mp",
                           "--upload-id", up["UploadId"], "--part-number", str(n),
                           "--body", str(p)).stdout)
        etags.append(r["ETag"])
    parts = json.loads(aws("s3api", "list-parts", "--bucket", bucket, "--key", "api/mp",
                           "--upload-id", up["UploadId"]).stdout)
    assert [p["Size"] for p in parts["Parts"]] == [5 * MiB, 1000]
    mpu = tmp_path / "mpu.json"
    mpu.write_text(json.dumps({"Parts": [{"PartNumber": i + 1, "ETag": e}
                                         for i, e in enumerate(etags)]}))
    done = json.loads(aws("s3api", "complete-multipart-upload", "--bucket", bucket,
                          "--key", "api/mp", "--upload-id", up["UploadId"],
                          "--multipart-upload", f"file://{mpu}").stdout)
    assert done["ETag"].endswith('-2"')
    aws("s3api", "get-object", "--bucket", bucket, "--key", "api/mp", str(tmp_path / "mp.out"))
    assert (tmp_path / "mp.out").read_bytes() == part1.read_bytes() + part2.read_bytes()

    # errors come back with their S3 code
    res = aws("s3api", "get-object", "--bucket", bucket, "--key", "api/none",
              str(tmp_path / "x"), check=False)
    assert res.returncode != 0
    assert b"NoSuchKey" in res.stderr

    aws("s3api", "delete-object", "--bucket", bucket, "--key", "api/obj")
    aws("s3api", "delete-object", "--bucket", bucket, "--key", "api/mp")
    listed = json.loads(aws("s3api", "list-objects-v2", "--bucket", bucket).stdout or "{}")
    assert listed.get("KeyCount", 0) == 0


def _fetch(url):
    req = urllib.request.Request(url)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_s3_presign(aws, s3, bucket):
    """`aws s3 presign` signs with SigV2 (AWSAccessKeyId/Signature/Expires) by default."""
    data = b"presigned by the AWS CLI\n" * 100
    key = "pre/signed key+ü.txt"
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    url = aws("s3", "presign", f"s3://{bucket}/{key}").stdout.decode().strip()
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    assert {"AWSAccessKeyId", "Signature", "Expires"} <= set(q), url
    assert _fetch(url) == (200, data)
    # another key under the same signature
    s3.put_object(Bucket=bucket, Key="pre/other", Body=b"other")
    other = url.replace(urllib.parse.urlsplit(url).path, f"/{bucket}/pre/other")
    status, body = _fetch(other)
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in body, body
    # expired
    url = aws("s3", "presign", "--expires-in", "1", f"s3://{bucket}/{key}").stdout.decode().strip()
    time.sleep(2.5)
    status, body = _fetch(url)
    assert status == 403 and b"<Code>AccessDenied</Code>" in body, body
