//! Content digests: the MD5 behind every ETag and the S3 additional checksums
//! (CRC32, CRC32C, CRC64NVME, SHA1, SHA256), computed in one pass while bytes stream to disk;
//! and the two checksums of a multipart object, formed from its parts' checksums without
//! reading a byte: COMPOSITE ([`composite_checksum`]) and FULL_OBJECT ([`full_object_checksum`],
//! which combines CRCs).
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

    /// Whether this is a CRC, whose part values combine into the whole object's
    /// (the only algorithms a FULL_OBJECT multipart checksum can use).
    pub fn is_crc(self) -> bool {
        Crc::of(self).is_some()
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

/// A FULL_OBJECT multipart checksum: the CRC of the whole object, combined from each part's
/// CRC and length (see [`Crc`]). `None` for a non-CRC algorithm, or if a part lacks the value or
/// holds a malformed one.
pub fn full_object_checksum(a: ChecksumAlgorithm, parts: &[(&Checksums, u64)]) -> Option<String> {
    let mut values = Vec::with_capacity(parts.len());
    for (c, len) in parts {
        values.push((c.get(a)?, *len));
    }
    combine_crcs(a, values)
}

/// Combining CRCs: the CRC of `A ‖ B` from the CRCs of `A` and `B` and the length of `B`,
/// without reading a byte.
///
/// The three S3 CRCs (CRC32, CRC32C, CRC64NVME) are all reflected, with all-ones initial
/// value and final XOR, for which `crc(A‖B) = crc(A) · x^(8·|B|) mod P  ⊕  crc(B)` holds; the
/// multiplication is of polynomials over GF(2), modulo the polynomial, as in zlib's `crc32_combine`.
#[derive(Debug, Clone, Copy)]
struct Crc {
    /// The polynomial, in reflected form.
    poly: u64,
    width: u32,
}

impl Crc {
    fn of(a: ChecksumAlgorithm) -> Option<Crc> {
        match a {
            ChecksumAlgorithm::Crc32 => Some(Crc {
                poly: 0xEDB8_8320,
                width: 32,
            }),
            ChecksumAlgorithm::Crc32c => Some(Crc {
                poly: 0x82F6_3B78,
                width: 32,
            }),
            ChecksumAlgorithm::Crc64Nvme => Some(Crc {
                poly: 0x9A6C_9329_AC4B_C9B5,
                width: 64,
            }),
            ChecksumAlgorithm::Sha1 | ChecksumAlgorithm::Sha256 => None,
        }
    }

    /// The bit that stands for x^0 (reflected: the top bit).
    fn one(self) -> u64 {
        1 << (self.width - 1)
    }

    /// `a · b mod P`.
    fn mul(self, a: u64, mut b: u64) -> u64 {
        let mut m = self.one();
        let mut p = 0;
        while m != 0 {
            if a & m != 0 {
                p ^= b;
            }
            m >>= 1;
            b = if b & 1 != 0 { (b >> 1) ^ self.poly } else { b >> 1 };
        }
        p
    }

    /// `x^(8·len) mod P`, by squaring.
    fn x_pow_8n(self, len: u64) -> u64 {
        let mut result = self.one();
        // x^(2^k), starting at x^8 = x^(2^3).
        let mut square = self.one() >> 8;
        let mut n = len;
        while n != 0 {
            if n & 1 != 0 {
                result = self.mul(square, result);
            }
            square = self.mul(square, square);
            n >>= 1;
        }
        result
    }

    fn combine(self, crc_a: u64, crc_b: u64, len_b: u64) -> u64 {
        self.mul(self.x_pow_8n(len_b), crc_a) ^ crc_b
    }
}

fn decode_crc(a: ChecksumAlgorithm, b64: &str) -> Option<u64> {
    let raw = B64.decode(b64.trim()).ok().filter(|r| r.len() == a.digest_len())?;
    Some(raw.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
}

fn encode_crc(a: ChecksumAlgorithm, v: u64) -> String {
    let bytes = v.to_be_bytes();
    B64.encode(&bytes[8 - a.digest_len()..])
}

/// The base64 CRC of the concatenation of parts, each given as (its base64 CRC, its length).
/// `None` for a non-CRC algorithm or a malformed part value.
pub fn combine_crcs<'a>(a: ChecksumAlgorithm, parts: impl IntoIterator<Item = (&'a str, u64)>) -> Option<String> {
    let crc = Crc::of(a)?;
    let mut acc: Option<u64> = None;
    for (value, len) in parts {
        let v = decode_crc(a, value)?;
        acc = Some(match acc {
            None => v,
            Some(prev) => crc.combine(prev, v, len),
        });
    }
    // The CRC of no bytes at all is 0 for all three.
    Some(encode_crc(a, acc.unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crc_of(a: ChecksumAlgorithm, data: &[u8]) -> String {
        let mut h = Hasher::new([a]);
        h.update(data);
        h.finish().checksums.get(a).unwrap_or_default().to_owned()
    }

    #[test]
    fn combined_part_crcs_equal_the_crc_of_the_whole() {
        let data: Vec<u8> = (0..100_003u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let splits: &[&[usize]] = &[
            &[],
            &[1],
            &[50_000],
            &[7, 8, 9, 99_999],
            &[0, 0, 100_003],
            &[33_333, 66_666],
        ];
        for a in [
            ChecksumAlgorithm::Crc32,
            ChecksumAlgorithm::Crc32c,
            ChecksumAlgorithm::Crc64Nvme,
        ] {
            let whole = crc_of(a, &data);
            for cuts in splits {
                let mut bounds = vec![0];
                bounds.extend(cuts.iter().copied());
                bounds.push(data.len());
                let parts: Vec<(String, u64)> = bounds
                    .windows(2)
                    .map(|w| (crc_of(a, &data[w[0]..w[1]]), (w[1] - w[0]) as u64))
                    .collect();
                let got = combine_crcs(a, parts.iter().map(|(v, l)| (v.as_str(), *l)));
                assert_eq!(got.as_deref(), Some(whole.as_str()), "{a:?} cut at {cuts:?}");
                let sums: Vec<(Checksums, u64)> = parts
                    .iter()
                    .map(|(v, l)| {
                        let mut c = Checksums::default();
                        c.set(a, Some(v.clone()));
                        (c, *l)
                    })
                    .collect();
                let refs: Vec<(&Checksums, u64)> = sums.iter().map(|(c, l)| (c, *l)).collect();
                assert_eq!(full_object_checksum(a, &refs).as_deref(), Some(whole.as_str()));
            }
        }
    }

    #[test]
    fn crc_combine_known_answer_and_edges() {
        // "hello world" = "hello " ‖ "world".
        let parts = [("7YH59g==", 6), ("OncRQw==", 5)];
        let hello = crc_of(ChecksumAlgorithm::Crc32, b"hello ");
        let world = crc_of(ChecksumAlgorithm::Crc32, b"world");
        assert_eq!((hello.as_str(), world.as_str()), (parts[0].0, parts[1].0));
        assert_eq!(
            combine_crcs(ChecksumAlgorithm::Crc32, parts).as_deref(),
            Some("DUoRhQ==")
        );
        assert_eq!(combine_crcs(ChecksumAlgorithm::Sha256, parts), None);
        assert_eq!(combine_crcs(ChecksumAlgorithm::Crc32, [("not base64!", 3)]), None);
        assert_eq!(combine_crcs(ChecksumAlgorithm::Crc32, []).as_deref(), Some("AAAAAA=="));
        let no_value = Checksums::default();
        assert_eq!(full_object_checksum(ChecksumAlgorithm::Crc32, &[(&no_value, 3)]), None);
        let crcs: Vec<bool> = ChecksumAlgorithm::ALL.iter().map(|a| a.is_crc()).collect();
        assert_eq!(crcs, [true, true, true, false, false]);
    }

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
