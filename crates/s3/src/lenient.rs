//! Request headers S3 ignores when it cannot parse them, and `s3s` refuses.
//!
//! S3 answers a malformed or multi-range `Range` with the whole object (200), ignores an
//! `If-Modified-Since` / `If-Unmodified-Since` that is not a date, and stores `Expires` as the
//! client sent it, date or not. `s3s` parses these headers into typed fields before any handler
//! runs and answers 400 `InvalidArgument` when they do not parse, so [`relax`] takes such a header
//! out of the request before `s3s` sees it (an unparsable `Expires` travels on as a
//! [`RawExpires`] extension, for `meta`).
//!
//! Taking a header out must not break the request's signature:
//! - SigV2 never signs these headers, and a SigV4 presigned URL or header signature that does
//!   not list one in its signed headers does not depend on it: the header is simply removed.
//! - A SigV4 `Authorization` header that signs it (botocore and the AWS SDKs sign every header)
//!   is checked here first, with the secret the [`KeyRing`] gives for its access key; only if
//!   the client's signature is valid is the header removed and the request signed again over
//!   the remaining headers, with the same key, date and scope, so `s3s` verifies what the client
//!   signed minus what S3 ignores. If it does not verify, nothing is changed and `s3s` answers
//!   as it would have. Streaming signed bodies (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD*`), whose
//!   chunk signatures chain from the request signature, and presigned URLs that sign the header
//!   are left as they are.

use http::HeaderMap;
use http::request::Parts;
use s3s::auth::{S3Auth, SecretKey};
use s3s::dto::{Timestamp, TimestampFormat};

use crate::auth::KeyRing;
use crate::percent;

/// The `Expires` header of an upload as the client sent it, when it is not a date `s3s` parses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawExpires(pub String);

/// A single byte range, `bytes=first-[last]` or `bytes=-suffix` (RFC 9110 §14.1.2), that
/// `s3s` also parses (`first <= last`). Anything else S3 ignores.
fn is_single_range(v: &str) -> bool {
    let v = v.trim();
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let syntax = v
        .strip_prefix("bytes=")
        .and_then(|r| r.split_once('-'))
        .is_some_and(|(first, last)| {
            (digits(first) && (last.is_empty() || digits(last))) || (first.is_empty() && digits(last))
        });
    syntax && s3s::dto::Range::parse(v).is_ok()
}

/// The headers of `headers` that S3 ignores (or, for `expires`, keeps verbatim) but `s3s` would
/// refuse, lower-case.
fn unparsable(headers: &HeaderMap) -> Vec<&'static str> {
    let is_date = |v: &str| Timestamp::parse(TimestampFormat::HttpDate, v.trim()).is_ok();
    type Check<'a> = (&'static str, &'a dyn Fn(&str) -> bool);
    let checks: [Check; 4] = [
        ("range", &is_single_range),
        ("if-modified-since", &is_date),
        ("if-unmodified-since", &is_date),
        ("expires", &is_date),
    ];
    checks
        .into_iter()
        .filter(|(name, ok)| {
            let values: Vec<&http::HeaderValue> = headers.get_all(*name).iter().collect();
            // Present more than once, or once with a value that is not text or does not parse.
            match values.as_slice() {
                [] => false,
                [v] => !v.to_str().is_ok_and(ok),
                _ => true,
            }
        })
        .map(|(name, _)| name)
        .collect()
}

/// Takes the headers S3 ignores out of the request, keeping its signature valid (see the
/// module documentation). Returns the names removed.
pub(crate) async fn relax(parts: &mut Parts, keys: &KeyRing) -> Vec<&'static str> {
    let bad = unparsable(&parts.headers);
    if bad.is_empty() {
        return bad;
    }
    let signed = signed_headers(&parts.headers, &parts.uri);
    let needs_resign = bad.iter().any(|b| signed.iter().any(|s| s == b));
    if needs_resign && !resign_without(parts, &bad, keys).await {
        return Vec::new();
    }
    if let Some(v) = bad
        .contains(&"expires")
        .then(|| parts.headers.get(http::header::EXPIRES))
        .flatten()
    {
        let raw = String::from_utf8_lossy(v.as_bytes()).into_owned();
        parts.extensions.insert(RawExpires(raw));
    }
    for name in &bad {
        parts.headers.remove(*name);
    }
    bad
}

/// The headers a SigV4 request signs, lower-case: those of its `Authorization` header, else those
/// of its presigned URL (`X-Amz-SignedHeaders`); none for any other request.
pub(crate) fn signed_headers(headers: &HeaderMap, uri: &http::Uri) -> Vec<String> {
    match sigv4_header(headers) {
        Some(auth) => auth
            .signed_headers
            .iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .collect(),
        None => presigned_signed_headers(uri),
    }
}

