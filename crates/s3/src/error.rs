//! The one place where a failure becomes an S3 error code.
//!
//! Every handler returns [`ApiError`]: either a [`StoreError`] from the engine or a rejection
//! of the request made here at the edge. [`From<ApiError> for S3Error`] maps each variant to
//! exactly one S3 code and HTTP status, with a message that tells the user what to do next.
//! Server-side failures (I/O, database) are logged with their detail and reach the client as
//! a bare `InternalError`, so nothing about the host leaks into responses.

use std::time::SystemTime;

use http::{HeaderMap, HeaderValue, StatusCode};
use keyless_store::StoreError;
use s3s::dto::{Timestamp, TimestampFormat};
use s3s::{S3Error, S3ErrorCode};

pub(crate) type ApiResult<T> = Result<T, ApiError>;

#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("the requested range is not satisfiable: the object is {size} bytes long")]
    InvalidRange { size: u64 },
    #[error("part number {part} is not satisfiable: the object has {count} part(s)")]
    InvalidPartNumber { part: i32, count: u32 },
    #[error("{0}")]
    InvalidTag(String),
    #[error("{0}")]
    MalformedXml(String),
    #[error("user metadata is {size} bytes; the limit is {limit} bytes (keys plus values)")]
    MetadataTooLarge { size: usize, limit: usize },
    #[error("{0}")]
    NotImplemented(String),
    #[error("not modified")]
    NotModified { etag: String, last_modified: SystemTime },
    #[error("{0}")]
    InvalidLocationConstraint(String),
    #[error("{0}")]
    AccessDenied(String),
    #[error("the access key id you provided does not exist")]
    InvalidAccessKeyId,
    #[error("{0}")]
    AuthorizationHeaderMalformed(String),
    #[error("{0}")]
    AuthorizationQueryParametersError(String),
    #[error("the request time {request_time} is more than 15 minutes from the server's time {server_time}")]
    RequestTimeTooSkewed {
        request_time: time::OffsetDateTime,
        server_time: time::OffsetDateTime,
    },
    #[error("a chunk signature of the streaming body does not match")]
    ChunkSignatureMismatch,
    #[error("the request body stopped arriving")]
    RequestTimeout,
    #[error("the body does not hash to the x-amz-content-sha256 the request was signed with")]
    ContentSha256Mismatch,
    #[error("{0}")]
    IncompleteBody(String),
    #[error("the body is larger than the limit of {limit} bytes")]
    EntityTooLarge { limit: u64 },
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub(crate) fn invalid_argument(msg: impl Into<String>) -> Self {
        Self::InvalidArgument(msg.into())
    }

    pub(crate) fn invalid_request(msg: impl Into<String>) -> Self {
        Self::InvalidRequest(msg.into())
    }
}

