//! JWKS documents: parse, then use the key set.
//!
//! Input: a JWKS document (what an issuer serves at its `jwks_uri`, or a configured file).
//!
//! Asserts: nothing panics; a set that parses has only keys keyless can use (RSA moduli of at
//! least 2048 bits, uncompressed P-256/P-384 points of the right length, `alg` fitting the key type,
//! unique kids, no private material in the source); selecting a key for every algorithm, with and
//! without a kid, never panics; and a fixed token signed with rsa-a (or the EC key) verifies under
//! the parsed set only if the set really holds that signer's public key.
#![no_main]

use std::sync::OnceLock;

use keyless_fuzz::NOW;
use keyless_fuzz::keys::{self, ISS_A, Signer};
use keyless_identity::jwks::{Algorithm, Curve, KeySet, PublicKey};
use keyless_identity::token::{Issuer, Validation, verify};
use libfuzzer_sys::fuzz_target;
use ring::signature::KeyPair;

fn tokens() -> &'static [(String, Signer); 2] {
    static T: OnceLock<[(String, Signer); 2]> = OnceLock::new();
    T.get_or_init(|| {
        let claims = keys::sa_claims().to_string();
        [
            (
                keys::jwt(br#"{"alg":"RS256","kid":"k"}"#, claims.as_bytes(), Signer::RsaA),
                Signer::RsaA,
            ),
            (
                keys::jwt(br#"{"alg":"ES256","kid":"e"}"#, claims.as_bytes(), Signer::Ec),
                Signer::Ec,
            ),
        ]
    })
}

fuzz_target!(|data: &[u8]| {
    let json = String::from_utf8_lossy(data);
    let Ok(set) = KeySet::from_json(&json) else { return };
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    for (i, raw) in value["keys"].as_array().unwrap().iter().enumerate() {
        for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            assert!(
                raw.get(private).is_none(),
                "key {i} carries {private:?} and was accepted"
            );
        }
    }
    let mut kids = Vec::new();
    for k in set.keys() {
        match &k.key {
            PublicKey::Rsa { n, .. } => assert!(n.len() >= 256 && n[0] != 0, "short modulus accepted"),
            PublicKey::Ec { curve, point } => {
                let len = match curve {
                    Curve::P256 => 65,
                    Curve::P384 => 97,
                };
                assert!(point.len() == len && point[0] == 4);
            }
        }
        if let Some(alg) = k.alg {
            assert!(alg.fits(&k.key));
        }
        if let Some(kid) = &k.kid {
            assert!(!kids.contains(&kid), "duplicate kid {kid:?}");
            kids.push(kid);
        }
    }
    use Algorithm::*;
    for alg in [RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384] {
        let _ = set.select(None, alg);
        for kid in &kids {
            if let Ok(k) = set.select(Some(kid), alg) {
                assert!(k.accepts(alg));
            }
        }
    }
    let rsa_n = ring::signature::RsaPublicKeyComponents::<Vec<u8>>::from(keys::rsa_a().public()).n;
    let ec_point = keys::ec().public_key().as_ref().to_vec();
    let issuer = Issuer::new(ISS_A, set.clone());
    for (token, signer) in tokens() {
        if verify(token, &issuer, NOW, &Validation::default()).is_ok() {
            let holds = set.keys().iter().any(|k| match (&k.key, signer) {
                (PublicKey::Rsa { n, .. }, Signer::RsaA) => {
                    n.as_slice() == &rsa_n[rsa_n.iter().take_while(|b| **b == 0).count()..]
                }
                (PublicKey::Ec { point, .. }, Signer::Ec) => *point == ec_point,
                _ => false,
            });
            assert!(holds, "a {signer:?} token verified under a set without its key");
        }
    }
});
