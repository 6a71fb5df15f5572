//! Which bytes a read returns: the whole object, one `Range` (suffix and open ranges
//! included), or one part of a multipart object (`partNumber=`); and the byte range of an
//! UploadPartCopy source (`x-amz-copy-source-range`).

use keyless_store::ObjectInfo;
use s3s::dto::Range;

use crate::error::{ApiError, ApiResult};

/// The bytes `[start, end)` of an object that a read returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Selection {
    pub start: u64,
    pub end: u64,
    /// Answered with 206 and `Content-Range`.
    pub partial: bool,
}

impl Selection {
    pub(crate) fn len(&self) -> u64 {
        self.end - self.start
    }

    /// `bytes first-last/size`, for a partial answer.
    pub(crate) fn content_range(&self, size: u64) -> Option<String> {
        self.partial
            .then(|| format!("bytes {}-{}/{size}", self.start, self.end.saturating_sub(1)))
    }
}

/// Chooses the bytes of a GetObject or HeadObject.
pub(crate) fn select(range: Option<&Range>, part_number: Option<i32>, info: &ObjectInfo) -> ApiResult<Selection> {
    match (range, part_number) {
        (Some(_), Some(_)) => Err(ApiError::invalid_request(
            "Cannot specify both a Range header and a partNumber parameter; send one.",
        )),
        (None, Some(n)) => {
            let count = info.parts_count();
            let Ok(k) = u32::try_from(n) else {
                return Err(ApiError::invalid_argument(
                    "Part number must be an integer between 1 and 10000, inclusive.",
                ));
            };
            if k == 0 || k > 10_000 {
                return Err(ApiError::invalid_argument(
                    "Part number must be an integer between 1 and 10000, inclusive.",
                ));
            }
            let (start, end) = info
                .part_range(k)
                .ok_or(ApiError::InvalidPartNumber { part: n, count })?;
            Ok(Selection {
                start,
                end,
                partial: info.part_sizes.is_some(),
            })
        }
        (Some(r), None) => {
            let r = r
                .check(info.size)
                .map_err(|_| ApiError::InvalidRange { size: info.size })?;
            Ok(Selection {
                start: r.start,
                end: r.end,
                partial: true,
            })
        }
        (None, None) => Ok(Selection {
            start: 0,
            end: info.size,
            partial: false,
        }),
    }
}

