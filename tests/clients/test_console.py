"""The web console in a real browser: Debian's headless chromium, driven by playwright-core from
tests/console/console.test.mjs (node --test), against the real keyless binary.

keyless is started with an `identity:` section trusting a test-made issuer (test_web_identity's
`Issuer`: inline JWKS, kubelet-shaped ES256 tokens) and two roles:
- `uploader` (trusts a/app): may list buckets, list `shared`, and read/write/delete only under
  `shared/uploads/` — so an upload elsewhere is denied;
- `auditor` (trusts ops/*): may only read objects; a token of a/app is refused for it by its
  trust policy, and one of ops/auditor gets in but may not list.

The node script signs in with the root keys (create bucket, upload, folders, download, delete),
with a token + role (browse, a denied upload showing AccessDenied, an allowed one, the identity
page), with bad tokens (the STS error shown), with a role that may not list, with an expired
session, and pages through a listing longer than one page. What it did is then
checked here with boto3, and docs/console/screenshots/ gets the screens of this run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from conftest import REPO, raw_request, start_server, stop_server
from test_web_identity import AUDIENCE, ISSUER, Issuer

ACCOUNT = "123456789012"
BUCKET = "shared"
PAGED = "paged"
UPLOADER_ARN = f"arn:aws:iam::{ACCOUNT}:role/uploader"
AUDITOR_ARN = f"arn:aws:iam::{ACCOUNT}:role/auditor"
CONSOLE_TESTS = REPO / "tests" / "console"
SCREENSHOTS = REPO / "docs" / "console" / "screenshots"
CHROMIUM = "/usr/bin/chromium"


def config_yaml(issuer: Issuer) -> str:
    uploader = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"},
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{BUCKET}"},
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
         "Resource": f"arn:aws:s3:::{BUCKET}/uploads/*"},
    ]}
    auditor = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"},
    ]}
    return f"""
identity:
  account_id: "{ACCOUNT}"
  issuers:
    - issuer: {ISSUER}
      jwks: '{json.dumps(issuer.jwks())}'
      audiences: [{AUDIENCE}]
  roles:
    - name: uploader
      trust: {{issuer: {ISSUER}, audience: {AUDIENCE}, service_accounts: ["a/app"]}}
      policies: ['{json.dumps(uploader)}']
    - name: auditor
      trust: {{issuer: {ISSUER}, audience: {AUDIENCE}, service_accounts: ["ops/*"]}}
      policies: ['{json.dumps(auditor)}']
"""


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    idp = Issuer()
    root = tmp_path_factory.mktemp("console")
    cfg = root / "keyless.yaml"
    cfg.write_text(config_yaml(idp))
    server = start_server(root, extra_args=("--config", str(cfg)))
    s3 = server.client()
    s3.create_bucket(Bucket=BUCKET)
    s3.create_bucket(Bucket=PAGED)
    for i in range(205):  # more than one page of the console's listing (200)
        s3.put_object(Bucket=PAGED, Key=f"many/key-{i:03d}", Body=b"x")
    server.idp = idp
    yield server
    stop_server(server)


def status_endpoint_answers(srv) -> bool:
    """Whether this build serves the status document (JSON to a root-signed GET /?x-keyless=status)."""
    resp = raw_request(srv, "GET", "/", query="x-keyless=status")
    return resp.status == 200 and resp.headers.get("content-type", "").startswith("application/json")


def run_console_script(srv, tmp_path, env_extra: dict) -> subprocess.CompletedProcess:
    node_modules = CONSOLE_TESTS / "node_modules" / "playwright-core"
    for need, what in ((Path(CHROMIUM), "chromium"), (node_modules, "playwright-core")):
        if not need.exists():
            pytest.fail(f"{what} is not installed ({need}); run scripts/install-test-deps.sh", pytrace=False)
    shots = tmp_path / "screenshots"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
        "NO_PROXY": "127.0.0.1,localhost", "CHROMIUM": CHROMIUM,
        "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",  # chromium names a download "download" when its locale cannot spell "ü"
        "KEYLESS_ENDPOINT": srv.endpoint, "ROOT_ACCESS_KEY": srv.access_key, "ROOT_SECRET_KEY": srv.secret_key,
        "BUCKET": BUCKET, "SCREENSHOT_DIR": str(shots), **env_extra,
    }
    res = subprocess.run(["node", "--test", "--test-reporter=tap", "console.test.mjs"], cwd=CONSOLE_TESTS,
                         env=env, capture_output=True, timeout=300, stdin=subprocess.DEVNULL)
    out = res.stdout.decode(errors="replace") + res.stderr.decode(errors="replace")
    if res.returncode != 0:
        pytest.fail(f"console.test.mjs failed ({res.returncode}):\n{out[-8000:]}\n"
                    f"--- keyless log ---\n{srv.log_tail(30)}", pytrace=False)
    # The screens of the last good run become the documentation's.
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for png in sorted(shots.glob("*.png")):
        shutil.copyfile(png, SCREENSHOTS / png.name)
    return res


def test_the_console_in_a_browser(srv, tmp_path):
    idp = srv.idp
    status_api = status_endpoint_answers(srv)
    res = run_console_script(srv, tmp_path, {
        "TOKEN": idp.token("a", "app"),
        "ROLE_ARN": UPLOADER_ARN,
        "AUDITOR_ROLE_ARN": AUDITOR_ARN,
        "OPS_TOKEN": idp.token("ops", "auditor"),
        "PAGED_BUCKET": PAGED,
        "WRONG_AUDIENCE_TOKEN": idp.token("a", "app", aud="someone-else"),
        "FOREIGN_TOKEN": Issuer(kid="test-key-1").token("a", "app"),
        "STATUS_API": "1" if status_api else "",
    })
    out = res.stdout.decode(errors="replace")
    assert re.search(r"^# pass 7$" if status_api else r"^# pass 6$", out, re.M) and re.search(r"^# fail 0$", out, re.M), out[-3000:]

    # What the root walk-through left: a bucket named by the script, with hello.txt kept and the
    # folder's file deleted (after its download was compared in the script).
    s3 = srv.client()
    made = [b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith("console-")]
    assert len(made) == 1, made
    assert s3.get_object(Bucket=made[0], Key="hello.txt")["Body"].read() == b"hello from the console\n"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=made[0]).get("Contents", [])] == ["hello.txt"]

    # The token walk-through: the allowed upload landed, the denied one did not.
    assert s3.get_object(Bucket=BUCKET, Key="uploads/inside.txt")["Body"].read() == b"inside the allowed prefix\n"
    with pytest.raises(ClientError):
        s3.head_object(Bucket=BUCKET, Key="outside.txt")

    shots = ["signin", "buckets", "objects", "denied", "identity", "sts-error"] + (["identity-root"] if status_api else [])
    for name in shots:
        assert (SCREENSHOTS / f"{name}.png").stat().st_size > 5000, name


def test_the_consoles_sigv4_module_against_aws_test_vectors(tmp_path):
    """crates/keyless/console/sigv4.js (pure-JS SHA-256, HMAC, SigV4) under node's test runner."""
    res = subprocess.run(["node", "--test", "--test-reporter=tap", "sigv4.test.mjs"], cwd=CONSOLE_TESTS,
                         capture_output=True, timeout=120, stdin=subprocess.DEVNULL,
                         env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)})
    out = res.stdout.decode(errors="replace")
    assert res.returncode == 0, out[-4000:] + res.stderr.decode(errors="replace")[-2000:]
    assert re.search(r"^# fail 0$", out, re.M) and int(re.search(r"^# pass (\d+)$", out, re.M)[1]) >= 13, out[-2000:]
