//! Who may sign requests, and what a signed request must also satisfy.
//!
//! `s3s` verifies SigV4 signatures (header-signed, presigned, and aws-chunked streaming with
//! or without trailers) and Signature Version 2 (`Authorization: AWS key:sig`, and presigned
//! URLs with `AWSAccessKeyId`, `Signature` and `Expires`, which boto3's
//! `generate_presigned_url` and `aws s3 presign` of the AWS CLI v1 produce by default). For
//! both it asks [`KeyRing`] for the secret of the access key id a request names. `KeyRing` is
//! the one place that maps access key ids to secrets: today it holds the root credentials; STS
//! temporary credentials (issue 3) are meant to be added here, behind the same `secret_for`
//! lookup.
//!
//! [`Gate`] runs after the signature has been checked, on every request: it denies anonymous
//! requests (S3 `AccessDenied`), checks that a SigV4 credential scope names this server's
//! region, as S3 does, and checks the request time of a header-signed SigV2 request, which
//! `s3s` does not: without that check a captured V2 request could be replayed forever.
//! (`s3s` checks the time of SigV4 requests itself, and the `Expires` of V2 presigned URLs.)
//!
//! **Invariant:** secrets never reach a log: [`SecretKey`] redacts itself, and nothing here
//! formats one.

use http::{HeaderMap, Uri};
use s3s::S3Result;
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::dto::{Timestamp, TimestampFormat};
use time::OffsetDateTime;

use crate::error::ApiError;
use crate::percent;

/// The credentials the server accepts.
#[derive(Clone)]
pub(crate) struct KeyRing {
    root_access_key: String,
    root_secret_key: SecretKey,
    /// The identity in force: its server keys are what temporary (`ASIA…`) secrets derive from.
    identity: crate::identity::IdentityHandle,
}

impl KeyRing {
    pub(crate) fn new(root_access_key: &str, root_secret_key: &str) -> Self {
        Self {
            root_access_key: root_access_key.to_owned(),
            root_secret_key: SecretKey::from(root_secret_key),
            identity: crate::identity::IdentityHandle::default(),
        }
    }

    /// Also accepts temporary credentials minted with the session keys of the identity in force
    /// (see `identity::session_secret`).
    pub(crate) fn with_sessions(mut self, identity: crate::identity::IdentityHandle) -> Self {
        self.identity = identity;
        self
    }

    /// The secret of `access_key`. The comparison takes the same time wherever the ids differ.
    pub(crate) fn secret_for(&self, access_key: &str) -> Option<SecretKey> {
        keyless_store::ct_eq(access_key.as_bytes(), self.root_access_key.as_bytes())
            .then(|| self.root_secret_key.clone())
    }
}

#[async_trait::async_trait]
impl S3Auth for KeyRing {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        if keyless_identity::session::is_temporary_access_key_id(access_key)
            && let Some(id) = self.identity.current()
        {
            return crate::identity::session_secret(&id.keys, access_key);
        }
        self.secret_for(access_key)
            .ok_or_else(|| ApiError::InvalidAccessKeyId.into())
    }
}

/// How a request was signed, as far as the edge needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Signature {
    /// SigV4 in the `Authorization` header; the region of its credential scope.
    HeaderV4 { region: String },
    /// SigV4 in the query string (a presigned URL); the region of `X-Amz-Credential`.
    PresignedV4 { region: String },
    /// Signature Version 2 in the `Authorization: AWS key:signature` header; the request time
    /// from `x-amz-date` or else `Date`, `None` if neither parses as an HTTP date.
    HeaderV2 { time: Option<OffsetDateTime> },
    /// Signature Version 2 in the query string (`AWSAccessKeyId`, `Signature`, `Expires`).
    PresignedV2,
    /// None of the above (a POST form, or no signature).
    Other,
}

/// How far the time of a header-signed SigV2 request may be from ours (S3's limit).
const MAX_V2_SKEW: time::Duration = time::Duration::minutes(15);

/// An HTTP date as clients send it in `Date` / `x-amz-date` of a SigV2 request:
/// `Sun, 06 Nov 1994 08:49:37 GMT`, or the RFC 2822 form with a numeric zone (`+0000`).
fn parse_request_time(s: &str) -> Option<OffsetDateTime> {
    let s = s.trim();
    if let Ok(t) = Timestamp::parse(TimestampFormat::HttpDate, s) {
        return Some(t.into());
    }
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc2822).ok()
}

/// The region of a `<key>/<date>/<region>/<service>/aws4_request` credential scope.
fn scope_region(credential: &str) -> Option<String> {
    let parts: Vec<&str> = credential.split('/').collect();
    (parts.len() == 5).then(|| parts[2].to_owned())
}

