"""boto3: single objects — PutObject (Content-MD5, flexible checksums in
headers and in aws-chunked trailers, user metadata, standard headers),
GetObject / HeadObject (ranges, conditional requests, response overrides),
conditional writes, CopyObject, DeleteObject, DeleteObjects and tagging.

Every request that must fail is followed by a check that the target object is
byte-for-byte what it was before."""

import base64
import datetime as dt
import hashlib
import zlib

import pytest
from awscrt import checksums as crt
from botocore.exceptions import ClientError

import upstream
from conftest import (capture_requests, client_error, empty_and_delete_bucket,
                      force_trailer_checksums, payload, raw_request)


def md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def etag_of(data: bytes) -> str:
    return '"%s"' % hashlib.md5(data).hexdigest()


def checksum_b64(algorithm: str, data: bytes) -> str:
    raw = {
        "CRC32": lambda: zlib.crc32(data).to_bytes(4, "big"),
        "CRC32C": lambda: crt.crc32c(data).to_bytes(4, "big"),
        "CRC64NVME": lambda: crt.crc64nvme(data).to_bytes(8, "big"),
        "SHA1": lambda: hashlib.sha1(data).digest(),
        "SHA256": lambda: hashlib.sha256(data).digest(),
    }[algorithm]()
    return base64.b64encode(raw).decode()


def get_bytes(s3, bucket, key, **kw) -> bytes:
    return s3.get_object(Bucket=bucket, Key=key, **kw)["Body"].read()


def assert_unchanged(s3, bucket, key, data: bytes):
    resp = s3.get_object(Bucket=bucket, Key=key)
    assert resp["Body"].read() == data
    assert resp["ETag"] == etag_of(data)


def assert_absent(s3, bucket, key):
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key=key)
    assert client_error(e)[1] == 404


# --------------------------------------------------------------------------
# Put / Get / Head basics
# --------------------------------------------------------------------------
@pytest.mark.parametrize("size", [0, 1, 1000, 1024 * 1024 + 7, 10 * 1024 * 1024])
def test_put_get_head_round_trip(s3, bucket, size):
    data = payload(size, seed=size)
    put = s3.put_object(Bucket=bucket, Key="obj", Body=data)
    assert put["ETag"] == etag_of(data)
    head = s3.head_object(Bucket=bucket, Key="obj")
    assert head["ContentLength"] == size
    assert head["ETag"] == etag_of(data)
    assert head["LastModified"] is not None
    assert head["ResponseMetadata"]["HTTPHeaders"].get("accept-ranges") == "bytes"
    got = s3.get_object(Bucket=bucket, Key="obj")
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert got["ContentLength"] == size
    body = got["Body"].read()
    assert len(body) == size
    assert hashlib.sha256(body).hexdigest() == hashlib.sha256(data).hexdigest()


def test_overwrite_replaces_data_and_metadata(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"first version", Metadata={"v": "1"},
                  ContentType="text/plain")
    s3.put_object(Bucket=bucket, Key="k", Body=b"second", Metadata={"w": "2"})
    resp = s3.get_object(Bucket=bucket, Key="k")
    assert resp["Body"].read() == b"second"
    assert resp["Metadata"] == {"w": "2"}
    assert resp["ContentType"] != "text/plain"


def test_concurrent_overwrites_leave_one_whole_body(server, bucket):
    from concurrent.futures import ThreadPoolExecutor
    bodies = [payload(512 * 1024, seed=300 + n) for n in range(8)]

    def put(n):
        c = server.client()
        for _ in range(3):
            c.put_object(Bucket=bucket, Key="contended", Body=bodies[n])
            got = c.get_object(Bucket=bucket, Key="contended")
            data = got["Body"].read()
            assert data in bodies
            assert got["ETag"] == etag_of(data)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, range(8)))
    server_side = server.client().list_objects_v2(Bucket=bucket)["Contents"]
    assert [(o["Key"], o["Size"]) for o in server_side] == [("contended", 512 * 1024)]


def test_missing_key(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="nope")
    assert client_error(e) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="nope")
    assert client_error(e)[1] == 404


