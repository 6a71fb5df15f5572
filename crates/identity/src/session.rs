//! Stateless temporary credentials.
//!
//! Nothing about a session is stored. Minting one ([`mint`]) produces:
//! - an access key id `ASIA` + 16 random base32 characters;
//! - a secret access key *derived* from the server key: HMAC-SHA256(secret key, access key id ‖
//!   expiry), 30 bytes in base64 (40 characters, AWS's length);
//! - a session token sealing everything the server needs later — role, session name, subject,
//!   issuer, Kubernetes namespace/service account/pod, audiences, session policy, issue and expiry
//!   times — with AES-256-GCM:
//!
//!   `base64url( version(1) ‖ key id(4, big-endian) ‖ nonce(12) ‖ ciphertext+tag )`
//!
//!   The associated data is `version ‖ key id ‖ access key id`, so a token opens only with the access
//!   key it was minted for and its header cannot be edited.
//!
//! Any replica holding the same [`SessionKeys`] opens the token and re-derives the secret; no shared
//! database. Rotation: one active key mints; older keys still open until removed. The AEAD and HMAC
//! keys are derived from each 32-byte server key with HKDF-SHA256, so neither is the raw key.
//! Nonces are random (96 bits): rotate a key well before 2^32 sessions.

use ring::{aead, hkdf, hmac};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::policy::{NamedPolicy, Policy, RequestContext};
use crate::role::RoleArn;
use crate::trust::WebIdentity;
use crate::{Random, b64};

const VERSION: u8 = 1;
const HEADER_LEN: usize = 1 + 4;
const NONCE_LEN: usize = 12;
/// Tokens longer than this are refused before decoding. Typical ones are 1–3 KiB; STS refuses to
/// mint a longer one (`PackedPolicyTooLarge`: a web identity token with huge claims).
pub const MAX_SESSION_TOKEN_LEN: usize = 8192;

/// One server key: an id (named in every token it seals) and the keys derived from its secret.
pub struct SessionKey {
    id: u32,
    aead: aead::LessSafeKey,
    hmac: hmac::Key,
}

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SessionKey({})", self.id)
    }
}

struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

impl SessionKey {
    /// A key from 32 secret bytes (generated once, shared by every replica).
    pub fn new(id: u32, secret: &[u8; 32]) -> Self {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"keyless session keys v1").extract(secret);
        let derive = |info: &[u8]| {
            let mut out = [0u8; 32];
            let info = [info];
            prk.expand(&info, Len(32))
                .expect("32 bytes is a valid HKDF length")
                .fill(&mut out)
                .expect("HKDF fill");
            out
        };
        let aead_bytes = derive(b"session token AES-256-GCM");
        let hmac_bytes = derive(b"secret access key HMAC-SHA256");
        let aead = aead::LessSafeKey::new(aead::UnboundKey::new(&aead::AES_256_GCM, &aead_bytes).expect("32-byte key"));
        Self {
            id,
            aead,
            hmac: hmac::Key::new(hmac::HMAC_SHA256, &hmac_bytes),
        }
    }

    pub fn id(&self) -> u32 {
        self.id
    }

    fn secret_for(&self, access_key_id: &str, expires_at: i64) -> String {
        let mut ctx = hmac::Context::with_key(&self.hmac);
        ctx.update(access_key_id.as_bytes());
        ctx.update(&[0]);
        ctx.update(&expires_at.to_be_bytes());
        b64::std_encode(&ctx.sign().as_ref()[..30])
    }
}

/// The active key and the older keys that still open tokens.
#[derive(Debug)]
pub struct SessionKeys {
    active: SessionKey,
    older: Vec<SessionKey>,
}

impl SessionKeys {
    pub fn new(active: SessionKey) -> Self {
        Self {
            active,
            older: Vec::new(),
        }
    }

    /// Adds a key that opens tokens but no longer mints.
    pub fn with_older(mut self, key: SessionKey) -> Self {
        self.older.push(key);
        self
    }

    /// Makes `key` the active key; the previous active key keeps opening its tokens.
    pub fn rotate(&mut self, key: SessionKey) {
        let old = std::mem::replace(&mut self.active, key);
        self.older.insert(0, old);
    }

