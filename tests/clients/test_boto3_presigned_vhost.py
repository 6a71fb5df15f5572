"""boto3: presigned GET/PUT URLs fetched with plain urllib / http.client (SigV4,
and SigV2, which boto3 presigns with by default), SigV2 header auth, and
virtual-host style addressing (`<bucket>.localhost`, server run with
`--domain localhost`)."""

import http.client
import time
import urllib.error
import urllib.parse
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

import upstream
from conftest import DOMAIN, client_error, payload, raw_request


def fetch(url, method="GET", body=None, headers=None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=30) as resp:
            return resp.status, resp.read(), {k.lower(): v for k, v in resp.headers.items()}
    except urllib.error.HTTPError as e:
        return e.code, e.read(), {k.lower(): v for k, v in e.headers.items()}


def error_code(body: bytes):
    import re
    m = re.search(rb"<Code>([^<]*)</Code>", body)
    return m.group(1).decode() if m else None


def test_presigned_get(s3, bucket):
    data = payload(123_456, seed=91)
    key = "presigned/ünï key+%.bin"
    s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType="application/x-pre")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key},
                                    ExpiresIn=300)
    assert "X-Amz-Signature=" in url
    status, body, headers = fetch(url)
    assert status == 200
    assert body == data
    assert headers["content-type"] == "application/x-pre"

    # with a response override baked into the signature
    url = s3.generate_presigned_url("get_object", Params={
        "Bucket": bucket, "Key": key, "ResponseContentDisposition": "attachment; filename=x.bin"})
    status, body, headers = fetch(url)
    assert status == 200 and body == data
    assert headers["content-disposition"] == "attachment; filename=x.bin"

    # a Range header is not part of the signature and still works
    status, body, _ = fetch(url, headers={"Range": "bytes=10-19"})
    assert status == 206 and body == data[10:20]


def test_presigned_put(s3, bucket):
    data = payload(200_000, seed=92)
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "up/loaded"},
                                    ExpiresIn=300)
    parsed = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    conn.request("PUT", f"{parsed.path}?{parsed.query}", body=data,
                 headers={"Content-Length": str(len(data))})
    resp = conn.getresponse()
    resp.read()
    conn.close()
    assert resp.status == 200
    assert s3.get_object(Bucket=bucket, Key="up/loaded")["Body"].read() == data


def test_presigned_put_with_signed_content_type(s3, bucket):
    url = s3.generate_presigned_url("put_object", Params={
        "Bucket": bucket, "Key": "typed", "ContentType": "text/x-signed"}, ExpiresIn=300)
    status, _, _ = fetch(url, method="PUT", body=b"typed body",
                         headers={"Content-Type": "text/x-signed"})
    assert status == 200
    got = s3.get_object(Bucket=bucket, Key="typed")
    assert got["ContentType"] == "text/x-signed"
    assert got["Body"].read() == b"typed body"
    # a different Content-Type than the one signed breaks the signature
    status, body, _ = fetch(url, method="PUT", body=b"evil", headers={"Content-Type": "text/evil"})
    assert (status, error_code(body)) == (403, "SignatureDoesNotMatch")
    assert s3.get_object(Bucket=bucket, Key="typed")["Body"].read() == b"typed body"


