//! Regression tests of the S3 edge over real HTTP/1.1: an in-process server on 127.0.0.1,
//! requests signed with SigV4 by the small signer below, responses read off the socket.
//! Real clients (aws-sdk-s3, boto3, rclone, restic, ...) are exercised by the end-to-end
//! suite against the binary; these pin down edge behaviours found while building it.

use std::convert::Infallible;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use keyless_s3::{FrontOptions, S3Front};
use keyless_store::{Store, StoreOptions};
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

const AK: &str = "ROOTACCESSKEY";
const SK: &str = "root-secret-key";
const REGION: &str = "us-east-1";

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

fn hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(msg);
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

struct Server {
    addr: std::net::SocketAddr,
    _dir: tempfile::TempDir,
}

async fn start() -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, _) = Store::open(dir.path(), StoreOptions::default()).expect("store");
    let front = S3Front::new(
        store,
        FrontOptions {
            root_access_key: AK.into(),
            root_secret_key: SK.into(),
            region: REGION.into(),
            virtual_host_domains: vec![],
            identity: keyless_s3::IdentityHandle::default(),
            status: None,
            body_read_timeout: std::time::Duration::from_secs(30),
        },
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let front = front.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| {
                    let front = front.clone();
                    async move { Ok::<_, Infallible>(front.handle(req).await) }
                });
                let _ = Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Server { addr, _dir: dir }
}

/// One HTTP/1.1 request, written by hand.
struct Req<'a> {
    method: &'a str,
    path: &'a str,
    headers: Vec<(&'a str, String)>,
    body: Vec<u8>,
    /// Sign with SigV4 (header auth, payload hash signed).
    signed: bool,
    region: &'a str,
    secret: &'a str,
}

impl<'a> Req<'a> {
    fn new(method: &'a str, path: &'a str) -> Self {
        Self {
            method,
            path,
            headers: vec![],
            body: vec![],
            signed: true,
            region: REGION,
            secret: SK,
        }
    }
    fn header(mut self, k: &'a str, v: &str) -> Self {
        self.headers.push((k, v.to_owned()));
        self
    }
    fn body(mut self, b: &[u8]) -> Self {
        self.body = b.to_vec();
        self
    }
    fn region(mut self, r: &'a str) -> Self {
        self.region = r;
        self
    }
    fn secret(mut self, s: &'a str) -> Self {
        self.secret = s;
        self
    }
    fn anonymous(mut self) -> Self {
        self.signed = false;
        self
    }

    fn render(&self, host: &str) -> Vec<u8> {
        let now = time::OffsetDateTime::now_utc();
        let amz_date = now
            .format(time::macros::format_description!(
                "[year][month][day]T[hour][minute][second]Z"
            ))
            .expect("date");
        let date = &amz_date[..8];
        let (path, query) = self.path.split_once('?').unwrap_or((self.path, ""));
        let mut headers: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect();
        headers.push(("host".into(), host.into()));
        if self.signed {
            headers.push(("x-amz-date".into(), amz_date.clone()));
            headers.push(("x-amz-content-sha256".into(), sha256_hex(&self.body)));
            headers.sort();
            let canon_query = {
                let mut q: Vec<(String, String)> = query
                    .split('&')
                    .filter(|p| !p.is_empty())
                    .map(|p| {
                        let (k, v) = p.split_once('=').unwrap_or((p, ""));
                        (k.to_owned(), v.to_owned())
                    })
                    .collect();
                q.sort();
                q.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
            };
            let signed_names = headers.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(";");
            let canon_headers: String = headers.iter().map(|(k, v)| format!("{k}:{}\n", v.trim())).collect();
            let creq = format!(
                "{}\n{path}\n{canon_query}\n{canon_headers}\n{signed_names}\n{}",
                self.method,
                sha256_hex(&self.body)
            );
            let scope = format!("{date}/{}/s3/aws4_request", self.region);
            let sts = format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", sha256_hex(creq.as_bytes()));
            let mut key = hmac(format!("AWS4{}", self.secret).as_bytes(), date.as_bytes());
            for part in [self.region, "s3", "aws4_request"] {
                key = hmac(&key, part.as_bytes());
            }
            let sig = hex::encode(hmac(&key, sts.as_bytes()));
            headers.push((
                "authorization".into(),
                format!("AWS4-HMAC-SHA256 Credential={AK}/{scope}, SignedHeaders={signed_names}, Signature={sig}"),
            ));
        }
        let mut out = format!("{} {} HTTP/1.1\r\n", self.method, self.path);
        for (k, v) in &headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str(&format!("content-length: {}\r\n\r\n", self.body.len()));
        let mut out = out.into_bytes();
        out.extend_from_slice(&self.body);
        out
    }
}

