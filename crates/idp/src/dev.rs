//! The development issuer of the quick-start: a Kubernetes stand-in that signs ServiceAccount
//! tokens.
//!
//! [`DevIssuer`] holds one ECDSA P-256 key (made with `ring`, kept in a PKCS#8 PEM file, mode
//! 0600, so tokens it minted stay valid across restarts), publishes the matching JWKS (`kid` = the
//! key's RFC 7638 thumbprint, so it is stable too) and mints tokens shaped exactly like the
//! kubelet's projected ServiceAccount tokens. [`TokenFileWriter`] keeps such a token in a file,
//! replacing it atomically at 80% of its lifetime, as the kubelet does.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use keyless_identity::jwks::KeySet;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use rustls::pki_types::PrivatePkcs8KeyDer;
use rustls::pki_types::pem::PemObject;
use serde_json::json;
use tokio::task::JoinHandle;

use crate::error::DevIssuerError;
use crate::source::{IssuerSource, KeySource};

/// The built-in development issuer.
pub struct DevIssuer {
    iss: String,
    key: EcdsaKeyPair,
    kid: String,
    rng: SystemRandom,
}

impl std::fmt::Debug for DevIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevIssuer")
            .field("iss", &self.iss)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// What a minted token is for: the kubelet's `TokenRequest` in miniature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceAccountToken {
    pub namespace: String,
    pub service_account: String,
    pub audiences: Vec<String>,
    /// The pod the token is bound to (`kubernetes.io.pod`); `None` for an unbound token.
    pub pod: Option<String>,
    pub lifetime: Duration,
}

impl ServiceAccountToken {
    /// A token for `system:serviceaccount:<namespace>:<name>`, bound to pod `<name>-0`, for
    /// audience `sts.amazonaws.com`, valid one hour.
    pub fn new(namespace: &str, service_account: &str) -> Self {
        Self {
            namespace: namespace.to_owned(),
            service_account: service_account.to_owned(),
            audiences: vec!["sts.amazonaws.com".to_owned()],
            pod: Some(format!("{service_account}-0")),
            lifetime: Duration::from_secs(3600),
        }
    }
}

impl DevIssuer {
    /// Loads the key from `key_file`, or makes a new one and writes it there (mode 0600).
    pub fn load_or_create(iss: impl Into<String>, key_file: &Path) -> Result<Self, DevIssuerError> {
        let io = |source| DevIssuerError::Io {
            path: key_file.to_owned(),
            source,
        };
        match std::fs::read(key_file) {
            Ok(pem) => {
                let bad = |reason: String| DevIssuerError::BadKey {
                    path: key_file.to_owned(),
                    reason,
                };
                let der = match PrivatePkcs8KeyDer::from_pem_slice(&pem) {
                    Ok(der) => der.secret_pkcs8_der().to_vec(),
                    Err(e) => return Err(bad(format!("no PRIVATE KEY block ({e})"))),
                };
                Self::from_pkcs8(iss.into(), &der).map_err(bad)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let rng = SystemRandom::new();
                let der = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                    .expect("ring generates a P-256 key");
                let pem = format!(
                    "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
                    STANDARD.encode(der.as_ref())
                );
                write_atomically(key_file, pem.as_bytes()).map_err(io)?;
                Ok(Self::from_pkcs8(iss.into(), der.as_ref()).expect("a key ring just made"))
            }
            Err(e) => Err(io(e)),
        }
    }

    /// A new key that lives only in memory (tests, throwaway issuers).
    pub fn generate(iss: impl Into<String>) -> Self {
        let der = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .expect("ring generates a P-256 key");
        Self::from_pkcs8(iss.into(), der.as_ref()).expect("a key ring just made")
    }

