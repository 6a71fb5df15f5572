//! The shared test harness: a real `keyless` process on 127.0.0.1 and the clients that talk to it.
//!
//! [`TestServer`] spawns the binary Cargo built for this test run (`keyless serve`), waits for its
//! `keyless: listening on http://…` line, and keeps its data directory across [`TestServer::restart`]
//! and [`TestServer::kill9`], so crash and restart tests see the same disk. Its `client` is an
//! `aws_sdk_s3::Client` set up the way an application would set one up (path-style addressing,
//! static credentials, us-east-1), except that it speaks plain HTTP.
//!
//! The free functions below keep tests short: `put(&c, b, k, data)`, `get(&c, b, k)`,
//! `assert_s3_error(result, 404, "NoSuchKey")`, and a small raw-HTTP client for presigned URLs and
//! hand-signed requests the SDK never makes.
#![allow(dead_code)] // each test binary uses a different part of the harness

use std::collections::VecDeque;
use std::convert::Infallible;
use std::fmt::Debug;
use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{Credentials, Region};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use md5::{Digest as _, Md5};
use rand::TryRngCore as _;

pub const ACCESS_KEY: &str = "KEYLESSTESTROOT";
pub const SECRET_KEY: &str = "keyless-test-root-secret-0123456789abcdef";
pub const REGION: &str = "us-east-1";
/// How long a server gets to print its listening line.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a server gets to stop after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// A running `keyless serve` on a loopback port, with a data directory that outlives restarts.
pub struct TestServer {
    /// `<root>/data` is the data directory; `<root>/server-N.log` the stderr of each start.
    /// Nothing else is created under `<root>`, so a key that escaped the data directory
    /// (`../x`) would show up as a stray entry there.
    root: tempfile::TempDir,
    child: Option<Child>,
    stdout: Arc<Mutex<Vec<String>>>,
    starts: usize,
    pub addr: SocketAddr,
    pub endpoint: String,
    /// A client with the root credentials. Rebuilt on every start (the port changes).
    pub client: Client,
}

impl TestServer {
    /// Starts a server on a fresh, empty data directory.
    pub fn start() -> Self {
        let root = tempfile::Builder::new()
            .prefix("keyless-test-")
            .tempdir()
            .expect("create a temp dir");
        std::fs::create_dir(root.path().join("data")).expect("create the data dir");
        let placeholder: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let mut s = TestServer {
            root,
            child: None,
            stdout: Arc::default(),
            starts: 0,
            addr: placeholder,
            endpoint: String::new(),
            client: client_for("http://127.0.0.1:9", ACCESS_KEY, SECRET_KEY),
        };
        s.spawn();
        s
    }

    pub fn data_dir(&self) -> PathBuf {
        self.root.path().join("data")
    }

    /// The directory that holds the data directory (and the server logs, and nothing else).
    pub fn root_dir(&self) -> &Path {
        self.root.path()
    }

