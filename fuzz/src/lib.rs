//! What the fuzz targets share: how one fuzz input is cut into fields, the fixed keys tokens are
//! signed with, an XML well-formedness checker, and a serialiser for IAM policies (the parser's
//! round-trip oracle).
//!
//! Inputs are plain text with fields separated by NUL bytes (see [`fields`]), so a seed is a file
//! anyone can write with `printf` and read with `cat -v`, and the fuzzer's dictionaries (policy
//! keywords, JWT header names) splice straight into them.

pub mod keys;
pub mod policy_json;
pub mod xml;

/// The fixed "now" of every target: 2026-03-01T12:00:00Z (the identity tests' `NOW`), so a seed
/// token or session minted once stays valid forever.
pub const NOW: i64 = 1_772_366_400;

/// Splits `data` at NUL bytes into `n` text fields (missing ones are empty; the last takes the
/// rest, NULs included). Invalid UTF-8 becomes U+FFFD: the code under test takes `&str`.
pub fn fields(data: &[u8], n: usize) -> Vec<String> {
    let mut out: Vec<String> = data
        .splitn(n, |b| *b == 0)
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect();
    out.resize(n, String::new());
    out
}

/// A `keyless_identity::Random` that counts: deterministic ids and nonces, so a crash reproduces.
#[derive(Default)]
pub struct CountingRandom(std::cell::Cell<u8>);

impl keyless_identity::Random for CountingRandom {
    fn fill(&self, dest: &mut [u8]) {
        for b in dest {
            *b = self.0.get();
            self.0.set(self.0.get().wrapping_add(7));
        }
    }
}

/// A comma-separated list, empty items dropped.
pub fn list(s: &str) -> Vec<String> {
    s.split(',').filter(|x| !x.is_empty()).map(str::to_owned).collect()
}
