//! `GET /?x-keyless=status`: the server's identity side as JSON, for the web console and for
//! operators — who the caller is, the issuers and their key freshness, the roles and whom they
//! trust, the latest decisions with their reasons.
//!
//! It is an `s3s` custom route next to STS ([`Routes`]), so a request reaches it only after `s3s`
//! verified its signature (SigV4 or V2, root or temporary credentials, through `auth::KeyRing`);
//! an unsigned request is refused. What the answer holds is the [`StatusSource`]'s business
//! (the binary decides what a session may see). The path `/` with the `x-keyless` parameter is
//! never an S3 request: ListBuckets takes no such parameter.

use std::sync::Arc;

use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use s3s::route::S3Route;
use s3s::{Body, S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use crate::host::VirtualHosts;
use crate::identity::{self, Principal};
use crate::sts::StsRoute;

/// What the status endpoint shows; implemented by the binary.
pub trait StatusSource: Send + Sync {
    /// The JSON document for `viewer` (already authenticated).
    fn status_json(&self, viewer: &Principal) -> String;
}

/// Whether a request is a status request: `GET /?x-keyless=status` on the server's own host.
pub(crate) fn is_status(method: &Method, uri: &Uri, vhost_bucket: bool) -> bool {
    *method == Method::GET
        && !vhost_bucket
        && uri.path() == "/"
        && uri
            .query()
            .is_some_and(|q| q.split('&').any(|kv| kv == "x-keyless=status"))
}

/// The front's custom routes: STS and the status endpoint.
pub(crate) struct Routes {
    pub(crate) sts: StsRoute,
    pub(crate) status: Option<Arc<dyn StatusSource>>,
    pub(crate) vhosts: Option<VirtualHosts>,
}

impl Routes {
    fn vhost_bucket(&self, uri: &Uri, headers: &HeaderMap) -> bool {
        self.vhosts.as_ref().is_some_and(|v| {
            let host = headers.get(http::header::HOST).and_then(|h| h.to_str().ok());
            host.or(uri.host()).and_then(|h| v.bucket_of(h)).is_some()
        })
    }

    fn wants_status(&self, method: &Method, uri: &Uri, headers: &HeaderMap) -> bool {
        self.status.is_some() && is_status(method, uri, self.vhost_bucket(uri, headers))
    }
}

#[async_trait::async_trait]
impl S3Route for Routes {
    fn is_match(&self, method: &Method, uri: &Uri, headers: &HeaderMap, ext: &mut http::Extensions) -> bool {
        self.wants_status(method, uri, headers) || self.sts.is_match(method, uri, headers, ext)
    }

    async fn check_access(&self, req: &mut S3Request<Body>) -> S3Result<()> {
        if !self.wants_status(&req.method, &req.uri, &req.headers) {
            return self.sts.check_access(req).await;
        }
        identity::set_operation("keyless:GetStatus");
        let Some(creds) = &req.credentials else {
            identity::decide(false, "the status request was not signed");
            return Err(S3Error::with_message(
                S3ErrorCode::AccessDenied,
                "Access Denied: sign the status request (SigV4) with root or temporary credentials.",
            ));
        };
        let principal = identity::principal_of(&creds.access_key);
        identity::audit(|a| a.principal = principal);
        identity::decide(
            true,
            "any signed caller may see the status (what it shows depends on who asks)",
        );
        Ok(())
    }

    async fn call(&self, req: S3Request<Body>) -> S3Result<S3Response<Body>> {
        let status = match (&self.status, self.wants_status(&req.method, &req.uri, &req.headers)) {
            (Some(s), true) => s,
            _ => return self.sts.call(req).await,
        };
        let access_key = req
            .credentials
            .as_ref()
            .map(|c| c.access_key.clone())
            .unwrap_or_default();
        let viewer = identity::principal_of(&access_key);
        let mut resp = S3Response::new(Body::from(status.status_json(&viewer)));
        resp.status = Some(StatusCode::OK);
        resp.headers
            .insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        resp.headers
            .insert(http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        Ok(resp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_get_of_root_with_the_parameter_is_a_status_request() {
        let cases: [(&str, &str, bool, bool); 6] = [
            ("GET", "/?x-keyless=status", false, true),
            ("GET", "/?a=1&x-keyless=status", false, true),
            ("GET", "/?x-keyless=status", true, false),
            ("POST", "/?x-keyless=status", false, false),
            ("GET", "/bucket?x-keyless=status", false, false),
            ("GET", "/?x-keyless=statusx", false, false),
        ];
        for (m, u, vhost, want) in cases {
            let uri: Uri = u.parse().unwrap();
            assert_eq!(is_status(&m.parse().unwrap(), &uri, vhost), want, "{m} {u} {vhost}");
        }
    }
}
