//! `keyless webhook`: serves the mutating admission webhook of `keyless-webhook` over HTTPS.
//!
//! Routes: `POST /mutate` (AdmissionReview v1), `GET /healthz`, `GET /readyz` (ready once the
//! ServiceAccount cache has synced), `GET /metrics` (Prometheus text). The certificate is
//! reloaded when its files change (`tls.rs`, as for `serve`). ServiceAccounts come from the
//! Kubernetes API (`kube.rs`); one that cannot be read admits the pod unchanged, logged and
//! counted (refused with 403 in `--strict` mode).

mod kube;
pub(crate) mod metrics;

use std::convert::Infallible;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use keyless_webhook::{AdmissionReview, MutationOutcome, ServiceAccountLookup, Webhook, WebhookConfig};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

use crate::cli::WebhookArgs;
use crate::config::{LogConfig, LogFormat, TlsConfig};

use kube::{ApiClient, ServiceAccounts};
use metrics::Metrics;

/// The largest AdmissionReview accepted (the apiserver's own request limit is 3 MiB).
const MAX_BODY: usize = 4 << 20;
/// How often the certificate files are read again.
const TLS_RELOAD: Duration = Duration::from_secs(5);
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Validated settings of one webhook process.
struct Settings {
    listen: crate::config::ListenAddr,
    tls: TlsConfig,
    webhook: Webhook,
    kubeconfig: Option<std::path::PathBuf>,
    log: LogConfig,
}

fn settings(args: WebhookArgs) -> Result<Settings, String> {
    let listen = crate::config::parse_listen(&args.listen).map_err(|e| format!("--listen: {e}"))?;
    let mut config = WebhookConfig::new(args.endpoint, args.account_id);
    if let Some(sts) = args.sts_endpoint {
        config.sts_endpoint = sts;
    }
    if let Some(s3) = args.s3_endpoint {
        config.s3_endpoint = s3;
    }
    config.region = args.region;
    config.annotation_prefix = args.annotation_prefix;
    config.audience = args.audience;
    config.token_expiration_seconds = args.token_expiration;
    config.strict = args.strict;
    let webhook = Webhook::new(config).map_err(|e| {
        let flag = match e.field {
            "sts_endpoint" => "--sts-endpoint/--endpoint",
            "s3_endpoint" => "--s3-endpoint/--endpoint",
            "region" => "--region",
            "annotation_prefix" => "--annotation-prefix",
            "audience" => "--audience",
            "token_expiration_seconds" => "--token-expiration",
            "account_id" => "--account-id",
            other => other,
        };
        format!("{flag}: {}", e.message)
    })?;
    Ok(Settings {
        listen,
        tls: TlsConfig {
            cert: args.tls_cert,
            key: args.tls_key,
            reload_interval: TLS_RELOAD,
        },
        webhook,
        kubeconfig: args.kubeconfig,
        log: LogConfig {
            format: if args.log_format == "json" {
                LogFormat::Json
            } else {
                LogFormat::Text
            },
            filter: std::env::var("KEYLESS_LOG").unwrap_or_else(|_| "info".into()),
            audit: crate::config::AuditTarget::Off,
        },
    })
}

