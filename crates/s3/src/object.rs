//! Objects: GetObject, HeadObject, PutObject, CopyObject, DeleteObject and DeleteObjects.
//!
//! Reads open the current version once (pinning its bytes), evaluate the conditional headers
//! against that version, then stream the selected bytes. Writes go through
//! [`body::receive`] — stage, verify every claimed digest — and commit with `put_object`,
//! whose `If-Match` / `If-None-Match: *` condition is checked inside the commit transaction.

use http::HeaderMap;
use keyless_store::{ChecksumAlgorithm, Checksums, ObjectInfo, StoreError, WriteCondition};
use s3s::dto::{
    CopyObjectInput, CopyObjectOutput, CopyObjectResult, CopySource, DeleteObjectInput, DeleteObjectOutput,
    DeleteObjectsInput, DeleteObjectsOutput, DeletedObject, ETag, ETagCondition, GetObjectInput, GetObjectOutput,
    HeadObjectInput, HeadObjectOutput, PutObjectInput, PutObjectOutput,
};
use s3s::{S3Request, S3Response};

use crate::body::{self, ObjectBody, Upload};
use crate::checksum::{self, ChecksumPlan, set_checksums};
use crate::error::{ApiError, ApiResult, code_and_message};
use crate::meta::{self, set_object_meta};
use crate::precondition::Conditions;
use crate::range::{self, Selection};
use crate::service::Edge;
use crate::tagging;

/// The most keys one DeleteObjects request may name (S3's limit).
pub(crate) const MAX_DELETE_KEYS: usize = 1000;

/// Buckets are unversioned: the only version id is `null`.
pub(crate) fn require_null_version(v: Option<&str>) -> ApiResult<()> {
    match v {
        None | Some("") | Some("null") => Ok(()),
        Some(v) => Err(ApiError::invalid_argument(format!(
            "Invalid version id {v:?}: buckets here are not versioned, so every object's version id is null."
        ))),
    }
}

/// SSE-C headers on a read: no object here is encrypted with a customer key.
fn reject_customer_key_on_read(sse_customer_algorithm: Option<&str>) -> ApiResult<()> {
    if sse_customer_algorithm.is_some() {
        return Err(ApiError::invalid_request(
            "The encryption parameters are not applicable to this object: it is not encrypted with a customer key.",
        ));
    }
    Ok(())
}

fn is_checksum_mode(mode: Option<&s3s::dto::ChecksumMode>) -> bool {
    mode.is_some_and(|m| m.as_str().eq_ignore_ascii_case(s3s::dto::ChecksumMode::ENABLED))
}

/// The `If-Match` / `If-None-Match` of a write, checked atomically with the commit.
pub(crate) fn write_condition(
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
) -> ApiResult<WriteCondition> {
    let if_none_match_star = match if_none_match {
        None => false,
        Some(ETagCondition::Any) => true,
        Some(ETagCondition::ETag(_)) => {
            return Err(ApiError::NotImplemented(
                "On writes, If-None-Match supports only `*` (create the object only if the key is free).".into(),
            ));
        }
    };
    let if_match = if_match.map(|c| match c {
        ETagCondition::Any => "*".to_owned(),
        ETagCondition::ETag(e) => e.value().to_owned(),
    });
    Ok(WriteCondition {
        if_match,
        if_none_match_star,
    })
}

/// Response checksums for a read, and their type; only when asked for
/// (`x-amz-checksum-mode: ENABLED`). A whole-object read gets the object's checksum. A
/// `partNumber=` read of a COMPOSITE multipart object gets that part's checksum, as S3 answers
/// (the part is what the COMPOSITE value is formed from); other partial reads get none, since no
/// stored checksum covers their bytes.
fn read_checksums<'a>(
    info: &'a ObjectInfo,
    sel: &Selection,
    mode: Option<&s3s::dto::ChecksumMode>,
    part_number: Option<i32>,
) -> Option<(&'a Checksums, s3s::dto::ChecksumType)> {
    if !is_checksum_mode(mode) {
        return None;
    }
    if !sel.partial {
        let whole = sel.start == 0 && sel.end == info.size;
        return whole
            .then(|| Some((&info.checksums, checksum::checksum_type(&info.checksums)?)))
            .flatten();
    }
    info.checksums.composite_parts?;
    let part = info.part_checksums(u32::try_from(part_number?).ok()?)?;
    Some((part, checksum::checksum_type(&info.checksums)?))
}