/// Parses `x-amz-copy-source-range: bytes=first-last` against a source of `size` bytes;
/// returns `[first, last + 1)`.
pub(crate) fn copy_source_range(header: &str, size: u64) -> ApiResult<(u64, u64)> {
    let malformed = || {
        ApiError::invalid_argument(
            "The x-amz-copy-source-range value must be of the form bytes=first-last, where first and last are the \
             zero-based offsets of the first and last bytes to copy.",
        )
    };
    let (first, last) = header
        .trim()
        .strip_prefix("bytes=")
        .and_then(|r| r.split_once('-'))
        .ok_or_else(malformed)?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(first) || !digits(last) {
        return Err(malformed());
    }
    let first: u64 = first.parse().map_err(|_| malformed())?;
    let last: u64 = last.parse().map_err(|_| malformed())?;
    if first > last || last >= size {
        return Err(ApiError::invalid_argument(format!(
            "The range bytes={first}-{last} is not valid for a source object of {size} bytes."
        )));
    }
    Ok((first, last + 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn object(size: u64, parts: Option<Vec<u64>>) -> ObjectInfo {
        ObjectInfo {
            key: "k".into(),
            size,
            etag: "e".into(),
            last_modified: SystemTime::UNIX_EPOCH,
            meta: Default::default(),
            checksums: Default::default(),
            part_sizes: parts,
            part_checksums: None,
            tags: vec![],
        }
    }

    /// The expected answer: a value, or the S3 error code.
    type Want<T> = Result<T, &'static str>;
    /// (object, part number, (start, end, partial)).
    type PartCase<'a> = (&'a ObjectInfo, i32, Want<(u64, u64, bool)>);
    /// (header, source size, [start, end)).
    type CopyCase = (&'static str, u64, Want<(u64, u64)>);

    fn code(e: ApiError) -> String {
        let s3: s3s::S3Error = e.into();
        s3.code().as_str().to_owned()
    }

    #[test]
    fn select_ranges() {
        let o = object(10, None);
        let cases: &[(&str, Want<(u64, u64)>)] = &[
            ("bytes=0-0", Ok((0, 1))),
            ("bytes=0-9", Ok((0, 10))),
            ("bytes=2-5", Ok((2, 6))),
            ("bytes=5-", Ok((5, 10))),
            ("bytes=5-100", Ok((5, 10))),
            ("bytes=-3", Ok((7, 10))),
            ("bytes=-100", Ok((0, 10))),
            ("bytes=10-", Err("InvalidRange")),
            ("bytes=10-20", Err("InvalidRange")),
            ("bytes=-0", Err("InvalidRange")),
        ];
        for (header, want) in cases {
            let r = Range::parse(header).unwrap();
            let got = select(Some(&r), None, &o).map(|s| (s.start, s.end)).map_err(code);
            assert_eq!(got, want.map_err(str::to_owned), "{header}");
        }
        let empty = object(0, None);
        let r = Range::parse("bytes=0-").unwrap();
        assert_eq!(
            select(Some(&r), None, &empty).map_err(code),
            Err("InvalidRange".to_owned())
        );
    }

    #[test]
    fn content_range_header() {
        let o = object(10, None);
        let r = Range::parse("bytes=-3").unwrap();
        let s = select(Some(&r), None, &o).unwrap();
        assert_eq!(s.content_range(10).as_deref(), Some("bytes 7-9/10"));
        let whole = select(None, None, &o).unwrap();
        assert_eq!(whole.content_range(10), None);
        assert_eq!(whole.len(), 10);
    }

    #[test]
    fn select_parts() {
        let mp = object(12, Some(vec![5, 5, 2]));
        let single = object(7, None);
        let cases: Vec<PartCase> = vec![
            (&mp, 1, Ok((0, 5, true))),
            (&mp, 2, Ok((5, 10, true))),
            (&mp, 3, Ok((10, 12, true))),
            (&mp, 4, Err("InvalidPartNumber")),
            (&mp, 0, Err("InvalidArgument")),
            (&mp, -1, Err("InvalidArgument")),
            (&mp, 10_001, Err("InvalidArgument")),
            (&single, 1, Ok((0, 7, false))),
            (&single, 2, Err("InvalidPartNumber")),
        ];
        for (o, n, want) in cases {
            let got = select(None, Some(n), o)
                .map(|s| (s.start, s.end, s.partial))
                .map_err(code);
            assert_eq!(got, want.map_err(str::to_owned), "part {n}");
        }
        let r = Range::parse("bytes=0-1").unwrap();
        assert_eq!(
            select(Some(&r), Some(1), &mp).map_err(code),
            Err("InvalidRequest".to_owned())
        );
    }

    #[test]
    fn copy_source_ranges() {
        let cases: &[CopyCase] = &[
            ("bytes=0-0", 10, Ok((0, 1))),
            ("bytes=0-9", 10, Ok((0, 10))),
            ("bytes=3-6", 10, Ok((3, 7))),
            ("bytes=0-10", 10, Err("InvalidArgument")),
            ("bytes=5-4", 10, Err("InvalidArgument")),
            ("bytes=5-", 10, Err("InvalidArgument")),
            ("bytes=-5", 10, Err("InvalidArgument")),
            ("5-6", 10, Err("InvalidArgument")),
            ("bytes=a-b", 10, Err("InvalidArgument")),
            ("bytes=+1-2", 10, Err("InvalidArgument")),
        ];
        for (header, size, want) in cases {
            assert_eq!(
                copy_source_range(header, *size).map_err(code),
                want.map_err(str::to_owned),
                "{header}"
            );
        }
    }
}
