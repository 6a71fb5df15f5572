//! The health endpoints, answered before a request reaches the S3 front.
//!
//! `GET /healthz` → 200 `ok` while the process serves; `GET /readyz` → 200 `ready` when the
//! store answers, else 503 `not ready`. HEAD works too.
//!
//! A bucket may be called `healthz` or `readyz`, and then S3 path-style requests for it use the
//! same paths. The probes therefore win only for a request that no S3 client sends for such a
//! bucket in practice: GET or HEAD, the exact path, no query string, no `Authorization` header,
//! and a `Host` that is not a virtual-host bucket name (`BUCKET.<domain>`, where `/healthz` is an
//! object key). Everything else — signed requests, presigned URLs (they carry a query), listings
//! with parameters — goes to S3. What is lost: anonymous unsigned GET/HEAD of a public bucket
//! named `healthz` or `readyz`.

use http::{Method, Request, header};

/// Which probe a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    Live,
    Ready,
}

/// Classifies a request; `None` means it belongs to S3. `domains` are the configured
/// virtual-host domains (lower case, no trailing dot).
pub fn probe<B>(req: &Request<B>, domains: &[String]) -> Option<Probe> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return None;
    }
    if req.uri().query().is_some() || req.headers().contains_key(header::AUTHORIZATION) {
        return None;
    }
    let probe = match req.uri().path() {
        "/healthz" => Probe::Live,
        "/readyz" => Probe::Ready,
        _ => return None,
    };
    if is_virtual_host(req, domains) {
        return None;
    }
    Some(probe)
}

/// True for a metrics scrape: `GET /metrics` with no query string, no `Authorization` header and
/// a `Host` that is not a virtual-host bucket name — the same rule as the probes, GET only.
pub fn is_metrics<B>(req: &Request<B>, domains: &[String]) -> bool {
    req.method() == Method::GET
        && req.uri().path() == "/metrics"
        && req.uri().query().is_none()
        && !req.headers().contains_key(header::AUTHORIZATION)
        && !is_virtual_host(req, domains)
}

/// True when the request's host is `BUCKET.<domain>` for a configured domain.
fn is_virtual_host<B>(req: &Request<B>, domains: &[String]) -> bool {
    if domains.is_empty() {
        return false;
    }
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().host());
    let Some(host) = host else { return false };
    // Strip a port, but not the colons of a bracketed IPv6 literal.
    let name = match host.rsplit_once(':') {
        Some((name, port)) if !name.is_empty() && !port.contains(']') => name,
        _ => host,
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    domains.iter().any(|d| {
        name.len() > d.len() + 1 && name.ends_with(d.as_str()) && name.as_bytes()[name.len() - d.len() - 1] == b'.'
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(method: &str, uri: &str, headers: &[(&str, &str)], want: Option<Probe>) {
        let mut b = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let req = b.body(()).unwrap();
        let domains = vec!["s3.example.com".to_owned()];
        assert_eq!(probe(&req, &domains), want, "{method} {uri} {headers:?}");
    }

    #[test]
    fn probes_and_s3_requests() {
        let live = Some(Probe::Live);
        let ready = Some(Probe::Ready);
        let s3 = None;
        type Headers<'a> = &'a [(&'a str, &'a str)];
        let table: &[(&str, &str, Headers, Option<Probe>)] = &[
            ("GET", "/healthz", &[], live),
            ("HEAD", "/healthz", &[], live),
            ("GET", "/readyz", &[], ready),
            ("HEAD", "/readyz", &[("host", "127.0.0.1:9000")], ready),
            // Path-style host equal to the domain itself is not a bucket.
            ("GET", "/healthz", &[("host", "s3.example.com:9000")], live),
            // S3 requests for a bucket named healthz.
            (
                "GET",
                "/healthz",
                &[("authorization", "AWS4-HMAC-SHA256 Credential=x")],
                s3,
            ),
            ("GET", "/healthz?list-type=2", &[], s3),
            ("GET", "/healthz?X-Amz-Signature=abc", &[], s3),
            ("PUT", "/healthz", &[], s3),
            ("DELETE", "/readyz", &[], s3),
            ("GET", "/healthz/", &[], s3),
            ("GET", "/healthz/key", &[], s3),
            ("GET", "/", &[], s3),
            // Virtual-host style: /healthz is an object key in bucket `photos`.
            ("GET", "/healthz", &[("host", "photos.s3.example.com")], s3),
            ("GET", "/healthz", &[("host", "Photos.S3.Example.Com:443")], s3),
            // A host that merely ends with the same letters is not under the domain.
            ("GET", "/healthz", &[("host", "evils3.example.com")], live),
            ("GET", "/healthz", &[("host", "[::1]:9000")], live),
        ];
        for (method, uri, headers, want) in table {
            check(method, uri, headers, *want);
        }
    }
}
