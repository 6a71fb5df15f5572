"""The README's quick-start, exactly: a zero-configuration `keyless serve` prints a pod's
environment as `export` lines (and writes it to <data-dir>/demo.env); in another shell, with only
those variables, awscli v1 lists and writes the demo bucket and names the assumed role. No key is
set anywhere: the credentials come from STS, for the token the built-in development issuer keeps
fresh in a file."""

from __future__ import annotations

import json
import os
import subprocess
import time

from conftest import free_port, keyless_binary


def test_quickstart_with_awscli_v1(tmp_path, client_env):
    data = tmp_path / "data"
    port = free_port()
    env = {k: v for k, v in client_env.items() if not k.startswith("KEYLESS_")}
    proc = subprocess.Popen(
        [str(keyless_binary()), "serve", "--data-dir", str(data), "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE, stderr=open(tmp_path / "keyless.log", "w"), stdin=subprocess.DEVNULL,
        env=env, text=True)
    try:
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if line.startswith("export AWS_DEFAULT_REGION="):
                break
        out = "\n".join(lines)
        assert lines and lines[0] == f"keyless: listening on http://127.0.0.1:{port}", out
        exports = [l for l in lines if l.startswith("export ")]
        names = [l.split("=", 1)[0].removeprefix("export ") for l in exports]
        assert names == ["AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ENDPOINT_URL_STS",
                         "AWS_ENDPOINT_URL_S3", "AWS_REGION", "AWS_DEFAULT_REGION"], out
        env_file = data / "demo.env"
        assert env_file.exists()
        assert oct(env_file.stat().st_mode & 0o777) == "0o600"
        # The printed lines and the file say the same.
        assert [l for l in env_file.read_text().splitlines() if l.startswith("export ")] == exports

        # A second terminal: nothing but the client environment and `source demo.env`.
        assert not any(k.startswith("AWS_ACCESS") or k.startswith("AWS_SECRET") for k in env)
        (tmp_path / "notes.txt").write_text("no keys were harmed\n")
        script = f"""
set -e
source {env_file}
aws s3 cp {tmp_path / 'notes.txt'} s3://demo/notes.txt
aws s3 ls s3://demo/
aws s3 cp s3://demo/notes.txt -
aws sts get-caller-identity --output json
"""
        r = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True,
                           timeout=120, cwd=tmp_path)
        assert r.returncode == 0, r.stdout + r.stderr + (tmp_path / "keyless.log").read_text()[-3000:]
        assert "notes.txt" in r.stdout
        assert "no keys were harmed" in r.stdout
        ident = json.loads(r.stdout[r.stdout.index("{"):])
        assert ident["Arn"].startswith("arn:aws:sts::000000000000:assumed-role/demo/"), ident

        # The role is scoped to the demo bucket.
        r = subprocess.run(["bash", "-c", f"source {env_file} && aws s3 mb s3://not-demo"], env=env,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode != 0 and "AccessDenied" in r.stderr, r.stderr
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    assert os.path.exists(data / "demo-token")
