"""boto3: multipart uploads — Create, UploadPart, UploadPartCopy, Complete
(and its InvalidPart / InvalidPartOrder / EntityTooSmall errors), Abort,
ListParts, ListMultipartUploads, and GetObject/HeadObject by PartNumber."""

import base64
import hashlib

import pytest
from botocore.exceptions import ClientError

import upstream
from conftest import capture_requests, client_error, force_trailer_checksums, payload

MiB = 1024 * 1024


def multipart_etag(parts):
    digest = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    return f'"{digest}-{len(parts)}"'


def upload(s3, bucket, key, parts, **create_kw):
    up = s3.create_multipart_upload(Bucket=bucket, Key=key, **create_kw)
    uid = up["UploadId"]
    done = []
    for i, data in enumerate(parts, start=1):
        r = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=i, Body=data)
        assert r["ETag"] == '"%s"' % hashlib.md5(data).hexdigest()
        done.append({"PartNumber": i, "ETag": r["ETag"]})
    return uid, done


def test_full_multipart_flow(s3, bucket):
    parts = [payload(5 * MiB, 1), payload(5 * MiB, 2), payload(MiB + 3, 3)]
    key = "big/multi part ünï.bin"
    up = s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType="application/x-mp",
                                    Metadata={"kind": "multipart"})
    assert up["Bucket"] == bucket and up["Key"] == key
    uid = up["UploadId"]

    uploads = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in uploads] == [(key, uid)]

    etags = []
    for i, data in enumerate(parts, start=1):
        etags.append(s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=i,
                                    Body=data)["ETag"])

    listed = s3.list_parts(Bucket=bucket, Key=key, UploadId=uid)
    assert [p["PartNumber"] for p in listed["Parts"]] == [1, 2, 3]
    assert [p["Size"] for p in listed["Parts"]] == [len(p) for p in parts]
    assert [p["ETag"] for p in listed["Parts"]] == etags
    assert listed["IsTruncated"] is False

    # object is invisible until completed
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key=key)
    assert client_error(e)[1] == 404

    done = s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": i + 1, "ETag": t} for i, t in enumerate(etags)]})
    assert done["ETag"] == multipart_etag(parts)
    assert done["ETag"].endswith('-3"')
    assert done["Key"] == key and done["Bucket"] == bucket

    got = s3.get_object(Bucket=bucket, Key=key)
    body = got["Body"].read()
    assert body == b"".join(parts)
    assert got["ETag"] == multipart_etag(parts)
    assert got["ContentType"] == "application/x-mp"
    assert got["Metadata"] == {"kind": "multipart"}
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [(o["Key"], o["Size"], o["ETag"]) for o in listed] == \
        [(key, len(body), multipart_etag(parts))]
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    # the upload id is gone
    with pytest.raises(ClientError) as e:
        s3.list_parts(Bucket=bucket, Key=key, UploadId=uid)
    assert client_error(e) == ("NoSuchKey" if upstream.differs("no-such-upload") else "NoSuchUpload", 404)


def test_get_and_head_by_part_number(s3, bucket):
    upstream.skip_if_differs("part-number-reads")
    parts = [payload(5 * MiB, 11), payload(1024, 12)]
    uid, done = upload(s3, bucket, "mp", parts)
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid,
                                 MultipartUpload={"Parts": done})
    total = sum(map(len, parts))

    first = s3.get_object(Bucket=bucket, Key="mp", PartNumber=1)
    assert first["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert first["PartsCount"] == 2
    assert first["ContentLength"] == 5 * MiB
    assert first["ContentRange"] == f"bytes 0-{5 * MiB - 1}/{total}"
    assert first["Body"].read() == parts[0]

    second = s3.get_object(Bucket=bucket, Key="mp", PartNumber=2)
    assert second["PartsCount"] == 2
    assert second["ContentRange"] == f"bytes {5 * MiB}-{total - 1}/{total}"
    assert second["Body"].read() == parts[1]

    # a range that spans the boundary between the parts
    lo, hi = 5 * MiB - 10, 5 * MiB + 9
    spanning = s3.get_object(Bucket=bucket, Key="mp", Range=f"bytes={lo}-{hi}")
    assert spanning["ContentRange"] == f"bytes {lo}-{hi}/{total}"
    assert spanning["Body"].read() == (parts[0] + parts[1])[lo:hi + 1]

    head = s3.head_object(Bucket=bucket, Key="mp", PartNumber=2)
    assert head["PartsCount"] == 2
    assert head["ContentLength"] == 1024

    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="mp", PartNumber=3)
    assert client_error(e) == ("InvalidPartNumber", 416)