/// The status and code of an error, and the message the client sees.
fn describe(e: &ApiError) -> (S3ErrorCode, Option<StatusCode>, String) {
    use S3ErrorCode as C;
    let msg = e.to_string();
    match e {
        ApiError::Store(s) => match s {
            StoreError::NoSuchBucket(b) => (
                C::NoSuchBucket,
                None,
                format!("The bucket {b:?} does not exist. Check the name, or create it first (CreateBucket)."),
            ),
            StoreError::BucketAlreadyOwnedByYou(b) => (
                C::BucketAlreadyOwnedByYou,
                None,
                format!("The bucket {b:?} already exists and you own it; use it as it is."),
            ),
            StoreError::BucketNotEmpty(b) => (
                C::BucketNotEmpty,
                None,
                format!(
                    "The bucket {b:?} is not empty: delete its objects and abort its multipart uploads \
                     (ListMultipartUploads, AbortMultipartUpload) before deleting it."
                ),
            ),
            StoreError::InvalidBucketName(..) => (C::InvalidBucketName, None, format!("{s}.")),
            StoreError::NoSuchKey => (C::NoSuchKey, None, "The specified key does not exist.".into()),
            StoreError::NoSuchUpload => (
                C::NoSuchUpload,
                None,
                "The multipart upload does not exist: it was completed, aborted, or never created. \
                 Start a new one with CreateMultipartUpload."
                    .into(),
            ),
            StoreError::InvalidPart { .. } => (
                C::InvalidPart,
                None,
                format!("{s}. List the uploaded parts with ListParts and send their ETags as returned by UploadPart."),
            ),
            StoreError::InvalidPartOrder => (
                C::InvalidPartOrder,
                None,
                "The list of parts was not in ascending order: list each part once, by ascending part number.".into(),
            ),
            StoreError::EntityTooSmall { .. } => (C::EntityTooSmall, None, format!("{s}; re-upload it larger, or make it the last part.")),
            StoreError::EntityTooLarge { limit } => (
                C::EntityTooLarge,
                None,
                format!("The body is larger than the limit of {limit} bytes; use a multipart upload with smaller parts."),
            ),
            StoreError::PreconditionFailed => (
                C::PreconditionFailed,
                None,
                "At least one of the preconditions you specified did not hold; fetch the object's current ETag and retry.".into(),
            ),
            StoreError::BadDigest { .. } => (
                C::BadDigest,
                None,
                format!("{s}: the body was changed in transit or the digest was computed over other bytes. Retry the upload."),
            ),
            StoreError::InvalidDigest(m) => (C::InvalidDigest, None, m.clone()),
            StoreError::InvalidArgument(m) => (C::InvalidArgument, None, m.clone()),
            StoreError::InvalidRequest(m) => (C::InvalidRequest, None, m.clone()),
            StoreError::IncompleteBody(m) => (
                C::IncompleteBody,
                None,
                format!("The request body ended early or could not be read ({m}); retry the upload."),
            ),
            StoreError::InsufficientStorage { .. } => (
                custom("InsufficientStorage"),
                Some(StatusCode::INSUFFICIENT_STORAGE),
                "The server's disk is full (keyless keeps a reserve for its metadata): nothing was stored. \
                 Delete objects or grow the volume, then retry."
                    .into(),
            ),
            StoreError::ReadOnly(_) => (
                C::ServiceUnavailable,
                Some(StatusCode::SERVICE_UNAVAILABLE),
                "The server's data directory is not writable right now (read-only filesystem): nothing was \
                 stored. Reads still work; retry the write later."
                    .into(),
            ),
            StoreError::Failed(_) => (
                C::ServiceUnavailable,
                Some(StatusCode::SERVICE_UNAVAILABLE),
                "The server stopped writing after a storage failure and is restarting to recover: nothing \
                 was stored. Retry shortly."
                    .into(),
            ),
            StoreError::Io(_) | StoreError::Db(_) | StoreError::Internal(_) | StoreError::Damaged(_) => internal(),
        },
        ApiError::InvalidArgument(_) => (C::InvalidArgument, None, msg),
        ApiError::InvalidRequest(_) => (C::InvalidRequest, None, msg),
        ApiError::InvalidRange { .. } => (C::InvalidRange, None, format!("The {msg}; ask for a range that starts before its end.")),
        ApiError::InvalidPartNumber { .. } => (
            custom("InvalidPartNumber"),
            Some(StatusCode::RANGE_NOT_SATISFIABLE),
            format!("The {msg}; use HeadObject to read x-amz-mp-parts-count."),
        ),
        ApiError::InvalidTag(_) => (C::InvalidTag, None, msg),
        ApiError::MalformedXml(_) => (C::MalformedXML, None, msg),
        ApiError::MetadataTooLarge { .. } => (C::MetadataTooLarge, None, format!("The {msg}; store large values in the object body.")),
        ApiError::NotImplemented(_) => (C::NotImplemented, None, msg),
        ApiError::NotModified { .. } => (C::NotModified, None, "Not Modified".into()),
        ApiError::InvalidLocationConstraint(_) => (C::InvalidLocationConstraint, None, msg),
        ApiError::AccessDenied(_) => (C::AccessDenied, None, msg),
        ApiError::InvalidAccessKeyId => (
            C::InvalidAccessKeyId,
            None,
            "The access key id you provided does not exist in our records; check the credentials your client uses.".into(),
        ),
        ApiError::AuthorizationHeaderMalformed(_) => (C::AuthorizationHeaderMalformed, None, msg),
        ApiError::AuthorizationQueryParametersError(_) => (C::AuthorizationQueryParametersError, None, msg),
        ApiError::RequestTimeTooSkewed { .. } => (
            C::RequestTimeTooSkewed,
            None,
            format!("The difference between the request time and the server's time is too large: {msg}. Set your clock right, and sign the request again."),
        ),
        ApiError::RequestTimeout => (
            C::RequestTimeout,
            None,
            "Your socket connection to the server was not read from or written to within the timeout period: \
             the request body stopped arriving. Nothing was stored; retry the request."
                .into(),
        ),
        ApiError::ChunkSignatureMismatch => (
            C::SignatureDoesNotMatch,
            None,
            "A chunk signature of the streaming (aws-chunked) body does not match; check your secret key and retry.".into(),
        ),
        ApiError::ContentSha256Mismatch => (
            custom("XAmzContentSHA256Mismatch"),
            Some(StatusCode::BAD_REQUEST),
            "The body does not hash to the x-amz-content-sha256 the request was signed with; it was changed in transit. Retry.".into(),
        ),
        ApiError::IncompleteBody(_) => (C::IncompleteBody, None, msg),
        ApiError::EntityTooLarge { limit } => (
            C::EntityTooLarge,
            None,
            format!("The body is larger than the limit of {limit} bytes; use a multipart upload with smaller parts."),
        ),
        ApiError::Internal(_) => internal(),
    }
}

