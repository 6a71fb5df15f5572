"""Web identity end to end: real clients get in with ONLY the pod environment.

A keyless process is started with an `identity:` section trusting a test-made issuer: an EC P-256
key generated here, published as an inline JWKS. Tokens are minted here in the kubelet's shape
(ES256, `system:serviceaccount:NS:NAME`, audience list, `kubernetes.io` claim). Then:

- boto3 and awscli v1, given only AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ENDPOINT_URL_STS,
  AWS_ENDPOINT_URL_S3 and AWS_REGION (no keys, empty config files), call STS on the S3 port, get
  temporary credentials and use S3; `aws sts get-caller-identity` names the assumed role;
- a client given only AWS_ENDPOINT_URL (the S3 endpoint) sends its STS call there and works;
- ONE role with `${keyless:namespace}` in its resources isolates namespaces: `a` writes and lists
  `shared/a/`, never `shared/b/`; DeleteObjects is decided per key;
- presigned URLs made with temporary credentials work, and stop working when the token is edited;
- hostile inputs are refused with the right code in an STS-shaped body: expired token
  (ExpiredTokenException), wrong audience (InvalidIdentityToken), trust mismatch (AccessDenied),
  and S3 requests with a tampered, missing or foreign session token.
"""

from __future__ import annotations

import base64
import http.client
import json
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from conftest import REGION, start_server, stop_server

ISSUER = "https://k8s.keyless.test"
AUDIENCE = "sts.amazonaws.com"
ACCOUNT = "123456789012"
BUCKET = "shared"
TENANTS_ARN = f"arn:aws:iam::{ACCOUNT}:role/tenants"
POD_ENV = ("AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ENDPOINT_URL_STS",
           "AWS_ENDPOINT_URL_S3", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL",
           "AWS_ROLE_SESSION_NAME")


def b64url(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


class Issuer:
    """A test OIDC issuer: one EC P-256 key, its JWKS, and kubelet-shaped tokens."""

    def __init__(self, kid: str = "test-key-1"):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.kid = kid

    def jwks(self) -> dict:
        n = self.key.public_key().public_numbers()
        return {"keys": [{"kty": "EC", "crv": "P-256", "kid": self.kid, "alg": "ES256", "use": "sig",
                          "x": b64url(n.x.to_bytes(32, "big")), "y": b64url(n.y.to_bytes(32, "big"))}]}

    def token(self, ns: str, sa: str = "app", aud: str = AUDIENCE, lifetime: int = 3600,
              iat: int | None = None) -> str:
        now = int(time.time()) if iat is None else iat
        claims = {
            "iss": ISSUER, "sub": f"system:serviceaccount:{ns}:{sa}", "aud": [aud],
            "iat": now, "nbf": now, "exp": now + lifetime, "jti": str(uuid.uuid4()),
            "kubernetes.io": {"namespace": ns,
                              "serviceaccount": {"name": sa, "uid": str(uuid.uuid4())},
                              "pod": {"name": f"{sa}-pod", "uid": str(uuid.uuid4())}},
        }
        head = b64url(json.dumps({"alg": "ES256", "kid": self.kid, "typ": "JWT"}).encode())
        body = b64url(json.dumps(claims).encode())
        der = self.key.sign(f"{head}.{body}".encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return f"{head}.{body}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def config_yaml(issuer: Issuer) -> str:
    tenants_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"],
             "Resource": f"arn:aws:s3:::{BUCKET}/${{keyless:namespace}}/*"},
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{BUCKET}",
             "Condition": {"StringLike": {"s3:prefix": "${keyless:namespace}/*"}}},
            {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"},
        ],
    }
    return identity_config(issuer, "tenants", ["a/*", "b/*"], tenants_policy)


def identity_config(issuer: Issuer, role: str, service_accounts: list, policy: dict,
                    audience: str = AUDIENCE, account: str = ACCOUNT) -> str:
    """A keyless config trusting `issuer` (inline JWKS) with one short-form role."""
    return f"""
identity:
  account_id: "{account}"
  issuers:
    - issuer: {ISSUER}
      jwks: '{json.dumps(issuer.jwks())}'
      audiences: [{audience}]
  roles:
    - name: {role}
      trust:
        issuer: {ISSUER}
        audience: {audience}
        service_accounts: {json.dumps(service_accounts)}
      policies:
        - '{json.dumps(policy)}'
"""