    /// Forgets an older key: its tokens stop opening.
    pub fn retire(&mut self, id: u32) {
        self.older.retain(|k| k.id != id);
    }

    pub fn active_id(&self) -> u32 {
        self.active.id
    }

    fn find(&self, id: u32) -> Option<&SessionKey> {
        std::iter::once(&self.active).chain(&self.older).find(|k| k.id == id)
    }
}

/// What a session token carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    pub role_arn: String,
    pub session_name: String,
    pub subject: String,
    pub issuer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    pub audiences: Vec<String>,
    /// The session policy document, as the caller sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_policy: Option<String>,
    pub issued_at: i64,
    pub expires_at: i64,
}

/// Temporary credentials, as STS returns them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    /// Unix seconds.
    pub expiration: i64,
}

/// Mints credentials for `claims` with the active key.
pub fn mint(keys: &SessionKeys, claims: &SessionClaims, rng: &dyn Random) -> Credentials {
    let mut raw = [0u8; 10];
    rng.fill(&mut raw);
    let access_key_id = format!("ASIA{}", base32(&raw));
    let key = &keys.active;
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill(&mut nonce);
    let mut out = Vec::with_capacity(256);
    out.push(VERSION);
    out.extend_from_slice(&key.id.to_be_bytes());
    out.extend_from_slice(&nonce);
    let mut sealed = serde_json::to_vec(claims).expect("claims always serialize");
    let aad = associated_data(&out[..HEADER_LEN], &access_key_id);
    key.aead
        .seal_in_place_append_tag(
            aead::Nonce::assume_unique_for_key(nonce),
            aead::Aad::from(aad),
            &mut sealed,
        )
        .expect("sealing cannot fail for these sizes");
    out.extend_from_slice(&sealed);
    Credentials {
        secret_access_key: key.secret_for(&access_key_id, claims.expires_at),
        session_token: b64::url_encode(&out),
        access_key_id,
        expiration: claims.expires_at,
    }
}

fn associated_data(header: &[u8], access_key_id: &str) -> Vec<u8> {
    let mut aad = header.to_vec();
    aad.extend_from_slice(access_key_id.as_bytes());
    aad
}

fn base32(bytes: &[u8; 10]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let bits = bytes.iter().fold(0u128, |acc, b| (acc << 8) | *b as u128);
    (0..16)
        .rev()
        .map(|i| ALPHABET[((bits >> (i * 5)) & 31) as usize] as char)
        .collect()
}

