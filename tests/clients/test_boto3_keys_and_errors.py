"""boto3 and raw signed requests: odd object keys (and that none of them
turns into a file name on disk), authentication failures, malformed XML
bodies — and that after every refused request the target object is
unchanged."""

import base64
import datetime as dt
import hashlib
import os
import time

import pytest
from botocore.exceptions import ClientError

import upstream
from conftest import client_error, payload, raw_request

KEY_1024 = "é" * 512  # 1024 bytes of UTF-8
assert len(KEY_1024.encode()) == 1024

ODD_KEYS = [
    "a",
    "a/b",
    "a/",
    "../x-kl-probe",
    "../../escape-kl-probe",
    "%2e%2e",
    "%2e%2e/pct-kl-probe",
    "/leading-kl-probe",
    "a//b",
    "./dot-kl-probe",
    "dir/./mid/../kl-probe",
    "back\\slash-kl-probe",
    "ünïcødé/日本語キー",
    "emoji 😀 kl-probe",
    "sp ace/+plus/&amp;/=eq/?q/#h",
    KEY_1024,
]
# file or directory names that must never appear in the data dir
PROBE_NAMES = {"x-kl-probe", "escape-kl-probe", "%2e%2e", "pct-kl-probe", "leading-kl-probe",
               "dot-kl-probe", "kl-probe", "back\\slash-kl-probe", "日本語キー",
               "emoji 😀 kl-probe", "ünïcødé", KEY_1024}


def test_odd_keys_round_trip(s3, server, bucket):
    upstream.skip_if_differs("dot-segments")
    bodies = {k: payload(100 + i, seed=i) for i, k in enumerate(ODD_KEYS)}
    for k, body in bodies.items():
        s3.put_object(Bucket=bucket, Key=k, Body=body)
    for k, body in bodies.items():
        got = s3.get_object(Bucket=bucket, Key=k)
        assert got["Body"].read() == body, k
        assert s3.head_object(Bucket=bucket, Key=k)["ContentLength"] == len(body)
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert listed == sorted(ODD_KEYS, key=lambda k: k.encode())

    # "a", "a/" and "a/b" are three independent objects
    s3.delete_object(Bucket=bucket, Key="a")
    assert s3.get_object(Bucket=bucket, Key="a/b")["Body"].read() == bodies["a/b"]
    assert s3.get_object(Bucket=bucket, Key="a/")["Body"].read() == bodies["a/"]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="a")
    assert client_error(e) == ("NoSuchKey", 404)

    # nothing was stored under a name derived from a key, inside or beside the data dir
    root = server.data_dir.parent
    found = []
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            if name in PROBE_NAMES or "kl-probe" in name:
                found.append(os.path.join(dirpath, name))
    for name in os.listdir(root.parent):
        if "kl-probe" in name:
            found.append(str(root.parent / name))
    assert found == []

    # and all of them can be deleted again
    resp = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in ODD_KEYS]})
    assert "Errors" not in resp or resp["Errors"] == []
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_key_too_long(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key=KEY_1024 + "x", Body=b"too long")
    assert client_error(e) == ("KeyTooLongError", 400)
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_dot_segments_are_not_normalised(s3, server, bucket):
    """`/bucket/a/../b` on the wire is the key `a/../b`, never `b`."""
    upstream.skip_if_differs("dot-segments")
    s3.put_object(Bucket=bucket, Key="b", Body=b"the real b")
    resp = raw_request(server, "PUT", f"/{bucket}/a/../b", body=b"dotdot")
    assert resp.status == 200, resp.body
    assert s3.get_object(Bucket=bucket, Key="b")["Body"].read() == b"the real b"
    assert s3.get_object(Bucket=bucket, Key="a/../b")["Body"].read() == b"dotdot"
    # the same through boto3, and listing shows both keys
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]) == ["a/../b", "b"]
    s3.delete_object(Bucket=bucket, Key="a/../b")
    assert s3.get_object(Bucket=bucket, Key="b")["Body"].read() == b"the real b"


# --------------------------------------------------------------------------
# Authentication
# --------------------------------------------------------------------------
@pytest.fixture
def victim(s3, bucket):
    data = payload(5000, seed=99)
    s3.put_object(Bucket=bucket, Key="victim", Body=data, Metadata={"state": "original"})
    return bucket, data


def assert_victim_unchanged(s3, victim):
    bucket, data = victim
    got = s3.get_object(Bucket=bucket, Key="victim")
    assert got["Body"].read() == data
    assert got["Metadata"] == {"state": "original"}
    assert got["ETag"] == '"%s"' % hashlib.md5(data).hexdigest()