def test_metadata_and_standard_headers_round_trip(s3, bucket):
    expires = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    data = b"<html>hello</html>"
    s3.put_object(
        Bucket=bucket, Key="page.html", Body=data,
        Metadata={"color": "blue", "Mixed-Case": "Value With Spaces", "empty-ish": "-"},
        ContentType="text/html; charset=utf-8",
        ContentEncoding="x-keyless",
        ContentDisposition='attachment; filename="page.html"',
        ContentLanguage="en-GB",
        CacheControl="max-age=3600, private",
        Expires=expires,
    )
    for resp in (s3.head_object(Bucket=bucket, Key="page.html"),
                 s3.get_object(Bucket=bucket, Key="page.html")):
        assert resp["Metadata"] == {"color": "blue", "mixed-case": "Value With Spaces",
                                    "empty-ish": "-"}
        assert resp["ContentType"] == "text/html; charset=utf-8"
        assert resp["ContentEncoding"] == "x-keyless"
        assert resp["ContentDisposition"] == 'attachment; filename="page.html"'
        assert resp["ContentLanguage"] == "en-GB"
        assert resp["CacheControl"] == "max-age=3600, private"
        hdrs = resp["ResponseMetadata"]["HTTPHeaders"]
        assert hdrs["expires"] == "Wed, 02 Jan 2030 03:04:05 GMT"
        assert hdrs["x-amz-meta-color"] == "blue"
    assert get_bytes(s3, bucket, "page.html") == data


# --------------------------------------------------------------------------
# Content-MD5 and flexible checksums
# --------------------------------------------------------------------------
def test_content_md5(s3, bucket):
    good = b"content with a correct md5"
    s3.put_object(Bucket=bucket, Key="k", Body=good, ContentMD5=md5_b64(good))
    assert_unchanged(s3, bucket, "k", good)

    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"tampered body", ContentMD5=md5_b64(b"other"))
    assert client_error(e) == ("BadDigest", 400)
    assert_unchanged(s3, bucket, "k", good)

    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="new", Body=b"x", ContentMD5=md5_b64(b"y"))
    assert client_error(e) == ("BadDigest", 400)
    assert_absent(s3, bucket, "new")

    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"junk", ContentMD5="not-base64-md5!")
    assert client_error(e) == ("InvalidDigest", 400)
    assert_unchanged(s3, bucket, "k", good)


ALGORITHMS = ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("location", ["header", "trailer"])
def test_put_with_checksum_algorithm(server, bucket, algorithm, location):
    client = server.client()
    if location == "trailer":
        force_trailer_checksums(client)
    sent = capture_requests(client)
    data = payload(2 * 1024 * 1024 + 12345, seed=7)  # several aws-chunked chunks
    resp = client.put_object(Bucket=bucket, Key="k", Body=data, ChecksumAlgorithm=algorithm)
    assert resp["ETag"] == etag_of(data)

    hdrs = {k.lower(): v for k, v in sent[-1].items()}
    if location == "trailer":
        assert hdrs["x-amz-content-sha256"] == b"STREAMING-UNSIGNED-PAYLOAD-TRAILER" or \
            hdrs["x-amz-content-sha256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
        assert "aws-chunked" in str(hdrs["content-encoding"])
    else:
        assert f"x-amz-checksum-{algorithm.lower()}" in hdrs

    got = client.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == data
    assert got.get("ContentEncoding") in (None, ""), "aws-chunked must not be stored"


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_checksum_is_stored_and_returned(server, bucket, algorithm):
    upstream.skip_if_differs("flexible-checksums")
    client = server.client()
    force_trailer_checksums(client)
    data = payload(300_000, seed=8)
    resp = client.put_object(Bucket=bucket, Key="k", Body=data, ChecksumAlgorithm=algorithm)
    expected = checksum_b64(algorithm, data)
    assert resp.get(f"Checksum{algorithm}") == expected
    head = client.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert head.get(f"Checksum{algorithm}") == expected
    got = client.get_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert got.get(f"Checksum{algorithm}") == expected
    assert got["Body"].read() == data  # botocore also validates the checksum here


def test_content_encoding_with_aws_chunked(server, bucket):
    client = server.client()
    force_trailer_checksums(client)
    client.put_object(Bucket=bucket, Key="k", Body=b"abc" * 1000, ContentEncoding="x-keyless",
                      ChecksumAlgorithm="CRC32")
    got = client.get_object(Bucket=bucket, Key="k")
    assert got["ContentEncoding"] == "x-keyless"
    assert got["Body"].read() == b"abc" * 1000


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "SHA256"])
def test_wrong_checksum_header_is_rejected(s3, bucket, algorithm):
    original = b"the original content"
    s3.put_object(Bucket=bucket, Key="k", Body=original)
    wrong = checksum_b64(algorithm, b"something else entirely")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"replacement content",
                      **{f"Checksum{algorithm}": wrong})
    assert client_error(e) == ("BadDigest", 400)
    assert_unchanged(s3, bucket, "k", original)

    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="fresh", Body=b"replacement content",
                      **{f"Checksum{algorithm}": wrong})
    assert client_error(e) == ("BadDigest", 400)
    assert_absent(s3, bucket, "fresh")


