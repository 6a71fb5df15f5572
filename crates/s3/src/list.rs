//! Object listings: ListObjects (V1), ListObjectsV2 and ListObjectVersions (buckets are
//! unversioned, so every object is its own latest version, `null`).
//!
//! The store pages over its ordered key index ([`ListQuery`]); this module turns S3's
//! parameters into a query and the page back into S3's answer:
//! - an empty `delimiter=` means no delimiter (restic and rclone send it);
//! - `max-keys` defaults to 1000, larger values are clamped to 1000, negative ones rejected;
//! - a V2 continuation token is opaque to clients: the base64 of the last key (or common
//!   prefix) returned, from which the next page starts;
//! - V1 returns `NextMarker` only when a delimiter was given (without one, clients continue
//!   from the last key, as S3 documents);
//! - `encoding-type=url` percent-encodes every key-like field of the answer.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use keyless_store::{ListPage, ListQuery, ObjectInfo};
use s3s::dto::{
    ChecksumAlgorithm as WireAlgorithm, CommonPrefix, EncodingType, ListObjectVersionsInput, ListObjectVersionsOutput,
    ListObjectsInput, ListObjectsOutput, ListObjectsV2Input, ListObjectsV2Output, Object, ObjectStorageClass,
    ObjectVersion, ObjectVersionStorageClass, Owner,
};
use s3s::{S3Request, S3Response};

use crate::checksum;
use crate::error::{ApiError, ApiResult};
use crate::percent;
use crate::service::Edge;

/// S3's page size limit for listings.
pub(crate) const MAX_KEYS: usize = 1000;

/// `max-keys` (or `max-uploads`, `max-parts`) as S3 reads it.
pub(crate) fn page_size(requested: Option<i32>, name: &str) -> ApiResult<usize> {
    match requested {
        None => Ok(MAX_KEYS),
        Some(n) if n < 0 => Err(ApiError::invalid_argument(format!(
            "{name} must be a non-negative integer; got {n}."
        ))),
        Some(n) => Ok((n as usize).min(MAX_KEYS)),
    }
}

/// A delimiter, or none: an empty `delimiter=` means none.
pub(crate) fn delimiter(d: Option<&str>) -> Option<String> {
    d.filter(|d| !d.is_empty()).map(str::to_owned)
}

/// How key-like fields are written in the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeyEncoding {
    url: bool,
}

impl KeyEncoding {
    pub(crate) fn from_request(e: Option<&EncodingType>) -> ApiResult<Self> {
        match e.map(|e| e.as_str()) {
            None => Ok(Self { url: false }),
            Some(s) if s.eq_ignore_ascii_case(EncodingType::URL) => Ok(Self { url: true }),
            Some(s) => Err(ApiError::invalid_argument(format!(
                "Invalid encoding-type {s:?}: the only encoding S3 defines is url."
            ))),
        }
    }

    pub(crate) fn apply(self, s: &str) -> String {
        if self.url { percent::encode_key(s) } else { s.to_owned() }
    }

    pub(crate) fn echo(self) -> Option<EncodingType> {
        self.url.then(|| EncodingType::from_static(EncodingType::URL))
    }
}

/// A V2 continuation token: opaque to the client, the last key returned to us.
fn encode_token(next_marker: &str) -> String {
    B64.encode(next_marker.as_bytes())
}

fn decode_token(token: &str) -> ApiResult<String> {
    B64.decode(token.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            ApiError::invalid_argument(
                "The continuation token provided is incorrect: pass NextContinuationToken exactly as returned.",
            )
        })
}

fn checksum_algorithms(info: &ObjectInfo) -> Option<Vec<WireAlgorithm>> {
    let v: Vec<WireAlgorithm> = info
        .checksums
        .algorithms()
        .map(|a| WireAlgorithm::from(a.as_str().to_owned()))
        .collect();
    (!v.is_empty()).then_some(v)
}

fn object_entry(info: ObjectInfo, owner: Option<Owner>, enc: KeyEncoding) -> Object {
    Object {
        checksum_algorithm: checksum_algorithms(&info),
        checksum_type: checksum::checksum_type(&info.checksums),
        e_tag: Some(s3s::dto::ETag::Strong(info.etag)),
        key: Some(enc.apply(&info.key)),
        last_modified: Some(info.last_modified.into()),
        owner,
        restore_status: None,
        size: Some(i64::try_from(info.size).unwrap_or(i64::MAX)),
        storage_class: Some(ObjectStorageClass::from_static(ObjectStorageClass::STANDARD)),
    }
}

