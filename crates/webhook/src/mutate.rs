//! The mutation: from a Pod as the apiserver sent it, the ServiceAccount's annotations and the
//! config, the JSONPatch that gives every container and initContainer its keyless identity.
//!
//! Per container (skipping those named in `<prefix>/skip-containers`):
//! - env, appended, each variable only if the container does not already name it:
//!   AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE (both, or neither when the container sets
//!   either: then its identity is the user's), AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL_S3,
//!   AWS_REGION, AWS_DEFAULT_REGION;
//! - a read-only volumeMount of the token volume at the mount path, unless a mount already uses
//!   that path or that volume (a container that mounts the volume elsewhere gets
//!   AWS_WEB_IDENTITY_TOKEN_FILE under its own mount path).
//!
//! Per pod: the projected serviceAccountToken volume `{audience, expirationSeconds, path: token}`
//! if some container mounts it and no volume of that name exists (an existing one is left alone),
//! and the annotation `<prefix>/injected-role-arn` when anything else changed.
//!
//! **Architecture Invariant**: the patch only adds; it never replaces or removes what the user
//! wrote. Applying the mutation to its own output yields an empty patch.
//!
//! Limitation: variables a container takes from `envFrom` are invisible here (their ConfigMap or
//! Secret is not read), and Kubernetes lets `env` win over `envFrom`: such a container should be
//! listed in `<prefix>/skip-containers` or set the variables in `env`.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::{Value, json};

use crate::annotations::{self, ServiceAccountSettings};
use crate::config::WebhookConfig;
use crate::outcome::{MutationOutcome, ServiceAccountRef};
use crate::patch::{JsonPatch, PatchOp, Pointer};

pub const AWS_ROLE_ARN: &str = "AWS_ROLE_ARN";
pub const AWS_WEB_IDENTITY_TOKEN_FILE: &str = "AWS_WEB_IDENTITY_TOKEN_FILE";
pub const AWS_ENDPOINT_URL_STS: &str = "AWS_ENDPOINT_URL_STS";
pub const AWS_ENDPOINT_URL_S3: &str = "AWS_ENDPOINT_URL_S3";
pub const AWS_REGION: &str = "AWS_REGION";
pub const AWS_DEFAULT_REGION: &str = "AWS_DEFAULT_REGION";

/// What the mutation of one pod produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Mutation {
    /// Empty unless the outcome is `Mutated`.
    pub patch: JsonPatch,
    pub outcome: MutationOutcome,
    /// For the client (AdmissionResponse `warnings`): ignored annotations, unknown skip names.
    pub warnings: Vec<String>,
}

impl Mutation {
    fn unchanged(outcome: MutationOutcome, warnings: Vec<String>) -> Mutation {
        Mutation {
            patch: JsonPatch::new(),
            outcome,
            warnings,
        }
    }
}

