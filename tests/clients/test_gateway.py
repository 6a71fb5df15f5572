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
from test_web_identity import ACCOUNT, Issuer, assume, identity_config, temp_client


GATEWAY_VARS = ("KEYLESS_GATEWAY_ENDPOINT", "KEYLESS_GATEWAY_ACCESS_KEY", "KEYLESS_GATEWAY_SECRET_KEY",
                "KEYLESS_GATEWAY_SHARED_BUCKET", "KEYLESS_GATEWAY_ROLE_ARN", "KEYLESS_GATEWAY_TOKEN_FILE",
                "KEYLESS_GATEWAY_STS_ENDPOINT")


def gateway_server(root, extra_env: dict | None = None, extra_args: tuple = (), port: int | None = None):
    """A keyless in gateway mode in front of the suite's upstream, with exactly these gateway settings."""
    env = {k: None for k in GATEWAY_VARS}
    env.update(upstream.gateway_env())
    env.update(extra_env or {})
    return start_server(root, extra_args=extra_args, port=port, extra_env=env)


def upstream_client():
    """A client straight to the upstream, with the upstream's own keys (what keyless holds)."""
    env = upstream.gateway_env()
    return boto3.session.Session().client(
        "s3", endpoint_url=env["KEYLESS_GATEWAY_ENDPOINT"], region_name=REGION,
        aws_access_key_id=env["KEYLESS_GATEWAY_ACCESS_KEY"], aws_secret_access_key=env["KEYLESS_GATEWAY_SECRET_KEY"],
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))


def identity_yaml(idp: Issuer, key_file) -> str:
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"],
         "Resource": "arn:aws:s3:::gw-shared/${keyless:namespace}/*"},
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::gw-shared"}]}
    return identity_config(idp, "tenants", ["a/*", "b/*"], policy) + f"  session_key_file: {key_file}\n"


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


