//! keyless-s3: the S3 protocol edge. Turns HTTP requests into store calls through `s3s`;
//! no other crate names an `s3s` type.
//!
//! A request walks: [`S3Front::handle`] → `s3s` (routing, SigV4 and SigV2 verification against
//! `auth::KeyRing`, the `auth::Gate` checks, XML and header decoding) → one handler in
//! `service` → the owning module (`bucket`, `object`, `multipart`, `list`, `tagging`) →
//! `keyless_store::Store`. Every failure becomes an S3 error code in `error`, the one place
//! where that mapping lives. `connection` decides what happens to a request body the answer
//! came before.
//!
//! **API Boundary:** the public API is [`S3Front`], [`FrontOptions`], [`ResponseBody`] and
//! [`full_body`]; `s3s` types never cross it.

mod auth;
mod body;
mod bucket;
mod checksum;
mod connection;
mod error;
mod gateway;
mod host;
mod identity;
mod lenient;
mod list;
mod meta;
mod multipart;
mod object;
mod percent;
mod policy;
mod precondition;
mod range;
mod service;
mod status;
mod sts;
mod tagging;

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyExt as _;
use keyless_store::Store;
use s3s::config::{S3Config, StaticConfigProvider};
use s3s::service::{S3Service, S3ServiceBuilder};

pub use gateway::{Upstream, UpstreamAuth};
pub use identity::{Audit, ClientInfo, Decision, Identity, IdentityHandle, Principal};
pub use status::StatusSource;

/// The response body type of every keyless HTTP response.
pub type ResponseBody = http_body_util::combinators::UnsyncBoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

/// A complete in-memory body, for responses outside S3 (health, errors of the server itself).
pub fn full_body(b: impl Into<Bytes>) -> ResponseBody {
    http_body_util::Full::new(b.into())
        .map_err(|e| match e {})
        .boxed_unsync()
}

/// The largest XML request body accepted (CompleteMultipartUpload, DeleteObjects, tagging).
/// A CompleteMultipartUpload listing 10 000 parts with checksums is under 2 MiB, and a
/// DeleteObjects naming 1000 keys of 1 KiB each is about 1.1 MiB.
pub const MAX_XML_BODY: usize = 4 << 20;

/// How the S3 front is set up.
#[derive(Clone)]
pub struct FrontOptions {
    /// The root (admin) access key id and secret; requests signed with them may do anything.
    pub root_access_key: String,
    pub root_secret_key: String,
    /// The region reported by GetBucketLocation and expected in signatures (default us-east-1).
    pub region: String,
    /// Domains for virtual-host-style addressing: `bucket.<domain>` names a bucket.
    pub virtual_host_domains: Vec<String>,
    /// Issuers, roles and session keys: STS on this port and temporary credentials; replaceable
    /// while the front runs. Holding `None`: only the root credentials sign, and STS calls are
    /// answered with an error.
    pub identity: IdentityHandle,
    /// What `GET /?x-keyless=status` shows (`None`: the endpoint is off).
    pub status: Option<Arc<dyn StatusSource>>,
    /// A request body that sends nothing for this long fails with `400 RequestTimeout`.
    pub body_read_timeout: std::time::Duration,
}

impl std::fmt::Debug for FrontOptions {
    /// The secret key is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrontOptions")
            .field("root_access_key", &self.root_access_key)
            .field("root_secret_key", &"[redacted]")
            .field("region", &self.region)
            .field("virtual_host_domains", &self.virtual_host_domains)
            .field("identity", &self.identity)
            .finish()
    }
}

/// The S3 HTTP front: one instance serves every connection.
#[derive(Clone)]
pub struct S3Front {
    service: S3Service,
    body_read_timeout: std::time::Duration,
    vhosts: Option<host::VirtualHosts>,
    /// The same credentials `s3s` verifies with, for `lenient::relax`.
    keyring: auth::KeyRing,
}

impl S3Front {
    pub fn new(store: Store, opts: FrontOptions) -> Self {
        let region = if opts.region.is_empty() {
            "us-east-1".to_owned()
        } else {
            opts.region.clone()
        };
        let b = S3ServiceBuilder::new(service::Edge {
            store,
            region: region.clone(),
        });
        Self::build(b, &opts, &region)
    }

    /// A front whose S3 operations go to an upstream S3 service (gateway mode, see `gateway`);
    /// signatures, STS and policies are the same as with the embedded store.
    pub fn gateway(upstream: &Upstream, opts: FrontOptions) -> Result<Self, String> {
        let region = if opts.region.is_empty() {
            "us-east-1".to_owned()
        } else {
            opts.region.clone()
        };
        let b = S3ServiceBuilder::new(gateway::Gateway::new(upstream, region.clone())?);
        Ok(Self::build(b, &opts, &region))
    }