fn internal() -> (S3ErrorCode, Option<StatusCode>, String) {
    (
        S3ErrorCode::InternalError,
        None,
        "We encountered an internal error; please try again.".into(),
    )
}

/// An S3 code that `s3s` does not list; its status must be given with it.
fn custom(code: &str) -> S3ErrorCode {
    S3ErrorCode::from_bytes(code.as_bytes()).unwrap_or(S3ErrorCode::InternalError)
}

fn is_internal(e: &ApiError) -> bool {
    matches!(
        e,
        ApiError::Internal(_)
            | ApiError::Store(StoreError::Io(_) | StoreError::Db(_) | StoreError::Internal(_) | StoreError::Damaged(_))
    )
}

/// The S3 code and message of an error, for the per-key `<Error>` entries of DeleteObjects.
pub(crate) fn code_and_message(e: &ApiError) -> (String, String) {
    if is_internal(e) {
        tracing::error!(error = %e, "internal error");
    }
    let (code, _, msg) = describe(e);
    (code.as_str().to_owned(), msg)
}

impl From<ApiError> for S3Error {
    fn from(e: ApiError) -> Self {
        if is_internal(&e) {
            tracing::error!(error = %e, "internal error");
        } else if let ApiError::Store(
            StoreError::InsufficientStorage { .. } | StoreError::ReadOnly(_) | StoreError::Failed(_),
        ) = &e
        {
            tracing::warn!(error = %e, "write refused: the store cannot take it");
        }
        let (code, status, msg) = describe(&e);
        let mut err = S3Error::with_message(code, msg);
        if let Some(status) = status {
            err.set_status_code(status);
        }
        // Headers given with an error replace all of the response's headers, so every
        // header the response needs is listed here, the content type of the XML body included.
        let headers = match &e {
            ApiError::NotModified { etag, last_modified } => {
                let mut h = HeaderMap::new();
                if let Ok(v) = HeaderValue::try_from(format!("\"{etag}\"")) {
                    h.insert(http::header::ETAG, v);
                }
                if let Some(v) = http_date(*last_modified) {
                    h.insert(http::header::LAST_MODIFIED, v);
                }
                Some(h)
            }
            ApiError::InvalidRange { size } => {
                let mut h = xml_headers();
                if let Ok(v) = HeaderValue::try_from(format!("bytes */{size}")) {
                    h.insert(http::header::CONTENT_RANGE, v);
                }
                Some(h)
            }
            _ => None,
        };
        if let Some(h) = headers {
            err.set_headers(h);
        }
        err
    }
}

fn xml_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    h
}

/// The message for an error `s3s` raised itself (path parsing, signature checks, XML
/// decoding), which it sends without one; S3 always says what went wrong.
pub(crate) fn default_message(code: &str) -> String {
    match code {
        "InvalidBucketName" => "The specified bucket name is not valid: bucket names are 3 to 63 lowercase letters, digits, dots and \
                                hyphens, beginning and ending with a letter or digit."
            .into(),
        "KeyTooLongError" => "Your key is too long: object keys are at most 1024 bytes of UTF-8.".into(),
        "MalformedXML" => "The XML you provided was not well-formed or did not validate against the S3 schema; check the request body.".into(),
        "InvalidURI" => "Could not parse the request URI; check the percent-encoding of the bucket name and key.".into(),
        "SignatureDoesNotMatch" => "The request signature we calculated does not match the signature you provided. Check your secret \
                                    access key and the signing method of your client."
            .into(),
        "MissingContentLength" => "You must provide the Content-Length HTTP header.".into(),
        "MethodNotAllowed" => "The specified method is not allowed against this resource.".into(),
        "MaxMessageLengthExceeded" => format!("Your request was too big: XML request bodies are limited to {} bytes.", crate::MAX_XML_BODY),
        "IncompleteBody" => "You did not provide the number of bytes specified by the Content-Length HTTP header; retry the request.".into(),
        "NotImplemented" => "A header or operation you provided implies functionality that keyless does not implement.".into(),
        "InternalError" => "We encountered an internal error; please try again.".into(),
        other => format!("The request failed with {other}; check the request against the S3 API reference."),
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// The error document for a request body `s3s` failed to read before any handler ran: its bare
/// `InternalError` (no `<Message>`: every InternalError of ours has one) becomes `IncompleteBody`
/// when the body broke off, else `XAmzContentSHA256Mismatch` (the other body failure of that
/// stage). `None` for any other document.
pub(crate) fn body_failure(body: &[u8], broken: bool) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(body).ok()?;
    if !text.contains("<Code>InternalError</Code>") || text.contains("<Message>") {
        return None;
    }
    let (code, message) = if broken {
        (
            "IncompleteBody",
            "The request body ended before the length it declared, or the connection broke; retry the request.",
        )
    } else {
        (
            "XAmzContentSHA256Mismatch",
            "The request body does not hash to the x-amz-content-sha256 the request was signed with.",
        )
    };
    Some(
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{message}</Message></Error>"
        )
        .into_bytes(),
    )
}

