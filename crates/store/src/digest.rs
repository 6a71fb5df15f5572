//! Content digests: the MD5 behind every ETag and the S3 additional checksums
//! (CRC32, CRC32C, CRC64NVME, SHA1, SHA256), computed in one pass while bytes stream to disk.
//!
//! Checksum values are kept base64-encoded, the form S3 puts on the wire.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use md5::Digest as _;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ChecksumAlgorithm {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

impl ChecksumAlgorithm {
    pub const ALL: [ChecksumAlgorithm; 5] = [Self::Crc32, Self::Crc32c, Self::Crc64Nvme, Self::Sha1, Self::Sha256];

    /// The S3 name, as in `x-amz-checksum-algorithm: CRC32C`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Crc32 => "CRC32",
            Self::Crc32c => "CRC32C",
            Self::Crc64Nvme => "CRC64NVME",
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
        }
    }

    /// Parses the S3 name, case-insensitively.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str().eq_ignore_ascii_case(s))
    }

    /// Length of the raw (decoded) digest in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            Self::Crc32 | Self::Crc32c => 4,
            Self::Crc64Nvme => 8,
            Self::Sha1 => 20,
            Self::Sha256 => 32,
        }
    }
}

/// A set of base64 checksum values, one optional slot per algorithm.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checksums {
    pub crc32: Option<String>,
    pub crc32c: Option<String>,
    pub crc64nvme: Option<String>,
    pub sha1: Option<String>,
    pub sha256: Option<String>,
    /// `Some(n)`: these are COMPOSITE checksums of an `n`-part upload (value ends in `-n`).
    pub composite_parts: Option<u32>,
}

impl Checksums {
    pub fn get(&self, a: ChecksumAlgorithm) -> Option<&str> {
        match a {
            ChecksumAlgorithm::Crc32 => self.crc32.as_deref(),
            ChecksumAlgorithm::Crc32c => self.crc32c.as_deref(),
            ChecksumAlgorithm::Crc64Nvme => self.crc64nvme.as_deref(),
            ChecksumAlgorithm::Sha1 => self.sha1.as_deref(),
            ChecksumAlgorithm::Sha256 => self.sha256.as_deref(),
        }
    }

    pub fn set(&mut self, a: ChecksumAlgorithm, v: Option<String>) {
        let slot = match a {
            ChecksumAlgorithm::Crc32 => &mut self.crc32,
            ChecksumAlgorithm::Crc32c => &mut self.crc32c,
            ChecksumAlgorithm::Crc64Nvme => &mut self.crc64nvme,
            ChecksumAlgorithm::Sha1 => &mut self.sha1,
            ChecksumAlgorithm::Sha256 => &mut self.sha256,
        };
        *slot = v;
    }

    /// The algorithms that have a value.
    pub fn algorithms(&self) -> impl Iterator<Item = ChecksumAlgorithm> + '_ {
        ChecksumAlgorithm::ALL.into_iter().filter(|a| self.get(*a).is_some())
    }

    pub fn is_empty(&self) -> bool {
        self.algorithms().next().is_none()
    }
}

/// What the writer computed over an object's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digests {
    pub md5: [u8; 16],
    pub size: u64,
    pub checksums: Checksums,
}

impl Digests {
    pub fn md5_hex(&self) -> String {
        hex::encode(self.md5)
    }

    /// Compares a client-supplied `Content-MD5` (base64) with what was computed.
    pub fn check_content_md5(&self, content_md5_b64: &str) -> Result<(), crate::StoreError> {
        let claimed = B64
            .decode(content_md5_b64.trim())
            .ok()
            .filter(|b| b.len() == 16)
            .ok_or_else(|| {
                crate::StoreError::InvalidDigest("Content-MD5 is not a base64-encoded 16-byte MD5".into())
            })?;
        if !crate::ct_eq(&claimed, &self.md5) {
            return Err(crate::StoreError::BadDigest {
                what: "Content-MD5".into(),
                claimed: content_md5_b64.trim().into(),
                computed: B64.encode(self.md5),
            });
        }
        Ok(())
    }

    /// Compares every checksum the client claimed with the computed value.
    /// A claimed algorithm that was not computed is an internal error of the caller, reported as such.
    pub fn check_checksums(&self, claimed: &Checksums) -> Result<(), crate::StoreError> {
        for a in claimed.algorithms() {
            let want = claimed.get(a).unwrap_or_default();
            let raw = B64
                .decode(want.trim())
                .ok()
                .filter(|b| b.len() == a.digest_len())
                .ok_or_else(|| {
                    crate::StoreError::InvalidDigest(format!(
                        "x-amz-checksum-{} is not a base64-encoded {}-byte value",
                        a.as_str().to_ascii_lowercase(),
                        a.digest_len()
                    ))
                })?;
            let Some(got) = self.checksums.get(a) else {
                return Err(crate::StoreError::Internal(format!(
                    "checksum {} was claimed but not computed",
                    a.as_str()
                )));
            };
            let got_raw = B64.decode(got).unwrap_or_default();
            if !crate::ct_eq(&raw, &got_raw) {
                return Err(crate::StoreError::BadDigest {
                    what: format!("x-amz-checksum-{}", a.as_str().to_ascii_lowercase()),
                    claimed: want.trim().into(),
                    computed: got.into(),
                });
            }
        }
        Ok(())
    }
}

