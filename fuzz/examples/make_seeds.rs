//! Writes the seeds that need real signatures (tokens, JWKS documents, STS bodies carrying a token)
//! into `fuzz/corpus/<target>/`. The keys are fixed and the targets' clock is `NOW`, so these stay
//! valid; rerun only when a seed's shape should change:
//!
//!     cd fuzz && cargo +nightly run --example make_seeds
//!
//! The plain-text seeds (policies, pods, form bodies) are written by hand next to these.

use std::fs;
use std::path::Path;

use keyless_fuzz::keys::{self, ISS_B, Signer};
use serde_json::json;

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(target);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(name), bytes).unwrap();
}

/// The JWT target's structured input: mode, signer, position, xor, `header \0 claims`.
fn jwt_structured(mode: u8, signer: u8, pos: u16, xor: u8, header: &str, claims: &str) -> Vec<u8> {
    let mut v = vec![mode, signer];
    v.extend_from_slice(&pos.to_le_bytes());
    v.push(xor);
    v.extend_from_slice(header.as_bytes());
    v.push(0);
    v.extend_from_slice(claims.as_bytes());
    v
}

fn jwt_raw(token: &str) -> Vec<u8> {
    let mut v = vec![0, 0, 0, 0, 0];
    v.extend_from_slice(token.as_bytes());
    v
}

