"""Attack corpora over the wire: tokens crafted to get STS credentials that should not be given,
and S3 requests crafted to pass a signature check they should fail. Each attack is sent to the
running keyless and must be refused with the expected code — never credentials, never a 2xx,
never a 5xx. The totals are printed for docs/reliability.md.

The identity core has its own, finer table tests (crates/identity/src/token.rs, trust, policy);
this corpus checks that the same refusals hold end to end, through the HTTP edge.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.parse
import uuid

import pytest
from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from conftest import raw_request, start_server, stop_server
from test_web_identity import ACCOUNT, AUDIENCE, ISSUER, Issuer, b64url, config_yaml

ROLE = f"arn:aws:iam::{ACCOUNT}:role/tenants"
TRIED: list[tuple[str, str, bool]] = []


@pytest.fixture(scope="module")
def idp():
    return Issuer()


@pytest.fixture(scope="module")
def srv(tmp_path_factory, idp):
    root = tmp_path_factory.mktemp("attacks")
    cfg = root / "keyless.yaml"
    cfg.write_text(config_yaml(idp))
    server = start_server(root, extra_args=("--config", str(cfg)))
    server.client().create_bucket(Bucket="shared")
    yield server
    stop_server(server)
    refused = sum(1 for _, _, ok in TRIED if ok)
    print(f"\nattacks tried: {len(TRIED)}, refused as expected: {refused}")


def claims(ns="a", **over) -> dict:
    now = int(time.time())
    c = {"iss": ISSUER, "sub": f"system:serviceaccount:{ns}:app", "aud": [AUDIENCE], "iat": now, "nbf": now,
         "exp": now + 600, "kubernetes.io": {"namespace": ns, "serviceaccount": {"name": "app", "uid": "u"}}}
    c.update(over)
    return c


def es256(key, header: dict, body: dict) -> str:
    h = b64url(json.dumps(header).encode())
    b = b64url(json.dumps(body).encode())
    r, s = decode_dss_signature(key.sign(f"{h}.{b}".encode(), ec.ECDSA(hashes.SHA256())))
    return f"{h}.{b}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def token_attacks(idp: Issuer) -> dict[str, tuple[str, str, set[str]]]:
    """name → (token, role, acceptable STS codes)."""
    attacker = ec.generate_private_key(ec.SECP256R1())
    good_header = {"alg": "ES256", "kid": idp.kid, "typ": "JWT"}
    pub_pem = idp.key.public_key().public_bytes(serialization.Encoding.PEM,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
    mac = hmac.HMAC(pub_pem, hashes.SHA256())
    hs_head = b64url(json.dumps({"alg": "HS256", "kid": idp.kid}).encode())
    hs_body = b64url(json.dumps(claims()).encode())
    mac.update(f"{hs_head}.{hs_body}".encode())
    hs256 = f"{hs_head}.{hs_body}.{b64url(mac.finalize())}"
    n = attacker.public_key().public_numbers()
    attacker_jwk = {"kty": "EC", "crv": "P-256", "x": b64url(n.x.to_bytes(32, "big")),
                    "y": b64url(n.y.to_bytes(32, "big"))}
    valid = idp.token("a")
    h, b, sig = valid.split(".")
    bad = {"InvalidIdentityToken"}
    now = int(time.time())
    return {
        "alg none": (f"{b64url(json.dumps({'alg': 'none', 'kid': idp.kid}).encode())}.{b}.", ROLE, bad),
        "HS256 keyed with the issuer's public key": (hs256, ROLE, bad),
        "jku pointing at the attacker's keys": (
            es256(attacker, {**good_header, "jku": "http://127.0.0.1:1/jwks"}, claims()), ROLE, bad),
        "x5u pointing at the attacker's certificate": (
            es256(attacker, {**good_header, "x5u": "http://127.0.0.1:1/cert"}, claims()), ROLE, bad),
        "embedded jwk of the attacker": (es256(attacker, {**good_header, "jwk": attacker_jwk}, claims()), ROLE, bad),
        "attacker key, issuer's kid": (es256(attacker, good_header, claims()), ROLE, bad),
        "kid path traversal": (es256(attacker, {**good_header, "kid": "../../../../etc/passwd"}, claims()), ROLE,
                               bad | {"IDPCommunicationError"}),
        "signature stripped": (f"{h}.{b}.", ROLE, bad),
        "signature from another token": (f"{h}.{b64url(json.dumps(claims('b')).encode())}.{sig}", ROLE, bad),
        "claims edited after signing": (f"{h}.{b64url(json.dumps(claims(exp=now + 10**8)).encode())}.{sig}",
                                        ROLE, bad),
        "expired": (idp.token("a", iat=now - 7200, lifetime=600), ROLE, {"ExpiredTokenException"}),
        "not yet valid": (es256(idp.key, good_header, claims(nbf=now + 3600, iat=now + 3600)), ROLE, bad),
        "another issuer's iss": (es256(idp.key, good_header, claims(iss="https://evil.example")), ROLE, bad),
        "audience of another service": (idp.token("a", aud="vault"), ROLE, bad),
        "no audience": (es256(idp.key, good_header, {k: v for k, v in claims().items() if k != "aud"}), ROLE, bad),
        "subject outside the trust policy": (idp.token("kube-system"), ROLE, {"AccessDenied"}),
        "subject claim edited to a trusted one": (
            es256(attacker, good_header, claims("a", sub="system:serviceaccount:a:app")), ROLE, bad),
        "role of another account": (valid, "arn:aws:iam::999999999999:role/tenants", {"AccessDenied"}),
        "role that does not exist": (valid, f"arn:aws:iam::{ACCOUNT}:role/admin", {"AccessDenied"}),
        "role ARN with a wildcard": (valid, f"arn:aws:iam::{ACCOUNT}:role/*", {"AccessDenied", "ValidationError"}),
        "oversized token (64 KiB)": ("e" * 65536 + "." + b + "." + sig, ROLE, bad | {"ValidationError"}),
        "not a JWT": ("not-a-jwt", ROLE, bad),
        "JSON header not an object": (f"{b64url(b'[1,2]')}.{b}.{sig}", ROLE, bad),
        "invalid base64": (f"!!!.{b}.{sig}", ROLE, bad),
        "empty token": ("", ROLE, {"ValidationError", "InvalidIdentityToken"}),
    }


def sts_call(srv, params: dict) -> tuple[int, str, str]:
    body = urllib.parse.urlencode({"Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15", **params})
    r = raw_request(srv, "POST", "/", body=body.encode(), sign=False,
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    return r.status, r.error_code() or "", r.body.decode(errors="replace")


def test_token_attacks_are_refused(srv, idp):
    failures = []
    for name, (token, role, codes) in token_attacks(idp).items():
        status, code, text = sts_call(srv, {"RoleArn": role, "RoleSessionName": "attack", "WebIdentityToken": token})
        ok = 400 <= status < 500 and code in codes and "SecretAccessKey" not in text
        TRIED.append(("sts", name, ok))
        if not ok:
            failures.append((name, status, code))
    assert not failures, failures


def test_request_parameter_attacks_are_refused(srv, idp):
    token = idp.token("a")
    cases = {
        "session name with forbidden characters": {"RoleSessionName": "a b;<script>"},
        "session name too long": {"RoleSessionName": "a" * 65},
        "duration over the role's maximum": {"DurationSeconds": "999999"},
        "duration under the minimum": {"DurationSeconds": "1"},
        "malformed session policy": {"Policy": "{not json"},
        "session policy over the size limit": {"Policy": json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{'x' * 3000}/*"}] * 10})},
        "policy ARNs (not supported)": {"PolicyArns.member.1.arn": "arn:aws:iam::aws:policy/AdministratorAccess"},
    }
    failures = []
    for name, extra in cases.items():
        params = {"RoleArn": ROLE, "RoleSessionName": "attack", "WebIdentityToken": token, **extra}
        status, code, text = sts_call(srv, params)
        ok = 400 <= status < 500 and code != "" and "SecretAccessKey" not in text
        TRIED.append(("sts-params", name, ok))
        if not ok:
            failures.append((name, status, code))
    # An unknown action is refused too.
    r = raw_request(srv, "POST", "/", body=b"Action=AssumeRole&Version=2011-06-15&RoleArn=" + ROLE.encode(),
                    sign=False, headers={"Content-Type": "application/x-www-form-urlencoded"})
    TRIED.append(("sts-params", "AssumeRole (keys-based) action", r.status >= 400))
    assert r.status == 400 and r.error_code() in ("InvalidAction", "ValidationError"), r.body
    assert not failures, failures


def test_signature_attacks_are_refused(srv):
    import datetime
    from unittest import mock

    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    srv.client().put_object(Bucket="shared", Key="target", Body=b"original")

    def signed(method="GET", path="/shared/target", body=b"", headers=None, secret=None, region=None,
               when=None) -> dict:
        req = AWSRequest(method=method, url=f"http://{srv.host}{path}", data=body, headers=headers or {})
        signer = S3SigV4Auth(Credentials(srv.access_key, secret or srv.secret_key), "s3", region or srv.region)
        if when:
            with mock.patch("botocore.auth.get_current_datetime", return_value=when):
                signer.add_auth(req)
        else:
            signer.add_auth(req)
        return dict(req.headers.items())

    def send(method, path, headers, body=b""):
        return raw_request(srv, method, path, body=body, sign=False, headers=headers)

    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    put_headers = signed("PUT", "/shared/target", b"evil")
    cases = [
        ("wrong secret", lambda: send("GET", "/shared/target", signed(secret="x" * 40)), {"SignatureDoesNotMatch"}),
        ("path changed after signing", lambda: send("GET", "/shared/other", signed()), {"SignatureDoesNotMatch"}),
        ("query added after signing",
         lambda: send("GET", "/shared/target?versionId=1", signed()), {"SignatureDoesNotMatch"}),
        ("signed header changed",
         lambda: send("PUT", "/shared/target", {**put_headers, "x-amz-meta-owner": "attacker"}, b"evil")
         if "x-amz-meta-owner" in signed("PUT", "/shared/target", b"evil", {"x-amz-meta-owner": "me"}) else None,
         {"SignatureDoesNotMatch", "AccessDenied"}),
        ("unsigned x-amz-copy-source added to a signed PUT",
         lambda: send("PUT", "/shared/target", {**put_headers, "x-amz-copy-source": "/shared/target"}, b"evil"),
         {"AccessDenied"}),
        ("body changed after signing",
         lambda: send("PUT", "/shared/target", put_headers, b"EVIL"), {"XAmzContentSHA256Mismatch", "BadDigest"}),
        ("request replayed 20 minutes later",
         lambda: send("GET", "/shared/target", signed(when=now - datetime.timedelta(minutes=20))),
         {"RequestTimeTooSkewed"}),
        ("region of another deployment",
         lambda: send("GET", "/shared/target", signed(region="eu-west-9")),
         {"AuthorizationHeaderMalformed", "SignatureDoesNotMatch"}),
        ("unknown access key", lambda: send("GET", "/shared/target", {
            **signed(), "Authorization": signed()["Authorization"].replace(srv.access_key, "AKIAATTACKER000000000")}),
         {"InvalidAccessKeyId", "SignatureDoesNotMatch"}),
        ("anonymous", lambda: send("GET", "/shared/target", {}), {"AccessDenied"}),
        ("temporary key without its token", lambda: send("GET", "/shared/target", {
            **signed(), "Authorization": signed()["Authorization"].replace(srv.access_key, "ASIAQEAYEAUDAOCAJAAA")}),
         {"InvalidAccessKeyId", "SignatureDoesNotMatch"}),
    ]
    failures = []
    for name, attack, codes in cases:
        r = attack()
        if r is None:
            continue
        ok = 400 <= r.status < 500 and r.error_code() in codes
        TRIED.append(("sigv4", name, ok))
        if not ok:
            failures.append((name, r.status, r.error_code()))
    # Expired and over-long presigned URLs.
    c = srv.client()
    for name, expires in (("presigned URL past its expiry", 1), ("presigned URL valid for 8 days", 8 * 86400)):
        url = c.generate_presigned_url("get_object", Params={"Bucket": "shared", "Key": "target"}, ExpiresIn=expires)
        if expires == 1:
            time.sleep(2)
        r = raw_request(srv, "GET", url.split(str(srv.port), 1)[1], sign=False)
        ok = r.status in (400, 403) and r.error_code() in ("AccessDenied", "AuthorizationQueryParametersError")
        TRIED.append(("sigv4", name, ok))
        if not ok:
            failures.append((name, r.status, r.error_code()))
    assert c.get_object(Bucket="shared", Key="target")["Body"].read() == b"original"
    assert not failures, failures


def test_path_attacks_never_leave_the_store(srv):
    c = srv.client()
    failures = []
    for name in ["..", ".", "a..b", "../etc", "%2e%2e", "UPPER", "a", "x" * 64, "-dash", "192.168.1.1", "xn--punycode",
                 "bucket-s3alias", "_keyless"]:
        r = raw_request(srv, "PUT", "/" + urllib.parse.quote(name, safe="%"))
        ok = r.status == 400 and r.error_code() in ("InvalidBucketName", "InvalidRequest", "MethodNotAllowed")
        TRIED.append(("path", f"bucket name {name!r}", ok))
        if not ok:
            failures.append((name, r.status, r.error_code()))
    # Keys that look like paths are keys: written and read back as themselves, never as files.
    for key in ["../../../../etc/passwd", "/etc/shadow", "a/../../b", "..", ".", "\\..\\..\\windows",
                "%2e%2e%2fescape", "blobs/00/" + uuid.uuid4().hex]:
        c.put_object(Bucket="shared", Key=key, Body=key.encode())
        ok = c.get_object(Bucket="shared", Key=key)["Body"].read() == key.encode()
        TRIED.append(("path", f"key {key!r}", ok))
        if not ok:
            failures.append((key, "read back differs"))
    r = raw_request(srv, "PUT", "/shared/" + "k" * 1025, body=b"x")
    TRIED.append(("path", "key over 1024 bytes", r.status == 400 and r.error_code() == "KeyTooLongError"))
    assert r.status == 400 and r.error_code() == "KeyTooLongError", (r.status, r.body)
    assert not failures, failures


def test_mutated_requests_never_crash_the_server_or_get_a_5xx(srv, idp):
    """Request parsing under random damage: valid requests (signed PUT with a body, ranged GET,
    CompleteMultipartUpload and DeleteObjects XML, an STS form, a presigned URL) are mutated —
    bytes flipped, inserted or cut, headers duplicated or truncated — and sent raw. Every answer
    must be a well-formed HTTP response below 500 (or 501 for a method S3 does not have, or 503
    when a limit sheds), or a closed connection; the server must stay up and serve afterwards."""
    import socket as _socket

    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    srv.client().put_object(Bucket="shared", Key="fuzz-target", Body=b"0123456789" * 100)

    def raw(method, path, body=b"", headers=None) -> bytes:
        req = AWSRequest(method=method, url=f"http://{srv.host}{path}", data=body, headers=headers or {})
        S3SigV4Auth(Credentials(srv.access_key, srv.secret_key), "s3", srv.region).add_auth(req)
        head = f"{method} {path} HTTP/1.1\r\nHost: {srv.host}\r\n"
        for k, v in req.headers.items():
            head += f"{k}: {v}\r\n"
        return (head + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body

    delete_xml = b"<Delete><Object><Key>a</Key></Object><Object><Key>b</Key></Object></Delete>"
    complete_xml = b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"x\"</ETag></Part>" \
                   b"</CompleteMultipartUpload>"
    sts_form = urllib.parse.urlencode({"Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15",
                                       "RoleArn": ROLE, "RoleSessionName": "m",
                                       "WebIdentityToken": idp.token("a")}).encode()
    presigned = srv.client().generate_presigned_url("get_object", Params={"Bucket": "shared", "Key": "fuzz-target"})
    seeds = [
        raw("PUT", "/shared/fuzz-put", b"hello world" * 50, {"Content-Type": "text/plain", "x-amz-meta-a": "b"}),
        raw("GET", "/shared/fuzz-target", headers={"Range": "bytes=5-20", "If-None-Match": '"abc"'}),
        raw("POST", "/shared?delete=", delete_xml, {"Content-MD5": base64.b64encode(
            __import__("hashlib").md5(delete_xml).digest()).decode()}),
        raw("POST", "/shared/k?uploadId=nope", complete_xml),
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        + f"Content-Length: {len(sts_form)}\r\nConnection: close\r\n\r\n".encode() + sts_form,
        f"GET {presigned.split(str(srv.port), 1)[1]} HTTP/1.1\r\nHost: {srv.host}\r\nConnection: close\r\n\r\n".encode(),
    ]
    rng = __import__("random").Random(20261128)

    def mutate(b: bytes) -> bytes:
        b = bytearray(b)
        for _ in range(rng.randint(1, 4)):
            op = rng.randrange(5)
            i = rng.randrange(len(b)) if b else 0
            if op == 0 and b:
                b[i] ^= 1 << rng.randrange(8)
            elif op == 1:
                b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
            elif op == 2 and b:
                del b[i:i + rng.randint(1, 16)]
            elif op == 3:
                lines = bytes(b).split(b"\r\n")
                if len(lines) > 2:
                    j = rng.randrange(1, len(lines) - 1)
                    lines.insert(j, lines[j])
                    b = bytearray(b"\r\n".join(lines))
            else:
                b = b[: rng.randrange(len(b) + 1)]
        return bytes(b)

    statuses: dict[int, int] = {}
    bad = []
    n = 1200
    for k in range(n):
        msg = mutate(seeds[k % len(seeds)])
        s = _socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        try:
            s.sendall(msg)
            s.shutdown(_socket.SHUT_WR)
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        except (ConnectionResetError, BrokenPipeError, TimeoutError):
            data = b""
        finally:
            s.close()
        if not data:
            statuses[0] = statuses.get(0, 0) + 1
            continue
        head = data.split(b"\r\n", 1)[0]
        parts = head.split(b" ")
        code = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else -1
        statuses[code] = statuses.get(code, 0) + 1
        if not head.startswith(b"HTTP/1.1 ") or code < 100 or (code >= 500 and code not in (501, 503)):
            bad.append((k, head, msg[:200]))
    TRIED.append(("parsing", f"{n} mutated requests", not bad))
    print(f"\nmutated requests: {n}, answers by status: {dict(sorted(statuses.items()))} (0 = closed)")
    assert srv.proc.poll() is None
    assert srv.client().get_object(Bucket="shared", Key="fuzz-target")["Body"].read() == b"0123456789" * 100
    assert not bad, bad[:5]
