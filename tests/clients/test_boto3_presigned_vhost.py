"""boto3: presigned GET/PUT URLs fetched with plain urllib / http.client, and
virtual-host style addressing (`<bucket>.localhost`, server run with
`--domain localhost`)."""

import http.client
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from botocore.exceptions import ClientError

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
