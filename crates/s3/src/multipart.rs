//! Multipart uploads: CreateMultipartUpload, UploadPart, UploadPartCopy,
//! CompleteMultipartUpload, AbortMultipartUpload, ListParts and ListMultipartUploads.
//!
//! Parts take the same path as PutObject bodies ([`body::receive`]). An upload created with a
//! checksum algorithm (COMPOSITE or FULL_OBJECT, [`upload_checksum`]) has that algorithm
//! computed for every part, whatever the client sends, so the store can form the object's
//! checksum at Complete: COMPOSITE, the checksum of the parts' checksums (`<base64>-<parts>`),
//! or FULL_OBJECT, the CRC of the whole object combined from the parts' CRCs. Complete is
//! metadata-only in the store; the edge hands it the listed parts' ETags and claimed checksums,
//! and what the request claims about the whole object (its size and checksum), all checked
//! inside the commit.

use keyless_store::{ChecksumAlgorithm, Checksums, CompletePart, ListUploadsQuery, ObjectClaims, UploadChecksum};
use s3s::dto::{
    AbortMultipartUploadInput, AbortMultipartUploadOutput, ChecksumType, CommonPrefix, CompleteMultipartUploadInput,
    CompleteMultipartUploadOutput, CompletedPart, CopyPartResult, CreateMultipartUploadInput,
    CreateMultipartUploadOutput, ETag, Initiator, ListMultipartUploadsInput, ListMultipartUploadsOutput,
    ListPartsInput, ListPartsOutput, MultipartUpload, Part, StorageClass, UploadPartCopyInput, UploadPartCopyOutput,
    UploadPartInput, UploadPartOutput,
};
use s3s::{S3Request, S3Response};

use crate::body::{self, Upload};
use crate::checksum::{self, ChecksumPlan, set_checksums};
use crate::error::{ApiError, ApiResult};
use crate::list::{KeyEncoding, delimiter, page_size};
use crate::object::{copy_source, reject_unsupported_write, verify_copy};
use crate::precondition::Conditions;
use crate::service::Edge;
use crate::{meta, percent, range, tagging};

/// Part numbers run from 1 to this (S3's limit).
pub(crate) const MAX_PART_NUMBER: i32 = 10_000;

pub(crate) fn part_number(n: i32) -> ApiResult<u32> {
    if !(1..=MAX_PART_NUMBER).contains(&n) {
        return Err(ApiError::invalid_argument(format!(
            "Part number must be an integer between 1 and {MAX_PART_NUMBER}, inclusive; got {n}."
        )));
    }
    Ok(n as u32)
}

fn wire_algorithm(a: ChecksumAlgorithm) -> s3s::dto::ChecksumAlgorithm {
    s3s::dto::ChecksumAlgorithm::from(a.as_str().to_owned())
}

/// `COMPOSITE` or `FULL_OBJECT`.
fn wire_type(c: UploadChecksum) -> ChecksumType {
    if c.full_object {
        ChecksumType::from_static(ChecksumType::FULL_OBJECT)
    } else {
        ChecksumType::from_static(ChecksumType::COMPOSITE)
    }
}

/// Reads `x-amz-checksum-algorithm` and `x-amz-checksum-type` with S3's rules: CRC64NVME is
/// FULL_OBJECT only (and its default); SHA1 and SHA256 are COMPOSITE only; the others
/// default to COMPOSITE.
fn upload_checksum(
    algorithm: Option<&s3s::dto::ChecksumAlgorithm>,
    kind: Option<&ChecksumType>,
) -> ApiResult<Option<UploadChecksum>> {
    let algorithm = algorithm
        .map(|a| {
            ChecksumAlgorithm::parse(a.as_str()).ok_or_else(|| {
                ApiError::invalid_request(format!(
                    "{:?} is not a checksum algorithm; use CRC32, CRC32C, CRC64NVME, SHA1 or SHA256.",
                    a.as_str()
                ))
            })
        })
        .transpose()?;
    let full = match kind.map(|k| k.as_str()) {
        None => None,
        Some(k) if k.eq_ignore_ascii_case(ChecksumType::COMPOSITE) => Some(false),
        Some(k) if k.eq_ignore_ascii_case(ChecksumType::FULL_OBJECT) => Some(true),
        Some(k) => {
            return Err(ApiError::invalid_request(format!(
                "Unknown x-amz-checksum-type {k:?}: use COMPOSITE or FULL_OBJECT."
            )));
        }
    };
    let Some(a) = algorithm else {
        if full.is_some() {
            return Err(ApiError::invalid_request(
                "x-amz-checksum-type needs x-amz-checksum-algorithm; name the algorithm too.",
            ));
        }
        return Ok(None);
    };
    let full_object = full.unwrap_or(a == ChecksumAlgorithm::Crc64Nvme);
    match (full_object, a.is_crc()) {
        (true, false) => Err(ApiError::invalid_request(format!(
            "The FULL_OBJECT checksum type cannot be used with {}: use CRC32, CRC32C or CRC64NVME, or the COMPOSITE type.",
            a.as_str()
        ))),
        (false, _) if a == ChecksumAlgorithm::Crc64Nvme => Err(ApiError::invalid_request(
            "The COMPOSITE checksum type cannot be used with CRC64NVME: use the FULL_OBJECT type.",
        )),
        _ => Ok(Some(UploadChecksum {
            algorithm: a,
            full_object,
        })),
    }
}

