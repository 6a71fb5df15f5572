"""Operating keyless: the audit stream, the decision and identity metrics, the status endpoint,
live reload of issuers/roles/policies, logfmt logs and graceful shutdown — all driven by real
traffic (boto3, STS with tokens of a test issuer) against the real binary, whose outputs are
parsed and checked.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import threading
import time
import urllib.request

import boto3
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import ACCESS_KEY, REGION, SECRET_KEY, start_server, stop_server
from test_web_identity import ACCOUNT, AUDIENCE, ISSUER, Issuer, assume, temp_client

BUCKET = "ops"


def role(name: str, service_accounts: list, actions: list, resource: str) -> dict:
    return {
        "name": name,
        "trust": {"issuer": ISSUER, "audience": AUDIENCE, "service_accounts": service_accounts},
        "policies": [json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": actions, "Resource": resource},
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{BUCKET}"}]})],
    }


def config_text(issuer: Issuer, roles: list, extra: str = "") -> str:
    """A config file (JSON is YAML) trusting `issuer` with `roles`; reload polled every second."""
    doc = {"reload_interval_secs": 1,
           "identity": {"account_id": ACCOUNT,
                        "issuers": [{"issuer": ISSUER, "jwks": json.dumps(issuer.jwks()),
                                     "audiences": [AUDIENCE]}],
                        "roles": roles}}
    return json.dumps(doc, indent=1) + extra


def arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


READER = role("reader", ["ops/*"], ["s3:GetObject"], f"arn:aws:s3:::{BUCKET}/*")
WRITER = role("writer", ["ops/*"], ["s3:GetObject", "s3:PutObject"], f"arn:aws:s3:::{BUCKET}/in/*")


@pytest.fixture(scope="module")
def idp():
    return Issuer()


@pytest.fixture(scope="module")
def srv(tmp_path_factory, idp):
    root = tmp_path_factory.mktemp("operations")
    cfg = root / "keyless.yaml"
    cfg.write_text(config_text(idp, [READER]))
    audit = root / "audit.jsonl"
    server = start_server(root, extra_args=("--config", str(cfg), "--audit-log", str(audit)))
    server.cfg = cfg
    server.audit_path = audit
    server.client().create_bucket(Bucket=BUCKET)
    yield server
    stop_server(server)


def audit_records(srv, want: int = 0, timeout: float = 10) -> list[dict]:
    """The audit file's records (at least `want` of them: the writer is asynchronous)."""
    deadline = time.monotonic() + timeout
    while True:
        text = srv.audit_path.read_text() if srv.audit_path.exists() else ""
        records = [json.loads(line) for line in text.splitlines() if line.strip()]
        if len(records) >= want or time.monotonic() > deadline:
            return records
        time.sleep(0.05)


def metrics(srv) -> dict[str, float]:
    text = urllib.request.urlopen(f"{srv.endpoint}/metrics", timeout=10).read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


def signed_status(srv, access_key: str, secret_key: str, token: str | None = None) -> tuple[int, str]:
    url = f"{srv.endpoint}/?x-keyless=status"
    req = AWSRequest(method="GET", url=url)
    S3SigV4Auth(Credentials(access_key, secret_key, token), "s3", REGION).add_auth(req)
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    conn.request("GET", "/?x-keyless=status", headers=dict(req.headers.items()))
    resp = conn.getresponse()
    body = resp.read().decode()
    conn.close()
    return resp.status, body


