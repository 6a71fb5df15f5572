//! The Kubernetes mutating-admission core of keyless: one annotation on a ServiceAccount
//! (`keyless.io/role-arn`) and every pod that runs as it gets AWS_ROLE_ARN, a projected token, the
//! keyless endpoints and a region, so the AWS SDKs reach keyless with no key.
//!
//! This crate does no I/O. The server (TLS, the ServiceAccount cache, metrics) lives in the binary
//! and calls, per request:
//!
//! ```
//! # use keyless_webhook::*;
//! # let webhook = Webhook::new(WebhookConfig::new("http://keyless.keyless.svc:9000", "000000000000")).unwrap();
//! # let body = br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u",
//! #   "kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},
//! #   "namespace":"apps","operation":"CREATE","object":{"spec":{"containers":[{"name":"app"}]}}}}"#;
//! let request = AdmissionReview::parse_request(body)?; // Err: answer HTTP 400
//! let admission = webhook.admit(&request, |sa| {
//!     // Look `sa` up in the cache of ServiceAccounts.
//!     ServiceAccountLookup::Found([("keyless.io/role-arn".to_string(), "app".to_string())].into())
//! });
//! let outcome = admission.outcome.label(); // log it, count it
//! let body = AdmissionReview::respond(admission.response).to_json_vec();
//! # assert_eq!(outcome, "mutated");
//! # Ok::<(), ReviewError>(())
//! ```
//!
//! An async server that must fetch the ServiceAccount first asks [`Webhook::service_account_of`]
//! and hands the result to `admit` in the closure.

mod annotations;
mod config;
mod error;
mod mutate;
mod outcome;
mod patch;
mod review;

use std::collections::BTreeMap;

use serde_json::Value;

pub use annotations::{
    AUDIENCE, INJECT, INJECTED_ROLE_ARN, REGION, ROLE_ARN, RoleArn, S3_ENDPOINT, SKIP_CONTAINERS, STS_ENDPOINT,
    ServiceAccountSettings, TOKEN_EXPIRATION,
};
pub use config::{MAX_TOKEN_EXPIRATION, MIN_TOKEN_EXPIRATION, WebhookConfig};
pub use error::{AnnotationError, ConfigError, ReviewError};
pub use mutate::{
    AWS_DEFAULT_REGION, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL_STS, AWS_REGION, AWS_ROLE_ARN,
    AWS_WEB_IDENTITY_TOKEN_FILE, Mutation,
};
pub use outcome::{MutationOutcome, ServiceAccountRef};
pub use patch::{JsonPatch, PatchOp, Pointer};
pub use review::{
    AdmissionRequest, AdmissionResponse, AdmissionReview, GroupVersionKind, GroupVersionResource, Operation, PatchType,
    Status, UserInfo,
};

use mutate::PodView;

/// HTTP status of a refusal in strict mode for an unusable annotation.
pub const DENY_INVALID_ANNOTATION: u16 = 400;
/// HTTP status of a refusal in strict mode when the ServiceAccount cannot be read.
pub const DENY_SERVICE_ACCOUNT_UNAVAILABLE: u16 = 403;

/// What the caller found when it looked the pod's ServiceAccount up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceAccountLookup {
    /// The ServiceAccount's `metadata.annotations` (empty if it has none).
    Found(BTreeMap<String, String>),
    NotFound,
    /// The Kubernetes API could not be asked (or the cache is not synced yet): why.
    Failed(String),
}

/// The answer to one admission request, and what it did.
#[derive(Debug, Clone, PartialEq)]
pub struct Admission {
    pub response: AdmissionResponse,
    pub outcome: MutationOutcome,
}

/// The webhook with a validated configuration.
#[derive(Debug, Clone)]
pub struct Webhook {
    config: WebhookConfig,
}

impl Webhook {
    pub fn new(config: WebhookConfig) -> Result<Webhook, ConfigError> {
        config.validate()?;
        Ok(Webhook { config })
    }

    pub fn config(&self) -> &WebhookConfig {
        &self.config
    }