@pytest.fixture(scope="module")
def idp():
    return Issuer()


@pytest.fixture(scope="module")
def srv(tmp_path_factory, idp):
    root = tmp_path_factory.mktemp("web-identity")
    cfg = root / "keyless.yaml"
    cfg.write_text(config_yaml(idp))
    server = start_server(root, extra_args=("--config", str(cfg)))
    server.client().create_bucket(Bucket=BUCKET)
    yield server
    stop_server(server)


@pytest.fixture
def pod_env(monkeypatch, tmp_path, srv, idp):
    """Sets the pod environment in this process (boto3) and returns a function that also gives
    it as a dict for subprocesses; `ns` chooses the namespace of the token."""

    def make(ns: str = "a", only_s3_endpoint: bool = False, token: str | None = None) -> dict:
        token_file = tmp_path / f"token-{ns}-{uuid.uuid4().hex[:6]}"
        token_file.write_text(token or idp.token(ns))
        # botocore (boto3, awscli v1) reads the region only from AWS_DEFAULT_REGION, not AWS_REGION;
        # the EKS pod-identity webhook sets both, so a pod has both.
        env = {"AWS_ROLE_ARN": TENANTS_ARN, "AWS_WEB_IDENTITY_TOKEN_FILE": str(token_file),
               "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION}
        if only_s3_endpoint:
            env["AWS_ENDPOINT_URL"] = srv.endpoint
        else:
            env["AWS_ENDPOINT_URL_STS"] = srv.endpoint
            env["AWS_ENDPOINT_URL_S3"] = srv.endpoint
        for k in POD_ENV:
            monkeypatch.delenv(k, raising=False)
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        return env

    return make


def pod_client(service: str = "s3"):
    """A client built from the environment only: no keys, no endpoint argument."""
    return boto3.session.Session().client(
        service, config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))


def code_of(e: ClientError) -> str:
    return e.response["Error"]["Code"]


def sts_unsigned(srv):
    return boto3.session.Session().client(
        "sts", endpoint_url=srv.endpoint, region_name=REGION,
        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))


def assume(srv, token: str, role: str = TENANTS_ARN) -> dict:
    return sts_unsigned(srv).assume_role_with_web_identity(
        RoleArn=role, RoleSessionName="test-session", WebIdentityToken=token)["Credentials"]


def temp_client(srv, creds: dict, token: str | None = "same"):
    session_token = creds["SessionToken"] if token == "same" else token
    return boto3.session.Session().client(
        "s3", endpoint_url=srv.endpoint, region_name=REGION,
        aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=session_token,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))


# ---------------------------------------------------------------- getting in


def test_boto3_gets_in_with_only_the_pod_environment(srv, pod_env):
    pod_env("a")
    s3 = pod_client()
    s3.put_object(Bucket=BUCKET, Key="a/boto3.txt", Body=b"hello from a")
    assert s3.get_object(Bucket=BUCKET, Key="a/boto3.txt")["Body"].read() == b"hello from a"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="a/").get("Contents", [])]
    assert "a/boto3.txt" in keys
    # ListBuckets (GET / without Action) is still S3, not STS.
    assert BUCKET in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    ident = pod_client("sts").get_caller_identity()
    assert ident["Account"] == ACCOUNT
    assert ident["Arn"].startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/tenants/")


def test_awscli_v1_gets_in_with_only_the_pod_environment(srv, pod_env, client_env, tmp_path):
    env = dict(client_env)
    env.update(pod_env("b"))
    src = tmp_path / "cli.txt"
    src.write_bytes(b"hello from the cli")

    def aws(*args):
        return subprocess.run(["aws", *args], env=env, capture_output=True, text=True, timeout=120)

    r = aws("s3", "cp", str(src), f"s3://{BUCKET}/b/cli.txt")
    assert r.returncode == 0, r.stderr
    r = aws("s3", "ls", f"s3://{BUCKET}/b/")
    assert r.returncode == 0 and "cli.txt" in r.stdout, r.stderr
    r = aws("sts", "get-caller-identity", "--output", "json")
    assert r.returncode == 0, r.stderr
    ident = json.loads(r.stdout)
    assert ident["Arn"].startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/tenants/"), ident
    r = aws("s3", "cp", str(src), f"s3://{BUCKET}/a/not-mine.txt")
    assert r.returncode != 0 and "AccessDenied" in r.stderr, r.stderr


