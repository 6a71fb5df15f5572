//! The network edge: the listening socket, TLS, HTTP/1.1 connections, request routing (health
//! probes, then S3) and graceful shutdown.
//!
//! Each accepted connection runs in its own task: an optional TLS handshake (bounded by the
//! header read timeout), then hyper's HTTP/1.1 server with keep-alive, a bounded read buffer
//! (which bounds the request head) and a header read timeout (which also closes idle keep-alive
//! connections). On shutdown the listener is dropped first, then every connection is told to
//! finish its current request and close; the process waits for that at most `shutdown_grace`.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use keyless_s3::{Operation, ResponseBody, S3Front, full_body};
use keyless_store::Store;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::config::{Limits, ListenAddr};
use crate::health::{self, Probe};
use crate::live::Live;
use crate::metrics::{self, S3Metrics};
use crate::observe::{Observer, Served};

/// Everything a request needs: the health probes' view of the store and the S3 front.
/// Shared by all connections behind one `Arc`.
pub struct App {
    /// `None` in gateway mode.
    store: Option<Store>,
    front: S3Front,
    domains: Vec<String>,
    metrics: S3Metrics,
    observer: Arc<Observer>,
    live: Arc<Live>,
    data_dir: PathBuf,
    /// One permit per request being served (`limits.max_requests_in_flight`).
    in_flight: Arc<tokio::sync::Semaphore>,
}

impl App {
    pub fn new(
        store: Option<Store>,
        front: S3Front,
        domains: Vec<String>,
        observer: Arc<Observer>,
        live: Arc<Live>,
        data_dir: PathBuf,
        max_in_flight: usize,
    ) -> Self {
        App {
            in_flight: Arc::new(tokio::sync::Semaphore::new(max_in_flight)),
            store,
            front,
            domains,
            metrics: S3Metrics::default(),
            observer,
            live,
            data_dir,
        }
    }

    /// The whole `/metrics` page.
    async fn render_metrics(&self) -> String {
        let store = self.store.clone();
        let dir = self.data_dir.clone();
        let (usage, fs) = tokio::task::spawn_blocking(move || {
            (store.and_then(|s| s.usage().ok()), keyless_store::space::probe(&dir))
        })
        .await
        .unwrap_or((None, None));
        let commits = self.store.as_ref().map_or((0, 0), Store::commit_stats);
        let mut out = self.metrics.render(commits);
        metrics::render_storage(&mut out, usage, fs);
        self.observer.render(&mut out);
        self.live.render(&mut out);
        out
    }

    /// Routes one request: a health probe or a metrics scrape is answered here, everything else
    /// goes to S3 (and is counted).
    pub async fn handle(&self, req: http::Request<hyper::body::Incoming>) -> http::Response<ResponseBody> {
        if health::is_metrics(&req, &self.domains) {
            let body = self.render_metrics().await;
            let mut resp = http::Response::new(full_body(body));
            resp.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            resp.headers_mut()
                .insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
            return resp;
        }
        if let Some(resp) = crate::console::asset(&req) {
            return resp;
        }
        match health::probe(&req, &self.domains) {
            Some(Probe::Live) => text(http::StatusCode::OK, "ok"),
            Some(Probe::Ready) => {
                // Gateway mode: ready while the process serves (an upstream outage is answered
                // 503 per request; taking every replica out of service would not help).
                let store = self.store.clone();
                let ready = tokio::task::spawn_blocking(move || store.is_none_or(|s| s.is_ready()))
                    .await
                    .unwrap_or(false);
                if ready {
                    text(http::StatusCode::OK, "ready")
                } else {
                    text(http::StatusCode::SERVICE_UNAVAILABLE, "not ready")
                }
            }
            None => {
                let peer = req.extensions().get::<keyless_s3::ClientInfo>().and_then(|c| c.peer);
                let Ok(_permit) = self.in_flight.try_acquire() else {
                    self.metrics.record("other", 503, Duration::ZERO, 0, 0);
                    self.metrics.shed();
                    // Turned away unread: the audit still gets its one record.
                    self.observer.served(&Served {
                        audit: &keyless_s3::Audit {
                            operation: "other".to_owned(),
                            error_code: Some("SlowDown".to_owned()),
                            ..keyless_s3::Audit::default()
                        },
                        status: 503,
                        peer,
                        elapsed: Duration::ZERO,
                        bytes_in: 0,
                        bytes_out: 0,
                        request_id: None,
                    });
                    return slow_down();
                };
                let started = Instant::now();
                let received = req
                    .headers()
                    .get("x-amz-decoded-content-length")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| metrics::content_length(req.headers()));
                let resp = self.front.handle(req).await;
                let op = resp.extensions().get::<Operation>().map_or("other", |o| o.0.as_str());
                let elapsed = started.elapsed();
                let sent = metrics::content_length(resp.headers());
                self.metrics.record(op, resp.status().as_u16(), elapsed, received, sent);
                if let Some(audit) = resp.extensions().get::<keyless_s3::Audit>() {
                    let request_id = ["x-amz-request-id", "x-amzn-requestid"]
                        .iter()
                        .find_map(|h| resp.headers().get(*h).and_then(|v| v.to_str().ok()));
                    self.observer.served(&Served {
                        audit,
                        status: resp.status().as_u16(),
                        peer,
                        elapsed,
                        bytes_in: received,
                        bytes_out: sent,
                        request_id,
                    });
                }
                resp
            }
        }
    }
}

/// The S3 error body of a request or connection turned away because keyless is at its limits.
const SLOW_DOWN_XML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>\
<Message>Please reduce your request rate: keyless is serving as many requests as it is configured to \
(limits.max_requests_in_flight / limits.max_connections). Retry with backoff.</Message></Error>";

