//! Web identity tokens: verifying a compact JWT against the issuer that claims to have signed it.
//!
//! The header rules are explicit because they are where JWT libraries have failed before:
//! - the algorithm is one of [`Algorithm`] (RS256/384/512, PS256/384/512, ES256/384); `none` and
//!   every HMAC algorithm are refused before any key is looked at;
//! - the key comes only from the issuer's own [`KeySet`], never from the token: `jku`, `x5u`, `jwk`
//!   and `x5c` headers are refused, and so is any `crit` extension;
//! - the key is chosen by `kid` within that one issuer's set; without a `kid`, only when exactly one
//!   key fits the algorithm; the algorithm must fit the key's type and the JWK's own `alg`.
//!
//! Then the claims: exact `iss`, `exp` required, `nbf`/`iat` honoured, all with a leeway handed in
//! and against a `now` handed in; `sub` and `aud` (a string or a list) required; the Kubernetes
//! claim (`kubernetes.io`) parsed into [`KubernetesClaims`] and checked against `sub`.

use std::collections::BTreeMap;

use ring::signature;
use serde_json::{Map, Value};
use thiserror::Error;

use crate::b64;
use crate::jwks::{Algorithm, KeySelectError, KeySet, PublicKey};

/// The default size limit for a token (projected ServiceAccount tokens are 1–2 KiB).
pub const DEFAULT_MAX_TOKEN_LEN: usize = 16 * 1024;

/// Why a token was refused. Each hostile or broken token maps to exactly one variant, so the caller
/// can answer with the right STS code and log the precise reason.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum TokenError {
    #[error("the token is {len} bytes; at most {max} are accepted")]
    TooLarge { len: usize, max: usize },
    #[error("the token is malformed: {0}")]
    Malformed(String),
    #[error("the token's algorithm {0:?} is not accepted (RS256/384/512, PS256/384/512, ES256/384 are)")]
    UnsupportedAlgorithm(String),
    #[error("the token carries a {0:?} header; keys are taken only from the issuer's configured key set")]
    ForbiddenHeader(&'static str),
    #[error("the token marks header extensions as critical ({0}); none are supported")]
    CriticalHeader(String),
    #[error("the token's issuer {0:?} is not a trusted issuer")]
    UnknownIssuer(String),
    #[error("no key {} in the key set of issuer {issuer:?}", show_kid(.kid))]
    UnknownKey { issuer: String, kid: Option<String> },
    #[error("key {} of issuer {issuer:?} cannot verify {alg} signatures", show_kid(.kid))]
    AlgorithmMismatch {
        issuer: String,
        kid: Option<String>,
        alg: &'static str,
    },
    #[error("the token names no key id and issuer {0:?} has several keys that could fit")]
    AmbiguousKey(String),
    #[error("the token's signature is not valid for key {} of issuer {issuer:?}", show_kid(.kid))]
    BadSignature { issuer: String, kid: Option<String> },
    #[error("the token's issuer is {found:?}, expected {expected:?}")]
    WrongIssuer { expected: String, found: String },
    #[error("the token expired at {exp} (now {now})")]
    Expired { exp: i64, now: i64 },
    #[error("the token is not valid before {nbf} (now {now})")]
    NotYetValid { nbf: i64, now: i64 },
    #[error("the token was issued in the future ({iat}, now {now})")]
    IssuedInFuture { iat: i64, now: i64 },
    #[error("the token's audience {found:?} is not one issuer {issuer:?} accepts")]
    WrongAudience { issuer: String, found: Vec<String> },
    #[error("the token has no {0:?} claim")]
    MissingClaim(&'static str),
}

fn show_kid(kid: &Option<String>) -> String {
    match kid {
        Some(k) => format!("{k:?}"),
        None => "(no kid)".to_owned(),
    }
}

/// The `kubernetes.io` claim of a projected ServiceAccount token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KubernetesClaims {
    pub namespace: String,
    pub service_account: NamedObject,
    pub pod: Option<NamedObject>,
    pub node: Option<NamedObject>,
}

/// A Kubernetes object reference in a token: name and uid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedObject {
    pub name: String,
    pub uid: String,
}