pub(crate) fn signature_of(headers: &HeaderMap, uri: &Uri) -> Signature {
    if let Some(auth) = headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let auth = auth.trim();
        if auth.starts_with("AWS ") {
            // As in the V2 string to sign: with x-amz-date present, Date is not used.
            let time = ["x-amz-date", "date"]
                .iter()
                .find_map(|h| headers.get(*h))
                .and_then(|v| v.to_str().ok())
                .and_then(parse_request_time);
            return Signature::HeaderV2 { time };
        }
        if let Some(rest) = auth.strip_prefix("AWS4-HMAC-SHA256") {
            let credential = rest
                .split(',')
                .map(str::trim)
                .find_map(|p| p.strip_prefix("Credential="));
            if let Some(region) = credential.and_then(scope_region) {
                return Signature::HeaderV4 { region };
            }
        }
        return Signature::Other;
    }
    let query = uri.query().unwrap_or_default();
    for (k, v) in query.split('&').filter_map(|p| p.split_once('=')) {
        if k == "X-Amz-Credential"
            && let Some(region) = percent::decode_form_component(v).ok().as_deref().and_then(scope_region)
        {
            return Signature::PresignedV4 { region };
        }
        if k == "AWSAccessKeyId" {
            return Signature::PresignedV2;
        }
    }
    Signature::Other
}

/// Rewrites the path of a SigV2-signed, path-style, bucket-level request from `/bucket` to
/// `/bucket/`, which routes the same.
///
/// Why: S3's V2 canonical resource of a request addressed to a bucket is `/bucket/` — botocore
/// signs that ("the auth_path must be terminated with a '/' character to generate a signature
/// that the server will accept"), and so does s3cmd — while `s3s` signs the path as sent, and
/// path-style clients send `/bucket`. Handing `s3s` the canonical form makes it verify what
/// the client signed. `vhost_bucket` is the bucket the `Host` header names, if any: a
/// virtual-host request's path is a key and is left alone.
pub(crate) fn canonical_v2_path(parts: &mut http::request::Parts, vhost_bucket: bool) {
    lift_v2_security_token(parts);
    if vhost_bucket
        || !matches!(
            signature_of(&parts.headers, &parts.uri),
            Signature::HeaderV2 { .. } | Signature::PresignedV2
        )
    {
        return;
    }
    let path = parts.uri.path();
    let Some(bucket) = path.strip_prefix('/') else { return };
    if bucket.is_empty() || bucket.contains('/') {
        return;
    }
    let path_and_query = match parts.uri.query() {
        Some(q) => format!("/{bucket}/?{q}"),
        None => format!("/{bucket}/"),
    };
    let mut uri = parts.uri.clone().into_parts();
    uri.path_and_query = path_and_query.parse().ok();
    if let Ok(u) = Uri::from_parts(uri) {
        parts.uri = u;
    }
}

/// A SigV2 presigned URL made with temporary credentials carries `x-amz-security-token` in its
/// query, but its string to sign lists it among the `x-amz-*` headers (botocore's
/// `HmacV1QueryAuth`, as S3 expects). `s3s` builds that list from headers only, so the token is
/// copied into the header it stands for; a header already present wins.
fn lift_v2_security_token(parts: &mut http::request::Parts) {
    if parts.headers.contains_key("x-amz-security-token")
        || signature_of(&parts.headers, &parts.uri) != Signature::PresignedV2
    {
        return;
    }
    let token = parts.uri.query().and_then(|q| {
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| k.eq_ignore_ascii_case("x-amz-security-token"))
            .and_then(|(_, v)| percent::decode_form_component(v).ok())
    });
    if let Some(v) = token.and_then(|t| http::HeaderValue::from_str(&t).ok()) {
        parts.headers.insert("x-amz-security-token", v);
    }
}

/// The checks every signed request passes after its signature is verified.
pub(crate) struct Gate {
    region: String,
}

impl Gate {
    pub(crate) fn new(region: &str) -> Self {
        Self {
            region: region.to_owned(),
        }
    }

