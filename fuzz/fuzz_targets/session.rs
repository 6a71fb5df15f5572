//! Session tokens: opening what a client presents as `x-amz-security-token`.
//!
//! Input: `mode, position (2 bytes), xor, expiry offset (2 bytes)` then
//! - mode even: the rest is a session token presented with a fixed access key id;
//! - mode odd: `role ARN \0 session name \0 subject \0 issuer \0 namespace \0 service account \0 pod
//!   \0 audiences \0 session policy`: claims the target seals itself with the server key, then opens
//!   as minted, with another access key, under another server key, and with one bit flipped (in
//!   the sealed bytes, and one character changed in the text).
//!
//! Asserts: nothing panics; bytes the server did not seal never open; a sealed token opens exactly
//! when it is unexpired and its claims are usable, and then gives back the claims and the secret of
//! the mint; it never opens for another access key, under a key that did not seal it, or with a
//! single bit or character changed.
#![no_main]

use std::sync::OnceLock;

use keyless_fuzz::{CountingRandom, NOW, fields, keys, list};
use keyless_identity::policy::Policy;
use keyless_identity::role::RoleArn;
use keyless_identity::session::{
    MAX_SESSION_TOKEN_LEN, SessionClaims, SessionError, SessionKey, SessionKeys, is_temporary_access_key_id, mint, open,
};
use libfuzzer_sys::fuzz_target;

fn server_keys() -> &'static SessionKeys {
    static K: OnceLock<SessionKeys> = OnceLock::new();
    K.get_or_init(|| SessionKeys::new(SessionKey::new(7, &[0x42; 32])).with_older(SessionKey::new(3, &[0x17; 32])))
}

fn other_keys() -> &'static SessionKeys {
    static K: OnceLock<SessionKeys> = OnceLock::new();
    K.get_or_init(|| SessionKeys::new(SessionKey::new(7, &[0x43; 32])))
}

const ACCESS_KEY: &str = "ASIAAAAAAAAAAAAAAAAA";

fuzz_target!(|data: &[u8]| {
    if data.len() < 6 {
        return;
    }
    let (mode, pos, xor) = (data[0], u16::from_le_bytes([data[1], data[2]]) as usize, data[3]);
    let offset = i16::from_le_bytes([data[4], data[5]]) as i64 * 60;
    let rest = &data[6..];
    let keys = server_keys();
    if mode % 2 == 0 {
        let token = String::from_utf8_lossy(rest);
        let _ = is_temporary_access_key_id(&token);
        assert!(
            open(keys, &token, ACCESS_KEY, NOW).is_err(),
            "unsealed bytes opened: {token:?}"
        );
        return;
    }
    let f = fields(rest, 9);
    let opt = |s: &String| Some(s.clone()).filter(|s| !s.is_empty());
    let claims = SessionClaims {
        role_arn: f[0].clone(),
        session_name: f[1].clone(),
        subject: f[2].clone(),
        issuer: f[3].clone(),
        namespace: opt(&f[4]),
        service_account: opt(&f[5]),
        pod: opt(&f[6]),
        audiences: list(&f[7]),
        session_policy: opt(&f[8]),
        issued_at: NOW - 60,
        expires_at: NOW + offset,
    };
    let creds = mint(keys, &claims, &CountingRandom::default());
    assert!(
        is_temporary_access_key_id(&creds.access_key_id),
        "{}",
        creds.access_key_id
    );
    // A token too long to accept is refused before it is opened: STS checks the length when it
    // mints, so that it never hands such credentials out (fuzz finding, see sts.rs).
    let usable = creds.session_token.len() <= MAX_SESSION_TOKEN_LEN
        && claims.expires_at > NOW
        && claims.role_arn.parse::<RoleArn>().is_ok()
        && claims
            .session_policy
            .as_deref()
            .is_none_or(|p| Policy::parse(p).is_ok());
    match open(keys, &creds.session_token, &creds.access_key_id, NOW) {
        Ok(s) => {
            assert!(usable, "opened unusable claims {claims:?}");
            assert_eq!(s.claims, claims);
            assert_eq!(s.secret_access_key, creds.secret_access_key);
            assert_eq!(s.access_key_id, creds.access_key_id);
            assert_eq!(s.key_id, keys.active_id());
            let _ = s.policy_context();
            let _ = s.assumed_role_arn();
        }
        Err(SessionError::Expired { .. }) => assert!(claims.expires_at <= NOW),
        Err(e) => assert!(!usable, "{e:?} for usable claims {claims:?}"),
    }
    assert!(
        open(keys, &creds.session_token, ACCESS_KEY, NOW).is_err(),
        "opened for another access key"
    );
    assert!(
        open(other_keys(), &creds.session_token, &creds.access_key_id, NOW).is_err(),
        "opened under a key that did not seal it"
    );

    let mut raw = keys::unb64(&creds.session_token).unwrap();
    let i = pos % raw.len();
    raw[i] ^= if xor == 0 { 1 } else { xor };
    let flipped = keys::b64(&raw);
    assert!(
        open(keys, &flipped, &creds.access_key_id, NOW).is_err(),
        "opened with byte {i} changed"
    );

    let mut text = creds.session_token.clone().into_bytes();
    let i = pos % text.len();
    text[i] = if text[i] == b'A' { b'B' } else { b'A' };
    let text = String::from_utf8(text).unwrap();
    if keys::unb64(&text).is_some_and(|b| b != keys::unb64(&creds.session_token).unwrap()) {
        assert!(
            open(keys, &text, &creds.access_key_id, NOW).is_err(),
            "opened with character {i} changed"
        );
    }
});
