//! HTTPS: the rustls server configuration (ring provider) and certificate rotation.
//!
//! Every handshake asks [`RotatingCert`] for the current certificate, an `Arc` that a watcher
//! task swaps when the PEM files change. The watcher reads both files every
//! `tls.reload_interval_secs` and compares their bytes with the pair in service (content, not
//! mtimes, so a Kubernetes Secret's symlink swap and same-second rewrites are both seen). A new
//! pair that does not load — unreadable, no certificate, no key, key not matching the
//! certificate (often a rotation caught half-written) — is logged once and the old pair stays.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::config::{TLS_CERT, TLS_KEY, TlsConfig};

/// A certificate pair that cannot be used. The message names the config field at fault.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("config field \"{field}\": cannot read \"{}\": {error}", path.display())]
    Read {
        field: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("config field \"{field}\": \"{}\" {message}", path.display())]
    Content {
        field: &'static str,
        path: PathBuf,
        message: String,
    },
    #[error(
        "config field \"{}\": the private key in \"{}\" does not match the certificate in \"{}\"; give the key the certificate was issued for",
        TLS_KEY.name, key.display(), cert.display()
    )]
    Mismatch { cert: PathBuf, key: PathBuf },
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The file contents of a pair, as last read.
#[derive(Clone, PartialEq, Eq)]
struct PairBytes {
    cert: Vec<u8>,
    key: Vec<u8>,
}

fn read_pair(tls: &TlsConfig) -> Result<PairBytes, TlsError> {
    let read = |field: &'static str, path: &Path| {
        std::fs::read(path).map_err(|error| TlsError::Read {
            field,
            path: path.to_owned(),
            error,
        })
    };
    Ok(PairBytes {
        cert: read(TLS_CERT.name, &tls.cert)?,
        key: read(TLS_KEY.name, &tls.key)?,
    })
}

/// Parses a PEM pair and checks that the key belongs to the leaf certificate.
fn parse_pair(tls: &TlsConfig, bytes: &PairBytes) -> Result<CertifiedKey, TlsError> {
    let content = |field: &'static str, path: &Path, message: String| TlsError::Content {
        field,
        path: path.to_owned(),
        message,
    };
    let chain = CertificateDer::pem_slice_iter(&bytes.cert)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| content(TLS_CERT.name, &tls.cert, format!("is not valid PEM ({e})")))?;
    if chain.is_empty() {
        return Err(content(
            TLS_CERT.name,
            &tls.cert,
            "holds no PEM certificate (-----BEGIN CERTIFICATE-----)".to_owned(),
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(&bytes.key).map_err(|e| {
        content(
            TLS_KEY.name,
            &tls.key,
            format!("holds no usable PEM private key (PKCS#8, PKCS#1 or SEC1): {e}"),
        )
    })?;
    let signing_key = provider().key_provider.load_private_key(key).map_err(|e| {
        content(
            TLS_KEY.name,
            &tls.key,
            format!("holds a private key rustls cannot use: {e}"),
        )
    })?;
    let certified = CertifiedKey::new(chain, signing_key);
    match certified.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => Ok(certified),
        Err(rustls::Error::InconsistentKeys(_)) => Err(TlsError::Mismatch {
            cert: tls.cert.clone(),
            key: tls.key.clone(),
        }),
        Err(e) => Err(content(
            TLS_CERT.name,
            &tls.cert,
            format!("does not start with a valid X.509 certificate: {e}"),
        )),
    }
}

/// The certificate in service, swapped whole when the files change.
#[derive(Debug)]
pub struct RotatingCert {
    current: RwLock<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for RotatingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().unwrap_or_else(|e| e.into_inner()).clone())
    }
}

/// HTTPS set up from the configured files: the rustls config for the acceptor and a handle to
/// the rotation state for [`watch`].
pub struct Tls {
    pub server_config: Arc<rustls::ServerConfig>,
    cert: Arc<RotatingCert>,
    loaded: PairBytes,
    config: TlsConfig,
}

impl Tls {
    /// Loads the pair at start-up; any problem is fatal here (there is no old pair to keep).
    pub fn load(config: &TlsConfig) -> Result<Tls, TlsError> {
        let bytes = read_pair(config)?;
        let certified = parse_pair(config, &bytes)?;
        let cert = Arc::new(RotatingCert {
            current: RwLock::new(Arc::new(certified)),
        });
        let mut server_config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions")
            .with_no_client_auth()
            .with_cert_resolver(cert.clone());
        // We speak HTTP/1.1 only.
        server_config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls {
            server_config: Arc::new(server_config),
            cert,
            loaded: bytes,
            config: config.clone(),
        })
    }

    /// Starts the task that polls the files; it ends with the runtime.
    pub fn spawn_watcher(&self) {
        let watcher = Watcher {
            cert: self.cert.clone(),
            config: self.config.clone(),
            in_service: self.loaded.clone(),
            last_rejected: None,
        };
        tokio::spawn(watcher.run());
    }
}

struct Watcher {
    cert: Arc<RotatingCert>,
    config: TlsConfig,
    in_service: PairBytes,
    /// The last pair that failed to load, so that a bad pair is logged once, not every poll.
    last_rejected: Option<PairBytes>,
}

impl Watcher {
    async fn run(mut self) {
        let mut tick = tokio::time::interval(self.config.reload_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await; // the first tick is immediate; the pair was just loaded
        loop {
            tick.tick().await;
            let config = self.config.clone();
            let Ok(read) = tokio::task::spawn_blocking(move || read_pair(&config)).await else {
                return;
            };
            self.poll(read);
        }
    }

    fn poll(&mut self, read: Result<PairBytes, TlsError>) {
        let bytes = match read {
            Ok(bytes) => bytes,
            Err(e) => {
                // Unreadable (e.g. mid-swap): say so once per distinct error, keep serving.
                let marker = PairBytes {
                    cert: e.to_string().into_bytes(),
                    key: Vec::new(),
                };
                if self.last_rejected.as_ref() != Some(&marker) {
                    tracing::warn!(error = %e, "cannot reload the TLS certificate; keeping the one in service");
                    self.last_rejected = Some(marker);
                }
                return;
            }
        };
        if bytes == self.in_service || self.last_rejected.as_ref() == Some(&bytes) {
            return;
        }
        match parse_pair(&self.config, &bytes) {
            Ok(certified) => {
                *self.cert.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(certified);
                self.in_service = bytes;
                self.last_rejected = None;
                tracing::info!(cert = %self.config.cert.display(), key = %self.config.key.display(), "reloaded the TLS certificate");
            }
            Err(e) => {
                tracing::warn!(error = %e, "the changed TLS certificate files do not load; keeping the one in service");
                self.last_rejected = Some(bytes);
            }
        }
    }
}