def test_wrong_secret(server, s3, victim):
    bucket, _ = victim
    bad = server.client(secret_key="wrong/secret+key0000000000000000000000000")
    for call in (lambda: bad.list_buckets(),
                 lambda: bad.get_object(Bucket=bucket, Key="victim"),
                 lambda: bad.put_object(Bucket=bucket, Key="victim", Body=b"hijacked"),
                 lambda: bad.delete_object(Bucket=bucket, Key="victim"),
                 lambda: bad.put_object(Bucket=bucket, Key="new-one", Body=b"x")):
        with pytest.raises(ClientError) as e:
            call()
        assert client_error(e) == ("SignatureDoesNotMatch", 403)
    with pytest.raises(ClientError) as e:
        bad.head_object(Bucket=bucket, Key="victim")
    assert client_error(e)[1] == 403
    assert_victim_unchanged(s3, victim)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["victim"]


def test_unknown_access_key(server, s3, victim):
    bucket, _ = victim
    bad = server.client(access_key="AKIANOSUCHKEY0000000")
    for call in (lambda: bad.list_buckets(),
                 lambda: bad.get_object(Bucket=bucket, Key="victim"),
                 lambda: bad.put_object(Bucket=bucket, Key="victim", Body=b"hijacked"),
                 lambda: bad.delete_object(Bucket=bucket, Key="victim")):
        with pytest.raises(ClientError) as e:
            call()
        assert client_error(e) == ("InvalidAccessKeyId", 403)
    assert_victim_unchanged(s3, victim)


def test_unsigned_requests(server, s3, victim):
    bucket, _ = victim
    for method, path, query, body in [
        ("GET", "/", "", b""),
        ("GET", f"/{bucket}", "list-type=2", b""),
        ("GET", f"/{bucket}/victim", "", b""),
        ("HEAD", f"/{bucket}/victim", "", b""),
        ("PUT", f"/{bucket}/victim", "", b"hijacked"),
        ("PUT", f"/{bucket}/new-one", "", b"hijacked"),
        ("DELETE", f"/{bucket}/victim", "", b""),
        ("DELETE", f"/{bucket}", "", b""),
        ("PUT", f"/{bucket}-unsigned-new", "", b""),
    ]:
        resp = raw_request(server, method, path, query=query, body=body, sign=False)
        assert resp.status == 403, (method, path, resp.status, resp.body)
        if method != "HEAD":
            assert resp.error_code() == "AccessDenied", (method, path, resp.body)
    assert_victim_unchanged(s3, victim)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["victim"]
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert bucket in names and f"{bucket}-unsigned-new" not in names


def test_request_time_too_skewed(server, s3, victim):
    bucket, _ = victim
    old = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)).strftime("%Y%m%dT%H%M%SZ")
    resp = raw_request(server, "PUT", f"/{bucket}/victim", body=b"replayed", amz_date=old)
    assert (resp.status, resp.error_code()) == (403, "RequestTimeTooSkewed"), resp.body
    assert_victim_unchanged(s3, victim)


def test_payload_hash_mismatch(server, s3, victim):
    bucket, _ = victim
    signed_for = b"the body that was signed"
    resp = raw_request(server, "PUT", f"/{bucket}/victim", body=b"a different body!!!!!!!!",
                       payload_hash=hashlib.sha256(signed_for).hexdigest())
    assert (resp.status, resp.error_code()) == (400, "XAmzContentSHA256Mismatch"), resp.body
    assert_victim_unchanged(s3, victim)


# --------------------------------------------------------------------------
# Malformed XML
# --------------------------------------------------------------------------
def md5_header(body: bytes) -> dict:
    return {"Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode()}


@pytest.mark.parametrize("body", [
    b"<Delete><Object><Key>victim</Key></Object>",          # truncated
    b"this is not xml at all",
    b"<Delete><Object><Key>victim</Key></Object></Wrong>",  # mismatched tag
    b"<Delete><Object><Key>victim</Key></Object></Delete><trailing/>",
])
def test_delete_objects_malformed_xml(server, s3, victim, body):
    bucket, _ = victim
    resp = raw_request(server, "POST", f"/{bucket}", query="delete", body=body,
                       headers=md5_header(body))
    assert (resp.status, resp.error_code()) == (400, "MalformedXML"), resp.body
    assert_victim_unchanged(s3, victim)


def test_delete_objects_empty_body(server, s3, victim):
    bucket, _ = victim
    resp = raw_request(server, "POST", f"/{bucket}", query="delete", body=b"",
                       headers=md5_header(b""))
    assert resp.status == 400, resp.body
    assert resp.error_code() in ("MalformedXML", "MissingRequestBodyError"), resp.body
    assert_victim_unchanged(s3, victim)


@pytest.mark.parametrize("body", [
    b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>",
    b"garbage",
    b"<CompleteMultipartUpload></CompleteMultipartUpload>",   # no parts
    b"<CompleteMultipartUpload><Part><PartNumber>one</PartNumber>"
    b"<ETag>x</ETag></Part></CompleteMultipartUpload>",
])
def test_complete_multipart_malformed_xml(server, s3, victim, body):
    bucket, data = victim
    uid = s3.create_multipart_upload(Bucket=bucket, Key="victim")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="victim", UploadId=uid, PartNumber=1, Body=b"new")
    resp = raw_request(server, "POST", f"/{bucket}/victim", query=f"uploadId={uid}", body=body)
    assert (resp.status, resp.error_code()) == (400, "MalformedXML"), resp.body
    assert_victim_unchanged(s3, victim)
    # the upload survived the bad request
    parts = s3.list_parts(Bucket=bucket, Key="victim", UploadId=uid)["Parts"]
    assert [p["ETag"] for p in parts] == [part["ETag"]]
    s3.abort_multipart_upload(Bucket=bucket, Key="victim", UploadId=uid)
    assert_victim_unchanged(s3, victim)