fn size_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// What GetObject and HeadObject share (their s3s input and output types differ, hence a macro):
/// the read conditions, the byte selection (Range or partNumber), and the response headers that
/// describe the selected bytes. Evaluates to the selection.
macro_rules! read_object_headers {
    ($out:expr, $i:expr, $info:expr) => {{
        let info: &keyless_store::ObjectInfo = $info;
        Conditions::new(
            $i.if_match.as_ref(),
            $i.if_none_match.as_ref(),
            $i.if_modified_since.as_ref(),
            $i.if_unmodified_since.as_ref(),
        )
        .check_read(&info.etag, info.last_modified)?;
        let sel = range::select($i.range.as_ref(), $i.part_number, info)?;
        set_object_meta!($out, &info.meta);
        $out.accept_ranges = Some("bytes".into());
        $out.content_length = Some(size_i64(sel.len()));
        $out.content_range = sel.content_range(info.size);
        $out.e_tag = Some(ETag::Strong(info.etag.clone()));
        $out.last_modified = Some(info.last_modified.into());
        $out.parts_count = ($i.part_number.is_some() && info.part_sizes.is_some()).then(|| info.parts_count() as i32);
        if let Some((c, kind)) = read_checksums(info, &sel, $i.checksum_mode.as_ref(), $i.part_number) {
            set_checksums!($out, c);
            $out.checksum_type = Some(kind);
        }
        sel
    }};
}

pub(crate) async fn get(edge: &Edge, req: S3Request<GetObjectInput>) -> ApiResult<S3Response<GetObjectOutput>> {
    let i = &req.input;
    require_null_version(i.version_id.as_deref())?;
    reject_customer_key_on_read(i.sse_customer_algorithm.as_deref())?;
    let reader = edge.store.open_object(&i.bucket, &i.key)?;
    let info = reader.info.clone();
    let mut out = GetObjectOutput::default();
    let sel = read_object_headers!(out, i, &info);
    out.tag_count = (!info.tags.is_empty()).then_some(info.tags.len() as i32);
    out.body = Some(ObjectBody::new(reader.into_stream(sel.start, sel.end), sel.len()).into_blob());

    let mut resp = S3Response::new(out);
    if let Some(e) = meta::expires_header(&info.meta) {
        resp.headers.insert(http::header::EXPIRES, e);
    }
    Ok(resp)
}

pub(crate) async fn head(edge: &Edge, req: S3Request<HeadObjectInput>) -> ApiResult<S3Response<HeadObjectOutput>> {
    let i = &req.input;
    require_null_version(i.version_id.as_deref())?;
    reject_customer_key_on_read(i.sse_customer_algorithm.as_deref())?;
    let info = edge.store.head_object(&i.bucket, &i.key)?;
    let mut out = HeadObjectOutput::default();
    let sel = read_object_headers!(out, i, &info);

    let mut resp = S3Response::new(out);
    if let Some(e) = meta::expires_header(&info.meta) {
        resp.headers.insert(http::header::EXPIRES, e);
    }
    // s3s ignores this status for HeadObject; `S3Front::handle` turns a HEAD answer that has a
    // Content-Range into a 206. Kept so the handler says what it means.
    if sel.partial {
        resp.status = Some(http::StatusCode::PARTIAL_CONTENT);
    }
    Ok(resp)
}

/// Headers of an upload (PutObject, CreateMultipartUpload) that ask for features keyless
/// does not have; accepting them silently would promise what is not kept.
pub(crate) fn reject_unsupported_write(headers: &HeaderMap) -> ApiResult<()> {
    if headers.contains_key("x-amz-server-side-encryption-customer-algorithm") {
        return Err(ApiError::NotImplemented(
            "keyless does not support SSE-C (customer-provided encryption keys); upload without the x-amz-server-side-encryption-customer-* headers.".into(),
        ));
    }
    if [
        "x-amz-object-lock-mode",
        "x-amz-object-lock-retain-until-date",
        "x-amz-object-lock-legal-hold",
    ]
    .iter()
    .any(|h| headers.contains_key(*h))
    {
        return Err(ApiError::invalid_request(
            "The bucket has no Object Lock configuration (keyless does not support Object Lock); upload without the x-amz-object-lock-* headers.",
        ));
    }
    if headers.contains_key("x-amz-write-offset-bytes") {
        return Err(ApiError::NotImplemented(
            "keyless does not support appending to objects (x-amz-write-offset-bytes).".into(),
        ));
    }
    Ok(())
}