def test_a_client_given_only_the_s3_endpoint_sends_sts_there(srv, pod_env):
    pod_env("a", only_s3_endpoint=True)
    s3 = pod_client()
    s3.put_object(Bucket=BUCKET, Key="a/one-endpoint.txt", Body=b"x")
    assert pod_client("sts").get_caller_identity()["Account"] == ACCOUNT


# ---------------------------------------------------------------- policies


def test_one_role_isolates_namespaces(srv, pod_env):
    pod_env("a")
    s3 = pod_client()
    s3.put_object(Bucket=BUCKET, Key="a/mine.txt", Body=b"mine")
    for call in (lambda: s3.put_object(Bucket=BUCKET, Key="b/theirs.txt", Body=b"x"),
                 lambda: s3.list_objects_v2(Bucket=BUCKET, Prefix="b/"),
                 lambda: s3.list_objects_v2(Bucket=BUCKET),
                 lambda: s3.create_bucket(Bucket="not-allowed-bucket")):
        with pytest.raises(ClientError) as e:
            call()
        assert code_of(e.value) == "AccessDenied"
        assert "does not allow" in e.value.response["Error"]["Message"] or "Access Denied" in \
            e.value.response["Error"]["Message"]
    # What b wrote, a cannot read.
    srv.client().put_object(Bucket=BUCKET, Key="b/secret.txt", Body=b"b only")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=BUCKET, Key="b/secret.txt")
    assert code_of(e.value) == "AccessDenied"


def test_delete_objects_is_decided_per_key(srv, pod_env):
    srv.client().put_object(Bucket=BUCKET, Key="b/keep.txt", Body=b"b")
    pod_env("a")
    s3 = pod_client()
    s3.put_object(Bucket=BUCKET, Key="a/gone.txt", Body=b"a")
    out = s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "a/gone.txt"}, {"Key": "b/keep.txt"}]})
    assert [d["Key"] for d in out.get("Deleted", [])] == ["a/gone.txt"]
    assert [(e["Key"], e["Code"]) for e in out.get("Errors", [])] == [("b/keep.txt", "AccessDenied")]
    root = srv.client()
    root.head_object(Bucket=BUCKET, Key="b/keep.txt")
    with pytest.raises(ClientError):
        root.head_object(Bucket=BUCKET, Key="a/gone.txt")
    # Root's own DeleteObjects (POST /bucket?delete) is untouched by STS routing.
    root.put_object(Bucket=BUCKET, Key="root.txt", Body=b"r")
    assert root.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "root.txt"}]})["Deleted"]


def test_presigned_urls_with_temporary_credentials(srv, idp):
    creds = assume(srv, idp.token("a"))
    s3 = temp_client(srv, creds)
    s3.put_object(Bucket=BUCKET, Key="a/presigned.txt", Body=b"presigned body")
    for sig in ("s3v4", "s3"):
        c = boto3.session.Session().client(
            "s3", endpoint_url=srv.endpoint, region_name=REGION,
            aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            config=Config(signature_version=sig, s3={"addressing_style": "path"}))
        url = c.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "a/presigned.txt"},
                                       ExpiresIn=300)
        with urllib.request.urlopen(url, timeout=30) as r:
            assert r.read() == b"presigned body", sig
        token = creds["SessionToken"]
        bad = token[:40] + ("A" if token[40] != "A" else "B") + token[41:]
        tampered = url.replace(urllib.parse.quote(token, safe=""), urllib.parse.quote(bad, safe=""))
        assert tampered != url, sig
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(tampered, timeout=30)
        assert e.value.code in (400, 403), sig


# ---------------------------------------------------------------- hostile