def test_presigned_tampered_and_expired(s3, server, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"secret")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"})
    # another key under the same signature
    status, body, _ = fetch(url.replace("/k?", "/k2?"))
    assert (status, error_code(body)) == (403, "SignatureDoesNotMatch")
    # a flipped signature
    parts = urllib.parse.urlsplit(url)
    q = urllib.parse.parse_qs(parts.query)
    sig = q["X-Amz-Signature"][0]
    bad_sig = ("0" if sig[0] != "0" else "1") + sig[1:]
    status, body, _ = fetch(url.replace(sig, bad_sig))
    assert (status, error_code(body)) == (403, "SignatureDoesNotMatch")
    # presigned with a wrong secret
    wrong = server.client(secret_key="not-the-secret-key-at-all-000000000000000")
    status, body, _ = fetch(wrong.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "k"}))
    assert (status, error_code(body)) == (403, "SignatureDoesNotMatch")
    # expired
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"},
                                    ExpiresIn=1)
    time.sleep(2.5)
    status, body, _ = fetch(url)
    assert (status, error_code(body)) == (403, "AccessDenied")
    # a presigned PUT that was tampered with does not write
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "k"})
    put_sig = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["X-Amz-Signature"][0]
    flipped = ("0" if put_sig[0] != "0" else "1") + put_sig[1:]
    status, body, _ = fetch(url.replace(put_sig, flipped), method="PUT", body=b"overwritten")
    assert (status, error_code(body)) == (403, "SignatureDoesNotMatch")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"secret"


# --------------------------------------------------------------------------
# Virtual-host style
# --------------------------------------------------------------------------
def test_virtual_host_addressing(server, bucket_name):
    # glibc here has no nss-myhostname, so `<bucket>.localhost` does not resolve
    # system-wide; conftest maps *.localhost to 127.0.0.1 inside this process
    # (RFC 6761), which is all botocore needs.
    vs3 = server.client(addressing_style="virtual", endpoint=server.vhost_endpoint)
    urls = []
    vs3.meta.events.register("before-send.s3", lambda request, **kw: urls.append(request.url))
    vs3.create_bucket(Bucket=bucket_name)
    try:
        assert urls[-1].startswith(f"http://{bucket_name}.{DOMAIN}:{server.port}/")
        data = payload(50_000, seed=93)
        vs3.put_object(Bucket=bucket_name, Key="dir/vhost key ü.bin", Body=data,
                       Metadata={"via": "vhost"})
        assert urls[-1].startswith(f"http://{bucket_name}.{DOMAIN}:{server.port}/dir/")
        got = vs3.get_object(Bucket=bucket_name, Key="dir/vhost key ü.bin")
        assert got["Body"].read() == data
        assert got["Metadata"] == {"via": "vhost"}
        vs3.head_bucket(Bucket=bucket_name)
        listed = vs3.list_objects_v2(Bucket=bucket_name, Delimiter="/")
        assert [p["Prefix"] for p in listed["CommonPrefixes"]] == ["dir/"]
        # path-style sees the same object
        ps3 = server.client()
        assert ps3.get_object(Bucket=bucket_name, Key="dir/vhost key ü.bin")["Body"].read() == data
        # multipart through the virtual host
        up = vs3.create_multipart_upload(Bucket=bucket_name, Key="mp")
        p1 = vs3.upload_part(Bucket=bucket_name, Key="mp", UploadId=up["UploadId"],
                             PartNumber=1, Body=b"tiny")
        vs3.complete_multipart_upload(Bucket=bucket_name, Key="mp", UploadId=up["UploadId"],
                                      MultipartUpload={"Parts": [
                                          {"PartNumber": 1, "ETag": p1["ETag"]}]})
        assert ps3.get_object(Bucket=bucket_name, Key="mp")["Body"].read() == b"tiny"
        # presigned virtual-host URL
        url = vs3.generate_presigned_url("get_object", Params={"Bucket": bucket_name, "Key": "mp"})
        assert f"//{bucket_name}.{DOMAIN}:" in url
        parsed = urllib.parse.urlsplit(url)
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        conn.request("GET", f"{parsed.path}?{parsed.query}",
                     headers={"Host": f"{bucket_name}.{DOMAIN}:{server.port}"})
        resp = conn.getresponse()
        assert (resp.status, resp.read()) == (200, b"tiny")
        conn.close()
        vs3.delete_object(Bucket=bucket_name, Key="mp")
        vs3.delete_object(Bucket=bucket_name, Key="dir/vhost key ü.bin")
    finally:
        try:
            server.client().delete_bucket(Bucket=bucket_name)
        except ClientError:
            pass
    with pytest.raises(ClientError) as e:
        vs3.head_bucket(Bucket=bucket_name)
    assert client_error(e)[1] == 404


