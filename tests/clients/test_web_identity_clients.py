"""Web identity end to end with more real clients: aws-sdk-js v3, rclone and litestream 0.5.

Like test_web_identity.py (whose test issuer this reuses: an EC P-256 key published as an inline
JWKS, kubelet-shaped ES256 tokens), each client here is given ONLY the pod environment that the
EKS pod-identity webhook plus a keyless deployment would give a pod:

    AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL_S3,
    AWS_REGION, AWS_DEFAULT_REGION

and a hermetic rest (HOME in tmp, empty AWS config and credential files, instance metadata off, no
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY anywhere). No client is given a key; each has to run its
own default credential chain, find the token file, call AssumeRoleWithWebIdentity on keyless's S3
port and sign S3 requests with the temporary credentials it got.

- aws-sdk-js v3 (tests/clients/js/web_identity.mjs): the default Node provider chain; put, get,
  list, GetCallerIdentity names the assumed role; a write outside the role's prefix is refused.
- rclone (aws-sdk-go-v2 underneath): an `env_auth = true` s3 remote with no keys; a small tree goes
  up and comes back byte-exact.
- litestream 0.5 (aws-sdk-go-v2 underneath): replicates a live SQLite database to keyless, and
  restores it, with only the pod environment; the restored rows equal the written rows.

The aws-sdk-rust client and expired temporary credentials are in
crates/keyless/tests/web_identity_sdk.rs.
"""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from conftest import REGION, REPO, run, start_server, stop_server, system_tool, tree_digest, \
    venv_tool, write_file
from test_web_identity import ACCOUNT, AUDIENCE, ISSUER, Issuer, identity_config

BUCKET = "pods"
NAMESPACE = "apps"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/apps"
JS_DIR = REPO / "tests" / "clients" / "js"


def config_yaml(issuer: Issuer) -> str:
    """One role for the service accounts of namespace `apps`: read/write under `apps/` of the bucket
    (through a policy variable), list the bucket, nothing else."""
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow",
             "Action": ["s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:AbortMultipartUpload",
                        "s3:ListMultipartUploadParts"],
             "Resource": f"arn:aws:s3:::{BUCKET}/${{keyless:namespace}}/*"},
            {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
             "Resource": f"arn:aws:s3:::{BUCKET}"},
            {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"},
        ],
    }
    return identity_config(issuer, "apps", [f"{NAMESPACE}/*"], policy)


@pytest.fixture(scope="module")
def idp():
    return Issuer()


@pytest.fixture(scope="module")
def srv(tmp_path_factory, idp):
    root = tmp_path_factory.mktemp("web-identity-clients")
    cfg = root / "keyless.yaml"
    cfg.write_text(config_yaml(idp))
    server = start_server(root, extra_args=("--config", str(cfg)))
    server.client().create_bucket(Bucket=BUCKET)
    yield server
    stop_server(server)


@pytest.fixture
def pod_env(client_env, tmp_path, srv, idp):
    """client_env (hermetic, no AWS_* inherited) plus exactly the pod environment."""
    token_file = tmp_path / "token"
    token_file.write_text(idp.token(NAMESPACE, sa="app"))
    env = dict(client_env)
    assert not any(k in env for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                      "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_CA_BUNDLE"))
    env.update({
        "AWS_ROLE_ARN": ROLE_ARN,
        "AWS_WEB_IDENTITY_TOKEN_FILE": str(token_file),
        "AWS_ENDPOINT_URL_STS": srv.endpoint,
        "AWS_ENDPOINT_URL_S3": srv.endpoint,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
    })
    return env


def assumed_sessions(srv) -> list[str]:
    """The RoleSessionName of every successful AssumeRoleWithWebIdentity in the server's log, in
    order: proof that a client really went through STS (and which SDK it was, by its default
    session name)."""
    text = srv.log_path.read_text(errors="replace")
    return [m.group(1) for m in re.finditer(r"STS: role assumed .*?\bsession=(\S+)", text)]


def new_sessions(srv, before: list[str]) -> list[str]:
    return assumed_sessions(srv)[len(before):]