    fn from_pkcs8(iss: String, der: &[u8]) -> Result<Self, String> {
        let rng = SystemRandom::new();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng).map_err(|e| e.to_string())?;
        let (x, y) = xy(&key);
        // RFC 7638: the SHA-256 of the required members in lexicographic order, no whitespace.
        let thumbprint_input = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, thumbprint_input.as_bytes()));
        Ok(Self { iss, key, kid, rng })
    }

    pub fn iss(&self) -> &str {
        &self.iss
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public JWKS, as an issuer publishes it at its `jwks_uri`.
    pub fn jwks_json(&self) -> String {
        let (x, y) = xy(&self.key);
        json!({"keys": [{"kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": self.kid, "alg": "ES256", "use": "sig"}]})
            .to_string()
    }

    pub fn key_set(&self) -> KeySet {
        KeySet::from_json(&self.jwks_json()).expect("our own JWKS parses")
    }

    /// This issuer as a trusted issuer with its keys inline.
    pub fn issuer_source(&self) -> IssuerSource {
        IssuerSource {
            issuer: self.iss.clone(),
            keys: KeySource::Jwks(serde_json::Value::String(self.jwks_json())),
            audiences: Vec::new(),
        }
    }

    /// A signed token for `req`, issued at `now` (unix seconds), shaped like the kubelet's:
    /// `aud`, `exp`, `iat`, `iss`, `jti`, `kubernetes.io` {namespace, pod, serviceaccount}, `nbf`,
    /// `sub`. Object uids are derived from the names, so they are stable like real ones.
    pub fn mint(&self, req: &ServiceAccountToken, now: i64) -> String {
        let lifetime = i64::try_from(req.lifetime.as_secs().max(1)).unwrap_or(i64::MAX);
        let mut k8s = json!({
            "namespace": req.namespace,
            "serviceaccount": {
                "name": req.service_account,
                "uid": uid(&format!("serviceaccount/{}/{}", req.namespace, req.service_account)),
            },
        });
        if let Some(pod) = &req.pod {
            k8s["pod"] = json!({"name": pod, "uid": uid(&format!("pod/{}/{pod}", req.namespace))});
        }
        let mut jti = [0u8; 16];
        ring::rand::SecureRandom::fill(&self.rng, &mut jti).expect("system random");
        let claims = json!({
            "aud": req.audiences,
            "exp": now.saturating_add(lifetime),
            "iat": now,
            "iss": self.iss,
            "jti": format_uuid(jti),
            "kubernetes.io": k8s,
            "nbf": now,
            "sub": format!("system:serviceaccount:{}:{}", req.namespace, req.service_account),
        });
        let header = json!({"alg": "ES256", "kid": self.kid});
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = self
            .key
            .sign(&self.rng, signing_input.as_bytes())
            .expect("ECDSA signing");
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }
}

fn xy(key: &EcdsaKeyPair) -> (String, String) {
    let point = key.public_key().as_ref(); // 0x04 || x || y
    (
        URL_SAFE_NO_PAD.encode(&point[1..33]),
        URL_SAFE_NO_PAD.encode(&point[33..65]),
    )
}

/// A UUID-shaped id derived from `name` (stable across restarts, different per object).
fn uid(name: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, name.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d.as_ref()[..16]);
    format_uuid(b)
}