    /// The ServiceAccount `admit` will ask for, or `None` when the request needs no lookup (not a
    /// Pod CREATE, an opted-out pod, a malformed object).
    pub fn service_account_of(&self, request: &AdmissionRequest) -> Option<ServiceAccountRef> {
        self.target(request).ok().map(|(_, sa)| sa)
    }

    /// Answers one AdmissionRequest. `lookup` is called at most once, with the pod's
    /// ServiceAccount, and only when the answer depends on it.
    pub fn admit(
        &self,
        request: &AdmissionRequest,
        lookup: impl FnOnce(&ServiceAccountRef) -> ServiceAccountLookup,
    ) -> Admission {
        let mutation = match self.target(request) {
            Err(outcome) => Mutation {
                patch: JsonPatch::new(),
                outcome,
                warnings: Vec::new(),
            },
            Ok((pod, sa)) => match lookup(&sa) {
                ServiceAccountLookup::Found(annotations) => self.mutate_pod(pod, &sa, &annotations),
                ServiceAccountLookup::NotFound => unavailable(sa, "not found".into()),
                ServiceAccountLookup::Failed(reason) => unavailable(sa, reason),
            },
        };
        self.answer(&request.uid, mutation)
    }

    /// The mutation of one pod (the `object` of a Pod CREATE) whose ServiceAccount carries
    /// `sa_annotations`. Pure: the same input always gives the same patch.
    pub fn mutate_pod(
        &self,
        pod: &Value,
        service_account: &ServiceAccountRef,
        sa_annotations: &BTreeMap<String, String>,
    ) -> Mutation {
        mutate::mutate(&self.config, pod, service_account, sa_annotations)
    }

    fn target<'r>(&self, request: &'r AdmissionRequest) -> Result<(&'r Value, ServiceAccountRef), MutationOutcome> {
        if !request.is_pod_create() {
            return Err(MutationOutcome::NotPodCreate);
        }
        let pod = request
            .object
            .as_ref()
            .ok_or_else(|| MutationOutcome::MalformedPod("no object".into()))?;
        let view = PodView::parse(pod).map_err(MutationOutcome::MalformedPod)?;
        if view.opted_out(&self.config) {
            return Err(MutationOutcome::SkippedOptOut);
        }
        let sa = view
            .service_account(request.namespace.as_deref())
            .ok_or_else(|| MutationOutcome::MalformedPod("no namespace".into()))?;
        Ok((pod, sa))
    }

    fn answer(&self, uid: &str, mutation: Mutation) -> Admission {
        let Mutation {
            patch,
            outcome,
            mut warnings,
        } = mutation;
        let mut response = match (&outcome, self.config.strict) {
            (MutationOutcome::InvalidAnnotation(_), true) => {
                AdmissionResponse::deny(uid, DENY_INVALID_ANNOTATION, format!("keyless: {outcome}"))
            }
            (MutationOutcome::ServiceAccountUnavailable { .. }, true) => {
                AdmissionResponse::deny(uid, DENY_SERVICE_ACCOUNT_UNAVAILABLE, format!("keyless: {outcome}"))
            }
            (o, false) if o.is_failure() => {
                warnings.push(format!("keyless: pod admitted without keyless credentials: {outcome}"));
                AdmissionResponse::allow(uid)
            }
            _ => AdmissionResponse::allow(uid).with_patch(&patch),
        };
        response.warnings = warnings;
        response
            .audit_annotations
            .insert("outcome".into(), outcome.label().into());
        if let MutationOutcome::Mutated { role_arn, .. } = &outcome {
            response
                .audit_annotations
                .insert("role-arn".into(), role_arn.to_string());
        }
        Admission { response, outcome }
    }
}

fn unavailable(service_account: ServiceAccountRef, reason: String) -> Mutation {
    Mutation {
        patch: JsonPatch::new(),
        outcome: MutationOutcome::ServiceAccountUnavailable {
            service_account,
            reason,
        },
        warnings: Vec::new(),
    }
}