def root_keys(srv, prefix: str) -> list[str]:
    out = []
    for page in srv.client().get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        out += [o["Key"] for o in page.get("Contents", [])]
    return out


# ---------------------------------------------------------------- aws-sdk-js v3


def test_aws_sdk_js_v3_default_chain_with_only_the_pod_environment(srv, pod_env):
    node = system_tool("node")
    if not (JS_DIR / "node_modules" / "@aws-sdk" / "client-s3").is_dir():
        pytest.fail("tests/clients/js is not installed; run scripts/install-test-deps.sh", pytrace=False)
    key = f"{NAMESPACE}/js/hello-{uuid.uuid4().hex[:8]}.txt"
    before = assumed_sessions(srv)
    res = run([node, str(JS_DIR / "web_identity.mjs"), BUCKET, key, "hello from aws-sdk-js v3"],
              env=pod_env, timeout=120, cwd=str(JS_DIR))
    out = json.loads(res.stdout.decode().strip().splitlines()[-1])
    # The chain found the token file and got temporary (ASIA..., session token) credentials.
    assert out["credentials"]["accessKeyIdPrefix"] == "ASIA", out
    assert out["credentials"]["hasSessionToken"] and out["credentials"]["expiration"], out
    assert out["put"]["status"] == 200 and out["put"]["etag"], out
    assert out["get"] == {"status": 200, "body": "hello from aws-sdk-js v3"}, out
    assert key in out["list"], out
    ident = out["callerIdentity"]
    assert ident["Account"] == ACCOUNT, out
    assert ident["Arn"].startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/apps/aws-sdk-js-session-"), out
    # Outside the role's prefix: refused, as AccessDenied.
    assert out["denied"] == {"name": "AccessDenied", "status": 403}, out
    # What it wrote is really there.
    got = srv.client().get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert got == b"hello from aws-sdk-js v3"
    # It got there through keyless's STS, with aws-sdk-js's default session name.
    sessions = new_sessions(srv, before)
    assert sessions and all(n.startswith("aws-sdk-js-session-") for n in sessions), sessions


# ---------------------------------------------------------------- rclone


def test_rclone_env_auth_with_only_the_pod_environment(srv, pod_env, tmp_path):
    rclone = venv_tool("rclone")
    conf = tmp_path / "rclone.conf"
    conf.write_text(
        "[keyless]\n"
        "type = s3\n"
        "provider = Other\n"
        "env_auth = true\n"
        f"endpoint = {srv.endpoint}\n"
        f"region = {REGION}\n"
        "force_path_style = true\n"
    )
    assert "access_key_id" not in conf.read_text()
    src = tmp_path / "src"
    files = {"a.txt": 10, "dir/b.bin": 70_000, "dir/sub/c.bin": 6 * 1024 * 1024 + 3, "empty": 0,
             "with space/d e.txt": 123}
    for i, (rel, size) in enumerate(files.items()):
        write_file(src / rel, size, seed=100 + i)
    want = tree_digest(src)
    env = dict(pod_env)
    env.pop("AWS_CA_BUNDLE", None)  # as `env -u AWS_CA_BUNDLE`: client_env has already scrubbed it
    remote = f"keyless:{BUCKET}/{NAMESPACE}/rclone"
    base = [rclone, "--config", str(conf), "--retries", "1", "--low-level-retries", "2"]
    before = assumed_sessions(srv)
    run([*base, "copy", str(src), remote], env=env, timeout=300)
    listed = sorted(k.removeprefix(f"{NAMESPACE}/rclone/") for k in root_keys(srv, f"{NAMESPACE}/rclone/"))
    assert listed == sorted(files), listed
    back = tmp_path / "back"
    run([*base, "copy", remote, str(back)], env=env, timeout=300)
    assert tree_digest(back) == want
    run([*base, "check", str(src), remote], env=env, timeout=300)
    # Each rclone run assumed the role through keyless's STS; aws-sdk-go-v2 names the session
    # with UnixNano().
    sessions = new_sessions(srv, before)
    assert len(sessions) >= 3 and all(n.isdigit() for n in sessions), sessions
    # The role's prefix is all it gets: outside it, rclone's first request (a HEAD, so no error
    # body and no code, just the status) is refused, and nothing is written.
    res = run([*base, "copyto", str(src / "a.txt"), f"keyless:{BUCKET}/elsewhere/a.txt"], env=env,
              timeout=120, check=False)
    assert res.returncode != 0 and b"StatusCode: 403" in res.stderr, res.stderr.decode()[-2000:]
    assert root_keys(srv, "elsewhere/") == []