def aws_chunked(data: bytes, trailer_name: str, trailer_value: str, chunk=64 * 1024) -> bytes:
    out = bytearray()
    for i in range(0, len(data), chunk):
        part = data[i:i + chunk]
        out += f"{len(part):x}\r\n".encode() + part + b"\r\n"
    out += b"0\r\n" + f"{trailer_name}:{trailer_value}\r\n".encode() + b"\r\n"
    return bytes(out)


def put_with_trailer(server, bucket, key, data, value):
    body = aws_chunked(data, "x-amz-checksum-crc32", value)
    return raw_request(
        server, "PUT", f"/{bucket}/{key}", body=body,
        headers={
            "Content-Encoding": "aws-chunked",
            "X-Amz-Decoded-Content-Length": str(len(data)),
            "X-Amz-Trailer": "x-amz-checksum-crc32",
            "Content-Length": str(len(body)),
        },
        payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER",
    )


def test_wrong_checksum_trailer_is_rejected(s3, server, bucket):
    original = payload(100_000, seed=1)
    # a hand-built aws-chunked upload with a correct trailer is accepted ...
    ok = put_with_trailer(server, bucket, "k", original, checksum_b64("CRC32", original))
    assert ok.status == 200, ok.body
    assert_unchanged(s3, bucket, "k", original)
    # ... and one whose trailer does not match the body is refused
    replacement = payload(100_000, seed=2)
    bad = put_with_trailer(server, bucket, "k", replacement, checksum_b64("CRC32", original))
    assert (bad.status, bad.error_code()) == (400, "BadDigest"), bad.body
    assert_unchanged(s3, bucket, "k", original)
    bad = put_with_trailer(server, bucket, "fresh", replacement, checksum_b64("CRC32", original))
    assert (bad.status, bad.error_code()) == (400, "BadDigest"), bad.body
    assert_absent(s3, bucket, "fresh")


# --------------------------------------------------------------------------
# Ranges
# --------------------------------------------------------------------------
@pytest.mark.parametrize("rng,start,end", [
    ("bytes=0-9", 0, 9),
    ("bytes=10-19", 10, 19),
    ("bytes=-5", 995, 999),
    ("bytes=5-", 5, 999),
    ("bytes=990-5000", 990, 999),
    ("bytes=-5000", 0, 999),
    ("bytes=999-999", 999, 999),
])
def test_get_range(s3, bucket, rng, start, end):
    data = payload(1000, seed=3)
    s3.put_object(Bucket=bucket, Key="k", Body=data)
    resp = s3.get_object(Bucket=bucket, Key="k", Range=rng)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert resp["ContentRange"] == f"bytes {start}-{end}/1000"
    assert resp["ContentLength"] == end - start + 1
    assert resp["Body"].read() == data[start:end + 1]
    assert resp["ETag"] == etag_of(data)
    head = s3.head_object(Bucket=bucket, Key="k", Range=rng)
    assert head["ContentLength"] == end - start + 1


