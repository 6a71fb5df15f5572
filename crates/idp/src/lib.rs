//! keyless-idp: the I/O around the identity core — keeping each trusted issuer's keys fresh.
//!
//! `keyless_identity` verifies tokens against key sets it is handed and never does I/O. This
//! crate hands them in: [`KeyCache`] holds the current `keyless_identity::Issuers` (one key set
//! per issuer), fed by OIDC discovery over HTTPS (`fetch`), JWKS files re-read when they change, or
//! inline JWKS (`source`); [`KeyCache::verify`] is the STS path's one call for a token, refetching an
//! issuer's keys once (rate-limited) when a token names a key the cache does not know. `dev` is
//! the quick-start's built-in issuer: an ECDSA P-256 key, its JWKS, ServiceAccount-shaped tokens,
//! and a token file kept fresh the way the kubelet keeps a projected token.

pub mod cache;
pub mod dev;
pub mod error;
pub mod fetch;
pub mod source;

pub use cache::{IssuerKeys, IssuerStatus, KeyCache, KidLookup, Refreshers, Verified, VerifyError};

pub use dev::{DevIssuer, ServiceAccountToken, TokenFileWriter};
pub use error::{ConfigError, DevIssuerError, FetchError};
pub use source::{DiscoverySource, FetchOptions, IssuerSource, KeySource};