# ---------------------------------------------------------------- litestream 0.5


def litestream_config(path: Path, db: Path, srv, replica_path: str) -> None:
    # litestream 0.5's keys (checked against the yaml tags in the binary): a `replica:` per db,
    # `force-path-style`, `sync-interval`; no access-key-id / secret-access-key, so its S3 client
    # uses aws-sdk-go-v2's default chain.
    path.write_text(f"""
dbs:
  - path: {db}
    replica:
      type: s3
      bucket: {BUCKET}
      path: {replica_path}
      endpoint: {srv.endpoint}
      region: {REGION}
      force-path-style: true
      sync-interval: 1s
""")


def insert_rows(db: Path, start: int, n: int) -> None:
    """Appends rows `start..start+n` to table `t` of a WAL-mode SQLite database (litestream's mode)."""
    con = sqlite3.connect(db)
    try:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        con.executemany("INSERT INTO t (id, body) VALUES (?, ?)",
                        [(i, f"row {i} " + "x" * (i % 97)) for i in range(start, start + n)])
        con.commit()
    finally:
        con.close()


def all_rows(db: Path) -> list:
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT id, body FROM t ORDER BY id").fetchall()
    finally:
        con.close()


def wait_for(pred, timeout: float, what: str, proc=None, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.3)
    tail = log.read_text(errors="replace")[-4000:] if log and log.exists() else ""
    pytest.fail(f"timed out waiting for {what}\n--- litestream log ---\n{tail}", pytrace=False)


def test_litestream_replicates_and_restores_with_only_the_pod_environment(srv, pod_env, tmp_path):
    litestream = venv_tool("litestream")
    env = dict(pod_env)
    res = run([litestream, "version"], env=env, timeout=30)
    assert res.stdout.decode().strip().startswith(("0.5.", "v0.5.")), res.stdout
    db = tmp_path / "app.db"
    insert_rows(db, 1, 200)
    replica_path = f"{NAMESPACE}/litestream/app.db"
    cfg = tmp_path / "litestream.yml"
    litestream_config(cfg, db, srv, replica_path)
    log = tmp_path / "litestream.log"
    before = assumed_sessions(srv)
    with open(log, "wb") as lf:
        proc = subprocess.Popen([litestream, "replicate", "-config", str(cfg)], env=env,
                                stdout=lf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    try:
        wait_for(lambda: root_keys(srv, replica_path + "/"), 60, "the first replica objects", proc, log)
        first = set(root_keys(srv, replica_path + "/"))
        insert_rows(db, 201, 300)
        wait_for(lambda: set(root_keys(srv, replica_path + "/")) - first, 60,
                 "replica objects for the second batch of rows", proc, log)
        # Give the sync loop one more interval to finish what it is doing.
        time.sleep(2.5)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    text = log.read_text(errors="replace")
    assert "AccessDenied" not in text and "NoCredentialProviders" not in text, text[-4000:]
    restored = tmp_path / "restored.db"
    run([litestream, "restore", "-config", str(cfg), "-o", str(restored), str(db)], env=env, timeout=120)
    # replicate and restore both assumed the role through keyless's STS (aws-sdk-go-v2 session
    # names: UnixNano()).
    sessions = new_sessions(srv, before)
    assert len(sessions) >= 2 and all(n.isdigit() for n in sessions), sessions
    want = all_rows(db)
    assert len(want) == 500
    assert all_rows(restored) == want
