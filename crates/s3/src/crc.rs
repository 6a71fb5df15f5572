//! Combining CRCs: the CRC of `A ‖ B` from the CRCs of `A` and `B` and the length of `B`,
//! without reading a byte. This is how a FULL_OBJECT multipart checksum is verified: the
//! parts' CRCs (checked when each part arrived) combine into the whole object's.
//!
//! The three S3 CRCs (CRC32, CRC32C, CRC64NVME) are all reflected, with all-ones initial
//! value and final XOR, for which `crc(A‖B) = crc(A) · x^(8·|B|) mod P  ⊕  crc(B)` holds; the
//! multiplication is of polynomials over GF(2), modulo the polynomial, as in zlib's `crc32_combine`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use keyless_store::ChecksumAlgorithm;

/// A reflected CRC of `width` bits with polynomial `poly` (in reflected form).
#[derive(Debug, Clone, Copy)]
struct Crc {
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

/// Whether `a` is a CRC, whose part values combine into the whole object's.
pub(crate) fn supports(a: ChecksumAlgorithm) -> bool {
    Crc::of(a).is_some()
}

fn decode(a: ChecksumAlgorithm, b64: &str) -> Option<u64> {
    let raw = B64.decode(b64.trim()).ok().filter(|r| r.len() == a.digest_len())?;
    Some(raw.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
}

fn encode(a: ChecksumAlgorithm, v: u64) -> String {
    let bytes = v.to_be_bytes();
    B64.encode(&bytes[8 - a.digest_len()..])
}

/// The base64 CRC of the concatenation of parts, each given as (its base64 CRC, its length).
/// `None` for a non-CRC algorithm or a malformed part value.
pub(crate) fn combine_parts<'a>(
    a: ChecksumAlgorithm,
    parts: impl IntoIterator<Item = (&'a str, u64)>,
) -> Option<String> {
    let crc = Crc::of(a)?;
    let mut acc: Option<u64> = None;
    for (value, len) in parts {
        let v = decode(a, value)?;
        acc = Some(match acc {
            None => v,
            Some(prev) => crc.combine(prev, v, len),
        });
    }
    // The CRC of no bytes at all is 0 for all three.
    Some(encode(a, acc.unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyless_store::digest::Hasher;

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
                let got = combine_parts(a, parts.iter().map(|(v, l)| (v.as_str(), *l)));
                assert_eq!(got.as_deref(), Some(whole.as_str()), "{a:?} cut at {cuts:?}");
            }
        }
    }

    #[test]
    fn known_answer_and_edges() {
        // "hello world" = "hello " ‖ "world".
        let parts = [("7YH59g==", 6), ("OncRQw==", 5)];
        let hello = crc_of(ChecksumAlgorithm::Crc32, b"hello ");
        let world = crc_of(ChecksumAlgorithm::Crc32, b"world");
        assert_eq!((hello.as_str(), world.as_str()), (parts[0].0, parts[1].0));
        assert_eq!(
            combine_parts(ChecksumAlgorithm::Crc32, parts).as_deref(),
            Some("DUoRhQ==")
        );
        assert_eq!(combine_parts(ChecksumAlgorithm::Sha256, parts), None);
        assert_eq!(combine_parts(ChecksumAlgorithm::Crc32, [("not base64!", 3)]), None);
        assert_eq!(combine_parts(ChecksumAlgorithm::Crc32, []).as_deref(), Some("AAAAAA=="));
    }
}
