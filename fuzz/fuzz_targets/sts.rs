//! STS: form bodies / query strings to `StsRequest`, AssumeRoleWithWebIdentity, and the XML
//! documents every answer is rendered as.
//!
//! Input: `mode` then
//! - mode even: a form body (`Action=AssumeRoleWithWebIdentity&RoleArn=...`), parsed, executed
//!   against the fixed issuers (`keys::issuers()`) and one role (`arn:aws:iam::123456789012:role/app`,
//!   trusting `apps/*`), and rendered (the result or the error);
//! - mode odd: `\0`-separated strings rendered into GetCallerIdentity, AssumeRoleWithWebIdentity and
//!   error documents directly.
//!
//! Asserts: nothing panics; a parsed request keeps AWS's constraints (session name 2–64 characters
//! of `[\w+=,.@-]`, duration 900–43200 s, token 4–20000 characters, a session policy that is a
//! valid identity policy); every rendered document is well-formed XML 1.0 and each element's text
//! reads back as the string that was put in (characters XML cannot carry aside).
#![no_main]

use std::sync::OnceLock;

use keyless_fuzz::{CountingRandom, NOW, fields, xml};
use keyless_identity::policy::{Decision, DecisionEffect, Policy};
use keyless_identity::role::{Role, RoleArn, Roles};
use keyless_identity::session::{Credentials, SessionKey, SessionKeys, open};
use keyless_identity::sts::{
    AssumedRole, CallerIdentity, StsError, StsErrorCode, StsRequest, assume_role_with_web_identity, parse_form,
    render_assume_role_response, render_error, render_get_caller_identity, xml_escape,
};
use keyless_identity::trust::TrustShortForm;
use libfuzzer_sys::fuzz_target;

fn roles() -> &'static Roles {
    static R: OnceLock<Roles> = OnceLock::new();
    R.get_or_init(|| {
        let trust = TrustShortForm {
            issuer: keyless_fuzz::keys::ISS_A.into(),
            audiences: vec!["sts.amazonaws.com".into()],
            service_accounts: vec!["apps/*".into()],
        }
        .expand("123456789012")
        .unwrap();
        let policy =
            Policy::parse(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#)
                .unwrap();
        let mut roles = Roles::new();
        roles.insert(
            Role::new(
                RoleArn::new("123456789012", "app").unwrap(),
                trust,
                vec![("all".into(), policy)],
            )
            .unwrap()
            .with_max_session_duration(7200)
            .unwrap(),
        );
        roles
    })
}

fn session_keys() -> &'static SessionKeys {
    static K: OnceLock<SessionKeys> = OnceLock::new();
    K.get_or_init(|| SessionKeys::new(SessionKey::new(1, &[9; 32])))
}

/// What a client reads back from an element holding `s`: XML cannot carry every character.
fn readable(s: &str) -> String {
    s.chars()
        .map(|c| if xml::is_xml_char(c) { c } else { '\u{FFFD}' })
        .collect()
}

/// `doc` is well-formed, and element `name` (each occurrence, in order) holds `want`.
fn check(doc: &str, want: &[(&str, &str)]) {
    let leaves = xml::leaves(doc).unwrap_or_else(|e| panic!("not well-formed ({e}):\n{doc}"));
    for (name, value) in want {
        let got = leaves
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no <{name}> in\n{doc}"));
        // XML parsers turn a bare CR into LF; compare what a client sees.
        let norm = |s: &str| readable(s).replace("\r\n", "\n").replace('\r', "\n");
        assert_eq!(norm(&got.1), norm(value), "<{name}> in\n{doc}");
    }
}

fn check_error(e: &StsError, request_id: &str) {
    check(
        &render_error(e, request_id),
        &[
            ("Code", e.code.as_str()),
            ("Message", &e.message),
            ("RequestId", request_id),
        ],
    );
}