fn format_uuid(mut b: [u8; 16]) -> String {
    b[6] = (b[6] & 0x0f) | 0x40; // version 4 shape
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// Replaces `path` with `bytes` atomically, mode 0600: a reader sees the old file or the new
/// one, never a torn one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut suffix = [0u8; 8];
    ring::rand::SecureRandom::fill(&SystemRandom::new(), &mut suffix).expect("system random");
    let tmp = dir.join(format!(".{name}.tmp-{}", u64::from_le_bytes(suffix)));
    let result = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        // The content is durable before the new name points at it.
        file.sync_all()?;
        drop(file);
        // rename(2) replaces the old file in one step: readers see old or new, never a mix.
        std::fs::rename(&tmp, path)?;
        // And the rename itself is durable once the directory is synced.
        #[cfg(unix)]
        std::fs::File::open(&dir)?.sync_all()?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Keeps a fresh token for one service account in a file, as the kubelet keeps a projected
/// token: written at start, rewritten (atomically) at 80% of its lifetime.
pub struct TokenFileWriter {
    issuer: Arc<DevIssuer>,
    request: ServiceAccountToken,
    path: PathBuf,
}

impl TokenFileWriter {
    pub fn new(issuer: Arc<DevIssuer>, request: ServiceAccountToken, path: impl Into<PathBuf>) -> Self {
        Self {
            issuer,
            request,
            path: path.into(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Mints a token now and writes it; how long until it should be rewritten (80% of its lifetime).
    pub fn write_now(&self) -> std::io::Result<Duration> {
        let token = self.issuer.mint(&self.request, unix_now());
        write_atomically(&self.path, token.as_bytes())?;
        Ok(self.request.lifetime.mul_f64(0.8))
    }

    /// Writes the token now (an error here is returned: the caller's start-up fails), then keeps
    /// rewriting it in the background until the handle is aborted. A failed rewrite is logged and
    /// tried again after a few seconds (or sooner for a short lifetime).
    pub fn start(self) -> std::io::Result<JoinHandle<()>> {
        let mut wait = self.write_now()?;
        Ok(tokio::spawn(async move {
            loop {
                tokio::time::sleep(wait).await;
                let writer = TokenFileWriter {
                    issuer: self.issuer.clone(),
                    request: self.request.clone(),
                    path: self.path.clone(),
                };
                let result = tokio::task::spawn_blocking(move || writer.write_now())
                    .await
                    .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
                wait = match result {
                    Ok(next) => next,
                    Err(e) => {
                        tracing::warn!(path = %self.path.display(), error = %e, "cannot rewrite the token file; retrying");
                        self.request
                            .lifetime
                            .mul_f64(0.05)
                            .clamp(Duration::from_millis(100), Duration::from_secs(5))
                    }
                };
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use keyless_identity::token::{Issuer, Validation, verify};

    use super::*;

    #[test]
    fn minted_tokens_verify_with_the_core_and_the_key_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("dev-issuer.key");
        let iss = "https://keyless.local/dev";
        let first = DevIssuer::load_or_create(iss, &key_file).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let now = 1_772_366_400;
        let token = first.mint(&ServiceAccountToken::new("default", "demo"), now);

        let again = DevIssuer::load_or_create(iss, &key_file).unwrap();
        assert_eq!(again.kid(), first.kid());
        let issuer = Issuer::new(iss, again.key_set());
        let v = verify(&token, &issuer, now + 10, &Validation::default()).unwrap();
        assert_eq!(v.subject, "system:serviceaccount:default:demo");
        assert_eq!(v.audiences, vec!["sts.amazonaws.com".to_owned()]);
        assert_eq!(
            (v.issued_at, v.not_before, v.expires_at),
            (Some(now), Some(now), now + 3600)
        );
        assert_eq!(v.key_id.as_deref(), Some(first.kid()));
        let k8s = v.kubernetes.unwrap();
        assert_eq!(k8s.namespace, "default");
        assert_eq!(k8s.service_account.name, "demo");
        assert_eq!(k8s.pod.unwrap().name, "demo-0");
        assert_eq!(k8s.service_account.uid.len(), 36);

        // Another dev issuer's key does not verify it.
        let other = DevIssuer::generate(iss);
        let issuer = Issuer::new(iss, other.key_set());
        assert!(verify(&token, &issuer, now, &Validation::default()).is_err());
    }

    #[test]
    fn jwks_shape() {
        let dev = DevIssuer::generate("https://dev.example");
        let doc: serde_json::Value = serde_json::from_str(&dev.jwks_json()).unwrap();
        let key = &doc["keys"][0];
        for (field, want) in [("kty", "EC"), ("crv", "P-256"), ("alg", "ES256"), ("use", "sig")] {
            assert_eq!(key[field], want, "{field}");
        }
        assert_eq!(key["kid"], dev.kid());
        assert_eq!(key["x"].as_str().unwrap().len(), 43);
        assert!(key.get("d").is_none());
    }

    #[test]
    fn a_broken_key_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("k");
        std::fs::write(&key_file, "not a key").unwrap();
        let err = DevIssuer::load_or_create("x", &key_file).unwrap_err();
        assert!(err.to_string().contains("PKCS#8"), "{err}");
    }
}
