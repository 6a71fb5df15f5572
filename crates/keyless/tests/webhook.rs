//! `keyless webhook`, the real binary over real TLS: AdmissionReview v1 fixtures (shaped like a
//! kube-apiserver's) are POSTed to `/mutate`, the returned JSONPatch is applied, and the pod is
//! checked. ServiceAccounts come from a fake Kubernetes API on 127.0.0.1 (hyper + rustls, its own
//! test CA) that answers LIST, WATCH and GET of ServiceAccounts with objects shaped like a real
//! apiserver's, reached through a kubeconfig with a bearer token.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io::{BufRead as _, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use serde_json::{Value, json};

const TOKEN: &str = "fake-apiserver-token";
const ENDPOINT: &str = "http://keyless.keyless.svc:9000";

#[path = "support/test_ca.rs"]
mod test_ca;
use test_ca::TestCa;

fn server_config(cert_pem: &str, key_pem: &str) -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject as _;
    let chain = rustls::pki_types::CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

// ---- the fake Kubernetes API ----

#[derive(Default)]
struct ApiState {
    /// (namespace, name) → the ServiceAccount object.
    accounts: BTreeMap<(String, String), Value>,
    resource_version: u64,
    /// Every request's path and query, in order.
    requests: Vec<String>,
    watchers: Vec<tokio::sync::mpsc::UnboundedSender<Bytes>>,
}

/// A Kubernetes API serving ServiceAccounts only, the way kube-apiserver does.
struct FakeApi {
    addr: SocketAddr,
    state: Arc<Mutex<ApiState>>,
    /// GETs of a single ServiceAccount (cache misses of the webhook).
    gets: Arc<AtomicUsize>,
    watches: Arc<AtomicUsize>,
    _runtime: tokio::runtime::Runtime,
}

fn service_account(namespace: &str, name: &str, annotations: &[(&str, &str)], rv: u64) -> Value {
    let mut metadata = json!({
        "name": name,
        "namespace": namespace,
        "uid": format!("5b1f0c3e-0000-4000-8000-{:012}", rv),
        "resourceVersion": rv.to_string(),
        "creationTimestamp": "2026-11-28T10:00:00Z",
    });
    if !annotations.is_empty() {
        metadata["annotations"] = annotations
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect::<serde_json::Map<_, _>>()
            .into();
    }
    json!({"kind": "ServiceAccount", "apiVersion": "v1", "metadata": metadata})
}

fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code})
}

type Body = BoxBody<Bytes, Infallible>;

fn json_response(code: u16, value: &Value) -> http::Response<Body> {
    http::Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(serde_json::to_vec(value).unwrap())).boxed())
        .unwrap()
}