def test_virtual_host_raw_request(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="raw", Body=b"raw body")
    resp = raw_request(server, "GET", "/raw", host=f"{bucket}.{DOMAIN}:{server.port}")
    assert (resp.status, resp.body) == (200, b"raw body")
    resp = raw_request(server, "GET", "/", query="list-type=2",
                       host=f"{bucket}.{DOMAIN}:{server.port}")
    assert resp.status == 200
    assert b"<Key>raw</Key>" in resp.body
    # a Host that is neither the domain nor a subdomain of it is path-style
    resp = raw_request(server, "GET", f"/{bucket}/raw", host=f"127.0.0.1:{server.port}")
    assert (resp.status, resp.body) == (200, b"raw body")


# --------------------------------------------------------------------------
# Signature Version 2: what boto3 and the AWS CLI v1 presign with by default
# --------------------------------------------------------------------------
def default_client(server, addressing_style=None, endpoint=None, secret_key=None, access_key=None):
    """A boto3 client as a user makes one: no signature_version override, so
    generate_presigned_url signs with SigV2 (AWSAccessKeyId/Signature/Expires)."""
    kw = {}
    if addressing_style:
        kw["config"] = Config(s3={"addressing_style": addressing_style})
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint or server.endpoint, region_name=server.region,
        aws_access_key_id=access_key or server.access_key,
        aws_secret_access_key=secret_key or server.secret_key, **kw)


def put_plain(url, body):
    """PUT with no Content-Type (urllib would add a form type, which V2 signs)."""
    parsed = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    try:
        conn.request("PUT", f"{parsed.path}?{parsed.query}", body=body,
                     headers={"Content-Length": str(len(body))})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def assert_sigv2(url):
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    assert {"AWSAccessKeyId", "Signature", "Expires"} <= set(q), url
    assert "X-Amz-Signature" not in q, url
    return q


def test_default_presigned_get_head_put_are_sigv2(server, s3, bucket):
    d3 = default_client(server)
    data = payload(77_777, seed=94)
    key = "v2/ünï key+%=&.bin"
    s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType="application/x-v2")

    url = d3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key})
    assert_sigv2(url)
    status, body, headers = fetch(url)
    assert status == 200, body
    assert body == data and headers["content-type"] == "application/x-v2"
    status, body, _ = fetch(url, headers={"Range": "bytes=5-9"})
    assert (status, body) == (206, data[5:10])

    # response overrides are part of the V2 string to sign
    url = d3.generate_presigned_url("get_object", Params={
        "Bucket": bucket, "Key": key, "ResponseContentDisposition": "attachment; filename=v2.bin"})
    status, body, headers = fetch(url)
    assert status == 200 and body == data
    assert headers["content-disposition"] == "attachment; filename=v2.bin"

    url = d3.generate_presigned_url("head_object", Params={"Bucket": bucket, "Key": key})
    status, _, headers = fetch(url, method="HEAD")
    assert status == 200 and headers["content-length"] == str(len(data))

    url = d3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "v2/put"})
    assert_sigv2(url)
    status, body = put_plain(url, b"put through a V2 URL")
    assert status == 200, body
    assert s3.get_object(Bucket=bucket, Key="v2/put")["Body"].read() == b"put through a V2 URL"

    # a signed Content-Type must be sent as signed
    url = d3.generate_presigned_url("put_object", Params={
        "Bucket": bucket, "Key": "v2/typed", "ContentType": "text/x-v2"})
    status, body, _ = fetch(url, method="PUT", body=b"typed", headers={"Content-Type": "text/x-v2"})
    assert status == 200, body
    assert s3.head_object(Bucket=bucket, Key="v2/typed")["ContentType"] == "text/x-v2"
    status, body, _ = fetch(url, method="PUT", body=b"evil", headers={"Content-Type": "text/evil"})
    assert (status, error_code(body)) == (403, "SignatureDoesNotMatch")
    assert s3.get_object(Bucket=bucket, Key="v2/typed")["Body"].read() == b"typed"

    # and a listing URL
    url = d3.generate_presigned_url("list_objects", Params={"Bucket": bucket, "Prefix": "v2/"})
    status, body, _ = fetch(url)
    keys = [b"<Key>v2/put</Key>"] + ([b"<Key>v2%2Fput</Key>"] if upstream.differs("url-encoded-slash") else [])
    assert status == 200 and any(k in body for k in keys), body


