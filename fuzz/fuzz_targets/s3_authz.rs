//! One S3 request made with session credentials: operation → IAM checks → decisions
//! (`s3_actions::required_checks`, `request_context`, `authz::authorize_s3`).
//!
//! Input: `flags, max-keys (2 bytes), time offset (4 bytes)` then `role policy JSON \0 session
//! policy JSON \0 operation \0 bucket \0 key \0 copy source bucket/key \0 delete keys (lines) \0
//! prefix \0 delimiter \0 source IP \0 namespace`.
//!
//! Asserts: nothing panics (any operation name, any bucket or key text, any time); an operation
//! either maps to checks or is refused as unknown/incomplete, never half; there is one decision
//! per check, each on an `arn:aws:s3:::` resource; DeleteObjects asks once per key; a session policy
//! only narrows (a request allowed with it is allowed by the role's policies alone); a role no
//! longer configured denies everything.
#![no_main]

use std::sync::OnceLock;

use keyless_fuzz::{CountingRandom, NOW, fields};
use keyless_identity::authz::authorize_s3;
use keyless_identity::policy::Policy;
use keyless_identity::role::{Role, RoleArn, Roles};
use keyless_identity::s3_actions::{RequestFacts, S3Operation, iso8601, required_checks};
use keyless_identity::session::{SessionClaims, SessionKey, SessionKeys, mint, open};
use keyless_identity::trust::TrustPolicy;
use libfuzzer_sys::fuzz_target;

fn keys() -> &'static SessionKeys {
    static K: OnceLock<SessionKeys> = OnceLock::new();
    K.get_or_init(|| SessionKeys::new(SessionKey::new(1, &[1; 32])))
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 7 {
        return;
    }
    let flags = data[0];
    let max_keys = i16::from_le_bytes([data[1], data[2]]) as i64;
    let offset = i32::from_le_bytes([data[3], data[4], data[5], data[6]]) as i64;
    let f = fields(&data[7..], 11);
    let _ = iso8601(offset.wrapping_mul(1 << 24));

    let Ok(policy) = Policy::parse(&f[0]) else { return };
    let arn = RoleArn::new("123456789012", "app").unwrap();
    let trust = TrustPolicy::parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRoleWithWebIdentity"}}"#,
    )
    .unwrap();
    let Ok(role) = Role::new(arn.clone(), trust, vec![("p".into(), policy)]) else {
        return;
    };
    let mut roles = Roles::new();
    roles.insert(role);

    let ns = f[10].clone();
    let claims = SessionClaims {
        role_arn: arn.to_string(),
        session_name: "fuzz".into(),
        subject: format!("system:serviceaccount:{ns}:app"),
        issuer: keyless_fuzz::keys::ISS_A.into(),
        namespace: Some(ns),
        service_account: Some("app".into()),
        pod: None,
        audiences: vec!["sts.amazonaws.com".into()],
        session_policy: Some(f[1].clone()).filter(|p| !p.is_empty()),
        issued_at: NOW - 60,
        expires_at: NOW + 3600,
    };
    let creds = mint(keys(), &claims, &CountingRandom::default());
    let Ok(session) = open(keys(), &creds.session_token, &creds.access_key_id, NOW) else {
        return;
    };

    let delete_keys: Vec<String> = f[6].lines().map(str::to_owned).collect();
    fn opt(s: &str) -> Option<&str> {
        Some(s).filter(|s| !s.is_empty())
    }
    let op = S3Operation {
        name: &f[2],
        bucket: opt(&f[3]),
        key: opt(&f[4]),
        copy_source: f[5].split_once('/'),
        delete_keys: &delete_keys,
        sets_tags: flags & 1 != 0,
    };
    let facts = RequestFacts {
        source_ip: f[9].parse().ok(),
        secure_transport: flags & 2 != 0,
        now: NOW.wrapping_add(offset),
        prefix: opt(&f[7]),
        delimiter: opt(&f[8]),
        max_keys: (flags & 4 != 0).then_some(max_keys),
    };
    let checks = required_checks(&op);
    let auth = authorize_s3(&session, &roles, &op, &facts);
    let (Ok(checks), Ok(auth)) = (checks, auth) else {
        assert!(required_checks(&op).is_err() && authorize_s3(&session, &roles, &op, &facts).is_err());
        return;
    };
    assert_eq!(auth.decisions.len(), checks.len());
    for ((c, _), want) in auth.decisions.iter().zip(&checks) {
        assert_eq!(c, want);
        assert!(c.resource.starts_with("arn:aws:s3:::"), "{c:?}");
    }
    if op.name == "DeleteObjects" {
        assert_eq!(checks.len(), delete_keys.len());
    }
    if session.session_policy.is_some() && auth.is_allowed() {
        let mut without = session.clone();
        without.session_policy = None;
        let wide = authorize_s3(&without, &roles, &op, &facts).unwrap();
        assert!(
            wide.is_allowed(),
            "the session policy widened the role: {auth:?} vs {wide:?}"
        );
    }
    let gone = authorize_s3(&session, &Roles::new(), &op, &facts).unwrap();
    assert!(gone.decisions.iter().all(|(_, d)| !d.is_allowed()));
});