    /// The process id of the running server.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the server is running").id()
    }

    /// Stops the server gracefully (SIGTERM, then SIGKILL after a grace period) and starts it
    /// again on the same data directory.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// SIGKILLs the server: no shutdown code runs, exactly like a power cut for the process.
    /// Call [`TestServer::start_again`] to bring it back on the same data directory.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            // std's Child::kill sends SIGKILL on Unix.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same data directory (after [`TestServer::kill9`]).
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "start_again: the server is still running");
        self.spawn();
    }

    /// SIGTERM, wait, SIGKILL if it does not stop.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        // SAFETY: kill(2) on the pid of a child we spawned and have not reaped yet.
        unsafe {
            libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            match child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return;
                }
            }
        }
    }

    /// The server's stderr from its latest start (its log), for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path(self.starts)).unwrap_or_default()
    }

    fn log_path(&self, n: usize) -> PathBuf {
        self.root.path().join(format!("server-{n}.log"))
    }

    fn spawn(&mut self) {
        self.starts += 1;
        let log = std::fs::File::create(self.log_path(self.starts)).expect("create the server log");
        let mut child = Command::new(env!("CARGO_BIN_EXE_keyless"))
            .arg("serve")
            .arg("--data-dir")
            .arg(self.data_dir())
            .arg("--listen")
            .arg("127.0.0.1:0")
            .env("KEYLESS_ROOT_ACCESS_KEY", ACCESS_KEY)
            .env("KEYLESS_ROOT_SECRET_KEY", SECRET_KEY)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("spawn the keyless binary");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel::<SocketAddr>();
        let lines = self.stdout.clone();
        // Reads stdout to its end, so the server never blocks on a full pipe.
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
                lines.lock().unwrap().push(line);
            }
        });
        let addr = match rx.recv_timeout(START_TIMEOUT) {
            Ok(a) => a,
            Err(_) => {
                let status = child.try_wait().ok().flatten();
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "keyless did not print `keyless: listening on http://127.0.0.1:PORT` within {START_TIMEOUT:?} \
                     (exit status: {status:?})\n--- stdout ---\n{}\n--- stderr ---\n{}",
                    self.stdout.lock().unwrap().join("\n"),
                    std::fs::read_to_string(self.log_path(self.starts)).unwrap_or_default()
                );
            }
        };
        self.child = Some(child);
        self.addr = addr;
        self.endpoint = format!("http://{addr}");
        self.client = client_for(&self.endpoint, ACCESS_KEY, SECRET_KEY);
    }

    /// A client signing with other credentials (wrong secret, unknown key).
    pub fn client_with(&self, access_key: &str, secret_key: &str) -> Client {
        client_for(&self.endpoint, access_key, secret_key)
    }

    /// The config the default client is built from, to tweak (retries, interceptors, checksums).
    pub fn config(&self) -> aws_sdk_s3::config::Builder {
        config_for(&self.endpoint, ACCESS_KEY, SECRET_KEY)
    }

    /// Creates a bucket and returns its name.
    pub async fn bucket(&self, name: &str) -> String {
        self.client
            .create_bucket()
            .bucket(name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateBucket {name}: {}", show(&e)));
        name.to_owned()
    }

    /// Every file under `<data>/blobs/*/` (the committed blob files).
    pub fn blob_files(&self) -> Vec<PathBuf> {
        files_under(&self.data_dir().join("blobs"))
    }

    /// Every entry under `<data>/tmp/` (blobs being written).
    pub fn tmp_files(&self) -> Vec<PathBuf> {
        files_under(&self.data_dir().join("tmp"))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("--- keyless stderr (last start) ---\n{}", tail(&self.log(), 60));
        }
    }
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Every regular file below `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(p),
                _ => out.push(p),
            }
        }
    }
    out.sort();
    out
}

/// Every path (files and directories) below `dir`, recursively.
pub fn paths_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(p.clone());
            }
            out.push(p);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// SDK clients
// ---------------------------------------------------------------------------------------------

/// An SDK config for a keyless endpoint: path-style, us-east-1, static credentials, plain HTTP.
pub fn config_for(endpoint: &str, access_key: &str, secret_key: &str) -> aws_sdk_s3::config::Builder {
    aws_sdk_s3::Config::builder()
        .behavior_version_latest()
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(access_key, secret_key, None, None, "keyless-tests"))
        .force_path_style(true)
        // The hyper-based client without a TLS stack: every test endpoint is http://127.0.0.1.
        .http_client(aws_smithy_http_client::Builder::new().build_http())
}

pub fn client_for(endpoint: &str, access_key: &str, secret_key: &str) -> Client {
    Client::from_conf(config_for(endpoint, access_key, secret_key).build())
}

/// An interceptor that records the headers of every request the SDK puts on the wire
/// (after signing and checksum calculation), so a test can prove which path it exercised.
#[derive(Debug, Clone, Default)]
pub struct WireLog {
    pub requests: Arc<Mutex<Vec<(String, String, http::HeaderMap)>>>,
}

impl WireLog {
    /// The (method, uri, headers) of every request sent so far.
    pub fn take(&self) -> Vec<(String, String, http::HeaderMap)> {
        std::mem::take(&mut *self.requests.lock().unwrap())
    }
}

impl aws_sdk_s3::config::Intercept for WireLog {
    fn name(&self) -> &'static str {
        "WireLog"
    }

    fn read_before_transmit(
        &self,
        ctx: &aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _rc: &aws_sdk_s3::config::RuntimeComponents,
        _cfg: &mut aws_sdk_s3::config::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let req = ctx.request();
        let mut headers = http::HeaderMap::new();
        for (k, v) in req.headers() {
            headers.append(
                http::HeaderName::from_bytes(k.as_bytes())?,
                http::HeaderValue::from_str(v)?,
            );
        }
        self.requests
            .lock()
            .unwrap()
            .push((req.method().to_owned(), req.uri().to_owned(), headers));
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Requests that read like what they do
// ---------------------------------------------------------------------------------------------

/// `n` random bytes, from the OS (fast even in an unoptimised test build).
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    rand::rngs::OsRng.try_fill_bytes(&mut v).expect("the OS random source");
    v
}

pub fn md5_hex(data: &[u8]) -> String {
    hex::encode(Md5::digest(data))
}

pub fn md5_b64(data: &[u8]) -> String {
    B64.encode(Md5::digest(data))
}

/// The ETag S3 gives a single-part object: its MD5, hex, in quotes.
pub fn etag_of(data: &[u8]) -> String {
    format!("\"{}\"", md5_hex(data))
}

/// The ETag S3 gives a multipart object: MD5 of the parts' binary MD5s, then `-N`.
pub fn multipart_etag(parts: &[&[u8]]) -> String {
    let mut all = Vec::new();
    for p in parts {
        all.extend_from_slice(&Md5::digest(p));
    }
    format!("\"{}-{}\"", md5_hex(&all), parts.len())
}

/// PutObject with an in-memory body (the SDK puts its default CRC32 in a header).
pub async fn put(
    c: &Client,
    bucket: &str,
    key: &str,
    data: &[u8],
) -> aws_sdk_s3::operation::put_object::PutObjectOutput {
    c.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(data.to_vec()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("PutObject {bucket}/{key:?} ({} bytes): {}", data.len(), show(&e)))
}

/// GetObject, whole body.
pub async fn get(c: &Client, bucket: &str, key: &str) -> Vec<u8> {
    let out = c
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetObject {bucket}/{key:?}: {}", show(&e)));
    body_bytes(out.body).await
}

pub async fn body_bytes(b: ByteStream) -> Vec<u8> {
    b.collect().await.expect("read the response body").into_bytes().to_vec()
}

/// Every key in the bucket, via the ListObjectsV2 paginator.
pub async fn list_keys(c: &Client, bucket: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut pages = c.list_objects_v2().bucket(bucket).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.unwrap_or_else(|e| panic!("ListObjectsV2 {bucket}: {}", show(&e)));
        keys.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_owned)));
    }
    keys
}

/// A streaming request body with an exact length: the SDK sends it with `aws-chunked`
/// content encoding and its checksum in a trailer (an in-memory body gets a header instead).
pub fn streaming_body(data: &[u8], chunk: usize) -> ByteStream {
    let chunks: VecDeque<Bytes> = data.chunks(chunk.max(1)).map(Bytes::copy_from_slice).collect();
    ByteStream::from_body_1_x(ChunkedBody {
        remaining: data.len() as u64,
        chunks,
    })
}

struct ChunkedBody {
    chunks: VecDeque<Bytes>,
    remaining: u64,
}

impl Body for ChunkedBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.chunks.pop_front() {
            Some(c) => {
                self.remaining -= c.len() as u64;
                Poll::Ready(Some(Ok(Frame::data(c))))
            }
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.chunks.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// The HTTP status of a failed request, if the server answered.
pub fn status_of<E, R: HttpStatus>(e: &SdkError<E, R>) -> Option<u16> {
    e.raw_response().map(|r| r.status_u16())
}

pub trait HttpStatus {
    fn status_u16(&self) -> u16;
}

impl HttpStatus for aws_smithy_runtime_api::client::orchestrator::HttpResponse {
    fn status_u16(&self) -> u16 {
        self.status().as_u16()
    }
}

/// A one-line description of an SDK error: status, S3 code and message, or the transport error.
pub fn show<E: ProvideErrorMetadata + std::error::Error + 'static, R: HttpStatus + Debug>(
    e: &SdkError<E, R>,
) -> String {
    match e {
        SdkError::ServiceError(_) => {
            format!(
                "HTTP {} {} ({})",
                status_of(e).unwrap_or(0),
                e.code().unwrap_or("<no code>"),
                e.message().unwrap_or("<no message>")
            )
        }
        other => format!("{other:?}"),
    }
}

/// Asserts that `res` failed with this HTTP status and S3 error code.
#[track_caller]
pub fn assert_s3_error<T: Debug, E, R>(res: Result<T, SdkError<E, R>>, status: u16, code: &str)
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: HttpStatus + Debug,
{
    match res {
        Ok(v) => panic!("expected HTTP {status} {code}, but the request succeeded: {v:?}"),
        Err(e) => {
            let got = (status_of(&e), e.code().map(str::to_owned));
            assert_eq!(
                got,
                (Some(status), Some(code.to_owned())),
                "expected HTTP {status} {code}, got {}",
                show(&e)
            );
        }
    }
}

/// Asserts that `res` failed with this HTTP status (for HEAD and 304, which carry no error body).
#[track_caller]
pub fn assert_status<T: Debug, E, R>(res: Result<T, SdkError<E, R>>, status: u16)
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: HttpStatus + Debug,
{
    match res {
        Ok(v) => panic!("expected HTTP {status}, but the request succeeded: {v:?}"),
        Err(e) => assert_eq!(status_of(&e), Some(status), "expected HTTP {status}, got {}", show(&e)),
    }
}

// ---------------------------------------------------------------------------------------------
// Raw HTTP: presigned URLs and hand-signed requests
// ---------------------------------------------------------------------------------------------

/// A raw HTTP response.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl RawResponse {
    /// The `<Code>` of an S3 XML error body.
    pub fn error_code(&self) -> Option<String> {
        let s = std::str::from_utf8(&self.body).ok()?;
        let start = s.find("<Code>")? + "<Code>".len();
        let end = s[start..].find("</Code>")? + start;
        Some(s[start..end].to_owned())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one HTTP/1.1 request with a plain hyper client (no SDK involved).
pub async fn raw_request(method: &str, url: &str, headers: &[(&str, &str)], body: impl Into<Bytes>) -> RawResponse {
    use http_body_util::{BodyExt as _, Full};
    let client =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut req = http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Full::new(body.into())).expect("a valid request");
    let resp = client
        .request(req)
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e:?}"));
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.expect("read the response body").to_bytes();
    RawResponse {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body,
    }
}

/// SigV4-signs a request whose payload hash is `payload_hash` (a hex SHA-256, `UNSIGNED-PAYLOAD`,
/// or a `STREAMING-…` marker) and returns the headers to send plus the signature, which seeds
/// the chunk signatures of `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`.
pub fn sign_v4(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    payload_hash: &str,
    secret_key: &str,
    time: SystemTime,
) -> (Vec<(String, String)>, String) {
    use aws_sigv4::http_request::{
        PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
        UriPathNormalizationMode, sign,
    };
    let identity = Credentials::new(ACCESS_KEY, secret_key, None, None, "keyless-tests").into();
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name("s3")
        .time(time)
        .settings(settings)
        .build()
        .expect("signing params")
        .into();
    let host = url
        .split("://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .expect("url with a host")
        .to_owned();
    let mut all: Vec<(String, String)> = vec![("host".into(), host)];
    all.extend(headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), (*v).to_owned())));
    let signable = SignableRequest::new(
        method,
        url,
        all.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Precomputed(payload_hash.to_owned()),
    )
    .expect("signable request");
    let (instructions, signature) = sign(signable, &params).expect("sign").into_parts();
    let (signed_headers, _) = instructions.into_parts();
    for h in signed_headers {
        all.push((h.name().to_owned(), h.value().to_owned()));
    }
    (all, signature)
}

/// The `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` body for `data` cut into `chunk`-byte chunks: each chunk
/// is `hex(len);chunk-signature=SIG\r\n<bytes>\r\n`, the last one empty, each signature chained
/// to the previous one starting from the request's seed signature.
pub fn signed_chunked_body(
    data: &[u8],
    chunk: usize,
    seed_signature: &str,
    secret_key: &str,
    time: SystemTime,
) -> Vec<u8> {
    use sha2::{Digest as _, Sha256};
    let key = aws_sigv4::sign::v4::generate_signing_key(secret_key, time, REGION, "s3");
    let stamp = amz_date(time);
    let scope = format!("{}/{REGION}/s3/aws4_request", &stamp[..8]);
    let empty = hex::encode(Sha256::digest(b""));
    let mut prev = seed_signature.to_owned();
    let mut out = Vec::new();
    let mut pieces: Vec<&[u8]> = data.chunks(chunk).collect();
    pieces.push(&[]);
    for p in pieces {
        let sts = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{stamp}\n{scope}\n{prev}\n{empty}\n{}",
            hex::encode(Sha256::digest(p))
        );
        let sig = aws_sigv4::sign::v4::calculate_signature(key.as_ref(), sts.as_bytes());
        out.extend_from_slice(format!("{:x};chunk-signature={sig}\r\n", p.len()).as_bytes());
        out.extend_from_slice(p);
        out.extend_from_slice(b"\r\n");
        prev = sig;
    }
    out
}

/// The length of [`signed_chunked_body`]'s output, for `Content-Length`.
pub fn signed_chunked_len(data_len: usize, chunk: usize) -> usize {
    let mut n = 0;
    let mut left = data_len;
    loop {
        let this = left.min(chunk);
        n += format!("{this:x}").len() + ";chunk-signature=".len() + 64 + 2 + this + 2;
        if this == 0 {
            return n;
        }
        left -= this;
    }
}

/// `YYYYMMDDTHHMMSSZ`.
pub fn amz_date(t: SystemTime) -> String {
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    let dt = aws_smithy_types::DateTime::from_secs(secs as i64);
    let s = dt.fmt(aws_smithy_types::date_time::Format::DateTime).unwrap(); // 2024-01-02T03:04:05Z
    s.replace(['-', ':'], "")
}

/// An `aws-chunked` body with no chunk signatures and a trailer
/// (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`), as the SDKs send by default.
pub fn unsigned_trailer_body(data: &[u8], chunk: usize, trailer_name: &str, trailer_value: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for p in data.chunks(chunk) {
        out.extend_from_slice(format!("{:x}\r\n", p.len()).as_bytes());
        out.extend_from_slice(p);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("0\r\n{trailer_name}:{trailer_value}\r\n\r\n").as_bytes());
    out
}

// ---------------------------------------------------------------------------------------------
// Checksums, computed independently of the server
// ---------------------------------------------------------------------------------------------

pub fn crc32_b64(data: &[u8]) -> String {
    B64.encode(crc32fast::hash(data).to_be_bytes())
}

pub fn crc32c_b64(data: &[u8]) -> String {
    B64.encode(crc32c::crc32c(data).to_be_bytes())
}

pub fn crc64nvme_b64(data: &[u8]) -> String {
    let mut d = crc64fast_nvme::Digest::new();
    d.write(data);
    B64.encode(d.sum64().to_be_bytes())
}

pub fn sha1_b64(data: &[u8]) -> String {
    B64.encode(sha1::Sha1::digest(data))
}

pub fn sha256_b64(data: &[u8]) -> String {
    B64.encode(sha2::Sha256::digest(data))
}

pub fn b64(data: &[u8]) -> String {
    B64.encode(data)
}

pub fn b64_decode(s: &str) -> Vec<u8> {
    B64.decode(s).expect("valid base64")
}