def test_complete_with_wrong_part_etag(s3, bucket):
    parts = [payload(5 * MiB, 21), payload(100, 22)]
    uid, done = upload(s3, bucket, "k", parts)
    bad = [dict(done[0]), {"PartNumber": 2, "ETag": '"0123456789abcdef0123456789abcdef"'}]
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=uid,
                                     MultipartUpload={"Parts": bad})
    assert client_error(e) == ("InvalidPart", 400)
    # a part number that was never uploaded (with the ETag of another part)
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=uid, MultipartUpload={
            "Parts": [done[0], {"PartNumber": 3, "ETag": done[1]["ETag"]}]})
    assert client_error(e) == ("InvalidPart", 400)
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="k")
    assert client_error(e)[1] == 404
    # the upload is still usable
    s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=uid,
                                 MultipartUpload={"Parts": done})
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"".join(parts)


def test_complete_out_of_order(s3, bucket):
    parts = [payload(5 * MiB, 31), payload(5 * MiB, 32), payload(10, 33)]
    uid, done = upload(s3, bucket, "k", parts)
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=uid,
                                     MultipartUpload={"Parts": [done[1], done[0], done[2]]})
    assert client_error(e) == ("InvalidPartOrder", 400)
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="k")
    assert client_error(e)[1] == 404


def test_complete_with_small_non_last_part(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"previous")
    parts = [payload(1024, 41), payload(1024, 42)]
    uid, done = upload(s3, bucket, "k", parts)
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=uid,
                                     MultipartUpload={"Parts": done})
    assert client_error(e) == ("EntityTooSmall", 400)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"previous"


def test_subset_of_parts_and_replaced_part(s3, bucket):
    upstream.skip_if_differs("parts-subset")
    parts = [payload(5 * MiB, 51), payload(5 * MiB, 52), payload(7, 53)]
    uid, done = upload(s3, bucket, "k", parts)
    # re-upload part 2 with other data: the last upload of a part number wins
    new2 = payload(5 * MiB, 54)
    etag2 = s3.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=2, Body=new2)["ETag"]
    listed = s3.list_parts(Bucket=bucket, Key="k", UploadId=uid)["Parts"]
    if not upstream.differs("replaced-part"):
        assert [p["ETag"] for p in listed] == [done[0]["ETag"], etag2, done[2]["ETag"]]
    # complete with parts 1 and 3 only (numbers need not be contiguous)
    resp = s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=uid, MultipartUpload={
        "Parts": [done[0], done[2]]})
    assert resp["ETag"] == multipart_etag([parts[0], parts[2]])
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == parts[0] + parts[2]