pub(crate) async fn create(
    edge: &Edge,
    req: S3Request<CreateMultipartUploadInput>,
) -> ApiResult<S3Response<CreateMultipartUploadOutput>> {
    let S3Request {
        input: i,
        headers,
        extensions,
        ..
    } = req;
    reject_unsupported_write(&headers)?;
    keyless_store::validate_key(&i.key)?;
    let checksum = upload_checksum(i.checksum_algorithm.as_ref(), i.checksum_type.as_ref())?;
    let meta = meta::from_request(&headers, &extensions, i.metadata.as_ref())?;
    let tags = tagging::from_header(i.tagging.as_deref())?;
    let up = edge
        .store
        .create_upload(&i.bucket, &i.key, meta, tags, checksum)
        .await?;
    Ok(S3Response::new(CreateMultipartUploadOutput {
        bucket: Some(i.bucket),
        key: Some(up.key),
        upload_id: Some(up.upload_id),
        checksum_algorithm: checksum.map(|c| wire_algorithm(c.algorithm)),
        checksum_type: checksum.map(wire_type),
        ..Default::default()
    }))
}

pub(crate) async fn upload_part(
    edge: &Edge,
    req: S3Request<UploadPartInput>,
) -> ApiResult<S3Response<UploadPartOutput>> {
    let S3Request {
        input: i,
        headers,
        trailing_headers,
        ..
    } = req;
    if headers.contains_key("x-amz-server-side-encryption-customer-algorithm") {
        return Err(ApiError::NotImplemented(
            "keyless does not support SSE-C (customer-provided encryption keys).".into(),
        ));
    }
    let n = part_number(i.part_number)?;
    // Refuse before reading the body: a missing upload must not cost the client the upload.
    let upload = edge.store.get_upload(&i.bucket, &i.key, &i.upload_id)?;
    let plan = ChecksumPlan::from_headers(&headers, upload.checksum.map(|c| c.algorithm))?;
    let up = Upload {
        body: i.body,
        headers: &headers,
        content_length: i.content_length,
        trailers: trailing_headers,
        plan: &plan,
    };
    let staged = body::receive(&edge.store, up).await?;
    let part = edge.store.put_part(&i.bucket, &i.key, &i.upload_id, n, staged).await?;
    let mut out = UploadPartOutput {
        e_tag: Some(ETag::Strong(part.etag)),
        ..Default::default()
    };
    set_checksums!(out, &part.checksums);
    Ok(S3Response::new(out))
}

pub(crate) async fn upload_part_copy(
    edge: &Edge,
    req: S3Request<UploadPartCopyInput>,
) -> ApiResult<S3Response<UploadPartCopyOutput>> {
    let S3Request { input: i, headers, .. } = req;
    if headers.contains_key("x-amz-copy-source-server-side-encryption-customer-algorithm")
        || headers.contains_key("x-amz-server-side-encryption-customer-algorithm")
    {
        return Err(ApiError::NotImplemented(
            "keyless does not support SSE-C (customer-provided encryption keys).".into(),
        ));
    }
    let n = part_number(i.part_number)?;
    let (src_bucket, src_key) = copy_source(&i.copy_source)?;
    let upload = edge.store.get_upload(&i.bucket, &i.key, &i.upload_id)?;
    let reader = edge.store.open_object(src_bucket, src_key)?;
    let src = reader.info.clone();
    Conditions::new(
        i.copy_source_if_match.as_ref(),
        i.copy_source_if_none_match.as_ref(),
        i.copy_source_if_modified_since.as_ref(),
        i.copy_source_if_unmodified_since.as_ref(),
    )
    .check_copy_source(&src.etag, src.last_modified)?;
    let (start, end) = match i.copy_source_range.as_deref() {
        Some(r) => range::copy_source_range(r, src.size)?,
        None => (0, src.size),
    };
    let algorithms: Vec<ChecksumAlgorithm> = upload.checksum.map(|c| c.algorithm).into_iter().collect();
    let staged = edge
        .store
        .stage(Box::pin(reader.into_stream(start, end)), algorithms)
        .await?;
    verify_copy(&src, start, end, staged.digests())?;
    let part = edge.store.put_part(&i.bucket, &i.key, &i.upload_id, n, staged).await?;
    let mut result = CopyPartResult {
        e_tag: Some(ETag::Strong(part.etag)),
        last_modified: Some(part.last_modified.into()),
        ..Default::default()
    };
    set_checksums!(result, &part.checksums);
    Ok(S3Response::new(UploadPartCopyOutput {
        copy_part_result: Some(result),
        ..Default::default()
    }))
}