#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A client connection: requests go one after another on the same socket.
struct Conn {
    stream: TcpStream,
    host: String,
    buf: Vec<u8>,
}

impl Conn {
    async fn open(s: &Server) -> Self {
        Self {
            stream: TcpStream::connect(s.addr).await.expect("connect"),
            host: s.addr.to_string(),
            buf: vec![],
        }
    }

    async fn send(&mut self, r: Req<'_>) -> Resp {
        let head_only = r.method == "HEAD";
        self.stream.write_all(&r.render(&self.host)).await.expect("write");
        self.read_response(head_only).await
    }

    async fn fill(&mut self) -> bool {
        // On the heap: this buffer lives across an await, so it would be in every future that
        // sends a request, and a test with many of them would overflow the test thread's stack.
        let mut chunk = vec![0u8; 65536];
        let n = self.stream.read(&mut chunk).await.unwrap_or(0);
        self.buf.extend_from_slice(&chunk[..n]);
        n > 0
    }

    async fn read_response(&mut self, head_only: bool) -> Resp {
        let end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            assert!(self.fill().await, "connection closed before a response");
        };
        let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        self.buf.drain(..end + 4);
        let mut lines = head.split("\r\n");
        let status: u16 = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .expect("status line");
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let len: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let len = if head_only || status == 304 { 0 } else { len };
        while self.buf.len() < len {
            assert!(self.fill().await, "connection closed inside a body");
        }
        let body = self.buf.drain(..len).collect();
        Resp { status, headers, body }
    }

    /// True if the server has closed the connection.
    async fn is_closed(&mut self) -> bool {
        !self.fill().await
    }
}

#[tokio::test]
async fn anonymous_requests_are_denied() {
    let s = start().await;
    let mut c = Conn::open(&s).await;
    let r = c.send(Req::new("GET", "/").anonymous()).await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.text().contains("<Code>AccessDenied</Code>"), "{}", r.text());
}

#[tokio::test]
async fn put_get_head_round_trip_with_conditions() {
    let s = start().await;
    let mut c = Conn::open(&s).await;
    assert_eq!(c.send(Req::new("PUT", "/bkt")).await.status, 200);
    let put = c
        .send(
            Req::new("PUT", "/bkt/hello.txt")
                .header("content-type", "text/plain")
                .body(b"hello world"),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text());
    let etag = "\"5eb63bbbe01eeed093cb22bb8f5acdc3\"";
    assert_eq!(put.header("etag"), Some(etag));

    let get = c.send(Req::new("GET", "/bkt/hello.txt")).await;
    assert_eq!((get.status, get.body.as_slice()), (200, &b"hello world"[..]));
    assert_eq!(get.header("content-type"), Some("text/plain"));

    let ranged = c
        .send(Req::new("GET", "/bkt/hello.txt").header("range", "bytes=-5"))
        .await;
    assert_eq!((ranged.status, ranged.body.as_slice()), (206, &b"world"[..]));
    assert_eq!(ranged.header("content-range"), Some("bytes 6-10/11"));

    let unsatisfiable = c
        .send(Req::new("GET", "/bkt/hello.txt").header("range", "bytes=11-"))
        .await;
    assert_eq!(unsatisfiable.status, 416, "{}", unsatisfiable.text());
    assert!(unsatisfiable.text().contains("InvalidRange"));

    // 304 carries the validators and no body, and the connection stays usable.
    let not_modified = c
        .send(Req::new("GET", "/bkt/hello.txt").header("if-none-match", etag))
        .await;
    assert_eq!(not_modified.status, 304);
    assert_eq!(not_modified.header("etag"), Some(etag));
    assert!(not_modified.header("last-modified").is_some());
    let head = c
        .send(Req::new("HEAD", "/bkt/hello.txt").header("if-match", "\"other\""))
        .await;
    assert_eq!(head.status, 412);
    let head = c.send(Req::new("HEAD", "/bkt/hello.txt")).await;
    assert_eq!((head.status, head.header("content-length")), (200, Some("11")));
}