def test_put_tagging_malformed_xml(server, s3, victim):
    bucket, _ = victim
    body = b"<Tagging><TagSet><Tag><Key>a</Key>"
    resp = raw_request(server, "PUT", f"/{bucket}/victim", query="tagging", body=body,
                       headers=md5_header(body))
    assert (resp.status, resp.error_code()) == (400, "MalformedXML"), resp.body
    assert s3.get_object_tagging(Bucket=bucket, Key="victim")["TagSet"] == []
    assert_victim_unchanged(s3, victim)


# --------------------------------------------------------------------------
# Error responses: S3-shaped XML with a code and a message that says what to do
# --------------------------------------------------------------------------
def _error_cases(server, bucket):
    bad_md5 = {"Content-MD5": base64.b64encode(hashlib.md5(b"other").digest()).decode()}
    return {
        "NoSuchKey": lambda: raw_request(server, "GET", f"/{bucket}/no-such-key"),
        "NoSuchBucket": lambda: raw_request(server, "GET", f"/{bucket}-missing/key"),
        "InvalidBucketName": lambda: raw_request(server, "PUT", "/Invalid_Bucket_Name"),
        "SignatureDoesNotMatch": lambda: raw_request(
            server, "GET", f"/{bucket}/victim", secret_key="wrong-secret-key-000000000000000000000000"),
        "InvalidAccessKeyId": lambda: raw_request(
            server, "GET", f"/{bucket}/victim", access_key="AKIANOSUCHKEY0000000"),
        "AccessDenied": lambda: raw_request(server, "GET", f"/{bucket}/victim", sign=False),
        "MalformedXML": lambda: raw_request(server, "POST", f"/{bucket}", query="delete",
                                            body=b"<Delete>", headers=md5_header(b"<Delete>")),
        "InvalidRange": lambda: raw_request(server, "GET", f"/{bucket}/victim",
                                            headers={"Range": "bytes=999999-"}),
        "BucketNotEmpty": lambda: raw_request(server, "DELETE", f"/{bucket}"),
        "BucketAlreadyOwnedByYou": lambda: raw_request(server, "PUT", f"/{bucket}"),
        "NoSuchUpload": lambda: raw_request(server, "GET", f"/{bucket}/victim",
                                            query="uploadId=no-such-upload"),
        "PreconditionFailed": lambda: raw_request(
            server, "GET", f"/{bucket}/victim",
            headers={"If-Match": '"0123456789abcdef0123456789abcdef"'}),
        "BadDigest": lambda: raw_request(server, "PUT", f"/{bucket}/victim", body=b"new body",
                                         headers=bad_md5),
    }


EXPECTED_STATUS = {
    "NoSuchKey": 404, "NoSuchBucket": 404, "InvalidBucketName": 400,
    "SignatureDoesNotMatch": 403, "InvalidAccessKeyId": 403, "AccessDenied": 403,
    "MalformedXML": 400, "InvalidRange": 416, "BucketNotEmpty": 409,
    "BucketAlreadyOwnedByYou": 409, "NoSuchUpload": 404, "PreconditionFailed": 412,
    "BadDigest": 400,
}


@pytest.mark.parametrize("code", sorted(EXPECTED_STATUS))
def test_error_response_is_well_formed(server, s3, victim, code):
    import xml.etree.ElementTree as ET
    if code == "BucketAlreadyOwnedByYou":
        upstream.skip_if_differs("create-own-bucket-again")
    bucket, _ = victim
    resp = _error_cases(server, bucket)[code]()
    assert resp.status == EXPECTED_STATUS[code], resp.body
    assert "xml" in resp.headers.get("content-type", ""), resp.headers
    root = ET.fromstring(resp.body)
    assert root.tag == "Error"
    if code == "NoSuchUpload" and upstream.differs("no-such-upload"):
        code = "NoSuchKey"
    assert root.findtext("Code") == code
    message = (root.findtext("Message") or "").strip()
    assert message, f"{code}: the error carries no <Message>: {resp.body!r}"
    assert_victim_unchanged(s3, victim)