/// Adds a `<Message>` to an S3 XML error body that has none; `None` if it needs none.
pub(crate) fn fill_missing_message(body: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(body).ok()?;
    if !text.contains("<Error>") || text.contains("<Message>") {
        return None;
    }
    let start = text.find("<Code>")? + "<Code>".len();
    let end = start + text[start..].find("</Code>")?;
    let at = end + "</Code>".len();
    let message = xml_escape(&default_message(&text[start..end]));
    Some(format!("{}<Message>{message}</Message>{}", &text[..at], &text[at..]).into_bytes())
}

/// The `<Code>` of an error document (S3's `<Error>` or STS's `<ErrorResponse>`).
pub(crate) fn code_of(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let start = text.find("<Code>")? + "<Code>".len();
    let end = start + text[start..].find("</Code>")?;
    Some(text[start..end].to_owned())
}

/// Formats a time as an HTTP date (`Last-Modified`), truncated to the second.
pub(crate) fn http_date(t: SystemTime) -> Option<HeaderValue> {
    let mut buf = Vec::new();
    Timestamp::from(t).format(TimestampFormat::HttpDate, &mut buf).ok()?;
    HeaderValue::from_bytes(&buf).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(e: ApiError, code: &str, status: u16) {
        let s3: S3Error = e.into();
        assert_eq!(s3.code().as_str(), code);
        let got = s3.status_code().or_else(|| s3.code().status_code()).map(|s| s.as_u16());
        assert_eq!(got, Some(status), "{code}");
        assert!(s3.message().is_some_and(|m| !m.is_empty()), "{code} has a message");
    }

    #[test]
    fn store_errors_map_to_s3_codes() {
        let cases: Vec<(StoreError, &str, u16)> = vec![
            (StoreError::NoSuchBucket("b".into()), "NoSuchBucket", 404),
            (
                StoreError::BucketAlreadyOwnedByYou("b".into()),
                "BucketAlreadyOwnedByYou",
                409,
            ),
            (StoreError::BucketNotEmpty("b".into()), "BucketNotEmpty", 409),
            (
                StoreError::InvalidBucketName("B".into(), "why"),
                "InvalidBucketName",
                400,
            ),
            (StoreError::NoSuchKey, "NoSuchKey", 404),
            (StoreError::NoSuchUpload, "NoSuchUpload", 404),
            (
                StoreError::InvalidPart {
                    part_number: 1,
                    reason: "r".into(),
                },
                "InvalidPart",
                400,
            ),
            (StoreError::InvalidPartOrder, "InvalidPartOrder", 400),
            (
                StoreError::EntityTooSmall {
                    part_number: 1,
                    size: 1,
                    min: 5,
                },
                "EntityTooSmall",
                400,
            ),
            (StoreError::EntityTooLarge { limit: 5 }, "EntityTooLarge", 400),
            (StoreError::PreconditionFailed, "PreconditionFailed", 412),
            (
                StoreError::BadDigest {
                    what: "Content-MD5".into(),
                    claimed: "a".into(),
                    computed: "b".into(),
                },
                "BadDigest",
                400,
            ),
            (StoreError::InvalidDigest("x".into()), "InvalidDigest", 400),
            (StoreError::InvalidArgument("x".into()), "InvalidArgument", 400),
            (StoreError::InvalidRequest("x".into()), "InvalidRequest", 400),
            (StoreError::IncompleteBody("x".into()), "IncompleteBody", 400),
            (StoreError::Db("secret path".into()), "InternalError", 500),
            (StoreError::Internal("x".into()), "InternalError", 500),
        ];
        for (e, code, status) in cases {
            check(ApiError::Store(e), code, status);
        }
    }

    #[test]
    fn edge_errors_map_to_s3_codes() {
        let cases: Vec<(ApiError, &str, u16)> = vec![
            (ApiError::InvalidRange { size: 3 }, "InvalidRange", 416),
            (
                ApiError::InvalidPartNumber { part: 3, count: 2 },
                "InvalidPartNumber",
                416,
            ),
            (ApiError::InvalidTag("t".into()), "InvalidTag", 400),
            (ApiError::MalformedXml("m".into()), "MalformedXML", 400),
            (
                ApiError::MetadataTooLarge {
                    size: 3000,
                    limit: 2048,
                },
                "MetadataTooLarge",
                400,
            ),
            (
                ApiError::NotModified {
                    etag: "e".into(),
                    last_modified: SystemTime::UNIX_EPOCH,
                },
                "NotModified",
                304,
            ),
            (ApiError::AccessDenied("a".into()), "AccessDenied", 403),
            (ApiError::InvalidAccessKeyId, "InvalidAccessKeyId", 403),
            (
                ApiError::RequestTimeTooSkewed {
                    request_time: time::OffsetDateTime::UNIX_EPOCH,
                    server_time: time::OffsetDateTime::now_utc(),
                },
                "RequestTimeTooSkewed",
                403,
            ),
            (ApiError::ChunkSignatureMismatch, "SignatureDoesNotMatch", 403),
            (ApiError::ContentSha256Mismatch, "XAmzContentSHA256Mismatch", 400),
            (
                ApiError::AuthorizationHeaderMalformed("r".into()),
                "AuthorizationHeaderMalformed",
                400,
            ),
            (ApiError::NotImplemented("n".into()), "NotImplemented", 501),
            (ApiError::Internal("x".into()), "InternalError", 500),
        ];
        for (e, code, status) in cases {
            check(e, code, status);
        }
    }

    #[test]
    fn bare_internal_errors_of_body_reading_become_client_errors() {
        let bare = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>InternalError</Code></Error>";
        let ours = b"<Error><Code>InternalError</Code><Message>We encountered an internal error</Message></Error>";
        let code = |b: Option<Vec<u8>>| b.and_then(|b| code_of(&b));
        assert_eq!(code(body_failure(bare, true)).as_deref(), Some("IncompleteBody"));
        assert_eq!(
            code(body_failure(bare, false)).as_deref(),
            Some("XAmzContentSHA256Mismatch")
        );
        assert_eq!(body_failure(ours, true), None);
        assert_eq!(body_failure(b"<Error><Code>NoSuchKey</Code></Error>", true), None);
    }

    #[test]
    fn internal_details_do_not_reach_the_client() {
        let s3: S3Error = ApiError::Store(StoreError::Db("/var/lib/keyless/meta.redb: corrupt".into())).into();
        assert!(!s3.message().unwrap_or_default().contains("/var/lib"));
    }

    #[test]
    fn error_bodies_without_a_message_get_one() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidBucketName</Code></Error>"#;
        let fixed = String::from_utf8(fill_missing_message(body).expect("filled")).unwrap();
        assert!(
            fixed.starts_with(
                r#"<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidBucketName</Code><Message>The specified"#
            ),
            "{fixed}"
        );
        assert!(fixed.ends_with("</Message></Error>"), "{fixed}");
        let unknown =
            fill_missing_message(b"<Error><Code>Weird</Code><RequestId>1</RequestId></Error>").expect("filled");
        assert!(
            String::from_utf8(unknown)
                .unwrap()
                .contains("<Message>The request failed with Weird;")
        );
        assert_eq!(
            fill_missing_message(b"<Error><Code>NoSuchKey</Code><Message>m</Message></Error>"),
            None
        );
        assert_eq!(fill_missing_message(b"<ListBucketResult/>"), None);
        assert_eq!(fill_missing_message(b"\xff\xfe"), None);
    }

    #[test]
    fn not_modified_carries_validators() {
        let s3: S3Error = ApiError::NotModified {
            etag: "abc".into(),
            last_modified: SystemTime::UNIX_EPOCH,
        }
        .into();
        let h = s3.headers().expect("headers");
        assert_eq!(h.get("etag").map(|v| v.as_bytes()), Some(&b"\"abc\""[..]));
        assert_eq!(
            h.get("last-modified").map(|v| v.as_bytes()),
            Some(&b"Thu, 01 Jan 1970 00:00:00 GMT"[..])
        );
    }
}
