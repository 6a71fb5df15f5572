//! AdmissionReview v1 (`admission.k8s.io/v1`), the envelope the kube-apiserver POSTs to a
//! mutating webhook and expects back.
//!
//! The request keeps the object as `serde_json::Value`: the patch is computed against exactly what
//! the apiserver sent, including fields newer than any Kubernetes type crate we could pin. The
//! response echoes the request's `uid`; a patch always travels with `patchType: JSONPatch`, and an
//! empty patch is not sent at all.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ReviewError;
use crate::patch::JsonPatch;

pub const API_VERSION: &str = "admission.k8s.io/v1";
pub const KIND: &str = "AdmissionReview";

/// The envelope, both ways: the apiserver fills `request`, the webhook answers with `response`
/// under the same `apiVersion` and `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionReview {
    pub api_version: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<AdmissionRequest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<AdmissionResponse>,
}

impl AdmissionReview {
    /// Parses the body of the apiserver's POST and returns its request. Only v1 is accepted (the
    /// MutatingWebhookConfiguration lists `admissionReviewVersions: ["v1"]`).
    pub fn parse_request(body: &[u8]) -> Result<AdmissionRequest, ReviewError> {
        // The envelope first, so that a v1beta1 review is reported as such, not as a bad field.
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Envelope {
            #[serde(default)]
            api_version: String,
            #[serde(default)]
            kind: String,
            #[serde(default)]
            request: Option<Value>,
        }
        let json = |e: serde_json::Error| ReviewError::Json(e.to_string());
        let review: Envelope = serde_json::from_slice(body).map_err(json)?;
        if review.api_version != API_VERSION || review.kind != KIND {
            return Err(ReviewError::NotV1 {
                api_version: review.api_version,
                kind: review.kind,
            });
        }
        let request: AdmissionRequest =
            serde_json::from_value(review.request.ok_or(ReviewError::NoRequest)?).map_err(json)?;
        if request.uid.is_empty() {
            return Err(ReviewError::NoUid);
        }
        Ok(request)
    }

    /// The envelope that carries `response` back to the apiserver.
    pub fn respond(response: AdmissionResponse) -> AdmissionReview {
        AdmissionReview {
            api_version: API_VERSION.into(),
            kind: KIND.into(),
            request: None,
            response: Some(response),
        }
    }

    pub fn to_json_vec(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an AdmissionReview always serializes")
    }
}

/// `AdmissionRequest`: what is being admitted. Field names and optionality follow the v1 API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionRequest {
    /// Identifies this admission call; the response must echo it.
    pub uid: String,
    /// The kind of `object`, as the webhook asked to see it (`{"group":"","version":"v1","kind":"Pod"}`).
    pub kind: GroupVersionKind,
    pub resource: GroupVersionResource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_resource: Option<String>,
    /// The kind the client actually sent, when the apiserver converted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_kind: Option<GroupVersionKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_resource: Option<GroupVersionResource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_sub_resource: Option<String>,
    /// Absent on CREATE when the object has only `generateName` (a Deployment's pods).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub operation: Operation,
    #[serde(default)]
    pub user_info: UserInfo,
    /// The object being admitted; `null` for DELETE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_object: Option<Value>,
    /// True when nothing will be persisted. The webhook has no side effects, so it changes nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
    /// `CreateOptions` / `UpdateOptions` / `DeleteOptions`, kept as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Value>,
}

