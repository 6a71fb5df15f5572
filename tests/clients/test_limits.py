"""Bodies over the configured limits are refused with the right S3 error while they stream in,
and nothing is stored or changed: a server started with `limits.max_object_size` of 1 MiB."""

import os
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from conftest import (client_error, force_trailer_checksums, payload, raw_request, start_server,
                      stop_server)

LIMIT = 1 << 20


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    root = tmp_path_factory.mktemp("limits")
    cfg = root / "keyless.yaml"
    cfg.write_text(f"limits:\n  max_object_size: {LIMIT}\n")
    srv = start_server(root, extra_args=("--config", str(cfg)))
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def s3s(small):
    return small.client()


@pytest.fixture(scope="module")
def victim(s3s):
    s3s.create_bucket(Bucket="limits")
    data = payload(1000, seed=7)
    s3s.put_object(Bucket="limits", Key="victim", Body=data)
    return data


def files_under(d: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(d))


def assert_nothing_stored(small, s3s, victim, blobs_before):
    assert s3s.get_object(Bucket="limits", Key="victim")["Body"].read() == victim
    assert files_under(small.data_dir / "tmp") == 0
    assert files_under(small.data_dir / "blobs") == blobs_before


def test_put_at_the_limit_is_accepted(small, s3s, victim):
    data = payload(LIMIT, seed=1)
    s3s.put_object(Bucket="limits", Key="exact", Body=data)
    assert s3s.get_object(Bucket="limits", Key="exact")["Body"].read() == data
    s3s.delete_object(Bucket="limits", Key="exact")


@pytest.mark.parametrize("trailer", [False, True])
def test_put_over_the_limit_is_entity_too_large(small, s3s, victim, trailer):
    blobs = files_under(small.data_dir / "blobs")
    client = small.client()
    if trailer:
        force_trailer_checksums(client)
    with pytest.raises(ClientError) as e:
        client.put_object(Bucket="limits", Key="victim", Body=payload(LIMIT + 1, seed=2),
                          ChecksumAlgorithm="CRC32")
    assert client_error(e) == ("EntityTooLarge", 400)
    assert_nothing_stored(small, s3s, victim, blobs)


def test_upload_part_over_the_limit_is_entity_too_large(small, s3s, victim):
    blobs = files_under(small.data_dir / "blobs")
    uid = s3s.create_multipart_upload(Bucket="limits", Key="victim")["UploadId"]
    with pytest.raises(ClientError) as e:
        s3s.upload_part(Bucket="limits", Key="victim", UploadId=uid, PartNumber=1,
                        Body=payload(LIMIT + 1, seed=3))
    assert client_error(e) == ("EntityTooLarge", 400)
    assert s3s.list_parts(Bucket="limits", Key="victim", UploadId=uid).get("Parts", []) == []
    s3s.abort_multipart_upload(Bucket="limits", Key="victim", UploadId=uid)
    assert_nothing_stored(small, s3s, victim, blobs)


def test_oversized_xml_body_is_refused(small, s3s, victim):
    """A DeleteObjects body over the 4 MiB XML limit is refused before it is parsed."""
    blobs = files_under(small.data_dir / "blobs")
    key = "k" * 1000
    body = b"<Delete>" + b"".join(
        b"<Object><Key>" + key.encode() + b"</Key></Object>" for _ in range(4500)) + b"</Delete>"
    assert len(body) > 4 << 20
    import base64, hashlib
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    resp = raw_request(small, "POST", "/limits", query="delete", body=body,
                       headers={"Content-MD5": md5})
    assert resp.status == 400, resp.body
    assert resp.error_code() in ("MaxMessageLengthExceeded", "EntityTooLarge"), resp.body
    assert_nothing_stored(small, s3s, victim, blobs)
