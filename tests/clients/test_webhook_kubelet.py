"""The webhook's mutated pod, run as kubelet would run it, reaches keyless with no key.

Pieces, all on 127.0.0.1:
- keyless (start_server) with an identity config: a test ES256 issuer published as an inline JWKS,
  a role `apps` trusting `system:serviceaccount:apps:db` with audience `keyless`, read/write on
  bucket `pods` under `${keyless:namespace}/`.
- a tiny fake Kubernetes API (http.server + ssl) answering LIST / WATCH / GET of ServiceAccounts
  with objects shaped like kube-apiserver's; `apps/db` is annotated `keyless.io/role-arn: apps`.
- `keyless webhook` over TLS (a throwaway CA and serving cert made here with `cryptography`), told
  keyless's endpoint and account id, reaching the fake API through a kubeconfig with a bearer token.

The litestream StatefulSet AdmissionReview fixture (a `restore` initContainer and a `replicate`
sidecar) is POSTed to /mutate over TLS and its JSONPatch applied. Then the test plays kubelet: for
each container, initContainers first, it takes the injected env (plain values only), finds the
projected serviceAccountToken volume and its mount, writes a token for system:serviceaccount:apps:db
with the volume's audience and expirationSeconds at <tmp root>/<mountPath>/token, and runs the
container's role as a local process with exactly that environment (plus PATH and a tmp HOME; no AWS
keys, empty AWS config, metadata off): litestream restore (nothing yet: succeeds), litestream
replicate until objects appear, awscli v1 (s3 ls, sts get-caller-identity naming role `apps`), and
restore again into a new file whose rows equal the written ones.
"""

from __future__ import annotations

import base64
import copy
import datetime
import http.client
import http.server
import ipaddress
import json
import os
import re
import signal
import ssl
import subprocess
import threading
import time
import urllib.parse
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import REPO, run, start_server, stop_server, venv_tool
from test_web_identity import ISSUER, Issuer, identity_config
from test_web_identity_clients import all_rows, insert_rows

ACCOUNT = "123456789012"
AUDIENCE = "keyless"
BUCKET = "pods"
NAMESPACE = "apps"
SA = "db"
API_TOKEN = "fake-apiserver-token"
FIXTURE = REPO / "crates" / "webhook" / "tests" / "data" / "statefulset-litestream-pod.json"

pytestmark = pytest.mark.timeout(120)


# ---------------------------------------------------------------- a throwaway CA


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


class ThrowawayCa:
    def __init__(self):
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (x509.CertificateBuilder().subject_name(_name("keyless test CA"))
                     .issuer_name(_name("keyless test CA")).public_key(self.key.public_key())
                     .serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(minutes=5))
                     .not_valid_after(now + datetime.timedelta(hours=1))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                                  content_commitment=False, key_encipherment=False,
                                                  data_encipherment=False, key_agreement=False,
                                                  encipher_only=False, decipher_only=False), critical=True)
                     .sign(self.key, hashes.SHA256()))

    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def leaf(self, cn: str, d: Path) -> tuple[Path, Path]:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(self.cert.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(hours=1))
                .add_extension(x509.SubjectAlternativeName([
                    x509.DNSName("localhost"), x509.DNSName(cn),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                               critical=False)
                .sign(self.key, hashes.SHA256()))
        crt, k = d / f"{cn}.crt", d / f"{cn}.key"
        crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        k.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()))
        return crt, k


# ---------------------------------------------------------------- a fake Kubernetes API


def service_account(ns: str, name: str, annotations: dict, rv: int) -> dict:
    meta = {"name": name, "namespace": ns, "uid": f"5b1f0c3e-0000-4000-8000-{rv:012d}",
            "resourceVersion": str(rv), "creationTimestamp": "2026-11-28T10:00:00Z"}
    if annotations:
        meta["annotations"] = annotations
    return {"kind": "ServiceAccount", "apiVersion": "v1", "metadata": meta}