# --------------------------------------------------------------------------
# Streaming SigV4 (STREAMING-AWS4-HMAC-SHA256-PAYLOAD, as minio-go/restic and
# the Java SDK send it): every chunk carries a signature chained from the
# request's seed signature; a tampered chunk must be refused.
# --------------------------------------------------------------------------
def _signed_chunked_put(server, path, data: bytes, tamper: bool = False, chunk=64 * 1024):
    import hmac
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    def hm(key, msg):
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    chunks = [data[i:i + chunk] for i in range(0, len(data), chunk)] + [b""]
    # the encoded length is needed before signing: signature lengths are fixed (64 hex)
    encoded_len = sum(len(f"{len(c):x};chunk-signature=".encode()) + 64 + 2 + len(c) + 2
                      for c in chunks)
    headers = {
        "Content-Encoding": "aws-chunked",
        "X-Amz-Decoded-Content-Length": str(len(data)),
        "Content-Length": str(encoded_len),
    }
    url = f"http://{server.host}{path}"
    req = AWSRequest(method="PUT", url=url, headers=headers, data=b"")

    class _Signer(S3SigV4Auth):
        def payload(self, request):
            return "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"

    _Signer(Credentials(server.access_key, server.secret_key), "s3", server.region).add_auth(req)
    amz_date = req.headers["X-Amz-Date"]
    scope = f"{amz_date[:8]}/{server.region}/s3/aws4_request"
    prev = req.headers["Authorization"].split("Signature=")[1].strip()
    key = hm(hm(hm(hm(("AWS4" + server.secret_key).encode(), amz_date[:8]), server.region),
                "s3"), "aws4_request")
    empty = hashlib.sha256(b"").hexdigest()
    body = bytearray()
    for n, c in enumerate(chunks):
        sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, prev, empty,
                         hashlib.sha256(c).hexdigest()])
        sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        prev = sig
        sent = c
        if tamper and n == 1:
            sent = bytes([c[0] ^ 0xFF]) + c[1:]  # flip the first byte of chunk 2
        body += f"{len(c):x};chunk-signature={sig}\r\n".encode() + sent + b"\r\n"
    assert len(body) == encoded_len
    return raw_request(server, "PUT", path, body=bytes(body),
                       headers=dict(req.headers.items()), sign=False)


def test_streaming_signed_upload(server, s3, victim):
    bucket, _ = victim
    data = payload(200_000, seed=77)
    resp = _signed_chunked_put(server, f"/{bucket}/streamed", data)
    assert resp.status == 200, resp.body
    got = s3.get_object(Bucket=bucket, Key="streamed")
    assert got["Body"].read() == data
    assert got.get("ContentEncoding") in (None, "")


def test_streaming_signed_upload_with_tampered_chunk(server, s3, victim):
    bucket, _ = victim
    data = payload(200_000, seed=78)
    resp = _signed_chunked_put(server, f"/{bucket}/victim", data, tamper=True)
    assert (resp.status, resp.error_code()) == (403, "SignatureDoesNotMatch"), resp.body
    assert_victim_unchanged(s3, victim)
    resp = _signed_chunked_put(server, f"/{bucket}/fresh", data, tamper=True)
    assert (resp.status, resp.error_code()) == (403, "SignatureDoesNotMatch"), resp.body
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="fresh")
    assert client_error(e)[1] == 404


@pytest.mark.parametrize("payload_mode", ["signed", "unsigned"])
def test_interrupted_upload_changes_nothing(server, s3, victim, payload_mode):
    """A client that dies half-way through its body leaves no object behind,
    and does not touch the one it was replacing."""
    import socket
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    bucket, _ = victim
    data = payload(1024 * 1024, seed=79)
    for key in ("victim", "half-written"):
        req = AWSRequest(method="PUT", url=f"http://{server.host}/{bucket}/{key}",
                         headers={"Content-Length": str(len(data))}, data=data)

        class _Signer(S3SigV4Auth):
            def payload(self, request):
                if payload_mode == "unsigned":
                    return "UNSIGNED-PAYLOAD"
                return hashlib.sha256(data).hexdigest()

        _Signer(Credentials(server.access_key, server.secret_key), "s3",
                server.region).add_auth(req)
        head = f"PUT /{bucket}/{key} HTTP/1.1\r\nHost: {server.host}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in req.headers.items() if k.lower() != "host")
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(head.encode() + b"\r\n" + data[: len(data) // 2])
        time.sleep(0.3)  # give the server a moment to notice the closed connection
    assert_victim_unchanged(s3, victim)
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="half-written")
    assert client_error(e)[1] == 404
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["victim"]