/// Regression: an upload refused before its body is read (here `If-None-Match: *` on an
/// existing key). With `Expect: 100-continue` the client never sends the body, hyper closes
/// the connection, and the response must say `Connection: close` — botocore otherwise reuses
/// the dying connection and reads a stale status for its next request.
#[tokio::test]
async fn early_refusal_while_the_client_waits_for_100_continue_closes_the_connection() {
    let s = start().await;
    let mut c = Conn::open(&s).await;
    assert_eq!(c.send(Req::new("PUT", "/bkt")).await.status, 200);
    assert_eq!(c.send(Req::new("PUT", "/bkt/k").body(b"first")).await.status, 200);

    let mut c2 = Conn::open(&s).await;
    let req = Req::new("PUT", "/bkt/k")
        .header("if-none-match", "*")
        .header("expect", "100-continue")
        .body(b"second");
    // Send only the head, as a client waiting for 100-continue does.
    let full = req.render(&c2.host);
    let head_len = full.windows(4).position(|w| w == b"\r\n\r\n").expect("head") + 4;
    c2.stream.write_all(&full[..head_len]).await.expect("write");
    let r = c2.read_response(false).await;
    assert_eq!(r.status, 412, "{}", r.text());
    assert_eq!(r.header("connection"), Some("close"), "{:?}", r.headers);
    assert!(c2.is_closed().await, "the server closes the connection");

    let ok = c.send(Req::new("GET", "/bkt/k")).await;
    assert_eq!(
        (ok.status, ok.header("connection"), ok.body.as_slice()),
        (200, None, &b"first"[..])
    );
}

/// Regression: botocore keeps the status of an answer that came instead of `100 Continue`
/// for its next `Expect` request on the same connection (awscli uploads an empty file, then
/// stalls on the next one). hyper sends no `100 Continue` for an empty body, so such an
/// exchange must end the connection.
#[tokio::test]
async fn an_empty_upload_that_expected_100_continue_ends_the_connection() {
    let s = start().await;
    let mut c = Conn::open(&s).await;
    assert_eq!(c.send(Req::new("PUT", "/bkt")).await.status, 200);
    let r = c
        .send(Req::new("PUT", "/bkt/empty").header("expect", "100-continue"))
        .await;
    assert_eq!(
        (r.status, r.header("connection")),
        (200, Some("close")),
        "{:?}",
        r.headers
    );
    let mut c = Conn::open(&s).await;
    let r = c.send(Req::new("PUT", "/bkt/empty2")).await;
    assert_eq!((r.status, r.header("connection")), (200, None), "{:?}", r.headers);
}

/// Regression: a refused upload whose body the client sends anyway is read and discarded, so
/// the client (the AWS SDK, streaming a body with a wrong secret) gets the answer instead of
/// a broken pipe, and the connection stays usable.
#[tokio::test]
async fn early_refusal_of_a_sent_body_drains_it_and_keeps_the_connection() {
    let s = start().await;
    let mut c = Conn::open(&s).await;
    assert_eq!(c.send(Req::new("PUT", "/bkt")).await.status, 200);
    assert_eq!(c.send(Req::new("PUT", "/bkt/k").body(b"first")).await.status, 200);
    let big = vec![7u8; 3 << 20];
    let r = c
        .send(Req::new("PUT", "/bkt/k").header("if-none-match", "*").body(&big))
        .await;
    assert_eq!((r.status, r.header("connection")), (412, None), "{}", r.text());
    let r = c.send(Req::new("PUT", "/nobucket/k").body(&big)).await;
    assert_eq!((r.status, r.header("connection")), (404, None), "{}", r.text());
    let ok = c.send(Req::new("GET", "/bkt/k")).await;
    assert_eq!((ok.status, ok.body.as_slice()), (200, &b"first"[..]));
}