def test_many_buckets_in_one_shared_upstream_bucket(tmp_path):
    """gateway.shared_bucket: every keyless bucket under its own prefix of one upstream bucket,
    which keyless creates when it is missing."""
    shared = f"kl-shared-{os.urandom(4).hex()}"
    srv = gateway_server(tmp_path, {"KEYLESS_GATEWAY_SHARED_BUCKET": shared})
    up = upstream_client()
    try:
        c = srv.client()
        assert c.list_buckets()["Buckets"] == []
        for b in ("alpha", "beta"):
            c.create_bucket(Bucket=b)
        with pytest.raises(ClientError) as e:
            c.create_bucket(Bucket="alpha")
        assert e.value.response["Error"]["Code"] == "BucketAlreadyOwnedByYou"
        listed = c.list_buckets()["Buckets"]
        assert [b["Name"] for b in listed] == ["alpha", "beta"] and all("CreationDate" in b for b in listed)
        # The same key in two buckets: two objects.
        c.put_object(Bucket="alpha", Key="dir/a b+c.txt", Body=b"alpha's", Metadata={"m": "1"})
        c.put_object(Bucket="alpha", Key="top.txt", Body=b"top")
        c.put_object(Bucket="beta", Key="dir/a b+c.txt", Body=b"beta's")
        assert c.get_object(Bucket="alpha", Key="dir/a b+c.txt")["Body"].read() == b"alpha's"
        assert c.get_object(Bucket="beta", Key="dir/a b+c.txt")["Body"].read() == b"beta's"
        assert c.head_object(Bucket="alpha", Key="dir/a b+c.txt")["Metadata"] == {"m": "1"}
        # Listings name keyless's bucket and keys, with delimiters, prefixes, markers and pages.
        v2 = c.list_objects_v2(Bucket="alpha", Delimiter="/")
        assert v2["Name"] == "alpha" and v2.get("Prefix", "") == ""
        assert [p["Prefix"] for p in v2["CommonPrefixes"]] == ["dir/"]
        assert [o["Key"] for o in v2["Contents"]] == ["top.txt"]
        assert [o["Key"] for o in c.list_objects_v2(Bucket="alpha", Prefix="dir/")["Contents"]] == ["dir/a b+c.txt"]
        assert [o["Key"] for o in c.list_objects_v2(Bucket="alpha", StartAfter="dir/a b+c.txt")["Contents"]] == [
            "top.txt"]
        v1 = c.list_objects(Bucket="alpha", Marker="dir/a b+c.txt")
        assert v1["Name"] == "alpha" and [o["Key"] for o in v1["Contents"]] == ["top.txt"]
        keys = [f"page/{i:02d}" for i in range(7)]
        for k in keys:
            c.put_object(Bucket="beta", Key=k, Body=k.encode())
        pages = c.get_paginator("list_objects_v2").paginate(Bucket="beta", Prefix="page/", PaginationConfig={
            "PageSize": 3})
        assert [o["Key"] for p in pages for o in p.get("Contents", [])] == keys
        v1_pages = c.get_paginator("list_objects").paginate(Bucket="beta", Prefix="page/", PaginationConfig={
            "PageSize": 3})
        assert [o["Key"] for p in v1_pages for o in p.get("Contents", [])] == keys
        # Copy across buckets, multipart, batch delete.
        c.copy_object(Bucket="beta", Key="copied.txt", CopySource={"Bucket": "alpha", "Key": "top.txt"})
        assert c.get_object(Bucket="beta", Key="copied.txt")["Body"].read() == b"top"
        mp = c.create_multipart_upload(Bucket="beta", Key="big")
        assert (mp["Bucket"], mp["Key"]) == ("beta", "big")
        uploads = c.list_multipart_uploads(Bucket="beta")
        assert uploads["Bucket"] == "beta" and [u["Key"] for u in uploads["Uploads"]] == ["big"]
        part = os.urandom(5 * 1024 * 1024)
        etag = c.upload_part(Bucket="beta", Key="big", UploadId=mp["UploadId"], PartNumber=1, Body=part)["ETag"]
        copied = c.upload_part_copy(Bucket="beta", Key="big", UploadId=mp["UploadId"], PartNumber=2,
                                    CopySource={"Bucket": "alpha", "Key": "top.txt"})["CopyPartResult"]["ETag"]
        assert [p["PartNumber"] for p in c.list_parts(Bucket="beta", Key="big", UploadId=mp["UploadId"])["Parts"]] == [
            1, 2]
        done = c.complete_multipart_upload(Bucket="beta", Key="big", UploadId=mp["UploadId"], MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": etag}, {"PartNumber": 2, "ETag": copied}]})
        assert (done["Bucket"], done["Key"]) == ("beta", "big") and shared not in done.get("Location", "")
        assert c.get_object(Bucket="beta", Key="big")["Body"].read() == part + b"top"
        out = c.delete_objects(Bucket="beta", Delete={"Objects": [{"Key": k} for k in keys]})
        assert sorted(d["Key"] for d in out["Deleted"]) == keys
        # Unknown buckets are unknown, whatever the operation.
        for call in (lambda: c.get_object(Bucket="gamma", Key="k"),
                     lambda: c.put_object(Bucket="gamma", Key="k", Body=b"x"),
                     lambda: c.list_objects_v2(Bucket="gamma"),
                     lambda: c.copy_object(Bucket="alpha", Key="k", CopySource={"Bucket": "gamma", "Key": "k"}),
                     lambda: c.delete_bucket(Bucket="gamma")):
            with pytest.raises(ClientError) as e:
                call()
            assert e.value.response["Error"]["Code"] == "NoSuchBucket"
        with pytest.raises(ClientError) as e:
            c.head_bucket(Bucket="gamma")
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
        # Upstream: one bucket, keyless's buckets as prefixes and markers.
        assert shared in [b["Name"] for b in up.list_buckets()["Buckets"]]
        assert "alpha" not in [b["Name"] for b in up.list_buckets()["Buckets"]]
        upstream_keys = {o["Key"] for o in up.list_objects_v2(Bucket=shared)["Contents"]}
        assert {"alpha/dir/a b+c.txt", "alpha/top.txt", "beta/dir/a b+c.txt", "beta/big",
                ".keyless-buckets/alpha", ".keyless-buckets/beta"} <= upstream_keys
        # Deleting a bucket needs it empty; then it is gone.
        with pytest.raises(ClientError) as e:
            c.delete_bucket(Bucket="alpha")
        assert e.value.response["Error"]["Code"] == "BucketNotEmpty"
        c.delete_objects(Bucket="alpha", Delete={"Objects": [{"Key": "dir/a b+c.txt"}, {"Key": "top.txt"}]})
        c.delete_bucket(Bucket="alpha")
        assert [b["Name"] for b in c.list_buckets()["Buckets"]] == ["beta"]
        with pytest.raises(ClientError) as e:
            c.head_bucket(Bucket="alpha")
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
        assert c.get_object(Bucket="beta", Key="dir/a b+c.txt")["Body"].read() == b"beta's"
    finally:
        stop_server(srv)


def test_keyless_reaches_the_upstream_with_its_own_web_identity(tmp_path, idp):
    """gateway.web_identity: no upstream keys anywhere. keyless holds a ServiceAccount token (as
    kubelet projects it) and exchanges it at the upstream's STS — here another keyless, with its
    embedded store, that trusts the same issuer for the role `gateway`."""
    storage_role = f"arn:aws:iam::{ACCOUNT}:role/gateway"
    back_cfg = tmp_path / "back.yaml"
    everything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    back_cfg.write_text(identity_config(idp, "gateway", ["storage/keyless"], everything))
    back = start_server(tmp_path / "back", extra_args=("--config", str(back_cfg)),
                        extra_env={k: None for k in GATEWAY_VARS})
    token_file = tmp_path / "token"
    token = idp.token("storage", "keyless")
    token_file.write_text(token)
    front_env = {k: None for k in GATEWAY_VARS}
    front_env.update({"KEYLESS_GATEWAY_ENDPOINT": back.endpoint, "KEYLESS_GATEWAY_ROLE_ARN": storage_role,
                      "KEYLESS_GATEWAY_TOKEN_FILE": str(token_file)})
    front = start_server(tmp_path / "front", extra_env=front_env)
    # A keyless whose token is for a ServiceAccount the role does not trust.
    wrong_file = tmp_path / "wrong-token"
    wrong_file.write_text(idp.token("apps", "intruder"))
    wrong = start_server(tmp_path / "wrong", extra_env={**front_env, "KEYLESS_GATEWAY_TOKEN_FILE": str(wrong_file)})
    try:
        c = front.client()
        c.create_bucket(Bucket="wi-bucket")
        data = os.urandom(300_000)
        c.put_object(Bucket="wi-bucket", Key="k", Body=data)
        assert c.get_object(Bucket="wi-bucket", Key="k")["Body"].read() == data
        # The object is in the upstream keyless, written by the session of role `gateway`.
        assert back.client().get_object(Bucket="wi-bucket", Key="k")["Body"].read() == data
        back_log = back.log_path.read_text()
        assert "system:serviceaccount:storage:keyless" in back_log and "gateway" in back_log
        # One STS exchange serves many requests (the credentials are cached until near expiry).
        for i in range(5):
            c.put_object(Bucket="wi-bucket", Key=f"more/{i}", Body=b"x")
        front_log = front.log_path.read_text()
        assert front_log.count("keyless assumed its upstream role with web identity") == 1, front_log[-3000:]
        assert token not in front_log and token.split(".")[2] not in back_log
        # Refused upstream: 503 with a message that says where to look, and the log says why.
        with pytest.raises(ClientError) as e:
            wrong.client().list_buckets()
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503, (e.value.response, wrong.log_tail())
        assert e.value.response["Error"]["Code"] == "ServiceUnavailable"
        wrong_log = wrong.log_path.read_text()
        assert "the upstream STS refused keyless's web identity" in wrong_log and "AccessDenied" in wrong_log
    finally:
        for s in (wrong, front, back):
            stop_server(s)


def test_an_expires_that_is_not_a_date_goes_through_verbatim(tmp_path):
    """S3 keeps an `Expires` it cannot parse as it came; the SDK keyless forwards with types it as
    a date. In front of an upstream that keeps it (here another keyless, embedded store), it goes
    up and comes back verbatim on HEAD and GET."""
    from conftest import ACCESS_KEY, SECRET_KEY
    from test_boto3_objects import _with_header
    back = start_server(tmp_path / "back", extra_env={k: None for k in GATEWAY_VARS})
    front = gateway_server(tmp_path / "front", {"KEYLESS_GATEWAY_ENDPOINT": back.endpoint,
                                                "KEYLESS_GATEWAY_ACCESS_KEY": ACCESS_KEY,
                                                "KEYLESS_GATEWAY_SECRET_KEY": SECRET_KEY,
                                                "KEYLESS_GATEWAY_SHARED_BUCKET": None})
    try:
        c = front.client()
        c.create_bucket(Bucket="gw-expires")
        _with_header(c, "PutObject", "Expires", "not a date")
        c.put_object(Bucket="gw-expires", Key="e", Body=b"x")
        assert back.client().head_object(Bucket="gw-expires", Key="e")["ExpiresString"] == "not a date"
        assert front.client().head_object(Bucket="gw-expires", Key="e")["ExpiresString"] == "not a date"
        assert front.client().get_object(Bucket="gw-expires", Key="e")["ExpiresString"] == "not a date"
    finally:
        for s in (front, back):
            stop_server(s)