fn claimed_part_checksums(p: &CompletedPart) -> Checksums {
    Checksums {
        crc32: p.checksum_crc32.clone(),
        crc32c: p.checksum_crc32c.clone(),
        crc64nvme: p.checksum_crc64nvme.clone(),
        sha1: p.checksum_sha1.clone(),
        sha256: p.checksum_sha256.clone(),
        composite_parts: None,
    }
}

/// The parts listed in a CompleteMultipartUpload body, as the store takes them.
pub(crate) fn listed_parts(parts: &[CompletedPart]) -> ApiResult<Vec<CompletePart>> {
    if parts.is_empty() {
        return Err(ApiError::MalformedXml(
            "CompleteMultipartUpload must list at least one part.".into(),
        ));
    }
    if parts.len() > MAX_PART_NUMBER as usize {
        return Err(ApiError::MalformedXml(format!(
            "CompleteMultipartUpload may list at most {MAX_PART_NUMBER} parts."
        )));
    }
    parts
        .iter()
        .map(|p| {
            let n = p
                .part_number
                .ok_or_else(|| ApiError::MalformedXml("Every <Part> must have a <PartNumber>.".into()))?;
            let etag = p.e_tag.as_ref().ok_or_else(|| {
                ApiError::MalformedXml(format!("Part {n} has no <ETag>; send the ETag UploadPart returned."))
            })?;
            Ok(CompletePart {
                part_number: part_number(n)?,
                etag: etag.value().to_owned(),
                checksums: claimed_part_checksums(p),
            })
        })
        .collect()
}

/// The whole-object checksum a Complete request claims in its headers, if any.
fn claimed_object_checksum(i: &CompleteMultipartUploadInput) -> Option<(ChecksumAlgorithm, &str)> {
    [
        (ChecksumAlgorithm::Crc32, &i.checksum_crc32),
        (ChecksumAlgorithm::Crc32c, &i.checksum_crc32c),
        (ChecksumAlgorithm::Crc64Nvme, &i.checksum_crc64nvme),
        (ChecksumAlgorithm::Sha1, &i.checksum_sha1),
        (ChecksumAlgorithm::Sha256, &i.checksum_sha256),
    ]
    .into_iter()
    .find_map(|(a, v)| v.as_deref().map(|v| (a, v.trim())))
}

pub(crate) async fn complete(
    edge: &Edge,
    req: S3Request<CompleteMultipartUploadInput>,
) -> ApiResult<S3Response<CompleteMultipartUploadOutput>> {
    let i = req.input;
    let parts = i
        .multipart_upload
        .as_ref()
        .and_then(|m| m.parts.as_deref())
        .unwrap_or_default();
    let listed = listed_parts(parts)?;
    let cond = crate::object::write_condition(i.if_match.as_ref(), i.if_none_match.as_ref())?;
    let size = i
        .mpu_object_size
        .map(|n| {
            u64::try_from(n).map_err(|_| {
                ApiError::invalid_argument(format!("x-amz-mp-object-size must be a non-negative integer; got {n}."))
            })
        })
        .transpose()?;
    let claims = ObjectClaims {
        size,
        checksum: claimed_object_checksum(&i).map(|(a, v)| (a, v.to_owned())),
    };
    let info = edge
        .store
        .complete_upload(&i.bucket, &i.key, &i.upload_id, listed, claims, cond)
        .await?;
    let checksums = &info.checksums;
    let mut out = CompleteMultipartUploadOutput {
        bucket: Some(i.bucket.clone()),
        key: Some(i.key.clone()),
        e_tag: Some(ETag::Strong(info.etag)),
        location: Some(format!("/{}/{}", i.bucket, percent::encode_key(&i.key))),
        checksum_type: checksum::checksum_type(checksums),
        ..Default::default()
    };
    set_checksums!(out, checksums);
    Ok(S3Response::new(out))
}