/// A token whose signature, issuer and time window have been checked. Only [`verify`] makes one
/// (`non_exhaustive`: no other crate can build one from parts).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct VerifiedToken {
    pub issuer: String,
    pub subject: String,
    /// `aud`, normalised to a list.
    pub audiences: Vec<String>,
    pub expires_at: i64,
    pub issued_at: Option<i64>,
    pub not_before: Option<i64>,
    pub algorithm: Algorithm,
    pub key_id: Option<String>,
    pub kubernetes: Option<KubernetesClaims>,
    /// Every claim, for tools that show a decoded token.
    pub claims: Map<String, Value>,
}

/// One trusted issuer: its exact `iss`, its key set, and (optionally) the audiences it may address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issuer {
    iss: String,
    keys: KeySet,
    audiences: Vec<String>,
}

impl Issuer {
    /// `iss` is compared byte for byte with the token's `iss` claim.
    pub fn new(iss: impl Into<String>, keys: KeySet) -> Self {
        Self {
            iss: iss.into(),
            keys,
            audiences: Vec::new(),
        }
    }

    /// Restricts the tokens accepted to those whose `aud` contains one of `audiences` (AWS's
    /// "client IDs" of an OIDC provider). Empty (the default) leaves the audience to the trust policy.
    pub fn with_audiences(mut self, audiences: Vec<String>) -> Self {
        self.audiences = audiences;
        self
    }

    pub fn iss(&self) -> &str {
        &self.iss
    }

    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    /// Replaces the key set (after a refetch or a file reload).
    pub fn set_keys(&mut self, keys: KeySet) {
        self.keys = keys;
    }

    pub fn audiences(&self) -> &[String] {
        &self.audiences
    }

    /// The issuer as IAM names it in condition keys and provider ARNs: host and path, without the
    /// scheme and without a trailing slash (`https://oidc.example/id/X` → `oidc.example/id/X`).
    pub fn host_path(&self) -> &str {
        issuer_host_path(&self.iss)
    }
}

/// See [`Issuer::host_path`].
pub fn issuer_host_path(iss: &str) -> &str {
    let rest = iss
        .strip_prefix("https://")
        .or_else(|| iss.strip_prefix("http://"))
        .unwrap_or(iss);
    rest.trim_end_matches('/')
}

/// The checks' tunables: clock leeway and the size limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Validation {
    /// Seconds of clock skew tolerated on `exp`, `nbf` and `iat`.
    pub leeway_secs: i64,
    pub max_token_len: usize,
}

impl Default for Validation {
    fn default() -> Self {
        Self {
            leeway_secs: 60,
            max_token_len: DEFAULT_MAX_TOKEN_LEN,
        }
    }
}

/// All trusted issuers, each with its own key set.
#[derive(Clone, Debug, Default)]
pub struct Issuers {
    by_iss: BTreeMap<String, Issuer>,
    pub validation: Validation,
}

impl Issuers {
    pub fn new(validation: Validation) -> Self {
        Self {
            by_iss: BTreeMap::new(),
            validation,
        }
    }

    /// Adds (or replaces) an issuer.
    pub fn insert(&mut self, issuer: Issuer) {
        self.by_iss.insert(issuer.iss.clone(), issuer);
    }

    pub fn get(&self, iss: &str) -> Option<&Issuer> {
        self.by_iss.get(iss)
    }

    pub fn get_mut(&mut self, iss: &str) -> Option<&mut Issuer> {
        self.by_iss.get_mut(iss)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Issuer> {
        self.by_iss.values()
    }

    /// Verifies `token` against the issuer its (unverified) `iss` names, with that issuer's keys only.
    pub fn verify(&self, token: &str, now: i64) -> Result<VerifiedToken, TokenError> {
        let iss = peek_issuer(token, self.validation.max_token_len)?;
        let issuer = self.by_iss.get(&iss).ok_or(TokenError::UnknownIssuer(iss))?;
        verify(token, issuer, now, &self.validation)
    }
}

struct Parts<'a> {
    signing_input: &'a str,
    header: Map<String, Value>,
    claims: Map<String, Value>,
    signature: Vec<u8>,
}

