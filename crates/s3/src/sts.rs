//! STS on the S3 port: `AssumeRoleWithWebIdentity` (unsigned) and `GetCallerIdentity` (signed).
//!
//! SDKs send STS calls as `POST /` with a form body, some as `GET /?Action=...`, and several send
//! them to the S3 endpoint they were given (sts-wire.md). [`StsRoute`] is an `s3s` custom route:
//! `s3s` first verifies a signature if there is one (a SigV4 `sts` scope: GetCallerIdentity with
//! temporary or root credentials, through the same `auth::KeyRing`), then hands the request here
//! instead of to an S3 operation, so the unsigned AssumeRoleWithWebIdentity never meets S3's
//! "anonymous access is denied" and never reaches the S3 policy check.
//!
//! What counts as STS ([`is_sts`]): path `/` on the server's own host (not a virtual-host bucket)
//! with an `Action` query parameter, or a `POST /` with a form body. ListBuckets (`GET /`, no
//! `Action`) and every S3 `POST /bucket?...` are untouched.
//!
//! Every answer — success or error — is STS-shaped XML with `x-amzn-RequestId`; errors `s3s`
//! raises before the route runs (a bad signature) are rewritten into that shape by
//! [`restyle_error`], because botocore reports an S3 `<Error>` on an STS call as "Unknown".
//! Each decision is logged with its reason; the token never is.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use http_body_util::BodyExt as _;
use keyless_identity::sts::{
    self, CallerIdentity, StsError, StsErrorCode, StsRequest, render_assume_role_response, render_error,
    render_get_caller_identity, xml_escape,
};
use keyless_identity::{Random as _, SystemRandom};
use s3s::route::S3Route;
use s3s::{Body, S3Request, S3Response, S3Result};

use crate::host::VirtualHosts;
use crate::identity::{self, Decision, IdentityHandle, Principal};
use crate::{ResponseBody, full_body};

/// The largest STS request body read (a maximal AssumeRoleWithWebIdentity is about 25 KiB).
pub const MAX_STS_BODY: usize = 64 << 10;

pub(crate) struct StsRoute {
    identity: IdentityHandle,
    vhosts: Option<VirtualHosts>,
}

impl StsRoute {
    pub(crate) fn new(identity: IdentityHandle, vhosts: Option<VirtualHosts>) -> Self {
        Self { identity, vhosts }
    }
}

/// Whether a request is an STS call (see the module docs). `vhost_bucket`: the Host names a bucket.
pub(crate) fn is_sts(method: &Method, uri: &Uri, headers: &HeaderMap, vhost_bucket: bool) -> bool {
    if vhost_bucket || uri.path() != "/" {
        return false;
    }
    let has_action = uri
        .query()
        .is_some_and(|q| q.split('&').any(|kv| kv.split('=').next() == Some("Action")));
    let form = *method == Method::POST
        && headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| {
                ct.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("application/x-www-form-urlencoded")
            });
    (has_action && matches!(*method, Method::GET | Method::POST)) || form
}