impl AdmissionRequest {
    /// True for a core/v1 Pod being created (not a subresource such as `pods/ephemeralcontainers`).
    pub fn is_pod_create(&self) -> bool {
        self.operation == Operation::Create
            && self.kind.group.is_empty()
            && self.kind.kind == "Pod"
            && self.resource.resource == "pods"
            && self.sub_resource.as_deref().unwrap_or("").is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupVersionKind {
    #[serde(default)]
    pub group: String,
    pub version: String,
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupVersionResource {
    #[serde(default)]
    pub group: String,
    pub version: String,
    pub resource: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Operation {
    Create,
    Update,
    Delete,
    Connect,
    /// An operation added after this was written.
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct UserInfo {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub username: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, Vec<String>>,
}

/// `AdmissionResponse`: the verdict, and the patch if the object is to change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionResponse {
    pub uid: String,
    pub allowed: bool,
    /// Why a request was refused; the apiserver shows `message` to the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// Base64 of a JSON Patch document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch_type: Option<PatchType>,
    /// Recorded in the audit log as `<webhook name>/<key>`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub audit_annotations: BTreeMap<String, String>,
    /// Shown to the client that made the request (kubectl prints them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl AdmissionResponse {
    /// Admit unchanged.
    pub fn allow(uid: impl Into<String>) -> AdmissionResponse {
        AdmissionResponse {
            uid: uid.into(),
            allowed: true,
            status: None,
            patch: None,
            patch_type: None,
            audit_annotations: BTreeMap::new(),
            warnings: Vec::new(),
        }
    }

    /// Refuse, with an HTTP status code and a message for the client.
    pub fn deny(uid: impl Into<String>, code: u16, message: impl Into<String>) -> AdmissionResponse {
        AdmissionResponse {
            allowed: false,
            status: Some(Status {
                code,
                message: message.into(),
            }),
            ..AdmissionResponse::allow(uid)
        }
    }

    /// Attach a patch. An empty patch is not attached: the object is admitted unchanged.
    pub fn with_patch(mut self, patch: &JsonPatch) -> AdmissionResponse {
        if !patch.is_empty() {
            self.patch = Some(patch.to_base64());
            self.patch_type = Some(PatchType::JsonPatch);
        }
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub code: u16,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PatchType {
    #[serde(rename = "JSONPatch")]
    JsonPatch,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(body: Value, expected: Result<&str, &str>) {
        let got = AdmissionReview::parse_request(body.to_string().as_bytes());
        match (got, expected) {
            (Ok(req), Ok(uid)) => assert_eq!(req.uid, uid),
            (Err(e), Err(msg)) => assert!(e.to_string().contains(msg), "error {e:?} lacks {msg:?}"),
            (got, expected) => panic!("body {body}: got {got:?}, expected {expected:?}"),
        }
    }

    fn request(extra: Value) -> Value {
        let mut req = json!({
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "operation": "CREATE",
            "userInfo": {"username": "admin"},
            "object": {"apiVersion": "v1", "kind": "Pod"},
        });
        for (k, v) in extra.as_object().unwrap() {
            req[k] = v.clone();
        }
        json!({"apiVersion": API_VERSION, "kind": KIND, "request": req})
    }

    #[test]
    fn parse_request() {
        check(request(json!({})), Ok("705ab4f5-6393-11e8-b7cc-42010a800002"));
        check(
            request(json!({"operation": "FROBNICATE"})),
            Ok("705ab4f5-6393-11e8-b7cc-42010a800002"),
        );
        check(
            json!({"apiVersion": "admission.k8s.io/v1beta1", "kind": KIND, "request": {}}),
            Err("admission.k8s.io/v1"),
        );
        check(json!({"apiVersion": API_VERSION, "kind": KIND}), Err("no request"));
        check(
            json!({"apiVersion": API_VERSION, "kind": KIND, "request": {"uid": "u"}}),
            Err("missing field `kind`"),
        );
        check(request(json!({"uid": ""})), Err("uid"));
        check(json!([]), Err("expected apiVersion admission.k8s.io/v1"));
        assert!(matches!(
            AdmissionReview::parse_request(b"{"),
            Err(ReviewError::Json(_))
        ));
    }

    #[test]
    fn pod_create_is_recognised() {
        let cases = [
            (json!({}), true),
            (json!({"operation": "UPDATE"}), false),
            (
                json!({"kind": {"group": "apps", "version": "v1", "kind": "Deployment"}}),
                false,
            ),
            (json!({"subResource": "ephemeralcontainers"}), false),
        ];
        for (extra, expected) in cases {
            let req = AdmissionReview::parse_request(request(extra.clone()).to_string().as_bytes()).unwrap();
            assert_eq!(req.is_pod_create(), expected, "{extra}");
        }
    }

    #[test]
    fn response_shapes() {
        let allow = AdmissionReview::respond(AdmissionResponse::allow("u1").with_patch(&JsonPatch::new()));
        assert_eq!(
            serde_json::to_value(&allow).unwrap(),
            json!({"apiVersion": API_VERSION, "kind": KIND, "response": {"uid": "u1", "allowed": true}})
        );
        let deny = AdmissionReview::respond(AdmissionResponse::deny("u2", 400, "no"));
        assert_eq!(
            serde_json::to_value(&deny).unwrap()["response"],
            json!({"uid": "u2", "allowed": false, "status": {"code": 400, "message": "no"}})
        );
    }
}
