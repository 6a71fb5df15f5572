//! How keyless reaches the upstream S3 service: the endpoint, TLS trust, and the credentials
//! keyless signs with — static keys, or keyless's own web identity exchanged at the upstream's
//! STS (keyless running with a ServiceAccount token, e.g. on EKS in front of AWS S3, or in front
//! of another keyless or Ceph RGW with STS).

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{self, ProvideCredentials, error::CredentialsError};
use aws_sdk_s3::config::{BehaviorVersion, Region};
use aws_smithy_http_client::tls;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextMut,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::error::display::DisplayErrorContext;

/// How keyless reaches the upstream S3 service.
#[derive(Clone, Debug)]
pub struct Upstream {
    /// `http://host:port` or `https://host:port`.
    pub endpoint: String,
    /// The region the upstream expects in signatures.
    pub region: String,
    /// What keyless signs upstream requests with.
    pub auth: UpstreamAuth,
    /// PEM certificates to trust for `https` endpoints (besides the system's).
    pub ca_file: Option<PathBuf>,
    /// Path-style addressing (`endpoint/bucket/key`); virtual-host style when false.
    pub path_style: bool,
    /// `None`: keyless bucket `B` is upstream bucket `B`. `Some(U)`: every keyless bucket lives in
    /// the one upstream bucket `U`, bucket `B`'s objects under the key prefix `B/`.
    pub shared_bucket: Option<String>,
}

/// The credentials keyless uses upstream. Never printed in full.
#[derive(Clone)]
pub enum UpstreamAuth {
    /// A key pair of keyless's own at the upstream.
    Keys { access_key: String, secret_key: String },
    /// `AssumeRoleWithWebIdentity` at `sts_endpoint` with the token read from `token_file` (read
    /// again at every refresh, as kubelet rotates it); the temporary credentials are refreshed
    /// before they expire.
    WebIdentity {
        role_arn: String,
        token_file: PathBuf,
        sts_endpoint: String,
        session_name: String,
    },
}

impl std::fmt::Debug for UpstreamAuth {
    /// The secret key is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UpstreamAuth::Keys { access_key, .. } => f
                .debug_struct("Keys")
                .field("access_key", access_key)
                .field("secret_key", &"[redacted]")
                .finish(),
            UpstreamAuth::WebIdentity {
                role_arn,
                token_file,
                sts_endpoint,
                session_name,
            } => f
                .debug_struct("WebIdentity")
                .field("role_arn", role_arn)
                .field("token_file", token_file)
                .field("sts_endpoint", sts_endpoint)
                .field("session_name", session_name)
                .finish(),
        }
    }
}

