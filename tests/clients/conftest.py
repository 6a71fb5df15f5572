"""Fixtures for the client interoperability suite.

The suite starts the real `keyless` binary once per session and drives it with
real S3 clients (boto3, awscli v1, rclone, restic, s3cmd). Nothing here builds
the binary: `scripts/test.sh` does that first. The binary is taken from
`$KEYLESS_BIN`, else `$CARGO_TARGET_DIR/debug/keyless`, else
`<repo>/target/debug/keyless`.

Every client runs hermetically: HOME, AWS config and credential files live in a
temporary directory, the instance-metadata lookup is disabled, and no AWS_*
variable from the outer environment leaks in, so nothing tries to reach the
internet.
"""

from __future__ import annotations

import atexit
import hashlib
import http.client
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

import upstream

REPO = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ACCESS_KEY = "KLTESTROOTACCESSKEY1"
# A secret with '/' and '+' in it, as real AWS secrets have.
SECRET_KEY = "kLtEsT/rOoTsEcReT+kEy0123456789abcdefGHIJ"
DOMAIN = "localhost"

# The outer environment of these machines sets AWS_CA_BUNDLE and friends; clients must not see any of that, nor any proxy.
_SCRUB_PREFIXES = ("AWS_", "BOTO_", "S3CMD", "RCLONE_", "RESTIC_")
_SCRUB_NAMES = {"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"}


def _scrub_process_env(tmp: Path) -> None:
    """Make boto3 inside this pytest process hermetic, too."""
    for name in list(os.environ):
        if name.startswith(_SCRUB_PREFIXES) or name in _SCRUB_NAMES:
            del os.environ[name]
    os.environ["AWS_CONFIG_FILE"] = str(tmp / "aws-config")
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = str(tmp / "aws-credentials")
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    os.environ["NO_PROXY"] = "127.0.0.1,localhost,.localhost"
    (tmp / "aws-config").write_text("")
    (tmp / "aws-credentials").write_text("")


_HERMETIC_ROOT = Path(tempfile.mkdtemp(prefix="keyless-clients-"))
_scrub_process_env(_HERMETIC_ROOT)
atexit.register(shutil.rmtree, _HERMETIC_ROOT, True)


# --------------------------------------------------------------------------
# Name resolution for virtual-host style addressing.
#
# glibc on these machines does not resolve `<bucket>.localhost` (no
# nss-myhostname), so in this process every `*.localhost` name resolves to
# 127.0.0.1, which is what RFC 6761 says it must mean anyway.
# --------------------------------------------------------------------------
_real_getaddrinfo = socket.getaddrinfo


def _loopback_getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
    if isinstance(host, str) and (host == "localhost" or host.endswith(".localhost")):
        host = "127.0.0.1"
        if family == socket.AF_INET6:
            family = socket.AF_INET
    return _real_getaddrinfo(host, port, family, type, proto, flags)


socket.getaddrinfo = _loopback_getaddrinfo