class FakeApi:
    """LIST, WATCH (held open, no events) and GET of ServiceAccounts, bearer-token auth."""

    def __init__(self, ca: ThrowawayCa, d: Path):
        self.accounts = {(NAMESPACE, SA): service_account(NAMESPACE, SA, {"keyless.io/role-arn": "apps"}, 101),
                         (NAMESPACE, "default"): service_account(NAMESPACE, "default", {}, 102)}
        self.requests: list[str] = []
        self.stop = threading.Event()
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def send_json(self, code: int, obj: dict):
                body = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                api.requests.append(self.path)
                if self.headers.get("Authorization") != f"Bearer {API_TOKEN}":
                    return self.send_json(401, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                                "status": "Failure", "message": "Unauthorized",
                                                "reason": "Unauthorized", "code": 401})
                url = urllib.parse.urlsplit(self.path)
                q = urllib.parse.parse_qs(url.query)
                parts = url.path.strip("/").split("/")
                if parts == ["api", "v1", "serviceaccounts"]:
                    if q.get("watch", [""])[0] in ("1", "true"):
                        self.send_response(200)
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Transfer-Encoding", "chunked")
                        self.end_headers()
                        self.wfile.flush()
                        limit = time.monotonic() + float(q.get("timeoutSeconds", ["290"])[0])
                        while not api.stop.is_set() and time.monotonic() < limit:
                            api.stop.wait(0.2)
                        try:
                            self.wfile.write(b"0\r\n\r\n")
                        except OSError:
                            pass
                        return
                    items = []
                    for sa in api.accounts.values():
                        item = {k: v for k, v in sa.items() if k not in ("kind", "apiVersion")}
                        items.append(item)
                    return self.send_json(200, {"kind": "ServiceAccountList", "apiVersion": "v1",
                                                "metadata": {"resourceVersion": "102"}, "items": items})
                if len(parts) == 6 and parts[:3] == ["api", "v1", "namespaces"] and parts[4] == "serviceaccounts":
                    sa = api.accounts.get((parts[3], parts[5]))
                    if sa:
                        return self.send_json(200, sa)
                    return self.send_json(404, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                                "status": "Failure", "reason": "NotFound", "code": 404,
                                                "message": f'serviceaccounts "{parts[5]}" not found'})
                return self.send_json(404, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                            "status": "Failure", "reason": "NotFound", "code": 404,
                                            "message": "the server could not find the requested resource"})

        crt, key = ca.leaf("kube-apiserver", d)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(crt, key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def kubeconfig(self, ca: ThrowawayCa, path: Path) -> Path:
        path.write_text(
            "apiVersion: v1\nkind: Config\ncurrent-context: test\nclusters:\n- name: fake\n  cluster:\n"
            f"    server: https://127.0.0.1:{self.port}\n"
            f"    certificate-authority-data: {base64.b64encode(ca.pem()).decode()}\n"
            "contexts:\n- name: test\n  context:\n    cluster: fake\n    user: webhook\n"
            f"users:\n- name: webhook\n  user:\n    token: {API_TOKEN}\n")
        return path

    def close(self):
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


# ---------------------------------------------------------------- keyless and its webhook


def config_yaml(issuer: Issuer) -> str:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow",
             "Action": ["s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:AbortMultipartUpload",
                        "s3:ListMultipartUploadParts"],
             "Resource": f"arn:aws:s3:::{BUCKET}/${{keyless:namespace}}/*"},
            {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
             "Resource": f"arn:aws:s3:::{BUCKET}"},
        ],
    }
    return identity_config(issuer, "apps", [f"{NAMESPACE}/{SA}"], policy, audience=AUDIENCE, account=ACCOUNT)


def keyless_bin() -> str:
    return os.environ.get("KEYLESS_BIN") or str(REPO / "target" / "debug" / "keyless")