@pytest.mark.parametrize("rng", ["bytes=1000-", "bytes=1500-2000"])
def test_get_unsatisfiable_range(s3, bucket, rng):
    data = payload(1000, seed=3)
    s3.put_object(Bucket=bucket, Key="k", Body=data)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k", Range=rng)
    assert client_error(e) == ("InvalidRange", 416)
    assert_unchanged(s3, bucket, "k", data)


# --------------------------------------------------------------------------
# Conditional reads
# --------------------------------------------------------------------------
@pytest.fixture
def obj(s3, bucket):
    data = payload(4096, seed=4)
    s3.put_object(Bucket=bucket, Key="cond", Body=data)
    head = s3.head_object(Bucket=bucket, Key="cond")
    return bucket, data, head["ETag"], head["LastModified"]


def test_if_match(s3, obj):
    bucket, data, etag, _ = obj
    assert get_bytes(s3, bucket, "cond", IfMatch=etag) == data
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="cond", IfMatch='"0123456789abcdef0123456789abcdef"')
    assert client_error(e) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="cond", IfMatch='"0123456789abcdef0123456789abcdef"')
    assert client_error(e)[1] == 412


def test_if_none_match(s3, obj):
    bucket, data, etag, _ = obj
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="cond", IfNoneMatch=etag)
    assert client_error(e)[1] == 304
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="cond", IfNoneMatch=etag)
    assert client_error(e)[1] == 304
    assert get_bytes(s3, bucket, "cond", IfNoneMatch='"0123456789abcdef0123456789abcdef"') == data


def test_if_modified_since(s3, obj):
    bucket, data, _, last_modified = obj
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="cond", IfModifiedSince=last_modified)
    assert client_error(e)[1] == 304
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="cond", IfModifiedSince=last_modified)
    assert client_error(e)[1] == 304
    earlier = last_modified - dt.timedelta(days=1)
    assert get_bytes(s3, bucket, "cond", IfModifiedSince=earlier) == data


def test_if_unmodified_since(s3, obj):
    bucket, data, _, last_modified = obj
    earlier = last_modified - dt.timedelta(seconds=1)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="cond", IfUnmodifiedSince=earlier)
    assert client_error(e) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="cond", IfUnmodifiedSince=earlier)
    assert client_error(e)[1] == 412
    assert get_bytes(s3, bucket, "cond", IfUnmodifiedSince=last_modified) == data


def test_conditional_precedence(s3, obj):
    bucket, data, etag, last_modified = obj
    earlier = last_modified - dt.timedelta(days=1)
    # If-Match true wins over If-Unmodified-Since false (RFC 7232 / S3 docs)
    assert get_bytes(s3, bucket, "cond", IfMatch=etag, IfUnmodifiedSince=earlier) == data
    # If-None-Match false + If-Modified-Since true -> 304
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="cond", IfNoneMatch=etag, IfModifiedSince=earlier)
    assert client_error(e)[1] == 304


def test_response_header_overrides(s3, obj):
    bucket, data, _, _ = obj
    resp = s3.get_object(
        Bucket=bucket, Key="cond",
        ResponseContentType="application/x-override",
        ResponseContentDisposition='inline; filename="o.bin"',
        ResponseContentLanguage="fr",
        ResponseCacheControl="no-store",
        ResponseContentEncoding="x-identity",
        ResponseExpires=dt.datetime(2031, 5, 6, 7, 8, 9, tzinfo=dt.timezone.utc),
    )
    assert resp["ContentType"] == "application/x-override"
    assert resp["ContentDisposition"] == 'inline; filename="o.bin"'
    assert resp["ContentLanguage"] == "fr"
    assert resp["CacheControl"] == "no-store"
    assert resp["ContentEncoding"] == "x-identity"
    assert resp["ResponseMetadata"]["HTTPHeaders"]["expires"] == "Tue, 06 May 2031 07:08:09 GMT"
    assert resp["Body"].read() == data
    # the stored object is not changed by overrides
    assert s3.head_object(Bucket=bucket, Key="cond")["ContentType"] != "application/x-override"


