"""keyless-bench at a tiny size, so the benchmark keeps working (docs/benchmarks.md).

The debug `keyless-bench` binary (built with the workspace's targets) drives a keyless started
here with root keys and an `identity:` section trusting the bench's own issuer through a
`jwks_file` (key and JWKS written by `keyless-bench jwks`). Every scenario runs with tiny sizes;
the test checks the JSON report is well-formed, counts are positive and nothing failed. Never a
timing assertion: how fast is for scripts/bench/run.sh to say.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from conftest import ACCESS_KEY, SECRET_KEY, keyless_binary, start_server, stop_server

ISSUER = "https://bench.keyless.test"
ROLE = "arn:aws:iam::000000000000:role/bench"


def bench_binary() -> Path:
    return keyless_binary().parent / "keyless-bench"


@pytest.fixture(scope="module")
def bench_env(tmp_path_factory):
    binary = bench_binary()
    if not binary.exists():
        pytest.fail(f"{binary} not found: `cargo build --workspace --all-targets` builds it", pytrace=False)
    root = tmp_path_factory.mktemp("bench")
    key, jwks = root / "issuer-key.pem", root / "jwks.json"
    subprocess.run([str(binary), "jwks", "--key", str(key), "--jwks-out", str(jwks)], check=True, timeout=30)
    cfg = root / "keyless.yaml"
    policy = ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*",'
              '"Resource":["arn:aws:s3:::bench-*","arn:aws:s3:::bench-*/*"]}]}')
    cfg.write_text(f"""
identity:
  account_id: "000000000000"
  issuers:
    - issuer: {ISSUER}
      jwks_file: {jwks}
  roles:
    - name: bench
      trust:
        issuer: {ISSUER}
        service_accounts: ["bench/*"]
      policies:
        - '{policy}'
""")
    srv = start_server(root, extra_args=("--config", str(cfg)))
    yield {"srv": srv, "key": key, "root": root, "binary": binary}
    stop_server(srv)


def run_bench(env, *args, creds=True) -> dict:
    srv = env["srv"]
    cmd = [str(env["binary"]), "--endpoint", srv.endpoint, "--server-pid", str(srv.proc.pid)]
    if creds:
        cmd += ["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY]
    cmd += list(args)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "RUST_BACKTRACE": "0"})
    assert proc.returncode == 0, f"{cmd}\nstderr:\n{proc.stderr}\n--- keyless log ---\n{srv.log_tail()}"
    report = json.loads(proc.stdout)
    assert report["tool"] == "keyless-bench"
    assert report["endpoint"] == srv.endpoint
    assert report["phases"], report
    for phase in report["phases"]:
        assert phase["ops"] > 0, phase
        assert phase["errors"] == 0, phase
        assert "first_error" not in phase, phase
        assert phase["seconds"] > 0 and phase["ops_per_sec"] > 0, phase
        lat = phase["latency"]
        assert 0 < lat["p50_ms"] <= lat["p99_ms"] <= lat["p999_ms"] <= lat["max_ms"], phase
    mem = report["memory"]
    assert mem["pid"] == srv.proc.pid
    # (VmHWM is the kernel's lazily updated high-water mark: it may trail the sampled peak.)
    assert 0 < mem["idle_rss_kib"] <= mem["peak_rss_kib"] and mem["vm_hwm_kib"] > 0, mem
    return report


def names(report) -> list:
    return [(p["name"], p["concurrency"]) for p in report["phases"]]


def test_large_objects(bench_env):
    r = run_bench(bench_env, "large", "--size", "2MiB", "--count", "2", "--concurrency", "1,2")
    assert r["scenario"] == "large" and r["credentials"] == "static"
    assert names(r) == [("put", 1), ("get", 1), ("put", 2), ("get", 2)]
    for phase in r["phases"]:
        assert phase["ops"] == 2 and phase["bytes"] == 2 * 2 * 2**20, phase


def test_small_objects(bench_env):
    r = run_bench(bench_env, "small", "--duration", "500ms", "--concurrency", "1,4")
    assert names(r) == [("put", 1), ("get", 1), ("head", 1), ("put", 4), ("get", 4), ("head", 4)]
    put, get = r["phases"][0], r["phases"][1]
    assert put["bytes"] == put["ops"] * 4096 and get["bytes"] == get["ops"] * 4096


def test_listing(bench_env):
    r = run_bench(bench_env, "list", "--keys", "120,200", "--page", "50", "--repeat", "2",
                  "--prefill-concurrency", "8")
    assert r["bucket"] == "bench-list"
    assert [n for n, _ in names(r)] == ["prefill", "list-first-page", "list-deep-page", "list-delimiter"] * 2
    prefill = [p for p in r["phases"] if p["name"] == "prefill"]
    assert [p["ops"] for p in prefill] == [120, 80]
    delim = [p for p in r["phases"] if p["name"] == "list-delimiter"]
    assert [p["extra"]["page_entries"] for p in delim] == [2, 2]


def test_mixed(bench_env):
    r = run_bench(bench_env, "mixed", "--size", "64KiB", "--duration", "1s", "--concurrency", "4",
                  "--objects", "4")
    mixed = r["phases"][-1]
    assert mixed["name"] == "mixed" and set(mixed["by_op"]) == {"get", "head", "put", "delete"}
    assert mixed["ops"] == sum(op["ops"] for op in mixed["by_op"].values())


def test_sts_with_a_fresh_token_per_call(bench_env):
    r = run_bench(bench_env, "--role-arn", ROLE, "sts", "--key", str(bench_env["key"]),
                  "--issuer", ISSUER, "--count", "20", "--concurrency", "1,4", creds=False)
    assert names(r) == [("assume-role-with-web-identity", 1), ("assume-role-with-web-identity", 4)]
    assert all(p["ops"] == 20 and p["extra"]["token_alg"] == "ES256" for p in r["phases"])


def test_web_identity_credentials(bench_env):
    token = bench_env["root"] / "token"
    subprocess.run([str(bench_env["binary"]), "token", "--key", str(bench_env["key"]), "--issuer", ISSUER,
                    "--subject", "bench/loader", "--token-out", str(token)], check=True, timeout=30)
    r = run_bench(bench_env, "--role-arn", ROLE, "--token-file", str(token), "--bucket", "bench-pod",
                  "small", "--duration", "300ms", "--concurrency", "2", creds=False)
    assert r["credentials"] == "web-identity"
    assert len(r["phases"]) == 3