def test_upload_part_with_bad_content_md5(s3, bucket):
    import base64
    uid = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    good = s3.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=1, Body=b"part one")
    wrong = base64.b64encode(hashlib.md5(b"something else").digest()).decode()
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=1, Body=b"tampered",
                       ContentMD5=wrong)
    assert client_error(e) == ("BadDigest", 400)
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=2, Body=b"tampered",
                       ContentMD5=wrong)
    assert client_error(e) == ("BadDigest", 400)
    parts = s3.list_parts(Bucket=bucket, Key="k", UploadId=uid)["Parts"]
    assert [(p["PartNumber"], p["ETag"]) for p in parts] == [(1, good["ETag"])]
    s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": good["ETag"]}]})
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"part one"


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "SHA256"])
def test_multipart_with_trailer_checksums(server, bucket, algorithm):
    client = server.client()
    force_trailer_checksums(client)
    sent = capture_requests(client, "UploadPart")
    parts = [payload(5 * MiB, 90), payload(123_456, 91)]
    uid = client.create_multipart_upload(Bucket=bucket, Key="k",
                                         ChecksumAlgorithm=algorithm)["UploadId"]
    done = []
    for n, data in enumerate(parts, start=1):
        r = client.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=n, Body=data,
                               ChecksumAlgorithm=algorithm)
        assert r["ETag"] == '"%s"' % hashlib.md5(data).hexdigest()
        entry = {"PartNumber": n, "ETag": r["ETag"]}
        if r.get(f"Checksum{algorithm}"):
            entry[f"Checksum{algorithm}"] = r[f"Checksum{algorithm}"]
        done.append(entry)
    for headers in sent:
        sha = {k.lower(): v for k, v in headers.items()}["x-amz-content-sha256"]
        assert sha in (b"STREAMING-UNSIGNED-PAYLOAD-TRAILER", "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    resp = client.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=uid,
                                            MultipartUpload={"Parts": done})
    assert resp["ETag"] == multipart_etag(parts)
    assert client.get_object(Bucket=bucket, Key="k")["Body"].read() == b"".join(parts)


def test_abort(s3, bucket):
    uid, _ = upload(s3, bucket, "k", [payload(1000, 61)])
    resp = s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=uid)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    with pytest.raises(ClientError) as e:
        s3.list_parts(Bucket=bucket, Key="k", UploadId=uid)
    assert client_error(e) == ("NoSuchKey" if upstream.differs("no-such-upload") else "NoSuchUpload", 404)
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=2, Body=b"late")
    assert client_error(e) == ("NoSuchUpload", 404)
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="k")
    assert client_error(e)[1] == 404
    # the bucket can now be deleted: aborted parts do not linger
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_unknown_upload_id(s3, bucket):
    bogus = "this-upload-id-does-not-exist"
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="k", UploadId=bogus, PartNumber=1, Body=b"x")
    assert client_error(e) == ("NoSuchUpload", 404)
    rgw_like = upstream.differs("no-such-upload")
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=bogus, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": '"0123456789abcdef0123456789abcdef"'}]})
    assert client_error(e) == (("InternalError", 500) if rgw_like else ("NoSuchUpload", 404))
    with pytest.raises(ClientError) as e:
        s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=bogus)
    assert client_error(e) == ("NoSuchUpload", 404)
    with pytest.raises(ClientError) as e:
        s3.list_parts(Bucket=bucket, Key="k", UploadId=bogus)
    assert client_error(e) == ("NoSuchKey" if rgw_like else "NoSuchUpload", 404)


def test_invalid_part_numbers(s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    for n in (0, 10001):
        with pytest.raises(ClientError) as e:
            s3.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=n, Body=b"x")
        assert client_error(e)[1] == 400
        assert client_error(e)[0] in ("InvalidArgument", "InvalidPartNumber")
    s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=uid)