# --------------------------------------------------------------------------
# Conditional writes
# --------------------------------------------------------------------------
def test_put_if_none_match_star(s3, bucket):
    s3.put_object(Bucket=bucket, Key="once", Body=b"first", IfNoneMatch="*")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="once", Body=b"second", IfNoneMatch="*")
    assert client_error(e) == ("PreconditionFailed", 412)
    assert_unchanged(s3, bucket, "once", b"first")


def test_put_if_match(s3, bucket):
    upstream.skip_if_differs("conditional-writes")
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"v1")["ETag"]
    etag2 = s3.put_object(Bucket=bucket, Key="k", Body=b"v2", IfMatch=etag)["ETag"]
    assert_unchanged(s3, bucket, "k", b"v2")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"v3", IfMatch=etag)  # stale
    assert client_error(e) == ("PreconditionFailed", 412)
    assert_unchanged(s3, bucket, "k", b"v2")
    s3.put_object(Bucket=bucket, Key="k", Body=b"v3", IfMatch=etag2)
    assert_unchanged(s3, bucket, "k", b"v3")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="missing", Body=b"v1", IfMatch=etag)
    want = ("PreconditionFailed", 412) if upstream.differs("put-if-match-missing") else ("NoSuchKey", 404)
    assert client_error(e) == want
    assert_absent(s3, bucket, "missing")


# --------------------------------------------------------------------------
# CopyObject
# --------------------------------------------------------------------------
@pytest.fixture
def src(s3, bucket):
    data = payload(70_000, seed=5)
    s3.put_object(Bucket=bucket, Key="src ünï+%.bin", Body=data, ContentType="image/x-test",
                  Metadata={"origin": "source"}, CacheControl="max-age=1")
    head = s3.head_object(Bucket=bucket, Key="src ünï+%.bin")
    return bucket, "src ünï+%.bin", data, head


def test_copy_metadata_directive_copy(s3, src):
    bucket, key, data, head = src
    resp = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": key},
                          Metadata={"ignored": "yes"})
    assert resp["CopyObjectResult"]["ETag"] == etag_of(data)
    got = s3.get_object(Bucket=bucket, Key="dst")
    assert got["Body"].read() == data
    assert got["Metadata"] == {"origin": "source"}
    assert got["ContentType"] == "image/x-test"
    assert got["CacheControl"] == "max-age=1"
    assert_unchanged(s3, bucket, key, data)


def test_copy_metadata_directive_replace(s3, src):
    bucket, key, data, _ = src
    s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": key},
                   MetadataDirective="REPLACE", Metadata={"fresh": "1"},
                   ContentType="text/x-replaced")
    got = s3.get_object(Bucket=bucket, Key="dst")
    assert got["Body"].read() == data
    assert got["Metadata"] == {"fresh": "1"}
    assert got["ContentType"] == "text/x-replaced"
    assert got.get("CacheControl") is None


def test_copy_onto_itself(s3, src):
    bucket, key, data, _ = src
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": key})
    assert client_error(e) == ("InvalidRequest", 400)
    assert_unchanged(s3, bucket, key, data)
    s3.copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": key},
                   MetadataDirective="REPLACE", Metadata={"changed": "yes"})
    got = s3.get_object(Bucket=bucket, Key=key)
    assert got["Metadata"] == {"changed": "yes"}
    assert got["Body"].read() == data


def test_copy_across_buckets(s3, src, request):
    bucket, key, data, _ = src
    other = f"copy-target-{abs(hash(request.node.nodeid)) % 10**10:010d}"
    s3.create_bucket(Bucket=other)
    try:
        s3.copy_object(Bucket=other, Key="nested/copy", CopySource={"Bucket": bucket, "Key": key})
        assert get_bytes(s3, other, "nested/copy") == data
    finally:
        empty_and_delete_bucket(s3, other)