#[tokio::test]
async fn bad_digests_leave_nothing_behind() {
    let s = start().await;
    let mut c = Conn::open(&s).await;
    assert_eq!(c.send(Req::new("PUT", "/bkt")).await.status, 200);
    // MD5("other") in base64.
    let r = c
        .send(
            Req::new("PUT", "/bkt/k")
                .header("content-md5", "eVdzhjrxY+MG0gcDPNw3Ow==")
                .body(b"data"),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("<Code>BadDigest</Code>"), "{}", r.text());
    let r = c
        .send(
            Req::new("PUT", "/bkt/k")
                .header("x-amz-checksum-crc32", "AAAAAA==")
                .body(b"data"),
        )
        .await;
    assert!(r.text().contains("<Code>BadDigest</Code>"), "{}", r.text());
    let r = c.send(Req::new("HEAD", "/bkt/k")).await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn listings_page_with_opaque_tokens_and_ignore_an_empty_delimiter() {
    let s = start().await;
    let mut c = Conn::open(&s).await;
    assert_eq!(c.send(Req::new("PUT", "/bkt")).await.status, 200);
    for k in ["a/1", "a/2", "b", "c d"] {
        assert_eq!(
            c.send(Req::new("PUT", &format!("/bkt/{}", k.replace(' ', "%20"))).body(b"x"))
                .await
                .status,
            200
        );
    }
    let r = c.send(Req::new("GET", "/bkt?delimiter=&list-type=2")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        !r.text().contains("CommonPrefixes") && r.text().contains("<Key>a/1</Key>"),
        "{}",
        r.text()
    );

    let r = c
        .send(Req::new("GET", "/bkt?delimiter=%2F&list-type=2&max-keys=1"))
        .await;
    let t = r.text();
    assert!(
        t.contains("<Prefix>a/</Prefix>") && t.contains("<IsTruncated>true</IsTruncated>"),
        "{t}"
    );
    let token = t
        .split("<NextContinuationToken>")
        .nth(1)
        .and_then(|x| x.split('<').next())
        .expect("token")
        .to_owned();
    let r = c
        .send(Req::new(
            "GET",
            &format!("/bkt?continuation-token={token}&delimiter=%2F&list-type=2&max-keys=1"),
        ))
        .await;
    assert!(
        r.text().contains("<Key>b</Key>") && !r.text().contains("a/"),
        "{}",
        r.text()
    );

    let r = c
        .send(Req::new("GET", "/bkt?encoding-type=url&list-type=2&prefix=c"))
        .await;
    assert!(r.text().contains("<Key>c%20d</Key>"), "{}", r.text());

    let r = c.send(Req::new("GET", "/bkt?list-type=2&max-keys=-1")).await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("InvalidArgument"), "{}", r.text());

    // V1 gives NextMarker only with a delimiter.
    let r = c.send(Req::new("GET", "/bkt?max-keys=1")).await;
    assert!(
        r.text().contains("<IsTruncated>true</IsTruncated>") && !r.text().contains("NextMarker"),
        "{}",
        r.text()
    );
    let r = c.send(Req::new("GET", "/bkt?delimiter=%2F&max-keys=1")).await;
    assert!(r.text().contains("<NextMarker>a/</NextMarker>"), "{}", r.text());
}

#[tokio::test]
async fn signatures_for_another_region_are_refused() {
    let s = start().await;
    let mut c = Conn::open(&s).await;
    assert_eq!(c.send(Req::new("PUT", "/bkt")).await.status, 200);
    let r = c.send(Req::new("GET", "/bkt?list-type=2").region("eu-west-1")).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.text().contains("AuthorizationHeaderMalformed") && r.text().contains("expecting &apos;us-east-1&apos;"),
        "{}",
        r.text()
    );
    let r = c.send(Req::new("GET", "/bkt?location")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("LocationConstraint"), "{}", r.text());
}

/// S3 returns `x-amz-checksum-*` (and `x-amz-checksum-type`) on GetObject and HeadObject only
/// when the request says `x-amz-checksum-mode: ENABLED`.
#[tokio::test]
async fn read_checksums_only_with_checksum_mode_enabled() {
    let s = start().await;
    let mut c = Conn::open(&s).await;
    assert_eq!(c.send(Req::new("PUT", "/bkt")).await.status, 200);
    // CRC32 of "hello world".
    let put = c
        .send(
            Req::new("PUT", "/bkt/k")
                .header("x-amz-checksum-crc32", "DUoRhQ==")
                .body(b"hello world"),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text());
    assert_eq!(
        put.header("x-amz-checksum-crc32"),
        Some("DUoRhQ=="),
        "PutObject echoes it"
    );
    let checksum_headers = |r: &Resp| {
        r.headers
            .iter()
            .filter(|(k, _)| k.starts_with("x-amz-checksum"))
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
    };
    for method in ["GET", "HEAD"] {
        let r = c.send(Req::new(method, "/bkt/k")).await;
        assert_eq!(r.status, 200, "{method}");
        assert_eq!(
            checksum_headers(&r),
            Vec::<String>::new(),
            "{method} without checksum mode"
        );
        let r = c
            .send(Req::new(method, "/bkt/k").header("x-amz-checksum-mode", "ENABLED"))
            .await;
        assert_eq!(
            checksum_headers(&r),
            ["x-amz-checksum-crc32: DUoRhQ==", "x-amz-checksum-type: FULL_OBJECT"],
            "{method} with checksum mode"
        );
        let r = c
            .send(Req::new(method, "/bkt/k?partNumber=1").header("x-amz-checksum-mode", "ENABLED"))
            .await;
        assert_eq!(r.status, 200, "{method} part 1 of a single-part object is the object");
        assert_eq!(checksum_headers(&r).len(), 2, "{method} part 1 with checksum mode");
        let r = c
            .send(
                Req::new(method, "/bkt/k")
                    .header("x-amz-checksum-mode", "ENABLED")
                    .header("range", "bytes=0-4"),
            )
            .await;
        assert_eq!(r.status, 206, "{method}");
        assert_eq!(
            checksum_headers(&r),
            Vec::<String>::new(),
            "{method} of a range: no checksum covers it"
        );
    }
}

