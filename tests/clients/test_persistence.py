"""The real binary across restarts: what a client was told is stored is still
there, byte for byte, after a clean shutdown (SIGTERM) and after a crash
(SIGKILL); a server that crashed mid-upload comes back consistent."""

import hashlib
import threading
import time

import pytest
from botocore.exceptions import ClientError

from conftest import payload, start_server, stop_server

MiB = 1024 * 1024


def write_dataset(s3, bucket):
    want = {}
    for i in range(20):
        data = payload(1000 * i, seed=i)
        s3.put_object(Bucket=bucket, Key=f"small/{i:02d}", Body=data, Metadata={"i": str(i)})
        want[f"small/{i:02d}"] = data
    parts = [payload(5 * MiB, 100), payload(MiB, 101)]
    uid = s3.create_multipart_upload(Bucket=bucket, Key="multi")["UploadId"]
    etags = [s3.upload_part(Bucket=bucket, Key="multi", UploadId=uid, PartNumber=n + 1,
                            Body=p)["ETag"] for n, p in enumerate(parts)]
    s3.complete_multipart_upload(Bucket=bucket, Key="multi", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": n + 1, "ETag": e} for n, e in enumerate(etags)]})
    want["multi"] = b"".join(parts)
    s3.put_object(Bucket=bucket, Key="small/05", Body=b"overwritten")
    want["small/05"] = b"overwritten"
    s3.delete_object(Bucket=bucket, Key="small/07")
    del want["small/07"]
    s3.put_object_tagging(Bucket=bucket, Key="small/01",
                          Tagging={"TagSet": [{"Key": "t", "Value": "v"}]})
    # an upload left open
    open_uid = s3.create_multipart_upload(Bucket=bucket, Key="open")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="open", UploadId=open_uid, PartNumber=1, Body=b"pending")
    return want, open_uid


def check_dataset(s3, bucket, want, open_uid):
    listed = {o["Key"]: o for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert sorted(listed) == sorted(want)
    for key, data in want.items():
        got = s3.get_object(Bucket=bucket, Key=key)
        assert got["Body"].read() == data, key
        assert listed[key]["Size"] == len(data)
    assert s3.head_object(Bucket=bucket, Key="small/03")["Metadata"] == {"i": "3"}
    assert s3.get_object_tagging(Bucket=bucket, Key="small/01")["TagSet"] == [
        {"Key": "t", "Value": "v"}]
    assert s3.get_object(Bucket=bucket, Key="multi")["ETag"].endswith('-2"')
    parts = s3.list_parts(Bucket=bucket, Key="open", UploadId=open_uid)["Parts"]
    assert [p["Size"] for p in parts] == [len(b"pending")]


@pytest.mark.parametrize("kill", [False, True], ids=["sigterm", "sigkill"])
def test_restart_keeps_acknowledged_data(tmp_path, kill):
    root = tmp_path / "srv"
    srv = start_server(root)
    try:
        s3 = srv.client()
        s3.create_bucket(Bucket="persist")
        want, open_uid = write_dataset(s3, "persist")
    finally:
        code = stop_server(srv, kill=kill)
    if not kill:
        assert code == 0, f"keyless exited with {code} on SIGTERM\n{srv.log_tail()}"

    again = start_server(root, data_dir=srv.data_dir)
    try:
        s3 = again.client()
        assert "persist" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
        check_dataset(s3, "persist", want, open_uid)
        # and it keeps working
        s3.put_object(Bucket="persist", Key="after-restart", Body=b"ok")
        assert s3.get_object(Bucket="persist", Key="after-restart")["Body"].read() == b"ok"
    finally:
        stop_server(again)


def test_crash_during_uploads(tmp_path):
    """SIGKILL while uploads stream in: after a restart every key is either
    absent or holds exactly one of the bodies that was sent — never a mix, a
    truncation, or an ETag that does not match the bytes."""
    root = tmp_path / "srv"
    srv = start_server(root)
    bodies = {n: payload(3 * MiB, seed=500 + n) for n in range(4)}
    acked = {}
    s3 = srv.client()
    s3.create_bucket(Bucket="crash")
    s3.put_object(Bucket="crash", Key="k0", Body=b"before the crash")
    stop = threading.Event()

    def writer(n):
        c = srv.client()
        i = 0
        while not stop.is_set():
            try:
                c.put_object(Bucket="crash", Key=f"k{n % 2}", Body=bodies[n])
                acked[(n, i)] = True
            except Exception:
                return
            i += 1

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    stop_server(srv, kill=True)
    stop.set()
    for t in threads:
        t.join(30)

    again = start_server(root, data_dir=srv.data_dir)
    try:
        s3 = again.client()
        valid = {hashlib.md5(b).hexdigest(): b for b in bodies.values()}
        valid[hashlib.md5(b"before the crash").hexdigest()] = b"before the crash"
        for key in ("k0", "k1"):
            try:
                got = s3.get_object(Bucket="crash", Key=key)
            except ClientError as e:
                assert key == "k1", e
                assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 404
                continue
            data = got["Body"].read()
            digest = hashlib.md5(data).hexdigest()
            assert digest in valid, f"{key}: {len(data)} bytes that no client sent"
            assert got["ETag"] == f'"{digest}"'
        if any(n % 2 == 1 for n, _ in acked):
            s3.head_object(Bucket="crash", Key="k1")  # an acknowledged write survived
    finally:
        stop_server(again)