fn split(token: &str, max: usize) -> Result<Parts<'_>, TokenError> {
    if token.len() > max {
        return Err(TokenError::TooLarge { len: token.len(), max });
    }
    let malformed = |what: &str| TokenError::Malformed(what.to_owned());
    let mut it = token.split('.');
    let (Some(h), Some(c), Some(s), None) = (it.next(), it.next(), it.next(), it.next()) else {
        return Err(malformed("not three dot-separated parts (header.claims.signature)"));
    };
    let object = |part: &str, what: &str| -> Result<Map<String, Value>, TokenError> {
        let bytes = b64::url_decode(part).ok_or_else(|| malformed(&format!("the {what} is not base64url")))?;
        match serde_json::from_slice::<UniqueKeys>(&bytes) {
            Ok(UniqueKeys(map)) => Ok(map),
            Err(e) if e.to_string().starts_with(DUPLICATE) => {
                Err(malformed(&format!("the {what} repeats a member name")))
            }
            Err(_) => Err(malformed(&format!("the {what} is not a JSON object"))),
        }
    };
    let header = object(h, "header")?;
    let claims = object(c, "claims part")?;
    let signature = b64::url_decode(s).ok_or_else(|| malformed("the signature is not base64url"))?;
    Ok(Parts {
        signing_input: &token[..h.len() + 1 + c.len()],
        header,
        claims,
        signature,
    })
}

const DUPLICATE: &str = "duplicate member";

/// A JSON object whose top-level member names are unique. serde_json would silently keep the last
/// of two `"alg"`s; a token that repeats a header or claim name is refused instead (RFC 7515 §4).
struct UniqueKeys(Map<String, Value>);

impl<'de> serde::Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = UniqueKeys;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut access: A) -> Result<UniqueKeys, A::Error> {
                let mut map = Map::new();
                while let Some((k, v)) = access.next_entry::<String, Value>()? {
                    if map.contains_key(&k) {
                        return Err(serde::de::Error::custom(format!("{DUPLICATE} {k:?}")));
                    }
                    map.insert(k, v);
                }
                Ok(UniqueKeys(map))
            }
        }
        d.deserialize_map(Visitor)
    }
}

/// The `iss` claim of a token, *unverified*: only for choosing which issuer's keys to verify it with.
pub fn peek_issuer(token: &str, max_len: usize) -> Result<String, TokenError> {
    let parts = split(token, max_len)?;
    match parts.claims.get("iss") {
        Some(Value::String(iss)) => Ok(iss.clone()),
        Some(_) => Err(TokenError::Malformed("\"iss\" is not a string".into())),
        None => Err(TokenError::MissingClaim("iss")),
    }
}