/// The HTTP(S) client for `endpoint`, whose transport failures become 503 answers.
fn http_client(endpoint: &str, ca_file: Option<&PathBuf>) -> Result<SharedHttpClient, String> {
    let http = if endpoint.starts_with("https://") {
        let mut trust = tls::TrustStore::default();
        if let Some(path) = ca_file {
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
    } else if endpoint.starts_with("http://") {
        aws_smithy_http_client::Builder::new().build_http()
    } else {
        return Err(format!("the endpoint {endpoint:?} must start with http:// or https://"));
    };
    Ok(SharedHttpClient::new(Reachable(http)))
}

fn timeouts() -> aws_smithy_types::timeout::TimeoutConfig {
    aws_smithy_types::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .build()
}

/// The aws-sdk-s3 client for `up`. Request checksums are sent only as the client sent them, and
/// response checksums are not validated here (the client validates what it asked for), so
/// bodies pass through unchanged.
pub(crate) fn client(up: &Upstream) -> Result<aws_sdk_s3::Client, String> {
    let http = http_client(&up.endpoint, up.ca_file.as_ref())?;
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(up.endpoint.trim_end_matches('/'))
        .region(Region::new(up.region.clone()))
        .force_path_style(up.path_style)
        .request_checksum_calculation(aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(aws_sdk_s3::config::ResponseChecksumValidation::WhenRequired)
        .http_client(http.clone())
        .interceptor(Outgoing)
        .timeout_config(timeouts());
    let conf = match &up.auth {
        UpstreamAuth::Keys { access_key, secret_key } => conf.credentials_provider(Credentials::new(
            access_key.clone(),
            secret_key.clone(),
            None,
            None,
            "keyless-gateway",
        )),
        UpstreamAuth::WebIdentity {
            role_arn,
            token_file,
            sts_endpoint,
            session_name,
        } => {
            let sts_http = if sts_endpoint == &up.endpoint {
                http
            } else {
                http_client(sts_endpoint, up.ca_file.as_ref())?
            };
            let sts = aws_sdk_sts::Config::builder()
                .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
                .endpoint_url(sts_endpoint.trim_end_matches('/'))
                .region(aws_sdk_sts::config::Region::new(up.region.clone()))
                .http_client(sts_http)
                .timeout_config(timeouts())
                .build();
            // The SDK's identity cache calls this again shortly before the credentials expire.
            conf.credentials_provider(WebIdentity {
                sts: aws_sdk_sts::Client::from_conf(sts),
                role_arn: role_arn.clone(),
                token_file: token_file.clone(),
                session_name: session_name.clone(),
            })
        }
    };
    Ok(aws_sdk_s3::Client::from_conf(conf.build()))
}

/// What one upstream call carries beyond what the SDK's types can express: S3 keeps an
/// `Expires` that is not a date verbatim, and the SDK's type for it is a date.
#[derive(Default)]
pub(crate) struct Verbatim {
    /// Headers to add to the request.
    pub(crate) extra: Vec<(http::HeaderName, http::HeaderValue)>,
    /// The response's `Expires` when it is not a date (the SDK drops it).
    pub(crate) expires_back: std::sync::Mutex<Option<http::HeaderValue>>,
}

tokio::task_local! {
    static VERBATIM: Verbatim;
}

/// Runs one upstream call with `verbatim.extra` added to its request; returns the response's
/// unparsable `Expires`, if any, with the call's result.
pub(crate) async fn verbatim<F: std::future::Future>(
    extra: Vec<(http::HeaderName, http::HeaderValue)>,
    call: F,
) -> (F::Output, Option<http::HeaderValue>) {
    let v = Verbatim {
        extra,
        expires_back: std::sync::Mutex::new(None),
    };
    VERBATIM
        .scope(v, async move {
            let out = call.await;
            let back = VERBATIM.with(|v| v.expires_back.lock().ok().and_then(|mut e| e.take()));
            (out, back)
        })
        .await
}

/// Last touches on every upstream request before it is signed.
#[derive(Debug)]
struct Outgoing;

impl Intercept for Outgoing {
    fn name(&self) -> &'static str {
        "keyless-gateway-outgoing"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        // A PUT or POST without a body still says so: some upstreams (Ceph RGW) refuse
        // UploadPartCopy without a Content-Length with 411.
        if matches!(request.method(), "PUT" | "POST")
            && request.body().content_length() == Some(0)
            && !request.headers().contains_key("content-length")
            && !request.headers().contains_key("transfer-encoding")
        {
            request.headers_mut().insert("content-length", "0");
        }
        let _ = VERBATIM.try_with(|v| {
            for (name, value) in &v.extra {
                request.headers_mut().insert(name.clone(), value.clone());
            }
        });
        Ok(())
    }

    fn read_before_deserialization(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // aws-sdk-s3 moves the response's Expires to an `ExpiresString` header of its own before
        // this point; either name may hold it.
        let headers = context.response().headers();
        let Some(raw) = headers.get("expires").or_else(|| headers.get("expiresstring")) else {
            return Ok(());
        };
        if aws_smithy_types::DateTime::from_str(raw, aws_smithy_types::date_time::Format::HttpDate).is_err() {
            let _ = VERBATIM.try_with(|v| {
                if let (Ok(mut slot), Ok(value)) = (v.expires_back.lock(), http::HeaderValue::from_str(raw)) {
                    *slot = Some(value);
                }
            });
        }
        Ok(())
    }
}

/// keyless's own web identity at the upstream (see [`UpstreamAuth::WebIdentity`]).
#[derive(Debug)]
struct WebIdentity {
    sts: aws_sdk_sts::Client,
    role_arn: String,
    token_file: PathBuf,
    session_name: String,
}

impl WebIdentity {
    async fn assume(&self) -> provider::Result {
        let token = tokio::fs::read_to_string(&self.token_file).await.map_err(|e| {
            CredentialsError::provider_error(format!(
                "cannot read keyless's web identity token file \"{}\": {e}",
                self.token_file.display()
            ))
        })?;
        let out = self
            .sts
            .assume_role_with_web_identity()
            .role_arn(&self.role_arn)
            .role_session_name(&self.session_name)
            .web_identity_token(token.trim())
            .send()
            .await
            .map_err(|e| {
                let e = DisplayErrorContext(e).to_string();
                tracing::warn!(role_arn = %self.role_arn, error = %e, "the upstream STS refused keyless's web identity");
                CredentialsError::provider_error(format!("AssumeRoleWithWebIdentity at the upstream failed: {e}"))
            })?;
        let c = out
            .credentials
            .ok_or_else(|| CredentialsError::provider_error("the upstream STS answered without credentials"))?;
        let expiry = SystemTime::try_from(c.expiration)
            .map_err(|e| CredentialsError::provider_error(format!("the upstream STS sent a bad expiration: {e}")))?;
        tracing::info!(role_arn = %self.role_arn, access_key = %c.access_key_id, expires = ?c.expiration,
            "keyless assumed its upstream role with web identity");
        Ok(Credentials::new(
            c.access_key_id,
            c.secret_access_key,
            Some(c.session_token),
            Some(expiry),
            "keyless-gateway-web-identity",
        ))
    }
}

impl ProvideCredentials for WebIdentity {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        provider::future::ProvideCredentials::new(self.assume())
    }
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