/// The headers a SigV4 presigned URL signs (`X-Amz-SignedHeaders`), lower-case.
fn presigned_signed_headers(uri: &http::Uri) -> Vec<String> {
    let pairs = percent::parse_form(uri.query().unwrap_or_default()).unwrap_or_default();
    pairs
        .into_iter()
        .find(|(k, _)| k == "X-Amz-SignedHeaders")
        .map(|(_, v)| v.split(';').map(|h| h.trim().to_ascii_lowercase()).collect())
        .unwrap_or_default()
}

/// The parts of an `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct AuthorizationV4 {
    /// `<access key>/<date>/<region>/<service>/aws4_request`
    credential: String,
    signed_headers: Vec<String>,
    signature: String,
}

fn sigv4_header(headers: &HeaderMap) -> Option<AuthorizationV4> {
    let auth = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let rest = auth.trim().strip_prefix("AWS4-HMAC-SHA256")?;
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.split(',').map(str::trim) {
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v.to_owned());
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed_headers = Some(v.split(';').map(str::to_owned).collect());
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = Some(v.to_owned());
        }
    }
    Some(AuthorizationV4 {
        credential: credential?,
        signed_headers: signed_headers?,
        signature: signature?,
    })
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, data))
}

fn hmac(key: &[u8], msg: &[u8]) -> Vec<u8> {
    ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key), msg)
        .as_ref()
        .to_vec()
}

/// SigV4's URI encoding: every byte but `A-Z a-z 0-9 - _ . ~` as `%XX`, and `/` too unless it
/// separates path segments.
fn uri_encode(s: &str, encode_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') || (b == b'/' && !encode_slash) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// What a SigV4 header signature covers, apart from the headers themselves.
struct Signing<'a> {
    method: &'a str,
    /// The canonical URI: the decoded path encoded again, or (as `s3s` also accepts) the raw path.
    canonical_uri: String,
    canonical_query: String,
    payload_hash: &'a str,
    amz_date: &'a str,
    /// `<date>/<region>/<service>/aws4_request`
    scope: &'a str,
}

impl Signing<'_> {
    /// The canonical request over `names` (lower-case, sorted) with the values in `headers`;
    /// `None` if a named header is missing.
    fn canonical_request(&self, headers: &HeaderMap, names: &[String]) -> Option<String> {
        let mut canonical_headers = String::new();
        for name in names {
            let values: Vec<String> = headers
                .get_all(name.as_str())
                .iter()
                .map(|v| v.to_str().map(|s| s.split_whitespace().collect::<Vec<_>>().join(" ")))
                .collect::<Result<_, _>>()
                .ok()?;
            if values.is_empty() {
                return None;
            }
            canonical_headers.push_str(&format!("{name}:{}\n", values.join(",")));
        }
        Some(format!(
            "{}\n{}\n{}\n{canonical_headers}\n{}\n{}",
            self.method,
            self.canonical_uri,
            self.canonical_query,
            names.join(";"),
            self.payload_hash
        ))
    }

    fn signature(&self, secret: &SecretKey, canonical_request: &str) -> String {
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n{}\n{}\n{}",
            self.amz_date,
            self.scope,
            sha256_hex(canonical_request.as_bytes())
        );
        let mut key = format!("AWS4{}", secret.expose()).into_bytes();
        for part in self.scope.split('/') {
            key = hmac(&key, part.as_bytes());
        }
        hex::encode(hmac(&key, string_to_sign.as_bytes()))
    }
}