pub(crate) async fn abort(
    edge: &Edge,
    req: S3Request<AbortMultipartUploadInput>,
) -> ApiResult<S3Response<AbortMultipartUploadOutput>> {
    let i = &req.input;
    edge.store.abort_upload(&i.bucket, &i.key, &i.upload_id).await?;
    Ok(S3Response::new(AbortMultipartUploadOutput::default()))
}

pub(crate) async fn list_parts(edge: &Edge, req: S3Request<ListPartsInput>) -> ApiResult<S3Response<ListPartsOutput>> {
    let i = &req.input;
    let max = page_size(i.max_parts, "max-parts")?;
    let marker = match i.part_number_marker {
        None => 0,
        Some(m) if m >= 0 => m as u32,
        Some(m) => {
            return Err(ApiError::invalid_argument(format!(
                "part-number-marker must be a non-negative integer; got {m}."
            )));
        }
    };
    let page = edge.store.list_parts(&i.bucket, &i.key, &i.upload_id, marker, max)?;
    let upload_checksum = page.upload.as_ref().and_then(|u| u.checksum);
    let owner = edge.owner();
    let parts = page
        .parts
        .into_iter()
        .map(|p| {
            let mut part = Part {
                e_tag: Some(ETag::Strong(p.etag)),
                last_modified: Some(p.last_modified.into()),
                part_number: Some(p.part_number as i32),
                size: Some(i64::try_from(p.size).unwrap_or(i64::MAX)),
                ..Default::default()
            };
            set_checksums!(part, &p.checksums);
            part
        })
        .collect();
    Ok(S3Response::new(ListPartsOutput {
        bucket: Some(i.bucket.clone()),
        key: Some(i.key.clone()),
        upload_id: Some(i.upload_id.clone()),
        checksum_algorithm: upload_checksum.map(|c| wire_algorithm(c.algorithm)),
        checksum_type: upload_checksum.map(wire_type),
        initiator: Some(Initiator {
            id: owner.id.clone(),
            display_name: owner.display_name.clone(),
        }),
        owner: Some(owner),
        storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
        max_parts: Some(max as i32),
        part_number_marker: Some(marker as i32),
        next_part_number_marker: page.next_part_number_marker.map(|m| m as i32),
        is_truncated: Some(page.is_truncated),
        parts: Some(parts),
        ..Default::default()
    }))
}