fn main() {
    let claims = keys::sa_claims();
    let claims_s = claims.to_string();
    let mut b_claims = claims.clone();
    b_claims["iss"] = json!(ISS_B);
    b_claims["aud"] = json!("vault");
    let b_claims = b_claims.to_string();

    let rs = keys::jwt(
        br#"{"alg":"RS256","kid":"k","typ":"JWT"}"#,
        claims_s.as_bytes(),
        Signer::RsaA,
    );
    let es = keys::jwt(br#"{"alg":"ES256","kid":"e"}"#, claims_s.as_bytes(), Signer::Ec);
    let b = keys::jwt(br#"{"alg":"RS256","kid":"k"}"#, b_claims.as_bytes(), Signer::RsaB);
    let hs = keys::jwt(
        br#"{"alg":"HS256","kid":"k"}"#,
        claims_s.as_bytes(),
        Signer::HmacWithPublicKey,
    );
    let none = keys::jwt(br#"{"alg":"none"}"#, claims_s.as_bytes(), Signer::Empty);
    let jku = keys::jwt(
        br#"{"alg":"RS256","jku":"https://evil.example/jwks","kid":"k"}"#,
        claims_s.as_bytes(),
        Signer::RsaA,
    );
    // rsa-b's signature presented as ISS_A's (the same kid names another key there).
    let cross = keys::jwt(br#"{"alg":"RS256","kid":"k"}"#, claims_s.as_bytes(), Signer::RsaB);
    for (name, token) in [
        ("raw-rs256-valid", &rs),
        ("raw-es256-valid", &es),
        ("raw-issuer-b-valid", &b),
        ("raw-hs256-confusion", &hs),
        ("raw-alg-none", &none),
        ("raw-jku", &jku),
        ("raw-cross-issuer-kid", &cross),
    ] {
        write("jwt", name, &jwt_raw(token));
    }
    let h_rs = r#"{"alg":"RS256","kid":"k"}"#;
    let h_es = r#"{"alg":"ES256","kid":"e"}"#;
    let structured = [
        ("signed-rs256", jwt_structured(1, 0, 0, 0, h_rs, &claims_s)),
        ("signed-es256", jwt_structured(1, 2, 0, 0, h_es, &claims_s)),
        ("signed-issuer-b", jwt_structured(1, 1, 0, 0, h_rs, &b_claims)),
        ("signed-b-as-a", jwt_structured(1, 1, 0, 0, h_rs, &claims_s)),
        (
            "signed-hmac",
            jwt_structured(1, 3, 0, 0, r#"{"alg":"HS256","kid":"k"}"#, &claims_s),
        ),
        (
            "signed-none",
            jwt_structured(1, 4, 0, 0, r#"{"alg":"none"}"#, &claims_s),
        ),
        (
            "signed-no-kid",
            jwt_structured(1, 2, 0, 0, r#"{"alg":"ES256"}"#, &claims_s),
        ),
        (
            "signed-ps256-header",
            jwt_structured(1, 0, 0, 0, r#"{"alg":"PS256","kid":"k"}"#, &claims_s),
        ),
        ("flip-claims", jwt_structured(1, 0, 60, 4, h_rs, &claims_s)),
        ("flip-header", jwt_structured(1, 2, 5, 1, h_es, &claims_s)),
        ("flip-signature", jwt_structured(1, 0, 700, 2, h_rs, &claims_s)),
        (
            "signed-dup-alg",
            jwt_structured(1, 0, 0, 0, r#"{"alg":"RS256","alg":"none","kid":"k"}"#, &claims_s),
        ),
        (
            "signed-float-exp",
            jwt_structured(
                1,
                0,
                0,
                0,
                h_rs,
                &claims_s.replace(&format!("\"exp\":{}", keyless_fuzz::NOW + 3600), "\"exp\":1.9e18"),
            ),
        ),
        (
            "signed-aud-string",
            jwt_structured(
                1,
                2,
                0,
                0,
                h_es,
                &claims_s.replace("[\"sts.amazonaws.com\"]", "\"keyless\""),
            ),
        ),
    ];
    for (name, input) in structured {
        write("jwt", name, &input);
    }

    // JWKS documents: the two issuers' sets, and sets with keys that must be skipped or refused.
    let a = keys::rsa_jwk(keys::rsa_a(), "k");
    let e = keys::ec_jwk("e");
    let jwks = [
        ("issuer-a", keys::jwks_a()),
        ("issuer-b", keys::jwks_b()),
        (
            "pinned-and-skipped",
            json!({"keys": [
                {"kty": a["kty"], "n": a["n"], "e": a["e"], "alg": "RS256", "kid": "pinned"},
                {"kty": "RSA", "use": "enc", "n": a["n"], "e": a["e"], "kid": "enc"},
                {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
                {"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA"},
                e,
            ]})
            .to_string(),
        ),
        (
            "no-kids",
            json!({"keys": [{"kty": "RSA", "n": a["n"], "e": a["e"]}, {"kty": "EC", "crv": "P-256", "x": e["x"], "y": e["y"]}]})
                .to_string(),
        ),
        (
            "private",
            json!({"keys": [{"kty": "RSA", "n": a["n"], "e": a["e"], "d": "AQAB"}]}).to_string(),
        ),
        ("symmetric", r#"{"keys":[{"kty":"oct","k":"c2VjcmV0","alg":"HS256"}]}"#.to_owned()),
        ("short-rsa", r#"{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}"#.to_owned()),
        (
            "exponent-odd",
            json!({"keys": [{"kty": "RSA", "kid": "k", "n": a["n"], "e": "AAAAAAAAAQAB"}]}).to_string(),
        ),
        (
            "ec-wrong-curve",
            json!({"keys": [{"kty": "EC", "crv": "P-384", "kid": "e", "x": e["x"], "y": e["y"]}]}).to_string(),
        ),
        ("empty", r#"{"keys":[]}"#.to_owned()),
    ];
    for (name, doc) in jwks {
        write("jwks", name, doc.as_bytes());
    }

    // STS bodies that reach the trust policy and the minting with a real token.
    let enc = |s: &str| {
        s.replace('%', "%25")
            .replace('+', "%2B")
            .replace('&', "%26")
            .replace('=', "%3D")
    };
    let sts = [
        (
            "assume-valid",
            format!(
                "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fapp&RoleSessionName=s1&WebIdentityToken={}",
                enc(&rs)
            ),
        ),
        (
            "assume-es256-duration-policy",
            format!(
                "Action=AssumeRoleWithWebIdentity&RoleArn=arn:aws:iam::123456789012:role/app&RoleSessionName=web.identity@x&DurationSeconds=7200&WebIdentityToken={}&Policy={}",
                enc(&es),
                enc(
                    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#
                )
            ),
        ),
        (
            "assume-issuer-b",
            format!(
                "Action=AssumeRoleWithWebIdentity&RoleArn=arn:aws:iam::123456789012:role/app&RoleSessionName=ss&WebIdentityToken={}",
                enc(&b)
            ),
        ),
        (
            "assume-too-long",
            format!(
                "Action=AssumeRoleWithWebIdentity&RoleArn=arn:aws:iam::123456789012:role/app&RoleSessionName=ss&DurationSeconds=43200&WebIdentityToken={}",
                enc(&rs)
            ),
        ),
    ];
    for (name, body) in sts {
        let mut v = vec![0u8];
        v.extend_from_slice(body.as_bytes());
        write("sts", name, &v);
    }
    println!("seeds written");
}