/// application/x-www-form-urlencoded as the WHATWG URL standard and every HTTP client write it:
/// `+` is a space, `%` takes exactly two hex digits, and the bytes must be UTF-8.
fn reference_form(input: &str) -> Option<Vec<(String, String)>> {
    fn decode(s: &str) -> Option<String> {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'+' => out.push(b' '),
                b'%' => {
                    let hex = |c: u8| (c as char).to_digit(16);
                    let (h, l) = (hex(*b.get(i + 1)?)?, hex(*b.get(i + 2)?)?);
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                c => out.push(c),
            }
            i += 1;
        }
        String::from_utf8(out).ok()
    }
    input
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Some((decode(k)?, decode(v)?))
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        let body = String::from_utf8_lossy(rest);
        let form = parse_form(&body).map_err(|e| e.code);
        assert_eq!(
            form,
            reference_form(&body).ok_or(StsErrorCode::ValidationError),
            "{body:?}"
        );
        let request = match StsRequest::parse(&body) {
            Ok(r) => r,
            Err(e) => return check_error(&e, "req-1"),
        };
        let StsRequest::AssumeRoleWithWebIdentity(req) = request else {
            return;
        };
        let name = &req.role_session_name;
        assert!((2..=64).contains(&name.chars().count()));
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)));
        assert!((900..=43200).contains(&req.duration_seconds));
        assert!((4..=20000).contains(&req.web_identity_token.chars().count()));
        if let Some((text, policy)) = &req.policy {
            assert!(policy.check_identity_policy().is_ok());
            assert_eq!(Policy::parse(text).as_ref(), Ok(policy));
        }
        match assume_role_with_web_identity(
            &req,
            keyless_fuzz::keys::issuers(),
            roles(),
            session_keys(),
            NOW,
            &CountingRandom::default(),
        ) {
            Ok(a) => {
                assert!(a.trust_decision.is_allowed());
                assert!(a.credentials.expiration <= NOW + 7200);
                // Credentials STS hands out always work.
                let c = &a.credentials;
                if let Err(e) = open(session_keys(), &c.session_token, &c.access_key_id, NOW) {
                    panic!("STS minted credentials that do not open: {e:?}");
                }
                let doc = render_assume_role_response(&a, "req-2");
                check(
                    &doc,
                    &[
                        ("SubjectFromWebIdentityToken", &a.subject),
                        ("Arn", &a.assumed_role_arn),
                        ("Provider", &a.provider),
                        ("Audience", &a.audience),
                    ],
                );
            }
            Err(e) => check_error(&e, "req-3"),
        }
        return;
    }
    let f = fields(rest, 8);
    for s in &f {
        assert_eq!(xml::unescape(&xml_escape(s)).unwrap(), readable(s));
    }
    let id = CallerIdentity {
        user_id: f[0].clone(),
        account: f[1].clone(),
        arn: f[2].clone(),
    };
    check(
        &render_get_caller_identity(&id, &f[3]),
        &[
            ("Arn", &id.arn),
            ("UserId", &id.user_id),
            ("Account", &id.account),
            ("RequestId", &f[3]),
        ],
    );
    let a = AssumedRole {
        credentials: Credentials {
            access_key_id: f[4].clone(),
            secret_access_key: f[5].clone(),
            session_token: f[6].clone(),
            expiration: NOW,
        },
        subject: f[7].clone(),
        assumed_role_id: f[0].clone(),
        assumed_role_arn: f[2].clone(),
        provider: f[1].clone(),
        audience: f[3].clone(),
        trust_decision: Decision {
            effect: DecisionEffect::Allow,
            statement: None,
            reason: String::new(),
        },
    };
    check(
        &render_assume_role_response(&a, &f[3]),
        &[
            ("AccessKeyId", &f[4]),
            ("SecretAccessKey", &f[5]),
            ("SessionToken", &f[6]),
            ("SubjectFromWebIdentityToken", &f[7]),
            ("AssumedRoleId", &f[0]),
            ("Arn", &f[2]),
            ("Provider", &f[1]),
        ],
    );
    let e = StsError {
        code: StsErrorCode::ValidationError,
        message: f[7].clone(),
        log_reason: None,
    };
    check_error(&e, &f[2]);
});
