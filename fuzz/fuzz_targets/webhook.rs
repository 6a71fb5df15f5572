//! The admission webhook: an AdmissionReview as the apiserver POSTs it, answered and applied.
//!
//! Input: `flags` then `AdmissionReview JSON \0 role-arn \0 audience \0 token-expiration \0 region
//! \0 sts-endpoint \0 extra annotation name` — the ServiceAccount's `keyless.io/*` annotations (an
//! empty field is an absent annotation; flag bit 0 = strict mode).
//!
//! Asserts: nothing panics; the response echoes the uid and serialises; a patch is sent only for a
//! mutation, and it applies cleanly (RFC 6902, `json-patch`) to the pod; the patched pod keeps
//! everything the user wrote (the patch only adds: every original member and array element is
//! still there, except `keyless.io/injected-role-arn`, which the webhook owns); and mutating the
//! patched pod again changes nothing.
#![no_main]

use std::collections::BTreeMap;

use base64::Engine;
use keyless_fuzz::fields;
use keyless_webhook::{AdmissionReview, MutationOutcome, ServiceAccountLookup, Webhook, WebhookConfig};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const OWNED: &str = "keyless.io/injected-role-arn";

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let f = fields(rest, 7);
    let Ok(request) = AdmissionReview::parse_request(f[0].as_bytes()) else {
        return;
    };
    let mut config = WebhookConfig::new("https://keyless.keyless.svc:9000", "123456789012");
    config.strict = flags & 1 != 0;
    let webhook = Webhook::new(config).unwrap();
    let mut annotations = BTreeMap::new();
    for (name, value) in ["role-arn", "audience", "token-expiration", "region", "sts-endpoint"]
        .iter()
        .zip(&f[1..6])
    {
        if !value.is_empty() {
            annotations.insert(format!("keyless.io/{name}"), value.clone());
        }
    }
    if !f[6].is_empty() {
        annotations.insert(f[6].clone(), "x".into());
    }

    let mut asked = 0;
    let admission = webhook.admit(&request, |_| {
        asked += 1;
        ServiceAccountLookup::Found(annotations.clone())
    });
    assert!(asked <= 1);
    let response = &admission.response;
    assert_eq!(response.uid, request.uid);
    let body = AdmissionReview::respond(response.clone()).to_json_vec();
    let _: Value = serde_json::from_slice(&body).expect("the response is JSON");

    let mutated = matches!(admission.outcome, MutationOutcome::Mutated { .. });
    assert_eq!(response.patch.is_some(), mutated, "{:?}", admission.outcome);
    let Some(patch) = &response.patch else { return };
    let patch = base64::engine::general_purpose::STANDARD.decode(patch).unwrap();
    let ops: json_patch::Patch = serde_json::from_slice(&patch).expect("the patch is a JSON Patch");
    let pod = request.object.clone().unwrap();
    let mut patched = pod.clone();
    if let Err(e) = json_patch::patch(&mut patched, &ops) {
        panic!(
            "the patch does not apply: {e}\npatch: {}\npod: {pod}",
            String::from_utf8_lossy(&patch)
        );
    }
    kept(&pod, &patched, "");

    let sa = webhook
        .service_account_of(&request)
        .expect("a mutated pod has a ServiceAccount");
    let again = webhook.mutate_pod(&patched, &sa, &annotations);
    assert!(
        again.patch.is_empty() && again.outcome == MutationOutcome::AlreadyMutated,
        "mutating the mutated pod again gave {:?} with {}\npod: {patched}",
        again.outcome,
        again.patch.to_json()
    );
});

/// Everything in `before` is still in `after` (`null` counts as absent: the webhook may fill it).
fn kept(before: &Value, after: &Value, at: &str) {
    match (before, after) {
        (Value::Null, _) => {}
        (Value::Object(b), Value::Object(a)) => {
            for (k, v) in b {
                if at == "/metadata/annotations" && k == OWNED {
                    continue;
                }
                let path = format!("{at}/{k}");
                let Some(w) = a.get(k) else {
                    panic!("{path} was removed")
                };
                kept(v, w, &path);
            }
        }
        (Value::Array(b), Value::Array(a)) => {
            assert!(a.len() >= b.len(), "{at} lost elements");
            for (i, (v, w)) in b.iter().zip(a).enumerate() {
                kept(v, w, &format!("{at}/{i}"));
            }
        }
        (b, a) => assert_eq!(b, a, "{at} was changed"),
    }
}
