//! Admission of AdmissionReview v1 requests shaped like a real apiserver's (`tests/data/`): each
//! case admits the request, checks the response on the wire, APPLIES the returned JSONPatch to the
//! pod with an independent RFC 6902 implementation (`json-patch`), checks invariants that hold for
//! every case (nothing the user wrote is replaced or removed; each variable at most once; admitting
//! the mutated pod again changes nothing), and compares what happened and the resulting pod with an
//! inline snapshot (`UPDATE_EXPECT=1 cargo test -p keyless-webhook` rewrites them; review the diff).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use base64::Engine as _;
use expect_test::{Expect, expect};
use keyless_webhook::{AdmissionReview, ServiceAccountLookup, Webhook, WebhookConfig};
use serde_json::{Value, json};

const ENDPOINT: &str = "http://keyless.keyless.svc:9000";
const ACCOUNT: &str = "000000000000";

struct Case {
    fixture: &'static str,
    review: Value,
    lookup: ServiceAccountLookup,
    config: WebhookConfig,
}

fn case(fixture: &'static str) -> Case {
    let path = format!("{}/tests/data/{fixture}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    Case {
        fixture,
        review: serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}")),
        lookup: ServiceAccountLookup::Found(BTreeMap::new()),
        config: WebhookConfig::new(ENDPOINT, ACCOUNT),
    }
}

impl Case {
    /// The ServiceAccount's annotations.
    fn sa(mut self, annotations: &[(&str, &str)]) -> Case {
        let map = annotations.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self.lookup = ServiceAccountLookup::Found(map);
        self
    }

    fn lookup(mut self, lookup: ServiceAccountLookup) -> Case {
        self.lookup = lookup;
        self
    }

    /// Changes the pod (`request.object`).
    fn pod(mut self, edit: impl FnOnce(&mut Value)) -> Case {
        edit(&mut self.review["request"]["object"]);
        self
    }

    /// Changes the request.
    fn request(mut self, edit: impl FnOnce(&mut Value)) -> Case {
        edit(&mut self.review["request"]);
        self
    }

    fn config(mut self, edit: impl FnOnce(&mut WebhookConfig)) -> Case {
        edit(&mut self.config);
        self
    }

    fn check(self, expect: Expect) {
        let webhook = Webhook::new(self.config).unwrap();
        let body = serde_json::to_vec(&self.review).unwrap();
        let request = AdmissionReview::parse_request(&body).unwrap();
        let mut asked = None;
        let lookup = self.lookup.clone();
        let admission = webhook.admit(&request, |sa| {
            assert!(asked.is_none(), "lookup called twice");
            asked = Some(sa.to_string());
            lookup
        });

        // The response as the apiserver reads it.
        let wire: Value =
            serde_json::from_slice(&AdmissionReview::respond(admission.response.clone()).to_json_vec()).unwrap();
        assert_eq!(wire["apiVersion"], "admission.k8s.io/v1");
        assert_eq!(wire["kind"], "AdmissionReview");
        let response = &wire["response"];
        assert_eq!(response["uid"], self.review["request"]["uid"], "uid must be echoed");
        assert_eq!(response["auditAnnotations"]["outcome"], admission.outcome.label());

        let original = self.review["request"]["object"].clone();
        let ops = decode_patch(response);
        let mut pod = original.clone();
        if let Some(ops) = &ops {
            assert_eq!(response["patchType"], "JSONPatch");
            assert!(!ops.is_empty(), "an empty patch is not sent");
            for op in ops {
                assert_eq!(op["op"], "add", "the webhook only adds: {op}");
            }
            let patch: json_patch::Patch = serde_json::from_value(Value::Array(ops.clone())).unwrap();
            json_patch::patch(&mut pod, &patch).unwrap_or_else(|e| panic!("{}: patch does not apply: {e}", self.fixture));
            check_nothing_lost(&original, &pod);
        } else {
            assert!(response.get("patchType").is_none());
        }

        // Idempotence: admitting the result again changes nothing.
        if ops.is_some() {
            let mut again = self.review.clone();
            again["request"]["object"] = pod.clone();
            let request = AdmissionReview::parse_request(&serde_json::to_vec(&again).unwrap()).unwrap();
            let second = webhook.admit(&request, |_| self.lookup.clone());
            assert_eq!(second.response.patch, None, "second admission patched: {:?}", second.outcome);
            assert_eq!(second.outcome.label(), "already_mutated");
        }

        let mut out = String::new();
        writeln!(out, "outcome: {} ({})", admission.outcome.label(), admission.outcome).unwrap();
        writeln!(out, "looked up: {}", asked.as_deref().unwrap_or("-")).unwrap();
        writeln!(out, "allowed: {}", response["allowed"]).unwrap();
        if let Some(status) = response.get("status") {
            writeln!(out, "status: {} {}", status["code"], status["message"]).unwrap();
        }
        for w in response["warnings"].as_array().into_iter().flatten() {
            writeln!(out, "warning: {}", w.as_str().unwrap()).unwrap();
        }
        match &ops {
            None => writeln!(out, "no patch").unwrap(),
            Some(ops) => {
                writeln!(out, "patch:").unwrap();
                for op in ops {
                    writeln!(out, "  add {}", op["path"].as_str().unwrap()).unwrap();
                }
                render_pod(&mut out, &pod);
            }
        }
        expect.assert_eq(&out);
    }
}

fn decode_patch(response: &Value) -> Option<Vec<Value>> {
    let b64 = response.get("patch")?.as_str().unwrap();
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
    Some(serde_json::from_slice(&bytes).unwrap())
}

