//! The crate's errors: why keys could not be fetched or loaded, why a source is misconfigured,
//! why the development issuer could not start.

use std::path::PathBuf;

use thiserror::Error;

/// Why an issuer's keys could not be fetched or loaded. The old keys stay in use.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum FetchError {
    #[error("{url:?} is not a usable URL: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("{url:?} is not https (plain http is accepted only for a loopback discovery URL)")]
    NotHttps { url: String },
    #[error("cannot use CA file {path:?}: {reason}")]
    CaFile { path: PathBuf, reason: String },
    #[error("no trusted root certificates: {0}; set the issuer's ca_file")]
    NoRoots(String),
    #[error("cannot read bearer token file {path:?}: {reason}")]
    TokenFile { path: PathBuf, reason: String },
    #[error("cannot reach {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("{url} did not answer within {timeout:?}")]
    Timeout { url: String, timeout: std::time::Duration },
    #[error("{url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url} answered with more than {max} bytes")]
    TooLarge { url: String, max: usize },
    #[error("{url} redirects to {location:?}: {reason}")]
    Redirect {
        url: String,
        location: String,
        reason: &'static str,
    },
    #[error("the discovery document at {url} is not usable: {reason}")]
    BadDiscovery { url: String, reason: String },
    #[error("the discovery document at {url} names issuer {found:?}, expected exactly {expected:?}")]
    WrongIssuer {
        url: String,
        expected: String,
        found: String,
    },
    #[error("the JWKS from {origin} was refused: {error}")]
    Jwks { origin: String, error: String },
    #[error("cannot read JWKS file {path:?}: {reason}")]
    File { path: PathBuf, reason: String },
}

/// A configuration that cannot work, found when the cache is built.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ConfigError {
    #[error("issuer {0:?} is configured twice")]
    DuplicateIssuer(String),
    #[error("issuer {issuer:?}: {reason}")]
    Invalid { issuer: String, reason: String },
}

/// Why the development issuer could not load or create its key.
#[derive(Debug, Error)]
pub enum DevIssuerError {
    #[error("development issuer key file {path:?}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("development issuer key file {path:?} does not hold a P-256 PKCS#8 key: {reason}")]
    BadKey { path: PathBuf, reason: String },
}
