//! The fixed keys the token targets sign with, and a JWT builder that signs whatever header and
//! claims bytes it is handed (hostile ones included).
//!
//! - `rsa-a`, `rsa-b`: the identity crate's committed RSA test keys (`crates/identity/tests/data`);
//! - `ec`: a P-256 key (PKCS#8, `fuzz/keys/ec-p256.pk8`, made once with ring's `EcdsaKeyPair::generate_pkcs8`).
//!
//! They protect nothing. Two issuers trust them: [`ISS_A`] (rsa-a as kid `k`, the EC key as kid `e`,
//! audiences `sts.amazonaws.com` and `keyless`) and [`ISS_B`] (rsa-b, also as kid `k`: the same kid
//! names another key in another issuer).

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyless_identity::jwks::KeySet;
use keyless_identity::token::{Issuer, Issuers, Validation};
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use serde_json::json;

pub const ISS_A: &str = "https://kubernetes.default.svc.cluster.local";
pub const ISS_B: &str = "https://oidc.other-cluster.example/id/B";
pub const AUDIENCES_A: [&str; 2] = ["sts.amazonaws.com", "keyless"];
pub const LEEWAY: i64 = 60;

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s).ok()
}

pub fn rsa_a() -> &'static RsaKeyPair {
    static K: OnceLock<RsaKeyPair> = OnceLock::new();
    K.get_or_init(|| RsaKeyPair::from_der(include_bytes!("../../crates/identity/tests/data/rsa-a.der")).unwrap())
}

pub fn rsa_b() -> &'static RsaKeyPair {
    static K: OnceLock<RsaKeyPair> = OnceLock::new();
    K.get_or_init(|| RsaKeyPair::from_der(include_bytes!("../../crates/identity/tests/data/rsa-b.der")).unwrap())
}

pub fn ec() -> &'static EcdsaKeyPair {
    static K: OnceLock<EcdsaKeyPair> = OnceLock::new();
    K.get_or_init(|| {
        EcdsaKeyPair::from_pkcs8(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            include_bytes!("../keys/ec-p256.pk8"),
            &ring::rand::SystemRandom::new(),
        )
        .unwrap()
    })
}

/// The JWK (public part) of an RSA key pair.
pub fn rsa_jwk(kp: &RsaKeyPair, kid: &str) -> serde_json::Value {
    let c = signature::RsaPublicKeyComponents::<Vec<u8>>::from(kp.public());
    json!({"kty": "RSA", "use": "sig", "kid": kid, "n": b64(&c.n), "e": b64(&c.e)})
}

/// The JWK of the EC key.
pub fn ec_jwk(kid: &str) -> serde_json::Value {
    let point = ec().public_key().as_ref();
    json!({"kty": "EC", "crv": "P-256", "kid": kid, "x": b64(&point[1..33]), "y": b64(&point[33..65])})
}

/// The JWKS document of [`ISS_A`].
pub fn jwks_a() -> String {
    json!({"keys": [rsa_jwk(rsa_a(), "k"), ec_jwk("e")]}).to_string()
}

/// The JWKS document of [`ISS_B`].
pub fn jwks_b() -> String {
    json!({"keys": [rsa_jwk(rsa_b(), "k")]}).to_string()
}

/// The two trusted issuers, built through `KeySet::from_json` like a configured JWKS.
pub fn issuers() -> &'static Issuers {
    static I: OnceLock<Issuers> = OnceLock::new();
    I.get_or_init(|| {
        let mut issuers = Issuers::new(Validation {
            leeway_secs: LEEWAY,
            max_token_len: keyless_identity::token::DEFAULT_MAX_TOKEN_LEN,
        });
        issuers.insert(
            Issuer::new(ISS_A, KeySet::from_json(&jwks_a()).unwrap())
                .with_audiences(AUDIENCES_A.iter().map(|a| a.to_string()).collect()),
        );
        issuers.insert(Issuer::new(ISS_B, KeySet::from_json(&jwks_b()).unwrap()));
        issuers
    })
}

/// Who signs a token in the structured JWT target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signer {
    /// RSASSA-PKCS1-v1_5 SHA-256 with rsa-a (ISS_A's key `k`).
    RsaA,
    /// The same with rsa-b (ISS_B's key `k`).
    RsaB,
    /// ECDSA P-256 SHA-256 (ISS_A's key `e`).
    Ec,
    /// HMAC-SHA256 keyed with rsa-a's public key: the algorithm-confusion attack.
    HmacWithPublicKey,
    /// No signature at all (`alg: none`).
    Empty,
}

impl Signer {
    pub fn from_byte(b: u8) -> Signer {
        match b % 5 {
            0 => Signer::RsaA,
            1 => Signer::RsaB,
            2 => Signer::Ec,
            3 => Signer::HmacWithPublicKey,
            _ => Signer::Empty,
        }
    }

    pub fn sign(self, msg: &[u8]) -> Vec<u8> {
        let rng = ring::rand::SystemRandom::new();
        match self {
            Signer::RsaA | Signer::RsaB => {
                let kp = if self == Signer::RsaA { rsa_a() } else { rsa_b() };
                let mut sig = vec![0; kp.public().modulus_len()];
                kp.sign(&signature::RSA_PKCS1_SHA256, &rng, msg, &mut sig).unwrap();
                sig
            }
            Signer::Ec => ec().sign(&rng, msg).unwrap().as_ref().to_vec(),
            Signer::HmacWithPublicKey => {
                let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, rsa_a().public().as_ref());
                ring::hmac::sign(&key, msg).as_ref().to_vec()
            }
            Signer::Empty => Vec::new(),
        }
    }

    /// The issuer whose key set holds this signer's key, if any.
    pub fn issuer(self) -> Option<&'static str> {
        match self {
            Signer::RsaA | Signer::Ec => Some(ISS_A),
            Signer::RsaB => Some(ISS_B),
            Signer::HmacWithPublicKey | Signer::Empty => None,
        }
    }

    /// The only `alg` header a token of this signer can verify under.
    pub fn alg(self) -> Option<&'static str> {
        match self {
            Signer::RsaA | Signer::RsaB => Some("RS256"),
            Signer::Ec => Some("ES256"),
            Signer::HmacWithPublicKey | Signer::Empty => None,
        }
    }
}

/// `b64(header).b64(claims).b64(signature)`, the raw header and claims bytes kept as given.
pub fn jwt(header: &[u8], claims: &[u8], signer: Signer) -> String {
    let input = format!("{}.{}", b64(header), b64(claims));
    let sig = signer.sign(input.as_bytes());
    format!("{input}.{}", b64(&sig))
}

/// The claims of a projected ServiceAccount token for `apps/litestream` of [`ISS_A`], valid at
/// [`crate::NOW`].
pub fn sa_claims() -> serde_json::Value {
    let now = crate::NOW;
    json!({
        "aud": ["sts.amazonaws.com"],
        "exp": now + 3600,
        "iat": now - 60,
        "nbf": now - 60,
        "iss": ISS_A,
        "sub": "system:serviceaccount:apps:litestream",
        "kubernetes.io": {
            "namespace": "apps",
            "pod": {"name": "litestream-0", "uid": "6a1c2f7e-0000-4000-8000-000000000002"},
            "serviceaccount": {"name": "litestream", "uid": "6a1c2f7e-0000-4000-8000-000000000003"}
        }
    })
}