fn common_prefixes(page: &ListPage, enc: KeyEncoding) -> Option<Vec<CommonPrefix>> {
    (!page.common_prefixes.is_empty()).then(|| {
        page.common_prefixes
            .iter()
            .map(|p| CommonPrefix {
                prefix: Some(enc.apply(p)),
            })
            .collect()
    })
}

fn clamp_i32(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

pub(crate) async fn list_v1(edge: &Edge, req: S3Request<ListObjectsInput>) -> ApiResult<S3Response<ListObjectsOutput>> {
    let i = &req.input;
    let enc = KeyEncoding::from_request(i.encoding_type.as_ref())?;
    let max_keys = page_size(i.max_keys, "max-keys")?;
    let delim = delimiter(i.delimiter.as_deref());
    let prefix = i.prefix.clone().unwrap_or_default();
    let marker = i.marker.clone().filter(|m| !m.is_empty());
    let q = ListQuery {
        prefix: prefix.clone(),
        delimiter: delim.clone(),
        start_after: marker.clone(),
        max_keys,
    };
    let page = edge.store.list_objects(&i.bucket, &q)?;
    let owner = edge.owner();
    let next_marker = if delim.is_some() && page.is_truncated {
        page.next_marker.as_deref().map(|m| enc.apply(m))
    } else {
        None
    };
    let out = ListObjectsOutput {
        name: Some(i.bucket.clone()),
        prefix: Some(enc.apply(&prefix)),
        marker: Some(marker.as_deref().map(|m| enc.apply(m)).unwrap_or_default()),
        max_keys: Some(clamp_i32(max_keys)),
        is_truncated: Some(page.is_truncated),
        common_prefixes: common_prefixes(&page, enc),
        delimiter: delim.as_deref().map(|d| enc.apply(d)),
        next_marker,
        encoding_type: enc.echo(),
        contents: Some(
            page.objects
                .into_iter()
                .map(|o| object_entry(o, Some(owner.clone()), enc))
                .collect(),
        ),
        request_charged: None,
    };
    Ok(S3Response::new(out))
}

pub(crate) async fn list_v2(
    edge: &Edge,
    req: S3Request<ListObjectsV2Input>,
) -> ApiResult<S3Response<ListObjectsV2Output>> {
    let i = &req.input;
    let enc = KeyEncoding::from_request(i.encoding_type.as_ref())?;
    let max_keys = page_size(i.max_keys, "max-keys")?;
    let delim = delimiter(i.delimiter.as_deref());
    let prefix = i.prefix.clone().unwrap_or_default();
    let start_after = i.start_after.clone().filter(|s| !s.is_empty());
    // The token continues the listing; start-after only positions its first page.
    let from = match i.continuation_token.as_deref() {
        Some(t) => Some(decode_token(t)?),
        None => start_after.clone(),
    };
    let q = ListQuery {
        prefix: prefix.clone(),
        delimiter: delim.clone(),
        start_after: from,
        max_keys,
    };
    let page = edge.store.list_objects(&i.bucket, &q)?;
    let owner = (i.fetch_owner == Some(true)).then(|| edge.owner());
    let key_count = page.objects.len() + page.common_prefixes.len();
    let next = if page.is_truncated {
        page.next_marker.as_deref().map(encode_token)
    } else {
        None
    };
    let out = ListObjectsV2Output {
        name: Some(i.bucket.clone()),
        prefix: Some(enc.apply(&prefix)),
        max_keys: Some(clamp_i32(max_keys)),
        key_count: Some(clamp_i32(key_count)),
        continuation_token: i.continuation_token.clone(),
        is_truncated: Some(page.is_truncated),
        next_continuation_token: next,
        common_prefixes: common_prefixes(&page, enc),
        delimiter: delim.as_deref().map(|d| enc.apply(d)),
        encoding_type: enc.echo(),
        start_after: start_after.as_deref().map(|s| enc.apply(s)),
        contents: Some(
            page.objects
                .into_iter()
                .map(|o| object_entry(o, owner.clone(), enc))
                .collect(),
        ),
        request_charged: None,
    };
    Ok(S3Response::new(out))
}

/// The version id of every object in an unversioned bucket.
pub(crate) const NULL_VERSION: &str = "null";

pub(crate) async fn list_versions(
    edge: &Edge,
    req: S3Request<ListObjectVersionsInput>,
) -> ApiResult<S3Response<ListObjectVersionsOutput>> {
    let i = &req.input;
    let enc = KeyEncoding::from_request(i.encoding_type.as_ref())?;
    let max_keys = page_size(i.max_keys, "max-keys")?;
    let delim = delimiter(i.delimiter.as_deref());
    let prefix = i.prefix.clone().unwrap_or_default();
    let key_marker = i.key_marker.clone().filter(|m| !m.is_empty());
    if key_marker.is_none() && i.version_id_marker.as_deref().is_some_and(|v| !v.is_empty()) {
        return Err(ApiError::invalid_argument(
            "A version-id-marker cannot be given without a key-marker.",
        ));
    }
    // Each key has exactly one version, so every version of `key_marker` has been listed.
    let q = ListQuery {
        prefix: prefix.clone(),
        delimiter: delim.clone(),
        start_after: key_marker.clone(),
        max_keys,
    };
    let page = edge.store.list_objects(&i.bucket, &q)?;
    let owner = edge.owner();
    let next_key = if page.is_truncated {
        page.next_marker.as_deref().map(|m| enc.apply(m))
    } else {
        None
    };
    let versions = page
        .objects
        .iter()
        .map(|o| ObjectVersion {
            checksum_algorithm: checksum_algorithms(o),
            checksum_type: checksum::checksum_type(&o.checksums),
            e_tag: Some(s3s::dto::ETag::Strong(o.etag.clone())),
            is_latest: Some(true),
            key: Some(enc.apply(&o.key)),
            last_modified: Some(o.last_modified.into()),
            owner: Some(owner.clone()),
            restore_status: None,
            size: Some(i64::try_from(o.size).unwrap_or(i64::MAX)),
            storage_class: Some(ObjectVersionStorageClass::from_static(
                ObjectVersionStorageClass::STANDARD,
            )),
            version_id: Some(NULL_VERSION.to_owned()),
        })
        .collect();
    let out = ListObjectVersionsOutput {
        common_prefixes: common_prefixes(&page, enc),
        delete_markers: None,
        delimiter: delim.as_deref().map(|d| enc.apply(d)),
        encoding_type: enc.echo(),
        is_truncated: Some(page.is_truncated),
        key_marker: Some(key_marker.as_deref().map(|m| enc.apply(m)).unwrap_or_default()),
        max_keys: Some(clamp_i32(max_keys)),
        name: Some(i.bucket.clone()),
        next_version_id_marker: next_key.as_ref().map(|_| NULL_VERSION.to_owned()),
        next_key_marker: next_key,
        prefix: Some(enc.apply(&prefix)),
        version_id_marker: i.version_id_marker.clone(),
        versions: Some(versions),
        request_charged: None,
    };
    Ok(S3Response::new(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes() {
        let cases: [(Option<i32>, Option<usize>); 6] = [
            (None, Some(1000)),
            (Some(0), Some(0)),
            (Some(5), Some(5)),
            (Some(1000), Some(1000)),
            (Some(5000), Some(1000)),
            (Some(-1), None),
        ];
        for (input, want) in cases {
            assert_eq!(page_size(input, "max-keys").ok(), want, "{input:?}");
        }
    }

    #[test]
    fn empty_delimiter_is_none() {
        assert_eq!(delimiter(None), None);
        assert_eq!(delimiter(Some("")), None);
        assert_eq!(delimiter(Some("/")).as_deref(), Some("/"));
    }

    #[test]
    fn key_encoding() {
        let url = KeyEncoding::from_request(Some(&EncodingType::from_static("url"))).unwrap();
        assert_eq!(url.apply("a b/c+d"), "a%20b/c%2Bd");
        assert_eq!(url.echo().as_ref().map(|e| e.as_str()), Some("url"));
        let none = KeyEncoding::from_request(None).unwrap();
        assert_eq!(none.apply("a b"), "a b");
        assert_eq!(none.echo(), None);
        assert!(KeyEncoding::from_request(Some(&EncodingType::from("base64".to_owned()))).is_err());
    }

    #[test]
    fn continuation_tokens_round_trip() {
        for key in ["a", "photos/2024/", "ünïcode key with spaces", "+/="] {
            let t = encode_token(key);
            assert!(
                t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "{t} is URL-safe"
            );
            assert_eq!(decode_token(&t).unwrap(), key);
        }
        assert!(decode_token("not base64!").is_err());
        assert!(decode_token(&B64.encode([0xff, 0xfe])).is_err(), "not UTF-8");
    }
}