enum AnyHasher {
    Crc32(crc32fast::Hasher),
    Crc32c(u32),
    Crc64Nvme(crc64fast_nvme::Digest),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

/// Streams bytes through MD5 plus the requested checksum algorithms.
pub struct Hasher {
    md5: md5::Md5,
    size: u64,
    others: Vec<(ChecksumAlgorithm, AnyHasher)>,
}

impl Hasher {
    pub fn new(algorithms: impl IntoIterator<Item = ChecksumAlgorithm>) -> Self {
        let mut others: Vec<(ChecksumAlgorithm, AnyHasher)> = Vec::new();
        for a in algorithms {
            if others.iter().any(|(b, _)| *b == a) {
                continue;
            }
            let h = match a {
                ChecksumAlgorithm::Crc32 => AnyHasher::Crc32(crc32fast::Hasher::new()),
                ChecksumAlgorithm::Crc32c => AnyHasher::Crc32c(0),
                ChecksumAlgorithm::Crc64Nvme => AnyHasher::Crc64Nvme(crc64fast_nvme::Digest::new()),
                ChecksumAlgorithm::Sha1 => AnyHasher::Sha1(sha1::Sha1::new()),
                ChecksumAlgorithm::Sha256 => AnyHasher::Sha256(sha2::Sha256::new()),
            };
            others.push((a, h));
        }
        Self {
            md5: md5::Md5::new(),
            size: 0,
            others,
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        self.size += data.len() as u64;
        self.md5.update(data);
        for (_, h) in &mut self.others {
            match h {
                AnyHasher::Crc32(h) => h.update(data),
                AnyHasher::Crc32c(c) => *c = crc32c::crc32c_append(*c, data),
                AnyHasher::Crc64Nvme(h) => h.write(data),
                AnyHasher::Sha1(h) => h.update(data),
                AnyHasher::Sha256(h) => h.update(data),
            }
        }
    }

    pub fn finish(self) -> Digests {
        let mut checksums = Checksums::default();
        for (a, h) in self.others {
            let raw: Vec<u8> = match h {
                AnyHasher::Crc32(h) => h.finalize().to_be_bytes().to_vec(),
                AnyHasher::Crc32c(c) => c.to_be_bytes().to_vec(),
                AnyHasher::Crc64Nvme(h) => h.sum64().to_be_bytes().to_vec(),
                AnyHasher::Sha1(h) => h.finalize().to_vec(),
                AnyHasher::Sha256(h) => h.finalize().to_vec(),
            };
            checksums.set(a, Some(B64.encode(raw)));
        }
        Digests {
            md5: self.md5.finalize().into(),
            size: self.size,
            checksums,
        }
    }
}

/// The ETag of a multipart object: MD5 of the concatenated binary part MD5s, then `-N`.
pub fn multipart_etag(part_etags_hex: &[&str]) -> String {
    let mut h = md5::Md5::new();
    for e in part_etags_hex {
        h.update(hex::decode(e).unwrap_or_default());
    }
    format!("{}-{}", hex::encode(h.finalize()), part_etags_hex.len())
}

/// A COMPOSITE multipart checksum: the algorithm over the concatenated raw part checksums, then `-N`.
/// `None` if any part lacks the algorithm.
pub fn composite_checksum(a: ChecksumAlgorithm, parts: &[&Checksums]) -> Option<String> {
    let mut h = Hasher::new([a]);
    for p in parts {
        h.update(&B64.decode(p.get(a)?).ok()?);
    }
    let d = h.finish();
    Some(format!("{}-{}", d.checksums.get(a)?, parts.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known answers for the empty string and "hello world", from each algorithm's reference.
    #[test]
    fn known_answers() {
        let cases: [(&[u8], ChecksumAlgorithm, &str); 6] = [
            (b"", ChecksumAlgorithm::Crc32, "AAAAAA=="),
            (b"hello world", ChecksumAlgorithm::Crc32, "DUoRhQ=="),
            (b"hello world", ChecksumAlgorithm::Crc32c, "yZRlqg=="),
            (b"hello world", ChecksumAlgorithm::Sha1, "Kq5sNclPz7QV2+lfQIuc6R7oRu0="),
            (
                b"hello world",
                ChecksumAlgorithm::Sha256,
                "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=",
            ),
            (b"hello world", ChecksumAlgorithm::Crc64Nvme, "jSnVw/bqjr4="),
        ];
        for (input, a, want) in cases {
            let mut h = Hasher::new([a]);
            h.update(input);
            assert_eq!(h.finish().checksums.get(a), Some(want), "{a:?} of {input:?}");
        }
        let mut h = Hasher::new([]);
        h.update(b"hello world");
        assert_eq!(h.finish().md5_hex(), "5eb63bbbe01eeed093cb22bb8f5acdc3");
    }

    #[test]
    fn multipart_etag_matches_s3_rule() {
        // Two parts whose MD5s are those of "a" and "b".
        let e = multipart_etag(&["0cc175b9c0f1b6a831c399e269772661", "92eb5ffee6ae2fec3ad71c777531578f"]);
        assert!(e.ends_with("-2"));
        assert_eq!(e.len(), 34);
    }
}
