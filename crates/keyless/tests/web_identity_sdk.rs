//! aws-sdk-rust with ONLY the pod environment, and S3 requests with expired or foreign temporary
//! credentials.
//!
//! Each test starts its own `keyless serve` with an `identity:` config that trusts a test issuer
//! (`keyless_idp::DevIssuer`: an in-memory P-256 key whose JWKS goes inline into the config; its
//! tokens have the kubelet's shape) and, for the credential tests, a `session_key_file` the test
//! wrote itself, so it can mint sessions with `keyless_identity::session::mint` exactly as the
//! server's STS would.
//!
//! - `aws_sdk_rust_gets_in_with_only_the_pod_environment`: a child process (the `pod_client`
//!   example, crates/keyless/examples/pod_client.rs) gets an environment holding nothing but
//!   AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL_S3,
//!   AWS_REGION, AWS_DEFAULT_REGION, an empty HOME and empty AWS config files, and metadata off.
//!   There, `aws_config::defaults(..).load()` — the default chain, the default region and
//!   endpoint resolution — must find the token file, call AssumeRoleWithWebIdentity on keyless's
//!   port, and the S3 and STS clients built from that config put, get, list, see AccessDenied
//!   outside the role's prefix, and GetCallerIdentity names the assumed role. (A child process,
//!   because aws-config's `Env`/`Fs` test hooks on `ProviderConfig` are crate-private.)
//! - `expired_temporary_credentials_are_refused`: credentials sealed with the server's own key
//!   work while valid (the control), and the same kind of credentials whose expiry has passed get
//!   `ExpiredToken` on GetObject and PutObject, and change nothing.
//! - `credentials_sealed_with_a_key_the_server_does_not_have_are_refused`: a session minted under a
//!   key id that is not in the server's file, and one under the server's key id with another
//!   secret, get `InvalidToken` and change nothing.

mod common;

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{Credentials, Region};
use aws_sdk_s3::error::ProvideErrorMetadata as _;
use aws_sdk_s3::primitives::ByteStream;
use base64::Engine as _;
use common::{ACCESS_KEY, REGION, SECRET_KEY, body_bytes, client_for, show, status_of};
use keyless_identity::SystemRandom;
use keyless_identity::session::{SessionClaims, SessionKey, SessionKeys, mint};
use keyless_idp::{DevIssuer, ServiceAccountToken};

const ISSUER: &str = "https://k8s.keyless.test";
const AUDIENCE: &str = "sts.amazonaws.com";
const ACCOUNT: &str = "123456789012";
const BUCKET: &str = "pods";
const NAMESPACE: &str = "apps";
const ROLE: &str = "arn:aws:iam::123456789012:role/apps";
/// The key id of the server's session key file.
const SERVER_KEY_ID: u32 = 7;
/// The `pod_client` example (crates/keyless/examples/pod_client.rs): cargo builds examples
/// beside the test binaries (`cargo test` and `cargo build --all-targets` do).
fn pod_client() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let examples = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>")
        .join("examples");
    let path = examples.join("pod_client");
    assert!(
        path.exists(),
        "{} is missing: build it with `cargo build -p keyless --examples` (scripts/test.sh does)",
        path.display()
    );
    path
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// A `keyless serve` with an identity config, on a fresh data directory.
struct IdentityServer {
    dir: tempfile::TempDir,
    child: Option<Child>,
    endpoint: String,
    root: Client,
    session_secret: [u8; 32],
}

