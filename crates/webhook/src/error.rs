//! The crate's errors: a body that is not an AdmissionReview v1 (the server answers 400), a
//! configuration the webhook cannot start with, and a ServiceAccount annotation it cannot use.

use thiserror::Error;

/// The request body is not an AdmissionReview v1 with a request. The server answers HTTP 400.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReviewError {
    #[error("the body is not an AdmissionReview: {0}")]
    Json(String),
    #[error(
        "expected apiVersion admission.k8s.io/v1, kind AdmissionReview, got {api_version} {kind}; \
         set admissionReviewVersions: [\"v1\"] in the MutatingWebhookConfiguration"
    )]
    NotV1 { api_version: String, kind: String },
    #[error("the AdmissionReview has no request")]
    NoRequest,
    #[error("the AdmissionReview request has no uid")]
    NoUid,
}

/// A `WebhookConfig` field is unusable. Names the field and says what would be accepted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("webhook {field}: {message}")]
pub struct ConfigError {
    pub field: &'static str,
    pub message: String,
}

/// A ServiceAccount annotation under the prefix has a value the webhook cannot use. The pod is
/// admitted unchanged with this as a warning, or refused in strict mode.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("annotation {key}={value:?} on ServiceAccount {service_account}: {problem}")]
pub struct AnnotationError {
    /// The full annotation key, e.g. `keyless.io/token-expiration`.
    pub key: String,
    pub value: String,
    /// `namespace/name`.
    pub service_account: String,
    /// What is wrong and what would be accepted.
    pub problem: String,
}
