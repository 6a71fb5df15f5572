//! JSON Web Key Sets: the public keys one issuer signs its tokens with.
//!
//! Parses what `kubectl get --raw /openid/v1/jwks` prints (RSA keys with `kty`, `alg`, `use`, `kid`,
//! `n`, `e`) and EC keys (`crv`, `x`, `y`) into a [`KeySet`]. Keys that cannot sign a token we accept
//! (`use` other than `sig`, symmetric `oct` keys, unknown key types or algorithms) are skipped, not
//! fatal: an issuer may publish keys for other purposes. A set that carries *private* key material is
//! refused outright — somebody pasted the wrong file, and it must not sit in a config.

use serde::Deserialize;
use thiserror::Error;

use crate::b64;

/// The signature algorithms keyless accepts. There is deliberately no `none` and no HMAC member:
/// a token naming them cannot even be represented.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
}

impl Algorithm {
    /// The JOSE name (`"RS256"`); `None` for every name keyless refuses (`none`, `HS256`, `ES512`...).
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "RS256" => Self::RS256,
            "RS384" => Self::RS384,
            "RS512" => Self::RS512,
            "PS256" => Self::PS256,
            "PS384" => Self::PS384,
            "PS512" => Self::PS512,
            "ES256" => Self::ES256,
            "ES384" => Self::ES384,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::RS512 => "RS512",
            Self::PS256 => "PS256",
            Self::PS384 => "PS384",
            Self::PS512 => "PS512",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
        }
    }

    /// Whether a key of this shape can verify this algorithm: RSA keys for RS*/PS*, and an EC key
    /// only for the algorithm of its own curve (P-256 ↔ ES256, P-384 ↔ ES384).
    pub fn fits(self, key: &PublicKey) -> bool {
        matches!(
            (self, key),
            (
                Self::RS256 | Self::RS384 | Self::RS512 | Self::PS256 | Self::PS384 | Self::PS512,
                PublicKey::Rsa { .. }
            ) | (Self::ES256, PublicKey::Ec { curve: Curve::P256, .. })
                | (Self::ES384, PublicKey::Ec { curve: Curve::P384, .. })
        )
    }
}

/// The elliptic curves keyless accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Curve {
    P256,
    P384,
}

impl Curve {
    fn coordinate_len(self) -> usize {
        match self {
            Self::P256 => 32,
            Self::P384 => 48,
        }
    }
}

/// A public key's material.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublicKey {
    /// Big-endian modulus and exponent, as in the JWK's `n` and `e`.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// The uncompressed point `0x04 || x || y`.
    Ec { curve: Curve, point: Vec<u8> },
}

/// One verification key of an issuer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Jwk {
    /// The key id tokens name in their `kid` header.
    pub kid: Option<String>,
    /// The one algorithm this key may be used with, when the JWK says (`alg`).
    pub alg: Option<Algorithm>,
    pub key: PublicKey,
}

impl Jwk {
    /// Whether a token signed with `alg` may be checked with this key: the algorithm fits the key
    /// type, and equals the JWK's own `alg` when it has one.
    pub fn accepts(&self, alg: Algorithm) -> bool {
        alg.fits(&self.key) && self.alg.is_none_or(|own| own == alg)
    }
}

/// The verification keys of one issuer. Never mixed across issuers: a `kid` means something only
/// within its own issuer's set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeySet {
    keys: Vec<Jwk>,
}

/// Why a JWKS document was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum JwksError {
    #[error("the JWKS is not valid JSON of the form {{\"keys\": [...]}}: {0}")]
    NotJson(String),
    #[error("JWKS key {index} (kid {kid:?}) is malformed: {reason}")]
    BadKey {
        index: usize,
        kid: Option<String>,
        reason: String,
    },
    #[error("JWKS key {index} (kid {kid:?}) contains private key material; publish only the public keys")]
    PrivateKey { index: usize, kid: Option<String> },
    #[error("JWKS has two keys with kid {0:?}")]
    DuplicateKid(String),
}

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<serde_json::Map<String, serde_json::Value>>,
}