def test_default_presigned_tampered_expired_and_wrong_keys(server, s3, bucket):
    d3 = default_client(server)
    s3.put_object(Bucket=bucket, Key="k", Body=b"secret")
    s3.put_object(Bucket=bucket, Key="k2", Body=b"other")
    url = d3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"})
    assert fetch(url)[:2] == (200, b"secret")
    # another key under the same signature
    status, body, _ = fetch(url.replace("/k?", "/k2?"))
    assert (status, error_code(body)) == (403, "SignatureDoesNotMatch")
    # a flipped signature
    sig = urllib.parse.quote(assert_sigv2(url)["Signature"][0], safe="")
    assert sig in url
    bad = ("A" if sig[0] != "A" else "B") + sig[1:]
    status, body, _ = fetch(url.replace(sig, bad))
    assert (status, error_code(body)) == (403, "SignatureDoesNotMatch")
    # a later Expires under the same signature
    expires = assert_sigv2(url)["Expires"][0]
    status, body, _ = fetch(url.replace(f"Expires={expires}", f"Expires={int(expires) + 3600}"))
    assert (status, error_code(body)) == (403, "SignatureDoesNotMatch")
    # the method is signed: a GET URL does not delete
    status, body, _ = fetch(url, method="DELETE")
    assert (status, error_code(body)) == (403, "SignatureDoesNotMatch")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"secret"
    # a wrong secret, an unknown key id
    wrong = default_client(server, secret_key="not-the-secret-key-at-all-000000000000000")
    status, body, _ = fetch(wrong.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}))
    assert (status, error_code(body)) == (403, "SignatureDoesNotMatch")
    unknown = default_client(server, access_key="AKIDUNKNOWNUNKNOWN00")
    status, body, _ = fetch(unknown.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}))
    assert (status, error_code(body)) == (403, "InvalidAccessKeyId")
    # expired
    url = d3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=1)
    time.sleep(2.5)
    status, body, _ = fetch(url)
    assert (status, error_code(body)) == (403, "AccessDenied")
    # a tampered presigned PUT does not write
    url = d3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "k"})
    sig = urllib.parse.quote(assert_sigv2(url)["Signature"][0], safe="")
    bad = ("A" if sig[0] != "A" else "B") + sig[1:]
    status, body = put_plain(url.replace(sig, bad), b"overwritten")
    assert (status, error_code(body)) == (403, "SignatureDoesNotMatch")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"secret"
    assert put_plain(url, b"overwritten")[0] == 200
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"overwritten"


def test_default_presigned_virtual_host_url(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="dir/vh v2", Body=b"vhost v2")
    vd3 = default_client(server, addressing_style="virtual", endpoint=server.vhost_endpoint)
    url = vd3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "dir/vh v2"})
    assert f"//{bucket}.{DOMAIN}:" in url
    assert_sigv2(url)
    parsed = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("GET", f"{parsed.path}?{parsed.query}",
                 headers={"Host": f"{bucket}.{DOMAIN}:{server.port}"})
    resp = conn.getresponse()
    assert (resp.status, resp.read()) == (200, b"vhost v2")
    conn.close()


def sigv2_client(server, secret_key=None):
    """A boto3 client that signs every request with SigV2 in the Authorization header."""
    cfg = Config(signature_version="s3", s3={"addressing_style": "path"},
                 retries={"max_attempts": 1, "mode": "standard"})
    return boto3.session.Session().client(
        "s3", endpoint_url=server.endpoint, region_name=server.region,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=secret_key or server.secret_key, config=cfg)


