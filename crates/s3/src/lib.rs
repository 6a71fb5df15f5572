//! keyless-s3: the S3 protocol edge. Turns HTTP requests into store calls through `s3s`;
//! no other crate names an `s3s` type.

use bytes::Bytes;
use http_body_util::BodyExt as _;
use keyless_store::Store;

/// The response body type of every keyless HTTP response.
pub type ResponseBody = http_body_util::combinators::UnsyncBoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

/// A complete in-memory body, for responses outside S3 (health, errors of the server itself).
pub fn full_body(b: impl Into<Bytes>) -> ResponseBody {
    http_body_util::Full::new(b.into()).map_err(|e| match e {}).boxed_unsync()
}

/// How the S3 front is set up.
#[derive(Debug, Clone)]
pub struct FrontOptions {
    /// The root (admin) access key id and secret; requests signed with them may do anything.
    pub root_access_key: String,
    pub root_secret_key: String,
    /// The region reported by GetBucketLocation and expected in signatures (default us-east-1).
    pub region: String,
    /// Domains for virtual-host-style addressing: `bucket.<domain>` names a bucket.
    pub virtual_host_domains: Vec<String>,
}

/// The S3 HTTP front: one instance serves every connection.
#[derive(Clone)]
pub struct S3Front {
    store: Store,
    opts: FrontOptions,
}

impl S3Front {
    pub fn new(store: Store, opts: FrontOptions) -> Self {
        Self { store, opts }
    }

    /// Handles one S3 request.
    pub async fn handle(&self, req: http::Request<hyper::body::Incoming>) -> http::Response<ResponseBody> {
        let _ = (&self.store, &self.opts, req);
        let mut resp = http::Response::new(full_body("not implemented yet"));
        *resp.status_mut() = http::StatusCode::NOT_IMPLEMENTED;
        resp
    }
}