/// Verifies `token` against one issuer: header rules, key choice, signature, then claims.
pub fn verify(token: &str, issuer: &Issuer, now: i64, validation: &Validation) -> Result<VerifiedToken, TokenError> {
    let Parts {
        signing_input,
        header,
        claims,
        signature,
    } = split(token, validation.max_token_len)?;

    let alg_name = match header.get("alg") {
        Some(Value::String(a)) => a.as_str(),
        _ => return Err(TokenError::Malformed("the header has no \"alg\" string".into())),
    };
    let alg = Algorithm::from_name(alg_name).ok_or_else(|| TokenError::UnsupportedAlgorithm(alg_name.to_owned()))?;
    for name in ["jku", "x5u", "jwk", "x5c"] {
        if header.contains_key(name) {
            return Err(TokenError::ForbiddenHeader(name));
        }
    }
    if let Some(crit) = header.get("crit") {
        return Err(TokenError::CriticalHeader(crit.to_string()));
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(_) => return Err(TokenError::Malformed("\"kid\" is not a string".into())),
    };

    let key = issuer.keys.select(kid.as_deref(), alg).map_err(|e| match e {
        KeySelectError::UnknownKid => TokenError::UnknownKey {
            issuer: issuer.iss.clone(),
            kid: kid.clone(),
        },
        KeySelectError::AlgorithmMismatch => TokenError::AlgorithmMismatch {
            issuer: issuer.iss.clone(),
            kid: kid.clone(),
            alg: alg.name(),
        },
        KeySelectError::Ambiguous => TokenError::AmbiguousKey(issuer.iss.clone()),
    })?;
    let ok = match &key.key {
        PublicKey::Rsa { n, e } => {
            let params = match alg {
                Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
                Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
                Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
                Algorithm::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
                Algorithm::ES256 | Algorithm::ES384 => unreachable!("select() checked the key type"),
            };
            signature::RsaPublicKeyComponents { n, e }
                .verify(params, signing_input.as_bytes(), &signature)
                .is_ok()
        }
        PublicKey::Ec { point, .. } => {
            let params = match alg {
                Algorithm::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
                Algorithm::ES384 => &signature::ECDSA_P384_SHA384_FIXED,
                _ => unreachable!("select() checked the key type"),
            };
            signature::UnparsedPublicKey::new(params, point)
                .verify(signing_input.as_bytes(), &signature)
                .is_ok()
        }
    };
    if !ok {
        return Err(TokenError::BadSignature {
            issuer: issuer.iss.clone(),
            kid,
        });
    }

    // The signature holds: now the claims.
    let string = |name: &'static str| -> Result<String, TokenError> {
        match claims.get(name) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            Some(_) => Err(TokenError::Malformed(format!("\"{name}\" is not a non-empty string"))),
            None => Err(TokenError::MissingClaim(name)),
        }
    };
    let time = |name: &'static str| -> Result<Option<i64>, TokenError> {
        match claims.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => match n.as_i64().or_else(|| n.as_f64().map(|f| f.floor() as i64)) {
                Some(t) => Ok(Some(t)),
                None => Err(TokenError::Malformed(format!("\"{name}\" is not a time"))),
            },
            Some(_) => Err(TokenError::Malformed(format!("\"{name}\" is not a number"))),
        }
    };
    let iss = string("iss")?;
    if iss != issuer.iss {
        return Err(TokenError::WrongIssuer {
            expected: issuer.iss.clone(),
            found: iss,
        });
    }
    let leeway = validation.leeway_secs;
    let exp = time("exp")?.ok_or(TokenError::MissingClaim("exp"))?;
    if now >= exp.saturating_add(leeway) {
        return Err(TokenError::Expired { exp, now });
    }
    let nbf = time("nbf")?;
    if let Some(nbf) = nbf
        && now.saturating_add(leeway) < nbf
    {
        return Err(TokenError::NotYetValid { nbf, now });
    }
    let iat = time("iat")?;
    if let Some(iat) = iat
        && iat > now.saturating_add(leeway)
    {
        return Err(TokenError::IssuedInFuture { iat, now });
    }
    let subject = string("sub")?;
    let audiences = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.clone()],
        Some(Value::Array(list)) if !list.is_empty() => list
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| TokenError::Malformed("\"aud\" holds a non-string".into()))?,
        Some(_) => {
            return Err(TokenError::Malformed(
                "\"aud\" is neither a string nor a non-empty list".into(),
            ));
        }
        None => return Err(TokenError::MissingClaim("aud")),
    };
    if !issuer.audiences.is_empty() && !audiences.iter().any(|a| issuer.audiences.contains(a)) {
        return Err(TokenError::WrongAudience {
            issuer: issuer.iss.clone(),
            found: audiences,
        });
    }
    let kubernetes = match claims.get("kubernetes.io") {
        None => None,
        Some(v) => Some(kubernetes_claims(v, &subject)?),
    };
    Ok(VerifiedToken {
        issuer: iss,
        subject,
        audiences,
        expires_at: exp,
        issued_at: iat,
        not_before: nbf,
        algorithm: alg,
        key_id: kid,
        kubernetes,
        claims,
    })
}

