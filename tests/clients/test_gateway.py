"""Gateway mode: keyless in front of a real SeaweedFS (the upstream holds the objects; keyless
holds identity and access control). Every test here runs whatever the suite's backend setting:
it starts its own gateway keyless.

- the S3 scenarios clients use go through and keep their semantics (bytes, ETags, metadata,
  ranges, conditionals, listings, multipart, copy, tagging, batch delete);
- access control stays in keyless: a session's policy is enforced (DeleteObjects per key), and
  clients never see the upstream's credentials;
- an upstream that cannot be reached is answered 503 ServiceUnavailable, and STS keeps working;
- two replicas sharing only the config and the session key: credentials from one work on the
  other, and killing one mid-traffic loses no acknowledged write.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import threading
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

import upstream
from conftest import REGION, free_port, start_server, stop_server
from test_web_identity import ACCOUNT, AUDIENCE, ISSUER, Issuer, assume, temp_client


def gateway_server(root, extra_env: dict | None = None, extra_args: tuple = (), port: int | None = None):
    saved = dict(os.environ)
    os.environ.update(upstream.gateway_env())
    os.environ.update(extra_env or {})
    try:
        return start_server(root, extra_args=extra_args, port=port)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def identity_yaml(idp: Issuer, key_file) -> str:
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"],
         "Resource": "arn:aws:s3:::gw-shared/${keyless:namespace}/*"},
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::gw-shared"}]}
    return f"""
identity:
  account_id: "{ACCOUNT}"
  session_key_file: {key_file}
  issuers:
    - issuer: {ISSUER}
      jwks: '{json.dumps(idp.jwks())}'
      audiences: [{AUDIENCE}]
  roles:
    - name: tenants
      trust: {{issuer: {ISSUER}, audience: {AUDIENCE}, service_accounts: ["a/*", "b/*"]}}
      policies: ['{json.dumps(policy)}']