impl KeySet {
    /// Parses a JWKS document (`{"keys": [...]}`).
    pub fn from_json(json: &str) -> Result<Self, JwksError> {
        // serde also reads a struct from a JSON array (`[[...]]` would be a key set); a JWKS is an
        // object, and anything else is the wrong document.
        if !json.trim_start().starts_with('{') {
            return Err(JwksError::NotJson("the document is not a JSON object".into()));
        }
        let raw: RawSet = serde_json::from_str(json).map_err(|e| JwksError::NotJson(e.to_string()))?;
        let mut keys: Vec<Jwk> = Vec::new();
        for (index, fields) in raw.keys.iter().enumerate() {
            let text = |name: &str| fields.get(name).and_then(|v| v.as_str());
            let kid = text("kid").map(str::to_owned);
            let bad = |reason: &str| JwksError::BadKey {
                index,
                kid: kid.clone(),
                reason: reason.to_owned(),
            };
            if ["d", "p", "q", "dp", "dq", "qi", "k"]
                .iter()
                .any(|f| fields.contains_key(*f))
            {
                return Err(JwksError::PrivateKey { index, kid });
            }
            if text("use").is_some_and(|u| u != "sig") {
                continue;
            }
            let alg = match text("alg") {
                None => None,
                Some(name) => match Algorithm::from_name(name) {
                    Some(alg) => Some(alg),
                    None => continue, // a key for an algorithm we refuse can never verify anything
                },
            };
            let b64field = |name: &str| -> Result<Vec<u8>, JwksError> {
                let s = text(name).ok_or_else(|| bad(&format!("missing \"{name}\"")))?;
                b64::url_decode(s).ok_or_else(|| bad(&format!("\"{name}\" is not base64url")))
            };
            let key = match text("kty") {
                Some("RSA") => {
                    let n = strip_zeros(b64field("n")?);
                    let e = strip_zeros(b64field("e")?);
                    if n.len() * 8 < 2048 {
                        return Err(bad("RSA modulus shorter than 2048 bits"));
                    }
                    PublicKey::Rsa { n, e }
                }
                Some("EC") => {
                    let curve = match text("crv") {
                        Some("P-256") => Curve::P256,
                        Some("P-384") => Curve::P384,
                        _ => continue,
                    };
                    let (x, y) = (b64field("x")?, b64field("y")?);
                    let len = curve.coordinate_len();
                    if x.len() != len || y.len() != len {
                        return Err(bad("EC coordinate has the wrong length for its curve"));
                    }
                    let mut point = Vec::with_capacity(1 + 2 * len);
                    point.push(4);
                    point.extend_from_slice(&x);
                    point.extend_from_slice(&y);
                    PublicKey::Ec { curve, point }
                }
                Some(_) => continue,
                None => return Err(bad("missing \"kty\"")),
            };
            let jwk = Jwk {
                kid: kid.clone(),
                alg,
                key,
            };
            if let Some(alg) = jwk.alg
                && !alg.fits(&jwk.key)
            {
                return Err(bad(&format!("alg {} does not fit the key type", alg.name())));
            }
            if let Some(kid) = &jwk.kid
                && keys.iter().any(|k| k.kid.as_ref() == Some(kid))
            {
                return Err(JwksError::DuplicateKid(kid.clone()));
            }
            keys.push(jwk);
        }
        Ok(Self { keys })
    }

    /// A set of the given keys (for configuration built in code, and tests).
    pub fn from_keys(keys: Vec<Jwk>) -> Self {
        Self { keys }
    }