/// Whether `id` has the shape of a keyless temporary access key id (so the edge knows to look for a
/// session token rather than a long-term key).
pub fn is_temporary_access_key_id(id: &str) -> bool {
    id.len() == 20
        && id.starts_with("ASIA")
        && id[4..]
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SessionError {
    #[error("the session token is malformed")]
    Malformed,
    #[error("the session token has format version {0}, which this server does not know")]
    UnsupportedVersion(u8),
    #[error("the session token was sealed with key {0}, which this server does not hold (retired or foreign)")]
    UnknownKey(u32),
    /// Tampered, truncated, or minted for another access key: indistinguishable by design.
    #[error("the session token is not valid for this access key")]
    Invalid,
    #[error("the session expired at {expires_at} (now {now})")]
    Expired { expires_at: i64, now: i64 },
}

/// An opened, unexpired session.
#[derive(Clone, Debug)]
pub struct Session {
    pub access_key_id: String,
    /// The re-derived secret: what SigV4 verification needs.
    pub secret_access_key: String,
    pub claims: SessionClaims,
    pub role_arn: RoleArn,
    /// The parsed session policy, named `session`.
    pub session_policy: Option<NamedPolicy>,
    pub key_id: u32,
}

/// Opens `token` presented with `access_key_id` at `now`.
pub fn open(keys: &SessionKeys, token: &str, access_key_id: &str, now: i64) -> Result<Session, SessionError> {
    if token.len() > MAX_SESSION_TOKEN_LEN {
        return Err(SessionError::Malformed);
    }
    let bytes = b64::url_decode(token).ok_or(SessionError::Malformed)?;
    if bytes.len() < HEADER_LEN + NONCE_LEN + aead::AES_256_GCM.tag_len() {
        return Err(SessionError::Malformed);
    }
    if bytes[0] != VERSION {
        return Err(SessionError::UnsupportedVersion(bytes[0]));
    }
    let key_id = u32::from_be_bytes(bytes[1..5].try_into().expect("4 bytes"));
    let key = keys.find(key_id).ok_or(SessionError::UnknownKey(key_id))?;
    let nonce = aead::Nonce::try_assume_unique_for_key(&bytes[HEADER_LEN..HEADER_LEN + NONCE_LEN])
        .map_err(|_| SessionError::Malformed)?;
    let aad = associated_data(&bytes[..HEADER_LEN], access_key_id);
    let mut sealed = bytes[HEADER_LEN + NONCE_LEN..].to_vec();
    let plain = key
        .aead
        .open_in_place(nonce, aead::Aad::from(aad), &mut sealed)
        .map_err(|_| SessionError::Invalid)?;
    // Authentic from here on: a failure to parse is our own format problem, not an attack.
    let claims: SessionClaims = serde_json::from_slice(plain).map_err(|_| SessionError::Malformed)?;
    if now >= claims.expires_at {
        return Err(SessionError::Expired {
            expires_at: claims.expires_at,
            now,
        });
    }
    let role_arn = claims.role_arn.parse().map_err(|_| SessionError::Malformed)?;
    let session_policy = match &claims.session_policy {
        None => None,
        Some(json) => Some(NamedPolicy::new(
            "session",
            Policy::parse(json).map_err(|_| SessionError::Malformed)?,
        )),
    };
    Ok(Session {
        secret_access_key: key.secret_for(access_key_id, claims.expires_at),
        access_key_id: access_key_id.to_owned(),
        claims,
        role_arn,
        session_policy,
        key_id,
    })
}

impl Session {
    /// `arn:aws:sts::<account>:assumed-role/<role>/<session name>`.
    pub fn assumed_role_arn(&self) -> String {
        assumed_role_arn(&self.role_arn, &self.claims.session_name)
    }

    /// `<role id>:<session name>` (AWS's `aws:userid` for an assumed role).
    pub fn user_id(&self) -> String {
        format!("{}:{}", self.role_arn.role_id(), self.claims.session_name)
    }

    /// The principal's condition keys for every request of this session: the web identity keys
    /// (see `trust::WebIdentity::context`) plus `aws:userid`, `aws:PrincipalArn` (the role),
    /// `aws:PrincipalAccount`, `aws:PrincipalType` (`AssumedRole`), `aws:TokenIssueTime`,
    /// `aws:FederatedProvider` and `keyless:session-name`.
    pub fn policy_context(&self) -> RequestContext {
        let c = &self.claims;
        let identity = WebIdentity {
            issuer: &c.issuer,
            subject: &c.subject,
            audiences: &c.audiences,
            namespace: c.namespace.as_deref(),
            service_account: c.service_account.as_deref(),
            pod: c.pod.as_deref(),
        };
        let mut ctx = identity.context(self.role_arn.account());
        ctx.insert("aws:userid", self.user_id());
        ctx.insert("aws:PrincipalArn", self.role_arn.to_string());
        ctx.insert("aws:PrincipalAccount", self.role_arn.account());
        ctx.insert("aws:PrincipalType", "AssumedRole");
        ctx.insert("aws:TokenIssueTime", crate::s3_actions::iso8601(c.issued_at));
        ctx.insert("keyless:session-name", c.session_name.clone());
        ctx
    }
}

/// `arn:aws:sts::<account>:assumed-role/<role>/<session name>`.
pub fn assumed_role_arn(role: &RoleArn, session_name: &str) -> String {
    format!(
        "arn:aws:sts::{}:assumed-role/{}/{session_name}",
        role.account(),
        role.name()
    )
}

#[cfg(test)]
#[allow(clippy::type_complexity)] // test tables are tuples
mod tests {
    use super::*;
    use crate::testkit::{CountingRandom, NOW};

    fn claims() -> SessionClaims {
        SessionClaims {
            role_arn: "arn:aws:iam::123456789012:role/app".into(),
            session_name: "botocore-session-1".into(),
            subject: "system:serviceaccount:apps:litestream".into(),
            issuer: "https://kubernetes.default.svc".into(),
            namespace: Some("apps".into()),
            service_account: Some("litestream".into()),
            pod: None,
            audiences: vec!["sts.amazonaws.com".into()],
            session_policy: Some(
                r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}}"#.into(),
            ),
            issued_at: NOW,
            expires_at: NOW + 3600,
        }
    }

    fn keys() -> SessionKeys {
        SessionKeys::new(SessionKey::new(7, &[1; 32]))
    }

    #[test]
    fn mint_and_open() {
        let keys = keys();
        let rng = CountingRandom::default();
        let c = mint(&keys, &claims(), &rng);
        assert!(is_temporary_access_key_id(&c.access_key_id), "{}", c.access_key_id);
        assert_eq!(c.access_key_id, "ASIAAAAQEAYEAUDAOCAJ"); // bytes 0..10 from the counting source
        assert_eq!(c.secret_access_key.len(), 40);
        assert_eq!(c.expiration, NOW + 3600);
        let s = open(&keys, &c.session_token, &c.access_key_id, NOW).unwrap();
        assert_eq!(s.claims, claims());
        assert_eq!(s.secret_access_key, c.secret_access_key);
        assert_eq!(s.key_id, 7);
        assert_eq!(
            s.assumed_role_arn(),
            "arn:aws:sts::123456789012:assumed-role/app/botocore-session-1"
        );
        assert!(s.session_policy.is_some());
        let ctx = s.policy_context();
        for (key, want) in [
            ("keyless:namespace", "apps"),
            ("keyless:serviceaccount", "litestream"),
            ("keyless:sub", "system:serviceaccount:apps:litestream"),
            ("kubernetes.default.svc:sub", "system:serviceaccount:apps:litestream"),
            ("aws:PrincipalArn", "arn:aws:iam::123456789012:role/app"),
            ("aws:PrincipalType", "AssumedRole"),
            ("aws:TokenIssueTime", "2026-03-01T12:00:00Z"),
        ] {
            assert_eq!(ctx.get(key).map(|v| v[0].as_str()), Some(want), "{key}");
        }
        assert!(ctx.get("aws:userid").unwrap()[0].ends_with(":botocore-session-1"));
        // Two mints never share an access key id, a secret or a token.
        let d = mint(&keys, &claims(), &rng);
        assert_ne!(
            (&c.access_key_id, &c.secret_access_key, &c.session_token),
            (&d.access_key_id, &d.secret_access_key, &d.session_token)
        );
    }

    #[test]
    fn open_refusals_table() {
        let keys = keys();
        let rng = crate::SystemRandom::new();
        let a = mint(&keys, &claims(), &rng);
        let b = mint(&keys, &claims(), &rng);
        let foreign = SessionKeys::new(SessionKey::new(7, &[2; 32]));
        let mut unversioned = b64::url_decode(&a.session_token).unwrap();
        unversioned[0] = 2;
        let rows: Vec<(&str, &SessionKeys, String, &str, i64, Result<(), SessionError>)> = vec![
            ("valid", &keys, a.session_token.clone(), &a.access_key_id, NOW, Ok(())),
            (
                "valid until the last second",
                &keys,
                a.session_token.clone(),
                &a.access_key_id,
                NOW + 3599,
                Ok(()),
            ),
            (
                "expired",
                &keys,
                a.session_token.clone(),
                &a.access_key_id,
                NOW + 3600,
                Err(SessionError::Expired {
                    expires_at: NOW + 3600,
                    now: NOW + 3600,
                }),
            ),
            (
                "token of another access key",
                &keys,
                b.session_token.clone(),
                &a.access_key_id,
                NOW,
                Err(SessionError::Invalid),
            ),
            (
                "access key of another token",
                &keys,
                a.session_token.clone(),
                &b.access_key_id,
                NOW,
                Err(SessionError::Invalid),
            ),
            (
                "same key id, another secret",
                &foreign,
                a.session_token.clone(),
                &a.access_key_id,
                NOW,
                Err(SessionError::Invalid),
            ),
            (
                "other version",
                &keys,
                b64::url_encode(&unversioned),
                &a.access_key_id,
                NOW,
                Err(SessionError::UnsupportedVersion(2)),
            ),
            (
                "truncated",
                &keys,
                a.session_token[..20].to_owned(),
                &a.access_key_id,
                NOW,
                Err(SessionError::Malformed),
            ),
            (
                "last byte dropped",
                &keys,
                b64::url_encode(
                    &b64::url_decode(&a.session_token).unwrap()[..{
                        let n = b64::url_decode(&a.session_token).unwrap().len();
                        n - 1
                    }],
                ),
                &a.access_key_id,
                NOW,
                Err(SessionError::Invalid),
            ),
            (
                "not base64url",
                &keys,
                "!!!".into(),
                &a.access_key_id,
                NOW,
                Err(SessionError::Malformed),
            ),
            (
                "empty",
                &keys,
                String::new(),
                &a.access_key_id,
                NOW,
                Err(SessionError::Malformed),
            ),
            (
                "oversized",
                &keys,
                "A".repeat(MAX_SESSION_TOKEN_LEN + 1),
                &a.access_key_id,
                NOW,
                Err(SessionError::Malformed),
            ),
        ];
        for (name, keys, token, akid, now, want) in rows {
            assert_eq!(open(keys, &token, akid, now).map(|_| ()), want, "{name}");
        }
    }

    /// Flip each byte of the token in turn: the version byte, the key id, the nonce, the ciphertext
    /// and the tag — every region must be refused.
    #[test]
    fn tamper_every_byte() {
        let keys = keys();
        let c = mint(&keys, &claims(), &crate::SystemRandom::new());
        let raw = b64::url_decode(&c.session_token).unwrap();
        for i in 0..raw.len() {
            let mut bad = raw.clone();
            bad[i] ^= 0x01;
            let got = open(&keys, &b64::url_encode(&bad), &c.access_key_id, NOW).map(|_| ());
            let want = match i {
                0 => Err(SessionError::UnsupportedVersion(0)),
                4 => Err(SessionError::UnknownKey(6)),
                1..=3 => Err(SessionError::UnknownKey(7 ^ (1 << (8 * (4 - i))))),
                _ => Err(SessionError::Invalid),
            };
            assert_eq!(got, want, "byte {i}");
        }
    }

    #[test]
    fn rotation() {
        let mut keys = keys();
        let rng = crate::SystemRandom::new();
        let old = mint(&keys, &claims(), &rng);
        keys.rotate(SessionKey::new(8, &[3; 32]));
        assert_eq!(keys.active_id(), 8);
        let new = mint(&keys, &claims(), &rng);
        assert_eq!(
            open(&keys, &old.session_token, &old.access_key_id, NOW).unwrap().key_id,
            7
        );
        assert_eq!(
            open(&keys, &new.session_token, &new.access_key_id, NOW).unwrap().key_id,
            8
        );
        keys.retire(7);
        assert_eq!(
            open(&keys, &old.session_token, &old.access_key_id, NOW).map(|_| ()),
            Err(SessionError::UnknownKey(7))
        );
        assert!(open(&keys, &new.session_token, &new.access_key_id, NOW).is_ok());
        // A replica configured with the same keys in another order opens both.
        let replica = SessionKeys::new(SessionKey::new(7, &[1; 32])).with_older(SessionKey::new(8, &[3; 32]));
        assert!(open(&replica, &new.session_token, &new.access_key_id, NOW).is_ok());
    }

    #[test]
    fn access_key_id_shape() {
        for (id, want) in [
            ("ASIAAAAQEAYEAUDAOCAJ", true),
            ("AKIAAAAQEAYEAUDAOCAJ", false),
            ("ASIAAAAQEAYEAUDAOCA", false),
            ("ASIAAAAQEAYEAUDAOCA1", false),
            ("ASIAaaaqeayeaudaocaj", false),
        ] {
            assert_eq!(is_temporary_access_key_id(id), want, "{id}");
        }
    }
}