pub(crate) async fn put(edge: &Edge, req: S3Request<PutObjectInput>) -> ApiResult<S3Response<PutObjectOutput>> {
    let S3Request {
        input: i,
        headers,
        extensions,
        trailing_headers,
        ..
    } = req;
    reject_unsupported_write(&headers)?;
    keyless_store::validate_key(&i.key)?;
    let cond = write_condition(i.if_match.as_ref(), i.if_none_match.as_ref())?;
    let tags = tagging::from_header(i.tagging.as_deref())?;
    let meta = meta::from_request(&headers, &extensions, i.metadata.as_ref())?;
    let plan = ChecksumPlan::from_headers(&headers, None)?;

    // Refuse early what the commit would refuse, before the body is read; the commit
    // checks again, atomically.
    edge.store.head_bucket(&i.bucket)?;
    if cond.if_none_match_star {
        match edge.store.head_object(&i.bucket, &i.key) {
            Ok(_) => return Err(StoreError::PreconditionFailed.into()),
            Err(StoreError::NoSuchKey) => {}
            Err(e) => return Err(e.into()),
        }
    }

    let upload = Upload {
        body: i.body,
        headers: &headers,
        content_length: i.content_length,
        trailers: trailing_headers,
        plan: &plan,
    };
    let staged = body::receive(&edge.store, upload).await?;
    let computed = staged.digests().checksums.clone();
    let info = edge
        .store
        .put_object(&i.bucket, &i.key, staged, meta, tags, cond)
        .await?;

    let mut out = PutObjectOutput {
        e_tag: Some(ETag::Strong(info.etag)),
        ..Default::default()
    };
    set_checksums!(out, &computed);
    out.checksum_type = checksum::checksum_type(&computed);
    Ok(S3Response::new(out))
}

/// The bucket, key and version id of `x-amz-copy-source`.
pub(crate) fn copy_source(src: &CopySource) -> ApiResult<(&str, &str)> {
    match src {
        CopySource::Bucket {
            bucket,
            key,
            version_id,
        } => {
            require_null_version(version_id.as_deref())?;
            Ok((bucket, key))
        }
        _ => Err(ApiError::NotImplemented(
            "keyless has no access points or outposts; name the copy source as bucket/key.".into(),
        )),
    }
}

/// `COPY` (the default) or `REPLACE`: true for `REPLACE`.
fn directive(value: Option<&str>, header: &str) -> ApiResult<bool> {
    match value {
        None => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("COPY") => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("REPLACE") => Ok(true),
        Some(v) => Err(ApiError::invalid_argument(format!(
            "Unknown {header} {v:?}: use COPY or REPLACE."
        ))),
    }
}

/// The checksum algorithms a copy computes: the source's (composite ones become full-object
/// checksums of the copy, which is a single part) and any the request names.
fn copy_algorithms(
    src: &Checksums,
    requested: Option<&s3s::dto::ChecksumAlgorithm>,
) -> ApiResult<Vec<ChecksumAlgorithm>> {
    let mut out: Vec<ChecksumAlgorithm> = src.algorithms().collect();
    if let Some(r) = requested {
        let a = ChecksumAlgorithm::parse(r.as_str()).ok_or_else(|| {
            ApiError::invalid_request(format!(
                "{:?} is not a checksum algorithm; use CRC32, CRC32C, CRC64NVME, SHA1 or SHA256.",
                r.as_str()
            ))
        })?;
        if !out.contains(&a) {
            out.push(a);
        }
    }
    Ok(out)
}

/// A copy reads the bytes back from disk; where the source has full-object digests, the
/// copy must hash to them, or the disk returned other bytes than were stored.
pub(crate) fn verify_copy(src: &ObjectInfo, start: u64, end: u64, copied: &keyless_store::Digests) -> ApiResult<()> {
    if start != 0 || end != src.size {
        return Ok(());
    }
    let md5_differs = src.part_sizes.is_none() && copied.md5_hex() != src.etag;
    let checksum_differs = src.checksums.composite_parts.is_none()
        && src
            .checksums
            .algorithms()
            .any(|a| copied.checksums.get(a).is_some_and(|c| Some(c) != src.checksums.get(a)));
    if md5_differs || checksum_differs {
        return Err(ApiError::Internal(format!(
            "the bytes read back for a copy of {:?} do not match its stored digests",
            src.key
        )));
    }
    Ok(())
}