"""


@pytest.fixture(scope="module")
def idp():
    return Issuer()


@pytest.fixture(scope="module")
def gw(tmp_path_factory, idp):
    root = tmp_path_factory.mktemp("gateway")
    cfg = root / "keyless.yaml"
    cfg.write_text(identity_yaml(idp, root / "session-keys"))
    srv = gateway_server(root, extra_args=("--config", str(cfg)))
    srv.cfg = cfg
    yield srv
    stop_server(srv)


def md5(b: bytes) -> str:
    return hashlib.md5(b).hexdigest()


def test_objects_keep_their_semantics_through_the_gateway(gw):
    c = gw.client()
    c.create_bucket(Bucket="gw-objects")
    data = os.urandom(1_500_000)
    put = c.put_object(Bucket="gw-objects", Key="dir/a b+c.bin", Body=data, ContentType="application/x-test",
                       Metadata={"owner": "ops"}, Tagging="team=storage")
    assert put["ETag"] == f'"{md5(data)}"'
    got = c.get_object(Bucket="gw-objects", Key="dir/a b+c.bin")
    assert got["Body"].read() == data and got["ContentType"] == "application/x-test"
    assert got["Metadata"] == {"owner": "ops"} and got["ETag"] == put["ETag"]
    part = c.get_object(Bucket="gw-objects", Key="dir/a b+c.bin", Range="bytes=100-199")
    assert part["ResponseMetadata"]["HTTPStatusCode"] == 206 and part["Body"].read() == data[100:200]
    head = c.head_object(Bucket="gw-objects", Key="dir/a b+c.bin", Range="bytes=-10")
    assert head["ContentLength"] == 10
    # Conditionals.
    with pytest.raises(ClientError) as e:
        c.get_object(Bucket="gw-objects", Key="dir/a b+c.bin", IfNoneMatch=put["ETag"])
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    with pytest.raises(ClientError) as e:
        c.get_object(Bucket="gw-objects", Key="dir/a b+c.bin", IfMatch='"0000"')
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    # Copy, tagging, listing with a delimiter, batch delete.
    c.copy_object(Bucket="gw-objects", Key="copy.bin", CopySource={"Bucket": "gw-objects", "Key": "dir/a b+c.bin"})
    assert md5(c.get_object(Bucket="gw-objects", Key="copy.bin")["Body"].read()) == md5(data)
    tags = c.get_object_tagging(Bucket="gw-objects", Key="dir/a b+c.bin")["TagSet"]
    assert tags == [{"Key": "team", "Value": "storage"}]
    listing = c.list_objects_v2(Bucket="gw-objects", Delimiter="/")
    assert [p["Prefix"] for p in listing["CommonPrefixes"]] == ["dir/"]
    assert [o["Key"] for o in listing["Contents"]] == ["copy.bin"]
    out = c.delete_objects(Bucket="gw-objects", Delete={"Objects": [{"Key": "copy.bin"}, {"Key": "dir/a b+c.bin"}]})
    assert sorted(d["Key"] for d in out["Deleted"]) == ["copy.bin", "dir/a b+c.bin"]
    assert c.list_objects_v2(Bucket="gw-objects")["KeyCount"] == 0
    with pytest.raises(ClientError) as e:
        c.get_object(Bucket="gw-objects", Key="copy.bin")
    assert e.value.response["Error"]["Code"] == "NoSuchKey"
    # GetBucketLocation names keyless's region, the one clients sign for.
    assert c.get_bucket_location(Bucket="gw-objects")["LocationConstraint"] in (None, REGION)


def test_multipart_uploads_go_through(gw):
    c = gw.client()
    c.create_bucket(Bucket="gw-multipart")
    parts = [os.urandom(5 * 1024 * 1024), os.urandom(1234)]
    up = c.create_multipart_upload(Bucket="gw-multipart", Key="big")
    etags = [c.upload_part(Bucket="gw-multipart", Key="big", UploadId=up["UploadId"], PartNumber=i + 1,
                           Body=p)["ETag"] for i, p in enumerate(parts)]
    listed = c.list_parts(Bucket="gw-multipart", Key="big", UploadId=up["UploadId"])["Parts"]
    assert [p["ETag"] for p in listed] == etags
    c.complete_multipart_upload(Bucket="gw-multipart", Key="big", UploadId=up["UploadId"], MultipartUpload={
        "Parts": [{"PartNumber": i + 1, "ETag": e} for i, e in enumerate(etags)]})
    assert c.get_object(Bucket="gw-multipart", Key="big")["Body"].read() == b"".join(parts)
    aborted = c.create_multipart_upload(Bucket="gw-multipart", Key="gone")
    c.abort_multipart_upload(Bucket="gw-multipart", Key="gone", UploadId=aborted["UploadId"])
    with pytest.raises(ClientError):
        c.list_parts(Bucket="gw-multipart", Key="gone", UploadId=aborted["UploadId"])


def test_access_control_stays_in_keyless(gw, idp):
    root = gw.client()
    root.create_bucket(Bucket="gw-shared")
    root.put_object(Bucket="gw-shared", Key="b/theirs.txt", Body=b"b's")
    s3 = temp_client(gw, assume(gw, idp.token("a"), f"arn:aws:iam::{ACCOUNT}:role/tenants"))
    s3.put_object(Bucket="gw-shared", Key="a/mine.txt", Body=b"a's")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="gw-shared", Key="b/intrude.txt", Body=b"x")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="gw-shared", Key="b/theirs.txt")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    out = s3.delete_objects(Bucket="gw-shared", Delete={"Objects": [{"Key": "a/mine.txt"}, {"Key": "b/theirs.txt"}]})
    assert [d["Key"] for d in out["Deleted"]] == ["a/mine.txt"]
    assert [(x["Key"], x["Code"]) for x in out["Errors"]] == [("b/theirs.txt", "AccessDenied")]
    assert root.get_object(Bucket="gw-shared", Key="b/theirs.txt")["Body"].read() == b"b's"
    # The upstream's keys work only upstream: keyless does not accept them, and never sends them.
    with pytest.raises(ClientError) as e:
        gw.client(access_key=upstream.UPSTREAM_ACCESS_KEY, secret_key=upstream.UPSTREAM_SECRET_KEY).list_buckets()
    assert e.value.response["Error"]["Code"] == "InvalidAccessKeyId"
    assert upstream.UPSTREAM_SECRET_KEY not in gw.log_path.read_text()


def test_an_unreachable_upstream_is_503_and_sts_still_works(tmp_path, idp):
    cfg = tmp_path / "keyless.yaml"
    cfg.write_text(identity_yaml(idp, tmp_path / "session-keys"))
    dead = f"http://127.0.0.1:{free_port()}"
    srv = gateway_server(tmp_path, {"KEYLESS_GATEWAY_ENDPOINT": dead}, ("--config", str(cfg)))
    try:
        c = srv.client()
        for call in (lambda: c.list_buckets(), lambda: c.put_object(Bucket="any-bucket", Key="k", Body=b"x"),
                     lambda: c.get_object(Bucket="any-bucket", Key="k")):
            with pytest.raises(ClientError) as e:
                call()
            assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
            assert e.value.response["Error"]["Code"] == "ServiceUnavailable"
            assert dead not in e.value.response["Error"]["Message"]  # the upstream's address is only logged
        creds = assume(srv, idp.token("a"), f"arn:aws:iam::{ACCOUNT}:role/tenants")
        assert creds["AccessKeyId"].startswith("ASIA")
    finally:
        stop_server(srv)


def test_replicas_share_sessions_and_a_killed_replica_loses_no_acknowledged_write(tmp_path, idp):
    """Two keyless replicas in front of the same upstream, sharing only the config file and the
    session key file (as a Deployment mounts a ConfigMap and a Secret)."""
    shared = tmp_path / "shared"
    shared.mkdir()
    cfg = shared / "keyless.yaml"
    cfg.write_text(identity_yaml(idp, shared / "session-keys"))
    one = gateway_server(tmp_path / "one", extra_args=("--config", str(cfg)))
    # The first replica generated the session key; the second reads the same file.
    two = gateway_server(tmp_path / "two", extra_args=("--config", str(cfg)))
    try:
        one.client().create_bucket(Bucket="gw-replicas")
        try:
            one.client().create_bucket(Bucket="gw-shared")
        except ClientError as e:
            assert e.response["Error"]["Code"] == "BucketAlreadyOwnedByYou"
        creds = assume(one, idp.token("a"), f"arn:aws:iam::{ACCOUNT}:role/tenants")
        # Credentials minted by one replica are accepted by the other (and the other way round).
        temp_client(two, creds).list_objects_v2(Bucket="gw-shared", Prefix="a/")
        creds_two = assume(two, idp.token("b"), f"arn:aws:iam::{ACCOUNT}:role/tenants")
        temp_client(one, creds_two).list_objects_v2(Bucket="gw-shared", Prefix="b/")

        acknowledged: dict[str, str] = {}
        lock = threading.Lock()
        stop = threading.Event()
        errors: list[str] = []

        def writer(srv, name):
            c = srv.client()
            i = 0
            while not stop.is_set():
                key = f"{name}/{i:05d}"
                body = os.urandom(random.randint(0, 200_000))
                try:
                    c.put_object(Bucket="gw-replicas", Key=key, Body=body)
                except Exception as e:  # noqa: BLE001 - the killed replica's writes fail; not acknowledged
                    errors.append(repr(e))
                    if srv is one:
                        return
                    continue
                with lock:
                    acknowledged[key] = md5(body)
                i += 1

        threads = [threading.Thread(target=writer, args=(srv, f"{n}-{t}"))
                   for n, srv in (("one", one), ("two", two)) for t in range(2)]
        for t in threads:
            t.start()
        time.sleep(2)
        os.kill(one.proc.pid, signal.SIGKILL)
        time.sleep(1)
        stop.set()
        for t in threads:
            t.join(timeout=60)
        assert one.proc.wait(timeout=10) == -signal.SIGKILL
        from_one = [k for k in acknowledged if k.startswith("one-")]
        assert from_one and len(acknowledged) > len(from_one), ("both replicas must have taken writes", errors[:3])
        # Every write either replica acknowledged is there, read through the surviving replica.
        c = two.client()
        for key, digest in acknowledged.items():
            assert md5(c.get_object(Bucket="gw-replicas", Key=key)["Body"].read()) == digest, key
        print(f"\nreplicas: {len(acknowledged)} writes acknowledged ({len(from_one)} by the killed one), 0 lost")
    finally:
        stop_server(two)
        stop_server(one)
