//! A real HTTPS identity provider on 127.0.0.1 for the tests: a throwaway CA (rcgen), a leaf for
//! `localhost` and 127.0.0.1, hyper + rustls serving a discovery document and a JWKS — and told
//! by the test how to misbehave.

#![allow(dead_code)] // each test binary uses a different part

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use keyless_idp::{DiscoverySource, FetchOptions, IssuerSource, KeySource};
use tokio::net::TcpListener;

/// Each request's path and `Authorization` header, in order.
pub type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// Each provider's CA gets its own name, so another provider's CA is truly an unknown issuer.
static CA_SERIAL: AtomicUsize = AtomicUsize::new(0);

/// How the provider answers. Tests change it while the server runs.
#[derive(Clone, Debug, Default)]
pub struct Behaviour {
    /// The JWKS served at `/openid/v1/jwks`.
    pub jwks: String,
    /// Answer every request with HTTP 500.
    pub fail: bool,
    /// Demand `Authorization: Bearer <this>` (401 otherwise).
    pub require_bearer: Option<String>,
    /// Serve a 2 MiB JWKS.
    pub oversized: bool,
    /// Put another `issuer` in the discovery document.
    pub wrong_issuer: bool,
    /// Name a plain-http `jwks_uri`.
    pub http_jwks_uri: bool,
    /// Answer the discovery URL with a 302 to this location.
    pub redirect_discovery: Option<String>,
    /// Wait this long before answering the JWKS.
    pub jwks_delay: Duration,
}

pub struct TestIdp {
    pub port: u16,
    /// `https://127.0.0.1:<port>`: the issuer URL, also what the discovery document names.
    pub issuer: String,
    pub ca_file: PathBuf,
    pub behaviour: Arc<Mutex<Behaviour>>,
    pub discovery_hits: Arc<AtomicUsize>,
    pub jwks_hits: Arc<AtomicUsize>,
    /// Each request's path and Authorization header.
    pub seen: Seen,
    _dir: tempfile::TempDir,
    _task: tokio::task::JoinHandle<()>,
}

impl TestIdp {
    pub async fn start(jwks: String) -> Self {
        let dir = tempfile::tempdir().unwrap();
        // The CA and a leaf for localhost / 127.0.0.1 that it signs.
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(
            rcgen::DnType::CommonName,
            format!("keyless-idp test CA {}", CA_SERIAL.fetch_add(1, Ordering::SeqCst)),
        );
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let ca = rcgen::Issuer::new(ca_params, ca_key);
        let leaf_params = rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf = leaf_params.signed_by(&leaf_key, &ca).unwrap();
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca_cert.pem()).unwrap();

        let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
            )
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let issuer = format!("https://127.0.0.1:{port}");
        let behaviour = Arc::new(Mutex::new(Behaviour {
            jwks,
            ..Default::default()
        }));
        let discovery_hits = Arc::new(AtomicUsize::new(0));
        let jwks_hits = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let state = Served {
            issuer: issuer.clone(),
            behaviour: behaviour.clone(),
            discovery_hits: discovery_hits.clone(),
            jwks_hits: jwks_hits.clone(),
            seen: seen.clone(),
        };
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                let state = state.clone();
                tokio::spawn(async move {
                    // A client that refuses our certificate ends the handshake: nothing to serve.
                    let Ok(tls) = acceptor.accept(tcp).await else { return };
                    let service = service_fn(move |req| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(state.answer(req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        Self {
            port,
            issuer,
            ca_file,
            behaviour,
            discovery_hits,
            jwks_hits,
            seen,
            _dir: dir,
            _task: task,
        }
    }

    pub fn set(&self, change: impl FnOnce(&mut Behaviour)) {
        change(&mut self.behaviour.lock().unwrap());
    }

    pub fn jwks_fetches(&self) -> usize {
        self.jwks_hits.load(Ordering::SeqCst)
    }

    /// A discovery source for this provider, trusting its CA.
    pub fn source(&self) -> IssuerSource {
        IssuerSource {
            issuer: self.issuer.clone(),
            keys: KeySource::Discovery(DiscoverySource {
                url: None,
                ca_file: Some(self.ca_file.clone()),
                bearer_token_file: None,
            }),
            audiences: Vec::new(),
        }
    }
}

/// Fast limits for tests: a 2 s timeout, a cooldown the test chooses.
pub fn options(cooldown: Duration) -> FetchOptions {
    FetchOptions {
        timeout: Duration::from_secs(2),
        unknown_kid_cooldown: cooldown,
        ..FetchOptions::default()
    }
}

#[derive(Clone)]
struct Served {
    issuer: String,
    behaviour: Arc<Mutex<Behaviour>>,
    discovery_hits: Arc<AtomicUsize>,
    jwks_hits: Arc<AtomicUsize>,
    seen: Seen,
}

impl Served {
    async fn answer(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let path = req.uri().path().to_owned();
        let auth = req
            .headers()
            .get(http::header::AUTHORIZATION)
            .map(|v| v.to_str().unwrap().to_owned());
        self.seen.lock().unwrap().push((path.clone(), auth.clone()));
        let b = self.behaviour.lock().unwrap().clone();
        let reply = |status: StatusCode, body: String| {
            Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(body)))
                .unwrap()
        };
        if b.fail {
            return reply(StatusCode::INTERNAL_SERVER_ERROR, "{}".into());
        }
        if let Some(want) = &b.require_bearer
            && auth.as_deref() != Some(&format!("Bearer {want}"))
        {
            return reply(StatusCode::UNAUTHORIZED, "{}".into());
        }
        match path.as_str() {
            "/.well-known/openid-configuration" | "/moved/openid-configuration" => {
                if path.starts_with("/.well-known")
                    && let Some(location) = &b.redirect_discovery
                {
                    return Response::builder()
                        .status(StatusCode::FOUND)
                        .header("location", location)
                        .body(Full::new(Bytes::new()))
                        .unwrap();
                }
                self.discovery_hits.fetch_add(1, Ordering::SeqCst);
                let issuer = if b.wrong_issuer {
                    format!("{}/", self.issuer)
                } else {
                    self.issuer.clone()
                };
                let jwks_uri = if b.http_jwks_uri {
                    self.issuer.replace("https://", "http://") + "/openid/v1/jwks"
                } else {
                    format!("{}/openid/v1/jwks", self.issuer)
                };
                let doc = serde_json::json!({
                    "issuer": issuer,
                    "jwks_uri": jwks_uri,
                    "response_types_supported": ["id_token"],
                    "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256", "ES256"],
                });
                reply(StatusCode::OK, doc.to_string())
            }
            "/openid/v1/jwks" => {
                self.jwks_hits.fetch_add(1, Ordering::SeqCst);
                if !b.jwks_delay.is_zero() {
                    tokio::time::sleep(b.jwks_delay).await;
                }
                if b.oversized {
                    let pad = "x".repeat(2 * 1024 * 1024);
                    return reply(StatusCode::OK, format!(r#"{{"keys":[],"pad":"{pad}"}}"#));
                }
                reply(StatusCode::OK, b.jwks)
            }
            _ => reply(StatusCode::NOT_FOUND, "{}".into()),
        }
    }
}
