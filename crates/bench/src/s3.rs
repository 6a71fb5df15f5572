//! One keep-alive HTTP/1.1 connection to the endpoint, and signed S3 requests over it.
//!
//! Every worker owns one `Conn` (hyper's client connection, no pool, no locks). A request is
//! signed with SigV4 (`UNSIGNED-PAYLOAD`) unless the connection is anonymous (nginx, STS). A
//! connection that failed is dropped and the next request dials again.

use anyhow::{Context as _, Result, bail};
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::body::ReqBody;
use crate::sigv4::{self, Signer, UNSIGNED_PAYLOAD};

/// Where requests go and how they are signed.
#[derive(Clone)]
pub struct Target {
    /// `host:port`, the address dialled and the `Host` header.
    pub host: String,
    /// `None`: requests are sent unsigned.
    pub signer: Option<Signer>,
}

impl Target {
    /// `http://host:port` (a trailing `/` is fine). TLS is not supported: the benchmark measures
    /// the store, over loopback.
    pub fn new(endpoint: &str, signer: Option<Signer>) -> Result<Self> {
        let Some(rest) = endpoint.strip_prefix("http://") else {
            bail!("endpoint {endpoint:?}: only http://host:port is supported");
        };
        let host = rest.trim_end_matches('/').to_owned();
        if host.is_empty() || host.contains('/') {
            bail!("endpoint {endpoint:?}: expected http://host:port");
        }
        Ok(Self { host, signer })
    }

    pub fn anonymous(&self) -> Self {
        Self {
            host: self.host.clone(),
            signer: None,
        }
    }

    pub fn conn(&self) -> Conn {
        Conn {
            host: self.host.clone(),
            signer: self.signer.clone(),
            sender: None,
        }
    }
}

/// One request: the path is already encoded (see [`object_path`]), the query raw.
pub struct Req {
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    /// Unsigned extra headers (e.g. `content-type`).
    pub headers: Vec<(&'static str, String)>,
    pub body: ReqBody,
}

impl Req {
    pub fn new(method: Method, path: String) -> Self {
        Self {
            method,
            path,
            query: Vec::new(),
            headers: Vec::new(),
            body: ReqBody::Empty,
        }
    }

    pub fn query(mut self, name: &str, value: impl Into<String>) -> Self {
        self.query.push((name.to_owned(), value.into()));
        self
    }

    pub fn body(mut self, body: ReqBody) -> Self {
        self.body = body;
        self
    }
}

/// `/bucket/key`, the key percent-encoded segment by segment.
pub fn object_path(bucket: &str, key: &str) -> String {
    format!("/{}/{}", sigv4::uri_encode(bucket, false), sigv4::uri_encode(key, true))
}

pub struct Reply {
    pub status: StatusCode,
    /// Body bytes received (all of them were read).
    pub bytes: u64,
    /// The body, when asked for.
    pub body: Option<Bytes>,
}

impl Reply {
    pub fn text(&self) -> String {
        self.body
            .as_ref()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default()
    }
}

pub struct Conn {
    host: String,
    signer: Option<Signer>,
    sender: Option<SendRequest<ReqBody>>,
}

impl Conn {
    /// Dials now (so that a timed phase does not count connection set-up).
    pub async fn connect(&mut self) -> Result<()> {
        let stream = TcpStream::connect(&self.host)
            .await
            .with_context(|| format!("connecting to {}", self.host))?;
        stream.set_nodelay(true)?;
        let (sender, conn) = http1::Builder::new()
            .max_buf_size(4 << 20)
            .handshake(TokioIo::new(stream))
            .await
            .context("HTTP/1.1 handshake")?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        self.sender = Some(sender);
        Ok(())
    }

    /// Sends `req` and reads the whole response body (kept only if `keep_body`).
    pub async fn send(&mut self, req: Req, keep_body: bool) -> Result<Reply> {
        let result = self.send_inner(req, keep_body).await;
        if result.is_err() {
            self.sender = None;
        }
        result
    }

    async fn send_inner(&mut self, req: Req, keep_body: bool) -> Result<Reply> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            self.connect().await?;
        }
        let query = sigv4::canonical_query(&req.query);
        let uri = if query.is_empty() {
            req.path.clone()
        } else {
            format!("{}?{query}", req.path)
        };
        let mut builder = Request::builder().method(req.method.clone()).uri(uri);
        builder = builder.header("host", &self.host);
        if let Some(signer) = self.signer.as_mut() {
            let amz_date = sigv4::amz_date_now();
            let token = signer.credentials().session_token.clone();
            let mut signed: Vec<(&str, &str)> = vec![
                ("host", &self.host),
                ("x-amz-content-sha256", UNSIGNED_PAYLOAD),
                ("x-amz-date", &amz_date),
            ];
            if let Some(t) = token.as_deref() {
                signed.push(("x-amz-security-token", t));
            }
            let auth = signer.authorization(
                &sigv4::Request {
                    method: req.method.as_str(),
                    path: &req.path,
                    query: &req.query,
                    headers: &signed,
                    payload_hash: UNSIGNED_PAYLOAD,
                },
                &amz_date,
            );
            for (name, value) in &signed[1..] {
                builder = builder.header(*name, *value);
            }
            builder = builder.header("authorization", auth);
        }
        for (name, value) in &req.headers {
            builder = builder.header(*name, value);
        }
        if matches!(req.method, Method::PUT | Method::POST) {
            builder = builder.header("content-length", req.body.len());
        }
        let request = builder.body(req.body)?;

        let sender = self.sender.as_mut().expect("connected above");
        sender.ready().await.context("connection not ready")?;
        let response = sender.send_request(request).await.context("sending the request")?;
        let status = response.status();
        let mut body = response.into_body();
        let mut bytes = 0u64;
        let mut kept = keep_body.then(Vec::new);
        while let Some(frame) = body.frame().await {
            let frame = frame.context("reading the response body")?;
            if let Ok(data) = frame.into_data() {
                bytes += data.len() as u64;
                if let Some(k) = kept.as_mut() {
                    k.extend_from_slice(&data);
                }
            }
        }
        Ok(Reply {
            status,
            bytes,
            body: kept.map(Bytes::from),
        })
    }
}

/// Creates `bucket` unless it exists already (any peer's way of saying so).
pub async fn ensure_bucket(target: &Target, bucket: &str) -> Result<()> {
    let mut conn = target.conn();
    let reply = conn.send(Req::new(Method::PUT, format!("/{bucket}")), true).await?;
    let text = reply.text();
    if reply.status.is_success() || text.contains("BucketAlreadyOwnedByYou") || text.contains("BucketAlreadyExists") {
        return Ok(());
    }
    bail!("creating bucket {bucket}: HTTP {}: {}", reply.status, text.trim());
}