impl IdentityServer {
    fn start(issuer: &DevIssuer) -> Self {
        let dir = tempfile::Builder::new().prefix("keyless-wi-sdk-").tempdir().unwrap();
        let mut session_secret = [0u8; 32];
        keyless_identity::Random::fill(&SystemRandom::new(), &mut session_secret);
        let key_file = dir.path().join("session-keys");
        std::fs::write(
            &key_file,
            format!(
                "# written by tests/web_identity_sdk.rs\nversion: 1\nkey: {SERVER_KEY_ID} {}\n",
                base64::engine::general_purpose::STANDARD.encode(session_secret)
            ),
        )
        .unwrap();
        let policy = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"],
                 "Resource": format!("arn:aws:s3:::{BUCKET}/${{keyless:namespace}}/*")},
                {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": format!("arn:aws:s3:::{BUCKET}")},
                {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}
            ]
        });
        let config = format!(
            r#"identity:
  account_id: "{ACCOUNT}"
  session_key_file: {key_file}
  issuers:
    - issuer: {ISSUER}
      jwks: '{jwks}'
      audiences: [{AUDIENCE}]
  roles:
    - name: apps
      trust:
        issuer: {ISSUER}
        audience: {AUDIENCE}
        service_accounts: ["{NAMESPACE}/*"]
      policies:
        - '{policy}'
"#,
            key_file = key_file.display(),
            jwks = issuer.jwks_json(),
        );
        let config_path = dir.path().join("keyless.yaml");
        std::fs::write(&config_path, config).unwrap();
        std::fs::create_dir(dir.path().join("data")).unwrap();
        let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_keyless"))
            .arg("serve")
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--config")
            .arg(&config_path)
            .env("KEYLESS_ROOT_ACCESS_KEY", ACCESS_KEY)
            .env("KEYLESS_ROOT_SECRET_KEY", SECRET_KEY)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("spawn keyless");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<SocketAddr>();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.trim().strip_prefix("keyless: listening on http://") {
                    let addr = rest.split_whitespace().next().unwrap_or("").trim_end_matches('/');
                    if let (Ok(a), Some(tx)) = (addr.parse::<SocketAddr>(), tx.take()) {
                        let _ = tx.send(a);
                    }
                }
            }
        });
        let Ok(addr) = rx.recv_timeout(Duration::from_secs(30)) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "keyless did not start:\n{}",
                std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default()
            );
        };
        let endpoint = format!("http://{addr}");
        let root = client_for(&endpoint, ACCESS_KEY, SECRET_KEY);
        IdentityServer {
            dir,
            child: Some(child),
            endpoint,
            root,
            session_secret,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    fn server_keys(&self) -> SessionKeys {
        SessionKeys::new(SessionKey::new(SERVER_KEY_ID, &self.session_secret))
    }
}

impl Drop for IdentityServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("--- keyless log ---\n{}", self.log());
        }
    }
}

/// An S3 client signing with temporary credentials (no retries: every answer is final).
fn session_client(endpoint: &str, creds: &keyless_identity::session::Credentials) -> Client {
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version_latest()
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            &creds.access_key_id,
            &creds.secret_access_key,
            Some(creds.session_token.clone()),
            None,
            "minted-by-test",
        ))
        .force_path_style(true)
        .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    Client::from_conf(conf)
}

/// Claims like the ones the server's STS seals for `system:serviceaccount:apps:app`.
fn claims(issued_at: i64, expires_at: i64) -> SessionClaims {
    SessionClaims {
        role_arn: ROLE.to_owned(),
        session_name: "minted-by-test".to_owned(),
        subject: format!("system:serviceaccount:{NAMESPACE}:app"),
        issuer: ISSUER.to_owned(),
        namespace: Some(NAMESPACE.to_owned()),
        service_account: Some("app".to_owned()),
        pod: Some("app-0".to_owned()),
        audiences: vec![AUDIENCE.to_owned()],
        session_policy: None,
        issued_at,
        expires_at,
    }
}

// ------------------------------------------------------------------------------------ aws-sdk-rust

