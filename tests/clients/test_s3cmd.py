"""s3cmd (Debian): `mb`, `put`, `get`, `ls`, `info`, `del`, `rb`, and a
multipart put (`--multipart-chunk-size-mb=5` with a 12 MiB file), path-style
against 127.0.0.1 without TLS, with its config file in tmp."""

import re

import pytest

from conftest import file_digest, run, system_tool, write_file

MiB = 1024 * 1024


@pytest.fixture
def s3cmd(server, client_env, tmp_path):
    cfg = tmp_path / "s3cfg"
    cfg.write_text(
        "[default]\n"
        f"access_key = {server.access_key}\n"
        f"secret_key = {server.secret_key}\n"
        f"host_base = {server.host}\n"
        f"host_bucket = {server.host}\n"
        f"bucket_location = {server.region}\n"
        "use_https = False\n"
        "signature_v2 = False\n"
        "check_ssl_certificate = False\n"
        "guess_mime_type = True\n"
    )
    exe = system_tool("s3cmd")

    def s3cmd(*args, check=True):
        return run([exe, "-c", str(cfg), f"--host={server.host}",
                    f"--host-bucket={server.host}", "--no-ssl", *args], client_env, check=check)

    return s3cmd


def test_s3cmd_round_trip(s3cmd, s3, bucket_name, tmp_path):
    url = f"s3://{bucket_name}"
    s3cmd("mb", url)
    try:
        assert url in s3cmd("ls").stdout.decode()

        small = tmp_path / "small file.txt"
        small.write_bytes(b"s3cmd says hello\n" * 100)
        s3cmd("put", str(small), f"{url}/docs/small file.txt")

        big = write_file(tmp_path / "big.bin", 12 * MiB, seed=12)
        s3cmd("put", "--multipart-chunk-size-mb=5", str(big), f"{url}/big.bin")
        head = s3.head_object(Bucket=bucket_name, Key="big.bin")
        assert head["ContentLength"] == 12 * MiB
        assert re.fullmatch(r'"[0-9a-f]{32}-3"', head["ETag"]), head["ETag"]  # 5+5+2 MiB

        listing = s3cmd("ls", f"{url}/").stdout.decode()
        assert "DIR" in listing and f"{url}/docs/" in listing
        assert f"{url}/big.bin" in listing
        rec = s3cmd("ls", "--recursive", url).stdout.decode()
        assert f"{url}/docs/small file.txt" in rec

        info = s3cmd("info", f"{url}/docs/small file.txt").stdout.decode()
        assert re.search(r"File size:\s+1700", info), info

        down = tmp_path / "down"
        down.mkdir()
        s3cmd("get", f"{url}/docs/small file.txt", str(down / "small.txt"))
        s3cmd("get", f"{url}/big.bin", str(down / "big.bin"))
        assert (down / "small.txt").read_bytes() == small.read_bytes()
        assert file_digest(down / "big.bin") == file_digest(big)

        s3cmd("del", f"{url}/big.bin")
        s3cmd("del", f"{url}/docs/small file.txt")
        assert s3.list_objects_v2(Bucket=bucket_name)["KeyCount"] == 0
        missing = s3cmd("get", f"{url}/big.bin", str(down / "gone.bin"), check=False)
        assert missing.returncode != 0
    finally:
        s3cmd("rb", "--recursive", "--force", url, check=False)
    assert bucket_name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