def test_copy_source_conditions(s3, src):
    upstream.skip_if_differs("conditional-writes")
    bucket, key, data, head = src
    etag, lm = head["ETag"], head["LastModified"]
    cs = {"Bucket": bucket, "Key": key}
    s3.copy_object(Bucket=bucket, Key="ok1", CopySource=cs, CopySourceIfMatch=etag)
    s3.copy_object(Bucket=bucket, Key="ok2", CopySource=cs,
                   CopySourceIfNoneMatch='"0123456789abcdef0123456789abcdef"')
    s3.copy_object(Bucket=bucket, Key="ok3", CopySource=cs,
                   CopySourceIfModifiedSince=lm - dt.timedelta(days=1))
    s3.copy_object(Bucket=bucket, Key="ok4", CopySource=cs, CopySourceIfUnmodifiedSince=lm)
    for k in ("ok1", "ok2", "ok3", "ok4"):
        assert get_bytes(s3, bucket, k) == data

    failing = [
        {"CopySourceIfMatch": '"0123456789abcdef0123456789abcdef"'},
        {"CopySourceIfNoneMatch": etag},
        {"CopySourceIfModifiedSince": lm},
        {"CopySourceIfUnmodifiedSince": lm - dt.timedelta(days=1)},
    ]
    for cond in failing:
        with pytest.raises(ClientError) as e:
            s3.copy_object(Bucket=bucket, Key="ok1", CopySource=cs, MetadataDirective="REPLACE",
                           Metadata={"must-not": "apply"}, **cond)
        assert client_error(e) == ("PreconditionFailed", 412), cond
        with pytest.raises(ClientError) as e:
            s3.copy_object(Bucket=bucket, Key="never", CopySource=cs, **cond)
        assert client_error(e) == ("PreconditionFailed", 412), cond
    assert s3.head_object(Bucket=bucket, Key="ok1")["Metadata"] == {"origin": "source"}
    assert_absent(s3, bucket, "never")


def test_copy_missing_source(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "nothing"})
    assert client_error(e) == ("NoSuchKey", 404)
    assert_absent(s3, bucket, "dst")


# --------------------------------------------------------------------------
# Delete
# --------------------------------------------------------------------------
def test_delete_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="d", Body=b"bye")
    resp = s3.delete_object(Bucket=bucket, Key="d")
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert_absent(s3, bucket, "d")
    # deleting a missing key succeeds
    resp = s3.delete_object(Bucket=bucket, Key="d")
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_delete_object_if_match(s3, bucket):
    upstream.skip_if_differs("conditional-writes")
    etag = s3.put_object(Bucket=bucket, Key="d", Body=b"guarded")["ETag"]
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket=bucket, Key="d", IfMatch='"0123456789abcdef0123456789abcdef"')
    assert client_error(e) == ("PreconditionFailed", 412)
    assert_unchanged(s3, bucket, "d", b"guarded")
    s3.delete_object(Bucket=bucket, Key="d", IfMatch=etag)
    assert_absent(s3, bucket, "d")


DELETE_KEYS = ["one", "two/three", "ünï & <xml> \"quotes\"", "sp ace", "last"]


@pytest.mark.parametrize("quiet", [False, True])
def test_delete_objects(s3, bucket, quiet):
    for k in DELETE_KEYS:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    s3.put_object(Bucket=bucket, Key="survivor", Body=b"stays")
    objects = [{"Key": k} for k in DELETE_KEYS + ["never-existed"]]
    resp = s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": quiet})
    assert "Errors" not in resp or resp["Errors"] == []
    if quiet:
        assert resp.get("Deleted", []) == []
    else:
        assert sorted(d["Key"] for d in resp["Deleted"]) == sorted(DELETE_KEYS + ["never-existed"])
    remaining = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert remaining == ["survivor"]
    assert_unchanged(s3, bucket, "survivor", b"stays")


# --------------------------------------------------------------------------
# Tagging
# --------------------------------------------------------------------------
def tagset(resp):
    return {t["Key"]: t["Value"] for t in resp["TagSet"]}