impl FakeApi {
    fn start(ca: &TestCa) -> FakeApi {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (cert, key, _) = ca.leaf("kube-apiserver");
        let acceptor = tokio_rustls::TlsAcceptor::from(server_config(&cert, &key));
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(ApiState {
            resource_version: 100,
            ..ApiState::default()
        }));
        let gets = Arc::new(AtomicUsize::new(0));
        let watches = Arc::new(AtomicUsize::new(0));
        let (st, g, w) = (state.clone(), gets.clone(), watches.clone());
        runtime.spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let (acceptor, st, g, w) = (acceptor.clone(), st.clone(), g.clone(), w.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else { return };
                    let service = hyper::service::service_fn(move |req| {
                        let (st, g, w) = (st.clone(), g.clone(), w.clone());
                        async move { Ok::<_, Infallible>(FakeApi::handle(req, &st, &g, &w)) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        FakeApi {
            addr,
            state,
            gets,
            watches,
            _runtime: runtime,
        }
    }

    fn handle(
        req: http::Request<hyper::body::Incoming>,
        state: &Mutex<ApiState>,
        gets: &AtomicUsize,
        watches: &AtomicUsize,
    ) -> http::Response<Body> {
        let auth = req.headers().get("authorization").and_then(|v| v.to_str().ok());
        if auth != Some(&format!("Bearer {TOKEN}")) {
            return json_response(401, &status(401, "Unauthorized", "Unauthorized"));
        }
        let path = req.uri().path().to_owned();
        let query = req.uri().query().unwrap_or("").to_owned();
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let mut state = state.lock().unwrap();
        state.requests.push(req.uri().to_string());
        match segments.as_slice() {
            ["api", "v1", "serviceaccounts"] if query.contains("watch=1") || query.contains("watch=true") => {
                watches.fetch_add(1, Ordering::SeqCst);
                let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
                state.watchers.push(tx);
                let stream = futures::stream::unfold(rx, |mut rx| async move {
                    let chunk = rx.recv().await?;
                    Some((Ok::<_, Infallible>(hyper::body::Frame::data(chunk)), rx))
                });
                http::Response::builder()
                    .status(200)
                    .header("content-type", "application/json")
                    .header("transfer-encoding", "chunked")
                    .body(BodyExt::boxed(StreamBody::new(stream)))
                    .unwrap()
            }
            ["api", "v1", "serviceaccounts"] => {
                // A list's items carry no kind/apiVersion, as kube-apiserver sends them.
                let items: Vec<Value> = state
                    .accounts
                    .values()
                    .map(|sa| {
                        let mut item = sa.clone();
                        item.as_object_mut()
                            .unwrap()
                            .retain(|k, _| k != "kind" && k != "apiVersion");
                        item
                    })
                    .collect();
                json_response(
                    200,
                    &json!({"kind": "ServiceAccountList", "apiVersion": "v1",
                            "metadata": {"resourceVersion": state.resource_version.to_string()},
                            "items": items}),
                )
            }
            ["api", "v1", "namespaces", ns, "serviceaccounts", name] => {
                gets.fetch_add(1, Ordering::SeqCst);
                match state.accounts.get(&(ns.to_string(), name.to_string())) {
                    Some(sa) => json_response(200, sa),
                    None => json_response(
                        404,
                        &status(404, "NotFound", &format!("serviceaccounts \"{name}\" not found")),
                    ),
                }
            }
            _ => json_response(
                404,
                &status(404, "NotFound", "the server could not find the requested resource"),
            ),
        }
    }

    /// Creates or replaces a ServiceAccount; `notify` sends the watch event (else only a GET sees it).
    fn put(&self, namespace: &str, name: &str, annotations: &[(&str, &str)], notify: bool) {
        let mut state = self.state.lock().unwrap();
        state.resource_version += 1;
        let sa = service_account(namespace, name, annotations, state.resource_version);
        let key = (namespace.to_owned(), name.to_owned());
        let kind = if state.accounts.contains_key(&key) {
            "MODIFIED"
        } else {
            "ADDED"
        };
        state.accounts.insert(key, sa.clone());
        if notify {
            let mut line = serde_json::to_vec(&json!({"type": kind, "object": sa})).unwrap();
            line.push(b'\n');
            let line = Bytes::from(line);
            state.watchers.retain(|w| w.send(line.clone()).is_ok());
        }
    }

    fn kubeconfig(&self, ca: &TestCa, dir: &Path) -> PathBuf {
        let ca_data = base64::engine::general_purpose::STANDARD.encode(ca.cert.pem());
        let path = dir.join("kubeconfig");
        std::fs::write(
            &path,
            format!(
                "apiVersion: v1\nkind: Config\ncurrent-context: test\nclusters:\n- name: fake\n  cluster:\n    server: https://127.0.0.1:{}\n    certificate-authority-data: {ca_data}\ncontexts:\n- name: test\n  context:\n    cluster: fake\n    user: webhook\nusers:\n- name: webhook\n  user:\n    token: {TOKEN}\n",
                self.addr.port()
            ),
        )
        .unwrap();
        path
    }
}

// ---- the webhook process ----

struct Webhook {
    child: Child,
    stderr: Arc<Mutex<String>>,
    addr: SocketAddr,
    client: Arc<rustls::ClientConfig>,
}

impl Webhook {
    fn start(dir: &Path, kubeconfig: &Path, ca: &TestCa, extra: &[&str]) -> Webhook {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_keyless"));
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("KEYLESS_") {
                cmd.env_remove(name);
            }
        }
        cmd.current_dir(dir)
            .arg("webhook")
            .args([
                "--listen",
                "127.0.0.1:0",
                "--tls-cert",
                "tls.crt",
                "--tls-key",
                "tls.key",
            ])
            .arg("--kubeconfig")
            .arg(kubeconfig)
            // Flags and env both work: the endpoint comes from the environment.
            .env("KEYLESS_WEBHOOK_ENDPOINT", ENDPOINT)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err = child.stderr.take().unwrap();
        let text = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                text.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let addr = first
            .trim()
            .strip_prefix("keyless webhook listening on https://")
            .unwrap_or_else(|| {
                std::thread::sleep(Duration::from_millis(200));
                panic!("first line {first:?}; stderr:\n{}", stderr.lock().unwrap())
            })
            .parse()
            .unwrap();
        Webhook {
            child,
            stderr,
            addr,
            client: ca.client_config(),
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// One request over TLS (SNI localhost, verified against the test CA): (status, body, server cert DER).
    fn request(&self, method: &str, path: &str, content_type: &str, body: &[u8]) -> (u16, Vec<u8>, Vec<u8>) {
        let tcp = TcpStream::connect(self.addr).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let conn = rustls::ClientConnection::new(self.client.clone(), "localhost".try_into().unwrap()).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        tls.write_all(head.as_bytes()).unwrap();
        tls.write_all(body).unwrap();
        tls.flush().unwrap();
        let mut raw = Vec::new();
        match tls.read_to_end(&mut raw) {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => {}
            Err(e) => panic!("reading the response: {e}"),
        }
        let leaf = tls.conn.peer_certificates().unwrap()[0].as_ref().to_vec();
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("response head");
        let head = String::from_utf8_lossy(&raw[..split]).to_string();
        let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
        (status, raw[split + 4..].to_vec(), leaf)
    }

    fn get(&self, path: &str) -> (u16, String) {
        let (status, body, _) = self.request("GET", path, "text/plain", b"");
        (status, String::from_utf8(body).unwrap())
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.get("/readyz").0 != 200 {
            assert!(Instant::now() < deadline, "never ready; stderr:\n{}", self.stderr());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// POSTs an AdmissionReview; returns its `response`.
    fn admit(&self, review: &Value) -> Value {
        let (status, body, _) = self.request(
            "POST",
            "/mutate",
            "application/json",
            &serde_json::to_vec(review).unwrap(),
        );
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let answer: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(answer["apiVersion"], "admission.k8s.io/v1");
        assert_eq!(answer["kind"], "AdmissionReview");
        assert_eq!(answer["response"]["uid"], review["request"]["uid"]);
        answer["response"].clone()
    }

    /// The metric's value in /metrics (0 when absent).
    fn metric(&self, series: &str) -> u64 {
        let (status, text) = self.get("/metrics");
        assert_eq!(status, 200);
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---- fixtures and checks ----

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../webhook/tests/data")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The pod after the response's patch (the pod unchanged when there is none).
fn patched(review: &Value, response: &Value) -> Value {
    let mut pod = review["request"]["object"].clone();
    if let Some(patch) = response["patch"].as_str() {
        assert_eq!(response["patchType"], "JSONPatch");
        let ops: json_patch::Patch =
            serde_json::from_slice(&base64::engine::general_purpose::STANDARD.decode(patch).unwrap()).unwrap();
        json_patch::patch(&mut pod, &ops).unwrap();
    }
    pod
}

fn env_of(container: &Value) -> BTreeMap<String, String> {
    container["env"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| Some((e["name"].as_str()?.to_owned(), e["value"].as_str()?.to_owned())))
        .collect()
}

/// Every container and initContainer has the identity of `role_arn`, and the pod the projected
/// token volume with `audience`.
fn assert_injected(pod: &Value, role_arn: &str, audience: &str) {
    let spec = &pod["spec"];
    let containers: Vec<&Value> = ["initContainers", "containers"]
        .iter()
        .flat_map(|k| spec[k].as_array().into_iter().flatten())
        .collect();
    assert!(!containers.is_empty());
    for c in containers {
        let env = env_of(c);
        let name = c["name"].as_str().unwrap();
        assert_eq!(
            env.get("AWS_ROLE_ARN").map(String::as_str),
            Some(role_arn),
            "{name}: {env:?}"
        );
        assert_eq!(
            env.get("AWS_WEB_IDENTITY_TOKEN_FILE").map(String::as_str),
            Some("/var/run/secrets/keyless/serviceaccount/token"),
            "{name}"
        );
        assert_eq!(
            env.get("AWS_ENDPOINT_URL_STS").map(String::as_str),
            Some(ENDPOINT),
            "{name}"
        );
        assert_eq!(
            env.get("AWS_ENDPOINT_URL_S3").map(String::as_str),
            Some(ENDPOINT),
            "{name}"
        );
        assert_eq!(env.get("AWS_REGION").map(String::as_str), Some("us-east-1"), "{name}");
        assert_eq!(
            env.get("AWS_DEFAULT_REGION").map(String::as_str),
            Some("us-east-1"),
            "{name}"
        );
        let mount = c["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == "keyless-token")
            .unwrap_or_else(|| panic!("{name}: no keyless-token mount"));
        assert_eq!(mount["mountPath"], "/var/run/secrets/keyless/serviceaccount");
        assert_eq!(mount["readOnly"], true);
    }
    let volume = spec["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "keyless-token")
        .expect("keyless-token volume");
    let token = &volume["projected"]["sources"][0]["serviceAccountToken"];
    assert_eq!(token["audience"], audience, "{volume}");
    assert_eq!(token["path"], "token");
    assert!(token["expirationSeconds"].as_u64().is_some(), "{volume}");
}

fn with_service_account(mut review: Value, name: &str, uid: &str) -> Value {
    review["request"]["object"]["spec"]["serviceAccountName"] = name.into();
    review["request"]["object"]["spec"]["serviceAccount"] = name.into();
    review["request"]["uid"] = uid.into();
    review
}

fn setup() -> (tempfile::TempDir, TestCa, FakeApi, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("keyless webhook test CA");
    let (cert, key, _) = ca.leaf("keyless-webhook");
    std::fs::write(dir.path().join("tls.crt"), cert).unwrap();
    std::fs::write(dir.path().join("tls.key"), key).unwrap();
    let api = FakeApi::start(&ca);
    let kubeconfig = api.kubeconfig(&ca, dir.path());
    (dir, ca, api, kubeconfig)
}

// ---- tests ----

#[test]
fn mutates_pods_by_their_service_account_through_the_kubernetes_api() {
    let (dir, ca, api, kubeconfig) = setup();
    api.put("apps", "web", &[("keyless.io/role-arn", "web")], false);
    api.put(
        "apps",
        "litestream",
        &[
            ("keyless.io/role-arn", "arn:aws:iam::123456789012:role/litestream"),
            ("keyless.io/audience", "litestream"),
        ],
        false,
    );
    api.put("apps", "default", &[], false);
    let webhook = Webhook::start(dir.path(), &kubeconfig, &ca, &[]);
    assert_eq!(webhook.get("/healthz"), (200, "ok".to_owned()));
    webhook.wait_ready();

    // Annotated (bare role name → the configured account): every container, init included.
    let review = fixture("deployment-pod.json");
    let response = webhook.admit(&review);
    assert_eq!(response["allowed"], true);
    assert_injected(
        &patched(&review, &response),
        "arn:aws:iam::000000000000:role/web",
        "keyless",
    );

    // A StatefulSet pod with a full ARN and its own audience.
    let review = fixture("statefulset-litestream-pod.json");
    let response = webhook.admit(&review);
    assert_injected(
        &patched(&review, &response),
        "arn:aws:iam::123456789012:role/litestream",
        "litestream",
    );
    assert_eq!(api.gets.load(Ordering::SeqCst), 0, "served from the LIST cache");

    // No annotation: admitted, no patch.
    let review = fixture("kubectl-run-pod.json");
    let response = webhook.admit(&review);
    assert_eq!(response["allowed"], true);
    assert!(response.get("patch").is_none(), "{response}");
    assert_eq!(patched(&review, &response), review["request"]["object"]);

    // The same ServiceAccount annotated later: the WATCH event reaches the cache.
    api.put("apps", "default", &[("keyless.io/role-arn", "shell")], true);
    let deadline = Instant::now() + Duration::from_secs(10);
    let response = loop {
        let response = webhook.admit(&review);
        if response.get("patch").is_some() || Instant::now() > deadline {
            break response;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_injected(
        &patched(&review, &response),
        "arn:aws:iam::000000000000:role/shell",
        "keyless",
    );
    assert_eq!(
        api.gets.load(Ordering::SeqCst),
        0,
        "the watch, not a GET, updated the cache"
    );
    assert!(api.watches.load(Ordering::SeqCst) >= 1);
    // The reflector listed, then watched from the list's resourceVersion.
    let requests = api.state.lock().unwrap().requests.clone();
    assert!(requests[0].starts_with("/api/v1/serviceaccounts?"), "{requests:?}");
    assert!(!requests[0].contains("watch"), "{requests:?}");
    assert!(
        requests[1].contains("watch=true") && requests[1].contains("resourceVersion=103"),
        "{requests:?}"
    );

    // Created a moment before its pod, not yet in the cache: a direct GET finds it.
    api.put("apps", "fresh", &[("keyless.io/role-arn", "fresh")], false);
    let review = with_service_account(fixture("kubectl-run-pod.json"), "fresh", "uid-fresh");
    let response = webhook.admit(&review);
    assert_injected(
        &patched(&review, &response),
        "arn:aws:iam::000000000000:role/fresh",
        "keyless",
    );
    assert_eq!(api.gets.load(Ordering::SeqCst), 1);

    // Missing: admitted unchanged, with a warning, logged and counted.
    let review = with_service_account(fixture("kubectl-run-pod.json"), "ghost", "uid-ghost");
    let response = webhook.admit(&review);
    assert_eq!(response["allowed"], true);
    assert!(response.get("patch").is_none(), "{response}");
    let warnings = response["warnings"].to_string();
    assert!(warnings.contains("apps/ghost"), "{warnings}");
    assert!(webhook.stderr().contains("apps/ghost"), "{}", webhook.stderr());

    // A pod that opts out by label: admitted, no patch, no lookup.
    let mut review = fixture("deployment-pod.json");
    review["request"]["object"]["metadata"]["labels"]["keyless.io/inject"] = "false".into();
    review["request"]["uid"] = "uid-opt-out".into();
    let response = webhook.admit(&review);
    assert_eq!(response["allowed"], true);
    assert!(response.get("patch").is_none(), "{response}");

    // Skipped containers keep their spec; the others get the identity.
    let mut review = fixture("deployment-pod.json");
    review["request"]["object"]["metadata"]["annotations"] = json!({"keyless.io/skip-containers": "migrate"});
    review["request"]["uid"] = "uid-skip".into();
    let response = webhook.admit(&review);
    let pod = patched(&review, &response);
    assert_eq!(
        pod["spec"]["initContainers"][0], review["request"]["object"]["spec"]["initContainers"][0],
        "the skipped initContainer is unchanged"
    );
    assert_eq!(
        env_of(&pod["spec"]["containers"][0])
            .get("AWS_ROLE_ARN")
            .map(String::as_str),
        Some("arn:aws:iam::000000000000:role/web")
    );

    // Not a Pod CREATE: admitted, no lookup.
    let mut review = fixture("kubectl-run-pod.json");
    review["request"]["operation"] = "UPDATE".into();
    review["request"]["uid"] = "uid-update".into();
    let response = webhook.admit(&review);
    assert_eq!(response["allowed"], true);
    assert!(response.get("patch").is_none());

    // An already-mutated pod: nothing to change.
    let review = fixture("deployment-pod.json");
    let first = webhook.admit(&review);
    let mut again = review.clone();
    again["request"]["object"] = patched(&review, &first);
    let response = webhook.admit(&again);
    assert_eq!(response["allowed"], true);
    assert_eq!(patched(&again, &response), again["request"]["object"]);

    // Malformed bodies and wrong content types are HTTP errors, not admissions.
    assert_eq!(
        webhook.request("POST", "/mutate", "application/json", b"{not json").0,
        400
    );
    assert_eq!(
        webhook
            .request("POST", "/mutate", "application/json", br#"{"kind":"AdmissionReview"}"#)
            .0,
        400
    );
    assert_eq!(webhook.request("POST", "/mutate", "text/plain", b"{}").0, 415);
    assert_eq!(webhook.request("GET", "/mutate", "text/plain", b"").0, 405);
    assert_eq!(webhook.get("/nope").0, 404);

    // Metrics by outcome.
    let m = |s: &str| webhook.metric(s);
    // web, litestream, shell (after the watch), fresh, skip-containers, web before the re-admission.
    assert_eq!(m("keyless_webhook_admissions_total{outcome=\"mutated\"}"), 6);
    assert_eq!(m("keyless_webhook_admissions_total{outcome=\"skipped_opt_out\"}"), 1);
    assert!(m("keyless_webhook_admissions_total{outcome=\"skipped_no_role\"}") >= 1);
    assert_eq!(
        m("keyless_webhook_admissions_total{outcome=\"service_account_unavailable\"}"),
        1
    );
    assert_eq!(m("keyless_webhook_admissions_total{outcome=\"not_pod_create\"}"), 1);
    assert_eq!(m("keyless_webhook_admissions_total{outcome=\"already_mutated\"}"), 1);
    assert_eq!(m("keyless_webhook_lookup_failures_total"), 1);
    assert!(m("keyless_webhook_request_duration_seconds_count") >= 11);
    let (_, text) = webhook.get("/metrics");
    assert!(
        text.contains("# TYPE keyless_webhook_request_duration_seconds histogram"),
        "{text}"
    );
    assert!(
        text.contains("keyless_webhook_request_duration_seconds_bucket{le=\"+Inf\"}"),
        "{text}"
    );
}

#[test]
fn kubernetes_api_down_admits_unchanged_and_strict_mode_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("keyless webhook test CA");
    let (cert, key, _) = ca.leaf("keyless-webhook");
    std::fs::write(dir.path().join("tls.crt"), cert).unwrap();
    std::fs::write(dir.path().join("tls.key"), key).unwrap();
    // A kubeconfig pointing at a port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let ca_data = base64::engine::general_purpose::STANDARD.encode(ca.cert.pem());
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: k\n  cluster:\n    server: https://127.0.0.1:{}\n    certificate-authority-data: {ca_data}\ncontexts:\n- name: c\n  context:\n    cluster: k\n    user: u\nusers:\n- name: u\n  user:\n    token: {TOKEN}\n",
            closed.port()
        ),
    )
    .unwrap();

    let review = fixture("deployment-pod.json");
    let lenient = Webhook::start(dir.path(), &kubeconfig, &ca, &[]);
    assert_eq!(lenient.get("/healthz").0, 200);
    assert_eq!(lenient.get("/readyz").0, 503, "not ready before the cache syncs");
    let response = lenient.admit(&review);
    assert_eq!(response["allowed"], true);
    assert!(response.get("patch").is_none(), "{response}");
    assert!(response["warnings"].to_string().contains("apps/web"), "{response}");
    assert_eq!(lenient.metric("keyless_webhook_lookup_failures_total"), 1);
    assert_eq!(
        lenient.metric("keyless_webhook_admissions_total{outcome=\"service_account_unavailable\"}"),
        1
    );
    assert!(lenient.stderr().contains("could not be read"), "{}", lenient.stderr());

    let strict = Webhook::start(dir.path(), &kubeconfig, &ca, &["--strict"]);
    let response = strict.admit(&review);
    assert_eq!(response["allowed"], false, "{response}");
    assert_eq!(response["status"]["code"], 403, "{response}");
    assert_eq!(strict.metric("keyless_webhook_lookup_failures_total"), 1);
}

#[test]
fn picks_up_a_rotated_certificate_without_restart() {
    let (dir, ca, _api, kubeconfig) = setup();
    let webhook = Webhook::start(dir.path(), &kubeconfig, &ca, &[]);
    let (_, _, first) = webhook.request("GET", "/healthz", "text/plain", b"");
    let (cert2, key2, der2) = ca.leaf("rotated");
    assert!(first != der2);
    // cert-manager writes both files; replace each atomically.
    for (name, contents) in [("tls.key", key2), ("tls.crt", cert2)] {
        let tmp = dir.path().join(format!("{name}.new"));
        std::fs::write(&tmp, contents).unwrap();
        std::fs::rename(&tmp, dir.path().join(name)).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, _, served) = webhook.request("GET", "/healthz", "text/plain", b"");
        assert_eq!(status, 200);
        if served == der2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the rotated certificate was never served:\n{}",
            webhook.stderr()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        webhook.stderr().contains("reloaded the TLS certificate"),
        "{}",
        webhook.stderr()
    );
}

#[test]
fn configuration_errors_name_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_keyless"))
        .current_dir(dir.path())
        .args([
            "webhook",
            "--tls-cert",
            "c",
            "--tls-key",
            "k",
            "--endpoint",
            "keyless:9000",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--sts-endpoint/--endpoint"), "{stderr}");
}

/// Over TLS, table-driven: user-set AWS_* env is never overridden (the rest is injected), an
/// existing volume with the webhook's volume name is left alone, and non-Pod kinds pass untouched.
#[test]
fn user_env_existing_volume_and_non_pod_kinds() {
    let (dir, ca, api, kubeconfig) = setup();
    api.put("apps", "web", &[("keyless.io/role-arn", "web")], false);
    let webhook = Webhook::start(dir.path(), &kubeconfig, &ca, &[]);
    webhook.wait_ready();

    // User-set env on the first container of deployment-pod.json.
    let user_env = json!([
        {"name": "AWS_REGION", "value": "eu-west-3"},
        {"name": "AWS_ENDPOINT_URL_S3", "value": "http://minio.local:9000"},
        {"name": "AWS_ROLE_ARN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "arn"}}},
    ]);
    let mut user_set = fixture("deployment-pod.json");
    user_set["request"]["uid"] = "uid-user-env".into();
    user_set["request"]["object"]["spec"]["containers"][0]["env"] = user_env.clone();

    // Only endpoint/region set by the user, no identity: the role and token file are injected.
    let mut region_only = fixture("deployment-pod.json");
    region_only["request"]["uid"] = "uid-region-only".into();
    region_only["request"]["object"]["spec"]["containers"][0]["env"] = json!([
        {"name": "PORT", "value": "8080"},
        {"name": "AWS_DEFAULT_REGION", "value": "ap-south-1"},
        {"name": "AWS_ENDPOINT_URL_STS", "value": "http://sts.local:9000"},
    ]);

    let own_volume = json!({"name": "keyless-token", "emptyDir": {}});
    let mut existing_volume = fixture("deployment-pod.json");
    existing_volume["request"]["uid"] = "uid-volume".into();
    existing_volume["request"]["object"]["spec"]["volumes"]
        .as_array_mut()
        .unwrap()
        .push(own_volume.clone());

    let mut deployment = fixture("deployment-pod.json");
    deployment["request"]["uid"] = "uid-deployment".into();
    for k in ["kind", "requestKind"] {
        deployment["request"][k] = json!({"group": "apps", "version": "v1", "kind": "Deployment"});
    }
    for k in ["resource", "requestResource"] {
        deployment["request"][k] = json!({"group": "apps", "version": "v1", "resource": "deployments"});
    }
    deployment["request"]["name"] = "web".into();
    let template = deployment["request"]["object"].clone();
    deployment["request"]["object"] = json!({
        "kind": "Deployment", "apiVersion": "apps/v1",
        "metadata": {"name": "web", "namespace": "apps"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": template["metadata"], "spec": template["spec"]}},
    });

    type Check = fn(&Value, &Value, &Value);
    let cases: Vec<(&str, Value, Check)> = vec![
        ("user-set AWS_* env", user_set, |review, response, pod| {
            assert_eq!(response["allowed"], true);
            let original = &review["request"]["object"]["spec"]["containers"][0]["env"];
            let env = pod["spec"]["containers"][0]["env"].as_array().unwrap();
            let count = |n: &str| env.iter().filter(|e| e["name"] == n).count();
            // AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE go as a pair: the user set the role, so
            // neither is injected (mutate.rs: "both, or neither").
            assert_eq!(count("AWS_WEB_IDENTITY_TOKEN_FILE"), 0, "{env:?}");
            for name in [
                "AWS_ROLE_ARN",
                "AWS_ENDPOINT_URL_STS",
                "AWS_ENDPOINT_URL_S3",
                "AWS_REGION",
                "AWS_DEFAULT_REGION",
            ] {
                assert_eq!(count(name), 1, "{name} exactly once: {env:?}");
            }
            // The user's entries are kept verbatim (valueFrom included).
            for e in original.as_array().unwrap() {
                assert!(env.contains(e), "{e} kept: {env:?}");
            }
            let values = env_of(&pod["spec"]["containers"][0]);
            assert_eq!(values["AWS_REGION"], "eu-west-3");
            assert_eq!(values["AWS_ENDPOINT_URL_S3"], "http://minio.local:9000");
            assert!(
                !values.contains_key("AWS_ROLE_ARN"),
                "valueFrom not replaced by a value"
            );
            assert_eq!(values["AWS_ENDPOINT_URL_STS"], ENDPOINT);
            assert_eq!(values["AWS_DEFAULT_REGION"], "us-east-1");
            // Other containers get everything.
            let init = env_of(&pod["spec"]["initContainers"][0]);
            assert_eq!(init["AWS_ROLE_ARN"], "arn:aws:iam::000000000000:role/web");
            assert_eq!(init["AWS_REGION"], "us-east-1");
            assert_eq!(
                init["AWS_WEB_IDENTITY_TOKEN_FILE"],
                "/var/run/secrets/keyless/serviceaccount/token"
            );
        }),
        (
            "user-set region and STS endpoint only",
            region_only,
            |review, response, pod| {
                assert_eq!(response["allowed"], true);
                let env = pod["spec"]["containers"][0]["env"].as_array().unwrap();
                assert_eq!(env.len(), 7, "3 kept + 4 injected: {env:?}");
                assert_eq!(
                    &env[..3],
                    review["request"]["object"]["spec"]["containers"][0]["env"]
                        .as_array()
                        .unwrap()
                        .as_slice()
                );
                let values = env_of(&pod["spec"]["containers"][0]);
                assert_eq!(values["AWS_DEFAULT_REGION"], "ap-south-1");
                assert_eq!(values["AWS_ENDPOINT_URL_STS"], "http://sts.local:9000");
                assert_eq!(values["AWS_REGION"], "us-east-1");
                assert_eq!(values["AWS_ENDPOINT_URL_S3"], ENDPOINT);
                assert_eq!(values["AWS_ROLE_ARN"], "arn:aws:iam::000000000000:role/web");
                assert_eq!(
                    values["AWS_WEB_IDENTITY_TOKEN_FILE"],
                    "/var/run/secrets/keyless/serviceaccount/token"
                );
            },
        ),
        ("existing volume name", existing_volume, |review, response, pod| {
            assert_eq!(response["allowed"], true);
            let named: Vec<&Value> = pod["spec"]["volumes"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|v| v["name"] == "keyless-token")
                .collect();
            assert_eq!(
                named,
                vec![&json!({"name": "keyless-token", "emptyDir": {}})],
                "left alone"
            );
            // The other volumes are untouched too, and the containers still get the identity env and
            // a read-only mount of the (user's) volume of that name.
            assert_eq!(
                pod["spec"]["volumes"].as_array().unwrap().len(),
                review["request"]["object"]["spec"]["volumes"].as_array().unwrap().len()
            );
            for c in ["initContainers", "containers"]
                .iter()
                .flat_map(|k| pod["spec"][k].as_array().unwrap())
            {
                assert_eq!(env_of(c)["AWS_ROLE_ARN"], "arn:aws:iam::000000000000:role/web");
                let mounts: Vec<&Value> = c["volumeMounts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|m| m["name"] == "keyless-token")
                    .collect();
                assert_eq!(mounts.len(), 1, "{c}");
                assert_eq!(mounts[0]["readOnly"], true);
            }
        }),
        ("non-Pod kind (Deployment)", deployment, |review, response, pod| {
            assert_eq!(response["allowed"], true);
            assert!(response.get("patch").is_none(), "{response}");
            assert_eq!(pod, &review["request"]["object"]);
        }),
    ];
    for (name, review, check) in cases {
        let response = webhook.admit(&review);
        assert_eq!(response["uid"], review["request"]["uid"], "{name}");
        let pod = patched(&review, &response);
        eprintln!("case {name}: {response}");
        check(&review, &response, &pod);
    }
    assert!(api.gets.load(Ordering::SeqCst) == 0);
}