fn array<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// Every container keeps its env and mounts as a prefix of the new ones, the pod its volumes
/// and annotations; no variable appears twice in a container.
fn check_nothing_lost(before: &Value, after: &Value) {
    for field in ["initContainers", "containers"] {
        let old = array(&before["spec"], field);
        let new = array(&after["spec"], field);
        assert_eq!(old.len(), new.len());
        for (o, n) in old.iter().zip(new) {
            assert_eq!(o["name"], n["name"]);
            for list in ["env", "volumeMounts"] {
                let (o_list, n_list) = (array(o, list), array(n, list));
                assert_eq!(&n_list[..o_list.len()], o_list, "{} {list} was changed", o["name"]);
            }
            let mut names: Vec<&str> = array(n, "env").iter().map(|e| e["name"].as_str().unwrap()).collect();
            names.sort();
            let len = names.len();
            names.dedup();
            assert_eq!(len, names.len(), "duplicate variable in {}", n["name"]);
            let mut paths: Vec<&str> = array(n, "volumeMounts").iter().map(|m| m["mountPath"].as_str().unwrap()).collect();
            paths.sort();
            let len = paths.len();
            paths.dedup();
            assert_eq!(len, paths.len(), "duplicate mountPath in {}", n["name"]);
        }
    }
    let (old, new) = (array(&before["spec"], "volumes"), array(&after["spec"], "volumes"));
    assert_eq!(&new[..old.len()], old, "volumes were changed");
    for (k, v) in before["metadata"]["annotations"].as_object().into_iter().flatten() {
        assert_eq!(&after["metadata"]["annotations"][k], v, "annotation {k} was changed");
    }
    let mut rest_before = before.clone();
    let mut rest_after = after.clone();
    for pod in [&mut rest_before, &mut rest_after] {
        for key in ["initContainers", "containers", "volumes"] {
            pod["spec"].as_object_mut().unwrap().remove(key);
        }
        pod["metadata"].as_object_mut().unwrap().remove("annotations");
    }
    assert_eq!(rest_before, rest_after, "the patch touched more than containers, volumes and annotations");
}

/// The parts of the pod the webhook may touch, one line each.
fn render_pod(out: &mut String, pod: &Value) {
    writeln!(out, "pod:").unwrap();
    for (k, v) in pod["metadata"]["annotations"].as_object().into_iter().flatten() {
        writeln!(out, "  annotation {k}={}", v.as_str().unwrap()).unwrap();
    }
    for field in ["initContainers", "containers"] {
        for c in array(&pod["spec"], field) {
            writeln!(out, "  {field}/{}", c["name"].as_str().unwrap()).unwrap();
            for e in array(c, "env") {
                let value = e.get("value").and_then(Value::as_str).unwrap_or("(valueFrom)");
                writeln!(out, "    env {}={value}", e["name"].as_str().unwrap()).unwrap();
            }
            for m in array(c, "volumeMounts") {
                let ro = if m["readOnly"] == json!(true) { " ro" } else { "" };
                writeln!(out, "    mount {} {}{ro}", m["name"].as_str().unwrap(), m["mountPath"].as_str().unwrap()).unwrap();
            }
        }
    }
    for v in array(&pod["spec"], "volumes") {
        let name = v["name"].as_str().unwrap();
        match v.pointer("/projected/sources/0/serviceAccountToken") {
            Some(t) if v["projected"]["sources"].as_array().unwrap().len() == 1 => {
                let aud = t.get("audience").and_then(Value::as_str).unwrap_or("(apiserver)");
                writeln!(out, "  volume {name} token aud={aud} exp={} path={}", t["expirationSeconds"], t["path"].as_str().unwrap())
                    .unwrap();
            }
            _ => {
                let kind = v.as_object().unwrap().keys().find(|k| *k != "name").cloned().unwrap_or_default();
                writeln!(out, "  volume {name} {kind}").unwrap();
            }
        }
    }
}

fn container<'a>(pod: &'a mut Value, field: &str, name: &str) -> &'a mut Value {
    pod["spec"][field].as_array_mut().unwrap().iter_mut().find(|c| c["name"] == name).unwrap()
}

const ROLE: (&str, &str) = ("keyless.io/role-arn", "arn:aws:iam::111122223333:role/web");

#[test]
fn plain_pod() {
    case("kubectl-run-pod.json").sa(&[ROLE]).check(expect![[r#"
        outcome: mutated (injected role arn:aws:iam::111122223333:role/web into containers shell)
        looked up: apps/default
        allowed: true
        patch:
          add /spec/containers/0/env
          add /spec/containers/0/volumeMounts/-
          add /spec/volumes/-
          add /metadata/annotations
        pod:
          annotation keyless.io/injected-role-arn=arn:aws:iam::111122223333:role/web
          containers/shell
            env AWS_ROLE_ARN=arn:aws:iam::111122223333:role/web
            env AWS_WEB_IDENTITY_TOKEN_FILE=/var/run/secrets/keyless/serviceaccount/token
            env AWS_ENDPOINT_URL_STS=http://keyless.keyless.svc:9000
            env AWS_ENDPOINT_URL_S3=http://keyless.keyless.svc:9000
            env AWS_REGION=us-east-1
            env AWS_DEFAULT_REGION=us-east-1
            mount kube-api-access-m4wqz /var/run/secrets/kubernetes.io/serviceaccount ro
            mount keyless-token /var/run/secrets/keyless/serviceaccount ro
          volume kube-api-access-m4wqz projected
          volume keyless-token token aud=keyless exp=3600 path=token
    "#]]);
}