def test_upload_part_copy(s3, bucket):
    source = payload(7 * MiB, 71)
    s3.put_object(Bucket=bucket, Key="source obj+ü", Body=source)
    tail = payload(12345, 72)
    uid = s3.create_multipart_upload(Bucket=bucket, Key="assembled")["UploadId"]
    c1 = s3.upload_part_copy(Bucket=bucket, Key="assembled", UploadId=uid, PartNumber=1,
                             CopySource={"Bucket": bucket, "Key": "source obj+ü"},
                             CopySourceRange=f"bytes=0-{5 * MiB - 1}")
    exact_etags = not upstream.differs("part-copy-etag")
    assert c1["CopyPartResult"]["ETag"] == '"%s"' % hashlib.md5(source[:5 * MiB]).hexdigest() or not exact_etags
    c2 = s3.upload_part_copy(Bucket=bucket, Key="assembled", UploadId=uid, PartNumber=2,
                             CopySource={"Bucket": bucket, "Key": "source obj+ü"})
    assert c2["CopyPartResult"]["ETag"] == '"%s"' % hashlib.md5(source).hexdigest() or not exact_etags
    p3 = s3.upload_part(Bucket=bucket, Key="assembled", UploadId=uid, PartNumber=3, Body=tail)
    listed = s3.list_parts(Bucket=bucket, Key="assembled", UploadId=uid)["Parts"]
    assert [p["Size"] for p in listed] == [5 * MiB, 7 * MiB, len(tail)]

    # a range past the end of the source is refused
    with pytest.raises(ClientError) as e:
        s3.upload_part_copy(Bucket=bucket, Key="assembled", UploadId=uid, PartNumber=4,
                            CopySource={"Bucket": bucket, "Key": "source obj+ü"},
                            CopySourceRange=f"bytes={7 * MiB}-{8 * MiB}")
    assert client_error(e)[1] in (400, 416)
    assert client_error(e)[0] in ("InvalidRange", "InvalidArgument")
    assert len(s3.list_parts(Bucket=bucket, Key="assembled", UploadId=uid)["Parts"]) == 3
    # a copy whose source condition fails does not add a part
    if not upstream.differs("conditional-writes"):
        with pytest.raises(ClientError) as e:
            s3.upload_part_copy(Bucket=bucket, Key="assembled", UploadId=uid, PartNumber=4,
                                CopySource={"Bucket": bucket, "Key": "source obj+ü"},
                                CopySourceIfMatch='"0123456789abcdef0123456789abcdef"')
        assert client_error(e) == ("PreconditionFailed", 412)
        assert len(s3.list_parts(Bucket=bucket, Key="assembled", UploadId=uid)["Parts"]) == 3

    s3.complete_multipart_upload(Bucket=bucket, Key="assembled", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": c1["CopyPartResult"]["ETag"]},
                  {"PartNumber": 2, "ETag": c2["CopyPartResult"]["ETag"]},
                  {"PartNumber": 3, "ETag": p3["ETag"]}]})
    got = s3.get_object(Bucket=bucket, Key="assembled")["Body"].read()
    assert got == source[:5 * MiB] + source + tail


def test_list_parts_paging(s3, bucket):
    uid, done = upload(s3, bucket, "k", [payload(10, 80 + i) for i in range(5)])
    seen, marker = [], 0
    for _ in range(10):
        resp = s3.list_parts(Bucket=bucket, Key="k", UploadId=uid, MaxParts=2,
                             PartNumberMarker=marker)
        seen += [p["PartNumber"] for p in resp["Parts"]]
        if not resp["IsTruncated"]:
            break
        marker = resp["NextPartNumberMarker"]
        assert marker == seen[-1]
    assert seen == [1, 2, 3, 4, 5]
    s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=uid)