def test_sigv2_header_auth_round_trip(server, bucket_name):
    c = sigv2_client(server)
    seen = []
    c.meta.events.register("before-send.s3", lambda request, **kw: seen.append(request.headers["Authorization"]))
    c.create_bucket(Bucket=bucket_name)
    try:
        assert seen[-1].startswith(b"AWS " if isinstance(seen[-1], bytes) else "AWS ")
        data = payload(300_000, seed=95)
        c.put_object(Bucket=bucket_name, Key="a/b c+d", Body=data, Metadata={"via": "v2"},
                     ContentType="text/x-v2")
        got = c.get_object(Bucket=bucket_name, Key="a/b c+d")
        assert got["Body"].read() == data and got["Metadata"] == {"via": "v2"}
        c.copy_object(Bucket=bucket_name, Key="copy", CopySource={"Bucket": bucket_name, "Key": "a/b c+d"})
        keys = [o["Key"] for o in c.list_objects_v2(Bucket=bucket_name)["Contents"]]
        assert keys == ["a/b c+d", "copy"]
        up = c.create_multipart_upload(Bucket=bucket_name, Key="mp")
        p1 = c.upload_part(Bucket=bucket_name, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=b"part")
        assert c.list_parts(Bucket=bucket_name, Key="mp", UploadId=up["UploadId"])["Parts"][0]["Size"] == 4
        c.complete_multipart_upload(Bucket=bucket_name, Key="mp", UploadId=up["UploadId"],
                                    MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p1["ETag"]}]})
        c.put_object_tagging(Bucket=bucket_name, Key="mp", Tagging={"TagSet": [{"Key": "t", "Value": "v"}]})
        assert c.get_object_tagging(Bucket=bucket_name, Key="mp")["TagSet"] == [{"Key": "t", "Value": "v"}]
        out = c.delete_objects(Bucket=bucket_name, Delete={"Objects": [{"Key": k} for k in ["a/b c+d", "copy", "mp"]]})
        assert sorted(d["Key"] for d in out["Deleted"]) == ["a/b c+d", "copy", "mp"]
        # a wrong secret is refused
        bad = sigv2_client(server, secret_key="not-the-secret-key-at-all-000000000000000")
        with pytest.raises(ClientError) as e:
            bad.list_objects_v2(Bucket=bucket_name)
        assert client_error(e) == ("SignatureDoesNotMatch", 403)
    finally:
        server.client().delete_bucket(Bucket=bucket_name)


def test_sigv2_header_auth_checks_the_request_time(server, s3, bucket):
    """s3s does not check the Date of a V2 request; the edge does, as S3 (15 minutes)."""
    from botocore.auth import HmacV1Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    from email.utils import formatdate

    s3.put_object(Bucket=bucket, Key="t", Body=b"timed")

    def send(date):
        class Signer(HmacV1Auth):
            def _get_date(self):
                return date
        req = AWSRequest(method="GET", url=f"{server.endpoint}/{bucket}/t")
        Signer(Credentials(server.access_key, server.secret_key)).add_auth(req)
        return fetch(f"{server.endpoint}/{bucket}/t", headers=dict(req.headers.items()))

    assert send(formatdate(usegmt=True))[:2] == (200, b"timed")
    assert send(formatdate(time.time() - 600, usegmt=True))[:2] == (200, b"timed")
    status, body, _ = send(formatdate(time.time() - 3600, usegmt=True))
    assert (status, error_code(body)) == (403, "RequestTimeTooSkewed")
    status, body, _ = send(formatdate(time.time() + 3600, usegmt=True))
    assert (status, error_code(body)) == (403, "RequestTimeTooSkewed")
    status, body, _ = send("not a date")
    assert (status, error_code(body)) == (403, "AccessDenied")
