//! Gateway mode: the S3 operations keyless serves, forwarded to an upstream S3 service (Ceph RGW,
//! SeaweedFS, Garage, a MinIO cluster, AWS S3) instead of the embedded store.
//!
//! Everything in front of the storage stays keyless's: signatures (root and temporary
//! credentials), STS, the policy check, the edge's own checks and limits. Only an operation that
//! was authenticated and allowed reaches [`Gateway`], which hands it to `s3s_aws::Proxy` — the
//! s3s types converted to aws-sdk-s3 calls, bodies streamed both ways (never buffered whole), the
//! upstream's answer (ETag, checksums, ranges, preconditions, listings, multipart state) converted
//! back. Clients never see the upstream's credentials; the upstream never sees the client's.
//!
//! What is keyless's own here:
//! - the set of operations: the same as the embedded engine's (an upstream's extras — ACLs,
//!   versioning, lifecycle — are not exposed, so a policy means the same in both modes);
//! - DeleteObjects: a session's keys are authorised one by one first (`policy::deny_deletes`);
//! - GetBucketLocation answers keyless's region (the one clients sign for);
//! - an upstream that cannot be reached (refused, reset, timed out) is answered
//!   `503 ServiceUnavailable` — a [`Reachable`] connector turns the transport error into that
//!   response before the SDK sees it — never a wrong answer and never a 500 that looks like ours.
//!
//! Buckets map one to one: keyless bucket `B` is upstream bucket `B`.

use std::path::PathBuf;
use std::time::Duration;

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_http_client::tls;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use s3s::dto::*;
use s3s::{S3, S3Request, S3Response, S3Result};

/// How keyless reaches the upstream S3 service.
#[derive(Clone)]
pub struct Upstream {
    /// `http://host:port` or `https://host:port`.
    pub endpoint: String,
    /// The region the upstream expects in signatures.
    pub region: String,
    pub access_key: String,
    pub secret_key: String,
    /// PEM certificates to trust for an `https` endpoint (besides the system's).
    pub ca_file: Option<PathBuf>,
    /// Path-style addressing (`endpoint/bucket/key`); virtual-host style when false.
    pub path_style: bool,
}

impl std::fmt::Debug for Upstream {
    /// The secret key is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key", &self.access_key)
            .field("secret_key", &"[redacted]")
            .field("ca_file", &self.ca_file)
            .field("path_style", &self.path_style)
            .finish()
    }
}

/// The aws-sdk-s3 client for `up`. Request checksums are sent only as the client sent them, and
/// response checksums are not validated here (the client validates what it asked for), so
/// bodies pass through unchanged.
pub(crate) fn client(up: &Upstream) -> Result<aws_sdk_s3::Client, String> {
    let http = if up.endpoint.starts_with("https://") {
        let mut trust = tls::TrustStore::default();
        if let Some(path) = &up.ca_file {
            let pem =
                std::fs::read(path).map_err(|e| format!("cannot read the CA file \"{}\": {e}", path.display()))?;
            trust = trust.with_pem_certificate(pem);
        }
        let ctx = tls::TlsContext::builder()
            .with_trust_store(trust)
            .build()
            .map_err(|e| format!("TLS settings: {e}"))?;
        aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring))
            .tls_context(ctx)
            .build_https()
    } else if up.endpoint.starts_with("http://") {
        aws_smithy_http_client::Builder::new().build_http()
    } else {
        return Err(format!(
            "the endpoint {:?} must start with http:// or https://",
            up.endpoint
        ));
    };
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(up.endpoint.trim_end_matches('/'))
        .region(Region::new(up.region.clone()))
        .credentials_provider(Credentials::new(
            up.access_key.clone(),
            up.secret_key.clone(),
            None,
            None,
            "keyless-gateway",
        ))
        .force_path_style(up.path_style)
        .request_checksum_calculation(aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(aws_sdk_s3::config::ResponseChecksumValidation::WhenRequired)
        .http_client(SharedHttpClient::new(Reachable(http)))
        .timeout_config(
            aws_sdk_s3::config::timeout::TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .build(),
        )
        .build();
    Ok(aws_sdk_s3::Client::from_conf(conf))
}

/// An HTTP client whose transport failures become `503 ServiceUnavailable` responses.
#[derive(Debug)]
struct Reachable(SharedHttpClient);

impl HttpClient for Reachable {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(ReachableConnector(self.0.http_connector(settings, components)))
    }
}

#[derive(Debug)]
struct ReachableConnector(SharedHttpConnector);

/// The S3 error document for an upstream that cannot be reached.
const UNREACHABLE: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>ServiceUnavailable</Code>\
<Message>The storage service behind keyless cannot be reached right now; nothing was changed by this request \
unless a retry says otherwise. Retry later.</Message></Error>";

impl HttpConnector for ReachableConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let inner = self.0.call(request);
        HttpConnectorFuture::new(async move {
            match inner.await {
                Ok(resp) => Ok(resp),
                Err(e) if e.is_io() || e.is_timeout() => {
                    tracing::warn!(error = %e, "the upstream S3 service cannot be reached");
                    let mut resp = HttpResponse::new(
                        aws_smithy_runtime_api::http::StatusCode::try_from(503).expect("a valid status"),
                        SdkBody::from(UNREACHABLE),
                    );
                    resp.headers_mut().insert("content-type", "application/xml");
                    Ok(resp)
                }
                Err(e) => Err(e),
            }
        })
    }
}