/// Checks the request's SigV4 `Authorization` header; if it is valid, removes `drop` from its
/// signed headers and signs the request again. Returns whether it did.
async fn resign_without(parts: &mut Parts, drop: &[&str], keys: &KeyRing) -> bool {
    let Some(auth) = sigv4_header(&parts.headers) else {
        return false;
    };
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(payload_hash), Some(amz_date)) = (header("x-amz-content-sha256"), header("x-amz-date")) else {
        return false;
    };
    if payload_hash.starts_with("STREAMING-AWS4-HMAC-SHA256-PAYLOAD") {
        return false;
    }
    let Some((access_key, scope)) = auth.credential.split_once('/') else {
        return false;
    };
    let Ok(secret) = keys.get_secret_key(access_key).await else {
        return false;
    };
    let Ok(decoded_path) = percent::decode_path(parts.uri.path()) else {
        return false;
    };
    let Ok(query) = percent::parse_form(parts.uri.query().unwrap_or_default()) else {
        return false;
    };
    let mut query: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (uri_encode(k, true), uri_encode(v, true)))
        .collect();
    query.sort_by(|a, b| a.0.cmp(&b.0));
    let canonical_query = query
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let mut names: Vec<String> = auth.signed_headers.iter().map(|h| h.to_ascii_lowercase()).collect();
    names.sort();
    names.dedup();
    let method = parts.method.as_str().to_owned();
    for canonical_uri in [uri_encode(&decoded_path, false), parts.uri.path().to_owned()] {
        let signing = Signing {
            method: &method,
            canonical_uri,
            canonical_query: canonical_query.clone(),
            payload_hash,
            amz_date,
            scope,
        };
        let Some(original) = signing.canonical_request(&parts.headers, &names) else {
            return false;
        };
        let computed = signing.signature(&secret, &original);
        if !keyless_store::ct_eq(computed.as_bytes(), auth.signature.as_bytes()) {
            continue;
        }
        let kept: Vec<String> = names.iter().filter(|n| !drop.contains(&n.as_str())).cloned().collect();
        let mut without = parts.headers.clone();
        for name in drop {
            without.remove(*name);
        }
        let Some(canonical) = signing.canonical_request(&without, &kept) else {
            return false;
        };
        let signature = signing.signature(&secret, &canonical);
        let value = format!(
            "AWS4-HMAC-SHA256 Credential={}, SignedHeaders={}, Signature={signature}",
            auth.credential,
            kept.join(";")
        );
        let Ok(value) = http::HeaderValue::try_from(value) else {
            return false;
        };
        parts.headers.insert(http::header::AUTHORIZATION, value);
        return true;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const AK: &str = "AKIAIOSFODNN7EXAMPLE";
    const SK: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn request(uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut b = http::Request::builder().method("GET").uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn unparsable_headers_are_found() {
        /// (request headers, the names found unparsable)
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);
        let cases: &[Case] = &[
            (&[], &[]),
            (&[("range", "bytes=0-9")], &[]),
            (&[("range", "bytes=-5")], &[]),
            (&[("range", "bytes=5-")], &[]),
            (&[("range", "bytes=-0")], &[]),
            (&[("range", "bytes=-")], &["range"]),
            (&[("range", "bytes=")], &["range"]),
            (&[("range", "bytes=1-2-3")], &["range"]),
            (&[("range", "bytes=+1-2")], &["range"]),
            (&[("range", "bytes=99999999999999999999-")], &["range"]),
            (&[("range", "bytes=0-1,3-4")], &["range"]),
            (&[("range", "bytes=abc")], &["range"]),
            (&[("range", "bytes=9-2")], &["range"]),
            (&[("range", "items=0-1")], &["range"]),
            (&[("range", "bytes=0-1"), ("range", "bytes=2-3")], &["range"]),
            (&[("if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT")], &[]),
            (&[("if-modified-since", "yesterday")], &["if-modified-since"]),
            (&[("if-unmodified-since", "")], &["if-unmodified-since"]),
            (&[("expires", "Thu, 01 Dec 1994 16:00:00 GMT")], &[]),
            (&[("expires", "0")], &["expires"]),
            (&[("expires", "never"), ("range", "bytes=x")], &["range", "expires"]),
        ];
        for (headers, want) in cases {
            let parts = request("/b/k", headers);
            assert_eq!(unparsable(&parts.headers), *want, "{headers:?}");
        }
    }

    /// The SigV4 example of the S3 documentation ("GET Object", with a Range header):
    /// <https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html>.
    #[test]
    fn signatures_match_the_aws_example() {
        let parts = request(
            "/test.txt",
            &[
                ("host", "examplebucket.s3.amazonaws.com"),
                ("range", "bytes=0-9"),
                ("x-amz-content-sha256", EMPTY),
                ("x-amz-date", "20130524T000000Z"),
            ],
        );
        let signing = Signing {
            method: "GET",
            canonical_uri: "/test.txt".into(),
            canonical_query: String::new(),
            payload_hash: EMPTY,
            amz_date: "20130524T000000Z",
            scope: "20130524/us-east-1/s3/aws4_request",
        };
        let names: Vec<String> = ["host", "range", "x-amz-content-sha256", "x-amz-date"]
            .map(String::from)
            .to_vec();
        let creq = signing.canonical_request(&parts.headers, &names).unwrap();
        assert_eq!(
            signing.signature(&SecretKey::from(SK), &creq),
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    fn signed(uri: &str, headers: &[(&str, &str)], secret: &str) -> Parts {
        let mut parts = request(uri, headers);
        parts.headers.insert(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=x, SignedHeaders=x, Signature=x"
                .parse()
                .unwrap(),
        );
        let mut names: Vec<String> = headers.iter().map(|(k, _)| k.to_string()).collect();
        names.sort();
        let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
        let mut q = percent::parse_form(query).unwrap();
        q.sort();
        let signing = Signing {
            method: "GET",
            canonical_uri: uri_encode(&percent::decode_path(path).unwrap(), false),
            canonical_query: q
                .iter()
                .map(|(k, v)| format!("{}={}", uri_encode(k, true), uri_encode(v, true)))
                .collect::<Vec<_>>()
                .join("&"),
            payload_hash: EMPTY,
            amz_date: "20130524T000000Z",
            scope: "20130524/us-east-1/s3/aws4_request",
        };
        let creq = signing.canonical_request(&parts.headers, &names).unwrap();
        let sig = signing.signature(&SecretKey::from(secret), &creq);
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential={AK}/20130524/us-east-1/s3/aws4_request, SignedHeaders={}, Signature={sig}",
            names.join(";")
        );
        parts.headers.insert("authorization", auth.parse().unwrap());
        parts
    }

    #[tokio::test]
    async fn a_signed_unparsable_header_is_removed_and_the_request_signed_again() {
        let keys = KeyRing::new(AK, SK);
        let headers = [
            ("host", "examplebucket.s3.amazonaws.com"),
            ("range", "bytes=0-1,3-4"),
            ("x-amz-content-sha256", EMPTY),
            ("x-amz-date", "20130524T000000Z"),
        ];
        let uri = "/b/dir/a%20key%2B.txt?versionId=null&response-content-type=text%2Fplain";
        let mut parts = signed(uri, &headers, SK);
        assert_eq!(relax(&mut parts, &keys).await, ["range"]);
        assert!(!parts.headers.contains_key("range"));
        // What s3s will verify: the same request, signed without the range.
        let without: Vec<(&str, &str)> = headers.iter().copied().filter(|(k, _)| *k != "range").collect();
        let want = signed(uri, &without, SK);
        assert_eq!(parts.headers.get("authorization"), want.headers.get("authorization"));

        // A request whose signature does not verify is left exactly as it came.
        let mut forged = signed(uri, &headers, "another-secret");
        let before = forged.headers.clone();
        assert_eq!(relax(&mut forged, &keys).await, Vec::<&str>::new());
        assert_eq!(forged.headers, before);

        // So is one for an unknown key, and one with a signed streaming body.
        let mut unknown = signed(uri, &headers, SK);
        let auth = unknown.headers["authorization"]
            .to_str()
            .unwrap()
            .replace(AK, "AKIDUNKNOWN");
        unknown.headers.insert("authorization", auth.parse().unwrap());
        assert_eq!(relax(&mut unknown, &keys).await, Vec::<&str>::new());
        let mut streaming = signed(uri, &headers, SK);
        streaming.headers.insert(
            "x-amz-content-sha256",
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD".parse().unwrap(),
        );
        assert_eq!(relax(&mut streaming, &keys).await, Vec::<&str>::new());
    }

    #[tokio::test]
    async fn unsigned_headers_are_just_removed_and_expires_kept_raw() {
        let keys = KeyRing::new(AK, SK);
        // Signed with V4, but not over the bad headers.
        let mut parts = signed(
            "/b/k",
            &[
                ("host", "h"),
                ("x-amz-content-sha256", EMPTY),
                ("x-amz-date", "20130524T000000Z"),
            ],
            SK,
        );
        let auth = parts.headers["authorization"].clone();
        parts.headers.insert("if-modified-since", "yesterday".parse().unwrap());
        parts.headers.insert("expires", "in a while".parse().unwrap());
        assert_eq!(relax(&mut parts, &keys).await, ["if-modified-since", "expires"]);
        assert_eq!(parts.headers["authorization"], auth, "the signature did not cover them");
        assert_eq!(
            parts.extensions.get::<RawExpires>(),
            Some(&RawExpires("in a while".into()))
        );
        // SigV2 and presigned V4 URLs that do not sign the header.
        for (uri, auth) in [
            ("/b/k", Some("AWS AK:c2ln")),
            (
                "/b/k?X-Amz-Credential=AK%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-SignedHeaders=host&X-Amz-Signature=x",
                None,
            ),
        ] {
            let mut parts = request(uri, &[("range", "bytes=1-2,4-5")]);
            if let Some(a) = auth {
                parts.headers.insert("authorization", a.parse().unwrap());
            }
            assert_eq!(relax(&mut parts, &keys).await, ["range"], "{uri}");
            assert!(parts.extensions.get::<RawExpires>().is_none());
        }
        // A presigned URL that signs the range keeps it (s3s answers as it would have).
        let uri = "/b/k?X-Amz-Credential=AK%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-SignedHeaders=host%3Brange&X-Amz-Signature=x";
        let mut parts = request(uri, &[("range", "bytes=1-2,4-5")]);
        assert_eq!(relax(&mut parts, &keys).await, Vec::<&str>::new());
        assert!(parts.headers.contains_key("range"));
    }
}
