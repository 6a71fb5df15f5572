//! Object metadata on the wire: request headers into [`ObjectMeta`], and back into the
//! response of GetObject and HeadObject.
//!
//! System headers are read raw from the request so they are returned exactly as sent
//! (`Expires` included, which S3 echoes verbatim even when it is not a valid date; such a value
//! reaches here as a `lenient::RawExpires` extension, since `s3s` would refuse it); user
//! metadata (`x-amz-meta-*`) comes decoded from `s3s`, which also RFC 2047-encodes it on the
//! way out.

use std::collections::BTreeMap;

use http::{HeaderMap, HeaderValue};
use keyless_store::ObjectMeta;

use crate::error::{ApiError, ApiResult};
use crate::lenient::RawExpires;

/// S3's limit on user metadata: the UTF-8 bytes of every key and value, summed.
pub(crate) const MAX_USER_METADATA: usize = 2048;

/// The content type S3 reports for an object stored without one.
pub(crate) const DEFAULT_CONTENT_TYPE: &str = "binary/octet-stream";

fn header_string(headers: &HeaderMap, name: &str) -> Option<String> {
    let v = headers.get(name)?;
    let s = match std::str::from_utf8(v.as_bytes()) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(v.as_bytes()).into_owned(),
    };
    Some(s)
}

/// `Content-Encoding` without the `aws-chunked` token, which describes the transfer of this
/// request and not the object (S3 strips it too).
fn stored_content_encoding(raw: Option<String>) -> Option<String> {
    let raw = raw?;
    let kept: Vec<&str> = raw
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty() && !t.eq_ignore_ascii_case("aws-chunked"))
        .collect();
    (!kept.is_empty()).then(|| kept.join(","))
}

/// The metadata an upload request (PutObject, CreateMultipartUpload, CopyObject with
/// `REPLACE`) asks to store.
pub(crate) fn from_request(
    headers: &HeaderMap,
    extensions: &http::Extensions,
    user: Option<&s3s::dto::Metadata>,
) -> ApiResult<ObjectMeta> {
    let user: BTreeMap<String, String> = user
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect();
    let size: usize = user.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > MAX_USER_METADATA {
        return Err(ApiError::MetadataTooLarge {
            size,
            limit: MAX_USER_METADATA,
        });
    }
    Ok(ObjectMeta {
        content_type: header_string(headers, "content-type").filter(|s| !s.is_empty()),
        content_encoding: stored_content_encoding(header_string(headers, "content-encoding")),
        content_disposition: header_string(headers, "content-disposition"),
        content_language: header_string(headers, "content-language"),
        cache_control: header_string(headers, "cache-control"),
        expires: header_string(headers, "expires").or_else(|| extensions.get::<RawExpires>().map(|e| e.0.clone())),
        user,
    })
}

/// The `Expires` header of a response, exactly as it was stored.
pub(crate) fn expires_header(meta: &ObjectMeta) -> Option<HeaderValue> {
    meta.expires.as_deref().and_then(|e| HeaderValue::try_from(e).ok())
}

/// Fills the metadata fields shared by `GetObjectOutput` and `HeadObjectOutput`.
macro_rules! set_object_meta {
    ($out:expr, $meta:expr) => {{
        let m: &keyless_store::ObjectMeta = $meta;
        $out.content_type = Some(
            m.content_type
                .clone()
                .unwrap_or_else(|| $crate::meta::DEFAULT_CONTENT_TYPE.to_owned()),
        );
        $out.content_encoding = m.content_encoding.clone();
        $out.content_disposition = m.content_disposition.clone();
        $out.content_language = m.content_language.clone();
        $out.cache_control = m.cache_control.clone();
        $out.metadata = (!m.user.is_empty()).then(|| m.user.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
    }};
}
pub(crate) use set_object_meta;

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        h
    }

    #[test]
    fn content_encoding_drops_aws_chunked() {
        let cases = [
            (None, None),
            (Some("aws-chunked"), None),
            (Some("aws-chunked,gzip"), Some("gzip")),
            (Some("gzip, aws-chunked"), Some("gzip")),
            (Some("gzip"), Some("gzip")),
            (Some("br,gzip"), Some("br,gzip")),
        ];
        for (raw, want) in cases {
            assert_eq!(
                stored_content_encoding(raw.map(str::to_owned)).as_deref(),
                want,
                "{raw:?}"
            );
        }
    }

    #[test]
    fn from_request_reads_system_headers_verbatim() {
        let h = headers(&[
            ("content-type", "text/plain"),
            ("content-encoding", "aws-chunked"),
            ("content-disposition", "attachment; filename=\"a b.txt\""),
            ("content-language", "de"),
            ("cache-control", "max-age=60"),
            ("expires", "not a date"),
        ]);
        let mut user = s3s::dto::Metadata::new();
        user.insert("Color".into(), "blue".into());
        let m = from_request(&h, &http::Extensions::new(), Some(&user)).unwrap();
        assert_eq!(m.content_type.as_deref(), Some("text/plain"));
        assert_eq!(m.content_encoding, None);
        assert_eq!(
            m.content_disposition.as_deref(),
            Some("attachment; filename=\"a b.txt\"")
        );
        assert_eq!(m.content_language.as_deref(), Some("de"));
        assert_eq!(m.cache_control.as_deref(), Some("max-age=60"));
        assert_eq!(m.expires.as_deref(), Some("not a date"));
        assert_eq!(m.user.get("color").map(String::as_str), Some("blue"));
    }

    #[test]
    fn an_expires_s3s_would_refuse_comes_as_an_extension() {
        let mut ext = http::Extensions::new();
        ext.insert(RawExpires("not a date".into()));
        let m = from_request(&HeaderMap::new(), &ext, None).unwrap();
        assert_eq!(m.expires.as_deref(), Some("not a date"));
        let h = headers(&[("expires", "Thu, 01 Dec 1994 16:00:00 GMT")]);
        let m = from_request(&h, &http::Extensions::new(), None).unwrap();
        assert_eq!(m.expires.as_deref(), Some("Thu, 01 Dec 1994 16:00:00 GMT"));
    }

    #[test]
    fn user_metadata_is_limited() {
        let mut user = s3s::dto::Metadata::new();
        user.insert("k".into(), "v".repeat(MAX_USER_METADATA - 1));
        assert!(
            from_request(&HeaderMap::new(), &http::Extensions::new(), Some(&user)).is_ok(),
            "exactly at the limit"
        );
        user.insert("k2".into(), "v".into());
        assert!(matches!(
            from_request(&HeaderMap::new(), &http::Extensions::new(), Some(&user)),
            Err(ApiError::MetadataTooLarge { .. })
        ));
    }
}