pub(crate) async fn copy(edge: &Edge, req: S3Request<CopyObjectInput>) -> ApiResult<S3Response<CopyObjectOutput>> {
    let S3Request {
        input: i,
        headers,
        extensions,
        ..
    } = req;
    reject_unsupported_write(&headers)?;
    if headers.contains_key("x-amz-copy-source-server-side-encryption-customer-algorithm") {
        return Err(ApiError::invalid_request(
            "The source object is not encrypted with a customer key; drop the x-amz-copy-source-server-side-encryption-customer-* headers.",
        ));
    }
    keyless_store::validate_key(&i.key)?;
    let (src_bucket, src_key) = copy_source(&i.copy_source)?;
    let replace_meta = directive(
        i.metadata_directive.as_ref().map(|d| d.as_str()),
        "x-amz-metadata-directive",
    )?;
    let replace_tags = directive(
        i.tagging_directive.as_ref().map(|d| d.as_str()),
        "x-amz-tagging-directive",
    )?;
    if src_bucket == i.bucket
        && src_key == i.key
        && !replace_meta
        && i.storage_class.is_none()
        && i.website_redirect_location.is_none()
        && i.server_side_encryption.is_none()
    {
        return Err(ApiError::invalid_request(
            "This copy request is illegal because it is trying to copy an object to itself without changing the object's \
             metadata, storage class, website redirect location or encryption attributes; send x-amz-metadata-directive: REPLACE.",
        ));
    }
    let meta = if replace_meta {
        Some(meta::from_request(&headers, &extensions, i.metadata.as_ref())?)
    } else {
        None
    };
    let tags = if replace_tags {
        Some(tagging::from_header(i.tagging.as_deref())?)
    } else {
        None
    };

    edge.store.head_bucket(&i.bucket)?;
    let reader = edge.store.open_object(src_bucket, src_key)?;
    let src = reader.info.clone();
    Conditions::new(
        i.copy_source_if_match.as_ref(),
        i.copy_source_if_none_match.as_ref(),
        i.copy_source_if_modified_since.as_ref(),
        i.copy_source_if_unmodified_since.as_ref(),
    )
    .check_copy_source(&src.etag, src.last_modified)?;
    let limit = edge.store.options().max_object_size;
    if src.size > limit {
        return Err(ApiError::invalid_request(format!(
            "The copy source is {} bytes, larger than the {limit} bytes one CopyObject may copy; copy it with a multipart upload (UploadPartCopy).",
            src.size
        )));
    }

    let algorithms = copy_algorithms(&src.checksums, i.checksum_algorithm.as_ref())?;
    let staged = edge
        .store
        .stage(Box::pin(reader.into_stream(0, src.size)), algorithms)
        .await?;
    verify_copy(&src, 0, src.size, staged.digests())?;
    let computed = staged.digests().checksums.clone();
    let meta = meta.unwrap_or_else(|| src.meta.clone());
    let tags = tags.unwrap_or_else(|| src.tags.clone());
    let info = edge
        .store
        .put_object(&i.bucket, &i.key, staged, meta, tags, WriteCondition::default())
        .await?;

    let mut result = CopyObjectResult {
        e_tag: Some(ETag::Strong(info.etag)),
        last_modified: Some(info.last_modified.into()),
        checksum_type: checksum::checksum_type(&computed),
        ..Default::default()
    };
    set_checksums!(result, &computed);
    Ok(S3Response::new(CopyObjectOutput {
        copy_object_result: Some(result),
        ..Default::default()
    }))
}

pub(crate) async fn delete(
    edge: &Edge,
    req: S3Request<DeleteObjectInput>,
) -> ApiResult<S3Response<DeleteObjectOutput>> {
    let i = &req.input;
    require_null_version(i.version_id.as_deref())?;
    let cond = write_condition(i.if_match.as_ref(), None)?;
    edge.store.delete_object(&i.bucket, &i.key, cond).await?;
    Ok(S3Response::new(DeleteObjectOutput::default()))
}