/// `503 SlowDown`: every SDK retries it with backoff. The body of the request is not read, so
/// the connection is closed after the answer.
fn slow_down() -> http::Response<ResponseBody> {
    let mut resp = http::Response::new(full_body(SLOW_DOWN_XML));
    *resp.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
    let headers = resp.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/xml"),
    );
    headers.insert(http::header::RETRY_AFTER, http::HeaderValue::from_static("1"));
    headers.insert(http::header::CONNECTION, http::HeaderValue::from_static("close"));
    resp
}

/// Answers a connection over `limits.max_connections` with `503 SlowDown` without reading its
/// request (plain HTTP; a TLS connection is just closed), and closes it.
async fn turn_away(mut stream: TcpStream, tls: bool) {
    use tokio::io::AsyncWriteExt as _;
    if !tls {
        let head = format!(
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/xml\r\nRetry-After: 1\r\n\
             Connection: close\r\nContent-Length: {}\r\n\r\n",
            SLOW_DOWN_XML.len()
        );
        let write = async {
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(SLOW_DOWN_XML.as_bytes()).await?;
            stream.shutdown().await
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), write).await;
    }
}

fn text(status: http::StatusCode, body: &'static str) -> http::Response<ResponseBody> {
    let mut resp = http::Response::new(full_body(body));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
    resp
}

/// Binds the listening socket; the host may be a name, and the first address that binds wins.
pub async fn bind(listen: &ListenAddr) -> anyhow::Result<TcpListener> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((listen.host.as_str(), listen.port))
        .await
        .with_context(|| format!("config field \"listen\": cannot resolve host \"{}\"", listen.host))?
        .collect();
    let mut last_err = None;
    for addr in &addrs {
        match TcpListener::bind(addr).await {
            Ok(listener) => return Ok(listener),
            Err(e) => last_err = Some((addr, e)),
        }
    }
    match last_err {
        Some((addr, e)) => Err(anyhow::anyhow!(
            "config field \"listen\": cannot listen on {addr}: {e}; pick a free port, or port 0 for any free one"
        )),
        None => Err(anyhow::anyhow!(
            "config field \"listen\": host \"{}\" resolves to no address",
            listen.host
        )),
    }
}

/// Serves connections until `shutdown` completes, then drains them (at most `limits.shutdown_grace`).
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    app: Arc<App>,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .keep_alive(true)
        // The read buffer bounds what a peer can make us hold; max_header_size is the exact bound
        // on the request head (a buffer read can overshoot the buffer limit).
        .max_buf_size(limits.max_header_bytes)
        .max_header_size(limits.max_header_bytes)
        .header_read_timeout(limits.header_read_timeout);
    let conn = Arc::new(Connection {
        http,
        tls: tls.map(TlsAcceptor::from),
        app,
        handshake_timeout: limits.header_read_timeout,
    });

    let graceful = GracefulShutdown::new();
    let open = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let mut warned = false;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let Ok(permit) = open.clone().try_acquire_owned() else {
                        if !warned {
                            warned = true;
                            tracing::warn!(max_connections = limits.max_connections, "too many connections: answering new ones 503 SlowDown (logged once)");
                        }
                        conn.app.metrics.turned_away();
                        tokio::spawn(turn_away(stream, conn.tls.is_some()));
                        continue;
                    };
                    let conn = conn.clone();
                    let watcher = graceful.watcher();
                    tokio::spawn(async move {
                        conn.serve(stream, peer, watcher).await;
                        drop(permit);
                    });
                }
                Err(e) => {
                    // Usually out of file descriptors; pause instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
    drop(listener);
    let open = graceful.count();
    tracing::info!(
        open_connections = open,
        grace_secs = limits.shutdown_grace.as_secs(),
        "shutting down: stopped accepting, finishing in-flight requests"
    );
    match tokio::time::timeout(limits.shutdown_grace, graceful.shutdown()).await {
        Ok(()) => tracing::info!("all connections closed"),
        Err(_) => tracing::warn!(
            grace_secs = limits.shutdown_grace.as_secs(),
            "connections still open after the shutdown grace period; closing them"
        ),
    }
}

/// How one connection is served; shared by all connection tasks.
struct Connection {
    http: http1::Builder,
    tls: Option<TlsAcceptor>,
    app: Arc<App>,
    handshake_timeout: Duration,
}

impl Connection {
    async fn serve(&self, stream: TcpStream, peer: SocketAddr, watcher: Watcher) {
        let _ = stream.set_nodelay(true);
        let app = self.app.clone();
        // Policies see the peer's address (aws:SourceIp) and whether TLS carried the request.
        let client = keyless_s3::ClientInfo {
            peer: Some(peer.ip().to_canonical()),
            secure: self.tls.is_some(),
        };
        let service = service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
            let app = app.clone();
            req.extensions_mut().insert(client);
            async move { Ok::<_, Infallible>(app.handle(req).await) }
        });
        let result = match &self.tls {
            None => {
                watcher
                    .watch(self.http.serve_connection(TokioIo::new(stream), service))
                    .await
            }
            Some(acceptor) => match tokio::time::timeout(self.handshake_timeout, acceptor.accept(stream)).await {
                Ok(Ok(tls_stream)) => {
                    watcher
                        .watch(self.http.serve_connection(TokioIo::new(tls_stream), service))
                        .await
                }
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            },
        };
        if let Err(e) = result {
            tracing::debug!(%peer, error = %e, "connection ended with an error");
        }
    }
}