def test_list_multipart_uploads(s3, bucket):
    ids = {}
    for key in ("x/1", "x/2", "y/1", "z"):
        ids[key] = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    second = s3.create_multipart_upload(Bucket=bucket, Key="z")["UploadId"]

    resp = s3.list_multipart_uploads(Bucket=bucket)
    got = [(u["Key"], u["UploadId"]) for u in resp["Uploads"]]
    assert sorted(k for k, _ in got) == ["x/1", "x/2", "y/1", "z", "z"]
    assert {u for k, u in got if k == "z"} == {ids["z"], second}
    if not upstream.differs("list-uploads-order"):
        assert [k for k, _ in got] == sorted(k for k, _ in got)
    for u in resp["Uploads"]:
        assert u["Initiated"] is not None

    ordered = not upstream.differs("list-uploads-order")
    resp = s3.list_multipart_uploads(Bucket=bucket, Prefix="x/")
    keys = [u["Key"] for u in resp["Uploads"]]
    assert (keys if ordered else sorted(keys)) == ["x/1", "x/2"]

    resp = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/")
    if not upstream.differs("list-uploads-delimiter"):
        assert [p["Prefix"] for p in resp["CommonPrefixes"]] == ["x/", "y/"]
        assert [u["Key"] for u in resp["Uploads"]] == ["z", "z"]

    resp = s3.list_multipart_uploads(Bucket=bucket, MaxUploads=2)
    assert resp["IsTruncated"] is True
    if ordered:  # key-marker paging presumes the key order
        assert [u["Key"] for u in resp["Uploads"]] == ["x/1", "x/2"]
        rest = s3.list_multipart_uploads(Bucket=bucket, KeyMarker=resp["NextKeyMarker"],
                                         UploadIdMarker=resp.get("NextUploadIdMarker", ""))
        assert [u["Key"] for u in rest["Uploads"]] == ["y/1", "z", "z"]

    for key, uid in list(ids.items()) + [("z", second)]:
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=uid)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def _checksum_b64(algorithm: str, data: bytes) -> str:
    import base64
    import zlib
    from awscrt import checksums as crt
    raw = {
        "CRC32": lambda: zlib.crc32(data).to_bytes(4, "big"),
        "CRC32C": lambda: crt.crc32c(data).to_bytes(4, "big"),
        "CRC64NVME": lambda: crt.crc64nvme(data).to_bytes(8, "big"),
    }[algorithm]()
    return base64.b64encode(raw).decode()


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME"])
def test_full_object_checksum_is_stored_and_returned(s3, bucket, algorithm):
    """A FULL_OBJECT upload: the whole object's CRC, combined from the parts', is kept and
    returned by HeadObject/GetObject with ChecksumMode=ENABLED (botocore validates the body)."""
    upstream.skip_if_differs("flexible-checksums")
    parts = [payload(5 * MiB, 71), payload(5 * MiB + 1, 72), payload(4321, 73)]
    whole = b"".join(parts)
    up = s3.create_multipart_upload(Bucket=bucket, Key="full", ChecksumAlgorithm=algorithm,
                                    ChecksumType="FULL_OBJECT")
    assert (up["ChecksumAlgorithm"], up["ChecksumType"]) == (algorithm, "FULL_OBJECT")
    uid = up["UploadId"]
    done = []
    for n, data in enumerate(parts, start=1):
        r = s3.upload_part(Bucket=bucket, Key="full", UploadId=uid, PartNumber=n, Body=data,
                           ChecksumAlgorithm=algorithm)
        assert r[f"Checksum{algorithm}"] == _checksum_b64(algorithm, data)
        done.append({"PartNumber": n, "ETag": r["ETag"],
                     f"Checksum{algorithm}": r[f"Checksum{algorithm}"]})
    listed = s3.list_parts(Bucket=bucket, Key="full", UploadId=uid)
    if not upstream.differs("multipart-listing-checksums"):
        assert (listed["ChecksumAlgorithm"], listed["ChecksumType"]) == (algorithm, "FULL_OBJECT")
    u = s3.list_multipart_uploads(Bucket=bucket)["Uploads"][0]
    if not upstream.differs("multipart-listing-checksums"):
        assert (u["ChecksumAlgorithm"], u["ChecksumType"]) == (algorithm, "FULL_OBJECT")

    want = _checksum_b64(algorithm, whole)
    out = s3.complete_multipart_upload(Bucket=bucket, Key="full", UploadId=uid,
                                       MultipartUpload={"Parts": done}, ChecksumType="FULL_OBJECT",
                                       **{f"Checksum{algorithm}": want})
    assert (out[f"Checksum{algorithm}"], out["ChecksumType"]) == (want, "FULL_OBJECT")
    head = s3.head_object(Bucket=bucket, Key="full", ChecksumMode="ENABLED")
    assert (head[f"Checksum{algorithm}"], head["ChecksumType"]) == (want, "FULL_OBJECT")
    got = s3.get_object(Bucket=bucket, Key="full", ChecksumMode="ENABLED")
    assert (got[f"Checksum{algorithm}"], got["ChecksumType"]) == (want, "FULL_OBJECT")
    assert got["Body"].read() == whole