    /// `op` is the S3 operation name; `signed` whether `s3s` verified a signature; `now` the
    /// server's clock.
    pub(crate) fn admit(&self, signed: bool, op: &str, sig: &Signature, now: OffsetDateTime) -> Result<(), ApiError> {
        if !signed {
            return Err(ApiError::AccessDenied(
                "Anonymous access is not allowed: sign the request with AWS Signature Version 4, or use a presigned URL.".into(),
            ));
        }
        // S3 answers these two from its global endpoint whatever region the client signed for;
        // clients (minio-go, used by restic) rely on it to discover the bucket's region.
        let any_region = matches!(op, "GetBucketLocation" | "ListBuckets")
            && matches!(sig, Signature::HeaderV4 { region } | Signature::PresignedV4 { region } if region == "us-east-1");
        match sig {
            Signature::HeaderV2 { time: None } => Err(ApiError::AccessDenied(
                "AWS authentication requires a valid Date or x-amz-date header.".into(),
            )),
            Signature::HeaderV2 { time: Some(t) } if (now - *t).abs() > MAX_V2_SKEW => {
                Err(ApiError::RequestTimeTooSkewed {
                    request_time: *t,
                    server_time: now,
                })
            }
            Signature::HeaderV4 { region } if *region != self.region && !any_region => {
                Err(ApiError::AuthorizationHeaderMalformed(format!(
                    "The authorization header is malformed; the region '{region}' is wrong; expecting '{}'. Configure your client with region {}.",
                    self.region, self.region
                )))
            }
            Signature::PresignedV4 { region } if *region != self.region && !any_region => {
                Err(ApiError::AuthorizationQueryParametersError(format!(
                    "Error parsing the X-Amz-Credential parameter; the region '{region}' is wrong; expecting '{}'. Presign with region {}.",
                    self.region, self.region
                )))
            }
            _ => Ok(()),
        }
    }
}

/// The longest validity of a SigV4 presigned URL (S3's: 7 days).
const MAX_PRESIGNED_EXPIRES: u64 = 7 * 24 * 3600;

/// The `x-amz-*` headers of a SigV4 request that its signature does not cover. S3 requires every
/// one of them to be signed; otherwise whoever sees a signed request could replay it within its
/// validity with headers of their own — user metadata, tags, `x-amz-copy-source` — added. (SigV2
/// signs every `x-amz-*` header by construction.) A presigned URL may come with an unsigned
/// `x-amz-content-sha256`, which changes nothing: its payload is unsigned anyway.
pub(crate) fn unsigned_amz_headers(headers: &HeaderMap, uri: &Uri, sig: &Signature) -> Vec<String> {
    if !matches!(sig, Signature::HeaderV4 { .. } | Signature::PresignedV4 { .. }) {
        return Vec::new();
    }
    let signed = crate::lenient::signed_headers(headers, uri);
    let mut missing: Vec<String> = headers
        .keys()
        .map(|k| k.as_str())
        .filter(|k| k.starts_with("x-amz-") && !signed.iter().any(|s| s == k))
        .filter(|k| !(matches!(sig, Signature::PresignedV4 { .. }) && *k == "x-amz-content-sha256"))
        .map(str::to_owned)
        .collect();
    missing.dedup();
    missing
}