def keyless_binary() -> Path:
    if os.environ.get("KEYLESS_BIN"):
        return Path(os.environ["KEYLESS_BIN"])
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    if not target.is_absolute():
        target = REPO / target
    return target / "debug" / "keyless"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A running keyless process."""

    proc: subprocess.Popen
    port: int
    data_dir: Path
    log_path: Path
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    region: str = REGION
    stdout_lines: list = field(default_factory=list)
    _log: object = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def vhost_endpoint(self) -> str:
        return f"http://{DOMAIN}:{self.port}"

    def log_tail(self, n: int = 60) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-n:])

    def client(self, access_key=None, secret_key=None, addressing_style="path",
               endpoint=None, **config_kw):
        cfg = Config(
            region_name=self.region,
            signature_version="s3v4",
            s3={"addressing_style": addressing_style},
            retries={"max_attempts": 1, "mode": "standard"},
            connect_timeout=10,
            read_timeout=120,
            **config_kw,
        )
        return boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint or self.endpoint,
            aws_access_key_id=access_key or self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            config=cfg,
        )


def _wait_listening(proc: subprocess.Popen, port: int, log, lines: list, timeout: float) -> None:
    """Read stdout until the contract line shows up; keep draining afterwards."""
    want = f"keyless: listening on http://127.0.0.1:{port}"
    seen = threading.Event()

    def pump():
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            lines.append(line)
            try:
                log.write(f"[stdout] {line}\n")
                log.flush()
            except ValueError:  # log closed: the server is being stopped
                pass
            if line.strip() == want:
                seen.set()

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if seen.wait(0.1):
            return
        if proc.poll() is not None:
            break
    raise RuntimeError(
        f"keyless did not print {want!r} (exit={proc.poll()}); stdout so far: {lines[-20:]}"
    )


def _wait_healthz(port: int, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"keyless exited with {proc.returncode} before /healthz answered")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz")
            resp = conn.getresponse()
            resp.read()
            conn.close()
            if resp.status == 200:
                return
            last = resp.status
        except OSError as e:  # connection refused while starting
            last = e
        time.sleep(0.1)
    raise RuntimeError(f"GET /healthz never returned 200 (last: {last})")


def start_server(root: Path, port: int | None = None, data_dir: Path | None = None,
                 extra_args: tuple = (), extra_env: dict | None = None) -> Server:
    """Start keyless with its data under `root` (or `data_dir`); wait until it
    printed its listening line and answers /healthz with 200. `extra_env` is set last (a None
    value unsets the variable)."""
    binary = keyless_binary()
    if not binary.exists():
        pytest.fail(f"keyless binary not found at {binary}; run `cargo build -p keyless` "
                    f"(scripts/test.sh does) or set KEYLESS_BIN", pytrace=False)
    data_dir = data_dir or root / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = root / f"keyless-{time.monotonic_ns()}.log"
    port = port or free_port()
    env = dict(os.environ)
    env["KEYLESS_ROOT_ACCESS_KEY"] = ACCESS_KEY
    env["KEYLESS_ROOT_SECRET_KEY"] = SECRET_KEY
    env.setdefault("RUST_LOG", "info")
    env.setdefault("RUST_BACKTRACE", "1")
    if upstream.gateway():
        # The suite's upstream, unless the test chose its own gateway settings.
        for k, v in upstream.gateway_env().items():
            env.setdefault(k, v)
        if os.environ.get("KEYLESS_TEST_GATEWAY_SHARED_BUCKET"):
            env.setdefault("KEYLESS_GATEWAY_SHARED_BUCKET", os.environ["KEYLESS_TEST_GATEWAY_SHARED_BUCKET"])
    for k, v in (extra_env or {}).items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    log = open(log_path, "w", buffering=1)
    proc = subprocess.Popen(
        [str(binary), "serve", "--data-dir", str(data_dir),
         "--listen", f"127.0.0.1:{port}", "--domain", DOMAIN, *extra_args],
        stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, env=env,
    )
    srv = Server(proc=proc, port=port, data_dir=data_dir, log_path=log_path)
    srv._log = log
    try:
        _wait_listening(proc, port, log, srv.stdout_lines, timeout=60)
        _wait_healthz(port, proc, timeout=30)
    except Exception as e:
        proc.kill()
        proc.wait()
        log.close()
        pytest.fail(f"{e}\n--- keyless log ---\n{srv.log_tail()}", pytrace=False)
    return srv


def stop_server(srv: Server, kill: bool = False) -> int:
    """SIGTERM (or SIGKILL) the server and wait for it; returns its exit code."""
    if srv.proc.poll() is None:
        if kill:
            srv.proc.kill()
        else:
            srv.proc.terminate()
        try:
            srv.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            srv.proc.kill()
            srv.proc.wait()
    srv._log.close()
    return srv.proc.returncode


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Server:
    srv = start_server(tmp_path_factory.mktemp("server"))
    yield srv
    stop_server(srv)


@pytest.fixture(autouse=True)
def _server_still_alive(request):
    """A test that crashes the server fails loudly with the server's log."""
    yield
    if "server" in request.fixturenames:
        srv = request.getfixturevalue("server")
        if srv.proc.poll() is not None:
            pytest.fail(f"keyless exited with {srv.proc.returncode} during this test\n"
                        f"--- keyless log ---\n{srv.log_tail()}", pytrace=False)


@pytest.fixture(scope="session")
def s3(server):
    """A boto3 S3 client, path-style, root credentials."""
    return server.client()