    fn build(mut b: S3ServiceBuilder, opts: &FrontOptions, region: &str) -> Self {
        let keyring =
            auth::KeyRing::new(&opts.root_access_key, &opts.root_secret_key).with_sessions(opts.identity.clone());
        b.set_auth(keyring.clone());
        b.set_access(policy::Access::new(auth::Gate::new(region), opts.identity.clone()));
        let vhosts =
            (!opts.virtual_host_domains.is_empty()).then(|| host::VirtualHosts::new(&opts.virtual_host_domains));
        b.set_route(status::Routes {
            sts: sts::StsRoute::new(opts.identity.clone(), vhosts.clone()),
            status: opts.status.clone(),
            vhosts: vhosts.clone(),
        });
        if let Some(v) = &vhosts {
            b.set_host(v.clone());
        }
        let mut config = S3Config::default();
        config.xml_max_body_size = MAX_XML_BODY;
        b.set_config(Arc::new(StaticConfigProvider::new(Arc::new(config))));
        Self {
            service: b.build(),
            body_read_timeout: opts.body_read_timeout,
            vhosts,
            keyring,
        }
    }

    /// Handles one S3 request.
    pub async fn handle(&self, req: http::Request<hyper::body::Incoming>) -> http::Response<ResponseBody> {
        let http1 = req.version() < http::Version::HTTP_2;
        let expect_continue = req
            .headers()
            .get(http::header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        let (mut parts, body) = req.into_parts();
        let refused = refuse_oversized_xml(&parts);
        let vhost_bucket = self.vhosts.as_ref().is_some_and(|v| {
            let host = parts.headers.get(http::header::HOST).and_then(|h| h.to_str().ok());
            host.or(parts.uri.host()).and_then(|h| v.bucket_of(h)).is_some()
        });
        auth::canonical_v2_path(&mut parts, vhost_bucket);
        // s3s answers 400 for a malformed Range, an unparsable If-(Un)Modified-Since and an
        // Expires that is not a date; S3 ignores the first two and stores Expires as sent. Those
        // headers are taken out here, before s3s parses them (see `lenient`).
        lenient::relax(&mut parts, &self.keyring).await;
        let sts_call = sts::is_sts(&parts.method, &parts.uri, &parts.headers, vhost_bucket);
        let scope = identity::RequestScope::of(&parts);
        let audit = scope.audit.clone();
        let (body, leftover) = connection::share(body, self.body_read_timeout);
        if let Some(mut resp) = refused {
            drop(body);
            if !(http1 && leftover.settle(expect_continue).await) {
                resp.headers_mut()
                    .insert(http::header::CONNECTION, http::HeaderValue::from_static("close"));
            }
            // Refused before anything was parsed or verified: an audit record all the same.
            resp.extensions_mut().insert(Operation("other".to_owned()));
            resp.extensions_mut().insert(Audit {
                operation: "other".to_owned(),
                error_code: Some("MaxMessageLengthExceeded".to_owned()),
                sts: sts_call,
                ..Audit::default()
            });
            return resp;
        }
        let head = parts.method == http::Method::HEAD;
        // Only the operations that send a body (PUT, POST) can have a body failure (see
        // `error::body_failure`); whatever their headers say about its length.
        let has_body = matches!(parts.method, http::Method::PUT | http::Method::POST);
        let result = scope
            .run(
                self.service
                    .call(http::Request::from_parts(parts, s3s::Body::http_body(body))),
            )
            .await;
        // Over HTTP/2 an early answer only resets its stream; there is no connection to keep.
        let body_broken = leftover.broken();
        let reusable = !http1 || leftover.settle(expect_continue).await;
        let mut error_code = None;
        let mut resp = match result {
            Ok(resp) => {
                let (mut parts, body) = resp.into_parts();
                if parts.status.is_client_error() || parts.status.is_server_error() {
                    error_code = body.bytes().as_deref().and_then(error::code_of);
                }
                if head
                    && parts.status == http::StatusCode::OK
                    && parts.headers.contains_key(http::header::CONTENT_RANGE)
                {
                    // s3s drops the status a HeadObject handler sets; a HEAD of a Range or of a
                    // part of a multipart object is a 206, as its GET (and S3) answers.
                    parts.status = http::StatusCode::PARTIAL_CONTENT;
                }
                let body = if parts.status == http::StatusCode::NOT_MODIFIED {
                    // A 304 has no body (RFC 9110 §15.4.5); s3s gives it the XML of the error.
                    full_body(Bytes::new())
                } else if let Some(fixed) = (has_body && parts.status == http::StatusCode::INTERNAL_SERVER_ERROR)
                    .then(|| body.bytes())
                    .flatten()
                    .and_then(|b| error::body_failure(&b, body_broken))
                {
                    // s3s reads the XML body of some operations before any handler runs, and
                    // reports a body that ended early, or did not hash to its signed
                    // x-amz-content-sha256, as a bare InternalError: the client's fault, a 400.
                    parts.status = http::StatusCode::BAD_REQUEST;
                    parts.headers.remove(http::header::CONTENT_LENGTH);
                    error_code = error::code_of(&fixed);
                    full_body(fixed)
                } else if let Some(fixed) = (parts.status.is_client_error() || parts.status.is_server_error())
                    .then(|| body.bytes())
                    .flatten()
                    .and_then(|b| error::fill_missing_message(&b))
                {
                    // An error s3s raised itself, without a message.
                    parts.headers.remove(http::header::CONTENT_LENGTH);
                    full_body(fixed)
                } else {
                    body.boxed_unsync()
                };
                http::Response::from_parts(parts, body)
            }
            Err(e) => {
                let e: Box<dyn std::error::Error + Send + Sync> = e.into();
                tracing::error!(error = %e, "the S3 service failed to answer a request");
                error_code = Some("InternalError".to_owned());
                internal_error()
            }
        };
        if sts_call {
            resp = sts::restyle_error(resp).await;
        }
        if !reusable {
            resp.headers_mut()
                .insert(http::header::CONNECTION, http::HeaderValue::from_static("close"));
        }
        let mut audit = std::mem::take(&mut *audit.lock().unwrap_or_else(|e| e.into_inner()));
        if audit.operation.is_empty() {
            audit.operation = if sts_call { "sts:other" } else { "other" }.to_owned();
        }
        audit.sts = sts_call;
        audit.error_code = error_code;
        resp.extensions_mut().insert(Operation(audit.operation.clone()));
        resp.extensions_mut().insert(audit);
        resp
    }
}

/// The operation a request was, put in the extensions of every response [`S3Front::handle`]
/// returns: an S3 operation name (`GetObject`, …), `sts:<Action>` for an STS call, or `other`
/// (`sts:other`) when the request was refused before it was recognised. A bounded set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation(pub String);

/// Requests whose body is an XML document (DeleteObjects, CompleteMultipartUpload, tagging...)
/// and whose Content-Length is over [`MAX_XML_BODY`] get 400 MaxMessageLengthExceeded before any
/// byte is read. s3s enforces the same limit while collecting the body, but reports a streamed
/// body over it as an InternalError (500), which would tell the client to retry.
fn refuse_oversized_xml(parts: &http::request::Parts) -> Option<http::Response<ResponseBody>> {
    let len: u64 = parts
        .headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()?;
    if len <= MAX_XML_BODY as u64 {
        return None;
    }
    // Object data travels in PUT bodies without a subresource (PutObject) or with
    // partNumber/uploadId (UploadPart); presigned URLs add their signing parameters.
    let data_param = |k: &str| {
        let k = k.to_ascii_lowercase();
        [
            "partnumber",
            "uploadid",
            "x-id",
            "awsaccesskeyid",
            "signature",
            "expires",
        ]
        .contains(&k.as_str())
            || k.starts_with("x-amz-")
    };
    let xml = match parts.method {
        http::Method::POST => true,
        http::Method::PUT => parts
            .uri
            .query()
            .is_some_and(|q| q.split('&').any(|kv| !data_param(kv.split('=').next().unwrap_or("")))),
        _ => false,
    };
    if !xml {
        return None;
    }
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>MaxMessageLengthExceeded</Code>\
         <Message>The request body is {len} bytes; XML request bodies may be at most {MAX_XML_BODY} bytes. \
         Send fewer entries per request (DeleteObjects takes at most 1000 keys).</Message></Error>"
    );
    let mut resp = http::Response::new(full_body(xml));
    *resp.status_mut() = http::StatusCode::BAD_REQUEST;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/xml"),
    );
    Some(resp)
}

/// A 500 with an S3 XML error body, for failures of the HTTP layer itself.
fn internal_error() -> http::Response<ResponseBody> {
    let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InternalError</Code>\
               <Message>We encountered an internal error; please try again.</Message></Error>";
    let mut resp = http::Response::new(full_body(xml));
    *resp.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/xml"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_never_print_the_secret() {
        let o = FrontOptions {
            root_access_key: "ROOT".into(),
            root_secret_key: "very-secret-value".into(),
            region: "us-east-1".into(),
            virtual_host_domains: vec![],
            identity: IdentityHandle::default(),
            status: None,
            body_read_timeout: std::time::Duration::from_secs(30),
        };
        let s = format!("{o:?}");
        assert!(s.contains("ROOT") && !s.contains("very-secret-value"), "{s}");
    }
}
