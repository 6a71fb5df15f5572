//! Test helpers: real keys (RSA from committed PKCS#1 DER files, made once with `openssl genpkey`, EC generated per run) and a JWT
//! builder that signs whatever header and claims a test hands it, hostile ones included.

use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use serde_json::Value;

use crate::b64;
use crate::jwks::{Algorithm, Curve, Jwk, PublicKey};

pub struct Rsa {
    kp: RsaKeyPair,
}

pub fn rsa_a() -> Rsa {
    Rsa {
        kp: RsaKeyPair::from_der(include_bytes!("../tests/data/rsa-a.der")).unwrap(),
    }
}
pub fn rsa_b() -> Rsa {
    Rsa {
        kp: RsaKeyPair::from_der(include_bytes!("../tests/data/rsa-b.der")).unwrap(),
    }
}

impl Rsa {
    fn components(&self) -> (Vec<u8>, Vec<u8>) {
        let c = signature::RsaPublicKeyComponents::<Vec<u8>>::from(self.kp.public());
        (c.n, c.e)
    }
    pub fn n_b64(&self) -> String {
        b64::url_encode(&self.components().0)
    }
    pub fn e_b64(&self) -> String {
        b64::url_encode(&self.components().1)
    }
    /// The public key as DER `RSAPublicKey` bytes — what an HMAC-confusion attack signs with.
    pub fn public_der(&self) -> Vec<u8> {
        self.kp.public().as_ref().to_vec()
    }
    pub fn jwk(&self, kid: Option<&str>, alg: Option<Algorithm>) -> Jwk {
        let (n, e) = self.components();
        Jwk {
            kid: kid.map(str::to_owned),
            alg,
            key: PublicKey::Rsa { n, e },
        }
    }
    pub fn sign(&self, alg: Algorithm, msg: &[u8]) -> Vec<u8> {
        let enc: &'static dyn signature::RsaEncoding = match alg {
            Algorithm::RS256 => &signature::RSA_PKCS1_SHA256,
            Algorithm::RS384 => &signature::RSA_PKCS1_SHA384,
            Algorithm::RS512 => &signature::RSA_PKCS1_SHA512,
            Algorithm::PS256 => &signature::RSA_PSS_SHA256,
            Algorithm::PS384 => &signature::RSA_PSS_SHA384,
            Algorithm::PS512 => &signature::RSA_PSS_SHA512,
            _ => panic!("not an RSA algorithm"),
        };
        let mut sig = vec![0; self.kp.public().modulus_len()];
        self.kp.sign(enc, &SystemRandom::new(), msg, &mut sig).unwrap();
        sig
    }
}

pub struct Ec {
    kp: EcdsaKeyPair,
    curve: Curve,
}

fn ec(curve: Curve) -> Ec {
    let alg = match curve {
        Curve::P256 => &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        Curve::P384 => &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
    };
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
    Ec {
        kp: EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap(),
        curve,
    }
}
pub fn ec256() -> Ec {
    ec(Curve::P256)
}
pub fn ec384() -> Ec {
    ec(Curve::P384)
}

impl Ec {
    pub fn xy_b64(&self) -> (String, String) {
        let point = self.kp.public_key().as_ref();
        let len = (point.len() - 1) / 2;
        (b64::url_encode(&point[1..1 + len]), b64::url_encode(&point[1 + len..]))
    }
    pub fn jwk(&self, kid: Option<&str>) -> Jwk {
        Jwk {
            kid: kid.map(str::to_owned),
            alg: None,
            key: PublicKey::Ec {
                curve: self.curve,
                point: self.kp.public_key().as_ref().to_vec(),
            },
        }
    }
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.kp.sign(&SystemRandom::new(), msg).unwrap().as_ref().to_vec()
    }
}

/// `header.claims.signature` with the signature computed over the first two parts by `sign`.
pub fn jwt(header: &Value, claims: &Value, sign: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
    let signing_input = format!(
        "{}.{}",
        b64::url_encode(header.to_string().as_bytes()),
        b64::url_encode(claims.to_string().as_bytes())
    );
    let sig = sign(signing_input.as_bytes());
    format!("{signing_input}.{}", b64::url_encode(&sig))
}

/// A fixed "now" for every table: 2026-03-01T12:00:00Z.
pub const NOW: i64 = 1_772_366_400;

/// The claims of a projected ServiceAccount token for `apps/litestream`, valid around [`NOW`].
pub fn sa_claims(iss: &str, aud: &str) -> Value {
    serde_json::json!({
        "aud": [aud],
        "exp": NOW + 3600,
        "iat": NOW - 60,
        "nbf": NOW - 60,
        "iss": iss,
        "sub": "system:serviceaccount:apps:litestream",
        "kubernetes.io": {
            "namespace": "apps",
            "node": {"name": "node-1", "uid": "6a1c2f7e-0000-4000-8000-000000000001"},
            "pod": {"name": "litestream-0", "uid": "6a1c2f7e-0000-4000-8000-000000000002"},
            "serviceaccount": {"name": "litestream", "uid": "6a1c2f7e-0000-4000-8000-000000000003"}
        }
    })
}

/// A deterministic [`crate::Random`]: a counter, so minted ids and tokens are reproducible.
#[derive(Default)]
pub struct CountingRandom(std::cell::Cell<u8>);

impl crate::Random for CountingRandom {
    fn fill(&self, dest: &mut [u8]) {
        for b in dest {
            *b = self.0.get();
            self.0.set(self.0.get().wrapping_add(1));
        }
    }
}