/// The parts of a Pod the mutation reads. `Option<Vec<_>>` keeps "absent" apart from "empty":
/// an absent array is created whole, a present one is appended to.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct PodView {
    metadata: Option<MetaView>,
    spec: SpecView,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct MetaView {
    namespace: Option<String>,
    labels: Option<BTreeMap<String, String>>,
    annotations: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct SpecView {
    service_account_name: Option<String>,
    service_account: Option<String>,
    init_containers: Option<Vec<ContainerView>>,
    containers: Option<Vec<ContainerView>>,
    volumes: Option<Vec<Named>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContainerView {
    name: String,
    #[serde(default)]
    env: Option<Vec<Named>>,
    #[serde(default)]
    volume_mounts: Option<Vec<MountView>>,
}

#[derive(Debug, Deserialize)]
struct Named {
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MountView {
    name: String,
    mount_path: String,
}

impl PodView {
    pub(crate) fn parse(pod: &Value) -> Result<PodView, String> {
        if !pod.is_object() {
            return Err("not a JSON object".into());
        }
        PodView::deserialize(pod).map_err(|e| e.to_string())
    }

    pub(crate) fn opted_out(&self, config: &WebhookConfig) -> bool {
        let label = self
            .metadata
            .as_ref()
            .and_then(|m| m.labels.as_ref())
            .and_then(|l| l.get(&config.key(annotations::INJECT)));
        label.is_some_and(|v| v.trim().eq_ignore_ascii_case("false"))
    }

    /// The pod's ServiceAccount. The apiserver's ServiceAccount admission plugin has set
    /// `serviceAccountName` by the time a webhook sees the pod; `default` is its default.
    /// `request_namespace` is the AdmissionRequest's, which wins over the object's.
    pub(crate) fn service_account(&self, request_namespace: Option<&str>) -> Option<ServiceAccountRef> {
        let namespace = request_namespace
            .filter(|n| !n.is_empty())
            .or_else(|| self.metadata.as_ref()?.namespace.as_deref().filter(|n| !n.is_empty()))?;
        let name = [&self.spec.service_account_name, &self.spec.service_account]
            .into_iter()
            .flatten()
            .find(|n| !n.is_empty())
            .map_or("default", String::as_str);
        Some(ServiceAccountRef {
            namespace: namespace.to_string(),
            name: name.to_string(),
        })
    }
}

/// Computes the mutation of `pod`, whose ServiceAccount `service_account` has `sa_annotations`.
pub(crate) fn mutate(
    config: &WebhookConfig,
    pod: &Value,
    service_account: &ServiceAccountRef,
    sa_annotations: &BTreeMap<String, String>,
) -> Mutation {
    let view = match PodView::parse(pod) {
        Ok(v) => v,
        Err(e) => return Mutation::unchanged(MutationOutcome::MalformedPod(e), Vec::new()),
    };
    if view.opted_out(config) {
        return Mutation::unchanged(MutationOutcome::SkippedOptOut, Vec::new());
    }
    let mut warnings: Vec<String> = annotations::unknown_service_account_keys(config, sa_annotations)
        .into_iter()
        .map(|k| format!("keyless: unknown annotation {k} on ServiceAccount {service_account} is ignored"))
        .collect();
    let settings = match ServiceAccountSettings::from_annotations(config, &service_account.to_string(), sa_annotations)
    {
        Ok(Some(s)) => s,
        Ok(None) => return Mutation::unchanged(MutationOutcome::SkippedNoRole, warnings),
        Err(e) => return Mutation::unchanged(MutationOutcome::InvalidAnnotation(e), warnings),
    };

    let skip_key = config.key(annotations::SKIP_CONTAINERS);
    let skip: BTreeSet<&str> = view
        .metadata
        .as_ref()
        .and_then(|m| m.annotations.as_ref()?.get(&skip_key))
        .map(|v| v.split(',').map(str::trim).filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    let all_containers = || {
        [
            ("initContainers", &view.spec.init_containers),
            ("containers", &view.spec.containers),
        ]
        .into_iter()
        .flat_map(|(field, list)| list.iter().flatten().enumerate().map(move |(i, c)| (field, i, c)))
    };
    for name in &skip {
        if !all_containers().any(|(_, _, c)| c.name == *name) {
            warnings.push(format!(
                "keyless: {skip_key} names {name:?}, which is not a container of this pod"
            ));
        }
    }

    let mount_path = config.mount_path.trim_end_matches('/');

    let mut patch = JsonPatch::new();
    let mut changed = Vec::new();
    let mut volume_needed = false;
    let mut any_container = false;
    for (field, i, container) in all_containers() {
        if skip.contains(container.name.as_str()) {
            continue;
        }
        any_container = true;
        let at = Pointer::root().push("spec").push(field).index(i);
        let before = patch.ops().len();

        let mounts = container.volume_mounts.iter().flatten();
        let own_mount = mounts.clone().find(|m| m.name == config.volume_name);
        let path_taken = mounts.clone().any(|m| m.mount_path.trim_end_matches('/') == mount_path);
        // Where this container will find the token: the user may have mounted the volume elsewhere.
        let token_file = match own_mount {
            Some(m) => format!("{}/token", m.mount_path.trim_end_matches('/')),
            None => config.token_file(),
        };
        let env: [(&str, &str); 6] = [
            (AWS_ROLE_ARN, settings.role_arn.as_str()),
            (AWS_WEB_IDENTITY_TOKEN_FILE, &token_file),
            (AWS_ENDPOINT_URL_STS, &settings.sts_endpoint),
            (AWS_ENDPOINT_URL_S3, &settings.s3_endpoint),
            (AWS_REGION, &settings.region),
            (AWS_DEFAULT_REGION, &settings.region),
        ];
        let set: BTreeSet<&str> = container.env.iter().flatten().map(|e| e.name.as_str()).collect();
        let identity_is_users = set.contains(AWS_ROLE_ARN) || set.contains(AWS_WEB_IDENTITY_TOKEN_FILE);
        let vars = env
            .iter()
            .filter(|(name, _)| !set.contains(name))
            .filter(|(name, _)| !(identity_is_users && [AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE].contains(name)))
            .map(|(name, value)| json!({"name": name, "value": value}))
            .collect();
        add_items(&mut patch, at.clone().push("env"), container.env.is_some(), vars);

        let mounts_volume = own_mount.is_some();
        if !mounts_volume && !path_taken {
            let mount = json!({"name": config.volume_name, "mountPath": config.mount_path, "readOnly": true});
            add_items(
                &mut patch,
                at.push("volumeMounts"),
                container.volume_mounts.is_some(),
                vec![mount],
            );
        }
        volume_needed |= mounts_volume || !path_taken;

        if patch.ops().len() > before {
            changed.push(container.name.clone());
        }
    }

    let volumes = &view.spec.volumes;
    if volume_needed && !volumes.iter().flatten().any(|v| v.name == config.volume_name) {
        let volume = json!({
            "name": config.volume_name,
            "projected": {"sources": [{"serviceAccountToken": {
                "audience": settings.audience,
                "expirationSeconds": settings.token_expiration_seconds,
                "path": "token",
            }}]},
        });
        add_items(
            &mut patch,
            Pointer::root().push("spec").push("volumes"),
            volumes.is_some(),
            vec![volume],
        );
    }

    if patch.is_empty() {
        let outcome = if any_container {
            MutationOutcome::AlreadyMutated
        } else {
            MutationOutcome::SkippedAllContainers
        };
        return Mutation::unchanged(outcome, warnings);
    }

    let key = config.key(annotations::INJECTED_ROLE_ARN);
    let arn = settings.role_arn.as_str();
    let meta = Pointer::root().push("metadata");
    match &view.metadata {
        Some(MetaView {
            annotations: Some(_), ..
        }) => patch.push(PatchOp::add(meta.push("annotations").push(&key), json!(arn))),
        Some(_) => patch.push(PatchOp::add(meta.push("annotations"), json!({ key: arn }))),
        None => patch.push(PatchOp::add(meta, json!({"annotations": { key: arn }}))),
    }
    Mutation {
        patch,
        outcome: MutationOutcome::Mutated {
            role_arn: settings.role_arn,
            containers: changed,
        },
        warnings,
    }
}

/// Adds `items` to the array at `array`: appended one by one (`/-`) when the array exists, else
/// the array is created whole (a JSON Patch cannot append to a missing array).
fn add_items(patch: &mut JsonPatch, array: Pointer, exists: bool, items: Vec<Value>) {
    if items.is_empty() {
        return;
    }
    if exists {
        for item in items {
            patch.push(PatchOp::add(array.clone().end(), item));
        }
    } else {
        patch.push(PatchOp::add(array, Value::Array(items)));
    }
}