@pytest.mark.parametrize("case,code", [
    ("expired", "ExpiredTokenException"),
    ("wrong audience", "InvalidIdentityToken"),
    ("trust mismatch", "AccessDenied"),
    ("unknown role", "AccessDenied"),
    ("foreign key", "InvalidIdentityToken"),
    ("garbage", "InvalidIdentityToken"),
])
def test_sts_refusals_have_the_right_code(srv, idp, case, code):
    now = int(time.time())
    token, role = {
        "expired": (idp.token("a", iat=now - 7200, lifetime=600), TENANTS_ARN),
        "wrong audience": (idp.token("a", aud="someone-else"), TENANTS_ARN),
        "trust mismatch": (idp.token("z"), TENANTS_ARN),
        "unknown role": (idp.token("a"), f"arn:aws:iam::{ACCOUNT}:role/nope"),
        "foreign key": (Issuer(kid="test-key-1").token("a"), TENANTS_ARN),
        "garbage": ("not.a.jwt", TENANTS_ARN),
    }[case]
    with pytest.raises(ClientError) as e:
        assume(srv, token, role)
    assert code_of(e.value) == code, e.value.response
    assert "Unknown" not in str(e.value)


def test_sts_error_bodies_are_sts_shaped(srv, idp):
    body = urllib.parse.urlencode({"Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15",
                                   "RoleArn": TENANTS_ARN, "RoleSessionName": "raw",
                                   "WebIdentityToken": idp.token("a", aud="nope")})
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    conn.request("POST", "/", body=body,
                 headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    resp = conn.getresponse()
    text = resp.read().decode()
    assert resp.status == 400
    assert text.startswith('<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'), text
    assert "<Code>InvalidIdentityToken</Code>" in text and "<Type>Sender</Type>" in text
    assert resp.getheader("x-amzn-RequestId")
    # The same call as GET /?Action=... works too.
    good = urllib.parse.urlencode({"Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15",
                                   "RoleArn": TENANTS_ARN, "RoleSessionName": "viaget",
                                   "WebIdentityToken": idp.token("a")})
    conn.request("GET", "/?" + good)
    resp = conn.getresponse()
    text = resp.read().decode()
    assert resp.status == 200 and "<AccessKeyId>ASIA" in text, text
    conn.close()


def test_s3_requests_with_bad_session_tokens_are_refused(srv, idp):
    creds = assume(srv, idp.token("a"))
    other = assume(srv, idp.token("a"))
    token = creds["SessionToken"]
    mid = len(token) // 2
    tampered = token[:mid] + ("A" if token[mid] != "A" else "B") + token[mid + 1:]
    for name, session_token, want in [
        ("tampered", tampered, "InvalidToken"),
        ("another session's", other["SessionToken"], "InvalidToken"),
        ("truncated", token[:30], "InvalidToken"),
        ("missing", None, "InvalidAccessKeyId"),
    ]:
        with pytest.raises(ClientError) as e:
            temp_client(srv, creds, session_token).put_object(Bucket=BUCKET, Key="a/x.txt", Body=b"x")
        assert code_of(e.value) == want, (name, e.value.response)
    # A valid token with the wrong secret fails the signature.
    bad_secret = dict(creds, SecretAccessKey=other["SecretAccessKey"])
    with pytest.raises(ClientError) as e:
        temp_client(srv, bad_secret).put_object(Bucket=BUCKET, Key="a/x.txt", Body=b"x")
    assert code_of(e.value) == "SignatureDoesNotMatch"
    # GetCallerIdentity with a tampered token is refused with an STS-shaped error.
    sts = boto3.session.Session().client(
        "sts", endpoint_url=srv.endpoint, region_name=REGION,
        aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=tampered, config=Config(retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as e:
        sts.get_caller_identity()
    assert code_of(e.value) == "InvalidClientTokenId", e.value.response
    # And the untouched credentials still work.
    temp_client(srv, creds).put_object(Bucket=BUCKET, Key="a/x.txt", Body=b"x")


def test_root_get_caller_identity(srv):
    sts = boto3.session.Session().client(
        "sts", endpoint_url=srv.endpoint, region_name=REGION,
        aws_access_key_id=srv.access_key, aws_secret_access_key=srv.secret_key)
    ident = sts.get_caller_identity()
    assert ident["Arn"] == f"arn:aws:iam::{ACCOUNT}:root"