def test_object_tagging(s3, bucket):
    s3.put_object(Bucket=bucket, Key="t", Body=b"tagged", Tagging="project=keyless&env=test%20env")
    assert tagset(s3.get_object_tagging(Bucket=bucket, Key="t")) == {
        "project": "keyless", "env": "test env"}
    assert s3.get_object(Bucket=bucket, Key="t")["TagCount"] == 2

    s3.put_object_tagging(Bucket=bucket, Key="t", Tagging={"TagSet": [
        {"Key": "a", "Value": "1"}, {"Key": "b/c", "Value": "x y+z"}]})
    assert tagset(s3.get_object_tagging(Bucket=bucket, Key="t")) == {"a": "1", "b/c": "x y+z"}

    resp = s3.delete_object_tagging(Bucket=bucket, Key="t")
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == []
    assert_unchanged(s3, bucket, "t", b"tagged")

    with pytest.raises(ClientError) as e:
        s3.get_object_tagging(Bucket=bucket, Key="missing")
    assert client_error(e) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as e:
        s3.put_object_tagging(Bucket=bucket, Key="missing",
                              Tagging={"TagSet": [{"Key": "a", "Value": "1"}]})
    assert client_error(e) == ("NoSuchKey", 404)
    assert_absent(s3, bucket, "missing")


def test_invalid_tagging(s3, bucket):
    s3.put_object(Bucket=bucket, Key="t", Body=b"x", Tagging="keep=me")
    with pytest.raises(ClientError) as e:
        s3.put_object_tagging(Bucket=bucket, Key="t", Tagging={"TagSet": [
            {"Key": "dup", "Value": "1"}, {"Key": "dup", "Value": "2"}]})
    assert client_error(e) == ("InvalidTag", 400)
    assert tagset(s3.get_object_tagging(Bucket=bucket, Key="t")) == {"keep": "me"}


def test_delete_objects_with_etags(s3, bucket):
    """The <ETag> of an <Object> in DeleteObjects is an If-Match for that key."""
    upstream.skip_if_differs("conditional-writes")
    etags = {k: s3.put_object(Bucket=bucket, Key=k, Body=k.encode())["ETag"] for k in ("a", "b", "c")}
    out = s3.delete_objects(Bucket=bucket, Delete={"Objects": [
        {"Key": "a", "ETag": etags["a"]},
        {"Key": "b", "ETag": '"0123456789abcdef0123456789abcdef"'},
        {"Key": "c"},
    ]})
    assert sorted(d["Key"] for d in out["Deleted"]) == ["a", "c"]
    assert [(e["Key"], e["Code"]) for e in out["Errors"]] == [("b", "PreconditionFailed")]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["b"]


def _with_header(client, operation, name, value):
    """Add a header to every `operation` request, before botocore signs it (so it is signed)."""
    def add(request, **kw):
        request.headers[name] = value
    client.meta.events.register(f"before-sign.s3.{operation}", add)


def test_malformed_range_and_dates_are_ignored_like_s3(server, s3, bucket):
    """S3 answers a malformed or multi-range Range with the whole object and ignores an
    If-Modified-Since / If-Unmodified-Since it cannot parse; botocore signs these headers."""
    data = payload(1000, seed=77)
    s3.put_object(Bucket=bucket, Key="k", Body=data)
    for rng in ("bytes=0-1,3-4", "bytes=abc", "bytes=9-2"):
        got = s3.get_object(Bucket=bucket, Key="k", Range=rng)
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 200, rng
        assert got["Body"].read() == data, rng
        assert "ContentRange" not in got
        head = s3.head_object(Bucket=bucket, Key="k", Range=rng)
        assert (head["ResponseMetadata"]["HTTPStatusCode"], head["ContentLength"]) == (200, 1000)
    got = s3.get_object(Bucket=bucket, Key="k", Range="bytes=10-19")
    assert (got["ResponseMetadata"]["HTTPStatusCode"], got["Body"].read()) == (206, data[10:20])
    for name in ("If-Modified-Since", "If-Unmodified-Since"):
        c = server.client()
        _with_header(c, "GetObject", name, "not a date")
        got = c.get_object(Bucket=bucket, Key="k")
        assert got["Body"].read() == data, name


def test_expires_that_is_not_a_date_is_kept_verbatim(server, bucket):
    upstream.skip_if_differs("expires-not-a-date")
    c = server.client()
    _with_header(c, "PutObject", "Expires", "not a date")
    c.put_object(Bucket=bucket, Key="e", Body=b"x")
    head = server.client().head_object(Bucket=bucket, Key="e")
    # botocore hands an Expires it cannot parse back as ExpiresString
    assert head["ExpiresString"] == "not a date"