#[async_trait::async_trait]
impl S3Access for Gate {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let sig = signature_of(cx.headers(), cx.uri());
        self.admit(
            cx.credentials().is_some(),
            cx.s3_op().name(),
            &sig,
            OffsetDateTime::now_utc(),
        )?;
        if let Signature::PresignedV4 { .. } = sig
            && let Some(expires) = cx.uri().query().and_then(|q| {
                q.split('&')
                    .filter_map(|kv| kv.split_once('='))
                    .find(|(k, _)| *k == "X-Amz-Expires")
                    .and_then(|(_, v)| v.parse::<u64>().ok())
            })
            && expires > MAX_PRESIGNED_EXPIRES
        {
            return Err(ApiError::AuthorizationQueryParametersError(format!(
                "X-Amz-Expires must be less than a week (in seconds) that is {MAX_PRESIGNED_EXPIRES}; this URL says {expires}. Presign for at most 7 days."
            ))
            .into());
        }
        let unsigned = unsigned_amz_headers(cx.headers(), cx.uri(), &sig);
        if !unsigned.is_empty() {
            return Err(ApiError::AccessDenied(format!(
                "There were headers present in the request which were not signed: {}. Sign every x-amz-* header you send.",
                unsigned.join(", ")
            ))
            .into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (Authorization or none, query, extra headers, the unsigned x-amz-* headers found).
    #[test]
    fn every_x_amz_header_must_be_signed() {
        let v4 = "AWS4-HMAC-SHA256 Credential=AK/20261128/us-east-1/s3/aws4_request, \
                  SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=abc";
        let pre = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20261128%2Fus-east-1%2Fs3%2Faws4_request\
                   &X-Amz-SignedHeaders=host%3Bx-amz-meta-a&X-Amz-Signature=abc";
        let cases: [(Option<&str>, &str, &[&str], &[&str]); 6] = [
            (Some(v4), "", &["x-amz-date", "x-amz-content-sha256"], &[]),
            (Some(v4), "", &["x-amz-date", "x-amz-meta-owner"], &["x-amz-meta-owner"]),
            (
                Some(v4),
                "",
                &["x-amz-copy-source", "x-amz-tagging"],
                &["x-amz-copy-source", "x-amz-tagging"],
            ),
            (None, pre, &["x-amz-meta-a", "x-amz-content-sha256"], &[]),
            (None, pre, &["x-amz-meta-b"], &["x-amz-meta-b"]),
            // SigV2 signs every x-amz-* header itself.
            (Some("AWS AK:c2ln"), "", &["x-amz-meta-b"], &[]),
        ];
        for (auth, query, extra, want) in cases {
            let mut h = headers(auth);
            for name in extra {
                h.insert(http::HeaderName::from_static(name), "v".parse().unwrap());
            }
            let uri: Uri = format!("/b/k?{query}").parse().unwrap();
            let sig = signature_of(&h, &uri);
            let mut got = unsigned_amz_headers(&h, &uri, &sig);
            got.sort();
            let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
            want.sort();
            assert_eq!(got, want, "{auth:?} {query} {extra:?}");
        }
    }

    fn headers(auth: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(a) = auth {
            h.insert(http::header::AUTHORIZATION, a.parse().unwrap());
        }
        h
    }

    fn at(unix: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(unix).unwrap()
    }

    /// (Date, x-amz-date, the request time the gate sees).
    #[test]
    fn v2_request_times_come_from_x_amz_date_then_date() {
        let v2 = "AWS AKIDEXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=";
        // 1994-11-06T08:49:37Z
        let t = Some(at(784_111_777));
        let cases: [(Option<&str>, Option<&str>, Option<OffsetDateTime>); 7] = [
            (Some("Sun, 06 Nov 1994 08:49:37 GMT"), None, t),
            (Some("Sun, 06 Nov 1994 08:49:37 +0000"), None, t),
            (Some("Sun, 06 Nov 1994 09:49:37 +0100"), None, t),
            (Some("yesterday"), Some("Sun, 06 Nov 1994 08:49:37 GMT"), t),
            (Some("Sun, 06 Nov 1994 08:49:37 GMT"), Some("garbage"), None),
            (Some("garbage"), None, None),
            (None, None, None),
        ];
        for (date, amz, want) in cases {
            let mut h = headers(Some(v2));
            if let Some(d) = date {
                h.insert("date", d.parse().unwrap());
            }
            if let Some(d) = amz {
                h.insert("x-amz-date", d.parse().unwrap());
            }
            let uri: Uri = "/b/k".parse().unwrap();
            assert_eq!(
                signature_of(&h, &uri),
                Signature::HeaderV2 { time: want },
                "{date:?} {amz:?}"
            );
        }
    }

    #[test]
    fn signatures_are_recognised() {
        let v4 = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20130524/eu-west-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc";
        let cases: Vec<(Option<&str>, &str, Signature)> = vec![
            (
                Some(v4),
                "/b/k",
                Signature::HeaderV4 {
                    region: "eu-west-1".into(),
                },
            ),
            (
                Some("AWS AKIDEXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg="),
                "/b/k",
                Signature::HeaderV2 { time: None },
            ),
            (Some("AWS4-HMAC-SHA256 Credential=bad"), "/b/k", Signature::Other),
            (
                None,
                "/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=x",
                Signature::PresignedV4 {
                    region: "us-east-1".into(),
                },
            ),
            (
                None,
                "/b/k?AWSAccessKeyId=AK&Expires=1&Signature=x",
                Signature::PresignedV2,
            ),
            (None, "/b/k", Signature::Other),
            (None, "/b/k?list-type=2", Signature::Other),
        ];
        for (auth, uri, want) in cases {
            let uri: Uri = uri.parse().unwrap();
            assert_eq!(signature_of(&headers(auth), &uri), want, "{auth:?} {uri}");
        }
    }

    #[test]
    fn the_gate_admits_signed_requests_for_our_region() {
        let gate = Gate::new("eu-west-1");
        let ours = Signature::HeaderV4 {
            region: "eu-west-1".into(),
        };
        let theirs = Signature::HeaderV4 {
            region: "us-west-2".into(),
        };
        let global = Signature::HeaderV4 {
            region: "us-east-1".into(),
        };
        let presigned_theirs = Signature::PresignedV4 {
            region: "us-west-2".into(),
        };
        let now = at(1_000_000_000);
        let v2_at = |secs: i64| Signature::HeaderV2 {
            time: Some(at(1_000_000_000 + secs)),
        };
        let (v2_now, v2_late, v2_early, v2_stale, v2_future) =
            (v2_at(0), v2_at(-899), v2_at(899), v2_at(-901), v2_at(901));
        let v2_undated = Signature::HeaderV2 { time: None };
        let code = |r: Result<(), ApiError>| r.map_err(|e| s3s::S3Error::from(e).code().as_str().to_owned());
        let cases: Vec<(bool, &str, &Signature, Result<(), &str>)> = vec![
            (true, "GetObject", &ours, Ok(())),
            (false, "GetObject", &Signature::Other, Err("AccessDenied")),
            (false, "ListBuckets", &Signature::Other, Err("AccessDenied")),
            (false, "GetObject", &v2_now, Err("AccessDenied")),
            (true, "GetObject", &Signature::PresignedV2, Ok(())),
            (true, "PutObject", &v2_now, Ok(())),
            (true, "GetObject", &v2_late, Ok(())),
            (true, "GetObject", &v2_early, Ok(())),
            (true, "GetObject", &v2_stale, Err("RequestTimeTooSkewed")),
            (true, "GetObject", &v2_future, Err("RequestTimeTooSkewed")),
            (true, "GetObject", &v2_undated, Err("AccessDenied")),
            (true, "GetObject", &theirs, Err("AuthorizationHeaderMalformed")),
            (
                true,
                "GetObject",
                &presigned_theirs,
                Err("AuthorizationQueryParametersError"),
            ),
            (true, "GetObject", &global, Err("AuthorizationHeaderMalformed")),
            (true, "GetBucketLocation", &global, Ok(())),
            (true, "ListBuckets", &global, Ok(())),
            (true, "GetBucketLocation", &theirs, Err("AuthorizationHeaderMalformed")),
        ];
        for (signed, op, sig, want) in cases {
            assert_eq!(
                code(gate.admit(signed, op, sig, now)),
                want.map_err(str::to_owned),
                "{signed} {op} {sig:?}"
            );
        }
    }

    /// (Authorization, path and query, the Host names a bucket, the path s3s sees).
    #[test]
    fn v2_bucket_requests_get_the_canonical_trailing_slash() {
        let v2 = Some("AWS AK:c2ln");
        let v4 = Some(
            "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=abc",
        );
        let cases: [(Option<&str>, &str, bool, &str); 11] = [
            (v2, "/bkt", false, "/bkt/"),
            (v2, "/bkt?uploads", false, "/bkt/?uploads"),
            (v2, "/bkt/", false, "/bkt/"),
            (v2, "/bkt/key", false, "/bkt/key"),
            (v2, "/", false, "/"),
            (v2, "/key", true, "/key"),
            (
                None,
                "/bkt?AWSAccessKeyId=AK&Expires=1&Signature=x",
                false,
                "/bkt/?AWSAccessKeyId=AK&Expires=1&Signature=x",
            ),
            (
                None,
                "/bkt?prefix=a&AWSAccessKeyId=AK&Signature=x",
                false,
                "/bkt/?prefix=a&AWSAccessKeyId=AK&Signature=x",
            ),
            (v4, "/bkt", false, "/bkt"),
            (None, "/bkt", false, "/bkt"),
            (
                None,
                "/bkt?X-Amz-Credential=AK%2F20130524%2Fus-east-1%2Fs3%2Faws4_request",
                false,
                "/bkt?X-Amz-Credential=AK%2F20130524%2Fus-east-1%2Fs3%2Faws4_request",
            ),
        ];
        for (auth, uri, vhost, want) in cases {
            let mut req = http::Request::builder().uri(uri);
            if let Some(a) = auth {
                req = req.header(http::header::AUTHORIZATION, a);
            }
            let (mut parts, ()) = req.body(()).unwrap().into_parts();
            canonical_v2_path(&mut parts, vhost);
            assert_eq!(parts.uri.to_string(), want, "{auth:?} {uri} {vhost}");
        }
    }

    #[test]
    fn only_the_root_key_has_a_secret() {
        let ring = KeyRing::new("ROOTKEY", "rootsecret");
        assert_eq!(
            ring.secret_for("ROOTKEY").map(|s| s.expose().to_owned()).as_deref(),
            Some("rootsecret")
        );
        for other in ["", "ROOTKE", "ROOTKEYX", "rootkey"] {
            assert!(ring.secret_for(other).is_none(), "{other}");
        }
    }
}
