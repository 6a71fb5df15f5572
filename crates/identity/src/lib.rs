//! keyless's identity core: who a caller is and what it may do.
//!
//! A pod presents the ServiceAccount token Kubernetes projected into it; STS (`sts`) checks the
//! token against the key set of the issuer that signed it (`jwks`, `token`), checks the role's trust
//! policy (`trust`, `role`), and mints stateless temporary credentials (`session`). Every S3 request
//! made with them is mapped to IAM actions and resources (`s3_actions`) and judged by the role's
//! permission policies, narrowed by the session policy (`policy`); `authz` ties those together
//! for one request.
//!
//! **Architecture Invariant**: nothing in this crate does I/O. Key sets, server keys, the clock and
//! the random source are handed in, so every rule here is tested with plain tables. Fetching JWKS,
//! reloading files, serving HTTP and logging belong to the crates above.

pub mod authz;
pub mod jwks;
pub mod policy;
pub mod role;
pub mod s3_actions;
pub mod session;
pub mod sts;
pub mod token;
pub mod trust;

mod b64;
#[cfg(test)]
mod testkit;

/// A source of random bytes. The core never reaches for a global random generator: STS and the
/// session minting take one of these, so tests can make them deterministic.
pub trait Random {
    /// Fills `dest` with random bytes.
    fn fill(&self, dest: &mut [u8]);
}

/// The operating system's secure random generator (via `ring`).
#[derive(Debug)]
pub struct SystemRandom(ring::rand::SystemRandom);

impl SystemRandom {
    pub fn new() -> Self {
        Self(ring::rand::SystemRandom::new())
    }
}

impl Default for SystemRandom {
    fn default() -> Self {
        Self::new()
    }
}

impl Random for SystemRandom {
    fn fill(&self, dest: &mut [u8]) {
        ring::rand::SecureRandom::fill(&self.0, dest).expect("the system random generator failed");
    }
}
