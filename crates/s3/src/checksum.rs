//! Which checksums a request asks for, and which values it claims.
//!
//! A client names an algorithm in three ways: an `x-amz-checksum-<alg>` header carrying the
//! value, `x-amz-sdk-checksum-algorithm` (or `x-amz-checksum-algorithm`), and `x-amz-trailer`,
//! which promises the value in a trailer after the last aws-chunked chunk. The server computes
//! every named algorithm while staging the body ([`ChecksumPlan::algorithms`]); the claimed
//! values — headers first, then trailers, which exist only once the body has been read to its
//! end — are compared with what was computed before anything is committed
//! ([`ChecksumPlan::claimed`]).

use http::HeaderMap;
use keyless_store::{ChecksumAlgorithm, Checksums};

use crate::error::{ApiError, ApiResult};

/// `x-amz-checksum-crc32` and its siblings: the header (or trailer) carrying a value.
pub(crate) fn value_header(a: ChecksumAlgorithm) -> &'static str {
    match a {
        ChecksumAlgorithm::Crc32 => "x-amz-checksum-crc32",
        ChecksumAlgorithm::Crc32c => "x-amz-checksum-crc32c",
        ChecksumAlgorithm::Crc64Nvme => "x-amz-checksum-crc64nvme",
        ChecksumAlgorithm::Sha1 => "x-amz-checksum-sha1",
        ChecksumAlgorithm::Sha256 => "x-amz-checksum-sha256",
    }
}

fn algorithm_of_value_header(name: &str) -> Option<ChecksumAlgorithm> {
    ChecksumAlgorithm::ALL
        .into_iter()
        .find(|a| value_header(*a).eq_ignore_ascii_case(name.trim()))
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

/// The checksums one upload request (PutObject, UploadPart) asks for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ChecksumPlan {
    /// The algorithm whose value is in an `x-amz-checksum-*` header, and the value.
    header: Option<(ChecksumAlgorithm, String)>,
    /// The algorithm whose value the client promised in a trailer (`x-amz-trailer`).
    trailer: Option<ChecksumAlgorithm>,
    /// Every algorithm to compute while staging, without repeats.
    algorithms: Vec<ChecksumAlgorithm>,
}

impl ChecksumPlan {
    /// Reads the request headers. `also` is an algorithm the server needs regardless (the
    /// multipart upload's own algorithm, so that its composite checksum can be formed).
    pub(crate) fn from_headers(headers: &HeaderMap, also: Option<ChecksumAlgorithm>) -> ApiResult<Self> {
        let mut values = ChecksumAlgorithm::ALL
            .into_iter()
            .filter_map(|a| header_str(headers, value_header(a)).map(|v| (a, v.to_owned())));
        let header = values.next();
        if values.next().is_some() {
            return Err(ApiError::invalid_request(
                "Expecting a single x-amz-checksum-<algorithm> header; send the checksum of one algorithm only.",
            ));
        }

        let mut trailer = None;
        if let Some(list) = header_str(headers, "x-amz-trailer") {
            for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                let Some(a) = algorithm_of_value_header(name) else {
                    continue;
                };
                if trailer.is_some_and(|t| t != a) {
                    return Err(ApiError::invalid_request(
                        "x-amz-trailer names more than one checksum; send the checksum of one algorithm only.",
                    ));
                }
                trailer = Some(a);
            }
        }
        if let (Some((h, _)), Some(t)) = (&header, trailer)
            && *h != t
        {
            return Err(ApiError::invalid_request(format!(
                "The request carries a {} checksum header and promises a {} checksum trailer; send one algorithm only.",
                h.as_str(),
                t.as_str()
            )));
        }

        let mut sdk = None;
        for name in ["x-amz-sdk-checksum-algorithm", "x-amz-checksum-algorithm"] {
            if let Some(v) = header_str(headers, name) {
                let a = ChecksumAlgorithm::parse(v).ok_or_else(|| {
                    ApiError::invalid_request(format!(
                        "The value of {name} ({v:?}) is not a checksum algorithm; use CRC32, CRC32C, CRC64NVME, SHA1 or SHA256."
                    ))
                })?;
                sdk = Some(a);
            }
        }
        if let Some(s) = sdk {
            let sent = header.as_ref().map(|(a, _)| *a).or(trailer);
            if let Some(sent) = sent
                && sent != s
            {
                return Err(ApiError::invalid_request(format!(
                    "x-amz-sdk-checksum-algorithm is {} but the checksum sent is {}; they must name the same algorithm.",
                    s.as_str(),
                    sent.as_str()
                )));
            }
        }

        let mut algorithms: Vec<ChecksumAlgorithm> = Vec::new();
        for a in [header.as_ref().map(|(a, _)| *a), trailer, sdk, also]
            .into_iter()
            .flatten()
        {
            if !algorithms.contains(&a) {
                algorithms.push(a);
            }
        }
        Ok(Self {
            header,
            trailer,
            algorithms,
        })
    }

    /// The algorithms to compute while staging the body.
    pub(crate) fn algorithms(&self) -> Vec<ChecksumAlgorithm> {
        self.algorithms.clone()
    }

    /// The values the client claims: from the header, then from the trailers. Call only after
    /// the body has been read to its end, when the trailers (if any) have arrived.
    pub(crate) fn claimed(&self, trailers: Option<&HeaderMap>) -> ApiResult<Checksums> {
        let mut out = Checksums::default();
        if let Some((a, v)) = &self.header {
            out.set(*a, Some(v.clone()));
        }
        if let Some(a) = self.trailer {
            let v = trailers.and_then(|t| header_str(t, value_header(a))).ok_or_else(|| {
                ApiError::IncompleteBody(format!(
                    "x-amz-trailer promised {} but the body ended without that trailer; retry the upload",
                    value_header(a)
                ))
            })?;
            out.set(a, Some(v.to_owned()));
        }
        Ok(out)
    }
}