    pub fn keys(&self) -> &[Jwk] {
        &self.keys
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key a token with header `kid` and `alg` must be verified with. With a `kid`, only the key
    /// of that id. Without one, the single key that accepts `alg` — never a guess among several.
    pub fn select(&self, kid: Option<&str>, alg: Algorithm) -> Result<&Jwk, KeySelectError> {
        match kid {
            Some(kid) => {
                let key = self
                    .keys
                    .iter()
                    .find(|k| k.kid.as_deref() == Some(kid))
                    .ok_or(KeySelectError::UnknownKid)?;
                if key.accepts(alg) {
                    Ok(key)
                } else {
                    Err(KeySelectError::AlgorithmMismatch)
                }
            }
            None => {
                let mut fitting = self.keys.iter().filter(|k| k.accepts(alg));
                match (fitting.next(), fitting.next()) {
                    (Some(key), None) => Ok(key),
                    (None, _) => Err(KeySelectError::UnknownKid),
                    (Some(_), Some(_)) => Err(KeySelectError::Ambiguous),
                }
            }
        }
    }
}

/// Why no key could be chosen for a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeySelectError {
    /// No key has the token's `kid` (or, without a `kid`, none fits its algorithm).
    UnknownKid,
    /// The key of that `kid` is of another type or pinned to another algorithm.
    AlgorithmMismatch,
    /// No `kid`, and several keys could fit.
    Ambiguous,
}

fn strip_zeros(mut v: Vec<u8>) -> Vec<u8> {
    let zeros = v.iter().take_while(|b| **b == 0).count();
    v.drain(..zeros);
    v
}

#[cfg(test)]
#[allow(clippy::type_complexity)] // test tables are tuples
mod tests {
    use super::*;
    use crate::testkit;