class Webhook:
    def __init__(self, d: Path, kubeconfig: Path, ca: ThrowawayCa, endpoint: str):
        crt, key = ca.leaf("keyless-webhook", d)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KEYLESS_", "AWS_"))}
        self.log = d / "webhook.log"
        self.logf = open(self.log, "wb")
        self.proc = subprocess.Popen(
            [keyless_bin(), "webhook", "--listen", "127.0.0.1:0", "--tls-cert", str(crt),
             "--tls-key", str(key), "--kubeconfig", str(kubeconfig), "--endpoint", endpoint,
             "--account-id", ACCOUNT],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.logf)
        first = self.proc.stdout.readline().decode().strip()
        m = re.fullmatch(r"keyless webhook listening on https://(\S+):(\d+)", first)
        assert m, f"first line {first!r}; log:\n{self.log.read_text(errors='replace')}"
        self.port = int(m.group(2))
        self.ctx = ssl.create_default_context(cadata=ca.pem().decode())

    def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=10)
        try:
            conn.request(method, path, body=body or None,
                         headers={"Content-Type": "application/json"} if body else {})
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def wait_ready(self):
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                if self.request("GET", "/readyz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        pytest.fail(f"webhook not ready; log:\n{self.log.read_text(errors='replace')}", pytrace=False)

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()


# ---------------------------------------------------------------- JSONPatch (the ops the webhook sends)


def _pointer(path: str) -> list[str]:
    assert path.startswith("/"), path
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def apply_patch(doc: dict, ops: list[dict]) -> dict:
    doc = copy.deepcopy(doc)
    for op in ops:
        assert op["op"] == "add", op  # the webhook only adds
        *parents, last = _pointer(op["path"])
        target = doc
        for p in parents:
            target = target[int(p)] if isinstance(target, list) else target[p]
        if isinstance(target, list):
            if last == "-":
                target.append(op["value"])
            else:
                target.insert(int(last), op["value"])
        else:
            target[last] = op["value"]
    return doc


# ---------------------------------------------------------------- the test


def keys_under(srv, prefix: str) -> list[str]:
    resp = srv.client().list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return [o["Key"] for o in resp.get("Contents", [])]


def sessions(srv) -> list[str]:
    """RoleSessionName of every successful AssumeRoleWithWebIdentity in keyless's log."""
    return re.findall(r"STS: role assumed .*?\bsession=(\S+)", srv.log_path.read_text(errors="replace"))


def test_mutated_litestream_pod_played_as_kubelet_reaches_keyless_with_no_key(tmp_path):
    idp = Issuer()
    cfg = tmp_path / "keyless.yaml"
    cfg.write_text(config_yaml(idp))
    (tmp_path / "keyless").mkdir()
    srv = start_server(tmp_path / "keyless", extra_args=("--config", str(cfg)))
    ca = ThrowawayCa()
    api = FakeApi(ca, tmp_path)
    webhook = None
    try:
        srv.client().create_bucket(Bucket=BUCKET)
        webhook = Webhook(tmp_path, api.kubeconfig(ca, tmp_path / "kubeconfig"), ca, srv.endpoint)
        webhook.wait_ready()

        # ---- admission over TLS
        review = json.loads(FIXTURE.read_text())
        review["request"]["object"]["spec"]["serviceAccountName"] = SA
        review["request"]["object"]["spec"]["serviceAccount"] = SA
        status, body = webhook.request("POST", "/mutate", json.dumps(review).encode())
        assert status == 200, body
        out = json.loads(body)
        assert out["apiVersion"] == "admission.k8s.io/v1" and out["kind"] == "AdmissionReview", out
        resp = out["response"]
        assert resp["uid"] == review["request"]["uid"] and resp["allowed"] is True, resp
        assert resp["patchType"] == "JSONPatch", resp
        pod = apply_patch(review["request"]["object"], json.loads(base64.b64decode(resp["patch"])))
        # The webhook listed then watched ServiceAccounts (kube's reflector) and found apps/db in that
        # cache: no single GET was needed.
        assert api.requests[0].startswith("/api/v1/serviceaccounts?") and "watch" not in api.requests[0], \
            api.requests
        deadline = time.monotonic() + 5
        while not any("watch=true" in r for r in api.requests) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert any("watch=true" in r for r in api.requests), api.requests
        assert not any("/namespaces/" in r for r in api.requests), api.requests

        # ---- play kubelet
        root = tmp_path / "node"
        spec = pod["spec"]
        volumes = {v["name"]: v for v in spec["volumes"]}

        def container_env(c: dict) -> dict:
            """The container's env as kubelet would give it (plain values only), the token written
            where its projected serviceAccountToken volume is mounted, paths rebased onto root."""
            env = {e["name"]: e["value"] for e in c.get("env", []) if "value" in e}
            token_mount = None
            for m in c.get("volumeMounts", []):
                v = volumes.get(m["name"], {})
                for src in v.get("projected", {}).get("sources", []):
                    sat = src.get("serviceAccountToken")
                    if sat and sat.get("audience"):  # kube-api-access has no audience: the apiserver's
                        token_mount = (m, sat)
            assert token_mount, f"{c['name']}: no projected token with an audience is mounted"
            m, sat = token_mount
            assert m.get("readOnly") is True, m
            assert sat["audience"] == AUDIENCE, sat
            token_dir = root / m["mountPath"].lstrip("/")
            token_dir.mkdir(parents=True, exist_ok=True)
            (token_dir / sat["path"]).write_text(
                idp.token(NAMESPACE, sa=SA, aud=sat["audience"], lifetime=int(sat["expirationSeconds"])))
            tf = env["AWS_WEB_IDENTITY_TOKEN_FILE"]
            assert tf == m["mountPath"].rstrip("/") + "/" + sat["path"], (tf, m)
            env["AWS_WEB_IDENTITY_TOKEN_FILE"] = str(root / tf.lstrip("/"))
            assert env["AWS_ROLE_ARN"] == f"arn:aws:iam::{ACCOUNT}:role/apps", env
            assert env["AWS_ENDPOINT_URL_STS"] == env["AWS_ENDPOINT_URL_S3"] == srv.endpoint, env
            home = tmp_path / "home" / c["name"]
            home.mkdir(parents=True, exist_ok=True)
            (home / "aws-config").write_text("")
            env.update({"PATH": str(Path(venv_tool("aws")).parent) + ":/usr/bin:/bin", "HOME": str(home),
                        "AWS_CONFIG_FILE": str(home / "aws-config"),
                        "AWS_SHARED_CREDENTIALS_FILE": str(home / "aws-config"),
                        "AWS_EC2_METADATA_DISABLED": "true"})
            assert not any(k in env for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                              "AWS_SESSION_TOKEN", "AWS_PROFILE"))
            return env

        containers = {c["name"]: c for c in spec.get("initContainers", []) + spec["containers"]}
        order = [c["name"] for c in spec.get("initContainers", [])] + [c["name"] for c in spec["containers"]]
        assert order[:2] == ["restore", "litestream"], order
        envs = {name: container_env(containers[name]) for name in order}

        litestream = venv_tool("litestream")
        db = root / "data" / "db.sqlite"
        db.parent.mkdir(parents=True, exist_ok=True)
        ls_cfg = root / "etc" / "litestream.yml"
        ls_cfg.parent.mkdir(parents=True, exist_ok=True)

        def write_ls_config(env: dict, path: Path) -> None:
            # The ConfigMap the pod mounts at /etc/litestream.yml; the endpoint is the injected one.
            path.write_text(f"""
dbs:
  - path: {db}
    replica:
      type: s3
      bucket: {BUCKET}
      path: {NAMESPACE}/{SA}
      endpoint: {env['AWS_ENDPOINT_URL_S3']}
      region: {env['AWS_REGION']}
      force-path-style: true
      sync-interval: 1s
""")

        # restore initContainer, first boot: no replica yet, must succeed and create nothing.
        restore = containers["restore"]
        assert restore["args"][0] == "restore" and "-if-replica-exists" in restore["args"], restore
        write_ls_config(envs["restore"], ls_cfg)
        before = len(sessions(srv))
        run([litestream, "restore", "-config", str(ls_cfg), "-if-db-not-exists", "-if-replica-exists",
             str(db)], env=envs["restore"], timeout=30)
        assert not db.exists()
        assert len(sessions(srv)) > before, "restore went through keyless's STS"

        # replicate sidecar.
        assert containers["litestream"]["args"] == ["replicate"]
        insert_rows(db, 1, 100)
        before = len(sessions(srv))
        log = tmp_path / "replicate.log"
        with open(log, "wb") as lf:
            proc = subprocess.Popen([litestream, "replicate", "-config", str(ls_cfg)], env=envs["litestream"],
                                    stdout=lf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
        try:
            deadline = time.monotonic() + 30
            while not keys_under(srv, f"{NAMESPACE}/{SA}/") and time.monotonic() < deadline \
                    and proc.poll() is None:
                time.sleep(0.3)
            first = set(keys_under(srv, f"{NAMESPACE}/{SA}/"))
            assert first, log.read_text(errors="replace")[-4000:]
            insert_rows(db, 101, 50)
            deadline = time.monotonic() + 20
            while not (set(keys_under(srv, f"{NAMESPACE}/{SA}/")) - first) and time.monotonic() < deadline:
                time.sleep(0.3)
            time.sleep(2.5)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        text = log.read_text(errors="replace")
        assert "AccessDenied" not in text and "NoCredentialProviders" not in text, text[-4000:]
        assert len(sessions(srv)) > before, "replicate went through keyless's STS"

        # awscli v1 with the app container's environment.
        aws = venv_tool("aws")
        env = envs["app"]
        before = len(sessions(srv))
        res = run([aws, "s3", "ls", f"s3://{BUCKET}/{NAMESPACE}/"], env=env, timeout=60)
        assert f"{SA}/" in res.stdout.decode(), res.stdout
        res = run([aws, "sts", "get-caller-identity", "--output", "json"], env=env, timeout=60)
        ident = json.loads(res.stdout)
        assert ident["Account"] == ACCOUNT, ident
        assert ident["Arn"].startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/apps/"), ident
        # awscli v1 caches the assumed role's credentials under $HOME/.aws/cli/cache: one AssumeRole
        # for both commands, named like botocore's.
        new = sessions(srv)[before:]
        assert new and all(n.startswith("botocore-session-") for n in new), new

        # restore again (the initContainer of the next pod) into a new file: the same rows.
        restored = root / "data" / "restored.sqlite"
        run([litestream, "restore", "-config", str(ls_cfg), "-if-replica-exists", "-o", str(restored),
             str(db)], env=envs["restore"], timeout=60)
        want = all_rows(db)
        assert len(want) == 150
        assert all_rows(restored) == want

        server_log = srv.log_path.read_text(errors="replace")
        assert len(sessions(srv)) >= 4, server_log[-4000:]
        assert "AccessDenied" not in server_log, server_log[-4000:]
    finally:
        if webhook:
            webhook.close()
        api.close()
        stop_server(srv)