/// S3 ignores a malformed or multi-range `Range` and an unparsable `If-Modified-Since` /
/// `If-Unmodified-Since`, and stores `Expires` as sent, date or not; `s3s` would answer 400.
/// Every header here is signed (SigV4, as botocore and the AWS SDKs sign), so the edge must
/// check the signature, drop the header and sign again; a wrong signature stays a 403.
#[tokio::test]
async fn malformed_range_and_dates_are_ignored_and_expires_kept_verbatim() {
    let s = start().await;
    let mut c = Conn::open(&s).await;
    assert_eq!(c.send(Req::new("PUT", "/bkt")).await.status, 200);
    assert_eq!(c.send(Req::new("PUT", "/bkt/k").body(b"0123456789")).await.status, 200);
    for range in [
        "bytes=0-1,3-4",
        "bytes=abc",
        "bytes=5-2",
        "items=0-1",
        "bytes=",
        "bytes=-",
    ] {
        for method in ["GET", "HEAD"] {
            let r = c.send(Req::new(method, "/bkt/k").header("range", range)).await;
            assert_eq!(r.status, 200, "{method} {range}: {}", r.text());
            assert_eq!(r.header("content-length"), Some("10"), "{method} {range}");
            assert_eq!(r.header("content-range"), None, "{method} {range}");
            if method == "GET" {
                assert_eq!(r.body, b"0123456789", "{range}");
            }
        }
    }
    let r = c.send(Req::new("GET", "/bkt/k").header("range", "bytes=2-4")).await;
    assert_eq!(
        (r.status, r.body.as_slice()),
        (206, &b"234"[..]),
        "a good range still works"
    );
    let r = c.send(Req::new("GET", "/bkt/k").header("range", "bytes=10-")).await;
    assert_eq!(r.status, 416, "an unsatisfiable range is still 416");

    let future = "Fri, 01 Jan 2100 00:00:00 GMT";
    let past = "Sat, 01 Jan 2000 00:00:00 GMT";
    let cases = [
        ("if-modified-since", "yesterday", 200),
        ("if-modified-since", "", 200),
        ("if-modified-since", future, 304),
        ("if-unmodified-since", "2024-01-01", 200),
        ("if-unmodified-since", past, 412),
    ];
    for (name, value, want) in cases {
        let r = c.send(Req::new("GET", "/bkt/k").header(name, value)).await;
        assert_eq!(r.status, want, "{name}: {value:?}: {}", r.text());
    }

    // Expires, date or not, is stored and returned as sent; by PutObject and multipart.
    for expires in ["not a date", "0", "Thu, 01 Dec 1994 16:00:00 GMT"] {
        let r = c
            .send(Req::new("PUT", "/bkt/e").header("expires", expires).body(b"x"))
            .await;
        assert_eq!(r.status, 200, "{expires}: {}", r.text());
        let r = c.send(Req::new("HEAD", "/bkt/e")).await;
        assert_eq!(r.header("expires"), Some(expires));
    }
    let r = c
        .send(Req::new("POST", "/bkt/mp?uploads").header("expires", "someday"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let t = r.text();
    let id = t
        .split("<UploadId>")
        .nth(1)
        .and_then(|x| x.split('<').next())
        .expect("upload id")
        .to_owned();
    let r = c
        .send(Req::new("PUT", &format!("/bkt/mp?partNumber=1&uploadId={id}")).body(b"part"))
        .await;
    let etag = r.header("etag").expect("etag").to_owned();
    let xml = format!(
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part></CompleteMultipartUpload>"
    );
    let r = c
        .send(Req::new("POST", &format!("/bkt/mp?uploadId={id}")).body(xml.as_bytes()))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        c.send(Req::new("HEAD", "/bkt/mp")).await.header("expires"),
        Some("someday")
    );

    // A request whose signature is wrong is refused as before, not quietly repaired.
    let r = c
        .send(
            Req::new("GET", "/bkt/k")
                .header("range", "bytes=0-1,3-4")
                .secret("not-the-secret"),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.text().contains("SignatureDoesNotMatch"), "{}", r.text());
}