pub(crate) async fn delete_many(
    edge: &Edge,
    req: S3Request<DeleteObjectsInput>,
) -> ApiResult<S3Response<DeleteObjectsOutput>> {
    let i = &req.input;
    let objects = &i.delete.objects;
    if objects.is_empty() || objects.len() > MAX_DELETE_KEYS {
        return Err(ApiError::MalformedXml(format!(
            "A DeleteObjects request must name 1 to {MAX_DELETE_KEYS} keys; this one names {}.",
            objects.len()
        )));
    }
    let quiet = i.delete.quiet == Some(true);

    // Each key gets its own result, in the order the request listed them. The keys go to the
    // store in one batch — one transaction — each with its own condition: the `<ETag>` of its
    // `<Object>` element is an If-Match, checked inside that transaction.
    let mut results: Vec<(String, ApiResult<()>)> = Vec::with_capacity(objects.len());
    let mut batch: Vec<(usize, (String, WriteCondition))> = Vec::new();
    for o in objects {
        let r = require_null_version(o.version_id.as_deref());
        if r.is_ok() {
            let cond = WriteCondition {
                if_match: o.e_tag.as_ref().map(|e| e.value().to_owned()),
                if_none_match_star: false,
            };
            batch.push((results.len(), (o.key.clone(), cond)));
        }
        results.push((o.key.clone(), r));
    }
    if !batch.is_empty() {
        let (slots, keys): (Vec<usize>, Vec<(String, WriteCondition)>) = batch.into_iter().unzip();
        let done = edge.store.delete_objects(&i.bucket, keys).await?;
        for (slot, (_, r)) in slots.into_iter().zip(done) {
            results[slot].1 = r.map_err(ApiError::from);
        }
    }

    let mut deleted = Vec::new();
    let mut errors = Vec::new();
    for (key, r) in results {
        match r {
            Ok(()) if quiet => {}
            Ok(()) => deleted.push(DeletedObject {
                key: Some(key),
                ..Default::default()
            }),
            Err(e) => {
                let (code, message) = code_and_message(&e);
                errors.push(s3s::dto::Error {
                    code: Some(code),
                    key: Some(key),
                    message: Some(message),
                    version_id: None,
                });
            }
        }
    }
    Ok(S3Response::new(DeleteObjectsOutput {
        deleted: Some(deleted),
        errors: Some(errors),
        ..Default::default()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        for (v, ok) in [
            (None, true),
            (Some(""), true),
            (Some("null"), true),
            (Some("3HL4kqtJlcpXroDTDmjVBH40Nrjfkd"), false),
        ] {
            assert_eq!(require_null_version(v).is_ok(), ok, "{v:?}");
        }
    }

    #[test]
    fn write_conditions() {
        let star = ETagCondition::Any;
        let tag = ETagCondition::ETag(ETag::Strong("abc".into()));
        let c = write_condition(None, Some(&star)).unwrap();
        assert!(c.if_none_match_star && c.if_match.is_none());
        let c = write_condition(Some(&tag), None).unwrap();
        assert_eq!(c.if_match.as_deref(), Some("abc"));
        let c = write_condition(Some(&star), None).unwrap();
        assert_eq!(c.if_match.as_deref(), Some("*"));
        assert!(matches!(
            write_condition(None, Some(&tag)),
            Err(ApiError::NotImplemented(_))
        ));
        assert_eq!(write_condition(None, None).unwrap(), WriteCondition::default());
    }

    #[test]
    fn directives() {
        let cases: [(Option<&str>, Option<bool>); 5] = [
            (None, Some(false)),
            (Some("COPY"), Some(false)),
            (Some("REPLACE"), Some(true)),
            (Some("replace"), Some(true)),
            (Some("MERGE"), None),
        ];
        for (v, want) in cases {
            assert_eq!(directive(v, "x-amz-metadata-directive").ok(), want, "{v:?}");
        }
    }

    #[test]
    fn unsupported_write_headers() {
        let mut h = HeaderMap::new();
        assert!(reject_unsupported_write(&h).is_ok());
        h.insert("x-amz-server-side-encryption", "AES256".parse().unwrap());
        assert!(
            reject_unsupported_write(&h).is_ok(),
            "SSE-S3 is accepted: the disk is the encryption boundary"
        );
        for name in [
            "x-amz-server-side-encryption-customer-algorithm",
            "x-amz-object-lock-mode",
            "x-amz-write-offset-bytes",
        ] {
            let mut h = HeaderMap::new();
            h.insert(http::HeaderName::from_static(name), "x".parse().unwrap());
            assert!(reject_unsupported_write(&h).is_err(), "{name}");
        }
    }

    /// (object, Range / partNumber, checksum mode, the CRC32 returned and its type).
    #[test]
    fn read_checksums_only_when_asked_and_only_what_covers_the_bytes() {
        let sums = |v: &str, composite: Option<u32>| {
            let mut c = Checksums::default();
            c.set(ChecksumAlgorithm::Crc32, Some(v.to_owned()));
            c.composite_parts = composite;
            c
        };
        let object = |checksums: Checksums, parts: Option<Vec<u64>>, part_sums: Option<Vec<Checksums>>| ObjectInfo {
            key: "k".into(),
            size: 12,
            etag: "e".into(),
            last_modified: std::time::SystemTime::UNIX_EPOCH,
            meta: Default::default(),
            checksums,
            part_sizes: parts,
            part_checksums: part_sums,
            tags: vec![],
        };
        let single = object(sums("whole", None), None, None);
        let composite = object(
            sums("comp-2", Some(2)),
            Some(vec![5, 7]),
            Some(vec![sums("p1", None), sums("p2", None)]),
        );
        let full = object(
            sums("full", None),
            Some(vec![5, 7]),
            Some(vec![sums("p1", None), sums("p2", None)]),
        );
        let enabled = s3s::dto::ChecksumMode::from_static(s3s::dto::ChecksumMode::ENABLED);
        type Case<'a> = (
            &'a ObjectInfo,
            Option<&'a str>,
            Option<i32>,
            bool,
            Option<(&'a str, &'a str)>,
        );
        let cases: Vec<Case> = vec![
            (&single, None, None, true, Some(("whole", "FULL_OBJECT"))),
            (&single, None, None, false, None),
            (&single, None, Some(1), true, Some(("whole", "FULL_OBJECT"))),
            (&single, Some("bytes=0-11"), None, true, None),
            (&single, Some("bytes=0-3"), None, true, None),
            (&composite, None, None, true, Some(("comp-2", "COMPOSITE"))),
            (&composite, None, Some(1), true, Some(("p1", "COMPOSITE"))),
            (&composite, None, Some(2), true, Some(("p2", "COMPOSITE"))),
            (&composite, None, Some(2), false, None),
            (&composite, Some("bytes=0-4"), None, true, None),
            (&full, None, None, true, Some(("full", "FULL_OBJECT"))),
            (&full, None, Some(1), true, None),
        ];
        for (info, range, part, mode, want) in cases {
            let range = range.map(|r| s3s::dto::Range::parse(r).unwrap());
            let sel = crate::range::select(range.as_ref(), part, info).unwrap();
            let got = read_checksums(info, &sel, mode.then_some(&enabled), part)
                .map(|(c, kind)| (c.crc32.clone().unwrap_or_default(), kind.as_str().to_owned()));
            let want = want.map(|(v, k)| (v.to_owned(), k.to_owned()));
            assert_eq!(
                got,
                want,
                "{} {range:?} {part:?} {mode}",
                info.checksums.crc32.as_deref().unwrap_or("")
            );
        }
    }

    #[test]
    fn copy_algorithms_keep_the_source_and_add_the_request() {
        let mut src = Checksums::default();
        src.set(ChecksumAlgorithm::Crc32, Some("AAAAAA==-2".into()));
        src.composite_parts = Some(2);
        let req = s3s::dto::ChecksumAlgorithm::from_static(s3s::dto::ChecksumAlgorithm::SHA256);
        assert_eq!(
            copy_algorithms(&src, Some(&req)).unwrap(),
            vec![ChecksumAlgorithm::Crc32, ChecksumAlgorithm::Sha256]
        );
        assert_eq!(copy_algorithms(&Checksums::default(), None).unwrap(), vec![]);
        let bad = s3s::dto::ChecksumAlgorithm::from("MD5".to_owned());
        assert!(copy_algorithms(&Checksums::default(), Some(&bad)).is_err());
    }
}