def test_composite_checksum_type_is_reported(s3, bucket):
    upstream.skip_if_differs("flexible-checksums")
    parts = [payload(5 * MiB, 74), payload(10, 75)]
    uid = s3.create_multipart_upload(Bucket=bucket, Key="comp", ChecksumAlgorithm="SHA256")["UploadId"]
    done = []
    for n, data in enumerate(parts, start=1):
        r = s3.upload_part(Bucket=bucket, Key="comp", UploadId=uid, PartNumber=n, Body=data,
                           ChecksumAlgorithm="SHA256")
        done.append({"PartNumber": n, "ETag": r["ETag"], "ChecksumSHA256": r["ChecksumSHA256"]})
    listed = s3.list_parts(Bucket=bucket, Key="comp", UploadId=uid)
    if not upstream.differs("multipart-listing-checksums"):
        assert (listed["ChecksumAlgorithm"], listed["ChecksumType"]) == ("SHA256", "COMPOSITE")
    out = s3.complete_multipart_upload(Bucket=bucket, Key="comp", UploadId=uid,
                                       MultipartUpload={"Parts": done})
    assert out["ChecksumSHA256"].endswith("-2") and out["ChecksumType"] == "COMPOSITE"
    head = s3.head_object(Bucket=bucket, Key="comp", ChecksumMode="ENABLED")
    assert (head["ChecksumSHA256"], head["ChecksumType"]) == (out["ChecksumSHA256"], "COMPOSITE")
    # a partNumber read returns that part's checksum, and only with ChecksumMode=ENABLED
    for n, data in enumerate(parts, start=1):
        if upstream.differs("part-read-checksums"):
            break
        want = base64.b64encode(hashlib.sha256(data).digest()).decode()
        head = s3.head_object(Bucket=bucket, Key="comp", PartNumber=n, ChecksumMode="ENABLED")
        assert head["ChecksumSHA256"] == want, n
        got = s3.get_object(Bucket=bucket, Key="comp", PartNumber=n, ChecksumMode="ENABLED")
        assert got["ChecksumSHA256"] == want, n
        assert got["Body"].read() == data
        assert "ChecksumSHA256" not in s3.head_object(Bucket=bucket, Key="comp", PartNumber=n)


def test_list_multipart_uploads_pages_with_a_delimiter(s3, bucket):
    """Pages of one entry each (an upload or a common prefix), walked with the markers
    ListMultipartUploads returns; one key's uploads come in initiation order."""
    upstream.skip_if_differs("list-uploads-delimiter")
    made = []
    for key in ("a/1", "a/2", "b", "b", "b", "c/x/y", "d"):
        made.append((key, s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]))
    seen = []
    kw = {}
    for _ in range(20):
        resp = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/", MaxUploads=1, **kw)
        seen += [f"[{p['Prefix']}]" for p in resp.get("CommonPrefixes", [])]
        seen += [f"{u['Key']}:{u['UploadId']}" for u in resp.get("Uploads", [])]
        if not resp["IsTruncated"]:
            break
        kw = {"KeyMarker": resp["NextKeyMarker"]}
        if resp.get("NextUploadIdMarker"):
            kw["UploadIdMarker"] = resp["NextUploadIdMarker"]
    bs = [f"b:{u}" for k, u in made if k == "b"]
    assert seen == ["[a/]", *bs, "[c/]", f"d:{made[-1][1]}"]
    # the three uploads of "b", in the order they were created
    resp = s3.list_multipart_uploads(Bucket=bucket, Prefix="b")
    assert [u["UploadId"] for u in resp["Uploads"]] == [u for k, u in made if k == "b"]
    times = [u["Initiated"] for u in resp["Uploads"]]
    assert times == sorted(times)
    for key, uid in made:
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=uid)