fn request_id() -> String {
    let mut b = [0u8; 16];
    SystemRandom::new().fill(&mut b);
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

fn xml_response(status: StatusCode, xml: String, request_id: &str) -> S3Response<Body> {
    let mut resp = S3Response::new(Body::from(xml));
    resp.status = Some(status);
    resp.headers
        .insert(http::header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        resp.headers.insert("x-amzn-requestid", v);
    }
    resp
}

fn error_response(e: &StsError, request_id: &str) -> S3Response<Body> {
    let status = StatusCode::from_u16(e.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    xml_response(status, render_error(e, request_id), request_id)
}

fn sts_error(code: StsErrorCode, message: impl Into<String>) -> StsError {
    StsError {
        code,
        message: message.into(),
        log_reason: None,
    }
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[async_trait::async_trait]
impl S3Route for StsRoute {
    fn is_match(&self, method: &Method, uri: &Uri, headers: &HeaderMap, _: &mut http::Extensions) -> bool {
        let vhost_bucket = self.vhosts.as_ref().is_some_and(|v| {
            let host = headers.get(http::header::HOST).and_then(|h| h.to_str().ok());
            host.or(uri.host()).and_then(|h| v.bucket_of(h)).is_some()
        });
        is_sts(method, uri, headers, vhost_bucket)
    }

    /// AssumeRoleWithWebIdentity is unsigned by design; GetCallerIdentity checks for itself.
    async fn check_access(&self, _req: &mut S3Request<Body>) -> S3Result<()> {
        Ok(())
    }

    async fn call(&self, mut req: S3Request<Body>) -> S3Result<S3Response<Body>> {
        let rid = request_id();
        match self.answer(&mut req, &rid).await {
            Ok(resp) => Ok(resp),
            Err(e) => Ok(error_response(&e, &rid)),
        }
    }
}

impl StsRoute {
    async fn answer(&self, req: &mut S3Request<Body>, rid: &str) -> Result<S3Response<Body>, StsError> {
        let body = if req.method == Method::POST {
            req.input.store_all_limited(MAX_STS_BODY).await.map_err(|_| {
                sts_error(
                    StsErrorCode::ValidationError,
                    format!("the STS request body is larger than {MAX_STS_BODY} bytes or could not be read"),
                )
            })?
        } else {
            Bytes::new()
        };
        let text = if body.is_empty() {
            req.uri.query().unwrap_or_default().to_owned()
        } else {
            String::from_utf8(body.to_vec())
                .map_err(|_| sts_error(StsErrorCode::ValidationError, "the request body is not UTF-8"))?
        };
        let parsed = StsRequest::parse(&text).inspect_err(|e| {
            tracing::info!(code = e.code.as_str(), reason = %e.message, "STS request refused");
            identity::decide(false, &e.message);
        })?;
        crate::identity::set_operation(match parsed {
            StsRequest::AssumeRoleWithWebIdentity(_) => "sts:AssumeRoleWithWebIdentity",
            StsRequest::GetCallerIdentity => "sts:GetCallerIdentity",
        });
        let id = self.identity.current();
        let Some(id) = &id else {
            let e = sts_error(
                StsErrorCode::AccessDenied,
                "STS is not configured on this keyless: add an identity: section (issuers and roles) to its configuration",
            );
            tracing::info!(
                code = e.code.as_str(),
                reason = "no identity configured",
                "STS request refused"
            );
            identity::decide(false, "no identity: section is configured");
            return Err(e);
        };
        match parsed {
            StsRequest::AssumeRoleWithWebIdentity(r) => {
                identity::audit(|a| {
                    a.principal = Principal::WebIdentity {
                        role: r.role_arn.to_string(),
                        session_name: r.role_session_name.clone(),
                        subject: None,
                        issuer: None,
                    }
                });
                let now = now();
                let result = async {
                    let verified = id
                        .cache
                        .verify(&r.web_identity_token, now)
                        .await
                        .map_err(|e| e.to_sts_error())?;
                    // The token is genuine: whoever the trust policy then refuses is named.
                    identity::audit(|a| {
                        a.principal = Principal::WebIdentity {
                            role: r.role_arn.to_string(),
                            session_name: r.role_session_name.clone(),
                            subject: Some(verified.token.subject.clone()),
                            issuer: Some(verified.token.issuer.clone()),
                        }
                    });
                    sts::assume_role_with_web_identity(
                        &r,
                        &verified.issuers,
                        &id.roles,
                        &id.keys,
                        now,
                        &SystemRandom::new(),
                    )
                }
                .await;
                match result {
                    Ok(assumed) => {
                        tracing::info!(
                            action = "AssumeRoleWithWebIdentity",
                            role = %r.role_arn,
                            session = %r.role_session_name,
                            subject = %assumed.subject,
                            issuer = %assumed.provider,
                            audience = %assumed.audience,
                            access_key = %assumed.credentials.access_key_id,
                            expires = assumed.credentials.expiration,
                            statement = ?assumed.trust_decision.statement,
                            reason = %assumed.trust_decision.reason,
                            request_id = rid,
                            "STS: role assumed"
                        );
                        identity::audit(|a| {
                            a.principal = Principal::WebIdentity {
                                role: r.role_arn.to_string(),
                                session_name: r.role_session_name.clone(),
                                subject: Some(assumed.subject.clone()),
                                issuer: Some(assumed.provider.clone()),
                            };
                            a.decision = Some(Decision {
                                allowed: true,
                                reason: assumed.trust_decision.reason.clone(),
                            });
                        });
                        Ok(xml_response(
                            StatusCode::OK,
                            render_assume_role_response(&assumed, rid),
                            rid,
                        ))
                    }
                    Err(e) => {
                        tracing::info!(
                            action = "AssumeRoleWithWebIdentity",
                            role = %r.role_arn,
                            session = %r.role_session_name,
                            code = e.code.as_str(),
                            message = %e.message,
                            reason = e.log_reason.as_deref().unwrap_or(""),
                            request_id = rid,
                            "STS: AssumeRoleWithWebIdentity refused"
                        );
                        // The sentence the caller got, then the precise cause.
                        let reason = match &e.log_reason {
                            Some(detail) => format!("{} (detail: {detail})", e.message),
                            None => e.message.clone(),
                        };
                        identity::decide(false, &reason);
                        Err(e)
                    }
                }
            }
            StsRequest::GetCallerIdentity => {
                let Some(creds) = &req.credentials else {
                    tracing::info!(action = "GetCallerIdentity", reason = "unsigned", "STS request refused");
                    identity::decide(false, "GetCallerIdentity was not signed");
                    return Err(sts_error(
                        StsErrorCode::AccessDenied,
                        "GetCallerIdentity must be signed (SigV4, service sts) with the credentials to identify",
                    ));
                };
                let caller = if keyless_identity::session::is_temporary_access_key_id(&creds.access_key) {
                    let Some(s) = identity::current_session() else {
                        return Err(sts_error(StsErrorCode::AccessDenied, "the session could not be opened"));
                    };
                    CallerIdentity::of_session(&s)
                } else {
                    CallerIdentity {
                        user_id: creds.access_key.clone(),
                        account: id.account_id.clone(),
                        arn: format!("arn:aws:iam::{}:root", id.account_id),
                    }
                };
                tracing::info!(action = "GetCallerIdentity", arn = %caller.arn, request_id = rid, "STS: caller identified");
                identity::audit(|a| a.principal = identity::principal_of(&creds.access_key));
                identity::decide(true, "any signed caller may ask who it is");
                Ok(xml_response(
                    StatusCode::OK,
                    render_get_caller_identity(&caller, rid),
                    rid,
                ))
            }
        }
    }
}

/// The STS code for an S3 error `s3s` raised on an STS call before the route ran.
fn sts_code_of(s3_code: &str) -> &str {
    match s3_code {
        "InvalidAccessKeyId" | "InvalidToken" => "InvalidClientTokenId",
        "ExpiredToken" => "ExpiredToken",
        "SignatureDoesNotMatch" => "SignatureDoesNotMatch",
        "AccessDenied" => "AccessDenied",
        "RequestTimeTooSkewed" => "RequestExpired",
        "InternalError" => "InternalFailure",
        _ => "InvalidRequest",
    }
}

fn between<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(&xml[start..end])
}

/// Rewrites an S3-shaped error answer to an STS call into STS's `ErrorResponse`.
pub(crate) async fn restyle_error(resp: http::Response<ResponseBody>) -> http::Response<ResponseBody> {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    // An error document s3s rendered: small and already in memory.
    let bytes = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let text = String::from_utf8_lossy(&bytes);
    if text.contains("<ErrorResponse") {
        return http::Response::from_parts(parts, full_body(bytes));
    }
    let code = between(&text, "Code").unwrap_or("InternalError");
    let message = between(&text, "Message").unwrap_or("the request could not be authenticated");
    let rid = request_id();
    let sts_code = sts_code_of(code);
    let kind = if status.is_server_error() { "Receiver" } else { "Sender" };
    tracing::info!(s3_code = code, code = sts_code, message, request_id = %rid, "STS request refused before the STS handler");
    let xml = format!(
        "<ErrorResponse xmlns=\"{ns}\">\n  <Error>\n    <Type>{kind}</Type>\n    <Code>{sts_code}</Code>\n    \
         <Message>{msg}</Message>\n  </Error>\n  <RequestId>{rid}</RequestId>\n</ErrorResponse>\n",
        ns = sts::STS_NAMESPACE,
        // The S3 message is already XML-escaped text; unescape nothing, escape nothing twice.
        msg = if message.contains('<') {
            xml_escape(message)
        } else {
            message.to_owned()
        },
    );
    parts.headers.remove(http::header::CONTENT_LENGTH);
    parts
        .headers
        .insert(http::header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    if let Ok(v) = HeaderValue::from_str(&rid) {
        parts.headers.insert("x-amzn-requestid", v);
    }
    http::Response::from_parts(parts, full_body(xml))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (method, path and query, content type, vhost bucket, is STS).
    #[test]
    fn what_counts_as_sts() {
        let form = Some("application/x-www-form-urlencoded; charset=utf-8");
        let cases: [(&str, &str, Option<&str>, bool, bool); 11] = [
            ("POST", "/", form, false, true),
            ("POST", "/", None, false, false),
            (
                "GET",
                "/?Action=GetCallerIdentity&Version=2011-06-15",
                None,
                false,
                true,
            ),
            ("POST", "/?Action=AssumeRoleWithWebIdentity", None, false, true),
            ("GET", "/", None, false, false),
            ("GET", "/?x-id=ListBuckets", None, false, false),
            ("POST", "/bucket?delete", form, false, false),
            ("POST", "/bucket/key?uploads", None, false, false),
            ("POST", "/", form, true, false),
            ("PUT", "/?Action=x", None, false, false),
            ("GET", "/?NotAction=1", None, false, false),
        ];
        for (m, u, ct, vhost, want) in cases {
            let mut h = HeaderMap::new();
            if let Some(ct) = ct {
                h.insert(http::header::CONTENT_TYPE, ct.parse().unwrap());
            }
            let uri: Uri = u.parse().unwrap();
            assert_eq!(
                is_sts(&m.parse().unwrap(), &uri, &h, vhost),
                want,
                "{m} {u} {ct:?} {vhost}"
            );
        }
    }

    #[tokio::test]
    async fn s3_errors_become_sts_errors() {
        let s3 = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SignatureDoesNotMatch</Code><Message>bad &amp; wrong</Message></Error>";
        let mut resp = http::Response::new(full_body(s3));
        *resp.status_mut() = StatusCode::FORBIDDEN;
        let out = restyle_error(resp).await;
        assert_eq!(out.status(), StatusCode::FORBIDDEN);
        let body = out.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(
            text.starts_with("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"),
            "{text}"
        );
        assert!(
            text.contains("<Code>SignatureDoesNotMatch</Code>") && text.contains("bad &amp; wrong"),
            "{text}"
        );
    }
}