pub(crate) async fn list_uploads(
    edge: &Edge,
    req: S3Request<ListMultipartUploadsInput>,
) -> ApiResult<S3Response<ListMultipartUploadsOutput>> {
    let i = &req.input;
    let enc = KeyEncoding::from_request(i.encoding_type.as_ref())?;
    let max = page_size(i.max_uploads, "max-uploads")?;
    let delim = delimiter(i.delimiter.as_deref());
    let prefix = i.prefix.clone().unwrap_or_default();
    let key_marker = i.key_marker.clone().filter(|m| !m.is_empty());
    let upload_id_marker = if key_marker.is_some() {
        i.upload_id_marker.clone().filter(|m| !m.is_empty())
    } else {
        None
    };
    let q = ListUploadsQuery {
        prefix: prefix.clone(),
        delimiter: delim.clone(),
        key_marker: key_marker.clone(),
        upload_id_marker: upload_id_marker.clone(),
        max_uploads: max,
    };
    let page = edge.store.list_uploads(&i.bucket, &q)?;
    let owner = edge.owner();
    let uploads: Vec<MultipartUpload> = page
        .uploads
        .iter()
        .map(|u| MultipartUpload {
            checksum_algorithm: u.checksum.map(|c| wire_algorithm(c.algorithm)),
            checksum_type: u.checksum.map(wire_type),
            initiated: Some(u.initiated.into()),
            initiator: Some(Initiator {
                id: owner.id.clone(),
                display_name: owner.display_name.clone(),
            }),
            key: Some(enc.apply(&u.key)),
            owner: Some(owner.clone()),
            storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
            upload_id: Some(u.upload_id.clone()),
        })
        .collect();
    let prefixes: Vec<CommonPrefix> = page
        .common_prefixes
        .iter()
        .map(|p| CommonPrefix {
            prefix: Some(enc.apply(p)),
        })
        .collect();
    Ok(S3Response::new(ListMultipartUploadsOutput {
        bucket: Some(i.bucket.clone()),
        common_prefixes: (!prefixes.is_empty()).then_some(prefixes),
        delimiter: delim.as_deref().map(|d| enc.apply(d)),
        encoding_type: enc.echo(),
        is_truncated: Some(page.is_truncated),
        key_marker: Some(key_marker.as_deref().map(|m| enc.apply(m)).unwrap_or_default()),
        max_uploads: Some(max as i32),
        next_key_marker: page.next_key_marker.map(|k| enc.apply(&k)),
        next_upload_id_marker: page.next_upload_id_marker,
        prefix: Some(enc.apply(&prefix)),
        upload_id_marker: Some(upload_id_marker.unwrap_or_default()),
        uploads: Some(uploads),
        request_charged: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_numbers() {
        for (n, ok) in [(0, false), (1, true), (10_000, true), (10_001, false), (-5, false)] {
            assert_eq!(part_number(n).is_ok(), ok, "{n}");
        }
    }

    #[test]
    fn upload_checksum_choices() {
        let crc = s3s::dto::ChecksumAlgorithm::from_static(s3s::dto::ChecksumAlgorithm::CRC32);
        let bad = s3s::dto::ChecksumAlgorithm::from("MD5".to_owned());
        let comp = ChecksumType::from_static(ChecksumType::COMPOSITE);
        let full = ChecksumType::from_static(ChecksumType::FULL_OBJECT);
        let nvme = s3s::dto::ChecksumAlgorithm::from_static(s3s::dto::ChecksumAlgorithm::CRC64NVME);
        let sha = s3s::dto::ChecksumAlgorithm::from_static(s3s::dto::ChecksumAlgorithm::SHA256);
        use ChecksumAlgorithm as A;
        let composite = |algorithm| {
            Some(Some(UploadChecksum {
                algorithm,
                full_object: false,
            }))
        };
        let full_object = |algorithm| {
            Some(Some(UploadChecksum {
                algorithm,
                full_object: true,
            }))
        };
        // (algorithm, type, the upload's checksum or None for InvalidRequest)
        type Case<'a> = (
            Option<&'a s3s::dto::ChecksumAlgorithm>,
            Option<&'a ChecksumType>,
            Option<Option<UploadChecksum>>,
        );
        let cases: Vec<Case> = vec![
            (None, None, Some(None)),
            (Some(&crc), None, composite(A::Crc32)),
            (Some(&crc), Some(&comp), composite(A::Crc32)),
            (Some(&crc), Some(&full), full_object(A::Crc32)),
            (Some(&nvme), None, full_object(A::Crc64Nvme)),
            (Some(&nvme), Some(&full), full_object(A::Crc64Nvme)),
            (Some(&nvme), Some(&comp), None),
            (Some(&sha), None, composite(A::Sha256)),
            (Some(&sha), Some(&full), None),
            (Some(&bad), None, None),
            (None, Some(&comp), None),
        ];
        for (a, k, want) in cases {
            let got = upload_checksum(a, k);
            assert_eq!(got.as_ref().ok().copied(), want, "{a:?} {k:?}: {got:?}");
            if want.is_none() {
                assert!(matches!(got, Err(ApiError::InvalidRequest(_))), "{a:?} {k:?}");
            }
        }
    }

    #[test]
    fn listed_parts_need_numbers_and_etags() {
        let part = |n: Option<i32>, e: Option<&str>| CompletedPart {
            part_number: n,
            e_tag: e.map(|e| ETag::Strong(e.into())),
            ..Default::default()
        };
        assert!(matches!(listed_parts(&[]), Err(ApiError::MalformedXml(_))));
        assert!(matches!(
            listed_parts(&[part(None, Some("a"))]),
            Err(ApiError::MalformedXml(_))
        ));
        assert!(matches!(
            listed_parts(&[part(Some(1), None)]),
            Err(ApiError::MalformedXml(_))
        ));
        assert!(matches!(
            listed_parts(&[part(Some(0), Some("a"))]),
            Err(ApiError::InvalidArgument(_))
        ));
        let ok = listed_parts(&[part(Some(1), Some("a")), part(Some(2), Some("b"))]).unwrap();
        assert_eq!(
            ok.iter().map(|p| (p.part_number, p.etag.as_str())).collect::<Vec<_>>(),
            vec![(1, "a"), (2, "b")]
        );
    }
}
