//! IAM policy documents: parse, write back and re-parse, then evaluate against a request.
//!
//! Input: `policy JSON \0 action \0 resource \0 context \0 principal \0 session policy JSON`, where
//! `context` is lines `key=value` (a key given twice is multivalued) and `principal` is `Kind=id`.
//!
//! Asserts: nothing panics; a policy that parses re-parses to the same value after
//! `policy_json::write`; a decision names a statement of the right effect; an explicit
//! `Deny *` added to the policies always wins; a session policy only ever narrows
//! (`evaluate_with_session` allows ⇒ both the identity policies and the session policy allow).
#![no_main]

use keyless_fuzz::{fields, policy_json};
use keyless_identity::policy::{
    DecisionEffect, Effect, NamedPolicy, Policy, Request, RequestContext, RequestPrincipal, evaluate,
    evaluate_with_session,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let f = fields(data, 6);
    let Ok(policy) = Policy::parse(&f[0]) else { return };
    let written = policy_json::write(&policy);
    let again = Policy::parse(&written).unwrap_or_else(|e| panic!("{written} does not re-parse: {e}"));
    assert_eq!(again, policy, "round trip through {written}");
    let _ = policy.check_identity_policy();
    let _ = policy.check_trust_policy();

    let mut context = RequestContext::new();
    let mut multi: Vec<(String, Vec<String>)> = Vec::new();
    for line in f[3].lines() {
        let (k, v) = line.split_once('=').unwrap_or((line, ""));
        match multi.iter_mut().find(|(key, _)| key.eq_ignore_ascii_case(k)) {
            Some((_, values)) => values.push(v.to_owned()),
            None => multi.push((k.to_owned(), vec![v.to_owned()])),
        }
    }
    for (k, values) in &multi {
        context.insert_multi(k, values.iter().cloned());
    }
    let principal = f[4].split_once('=').map(|(kind, id)| RequestPrincipal {
        kind: kind.to_owned(),
        id: id.to_owned(),
    });
    let req = Request {
        action: &f[1],
        resource: &f[2],
        principal: principal.as_ref(),
        context: &context,
    };

    let identity = [NamedPolicy::new("p", policy.clone())];
    let d = evaluate(&identity, &req);
    match d.effect {
        DecisionEffect::Allow | DecisionEffect::ExplicitDeny => {
            let at = d.statement.as_ref().expect("an Allow or a Deny names its statement");
            let want = if d.effect == DecisionEffect::Allow {
                Effect::Allow
            } else {
                Effect::Deny
            };
            let found = policy
                .statements
                .iter()
                .enumerate()
                .any(|(i, s)| s.effect == want && s.sid.clone().unwrap_or_else(|| format!("#{i}")) == at.statement);
            assert!(found, "{d:?} names no {want:?} statement");
        }
        DecisionEffect::ImplicitDeny => {}
    }

    let deny_all =
        Policy::parse(r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}"#).unwrap();
    let with_deny = [identity[0].clone(), NamedPolicy::new("deny", deny_all)];
    assert_eq!(evaluate(&with_deny, &req).effect, DecisionEffect::ExplicitDeny);

    if let Ok(session) = Policy::parse(&f[5]) {
        let session = NamedPolicy::new("session", session);
        let narrowed = evaluate_with_session(&identity, Some(&session), &req);
        if narrowed.is_allowed() {
            assert!(d.is_allowed(), "the session policy widened {d:?} to {narrowed:?}");
            assert!(evaluate(std::slice::from_ref(&session), &req).is_allowed());
        }
        if d.effect == DecisionEffect::ExplicitDeny {
            assert_eq!(narrowed.effect, DecisionEffect::ExplicitDeny);
        }
    }
    assert_eq!(evaluate_with_session(&identity, None, &req), d);
});