def unique_bucket_name(request) -> str:
    base = re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())
    base = re.sub(r"-+", "-", base).strip("-")[:30].strip("-") or "t"
    return f"{base}-{uuid.uuid4().hex[:10]}"


def empty_and_delete_bucket(s3, name: str) -> None:
    """Best-effort cleanup; a test's own assertions are what matter."""
    try:
        for up in s3.list_multipart_uploads(Bucket=name).get("Uploads", []):
            s3.abort_multipart_upload(Bucket=name, Key=up["Key"], UploadId=up["UploadId"])
    except Exception:
        pass
    try:
        token = None
        while True:
            kw = {"Bucket": name}
            if token:
                kw["ContinuationToken"] = token
            resp = s3.list_objects_v2(**kw)
            for obj in resp.get("Contents", []):
                s3.delete_object(Bucket=name, Key=obj["Key"])
            if not resp.get("IsTruncated"):
                break
            token = resp["NextContinuationToken"]
        s3.delete_bucket(Bucket=name)
    except Exception:
        pass


@pytest.fixture
def bucket_name(request) -> str:
    """A unique, not yet created, bucket name."""
    return unique_bucket_name(request)


@pytest.fixture
def bucket(request, s3) -> str:
    """A unique, freshly created bucket, emptied and deleted afterwards."""
    name = unique_bucket_name(request)
    s3.create_bucket(Bucket=name)
    yield name
    empty_and_delete_bucket(s3, name)


def payload(n: int, seed: int = 0) -> bytes:
    """Deterministic, incompressible bytes."""
    return random.Random(seed).randbytes(n)


def write_file(path: Path, size: int, seed: int = 0) -> Path:
    """Write a deterministic file of `size` bytes, one MiB at a time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(left, 1 << 20)
            f.write(rng.randbytes(n))
            left -= n
    return path


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def tree_digest(root: Path) -> dict:
    """Relative path -> sha256 for every regular file under root."""
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            p = Path(dirpath) / name
            out[p.relative_to(root).as_posix()] = file_digest(p)
    return out


def make_odd_tree(root: Path) -> dict:
    """A tree with nested and odd names; returns tree_digest(root)."""
    files = {
        "plain.txt": 100,
        "with space/inner file.txt": 1234,
        "unicodé/日本語/ファイル.bin": 4321,
        "hash#dir/file#1.txt": 10,
        "percent%25dir/100%.txt": 11,
        "plus+dir/a+b=c.txt": 12,
        "deep/a/b/c/d/e/f/g/h/i/j/leaf.txt": 13,
        "empty.bin": 0,
        "emoji-😀/smile.txt": 14,
        "semi;colon&amp/q?mark.txt": 15,
        "big/twenty-mib.bin": 20 * 1024 * 1024,
    }
    for i, (rel, size) in enumerate(files.items()):
        write_file(root / rel, size, seed=i + 1)
    return tree_digest(root)


@pytest.fixture
def client_env(tmp_path):
    """An environment for client subprocesses: no inherited AWS_* or proxies,
    HOME in tmp, config files in tmp, metadata lookups disabled, and the
    venv's bin first on PATH (so `aws` is awscli v1 from the venv)."""
    home = tmp_path / "home"
    home.mkdir()
    env = {}
    for k, v in os.environ.items():
        if k.startswith(_SCRUB_PREFIXES) or k in _SCRUB_NAMES:
            continue
        env[k] = v
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = venv_bin + os.pathsep + env.get("PATH", "/usr/bin:/bin")
    env["HOME"] = str(home)
    env["XDG_CONFIG_HOME"] = str(home / ".config")
    env["XDG_CACHE_HOME"] = str(home / ".cache")
    env["AWS_CONFIG_FILE"] = str(home / "aws-config")
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(home / "aws-credentials")
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env["NO_PROXY"] = "127.0.0.1,localhost,.localhost"
    env["LC_ALL"] = "C.UTF-8"
    env["LANG"] = "C.UTF-8"
    (home / "aws-config").write_text("")
    (home / "aws-credentials").write_text("")
    return env