/// `Content-MD5`, if the request carries one.
pub(crate) fn content_md5(headers: &HeaderMap) -> Option<&str> {
    header_str(headers, "content-md5")
}

/// `FULL_OBJECT` or `COMPOSITE`, for responses that carry checksums.
pub(crate) fn checksum_type(c: &Checksums) -> Option<s3s::dto::ChecksumType> {
    if c.is_empty() {
        return None;
    }
    Some(if c.composite_parts.is_some() {
        s3s::dto::ChecksumType::from_static(s3s::dto::ChecksumType::COMPOSITE)
    } else {
        s3s::dto::ChecksumType::from_static(s3s::dto::ChecksumType::FULL_OBJECT)
    })
}

/// Copies the five checksum values of a [`Checksums`] into an s3s output struct.
macro_rules! set_checksums {
    ($out:expr, $c:expr) => {{
        let c: &keyless_store::Checksums = $c;
        $out.checksum_crc32 = c.crc32.clone();
        $out.checksum_crc32c = c.crc32c.clone();
        $out.checksum_crc64nvme = c.crc64nvme.clone();
        $out.checksum_sha1 = c.sha1.clone();
        $out.checksum_sha256 = c.sha256.clone();
    }};
}
pub(crate) use set_checksums;

#[cfg(test)]
mod tests {
    use super::*;
    use ChecksumAlgorithm::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        h
    }

    /// (request headers, the upload's algorithm, algorithms to compute or the error code).
    #[test]
    fn plan_selects_algorithms() {
        type Case<'a> = (
            &'a [(&'a str, &'a str)],
            Option<ChecksumAlgorithm>,
            Result<Vec<ChecksumAlgorithm>, &'a str>,
        );
        let cases: &[Case] = &[
            (&[], None, Ok(vec![])),
            (&[], Some(Sha256), Ok(vec![Sha256])),
            (&[("x-amz-checksum-crc32", "AAAAAA==")], None, Ok(vec![Crc32])),
            (
                &[
                    ("x-amz-checksum-crc32", "AAAAAA=="),
                    ("x-amz-sdk-checksum-algorithm", "CRC32"),
                ],
                None,
                Ok(vec![Crc32]),
            ),
            (
                &[("x-amz-trailer", "x-amz-checksum-crc64nvme")],
                None,
                Ok(vec![Crc64Nvme]),
            ),
            (
                &[
                    ("x-amz-trailer", "x-amz-checksum-crc32c"),
                    ("x-amz-sdk-checksum-algorithm", "crc32c"),
                ],
                Some(Sha1),
                Ok(vec![Crc32c, Sha1]),
            ),
            (&[("x-amz-sdk-checksum-algorithm", "SHA256")], None, Ok(vec![Sha256])),
            (&[("x-amz-checksum-algorithm", "SHA1")], None, Ok(vec![Sha1])),
            (&[("x-amz-trailer", "x-amz-some-other-trailer")], None, Ok(vec![])),
            (
                &[("x-amz-checksum-crc32", "a"), ("x-amz-checksum-sha1", "b")],
                None,
                Err("InvalidRequest"),
            ),
            (
                &[("x-amz-checksum-crc32", "a"), ("x-amz-trailer", "x-amz-checksum-sha1")],
                None,
                Err("InvalidRequest"),
            ),
            (
                &[
                    ("x-amz-checksum-crc32", "a"),
                    ("x-amz-sdk-checksum-algorithm", "SHA256"),
                ],
                None,
                Err("InvalidRequest"),
            ),
            (&[("x-amz-sdk-checksum-algorithm", "MD5")], None, Err("InvalidRequest")),
            (
                &[("x-amz-trailer", "x-amz-checksum-crc32,x-amz-checksum-sha1")],
                None,
                Err("InvalidRequest"),
            ),
        ];
        for (h, also, want) in cases {
            let got = ChecksumPlan::from_headers(&headers(h), *also).map(|p| p.algorithms());
            match (got, want) {
                (Ok(got), Ok(want)) => assert_eq!(&got, want, "{h:?}"),
                (Err(e), Err(code)) => {
                    let s3: s3s::S3Error = e.into();
                    assert_eq!(s3.code().as_str(), *code, "{h:?}");
                }
                (got, want) => panic!("{h:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn claimed_values_come_from_headers_then_trailers() {
        let plan = ChecksumPlan::from_headers(&headers(&[("x-amz-checksum-sha256", " abc= ")]), Some(Crc32)).unwrap();
        let c = plan.claimed(None).unwrap();
        assert_eq!(c.sha256.as_deref(), Some("abc="));
        assert_eq!(c.crc32, None, "the upload's own algorithm is computed, not claimed");

        let plan = ChecksumPlan::from_headers(&headers(&[("x-amz-trailer", "x-amz-checksum-crc32")]), None).unwrap();
        let trailers = headers(&[("x-amz-checksum-crc32", "DUoRhQ==")]);
        assert_eq!(
            plan.claimed(Some(&trailers)).unwrap().crc32.as_deref(),
            Some("DUoRhQ==")
        );
        assert!(
            matches!(plan.claimed(None), Err(ApiError::IncompleteBody(_))),
            "a promised trailer must arrive"
        );
        assert!(plan.claimed(Some(&headers(&[("x-amz-checksum-sha1", "x")]))).is_err());
    }
}
