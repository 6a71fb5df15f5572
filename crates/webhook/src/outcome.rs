//! `MutationOutcome`: what the webhook did with one admission request and why, for logs (its
//! `Display`), metrics (its `label`) and the audit log.

use std::fmt;

use crate::annotations::RoleArn;
use crate::error::AnnotationError;

/// The ServiceAccount a pod runs as: the one whose annotations decide the pod's identity.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceAccountRef {
    pub namespace: String,
    pub name: String,
}

impl fmt::Display for ServiceAccountRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MutationOutcome {
    /// The patch gives the pod its identity. `containers` are those that changed (init first).
    Mutated { role_arn: RoleArn, containers: Vec<String> },
    /// The ServiceAccount has no `<prefix>/role-arn`: the pod is not a keyless workload.
    SkippedNoRole,
    /// The pod carries the label `<prefix>/inject: "false"`.
    SkippedOptOut,
    /// Every container is listed in `<prefix>/skip-containers`.
    SkippedAllContainers,
    /// Every container already has what would be injected: nothing to change.
    AlreadyMutated,
    /// A ServiceAccount annotation is unusable: admitted unchanged (refused in strict mode).
    InvalidAnnotation(AnnotationError),
    /// The ServiceAccount could not be read: admitted unchanged (refused in strict mode).
    ServiceAccountUnavailable {
        service_account: ServiceAccountRef,
        reason: String,
    },
    /// Not a Pod CREATE (another kind, operation or a subresource): admitted unchanged.
    NotPodCreate,
    /// The object is not shaped like a Pod (no apiserver sends this): admitted unchanged.
    MalformedPod(String),
}

impl MutationOutcome {
    /// A stable, low-cardinality name for metrics labels.
    pub fn label(&self) -> &'static str {
        match self {
            MutationOutcome::Mutated { .. } => "mutated",
            MutationOutcome::SkippedNoRole => "skipped_no_role",
            MutationOutcome::SkippedOptOut => "skipped_opt_out",
            MutationOutcome::SkippedAllContainers => "skipped_all_containers",
            MutationOutcome::AlreadyMutated => "already_mutated",
            MutationOutcome::InvalidAnnotation(_) => "invalid_annotation",
            MutationOutcome::ServiceAccountUnavailable { .. } => "service_account_unavailable",
            MutationOutcome::NotPodCreate => "not_pod_create",
            MutationOutcome::MalformedPod(_) => "malformed_pod",
        }
    }

    /// True for the outcomes where the pod wanted keyless credentials and did not get them: strict
    /// mode refuses these, and they are worth a warning and an error counter otherwise.
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            MutationOutcome::InvalidAnnotation(_) | MutationOutcome::ServiceAccountUnavailable { .. }
        )
    }
}

impl fmt::Display for MutationOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MutationOutcome::Mutated { role_arn, containers } if containers.is_empty() => {
                write!(
                    f,
                    "added the token volume for role {role_arn}; every container already had the rest"
                )
            }
            MutationOutcome::Mutated { role_arn, containers } => {
                write!(f, "injected role {role_arn} into containers {}", containers.join(","))
            }
            MutationOutcome::SkippedNoRole => f.write_str("the ServiceAccount has no role annotation"),
            MutationOutcome::SkippedOptOut => f.write_str("the pod opted out"),
            MutationOutcome::SkippedAllContainers => f.write_str("every container is skipped"),
            MutationOutcome::AlreadyMutated => f.write_str("every container already has its keyless identity"),
            MutationOutcome::InvalidAnnotation(e) => e.fmt(f),
            MutationOutcome::ServiceAccountUnavailable {
                service_account,
                reason,
            } => {
                write!(f, "ServiceAccount {service_account} could not be read: {reason}")
            }
            MutationOutcome::NotPodCreate => f.write_str("not a Pod CREATE"),
            MutationOutcome::MalformedPod(e) => write!(f, "the object is not a Pod: {e}"),
        }
    }
}