#[tokio::test]
async fn aws_sdk_rust_gets_in_with_only_the_pod_environment() {
    let issuer = DevIssuer::generate(ISSUER);
    let srv = IdentityServer::start(&issuer);
    srv.root
        .create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("CreateBucket");

    let pod = tempfile::Builder::new().prefix("keyless-pod-").tempdir().unwrap();
    let home = pod.path().join("home");
    std::fs::create_dir(&home).unwrap();
    std::fs::write(home.join("aws-config"), "").unwrap();
    std::fs::write(home.join("aws-credentials"), "").unwrap();
    let token_file = pod.path().join("token");
    std::fs::write(
        &token_file,
        issuer.mint(&ServiceAccountToken::new(NAMESPACE, "app"), now()),
    )
    .unwrap();

    let key = format!("{NAMESPACE}/rust/hello.txt");
    let out = Command::new(pod_client())
        .args([BUCKET, &key, NAMESPACE, ACCOUNT, "apps"])
        .env_clear()
        .env("HOME", &home)
        .env("AWS_CONFIG_FILE", home.join("aws-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("aws-credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        // The pod environment, and nothing else from AWS_*.
        .env("AWS_ROLE_ARN", ROLE)
        .env("AWS_WEB_IDENTITY_TOKEN_FILE", &token_file)
        .env("AWS_ENDPOINT_URL_STS", &srv.endpoint)
        .env("AWS_ENDPOINT_URL_S3", &srv.endpoint)
        .env("AWS_REGION", REGION)
        .env("AWS_DEFAULT_REGION", REGION)
        .stdin(Stdio::null())
        .output()
        .expect("run the child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the pod client failed\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
    );
    assert!(
        stdout.contains("pod client: all checks passed"),
        "the pod client did not run its checks\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
    );
    println!("{stdout}");
    // What the child wrote is really there.
    let got = srv
        .root
        .get_object()
        .bucket(BUCKET)
        .key(&key)
        .send()
        .await
        .expect("root GetObject");
    assert_eq!(body_bytes(got.body).await, b"hello from aws-sdk-rust");
    // It called STS on keyless (the log records the decision).
    assert!(
        srv.log().contains("AssumeRoleWithWebIdentity"),
        "no STS call in the log:\n{}",
        srv.log()
    );
}

// ------------------------------------------------------------------------- temporary credentials

/// Asserts a refused request: 400 or 403 with this code.
#[track_caller]
fn assert_refused<T: std::fmt::Debug, E>(
    res: Result<T, aws_sdk_s3::error::SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>>,
    code: &str,
    what: &str,
) where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    match res {
        Ok(v) => panic!("{what}: expected {code}, but it succeeded: {v:?}"),
        Err(e) => {
            let status = status_of(&e);
            assert!(
                matches!(status, Some(400 | 403)),
                "{what}: expected 400/403 {code}, got {}",
                show(&e)
            );
            assert_eq!(e.code(), Some(code), "{what}: expected {code}, got {}", show(&e));
        }
    }
}

async fn object_or_none(c: &Client, key: &str) -> Option<Vec<u8>> {
    match c.get_object().bucket(BUCKET).key(key).send().await {
        Ok(o) => Some(body_bytes(o.body).await),
        Err(e) if e.code() == Some("NoSuchKey") => None,
        Err(e) => panic!("root GetObject {key}: {}", show(&e)),
    }
}

#[tokio::test]
async fn expired_temporary_credentials_are_refused() {
    let issuer = DevIssuer::generate(ISSUER);
    let srv = IdentityServer::start(&issuer);
    srv.root
        .create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("CreateBucket");
    let existing = format!("{NAMESPACE}/existing.txt");
    let fresh = format!("{NAMESPACE}/fresh.txt");
    srv.root
        .put_object()
        .bucket(BUCKET)
        .key(&existing)
        .body(ByteStream::from_static(b"original"))
        .send()
        .await
        .unwrap();
    let rng = SystemRandom::new();
    let t = now();

    // Control: a session sealed with the server's key, valid now, works for GET and PUT. So what
    // refuses the next ones is the expiry, not the way the test mints.
    let valid = mint(&srv.server_keys(), &claims(t - 60, t + 3600), &rng);
    let c = session_client(&srv.endpoint, &valid);
    let got = c.get_object().bucket(BUCKET).key(&existing).send().await;
    let got = got.unwrap_or_else(|e| panic!("GetObject with valid minted credentials: {}", show(&e)));
    assert_eq!(body_bytes(got.body).await, b"original");
    c.put_object()
        .bucket(BUCKET)
        .key(format!("{NAMESPACE}/control.txt"))
        .body(ByteStream::from_static(b"control"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("PutObject with valid minted credentials: {}", show(&e)));

    // Expired an hour ago, and expired by just over the token leeway (the default leeway is 60 s
    // for JWTs; sessions must not get it silently, but allow it: 2 minutes is past either).
    for (issued, expires, label) in [
        (t - 7200, t - 3600, "an hour ago"),
        (t - 1000, t - 120, "two minutes ago"),
    ] {
        let expired = mint(&srv.server_keys(), &claims(issued, expires), &rng);
        let c = session_client(&srv.endpoint, &expired);
        assert_refused(
            c.get_object().bucket(BUCKET).key(&existing).send().await,
            "ExpiredToken",
            &format!("GetObject, expired {label}"),
        );
        assert_refused(
            c.put_object()
                .bucket(BUCKET)
                .key(&existing)
                .body(ByteStream::from_static(b"overwritten"))
                .send()
                .await,
            "ExpiredToken",
            &format!("PutObject over an object, expired {label}"),
        );
        assert_refused(
            c.put_object()
                .bucket(BUCKET)
                .key(&fresh)
                .body(ByteStream::from_static(b"new"))
                .send()
                .await,
            "ExpiredToken",
            &format!("PutObject of a new key, expired {label}"),
        );
        assert_refused(
            c.delete_object().bucket(BUCKET).key(&existing).send().await,
            "ExpiredToken",
            &format!("DeleteObject, expired {label}"),
        );
    }
    // Nothing changed.
    assert_eq!(
        object_or_none(&srv.root, &existing).await.as_deref(),
        Some(&b"original"[..])
    );
    assert_eq!(object_or_none(&srv.root, &fresh).await, None);
}

#[tokio::test]
async fn credentials_sealed_with_a_key_the_server_does_not_have_are_refused() {
    let issuer = DevIssuer::generate(ISSUER);
    let srv = IdentityServer::start(&issuer);
    srv.root
        .create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("CreateBucket");
    let existing = format!("{NAMESPACE}/existing.txt");
    let fresh = format!("{NAMESPACE}/fresh.txt");
    srv.root
        .put_object()
        .bucket(BUCKET)
        .key(&existing)
        .body(ByteStream::from_static(b"original"))
        .send()
        .await
        .unwrap();
    let rng = SystemRandom::new();
    let t = now();
    let mut other_secret = [0u8; 32];
    keyless_identity::Random::fill(&rng, &mut other_secret);
    let foreign_keys = [
        (
            "a key id not in the server's file",
            SessionKeys::new(SessionKey::new(SERVER_KEY_ID + 1, &other_secret)),
        ),
        (
            "the server's key id with another secret",
            SessionKeys::new(SessionKey::new(SERVER_KEY_ID, &other_secret)),
        ),
    ];
    for (label, keys) in foreign_keys {
        let creds = mint(&keys, &claims(t - 60, t + 3600), &rng);
        let c = session_client(&srv.endpoint, &creds);
        assert_refused(
            c.get_object().bucket(BUCKET).key(&existing).send().await,
            "InvalidToken",
            &format!("GetObject, {label}"),
        );
        assert_refused(
            c.put_object()
                .bucket(BUCKET)
                .key(&existing)
                .body(ByteStream::from_static(b"overwritten"))
                .send()
                .await,
            "InvalidToken",
            &format!("PutObject over an object, {label}"),
        );
        assert_refused(
            c.put_object()
                .bucket(BUCKET)
                .key(&fresh)
                .body(ByteStream::from_static(b"new"))
                .send()
                .await,
            "InvalidToken",
            &format!("PutObject of a new key, {label}"),
        );
    }
    assert_eq!(
        object_or_none(&srv.root, &existing).await.as_deref(),
        Some(&b"original"[..])
    );
    assert_eq!(object_or_none(&srv.root, &fresh).await, None);
}