def wait_for(check, timeout: float = 15, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Exception as e:  # noqa: BLE001 - retried until the deadline
            last = e
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last error: {last!r}")


def code(e: ClientError) -> str:
    return e.response["Error"]["Code"]


# ------------------------------------------------------------------------ audit and metrics


def test_every_request_has_one_audit_record_with_who_what_and_why(srv, idp):
    before = len(audit_records(srv))
    root = srv.client()
    root.put_object(Bucket=BUCKET, Key="doc.txt", Body=b"hello")
    token = idp.token("ops", "app")
    creds = assume(srv, token, arn("reader"))
    s3 = temp_client(srv, creds)
    assert s3.get_object(Bucket=BUCKET, Key="doc.txt")["Body"].read() == b"hello"
    with pytest.raises(ClientError) as denied:
        s3.put_object(Bucket=BUCKET, Key="doc.txt", Body=b"overwrite")
    assert code(denied.value) == "AccessDenied"
    with pytest.raises(ClientError) as refused:
        assume(srv, idp.token("ops", "app", aud="someone-else"), arn("reader"))
    assert code(refused.value) == "InvalidIdentityToken"

    records = audit_records(srv, before + 5)[before:]
    assert len(records) == 5, records
    put, sts_ok, get, put_denied, sts_refused = records
    assert put["operation"] == "PutObject" and put["principal"] == "root"
    assert put["identity"] == {"access_key": ACCESS_KEY} and put["status"] == 200
    assert (put["bucket"], put["key"], put["bytes_in"]) == (BUCKET, "doc.txt", 5)
    assert put["decision"] == "allowed" and put["remote_addr"] == "127.0.0.1"

    assert sts_ok["kind"] == "sts" and sts_ok["operation"] == "sts:AssumeRoleWithWebIdentity"
    assert sts_ok["decision"] == "allowed" and sts_ok["principal"] == "web_identity"
    assert sts_ok["identity"]["subject"] == "system:serviceaccount:ops:app"
    assert sts_ok["identity"]["role"] == arn("reader") and sts_ok["identity"]["issuer"] == ISSUER

    assert get["principal"] == "session" and get["decision"] == "allowed"
    assert get["identity"]["access_key"] == creds["AccessKeyId"]
    assert get["identity"]["subject"] == "system:serviceaccount:ops:app"
    assert get["bytes_out"] == 5 and get["key"] == "doc.txt"

    assert put_denied["decision"] == "denied" and put_denied["status"] == 403
    assert put_denied["error_code"] == "AccessDenied"
    assert "s3:PutObject" in put_denied["reason"] and f"arn:aws:s3:::{BUCKET}/doc.txt" in put_denied["reason"]

    assert sts_refused["decision"] == "denied" and sts_refused["error_code"] == "InvalidIdentityToken"
    assert "aud" in sts_refused["reason"].lower(), sts_refused["reason"]
    for r in records:
        assert set(r) >= {"time", "kind", "operation", "status", "principal", "decision", "reason",
                          "request_id", "duration_ms"}, r


def test_no_token_secret_or_signature_in_the_audit_or_the_log(srv, idp):
    token = idp.token("ops", "app")
    creds = assume(srv, token, arn("reader"))
    s3 = temp_client(srv, creds)
    s3.list_objects_v2(Bucket=BUCKET)
    with pytest.raises(ClientError):
        temp_client(srv, creds, token=creds["SessionToken"][:-4] + "AAAA").list_objects_v2(Bucket=BUCKET)
    audit_records(srv, 1)
    time.sleep(0.3)
    text = srv.audit_path.read_text() + srv.log_path.read_text()
    for secret in (token, token.split(".")[2], creds["SecretAccessKey"], creds["SessionToken"],
                   creds["SessionToken"][:40], SECRET_KEY):
        assert secret not in text
    assert "Signature=" not in text and "X-Amz-Signature" not in text


def test_metrics_count_decisions_issuers_and_storage(srv, idp):
    creds = assume(srv, idp.token("ops", "app"), arn("reader"))
    with pytest.raises(ClientError):
        temp_client(srv, creds).put_object(Bucket=BUCKET, Key="x", Body=b"x")
    with pytest.raises(ClientError):
        assume(srv, idp.token("other", "app"), arn("reader"))  # not trusted: AccessDenied
    m = metrics(srv)
    sts = 'keyless_sts_decisions_total{action="AssumeRoleWithWebIdentity",outcome="%s",reason="%s"}'
    assert m[sts % ("allowed", "ok")] >= 1
    assert m[sts % ("refused", "AccessDenied")] >= 1
    assert m['keyless_s3_access_denied_total{operation="PutObject"}'] >= 1
    assert m[f'keyless_issuer_keys{{issuer="{ISSUER}"}}'] == 1
    assert m[f'keyless_issuer_up{{issuer="{ISSUER}"}}'] == 1
    assert 0 <= m[f'keyless_issuer_keys_age_seconds{{issuer="{ISSUER}"}}'] < 3600
    assert m["keyless_store_buckets"] >= 1 and m["keyless_store_objects"] >= 1
    assert m["keyless_data_filesystem_available_bytes"] > 0
    assert m["keyless_audit_records_total"] >= 1 and m["keyless_audit_records_dropped_total"] == 0
    # The counter moves with traffic.
    objects = m["keyless_store_objects"]
    srv.client().put_object(Bucket=BUCKET, Key="one-more", Body=b"1")
    assert metrics(srv)["keyless_store_objects"] == objects + 1


# ------------------------------------------------------------------------ the status endpoint


def test_status_shows_root_everything_and_a_session_only_itself(srv, idp):
    creds = assume(srv, idp.token("ops", "viewer"), arn("reader"))
    with pytest.raises(ClientError):
        temp_client(srv, creds).put_object(Bucket=BUCKET, Key="nope", Body=b"x")

    with pytest.raises(ClientError):
        assume(srv, idp.token("stranger", "app"), arn("reader"))  # a genuine token the trust refuses

    status, body = signed_status(srv, ACCESS_KEY, SECRET_KEY)
    assert status == 200, body
    doc = json.loads(body)
    assert doc["viewer"]["kind"] == "root"
    refused = next(d for d in doc["decisions"] if d["subject"] == "system:serviceaccount:stranger:app")
    assert refused["outcome"] == "denied" and refused["code"] == "AccessDenied"
    assert refused["operation"] == "AssumeRoleWithWebIdentity" and "trust" in refused["reason"].lower()
    assert [i["issuer"] for i in doc["issuers"]] == [ISSUER]
    assert doc["issuers"][0]["key_count"] == 1 and doc["issuers"][0]["last_error"] is None
    reader = next(r for r in doc["roles"] if r["arn"] == arn("reader"))
    assert reader["trust"]["service_accounts"] == ["ops/*"]
    denial = next(d for d in doc["decisions"] if d["subject"] == "system:serviceaccount:ops:viewer"
                  and d["outcome"] == "denied")
    assert denial["operation"] == "PutObject" and "s3:PutObject" in denial["reason"]

    status, body = signed_status(srv, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert status == 200, body
    mine = json.loads(body)
    assert mine["viewer"]["kind"] == "session" and mine["viewer"]["role"] == arn("reader")
    assert mine["viewer"]["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/reader/test-session"
    assert mine["viewer"]["subject"] == "system:serviceaccount:ops:viewer" and mine["viewer"]["expires"]
    assert mine["issuers"] == [] and mine["roles"] == []
    assert mine["decisions"] and all(d["subject"] == "system:serviceaccount:ops:viewer"
                                     for d in mine["decisions"])

    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    conn.request("GET", "/?x-keyless=status")
    resp = conn.getresponse()
    assert resp.status == 403 and b"AccessDenied" in resp.read()


# ------------------------------------------------------------------------ live reload


def test_roles_added_changed_and_removed_take_effect_without_a_restart(srv, idp):
    pid = srv.proc.pid
    token = idp.token("ops", "app")
    with pytest.raises(ClientError) as e:
        assume(srv, token, arn("writer"))
    assert code(e.value) == "AccessDenied"

    # Added (file change, no signal).
    srv.cfg.write_text(config_text(idp, [READER, WRITER]))
    creds = wait_for(lambda: assume(srv, token, arn("writer")), what="the writer role to appear")
    temp_client(srv, creds).put_object(Bucket=BUCKET, Key="in/a.txt", Body=b"a")

    # Changed: the writer may now write only under out/.
    changed = role("writer", ["ops/*"], ["s3:PutObject"], f"arn:aws:s3:::{BUCKET}/out/*")
    srv.cfg.write_text(config_text(idp, [READER, changed]))

    def in_denied():
        fresh = temp_client(srv, assume(srv, token, arn("writer")))
        try:
            fresh.put_object(Bucket=BUCKET, Key="in/b.txt", Body=b"b")
            return False
        except ClientError as err:
            return code(err) == "AccessDenied"

    wait_for(in_denied, what="the changed policy")
    temp_client(srv, assume(srv, token, arn("writer"))).put_object(Bucket=BUCKET, Key="out/c.txt", Body=b"c")
    # Sessions minted before the change are checked against the role as it is now.
    with pytest.raises(ClientError) as e:
        temp_client(srv, creds).put_object(Bucket=BUCKET, Key="in/d.txt", Body=b"d")
    assert code(e.value) == "AccessDenied"

    # Removed: no new sessions, and the old ones lose their permissions.
    srv.cfg.write_text(config_text(idp, [READER]))

    def writer_gone():
        try:
            assume(srv, token, arn("writer"))
            return False
        except ClientError as err:
            return code(err) == "AccessDenied"

    wait_for(writer_gone, what="the writer role to go")
    with pytest.raises(ClientError):
        temp_client(srv, creds).put_object(Bucket=BUCKET, Key="out/e.txt", Body=b"e")
    assert srv.proc.pid == pid and srv.proc.poll() is None
    assert "configuration reloaded" in srv.log_path.read_text()


def test_a_broken_config_is_refused_and_the_running_one_stays(srv, idp):
    token = idp.token("ops", "app")
    failures = metrics(srv)['keyless_config_reloads_total{result="failure"}']
    good = config_text(idp, [READER])
    broken = good.replace('"reader"', '"reader", "colour": "blue"', 1)  # an unknown field
    srv.cfg.write_text(broken)
    wait_for(lambda: metrics(srv)['keyless_config_reloads_total{result="failure"}'] > failures,
             what="the refused reload to be counted")
    m = metrics(srv)
    assert m["keyless_config_last_reload_successful"] == 0
    log = srv.log_path.read_text()
    assert "configuration reload refused" in log and "colour" in log
    _, body = signed_status(srv, ACCESS_KEY, SECRET_KEY)
    reload = json.loads(body)["reload"]
    assert reload["ok"] is False and "colour" in reload["error"]
    # The running configuration still serves.
    creds = assume(srv, token, arn("reader"))
    assert temp_client(srv, creds).list_objects_v2(Bucket=BUCKET)["KeyCount"] >= 0

    # A role that does not validate is refused too (a policy with a bad effect).
    bad_policy = dict(READER, name="bad", policies=['{"Version":"2012-10-17","Statement":[{"Effect":"Maybe",'
                                                    '"Action":"s3:*","Resource":"*"}]}'])
    srv.cfg.write_text(config_text(idp, [READER, bad_policy]))
    wait_for(lambda: metrics(srv)['keyless_config_reloads_total{result="failure"}'] > failures + 1,
             what="the second refusal")
    with pytest.raises(ClientError):
        assume(srv, token, arn("bad"))

    srv.cfg.write_text(good)
    wait_for(lambda: metrics(srv)["keyless_config_last_reload_successful"] == 1, what="the good config")


def test_sighup_reloads_when_polling_is_off(tmp_path, idp):
    cfg = tmp_path / "keyless.yaml"
    cfg.write_text(config_text(idp, [READER]).replace('"reload_interval_secs": 1', '"reload_interval_secs": 0'))
    server = start_server(tmp_path, extra_args=("--config", str(cfg)))
    try:
        token = idp.token("ops", "app")
        cfg.write_text(config_text(idp, [READER, WRITER]).replace('"reload_interval_secs": 1',
                                                                    '"reload_interval_secs": 0'))
        time.sleep(1.5)
        with pytest.raises(ClientError):
            assume(server, token, arn("writer"))  # not polled: nothing changed yet
        os.kill(server.proc.pid, signal.SIGHUP)
        wait_for(lambda: assume(server, token, arn("writer")), what="the reload on SIGHUP")
        assert "received SIGHUP" in server.log_path.read_text()
    finally:
        assert stop_server(server) == 0


# ------------------------------------------------------------------------ logs and shutdown


def test_logfmt_logs_are_one_key_value_line_per_event(tmp_path):
    server = start_server(tmp_path, extra_args=("--log-format", "logfmt"))
    try:
        server.client().list_buckets()
    finally:
        stop_server(server)
    pair = r'[a-z_.]+=(?:"(?:[^"\\]|\\.)*"|[^\s"]+)'
    # The harness copies stdout (the start-up text) into the same file, marked "[stdout]".
    lines = [l for l in server.log_path.read_text().splitlines() if l.strip() and not l.startswith("[stdout]")]
    assert any('msg="store opened and recovered"' in l for l in lines), lines[:5]
    for line in lines:
        assert re.fullmatch(rf"time=\S+ level=(trace|debug|info|warn|error) target=\S+( {pair})*", line), line


def test_sigterm_finishes_the_request_in_flight_and_refuses_new_ones(tmp_path):
    server = start_server(tmp_path)
    client = server.client()
    client.create_bucket(Bucket="drain")
    url = client.generate_presigned_url("put_object", Params={"Bucket": "drain", "Key": "slow.bin"},
                                        ExpiresIn=300)
    path = url.split(str(server.port), 1)[1]
    body = os.urandom(256 * 1024)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.putrequest("PUT", path, skip_accept_encoding=True)
    conn.putheader("Content-Length", str(len(body)))
    conn.endheaders()
    conn.send(body[:1000])  # the request is in flight
    time.sleep(0.3)
    server.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    # Stopped accepting: a new connection is refused (or closed without an answer).
    with pytest.raises(OSError):
        s = socket.create_connection(("127.0.0.1", server.port), timeout=2)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        if not s.recv(100):
            raise ConnectionResetError("closed without an answer")
    conn.send(body[1000:])
    resp = conn.getresponse()
    assert resp.status == 200, resp.read()
    assert server.proc.wait(timeout=30) == 0
    log = server.log_path.read_text()
    assert "shutting down" in log and "all connections closed" in log
    # What was acknowledged is there after a restart.
    again = start_server(tmp_path, port=server.port, data_dir=server.data_dir)
    try:
        assert again.client().get_object(Bucket="drain", Key="slow.bin")["Body"].read() == body
    finally:
        stop_server(again)
