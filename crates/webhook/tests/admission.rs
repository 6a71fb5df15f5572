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
        let map = annotations
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
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
            json_patch::patch(&mut pod, &patch)
                .unwrap_or_else(|e| panic!("{}: patch does not apply: {e}", self.fixture));
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
            assert_eq!(
                second.response.patch, None,
                "second admission patched: {:?}",
                second.outcome
            );
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
            let mut paths: Vec<&str> = array(n, "volumeMounts")
                .iter()
                .map(|m| m["mountPath"].as_str().unwrap())
                .collect();
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
    assert_eq!(
        rest_before, rest_after,
        "the patch touched more than containers, volumes and annotations"
    );
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
                writeln!(
                    out,
                    "    mount {} {}{ro}",
                    m["name"].as_str().unwrap(),
                    m["mountPath"].as_str().unwrap()
                )
                .unwrap();
            }
        }
    }
    for v in array(&pod["spec"], "volumes") {
        let name = v["name"].as_str().unwrap();
        match v.pointer("/projected/sources/0/serviceAccountToken") {
            Some(t) if v["projected"]["sources"].as_array().unwrap().len() == 1 => {
                let aud = t.get("audience").and_then(Value::as_str).unwrap_or("(apiserver)");
                writeln!(
                    out,
                    "  volume {name} token aud={aud} exp={} path={}",
                    t["expirationSeconds"],
                    t["path"].as_str().unwrap()
                )
                .unwrap();
            }
            _ => {
                let kind = v
                    .as_object()
                    .unwrap()
                    .keys()
                    .find(|k| *k != "name")
                    .cloned()
                    .unwrap_or_default();
                writeln!(out, "  volume {name} {kind}").unwrap();
            }
        }
    }
}

fn container<'a>(pod: &'a mut Value, field: &str, name: &str) -> &'a mut Value {
    pod["spec"][field]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|c| c["name"] == name)
        .unwrap()
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