pub fn main(args: WebhookArgs) -> ExitCode {
    let settings = match settings(args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("keyless webhook: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = crate::logging::init(&settings.log) {
        eprintln!("keyless webhook: {e:#}");
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(settings));
    runtime.shutdown_timeout(Duration::from_secs(2));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            if e.downcast_ref::<crate::tls::TlsError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// What every request shares.
struct App {
    webhook: Webhook,
    accounts: Arc<ServiceAccounts>,
    metrics: Metrics,
}

async fn run(settings: Settings) -> anyhow::Result<()> {
    let tls = crate::tls::Tls::load(&settings.tls)?;
    let client = ApiClient::from_config(settings.kubeconfig.as_deref())
        .await
        .context("the Kubernetes API")?;
    let accounts = ServiceAccounts::new(client);
    tokio::spawn(accounts.clone().run());
    let listener = crate::server::bind(&settings.listen).await?;
    let addr = listener.local_addr()?;
    tls.spawn_watcher();
    let app = Arc::new(App {
        webhook: settings.webhook,
        accounts,
        metrics: Metrics::default(),
    });
    // The first line on stdout, for scripts and tests (as `serve` does).
    println!("keyless webhook listening on https://{addr}");
    tracing::info!(%addr, strict = app.webhook.config().strict, "webhook listening");

    let acceptor = TlsAcceptor::from(tls.server_config.clone());
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .keep_alive(true)
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let http = Arc::new(http);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let shutdown = crate::start::shutdown_signal()?;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let (app, acceptor, http, watcher) = (app.clone(), acceptor.clone(), http.clone(), graceful.watcher());
                    tokio::spawn(async move { connection(stream, peer, acceptor, &http, app, watcher).await });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
    Ok(())
}

async fn connection(
    stream: TcpStream,
    peer: std::net::SocketAddr,
    acceptor: TlsAcceptor,
    http: &http1::Builder,
    app: Arc<App>,
    watcher: hyper_util::server::graceful::Watcher,
) {
    let _ = stream.set_nodelay(true);
    let tls = match tokio::time::timeout(HEADER_READ_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => return tracing::debug!(%peer, error = %e, "TLS handshake failed"),
        Err(_) => return tracing::debug!(%peer, "TLS handshake timed out"),
    };
    let service = service_fn(move |req| {
        let app = app.clone();
        async move { Ok::<_, Infallible>(app.handle(req).await) }
    });
    if let Err(e) = watcher.watch(http.serve_connection(TokioIo::new(tls), service)).await {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}

type Response = http::Response<Full<Bytes>>;

fn respond(status: http::StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response {
    let mut resp = http::Response::new(Full::new(body.into()));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(content_type));
    resp
}

fn text(status: http::StatusCode, body: impl Into<Bytes>) -> Response {
    respond(status, "text/plain; charset=utf-8", body)
}

impl App {
    async fn handle(&self, req: http::Request<hyper::body::Incoming>) -> Response {
        use http::{Method, StatusCode};
        match (req.method(), req.uri().path()) {
            (&Method::POST, "/mutate") => self.mutate(req).await,
            (&Method::GET, "/healthz") => text(StatusCode::OK, "ok"),
            (&Method::GET, "/readyz") if self.accounts.synced() => text(StatusCode::OK, "ready"),
            (&Method::GET, "/readyz") => text(
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready: the ServiceAccount cache has not synced",
            ),
            (&Method::GET, "/metrics") => respond(
                StatusCode::OK,
                "text/plain; version=0.0.4; charset=utf-8",
                self.metrics.render(),
            ),
            (_, "/mutate" | "/healthz" | "/readyz" | "/metrics") => {
                text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
            }
            _ => text(StatusCode::NOT_FOUND, "not found"),
        }
    }

    async fn mutate(&self, req: http::Request<hyper::body::Incoming>) -> Response {
        let started = Instant::now();
        let json = req
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return text(
                http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "an AdmissionReview is sent as Content-Type: application/json",
            );
        }
        let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                return text(
                    http::StatusCode::PAYLOAD_TOO_LARGE,
                    format!("body larger than {MAX_BODY} bytes"),
                );
            }
            Err(e) => return text(http::StatusCode::BAD_REQUEST, format!("cannot read the body: {e}")),
        };
        let request = match AdmissionReview::parse_request(&body) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "malformed AdmissionReview");
                return text(http::StatusCode::BAD_REQUEST, format!("malformed AdmissionReview: {e}"));
            }
        };
        let lookup = match self.webhook.service_account_of(&request) {
            Some(sa) => Some(self.accounts.lookup(&sa).await),
            None => None,
        };
        let admission = self.webhook.admit(&request, |_| {
            lookup.unwrap_or_else(|| ServiceAccountLookup::Failed("no ServiceAccount was looked up".into()))
        });
        let outcome = &admission.outcome;
        match outcome {
            MutationOutcome::ServiceAccountUnavailable { .. } => {
                self.metrics.lookup_failure();
                tracing::warn!(uid = %request.uid, outcome = outcome.label(), allowed = admission.response.allowed, "{outcome}");
            }
            o if o.is_failure() => {
                tracing::warn!(uid = %request.uid, outcome = outcome.label(), allowed = admission.response.allowed, "{outcome}")
            }
            _ => tracing::info!(uid = %request.uid, outcome = outcome.label(), "{outcome}"),
        }
        self.metrics.admission(outcome.label());
        let body = AdmissionReview::respond(admission.response).to_json_vec();
        self.metrics.observe(started.elapsed());
        respond(http::StatusCode::OK, "application/json", body)
    }
}