    fn check(json: &str, expect: Result<Vec<(Option<&str>, Option<Algorithm>, &str)>, &str>) {
        let got = KeySet::from_json(json).map(|set| {
            set.keys
                .iter()
                .map(|k| {
                    let kind = match &k.key {
                        PublicKey::Rsa { .. } => "RSA",
                        PublicKey::Ec { curve: Curve::P256, .. } => "P-256",
                        PublicKey::Ec { curve: Curve::P384, .. } => "P-384",
                    };
                    (k.kid.clone(), k.alg, kind)
                })
                .collect::<Vec<_>>()
        });
        match (got, expect) {
            (Ok(got), Ok(want)) => {
                let want: Vec<_> = want.into_iter().map(|(k, a, t)| (k.map(str::to_owned), a, t)).collect();
                assert_eq!(got, want, "{json}");
            }
            (Err(e), Err(want)) => assert!(e.to_string().contains(want), "{json}: {e} does not contain {want}"),
            (got, want) => panic!("{json}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn parse_table() {
        let rsa = testkit::rsa_a();
        let (n, e) = (rsa.n_b64(), rsa.e_b64());
        let ec = testkit::ec256();
        let (x, y) = ec.xy_b64();
        let ec384 = testkit::ec384();
        let (x3, y3) = ec384.xy_b64();
        let k8s = format!(r#"{{"keys":[{{"use":"sig","kty":"RSA","kid":"k1","alg":"RS256","n":"{n}","e":"{e}"}}]}}"#);
        check(&k8s, Ok(vec![(Some("k1"), Some(Algorithm::RS256), "RSA")]));
        check(
            &format!(
                r#"{{"keys":[{{"kty":"EC","crv":"P-256","x":"{x}","y":"{y}"}},{{"kty":"EC","crv":"P-384","kid":"e3","x":"{x3}","y":"{y3}"}}]}}"#
            ),
            Ok(vec![(None, None, "P-256"), (Some("e3"), None, "P-384")]),
        );
        // Skipped: encryption keys, symmetric keys' algorithms, unknown kty and curves.
        check(
            &format!(
                r#"{{"keys":[{{"use":"enc","kty":"RSA","n":"{n}","e":"{e}"}},{{"kty":"OKP","crv":"Ed25519","x":"AA"}},
                {{"kty":"EC","crv":"P-521","x":"AA","y":"AA"}},{{"kty":"RSA","alg":"HS256","n":"{n}","e":"{e}"}},
                {{"kty":"RSA","alg":"none","n":"{n}","e":"{e}"}}]}}"#
            ),
            Ok(vec![]),
        );
        check(
            r#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#,
            Err("private key material"),
        );
        check(
            &format!(r#"{{"keys":[{{"kty":"RSA","n":"{n}","e":"{e}","d":"AQAB"}}]}}"#),
            Err("private key"),
        );
        check(
            r#"{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}"#,
            Err("shorter than 2048"),
        );
        check(
            &format!(r#"{{"keys":[{{"kty":"RSA","n":"{n}"}}]}}"#),
            Err("missing \"e\""),
        );
        check(
            &format!(r#"{{"keys":[{{"kty":"RSA","n":"{n}=","e":"{e}"}}]}}"#),
            Err("not base64url"),
        );
        check(
            &format!(r#"{{"keys":[{{"n":"{n}","e":"{e}"}}]}}"#),
            Err("missing \"kty\""),
        );
        check(
            &format!(r#"{{"keys":[{{"kty":"RSA","alg":"ES256","n":"{n}","e":"{e}"}}]}}"#),
            Err("does not fit"),
        );
        check(
            &format!(r#"{{"keys":[{{"kty":"EC","crv":"P-256","x":"{x3}","y":"{y3}"}}]}}"#),
            Err("wrong length"),
        );
        check(
            &format!(
                r#"{{"keys":[{{"kty":"RSA","kid":"a","n":"{n}","e":"{e}"}},{{"kty":"RSA","kid":"a","n":"{n}","e":"{e}"}}]}}"#
            ),
            Err("two keys with kid \"a\""),
        );
        check("[]", Err("not valid JSON"));
        // Fuzz finding (fuzz/corpus/jwks/regression-array-form): serde's array form of a struct.
        check("[[]]", Err("not valid JSON"));
        check(
            &format!(r#" [[{{"kty":"RSA","n":"{n}","e":"{e}"}}]]"#),
            Err("not valid JSON"),
        );
        check("{}", Err("not valid JSON"));
        check(r#"{"keys":[]}"#, Ok(vec![]));
    }

    #[test]
    fn select_table() {
        let rsa = testkit::rsa_a().jwk(Some("r"), None);
        let pinned = testkit::rsa_b().jwk(Some("p"), Some(Algorithm::PS256));
        let ec = testkit::ec256().jwk(Some("e"));
        let set = KeySet::from_keys(vec![rsa, pinned, ec.clone()]);
        use Algorithm::*;
        let cases: &[(Option<&str>, Algorithm, Result<&str, KeySelectError>)] = &[
            (Some("r"), RS256, Ok("r")),
            (Some("r"), PS512, Ok("r")),
            (Some("r"), ES256, Err(KeySelectError::AlgorithmMismatch)),
            (Some("p"), PS256, Ok("p")),
            (Some("p"), RS256, Err(KeySelectError::AlgorithmMismatch)),
            (Some("e"), ES256, Ok("e")),
            (Some("e"), ES384, Err(KeySelectError::AlgorithmMismatch)),
            (Some("nope"), RS256, Err(KeySelectError::UnknownKid)),
            (None, ES256, Ok("e")),
            (None, ES384, Err(KeySelectError::UnknownKid)),
            (None, RS256, Ok("r")), // "p" is pinned to PS256, so "r" is the one key that fits
            (None, PS256, Err(KeySelectError::Ambiguous)),
        ];
        for (kid, alg, want) in cases {
            let got = set.select(*kid, *alg).map(|k| k.kid.as_deref().unwrap());
            assert_eq!(got, *want, "{kid:?} {alg:?}");
        }
        let two_rsa = KeySet::from_keys(vec![testkit::rsa_a().jwk(None, None), testkit::rsa_b().jwk(None, None)]);
        assert_eq!(two_rsa.select(None, RS256).map(|_| ()), Err(KeySelectError::Ambiguous));
    }
}