fn kubernetes_claims(v: &Value, subject: &str) -> Result<KubernetesClaims, TokenError> {
    let bad = |what: &str| TokenError::Malformed(format!("\"kubernetes.io\" {what}"));
    let text = |v: &Value, name: &str| v.get(name).and_then(Value::as_str).map(str::to_owned);
    let named = |name: &str| -> Result<Option<NamedObject>, TokenError> {
        match v.get(name) {
            None => Ok(None),
            Some(o) => match (text(o, "name"), text(o, "uid")) {
                (Some(name), Some(uid)) => Ok(Some(NamedObject { name, uid })),
                _ => Err(bad(&format!("has a \"{name}\" without name and uid strings"))),
            },
        }
    };
    let namespace = text(v, "namespace").ok_or_else(|| bad("has no namespace"))?;
    let service_account = named("serviceaccount")?.ok_or_else(|| bad("has no serviceaccount"))?;
    let expected = format!("system:serviceaccount:{namespace}:{}", service_account.name);
    if subject != expected {
        return Err(bad(&format!("names {expected:?} but \"sub\" is {subject:?}")));
    }
    Ok(KubernetesClaims {
        namespace,
        service_account,
        pod: named("pod")?,
        node: named("node")?,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::testkit::{self, NOW, jwt, sa_claims};

    const ISS: &str = "https://kubernetes.default.svc.cluster.local";
    const FOREIGN: &str = "https://oidc.other-cluster.example/id/ABC";

    struct World {
        issuers: Issuers,
        rsa_a: testkit::Rsa,
        rsa_b: testkit::Rsa,
        ec: testkit::Ec,
        ec384: testkit::Ec,
    }

    fn world() -> World {
        let (rsa_a, rsa_b, ec, ec384) = (testkit::rsa_a(), testkit::rsa_b(), testkit::ec256(), testkit::ec384());
        let mut issuers = Issuers::new(Validation {
            leeway_secs: 30,
            max_token_len: DEFAULT_MAX_TOKEN_LEN,
        });
        let ours = KeySet::from_keys(vec![
            rsa_a.jwk(Some("a"), Some(Algorithm::RS256)),
            rsa_a.jwk(Some("a-any"), None),
            ec.jwk(Some("e")),
            ec384.jwk(Some("e384")),
        ]);
        issuers.insert(Issuer::new(ISS, ours).with_audiences(vec!["sts.amazonaws.com".into(), "keyless".into()]));
        // The foreign issuer's key "a" collides with ours by name but is another key.
        issuers.insert(Issuer::new(
            FOREIGN,
            KeySet::from_keys(vec![rsa_b.jwk(Some("a"), None)]),
        ));
        World {
            issuers,
            rsa_a,
            rsa_b,
            ec,
            ec384,
        }
    }

    fn rs(key: &testkit::Rsa, alg: &str, kid: &str, claims: &Value) -> String {
        let a = Algorithm::from_name(alg).unwrap();
        jwt(&json!({"alg": alg, "kid": kid}), claims, |m| key.sign(a, m))
    }

    fn with(mut claims: Value, f: impl FnOnce(&mut Map<String, Value>)) -> Value {
        f(claims.as_object_mut().unwrap());
        claims
    }

    fn jwt_raw(header: &str, claims: &str, sign: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
        let input = format!(
            "{}.{}",
            b64::url_encode(header.as_bytes()),
            b64::url_encode(claims.as_bytes())
        );
        let sig = sign(input.as_bytes());
        format!("{input}.{}", b64::url_encode(&sig))
    }

    fn tamper_claims(token: &str, claims: &Value) -> String {
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[1] = b64::url_encode(claims.to_string().as_bytes());
        parts.join(".")
    }

    /// Every token a table row can build, hostile ones first.
    #[test]
    fn verify_table() {
        let w = world();
        let good = sa_claims(ISS, "sts.amazonaws.com");
        let good_rs = rs(&w.rsa_a, "RS256", "a", &good);
        let cases: Vec<(&str, String, Result<(), TokenError>)> = vec![
            ("RS256 with a pinned key", good_rs.clone(), Ok(())),
            ("RS384", rs(&w.rsa_a, "RS384", "a-any", &good), Ok(())),
            ("RS512", rs(&w.rsa_a, "RS512", "a-any", &good), Ok(())),
            ("PS256", rs(&w.rsa_a, "PS256", "a-any", &good), Ok(())),
            ("PS384", rs(&w.rsa_a, "PS384", "a-any", &good), Ok(())),
            ("PS512", rs(&w.rsa_a, "PS512", "a-any", &good), Ok(())),
            ("ES256", jwt(&json!({"alg":"ES256","kid":"e"}), &good, |m| w.ec.sign(m)), Ok(())),
            ("ES384", jwt(&json!({"alg":"ES384","kid":"e384"}), &good, |m| w.ec384.sign(m)), Ok(())),
            ("no kid, one key fits ES256", jwt(&json!({"alg":"ES256"}), &good, |m| w.ec.sign(m)), Ok(())),
            (
                "no kid, two RSA keys could fit",
                jwt(&json!({"alg":"RS256"}), &good, |m| w.rsa_a.sign(Algorithm::RS256, m)),
                Err(TokenError::AmbiguousKey(ISS.into())),
            ),
            (
                "alg none, empty signature",
                format!(
                    "{}.{}.",
                    b64::url_encode(br#"{"alg":"none","kid":"a"}"#),
                    b64::url_encode(good.to_string().as_bytes())
                ),
                Err(TokenError::UnsupportedAlgorithm("none".into())),
            ),
            (
                "HS256 signed with the RSA public key bytes",
                jwt(&json!({"alg":"HS256","kid":"a"}), &good, |m| {
                    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &w.rsa_a.public_der());
                    ring::hmac::sign(&key, m).as_ref().to_vec()
                }),
                Err(TokenError::UnsupportedAlgorithm("HS256".into())),
            ),
            (
                "signature stripped",
                format!("{}.", good_rs.rsplit_once('.').unwrap().0),
                Err(TokenError::BadSignature { issuer: ISS.into(), kid: Some("a".into()) }),
            ),
            (
                "two parts only",
                good_rs.rsplit_once('.').unwrap().0.to_owned(),
                Err(TokenError::Malformed("not three dot-separated parts (header.claims.signature)".into())),
            ),
            (
                "foreign signature (another key, same kid)",
                rs(&w.rsa_b, "RS256", "a", &good),
                Err(TokenError::BadSignature { issuer: ISS.into(), kid: Some("a".into()) }),
            ),
            (
                "tampered claims (another service account)",
                tamper_claims(
                    &good_rs,
                    &with(good.clone(), |c| {
                        c["sub"] = json!("system:serviceaccount:kube-system:admin");
                    }),
                ),
                Err(TokenError::BadSignature { issuer: ISS.into(), kid: Some("a".into()) }),
            ),
            (
                "ES256 signature put on an RS256 header",
                jwt(&json!({"alg":"RS256","kid":"e"}), &good, |m| w.ec.sign(m)),
                Err(TokenError::AlgorithmMismatch { issuer: ISS.into(), kid: Some("e".into()), alg: "RS256" }),
            ),
            (
                "PS256 on a key pinned to RS256",
                rs(&w.rsa_a, "PS256", "a", &good),
                Err(TokenError::AlgorithmMismatch { issuer: ISS.into(), kid: Some("a".into()), alg: "PS256" }),
            ),
            (
                "expired (beyond the leeway)",
                rs(&w.rsa_a, "RS256", "a", &with(good.clone(), |c| c["exp"] = json!(NOW - 31))),
                Err(TokenError::Expired { exp: NOW - 31, now: NOW }),
            ),
            ("expired within the leeway", rs(&w.rsa_a, "RS256", "a", &with(good.clone(), |c| c["exp"] = json!(NOW - 29))), Ok(())),
            (
                "not yet valid",
                rs(&w.rsa_a, "RS256", "a", &with(good.clone(), |c| c["nbf"] = json!(NOW + 31))),
                Err(TokenError::NotYetValid { nbf: NOW + 31, now: NOW }),
            ),
            ("nbf within the leeway", rs(&w.rsa_a, "RS256", "a", &with(good.clone(), |c| c["nbf"] = json!(NOW + 30))), Ok(())),
            (
                "issued in the future",
                rs(&w.rsa_a, "RS256", "a", &with(good.clone(), |c| c["iat"] = json!(NOW + 600))),
                Err(TokenError::IssuedInFuture { iat: NOW + 600, now: NOW }),
            ),
            (
                "no exp",
                rs(&w.rsa_a, "RS256", "a", &with(good.clone(), |c| drop(c.remove("exp")))),
                Err(TokenError::MissingClaim("exp")),
            ),
            (
                "wrong iss signed by our key",
                rs(&w.rsa_a, "RS256", "a", &with(good.clone(), |c| c["iss"] = json!(format!("{ISS}/")))),
                Err(TokenError::UnknownIssuer(format!("{ISS}/"))),
            ),
            (
                "wrong aud",
                rs(&w.rsa_a, "RS256", "a", &with(good.clone(), |c| c["aud"] = json!(["vault"]))),
                Err(TokenError::WrongAudience { issuer: ISS.into(), found: vec!["vault".into()] }),
            ),
            ("aud as a string", rs(&w.rsa_a, "RS256", "a", &with(good.clone(), |c| c["aud"] = json!("keyless"))), Ok(())),
            (
                "no sub",
                rs(&w.rsa_a, "RS256", "a", &with(good.clone(), |c| drop(c.remove("sub")))),
                Err(TokenError::MissingClaim("sub")),
            ),
            (
                "sub disagrees with kubernetes.io",
                rs(&w.rsa_a, "RS256", "a", &with(good.clone(), |c| c["sub"] = json!("system:serviceaccount:apps:other"))),
                Err(TokenError::Malformed(
                    "\"kubernetes.io\" names \"system:serviceaccount:apps:litestream\" but \"sub\" is \"system:serviceaccount:apps:other\""
                        .into(),
                )),
            ),
            (
                "unknown kid",
                rs(&w.rsa_a, "RS256", "rotated", &good),
                Err(TokenError::UnknownKey { issuer: ISS.into(), kid: Some("rotated".into()) }),
            ),
            (
                "foreign issuer with a colliding kid, signed by its own key",
                rs(&w.rsa_b, "RS256", "a", &with(good.clone(), |c| c["iss"] = json!(FOREIGN))),
                Ok(()),
            ),
            (
                "foreign issuer's iss, signed with our key of the same kid",
                rs(&w.rsa_a, "RS256", "a", &with(good.clone(), |c| c["iss"] = json!(FOREIGN))),
                Err(TokenError::BadSignature { issuer: FOREIGN.into(), kid: Some("a".into()) }),
            ),
            (
                "a signing key carried in the token (jwk)",
                jwt(&json!({"alg":"RS256","kid":"a","jwk":{"kty":"RSA"}}), &good, |m| w.rsa_a.sign(Algorithm::RS256, m)),
                Err(TokenError::ForbiddenHeader("jwk")),
            ),
            (
                "a key URL (jku)",
                jwt(&json!({"alg":"RS256","kid":"a","jku":"https://evil/jwks"}), &good, |m| w.rsa_a.sign(Algorithm::RS256, m)),
                Err(TokenError::ForbiddenHeader("jku")),
            ),
            (
                "x5u",
                jwt(&json!({"alg":"RS256","x5u":"https://evil/cert"}), &good, |m| w.rsa_a.sign(Algorithm::RS256, m)),
                Err(TokenError::ForbiddenHeader("x5u")),
            ),
            (
                "x5c",
                jwt(&json!({"alg":"RS256","x5c":["MII"]}), &good, |m| w.rsa_a.sign(Algorithm::RS256, m)),
                Err(TokenError::ForbiddenHeader("x5c")),
            ),
            (
                "crit",
                jwt(&json!({"alg":"RS256","kid":"a","crit":["exp"]}), &good, |m| w.rsa_a.sign(Algorithm::RS256, m)),
                Err(TokenError::CriticalHeader("[\"exp\"]".into())),
            ),
            (
                "oversized",
                rs(&w.rsa_a, "RS256", "a", &with(good.clone(), |c| drop(c.insert("pad".into(), json!("x".repeat(20_000)))))),
                Err(TokenError::TooLarge { len: 0, max: DEFAULT_MAX_TOKEN_LEN }),
            ),
            ("garbage", "garbage".into(), Err(TokenError::Malformed("not three dot-separated parts (header.claims.signature)".into()))),
            ("garbage parts", "a.b.c".into(), Err(TokenError::Malformed("the header is not base64url".into()))),
            ("non-object parts", "YQ.YQ.YQ".into(), Err(TokenError::Malformed("the header is not a JSON object".into()))),
            ("empty objects", "e30.e30.".into(), Err(TokenError::MissingClaim("iss"))),
            (
                "a header naming alg twice",
                format!(
                    "{}.{}.",
                    b64::url_encode(br#"{"alg":"RS256","alg":"none"}"#),
                    b64::url_encode(good.to_string().as_bytes())
                ),
                Err(TokenError::Malformed("the header repeats a member name".into())),
            ),
            (
                "claims naming sub twice",
                jwt_raw(
                    r#"{"alg":"RS256","kid":"a"}"#,
                    &good.to_string().replacen('{', r#"{"sub":"system:serviceaccount:kube-system:admin","#, 1),
                    |m| w.rsa_a.sign(Algorithm::RS256, m),
                ),
                Err(TokenError::Malformed("the claims part repeats a member name".into())),
            ),
            ("padded base64", format!("{good_rs}="), Err(TokenError::Malformed("the signature is not base64url".into()))),
            ("empty", String::new(), Err(TokenError::Malformed("not three dot-separated parts (header.claims.signature)".into()))),
        ];
        for (name, token, want) in cases {
            let got = w.issuers.verify(&token, NOW).map(|_| ());
            match (&got, &want) {
                (Err(TokenError::TooLarge { max, .. }), Err(TokenError::TooLarge { max: want_max, .. })) => {
                    assert_eq!(max, want_max, "{name}")
                }
                _ => assert_eq!(got, want, "{name}"),
            }
        }
    }

    #[test]
    fn verified_fields() {
        let w = world();
        let token = rs(&w.rsa_a, "RS256", "a", &sa_claims(ISS, "keyless"));
        let v = w.issuers.verify(&token, NOW).unwrap();
        assert_eq!(v.issuer, ISS);
        assert_eq!(v.subject, "system:serviceaccount:apps:litestream");
        assert_eq!(v.audiences, vec!["keyless".to_owned()]);
        assert_eq!(
            (v.expires_at, v.issued_at, v.not_before),
            (NOW + 3600, Some(NOW - 60), Some(NOW - 60))
        );
        assert_eq!((v.algorithm, v.key_id.as_deref()), (Algorithm::RS256, Some("a")));
        let k = v.kubernetes.unwrap();
        assert_eq!(k.namespace, "apps");
        assert_eq!(k.service_account.name, "litestream");
        assert_eq!(k.pod.unwrap().name, "litestream-0");
        assert_eq!(k.node.unwrap().name, "node-1");
        // A token verified against one issuer directly, and the foreign set refusing ours.
        let foreign = w.issuers.get(FOREIGN).unwrap();
        assert!(matches!(
            verify(&token, foreign, NOW, &Validation::default()),
            Err(TokenError::BadSignature { .. })
        ));
        // Verified directly against one issuer, a token claiming another `iss` but signed by this
        // issuer's key is refused on the exact-issuer rule.
        let ours = w.issuers.get(ISS).unwrap();
        let claims = sa_claims("https://kubernetes.default.svc.cluster.local/", "keyless");
        let t = rs(&w.rsa_a, "RS256", "a", &claims);
        assert_eq!(
            verify(&t, ours, NOW, &Validation::default()).map(|_| ()),
            Err(TokenError::WrongIssuer {
                expected: ISS.into(),
                found: format!("{ISS}/")
            })
        );
        let _ = &w.rsa_b;
    }

    #[test]
    fn host_path_table() {
        for (iss, want) in [
            (
                "https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE",
                "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE",
            ),
            ("https://kubernetes.default.svc", "kubernetes.default.svc"),
            ("https://issuer.example/", "issuer.example"),
            ("http://127.0.0.1:8080/dev", "127.0.0.1:8080/dev"),
            ("issuer.example/x", "issuer.example/x"),
        ] {
            assert_eq!(issuer_host_path(iss), want, "{iss}");
        }
    }
}