def run(cmd, env, timeout=600, check=True, input=None, cwd=None):
    """Run a client command; on failure show everything it printed."""
    res = subprocess.run(cmd, env=env, capture_output=True, timeout=timeout,
                         input=input, cwd=cwd, stdin=None if input is not None else subprocess.DEVNULL)
    if check and res.returncode != 0:
        pytest.fail(
            f"command failed ({res.returncode}): {' '.join(map(str, cmd))}\n"
            f"--- stdout ---\n{res.stdout.decode(errors='replace')[-4000:]}\n"
            f"--- stderr ---\n{res.stderr.decode(errors='replace')[-4000:]}",
            pytrace=False,
        )
    return res


def venv_tool(name: str) -> str:
    """A tool installed in the same venv as this pytest (awscli v1, rclone)."""
    p = Path(sys.executable).parent / name
    if not p.exists():
        pytest.fail(f"{name} is not installed in {p.parent}; run scripts/install-test-deps.sh",
                    pytrace=False)
    return str(p)


def system_tool(name: str) -> str:
    p = shutil.which(name)
    if not p:
        pytest.fail(f"{name} is not on PATH; run scripts/install-test-deps.sh", pytrace=False)
    return p


# --------------------------------------------------------------------------
# Raw signed requests, for what boto3 will not send on its own (malformed
# bodies, hand-built aws-chunked payloads, unsigned requests, odd encodings).
# --------------------------------------------------------------------------
@dataclass
class RawResponse:
    status: int
    headers: dict
    body: bytes

    def error_code(self) -> str | None:
        m = re.search(rb"<Code>([^<]*)</Code>", self.body)
        return m.group(1).decode() if m else None


def raw_request(server: Server, method: str, path: str, query: str = "", headers=None,
                body: bytes = b"", sign: bool = True, access_key=None, secret_key=None,
                payload_hash: str | None = None, host: str | None = None,
                amz_date: str | None = None) -> RawResponse:
    """Send one request over http.client, optionally SigV4-signed by botocore.

    `path` must already be percent-encoded as it should appear on the wire.
    `payload_hash` overrides x-amz-content-sha256 (e.g. for aws-chunked).
    """
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    headers = dict(headers or {})
    host = host or server.host
    url = f"http://{host}{path}" + (f"?{query}" if query else "")
    if sign:
        class _Signer(S3SigV4Auth):
            def payload(self, request):
                return payload_hash if payload_hash is not None else super().payload(request)

        req = AWSRequest(method=method, url=url, headers=headers, data=body)
        signer = _Signer(Credentials(access_key or server.access_key,
                                     secret_key or server.secret_key),
                         "s3", server.region)
        if amz_date is not None:
            import datetime as _dt
            from unittest import mock
            fixed = _dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ")
            with mock.patch("botocore.auth.get_current_datetime", return_value=fixed):
                signer.add_auth(req)
        else:
            signer.add_auth(req)
        send_headers = dict(req.headers.items())
    else:
        send_headers = headers
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        conn.putrequest(method, path + (f"?{query}" if query else ""), skip_host=True,
                        skip_accept_encoding=True)
        lowered = {k.lower() for k in send_headers}
        if "host" not in lowered:
            conn.putheader("Host", host)
        if "content-length" not in lowered and "transfer-encoding" not in lowered:
            conn.putheader("Content-Length", str(len(body)))
        for k, v in send_headers.items():
            conn.putheader(k, v)
        conn.endheaders()
        if body:
            conn.send(body)
        resp = conn.getresponse()
        data = resp.read()
        return RawResponse(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


def client_error(excinfo):
    """(code, http status) of a botocore ClientError."""
    resp = excinfo.value.response
    return resp["Error"].get("Code"), resp["ResponseMetadata"]["HTTPStatusCode"]


# --------------------------------------------------------------------------
# botocore hooks
# --------------------------------------------------------------------------
def capture_requests(client, operation="PutObject"):
    seen = []
    client.meta.events.register(f"before-send.s3.{operation}",
                                lambda request, **kw: seen.append(dict(request.headers)))
    return seen


def force_trailer_checksums(client):
    """Make botocore put flexible checksums in an aws-chunked trailer, as it
    does by default over HTTPS (over plain HTTP it uses a header)."""
    def handler(params, **kw):
        algo = params["context"].get("checksum", {}).get("request_algorithm")
        if isinstance(algo, dict):
            algo["in"] = "trailer"
    for op in ("PutObject", "UploadPart"):
        client.meta.events.register(f"before-call.s3.{op}", handler)
