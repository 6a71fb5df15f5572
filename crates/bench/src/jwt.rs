//! The benchmark's own token issuer: a key (RSA from a PKCS#8 PEM file, e.g. `openssl genpkey
//! -algorithm RSA -pkeyopt rsa_keygen_bits:2048`, or an EC P-256 key it generates), the JWKS a
//! server trusts it by, and kubelet-shaped ServiceAccount tokens (RS256 / ES256).

use std::path::Path;

use anyhow::{Context as _, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{self, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use serde_json::json;

pub enum TokenKey {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

/// Who a token is for.
pub struct Claims<'a> {
    pub issuer: &'a str,
    pub audience: &'a str,
    pub namespace: &'a str,
    pub service_account: &'a str,
    pub lifetime_secs: u64,
}

impl TokenKey {
    /// Reads a PKCS#8 PEM key (RSA or EC P-256).
    pub fn load(path: &Path) -> Result<Self> {
        let pem = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let der = pem_body(&pem).with_context(|| format!("{}: not a PKCS#8 PEM key", path.display()))?;
        if let Ok(k) = RsaKeyPair::from_pkcs8(&der) {
            return Ok(Self::Rsa(k));
        }
        match EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der, &SystemRandom::new()) {
            Ok(k) => Ok(Self::Ec(k)),
            Err(e) => bail!("{}: neither an RSA nor an EC P-256 PKCS#8 key ({e})", path.display()),
        }
    }

    /// Generates an EC P-256 key and writes it as PKCS#8 PEM (mode 0600).
    pub fn generate_ec(path: &Path) -> Result<Self> {
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| anyhow::anyhow!("generating an EC key"))?;
        let b64 = STANDARD.encode(doc.as_ref());
        let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line)?);
            pem.push('\n');
        }
        pem.push_str("-----END PRIVATE KEY-----\n");
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("writing {}", path.display()))?;
        f.write_all(pem.as_bytes())?;
        Self::load(path)
    }

    pub fn alg(&self) -> &'static str {
        match self {
            Self::Rsa(_) => "RS256",
            Self::Ec(_) => "ES256",
        }
    }

    /// A stable key id: a hash of the public key.
    pub fn kid(&self) -> String {
        let public = match self {
            Self::Rsa(k) => k.public().as_ref().to_vec(),
            Self::Ec(k) => k.public_key().as_ref().to_vec(),
        };
        let h = ring::digest::digest(&ring::digest::SHA256, &public);
        format!("bench-{}", hex::encode(&h.as_ref()[..8]))
    }

    /// The public JWKS document (what a server's `jwks_file` holds).
    pub fn jwks(&self) -> serde_json::Value {
        let key = match self {
            Self::Rsa(k) => {
                let c: signature::RsaPublicKeyComponents<Vec<u8>> = k.public().into();
                json!({"kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.kid(),
                       "n": URL_SAFE_NO_PAD.encode(strip_zeros(&c.n)),
                       "e": URL_SAFE_NO_PAD.encode(strip_zeros(&c.e))})
            }
            Self::Ec(k) => {
                let p = k.public_key().as_ref(); // 0x04 || x || y
                json!({"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": self.kid(),
                       "x": URL_SAFE_NO_PAD.encode(&p[1..33]),
                       "y": URL_SAFE_NO_PAD.encode(&p[33..65])})
            }
        };
        json!({ "keys": [key] })
    }

    /// A signed token shaped like the kubelet's projected ServiceAccount tokens, unique `jti`.
    pub fn mint(&self, claims: &Claims<'_>, now: u64) -> Result<String> {
        let rng = SystemRandom::new();
        let mut jti = [0u8; 16];
        rng.fill(&mut jti).map_err(|_| anyhow::anyhow!("random"))?;
        let uid = |tag: &str| format!("{}-{tag}", hex::encode(&jti[..8]));
        let header = json!({"alg": self.alg(), "kid": self.kid(), "typ": "JWT"});
        let body = json!({
            "iss": claims.issuer,
            "sub": format!("system:serviceaccount:{}:{}", claims.namespace, claims.service_account),
            "aud": [claims.audience],
            "iat": now, "nbf": now, "exp": now + claims.lifetime_secs,
            "jti": hex::encode(jti),
            "kubernetes.io": {
                "namespace": claims.namespace,
                "serviceaccount": {"name": claims.service_account, "uid": uid("sa")},
                "pod": {"name": format!("{}-bench", claims.service_account), "uid": uid("pod")},
            },
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header)?),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&body)?)
        );
        let sig = match self {
            Self::Rsa(k) => {
                let mut sig = vec![0u8; k.public().modulus_len()];
                k.sign(&RSA_PKCS1_SHA256, &rng, signing_input.as_bytes(), &mut sig)
                    .map_err(|_| anyhow::anyhow!("RSA signing failed"))?;
                sig
            }
            Self::Ec(k) => k
                .sign(&rng, signing_input.as_bytes())
                .map_err(|_| anyhow::anyhow!("EC signing failed"))?
                .as_ref()
                .to_vec(),
        };
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let first = b.iter().position(|&x| x != 0).unwrap_or(b.len().saturating_sub(1));
    &b[first..]
}

fn pem_body(pem: &str) -> Option<Vec<u8>> {
    let start = pem.find("-----BEGIN PRIVATE KEY-----")? + "-----BEGIN PRIVATE KEY-----".len();
    let end = pem.find("-----END PRIVATE KEY-----")?;
    let b64: String = pem[start..end].chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD.decode(b64).ok()
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ec_token_verifies_with_its_jwks() {
        let dir = std::env::temp_dir().join(format!("kb-jwt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = TokenKey::generate_ec(&dir.join("k.pem")).unwrap();
        let again = TokenKey::load(&dir.join("k.pem")).unwrap();
        assert_eq!(key.kid(), again.kid());
        let claims = Claims {
            issuer: "https://bench.test",
            audience: "sts.amazonaws.com",
            namespace: "bench",
            service_account: "loader",
            lifetime_secs: 3600,
        };
        let token = key.mint(&claims, 1_700_000_000).unwrap();
        assert_ne!(
            token,
            key.mint(&claims, 1_700_000_000).unwrap(),
            "jti makes every token fresh"
        );
        let jwk = &key.jwks()["keys"][0];
        let coord = |n: &str| URL_SAFE_NO_PAD.decode(jwk[n].as_str().unwrap()).unwrap();
        let mut public = vec![4u8];
        public.extend(coord("x"));
        public.extend(coord("y"));
        let (input, sig) = token.rsplit_once('.').unwrap();
        signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, public)
            .verify(input.as_bytes(), &URL_SAFE_NO_PAD.decode(sig).unwrap())
            .unwrap();
        let body: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(input.split('.').nth(1).unwrap()).unwrap()).unwrap();
        assert_eq!(body["sub"], "system:serviceaccount:bench:loader");
        assert_eq!(body["exp"], 1_700_003_600u64);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