/// The S3 operations of gateway mode (see the module docs).
pub(crate) struct Gateway {
    proxy: s3s_aws::Proxy,
    region: String,
}

impl Gateway {
    pub(crate) fn new(client: aws_sdk_s3::Client, region: String) -> Self {
        Self {
            proxy: s3s_aws::Proxy::from(client),
            region,
        }
    }
}

/// Implements [`S3`] for [`Gateway`] by forwarding each listed operation to the proxy, with the
/// few operations that are keyless's own written out after the list.
macro_rules! forward {
    ($($op:ident: $input:ident => $output:ident;)*) => {
        #[async_trait::async_trait]
        impl S3 for Gateway {
            $(
                async fn $op(&self, req: S3Request<$input>) -> S3Result<S3Response<$output>> {
                    self.proxy.$op(req).await
                }
            )*

            async fn delete_objects(
                &self,
                req: S3Request<DeleteObjectsInput>,
            ) -> S3Result<S3Response<DeleteObjectsOutput>> {
                crate::policy::delete_allowed_keys(req, |req| self.proxy.delete_objects(req)).await
            }

            async fn put_object(&self, mut req: S3Request<PutObjectInput>) -> S3Result<S3Response<PutObjectOutput>> {
                // `aws-chunked` is how this request's body travelled to keyless, not what the
                // object is: the stored Content-Encoding is the rest, as S3 keeps it.
                if let Some(enc) = req.input.content_encoding.take() {
                    let rest: Vec<&str> = enc
                        .split(',')
                        .map(str::trim)
                        .filter(|e| !e.is_empty() && !e.eq_ignore_ascii_case("aws-chunked"))
                        .collect();
                    req.input.content_encoding = (!rest.is_empty()).then(|| rest.join(", "));
                }
                self.proxy.put_object(req).await
            }

            async fn head_object(&self, req: S3Request<HeadObjectInput>) -> S3Result<S3Response<HeadObjectOutput>> {
                // Some upstreams (SeaweedFS) answer a HEAD with a Range as if it had none; S3
                // describes the range, as its GET would. Ask for the whole and describe the range.
                let Some(range) = req.input.range else {
                    return self.proxy.head_object(req).await;
                };
                let req = req.map_input(|i| HeadObjectInput { range: None, ..i });
                let mut resp = self.proxy.head_object(req).await?;
                let size = resp.output.content_length.unwrap_or(0).max(0) as u64;
                let r = range.check(size).map_err(|_| {
                    s3s::S3Error::with_message(
                        s3s::S3ErrorCode::InvalidRange,
                        format!("The requested range is not satisfiable: the object is {size} bytes long."),
                    )
                })?;
                resp.output.content_length = Some((r.end - r.start) as i64);
                resp.output.content_range = Some(format!("bytes {}-{}/{size}", r.start, r.end - 1));
                Ok(resp)
            }

            async fn get_bucket_location(
                &self,
                req: S3Request<GetBucketLocationInput>,
            ) -> S3Result<S3Response<GetBucketLocationOutput>> {
                let head = req.map_input(|i| HeadBucketInput {
                    bucket: i.bucket,
                    expected_bucket_owner: i.expected_bucket_owner,
                });
                self.proxy.head_bucket(head).await?;
                let location = (self.region != "us-east-1").then(|| BucketLocationConstraint::from(self.region.clone()));
                Ok(S3Response::new(GetBucketLocationOutput {
                    location_constraint: location,
                }))
            }
        }
    };
}

forward! {
    list_buckets: ListBucketsInput => ListBucketsOutput;
    create_bucket: CreateBucketInput => CreateBucketOutput;
    delete_bucket: DeleteBucketInput => DeleteBucketOutput;
    head_bucket: HeadBucketInput => HeadBucketOutput;
    get_bucket_versioning: GetBucketVersioningInput => GetBucketVersioningOutput;
    list_objects: ListObjectsInput => ListObjectsOutput;
    list_objects_v2: ListObjectsV2Input => ListObjectsV2Output;
    get_object: GetObjectInput => GetObjectOutput;
    copy_object: CopyObjectInput => CopyObjectOutput;
    delete_object: DeleteObjectInput => DeleteObjectOutput;
    get_object_tagging: GetObjectTaggingInput => GetObjectTaggingOutput;
    put_object_tagging: PutObjectTaggingInput => PutObjectTaggingOutput;
    delete_object_tagging: DeleteObjectTaggingInput => DeleteObjectTaggingOutput;
    create_multipart_upload: CreateMultipartUploadInput => CreateMultipartUploadOutput;
    upload_part: UploadPartInput => UploadPartOutput;
    upload_part_copy: UploadPartCopyInput => UploadPartCopyOutput;
    complete_multipart_upload: CompleteMultipartUploadInput => CompleteMultipartUploadOutput;
    abort_multipart_upload: AbortMultipartUploadInput => AbortMultipartUploadOutput;
    list_parts: ListPartsInput => ListPartsOutput;
    list_multipart_uploads: ListMultipartUploadsInput => ListMultipartUploadsOutput;
}