#[test]
fn deployment_pod_with_init_container() {
    // generateName and no name; the main container already has an env list (appended to), the
    // initContainer has none (created whole).
    case("deployment-pod.json").sa(&[ROLE]).check(expect![[r#"
        outcome: mutated (injected role arn:aws:iam::111122223333:role/web into containers migrate,web)
        looked up: apps/web
        allowed: true
        patch:
          add /spec/initContainers/0/env
          add /spec/initContainers/0/volumeMounts/-
          add /spec/containers/0/env/-
          add /spec/containers/0/env/-
          add /spec/containers/0/env/-
          add /spec/containers/0/env/-
          add /spec/containers/0/env/-
          add /spec/containers/0/env/-
          add /spec/containers/0/volumeMounts/-
          add /spec/volumes/-
          add /metadata/annotations
        pod:
          annotation keyless.io/injected-role-arn=arn:aws:iam::111122223333:role/web
          initContainers/migrate
            env AWS_ROLE_ARN=arn:aws:iam::111122223333:role/web
            env AWS_WEB_IDENTITY_TOKEN_FILE=/var/run/secrets/keyless/serviceaccount/token
            env AWS_ENDPOINT_URL_STS=http://keyless.keyless.svc:9000
            env AWS_ENDPOINT_URL_S3=http://keyless.keyless.svc:9000
            env AWS_REGION=us-east-1
            env AWS_DEFAULT_REGION=us-east-1
            mount kube-api-access-x7k2p /var/run/secrets/kubernetes.io/serviceaccount ro
            mount keyless-token /var/run/secrets/keyless/serviceaccount ro
          containers/web
            env PORT=8080
            env AWS_ROLE_ARN=arn:aws:iam::111122223333:role/web
            env AWS_WEB_IDENTITY_TOKEN_FILE=/var/run/secrets/keyless/serviceaccount/token
            env AWS_ENDPOINT_URL_STS=http://keyless.keyless.svc:9000
            env AWS_ENDPOINT_URL_S3=http://keyless.keyless.svc:9000
            env AWS_REGION=us-east-1
            env AWS_DEFAULT_REGION=us-east-1
            mount kube-api-access-x7k2p /var/run/secrets/kubernetes.io/serviceaccount ro
            mount keyless-token /var/run/secrets/keyless/serviceaccount ro
          volume kube-api-access-x7k2p projected
          volume keyless-token token aud=keyless exp=3600 path=token
    "#]]);
}

#[test]
fn litestream_statefulset_restore_and_sidecar() {
    case("statefulset-litestream-pod.json").sa(&[("keyless.io/role-arn", "litestream")]).check(expect![[r#"
        outcome: mutated (injected role arn:aws:iam::000000000000:role/litestream into containers restore,litestream,app)
        looked up: apps/litestream
        allowed: true
        patch:
          add /spec/initContainers/0/env
          add /spec/initContainers/0/volumeMounts/-
          add /spec/initContainers/1/env
          add /spec/initContainers/1/volumeMounts/-
          add /spec/containers/0/env
          add /spec/containers/0/volumeMounts/-
          add /spec/volumes/-
          add /metadata/annotations
        pod:
          annotation keyless.io/injected-role-arn=arn:aws:iam::000000000000:role/litestream
          initContainers/restore
            env AWS_ROLE_ARN=arn:aws:iam::000000000000:role/litestream
            env AWS_WEB_IDENTITY_TOKEN_FILE=/var/run/secrets/keyless/serviceaccount/token
            env AWS_ENDPOINT_URL_STS=http://keyless.keyless.svc:9000
            env AWS_ENDPOINT_URL_S3=http://keyless.keyless.svc:9000
            env AWS_REGION=us-east-1
            env AWS_DEFAULT_REGION=us-east-1
            mount data /data
            mount config /etc/litestream.yml
            mount kube-api-access-9qvzc /var/run/secrets/kubernetes.io/serviceaccount ro
            mount keyless-token /var/run/secrets/keyless/serviceaccount ro
          initContainers/litestream
            env AWS_ROLE_ARN=arn:aws:iam::000000000000:role/litestream
            env AWS_WEB_IDENTITY_TOKEN_FILE=/var/run/secrets/keyless/serviceaccount/token
            env AWS_ENDPOINT_URL_STS=http://keyless.keyless.svc:9000
            env AWS_ENDPOINT_URL_S3=http://keyless.keyless.svc:9000
            env AWS_REGION=us-east-1
            env AWS_DEFAULT_REGION=us-east-1
            mount data /data
            mount config /etc/litestream.yml
            mount kube-api-access-9qvzc /var/run/secrets/kubernetes.io/serviceaccount ro
            mount keyless-token /var/run/secrets/keyless/serviceaccount ro
          containers/app
            env AWS_ROLE_ARN=arn:aws:iam::000000000000:role/litestream
            env AWS_WEB_IDENTITY_TOKEN_FILE=/var/run/secrets/keyless/serviceaccount/token
            env AWS_ENDPOINT_URL_STS=http://keyless.keyless.svc:9000
            env AWS_ENDPOINT_URL_S3=http://keyless.keyless.svc:9000
            env AWS_REGION=us-east-1
            env AWS_DEFAULT_REGION=us-east-1
            mount data /data
            mount kube-api-access-9qvzc /var/run/secrets/kubernetes.io/serviceaccount ro
            mount keyless-token /var/run/secrets/keyless/serviceaccount ro
          volume data persistentVolumeClaim
          volume config configMap
          volume kube-api-access-9qvzc projected
          volume keyless-token token aud=keyless exp=3600 path=token
    "#]]);
}

#[test]
fn user_set_variables_are_never_overridden() {
    case("deployment-pod.json")
        .sa(&[ROLE])
        .pod(|pod| {
            let env = &mut container(pod, "containers", "web")["env"];
            env.as_array_mut().unwrap().extend([
                json!({"name": "AWS_REGION", "value": "eu-west-1"}),
                json!({"name": "AWS_ENDPOINT_URL_S3", "valueFrom": {"configMapKeyRef": {"name": "s3", "key": "url"}}}),
            ]);
        })
        .check(expect![[r#"
            outcome: mutated (injected role arn:aws:iam::111122223333:role/web into containers migrate,web)
            looked up: apps/web
            allowed: true
            patch:
              add /spec/initContainers/0/env
              add /spec/initContainers/0/volumeMounts/-
              add /spec/containers/0/env/-
              add /spec/containers/0/env/-
              add /spec/containers/0/env/-
              add /spec/containers/0/env/-
              add /spec/containers/0/volumeMounts/-
              add /spec/volumes/-
              add /metadata/annotations
            pod:
              annotation keyless.io/injected-role-arn=arn:aws:iam::111122223333:role/web
              initContainers/migrate
                env AWS_ROLE_ARN=arn:aws:iam::111122223333:role/web
                env AWS_WEB_IDENTITY_TOKEN_FILE=/var/run/secrets/keyless/serviceaccount/token
                env AWS_ENDPOINT_URL_STS=http://keyless.keyless.svc:9000
                env AWS_ENDPOINT_URL_S3=http://keyless.keyless.svc:9000
                env AWS_REGION=us-east-1
                env AWS_DEFAULT_REGION=us-east-1
                mount kube-api-access-x7k2p /var/run/secrets/kubernetes.io/serviceaccount ro
                mount keyless-token /var/run/secrets/keyless/serviceaccount ro
              containers/web
                env PORT=8080
                env AWS_REGION=eu-west-1
                env AWS_ENDPOINT_URL_S3=(valueFrom)
                env AWS_ROLE_ARN=arn:aws:iam::111122223333:role/web
                env AWS_WEB_IDENTITY_TOKEN_FILE=/var/run/secrets/keyless/serviceaccount/token
                env AWS_ENDPOINT_URL_STS=http://keyless.keyless.svc:9000
                env AWS_DEFAULT_REGION=us-east-1
                mount kube-api-access-x7k2p /var/run/secrets/kubernetes.io/serviceaccount ro
                mount keyless-token /var/run/secrets/keyless/serviceaccount ro
              volume kube-api-access-x7k2p projected
              volume keyless-token token aud=keyless exp=3600 path=token
        "#]]);
}

#[test]
fn user_set_role_arn_keeps_the_containers_identity() {
    // AWS_ROLE_ARN set: neither identity variable is added to that container (the user's token
    // file may be elsewhere), the endpoints and region still are. The other container gets all.
    case("deployment-pod.json")
        .sa(&[ROLE])
        .pod(|pod| {
            let env = &mut container(pod, "containers", "web")["env"];
            env.as_array_mut()
                .unwrap()
                .push(json!({"name": "AWS_ROLE_ARN", "value": "arn:aws:iam::111122223333:role/own"}));
        })
        .check(expect![[r#"
            outcome: mutated (injected role arn:aws:iam::111122223333:role/web into containers migrate,web)
            looked up: apps/web
            allowed: true
            patch:
              add /spec/initContainers/0/env
              add /spec/initContainers/0/volumeMounts/-
              add /spec/containers/0/env/-
              add /spec/containers/0/env/-
              add /spec/containers/0/env/-
              add /spec/containers/0/env/-
              add /spec/containers/0/volumeMounts/-
              add /spec/volumes/-
              add /metadata/annotations
            pod:
              annotation keyless.io/injected-role-arn=arn:aws:iam::111122223333:role/web
              initContainers/migrate
                env AWS_ROLE_ARN=arn:aws:iam::111122223333:role/web
                env AWS_WEB_IDENTITY_TOKEN_FILE=/var/run/secrets/keyless/serviceaccount/token
                env AWS_ENDPOINT_URL_STS=http://keyless.keyless.svc:9000
                env AWS_ENDPOINT_URL_S3=http://keyless.keyless.svc:9000
                env AWS_REGION=us-east-1
                env AWS_DEFAULT_REGION=us-east-1
                mount kube-api-access-x7k2p /var/run/secrets/kubernetes.io/serviceaccount ro
                mount keyless-token /var/run/secrets/keyless/serviceaccount ro
              containers/web
                env PORT=8080
                env AWS_ROLE_ARN=arn:aws:iam::111122223333:role/own
                env AWS_ENDPOINT_URL_STS=http://keyless.keyless.svc:9000
                env AWS_ENDPOINT_URL_S3=http://keyless.keyless.svc:9000
                env AWS_REGION=us-east-1
                env AWS_DEFAULT_REGION=us-east-1
                mount kube-api-access-x7k2p /var/run/secrets/kubernetes.io/serviceaccount ro
                mount keyless-token /var/run/secrets/keyless/serviceaccount ro
              volume kube-api-access-x7k2p projected
              volume keyless-token token aud=keyless exp=3600 path=token
        "#]]);
}

#[test]
fn user_set_token_file_keeps_the_containers_identity() {
    case("deployment-pod.json")
        .sa(&[ROLE])
        .pod(|pod| {
            container(pod, "initContainers", "migrate")["env"] =
                json!([{"name": "AWS_WEB_IDENTITY_TOKEN_FILE", "value": "/own/token"}]);
        })
        .check(expect![[r#"
            outcome: mutated (injected role arn:aws:iam::111122223333:role/web into containers migrate,web)
            looked up: apps/web
            allowed: true
            patch:
              add /spec/initContainers/0/env/-
              add /spec/initContainers/0/env/-
              add /spec/initContainers/0/env/-
              add /spec/initContainers/0/env/-
              add /spec/initContainers/0/volumeMounts/-
              add /spec/containers/0/env/-
              add /spec/containers/0/env/-
              add /spec/containers/0/env/-
              add /spec/containers/0/env/-
              add /spec/containers/0/env/-
              add /spec/containers/0/env/-
              add /spec/containers/0/volumeMounts/-
              add /spec/volumes/-
              add /metadata/annotations
            pod:
              annotation keyless.io/injected-role-arn=arn:aws:iam::111122223333:role/web
              initContainers/migrate
                env AWS_WEB_IDENTITY_TOKEN_FILE=/own/token
                env AWS_ENDPOINT_URL_STS=http://keyless.keyless.svc:9000
                env AWS_ENDPOINT_URL_S3=http://keyless.keyless.svc:9000
                env AWS_REGION=us-east-1
                env AWS_DEFAULT_REGION=us-east-1
                mount kube-api-access-x7k2p /var/run/secrets/kubernetes.io/serviceaccount ro
                mount keyless-token /var/run/secrets/keyless/serviceaccount ro
              containers/web
                env PORT=8080
                env AWS_ROLE_ARN=arn:aws:iam::111122223333:role/web
                env AWS_WEB_IDENTITY_TOKEN_FILE=/var/run/secrets/keyless/serviceaccount/token
                env AWS_ENDPOINT_URL_STS=http://keyless.keyless.svc:9000
                env AWS_ENDPOINT_URL_S3=http://keyless.keyless.svc:9000
                env AWS_REGION=us-east-1
                env AWS_DEFAULT_REGION=us-east-1
                mount kube-api-access-x7k2p /var/run/secrets/kubernetes.io/serviceaccount ro
                mount keyless-token /var/run/secrets/keyless/serviceaccount ro
              volume kube-api-access-x7k2p projected
              volume keyless-token token aud=keyless exp=3600 path=token
        "#]]);
}

#[test]
fn existing_volume_with_the_same_name_is_left_alone() {
    case("kubectl-run-pod.json")
        .sa(&[ROLE])
        .pod(|pod| {
            pod["spec"]["volumes"]
                .as_array_mut()
                .unwrap()
                .push(json!({"name": "keyless-token", "emptyDir": {}}));
        })
        .check(expect![[r#"
            outcome: mutated (injected role arn:aws:iam::111122223333:role/web into containers shell)
            looked up: apps/default
            allowed: true
            patch:
              add /spec/containers/0/env
              add /spec/containers/0/volumeMounts/-
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
              volume keyless-token emptyDir
        "#]]);
}

#[test]
fn existing_mount_path_is_left_alone() {
    // `migrate` already mounts something at the path: it gets no second mount there. `web` still
    // mounts the token volume, so the volume is added.
    case("deployment-pod.json")
        .sa(&[ROLE])
        .pod(|pod| {
            let mounts = &mut container(pod, "initContainers", "migrate")["volumeMounts"];
            mounts
                .as_array_mut()
                .unwrap()
                .push(json!({"name": "own-token", "mountPath": "/var/run/secrets/keyless/serviceaccount/"}));
            pod["spec"]["volumes"]
                .as_array_mut()
                .unwrap()
                .push(json!({"name": "own-token", "secret": {"secretName": "t"}}));
        })
        .check(expect![[r#"
            outcome: mutated (injected role arn:aws:iam::111122223333:role/web into containers migrate,web)
            looked up: apps/web
            allowed: true
            patch:
              add /spec/initContainers/0/env
              add /spec/containers/0/env/-
              add /spec/containers/0/env/-
              add /spec/containers/0/env/-
              add /spec/containers/0/env/-
              add /spec/containers/0/env/-
              add /spec/containers/0/env/-
              add /spec/containers/0/volumeMounts/-
              add /spec/volumes/-
              add /metadata/annotations
            pod:
              annotation keyless.io/injected-role-arn=arn:aws:iam::111122223333:role/web
              initContainers/migrate
                env AWS_ROLE_ARN=arn:aws:iam::111122223333:role/web
                env AWS_WEB_IDENTITY_TOKEN_FILE=/var/run/secrets/keyless/serviceaccount/token
                env AWS_ENDPOINT_URL_STS=http://keyless.keyless.svc:9000
                env AWS_ENDPOINT_URL_S3=http://keyless.keyless.svc:9000
                env AWS_REGION=us-east-1
                env AWS_DEFAULT_REGION=us-east-1
                mount kube-api-access-x7k2p /var/run/secrets/kubernetes.io/serviceaccount ro
                mount own-token /var/run/secrets/keyless/serviceaccount/
              containers/web
                env PORT=8080
                env AWS_ROLE_ARN=arn:aws:iam::111122223333:role/web
                env AWS_WEB_IDENTITY_TOKEN_FILE=/var/run/secrets/keyless/serviceaccount/token
                env AWS_ENDPOINT_URL_STS=http://keyless.keyless.svc:9000
                env AWS_ENDPOINT_URL_S3=http://keyless.keyless.svc:9000
                env AWS_REGION=us-east-1
                env AWS_DEFAULT_REGION=us-east-1
                mount kube-api-access-x7k2p /var/run/secrets/kubernetes.io/serviceaccount ro
                mount keyless-token /var/run/secrets/keyless/serviceaccount ro
              volume kube-api-access-x7k2p projected
              volume own-token secret
              volume keyless-token token aud=keyless exp=3600 path=token
        "#]]);
}

#[test]
fn existing_mount_of_the_volume_elsewhere_is_left_alone() {
    case("kubectl-run-pod.json")
        .sa(&[ROLE])
        .pod(|pod| {
            let mounts = &mut container(pod, "containers", "shell")["volumeMounts"];
            mounts
                .as_array_mut()
                .unwrap()
                .push(json!({"name": "keyless-token", "readOnly": true, "mountPath": "/token"}));
        })
        .check(expect![[r#"
            outcome: mutated (injected role arn:aws:iam::111122223333:role/web into containers shell)
            looked up: apps/default
            allowed: true
            patch:
              add /spec/containers/0/env
              add /spec/volumes/-
              add /metadata/annotations
            pod:
              annotation keyless.io/injected-role-arn=arn:aws:iam::111122223333:role/web
              containers/shell
                env AWS_ROLE_ARN=arn:aws:iam::111122223333:role/web
                env AWS_WEB_IDENTITY_TOKEN_FILE=/token/token
                env AWS_ENDPOINT_URL_STS=http://keyless.keyless.svc:9000
                env AWS_ENDPOINT_URL_S3=http://keyless.keyless.svc:9000
                env AWS_REGION=us-east-1
                env AWS_DEFAULT_REGION=us-east-1
                mount kube-api-access-m4wqz /var/run/secrets/kubernetes.io/serviceaccount ro
                mount keyless-token /token ro
              volume kube-api-access-m4wqz projected
              volume keyless-token token aud=keyless exp=3600 path=token
        "#]]);
}

#[test]
fn skip_containers_annotation() {
    case("statefulset-litestream-pod.json")
        .sa(&[("keyless.io/role-arn", "litestream")])
        .pod(|pod| pod["metadata"]["annotations"] = json!({"keyless.io/skip-containers": "app, restore,sidecar"}))
        .check(expect![[r#"
            outcome: mutated (injected role arn:aws:iam::000000000000:role/litestream into containers litestream)
            looked up: apps/litestream
            allowed: true
            warning: keyless: keyless.io/skip-containers names "sidecar", which is not a container of this pod
            patch:
              add /spec/initContainers/1/env
              add /spec/initContainers/1/volumeMounts/-
              add /spec/volumes/-
              add /metadata/annotations/keyless.io~1injected-role-arn
            pod:
              annotation keyless.io/injected-role-arn=arn:aws:iam::000000000000:role/litestream
              annotation keyless.io/skip-containers=app, restore,sidecar
              initContainers/restore
                mount data /data
                mount config /etc/litestream.yml
                mount kube-api-access-9qvzc /var/run/secrets/kubernetes.io/serviceaccount ro
              initContainers/litestream
                env AWS_ROLE_ARN=arn:aws:iam::000000000000:role/litestream
                env AWS_WEB_IDENTITY_TOKEN_FILE=/var/run/secrets/keyless/serviceaccount/token
                env AWS_ENDPOINT_URL_STS=http://keyless.keyless.svc:9000
                env AWS_ENDPOINT_URL_S3=http://keyless.keyless.svc:9000
                env AWS_REGION=us-east-1
                env AWS_DEFAULT_REGION=us-east-1
                mount data /data
                mount config /etc/litestream.yml
                mount kube-api-access-9qvzc /var/run/secrets/kubernetes.io/serviceaccount ro
                mount keyless-token /var/run/secrets/keyless/serviceaccount ro
              containers/app
                mount data /data
                mount kube-api-access-9qvzc /var/run/secrets/kubernetes.io/serviceaccount ro
              volume data persistentVolumeClaim
              volume config configMap
              volume kube-api-access-9qvzc projected
              volume keyless-token token aud=keyless exp=3600 path=token
        "#]]);
}

#[test]
fn skipping_every_container_changes_nothing() {
    case("kubectl-run-pod.json")
        .sa(&[ROLE])
        .pod(|pod| pod["metadata"]["annotations"] = json!({"keyless.io/skip-containers": "shell"}))
        .check(expect![[r#"
            outcome: skipped_all_containers (every container is skipped)
            looked up: apps/default
            allowed: true
            no patch
        "#]]);
}

#[test]
fn opt_out_label() {
    // No ServiceAccount lookup at all.
    case("deployment-pod.json")
        .sa(&[ROLE])
        .pod(|pod| pod["metadata"]["labels"]["keyless.io/inject"] = json!("false"))
        .check(expect![[r#"
            outcome: skipped_opt_out (the pod opted out)
            looked up: -
            allowed: true
            no patch
        "#]]);
}

#[test]
fn inject_label_other_than_false_does_not_opt_out() {
    case("kubectl-run-pod.json")
        .sa(&[ROLE])
        .pod(|pod| pod["metadata"]["labels"]["keyless.io/inject"] = json!("true"))
        .check(expect![[r#"
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

#[test]
fn no_role_annotation() {
    case("deployment-pod.json")
        .sa(&[("eks.amazonaws.com/role-arn", "arn:aws:iam::111122223333:role/web")])
        .check(expect![[r#"
            outcome: skipped_no_role (the ServiceAccount has no role annotation)
            looked up: apps/web
            allowed: true
            no patch
        "#]]);
}

#[test]
fn misspelt_annotation_is_warned_about() {
    case("deployment-pod.json")
        .sa(&[("keyless.io/role", "web")])
        .check(expect![[r#"
        outcome: skipped_no_role (the ServiceAccount has no role annotation)
        looked up: apps/web
        allowed: true
        warning: keyless: unknown annotation keyless.io/role on ServiceAccount apps/web is ignored
        no patch
    "#]]);
}

#[test]
fn role_name_becomes_an_arn_in_the_configured_account() {
    case("kubectl-run-pod.json")
        .sa(&[("keyless.io/role-arn", "shell-tools")])
        .config(|c| c.account_id = "444455556666".into())
        .check(expect![[r#"
            outcome: mutated (injected role arn:aws:iam::444455556666:role/shell-tools into containers shell)
            looked up: apps/default
            allowed: true
            patch:
              add /spec/containers/0/env
              add /spec/containers/0/volumeMounts/-
              add /spec/volumes/-
              add /metadata/annotations
            pod:
              annotation keyless.io/injected-role-arn=arn:aws:iam::444455556666:role/shell-tools
              containers/shell
                env AWS_ROLE_ARN=arn:aws:iam::444455556666:role/shell-tools
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

#[test]
fn audience_expiration_endpoint_and_region_annotations() {
    case("kubectl-run-pod.json")
        .sa(&[
            ROLE,
            ("keyless.io/audience", "keyless.example.com"),
            ("keyless.io/token-expiration", "86400"),
            ("keyless.io/sts-endpoint", "https://sts.keyless.example.com"),
            ("keyless.io/s3-endpoint", "https://s3.keyless.example.com"),
            ("keyless.io/region", "eu-west-3"),
        ])
        .check(expect![[r#"
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
                env AWS_ENDPOINT_URL_STS=https://sts.keyless.example.com
                env AWS_ENDPOINT_URL_S3=https://s3.keyless.example.com
                env AWS_REGION=eu-west-3
                env AWS_DEFAULT_REGION=eu-west-3
                mount kube-api-access-m4wqz /var/run/secrets/kubernetes.io/serviceaccount ro
                mount keyless-token /var/run/secrets/keyless/serviceaccount ro
              volume kube-api-access-m4wqz projected
              volume keyless-token token aud=keyless.example.com exp=86400 path=token
        "#]]);
}

#[test]
fn invalid_expiration_admits_unchanged_with_a_warning() {
    case("deployment-pod.json").sa(&[ROLE, ("keyless.io/token-expiration", "300")]).check(expect![[r#"
        outcome: invalid_annotation (annotation keyless.io/token-expiration="300" on ServiceAccount apps/web: the token lifetime must be 600..=4294967296 seconds)
        looked up: apps/web
        allowed: true
        warning: keyless: pod admitted without keyless credentials: annotation keyless.io/token-expiration="300" on ServiceAccount apps/web: the token lifetime must be 600..=4294967296 seconds
        no patch
    "#]]);
}

#[test]
fn expiration_not_a_number() {
    case("deployment-pod.json").sa(&[ROLE, ("keyless.io/token-expiration", "1h")]).check(expect![[r#"
        outcome: invalid_annotation (annotation keyless.io/token-expiration="1h" on ServiceAccount apps/web: not a whole number of seconds (e.g. "3600"))
        looked up: apps/web
        allowed: true
        warning: keyless: pod admitted without keyless credentials: annotation keyless.io/token-expiration="1h" on ServiceAccount apps/web: not a whole number of seconds (e.g. "3600")
        no patch
    "#]]);
}

#[test]
fn invalid_annotation_in_strict_mode_is_refused() {
    case("deployment-pod.json")
        .sa(&[("keyless.io/role-arn", "arn:aws:iam::111122223333:user/web")])
        .config(|c| c.strict = true)
        .check(expect![[r#"
            outcome: invalid_annotation (annotation keyless.io/role-arn="arn:aws:iam::111122223333:user/web" on ServiceAccount apps/web: not a role ARN: expected arn:aws:iam::<12-digit account>:role/<name>)
            looked up: apps/web
            allowed: false
            status: 400 "keyless: annotation keyless.io/role-arn=\"arn:aws:iam::111122223333:user/web\" on ServiceAccount apps/web: not a role ARN: expected arn:aws:iam::<12-digit account>:role/<name>"
            no patch
        "#]]);
}

#[test]
fn service_account_not_found() {
    case("deployment-pod.json")
        .lookup(ServiceAccountLookup::NotFound)
        .check(expect![[r#"
        outcome: service_account_unavailable (ServiceAccount apps/web could not be read: not found)
        looked up: apps/web
        allowed: true
        warning: keyless: pod admitted without keyless credentials: ServiceAccount apps/web could not be read: not found
        no patch
    "#]]);
}

#[test]
fn service_account_unreadable_in_strict_mode_is_refused() {
    case("deployment-pod.json")
        .lookup(ServiceAccountLookup::Failed("the ServiceAccount cache is not synced yet".into()))
        .config(|c| c.strict = true)
        .check(expect![[r#"
            outcome: service_account_unavailable (ServiceAccount apps/web could not be read: the ServiceAccount cache is not synced yet)
            looked up: apps/web
            allowed: false
            status: 403 "keyless: ServiceAccount apps/web could not be read: the ServiceAccount cache is not synced yet"
            no patch
        "#]]);
}

#[test]
fn already_mutated_pod_changes_nothing() {
    // Every mutated case also re-admits its result; this one starts from a mutated pod.
    let webhook = Webhook::new(WebhookConfig::new(ENDPOINT, ACCOUNT)).unwrap();
    let mut first = case("statefulset-litestream-pod.json");
    let request = AdmissionReview::parse_request(&serde_json::to_vec(&first.review).unwrap()).unwrap();
    let sa: BTreeMap<String, String> = [("keyless.io/role-arn".to_string(), "litestream".to_string())].into();
    let admission = webhook.admit(&request, |_| ServiceAccountLookup::Found(sa.clone()));
    let ops = decode_patch(&serde_json::to_value(&admission.response).unwrap()).unwrap();
    let patch: json_patch::Patch = serde_json::from_value(Value::Array(ops)).unwrap();
    json_patch::patch(&mut first.review["request"]["object"], &patch).unwrap();
    first.sa(&[("keyless.io/role-arn", "litestream")]).check(expect![[r#"
        outcome: already_mutated (every container already has its keyless identity)
        looked up: apps/litestream
        allowed: true
        no patch
    "#]]);
}

#[test]
fn annotation_keys_are_escaped_in_patch_paths() {
    // The pod already has annotations: the new one is added by key, `/` escaped as `~1`. With a
    // custom prefix, so the labels and annotations read are the configured ones.
    case("kubectl-run-pod.json")
        .config(|c| c.annotation_prefix = "iam.example.com".into())
        .sa(&[
            ("iam.example.com/role-arn", "shell"),
            ("keyless.io/role-arn", "ignored"),
        ])
        .pod(|pod| pod["metadata"]["annotations"] = json!({"a~b/c": "kept", "iam.example.com/skip-containers": ""}))
        .check(expect![[r#"
            outcome: mutated (injected role arn:aws:iam::000000000000:role/shell into containers shell)
            looked up: apps/default
            allowed: true
            patch:
              add /spec/containers/0/env
              add /spec/containers/0/volumeMounts/-
              add /spec/volumes/-
              add /metadata/annotations/iam.example.com~1injected-role-arn
            pod:
              annotation a~b/c=kept
              annotation iam.example.com/injected-role-arn=arn:aws:iam::000000000000:role/shell
              annotation iam.example.com/skip-containers=
              containers/shell
                env AWS_ROLE_ARN=arn:aws:iam::000000000000:role/shell
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

#[test]
fn empty_arrays_are_appended_to_absent_ones_created() {
    // `env: []` and `volumeMounts: []` are appended to with `/-`; the pod has no volumes at all
    // (automountServiceAccountToken: false), so `/spec/volumes` is created whole.
    case("kubectl-run-pod.json")
        .sa(&[ROLE])
        .pod(|pod| {
            pod["spec"].as_object_mut().unwrap().remove("volumes");
            pod["spec"]["automountServiceAccountToken"] = json!(false);
            let shell = container(pod, "containers", "shell");
            shell["env"] = json!([]);
            shell["volumeMounts"] = json!([]);
        })
        .check(expect![[r#"
            outcome: mutated (injected role arn:aws:iam::111122223333:role/web into containers shell)
            looked up: apps/default
            allowed: true
            patch:
              add /spec/containers/0/env/-
              add /spec/containers/0/env/-
              add /spec/containers/0/env/-
              add /spec/containers/0/env/-
              add /spec/containers/0/env/-
              add /spec/containers/0/env/-
              add /spec/containers/0/volumeMounts/-
              add /spec/volumes
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
                mount keyless-token /var/run/secrets/keyless/serviceaccount ro
              volume keyless-token token aud=keyless exp=3600 path=token
        "#]]);
}

#[test]
fn dry_run_is_mutated_the_same() {
    case("kubectl-run-pod.json")
        .sa(&[ROLE])
        .request(|r| r["dryRun"] = json!(true))
        .check(expect![[r#"
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

#[test]
fn not_a_pod_create() {
    case("deployment-pod.json")
        .sa(&[ROLE])
        .request(|r| {
            r["kind"] = json!({"group": "apps", "version": "v1", "kind": "Deployment"});
            r["resource"] = json!({"group": "apps", "version": "v1", "resource": "deployments"});
        })
        .check(expect![[r#"
            outcome: not_pod_create (not a Pod CREATE)
            looked up: -
            allowed: true
            no patch
        "#]]);
    case("deployment-pod.json")
        .sa(&[ROLE])
        .request(|r| {
            r["operation"] = json!("UPDATE");
            r["oldObject"] = r["object"].clone();
        })
        .check(expect![[r#"
            outcome: not_pod_create (not a Pod CREATE)
            looked up: -
            allowed: true
            no patch
        "#]]);
}

#[test]
fn only_the_volume_missing() {
    // Everything but the volume was written by hand (or the volume was removed): only it is added.
    case("kubectl-run-pod.json")
        .sa(&[ROLE])
        .pod(|pod| {
            let shell = container(pod, "containers", "shell");
            shell["env"] = json!([
                {"name": "AWS_ROLE_ARN", "value": "arn:aws:iam::111122223333:role/web"},
                {"name": "AWS_WEB_IDENTITY_TOKEN_FILE", "value": "/var/run/secrets/keyless/serviceaccount/token"},
                {"name": "AWS_ENDPOINT_URL_STS", "value": "http://keyless.keyless.svc:9000"},
                {"name": "AWS_ENDPOINT_URL_S3", "value": "http://keyless.keyless.svc:9000"},
                {"name": "AWS_REGION", "value": "us-east-1"},
                {"name": "AWS_DEFAULT_REGION", "value": "us-east-1"},
            ]);
            let mount = json!({"name": "keyless-token", "readOnly": true, "mountPath": "/var/run/secrets/keyless/serviceaccount"});
            shell["volumeMounts"].as_array_mut().unwrap().push(mount);
        })
        .check(expect![[r#"
            outcome: mutated (added the token volume for role arn:aws:iam::111122223333:role/web; every container already had the rest)
            looked up: apps/default
            allowed: true
            patch:
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

#[test]
fn service_account_to_look_up() {
    fn check(edit: impl FnOnce(&mut Value), expected: Option<&str>) {
        let webhook = Webhook::new(WebhookConfig::new(ENDPOINT, ACCOUNT)).unwrap();
        let mut review = case("deployment-pod.json").review;
        edit(&mut review["request"]);
        let request = AdmissionReview::parse_request(&serde_json::to_vec(&review).unwrap()).unwrap();
        let got = webhook.service_account_of(&request).map(|sa| sa.to_string());
        assert_eq!(got.as_deref(), expected, "{}", review["request"]);
    }
    check(|_| {}, Some("apps/web"));
    check(|r| r["namespace"] = json!("other"), Some("other/web"));
    check(
        |r| {
            r.as_object_mut().unwrap().remove("namespace");
        },
        Some("apps/web"),
    );
    check(
        |r| r["object"]["spec"]["serviceAccountName"] = json!(""),
        Some("apps/web"),
    );
    check(
        |r| {
            let spec = r["object"]["spec"].as_object_mut().unwrap();
            spec.remove("serviceAccountName");
            spec.remove("serviceAccount");
        },
        Some("apps/default"),
    );
    check(
        |r| r["object"]["metadata"]["labels"]["keyless.io/inject"] = json!("False"),
        None,
    );
    check(|r| r["operation"] = json!("DELETE"), None);
    check(|r| r["subResource"] = json!("ephemeralcontainers"), None);
    check(|r| r["object"]["spec"]["containers"] = json!("web"), None);
    check(|r| r["object"] = json!(null), None);
}
