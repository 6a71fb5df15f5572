//! Gateway mode: the S3 operations keyless serves, forwarded to an upstream S3 service (Ceph RGW,
//! SeaweedFS, Garage, a MinIO cluster, AWS S3) instead of the embedded store.
//!
//! Everything in front of the storage stays keyless's: signatures (root and temporary
//! credentials), STS, the policy check, the edge's own checks and limits. Only an operation that
//! was authenticated and allowed reaches [`Gateway`], which hands it to `s3s_aws::Proxy` — the
//! s3s types converted to aws-sdk-s3 calls, bodies streamed both ways (never buffered whole), the
//! upstream's answer (ETag, checksums, ranges, preconditions, listings, multipart state) converted
//! back. Clients never see the upstream's credentials; the upstream never sees the client's.
//!
//! What is keyless's own here:
//! - the set of operations: the same as the embedded engine's (an upstream's extras — ACLs,
//!   versioning, lifecycle — are not exposed, so a policy means the same in both modes);
//! - DeleteObjects: a session's keys are authorised one by one first (`policy::deny_deletes`);
//! - GetBucketLocation answers keyless's region (the one clients sign for);
//! - an upstream that cannot be reached (refused, reset, timed out) is answered
//!   `503 ServiceUnavailable` — a connector turns the transport error into that response before
//!   the SDK sees it (`upstream::Reachable`) — and so is any other failure to get an answer
//!   (e.g. keyless's own upstream credentials cannot be had): never a wrong answer and never a
//!   500 that looks like ours;
//! - the Location of a completed upload is keyless's, not the upstream's URL.
//!
//! Buckets map one to one (keyless bucket `B` is upstream bucket `B`), or all live in one
//! upstream bucket under per-bucket prefixes (`shared`).

mod shared;
mod upstream;
mod verify;

pub use upstream::{Upstream, UpstreamAuth};

use s3s::dto::*;
use s3s::{S3, S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use shared::{Known, Shared};

/// A failure to get any answer from the upstream (keyless's upstream credentials cannot be had,
/// timeouts, a connection broken after the request went out) becomes `503 ServiceUnavailable`; the upstream's
/// own S3 errors pass through as they are.
pub(crate) fn unavailable(e: S3Error) -> S3Error {
    // An upstream's own error carries its code and message; without a message there was no
    // answer to pass on (a 304 or 412 from the upstream has no message either, and is an answer).
    if *e.code() != S3ErrorCode::InternalError
        || e.message().is_some()
        || e.status_code().is_some_and(|s| !s.is_server_error())
    {
        return with_message(e);
    }
    let cause = e
        .source()
        .map(|s| aws_smithy_types::error::display::DisplayErrorContext(s).to_string());
    tracing::warn!(
        error = cause.as_deref().unwrap_or("unknown"),
        "the upstream S3 request failed"
    );
    S3Error::with_message(
        S3ErrorCode::ServiceUnavailable,
        "keyless could not complete this request with the storage service behind it (its log says why); \
         retry later.",
    )
}

/// An upstream error with an empty message (Ceph RGW sends `<Message></Message>`) gets the one
/// keyless would give: S3 always says what went wrong.
fn with_message(mut e: S3Error) -> S3Error {
    if e.message().is_some_and(|m| m.trim().is_empty()) {
        let m = crate::error::default_message(e.code().as_str());
        e.set_message(m);
    }
    e
}

/// The raw `Expires` of an upload that is not a date (S3 keeps it verbatim; the SDK's type is a
/// date), to be added to the upstream request.
fn raw_expires(req_extensions: &http::Extensions) -> Vec<(http::HeaderName, http::HeaderValue)> {
    req_extensions
        .get::<crate::lenient::RawExpires>()
        .and_then(|r| http::HeaderValue::from_str(&r.0).ok())
        .map(|v| vec![(http::header::EXPIRES, v)])
        .unwrap_or_default()
}

/// An upstream's `Expires` that is not a date, passed back as it came (S3 keeps it verbatim).
fn keep_expires(headers: &mut http::HeaderMap, expires: Option<http::HeaderValue>) {
    if let Some(v) = expires
        && !headers.contains_key(http::header::EXPIRES)
    {
        headers.insert(http::header::EXPIRES, v);
    }
}

/// The S3 operations of gateway mode (see the module docs).
pub(crate) struct Gateway {
    proxy: s3s_aws::Proxy,
    /// For the calls keyless makes itself (bucket emptiness, the shared bucket's markers).
    sdk: aws_sdk_s3::Client,
    region: String,
    shared: Option<Shared>,
    /// One to one: upstream buckets recently seen to exist.
    known: Known,
}

impl Gateway {
    pub(crate) fn new(up: &Upstream, region: String) -> Result<Self, String> {
        let client = upstream::client(up)?;
        Ok(Self {
            proxy: s3s_aws::Proxy::from(client.clone()),
            shared: up.shared_bucket.clone().map(|b| Shared::new(b, client.clone())),
            sdk: client,
            region,
            known: Known::default(),
        })
    }

    /// Where a write goes: `NoSuchBucket` unless the bucket exists (some upstreams create a
    /// missing bucket on a PUT; S3 does not), then mapped into the shared bucket if there is one.
    async fn enter_write(&self, bucket: &mut String, key: &mut String) -> S3Result<()> {
        if let Some(sh) = &self.shared {
            return sh.enter(bucket, key).await;
        }
        let head = self.sdk.head_bucket().bucket(bucket.as_str());
        self.known.require(bucket, || head.send()).await
    }

    fn location(&self) -> GetBucketLocationOutput {
        let location = (self.region != "us-east-1").then(|| BucketLocationConstraint::from(self.region.clone()));
        GetBucketLocationOutput {
            location_constraint: location,
        }
    }
}

/// `aws-chunked` is how a request's body travelled to keyless, not what the object is: the stored
/// Content-Encoding is the rest, as S3 keeps it.
fn strip_aws_chunked(enc: &mut Option<String>) {
    if let Some(e) = enc.take() {
        let rest: Vec<&str> = e
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty() && !e.eq_ignore_ascii_case("aws-chunked"))
            .collect();
        *enc = (!rest.is_empty()).then(|| rest.join(", "));
    }
}

/// S3's page limits, applied before the upstream is asked (not every upstream caps a page at
/// 1000, and a negative size is the client's error).
fn page(n: &mut Option<i32>, name: &str) -> S3Result<()> {
    *n = Some(crate::list::page_size(*n, name)? as i32);
    Ok(())
}

fn tags_header(h: Option<&str>) -> S3Result<()> {
    crate::tagging::from_header(h)?;
    Ok(())
}

/// Implements [`S3`] for [`Gateway`]: `object:` operations address one object (`bucket` + `key`)
/// and return no names, so only their input is mapped; the others are written out below.
macro_rules! gateway {
    ($($op:ident: $input:ident => $output:ident;)*) => {
        #[async_trait::async_trait]
        impl S3 for Gateway {
            $(
                async fn $op(&self, mut req: S3Request<$input>) -> S3Result<S3Response<$output>> {
                    if let Some(sh) = &self.shared {
                        sh.enter(&mut req.input.bucket, &mut req.input.key).await?;
                    }
                    self.proxy.$op(req).await.map_err(unavailable)
                }
            )*

            async fn get_object(&self, mut req: S3Request<GetObjectInput>) -> S3Result<S3Response<GetObjectOutput>> {
                if let Some(sh) = &self.shared {
                    sh.enter(&mut req.input.bucket, &mut req.input.key).await?;
                }
                let (result, expires) = upstream::verbatim(Vec::new(), self.proxy.get_object(req)).await;
                let mut resp = result.map_err(unavailable)?;
                keep_expires(&mut resp.headers, expires);
                Ok(resp)
            }

            async fn put_object(&self, mut req: S3Request<PutObjectInput>) -> S3Result<S3Response<PutObjectOutput>> {
                strip_aws_chunked(&mut req.input.content_encoding);
                tags_header(req.input.tagging.as_deref())?;
                self.enter_write(&mut req.input.bucket, &mut req.input.key).await?;
                let (body, verdict) = verify::verified(
                    req.input.body.take(),
                    &req.headers,
                    req.trailing_headers.take(),
                    req.input.content_length,
                )
                .await?;
                req.input.body = body;
                let extra = raw_expires(&req.extensions);
                let (result, _) = upstream::verbatim(extra, self.proxy.put_object(req)).await;
                verdict.judge(result.map_err(unavailable))
            }

            async fn upload_part(&self, mut req: S3Request<UploadPartInput>) -> S3Result<S3Response<UploadPartOutput>> {
                crate::multipart::part_number(req.input.part_number)?;
                if let Some(sh) = &self.shared {
                    sh.enter(&mut req.input.bucket, &mut req.input.key).await?;
                }
                let (body, verdict) = verify::verified(
                    req.input.body.take(),
                    &req.headers,
                    req.trailing_headers.take(),
                    req.input.content_length,
                )
                .await?;
                req.input.body = body;
                verdict.judge(self.proxy.upload_part(req).await.map_err(unavailable))
            }

            async fn head_object(&self, mut req: S3Request<HeadObjectInput>) -> S3Result<S3Response<HeadObjectOutput>> {
                if let Some(sh) = &self.shared {
                    sh.enter(&mut req.input.bucket, &mut req.input.key).await?;
                }
                // Some upstreams (SeaweedFS) answer a HEAD with a Range as if it had none; S3
                // describes the range, as its GET would. Ask for the whole and describe the range.
                let range = req.input.range.take();
                let (result, expires) = upstream::verbatim(Vec::new(), self.proxy.head_object(req)).await;
                let mut resp = result.map_err(unavailable)?;
                keep_expires(&mut resp.headers, expires);
                let Some(range) = range else {
                    return Ok(resp);
                };
                let size = resp.output.content_length.unwrap_or(0).max(0) as u64;
                let r = range.check(size).map_err(|_| {
                    S3Error::with_message(
                        S3ErrorCode::InvalidRange,
                        format!("The requested range is not satisfiable: the object is {size} bytes long."),
                    )
                })?;
                resp.output.content_length = Some((r.end - r.start) as i64);
                resp.output.content_range = Some(format!("bytes {}-{}/{size}", r.start, r.end - 1));
                Ok(resp)
            }

            async fn copy_object(&self, mut req: S3Request<CopyObjectInput>) -> S3Result<S3Response<CopyObjectOutput>> {
                tags_header(req.input.tagging.as_deref())?;
                if let Some(sh) = &self.shared {
                    sh.enter_source(&mut req.input.copy_source).await?;
                }
                self.enter_write(&mut req.input.bucket, &mut req.input.key).await?;
                let extra = raw_expires(&req.extensions);
                upstream::verbatim(extra, self.proxy.copy_object(req)).await.0.map_err(unavailable)
            }

            async fn upload_part_copy(
                &self,
                mut req: S3Request<UploadPartCopyInput>,
            ) -> S3Result<S3Response<UploadPartCopyOutput>> {
                crate::multipart::part_number(req.input.part_number)?;
                if let Some(sh) = &self.shared {
                    sh.enter_source(&mut req.input.copy_source).await?;
                    sh.enter(&mut req.input.bucket, &mut req.input.key).await?;
                }
                self.proxy.upload_part_copy(req).await.map_err(unavailable)
            }

            async fn create_multipart_upload(
                &self,
                mut req: S3Request<CreateMultipartUploadInput>,
            ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
                tags_header(req.input.tagging.as_deref())?;
                let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
                self.enter_write(&mut req.input.bucket, &mut req.input.key).await?;
                let extra = raw_expires(&req.extensions);
                let mut resp = upstream::verbatim(extra, self.proxy.create_multipart_upload(req))
                    .await
                    .0
                    .map_err(unavailable)?;
                resp.output.bucket = Some(bucket);
                resp.output.key = Some(key);
                Ok(resp)
            }

            async fn complete_multipart_upload(
                &self,
                mut req: S3Request<CompleteMultipartUploadInput>,
            ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
                // The part list's own rules first, as the embedded store checks them.
                let listed = crate::multipart::listed_parts(
                    req.input
                        .multipart_upload
                        .as_ref()
                        .and_then(|m| m.parts.as_deref())
                        .unwrap_or_default(),
                )?;
                if listed.windows(2).any(|w| w[0].part_number >= w[1].part_number) {
                    return Err(crate::error::ApiError::Store(keyless_store::StoreError::InvalidPartOrder).into());
                }
                let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
                if let Some(sh) = &self.shared {
                    sh.enter(&mut req.input.bucket, &mut req.input.key).await?;
                }
                let (up_bucket, up_key) = (req.input.bucket.clone(), req.input.key.clone());
                let mut resp = match self.proxy.complete_multipart_upload(req).await {
                    Ok(resp) => resp,
                    // The upstream completed the upload but sent an ETag that cannot be read (Ceph
                    // RGW 16.2 sends an empty one): the object is there, so read its ETag back
                    // rather than report a failure the client would retry into NoSuchUpload.
                    Err(e) if e.source().is_some_and(|s| s.is::<ParseETagError>()) => {
                        let head = self
                            .sdk
                            .head_object()
                            .bucket(&up_bucket)
                            .key(&up_key)
                            .send()
                            .await
                            .map_err(shared::sdk_error)?;
                        S3Response::new(CompleteMultipartUploadOutput {
                            e_tag: head.e_tag().and_then(|t| ETag::parse_http_header(t.as_bytes()).ok()),
                            ..Default::default()
                        })
                    }
                    Err(e) => return Err(unavailable(e)),
                };
                resp.output.location = Some(format!("/{bucket}/{}", crate::percent::encode_key(&key)));
                resp.output.bucket = Some(bucket);
                resp.output.key = Some(key);
                Ok(resp)
            }

            async fn list_parts(&self, mut req: S3Request<ListPartsInput>) -> S3Result<S3Response<ListPartsOutput>> {
                page(&mut req.input.max_parts, "max-parts")?;
                let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
                if let Some(sh) = &self.shared {
                    sh.enter(&mut req.input.bucket, &mut req.input.key).await?;
                }
                let mut resp = self.proxy.list_parts(req).await.map_err(unavailable)?;
                resp.output.bucket = Some(bucket);
                resp.output.key = Some(key);
                Ok(resp)
            }

            async fn delete_objects(
                &self,
                req: S3Request<DeleteObjectsInput>,
            ) -> S3Result<S3Response<DeleteObjectsOutput>> {
                // The policy decides on keyless's keys; only the allowed ones are mapped and sent.
                crate::policy::delete_allowed_keys(req, |mut req| async move {
                    let Some(sh) = &self.shared else {
                        return self.proxy.delete_objects(req).await.map_err(unavailable);
                    };
                    let bucket = req.input.bucket.clone();
                    sh.require(&bucket).await?;
                    req.input.bucket = sh.bucket.clone();
                    for o in &mut req.input.delete.objects {
                        o.key = Shared::key(&bucket, &o.key);
                    }
                    let mut resp = self.proxy.delete_objects(req).await.map_err(unavailable)?;
                    for d in resp.output.deleted.iter_mut().flatten() {
                        Shared::strip_key(&bucket, &mut d.key);
                    }
                    for e in resp.output.errors.iter_mut().flatten() {
                        Shared::strip_key(&bucket, &mut e.key);
                    }
                    Ok(resp)
                })
                .await
            }

            async fn list_objects(
                &self,
                mut req: S3Request<ListObjectsInput>,
            ) -> S3Result<S3Response<ListObjectsOutput>> {
                page(&mut req.input.max_keys, "max-keys")?;
                let Some(sh) = &self.shared else {
                    return self.proxy.list_objects(req).await.map_err(unavailable);
                };
                let i = &mut req.input;
                let n = sh.enter_listing(&mut i.bucket, &mut i.prefix, &mut i.marker).await?;
                let mut resp = self.proxy.list_objects(req).await.map_err(unavailable)?;
                let (o, bucket) = (&mut resp.output, n.bucket);
                (o.prefix, o.marker) = (n.prefix, n.marker);
                o.name = Some(bucket.clone());
                Shared::strip_key(&bucket, &mut o.next_marker);
                Shared::strip_contents(&bucket, &mut o.contents);
                Shared::strip_prefixes(&bucket, &mut o.common_prefixes);
                Ok(resp)
            }

            async fn list_objects_v2(
                &self,
                mut req: S3Request<ListObjectsV2Input>,
            ) -> S3Result<S3Response<ListObjectsV2Output>> {
                page(&mut req.input.max_keys, "max-keys")?;
                let Some(sh) = &self.shared else {
                    return self.proxy.list_objects_v2(req).await.map_err(unavailable);
                };
                let i = &mut req.input;
                let n = sh.enter_listing(&mut i.bucket, &mut i.prefix, &mut i.start_after).await?;
                let mut resp = self.proxy.list_objects_v2(req).await.map_err(unavailable)?;
                let (o, bucket) = (&mut resp.output, n.bucket);
                (o.prefix, o.start_after) = (n.prefix, n.marker);
                o.name = Some(bucket.clone());
                Shared::strip_contents(&bucket, &mut o.contents);
                Shared::strip_prefixes(&bucket, &mut o.common_prefixes);
                Ok(resp)
            }

            async fn list_multipart_uploads(
                &self,
                mut req: S3Request<ListMultipartUploadsInput>,
            ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
                page(&mut req.input.max_uploads, "max-uploads")?;
                let Some(sh) = &self.shared else {
                    return self.proxy.list_multipart_uploads(req).await.map_err(unavailable);
                };
                let i = &mut req.input;
                let n = sh.enter_listing(&mut i.bucket, &mut i.prefix, &mut i.key_marker).await?;
                let mut resp = self.proxy.list_multipart_uploads(req).await.map_err(unavailable)?;
                let (o, bucket) = (&mut resp.output, n.bucket);
                (o.prefix, o.key_marker) = (n.prefix, n.marker);
                o.bucket = Some(bucket.clone());
                Shared::strip_key(&bucket, &mut o.next_key_marker);
                Shared::strip_uploads(&bucket, &mut o.uploads);
                Shared::strip_prefixes(&bucket, &mut o.common_prefixes);
                Ok(resp)
            }

            async fn list_object_versions(
                &self,
                req: S3Request<ListObjectVersionsInput>,
            ) -> S3Result<S3Response<ListObjectVersionsOutput>> {
                // Buckets are never versioned through keyless: every object is its one version,
                // "null", as the embedded store answers.
                let i = &req.input;
                if i.key_marker.as_deref().is_none_or(str::is_empty)
                    && i.version_id_marker.as_deref().is_some_and(|v| !v.is_empty())
                {
                    return Err(S3Error::with_message(
                        S3ErrorCode::InvalidArgument,
                        "A version-id-marker cannot be given without a key-marker.",
                    ));
                }
                let version_id_marker = i.version_id_marker.clone();
                let key_marker = i.key_marker.clone();
                let list = req.map_input(|i| ListObjectsInput {
                    bucket: i.bucket,
                    delimiter: i.delimiter,
                    encoding_type: i.encoding_type,
                    expected_bucket_owner: i.expected_bucket_owner,
                    marker: i.key_marker.filter(|m| !m.is_empty()),
                    max_keys: i.max_keys,
                    optional_object_attributes: None,
                    prefix: i.prefix,
                    request_payer: i.request_payer,
                });
                let resp = S3::list_objects(self, list).await?;
                let o = resp.output;
                let truncated = o.is_truncated.unwrap_or(false);
                let next_key = if truncated {
                    o.next_marker.clone().or_else(|| {
                        // ListObjects names no NextMarker without a delimiter: the last key is it.
                        o.contents.as_ref().and_then(|c| c.last()).and_then(|x| x.key.clone())
                    })
                } else {
                    None
                };
                let versions = o
                    .contents
                    .unwrap_or_default()
                    .into_iter()
                    .map(|x| ObjectVersion {
                        checksum_algorithm: x.checksum_algorithm,
                        checksum_type: x.checksum_type,
                        e_tag: x.e_tag,
                        is_latest: Some(true),
                        key: x.key,
                        last_modified: x.last_modified,
                        owner: x.owner,
                        restore_status: None,
                        size: x.size,
                        storage_class: Some(ObjectVersionStorageClass::from_static(ObjectVersionStorageClass::STANDARD)),
                        version_id: Some(crate::list::NULL_VERSION.to_owned()),
                    })
                    .collect();
                Ok(S3Response::new(ListObjectVersionsOutput {
                    common_prefixes: o.common_prefixes,
                    delete_markers: None,
                    delimiter: o.delimiter,
                    encoding_type: o.encoding_type,
                    is_truncated: Some(truncated),
                    key_marker: Some(key_marker.unwrap_or_default()),
                    max_keys: o.max_keys,
                    name: o.name,
                    next_version_id_marker: next_key.as_ref().map(|_| crate::list::NULL_VERSION.to_owned()),
                    next_key_marker: next_key,
                    prefix: o.prefix,
                    version_id_marker,
                    versions: Some(versions),
                    request_charged: None,
                }))
            }

            async fn put_object_tagging(
                &self,
                mut req: S3Request<PutObjectTaggingInput>,
            ) -> S3Result<S3Response<PutObjectTaggingOutput>> {
                crate::tagging::from_tag_set(&req.input.tagging.tag_set)?;
                if let Some(sh) = &self.shared {
                    sh.enter(&mut req.input.bucket, &mut req.input.key).await?;
                }
                self.proxy.put_object_tagging(req).await.map_err(unavailable)
            }

            async fn list_buckets(&self, req: S3Request<ListBucketsInput>) -> S3Result<S3Response<ListBucketsOutput>> {
                match &self.shared {
                    None => self.proxy.list_buckets(req).await.map_err(unavailable),
                    Some(sh) => Ok(S3Response::new(sh.list_buckets(&req.input).await?)),
                }
            }

            async fn create_bucket(&self, req: S3Request<CreateBucketInput>) -> S3Result<S3Response<CreateBucketOutput>> {
                // keyless's naming rules, whatever the upstream's (and the shared bucket has none).
                keyless_store::validate_bucket_name(&req.input.bucket).map_err(crate::error::ApiError::from)?;
                let Some(sh) = &self.shared else {
                    return self.proxy.create_bucket(req).await.map_err(unavailable);
                };
                sh.create_bucket(&req.input.bucket).await?;
                Ok(S3Response::new(CreateBucketOutput {
                    location: Some(format!("/{}", req.input.bucket)),
                }))
            }

            async fn delete_bucket(&self, req: S3Request<DeleteBucketInput>) -> S3Result<S3Response<DeleteBucketOutput>> {
                let Some(sh) = &self.shared else {
                    // Not every upstream refuses to delete a bucket that still holds objects
                    // (SeaweedFS deletes them); S3 refuses, and so does keyless.
                    shared::ensure_empty(&self.sdk, &req.input.bucket, "").await?;
                    self.known.forget(&req.input.bucket);
                    return self.proxy.delete_bucket(req).await.map_err(unavailable);
                };
                sh.delete_bucket(&req.input.bucket).await?;
                Ok(S3Response::new(DeleteBucketOutput::default()))
            }

            async fn head_bucket(&self, req: S3Request<HeadBucketInput>) -> S3Result<S3Response<HeadBucketOutput>> {
                let Some(sh) = &self.shared else {
                    return self.proxy.head_bucket(req).await.map_err(unavailable);
                };
                sh.require(&req.input.bucket).await?;
                Ok(S3Response::new(HeadBucketOutput::default()))
            }

            async fn get_bucket_versioning(
                &self,
                req: S3Request<GetBucketVersioningInput>,
            ) -> S3Result<S3Response<GetBucketVersioningOutput>> {
                let Some(sh) = &self.shared else {
                    return self.proxy.get_bucket_versioning(req).await.map_err(unavailable);
                };
                sh.require(&req.input.bucket).await?;
                Ok(S3Response::new(GetBucketVersioningOutput::default()))
            }

            async fn get_bucket_location(
                &self,
                req: S3Request<GetBucketLocationInput>,
            ) -> S3Result<S3Response<GetBucketLocationOutput>> {
                if let Some(sh) = &self.shared {
                    sh.require(&req.input.bucket).await?;
                } else {
                    let head = req.map_input(|i| HeadBucketInput {
                        bucket: i.bucket,
                        expected_bucket_owner: i.expected_bucket_owner,
                    });
                    self.proxy.head_bucket(head).await.map_err(|e| {
                        // A HEAD's 404 has no body to name the code; this answer has one.
                        if e.status_code() == Some(http::StatusCode::NOT_FOUND) {
                            shared::no_such_bucket()
                        } else {
                            unavailable(e)
                        }
                    })?;
                }
                Ok(S3Response::new(self.location()))
            }
        }
    };
}

gateway! {
    delete_object: DeleteObjectInput => DeleteObjectOutput;
    get_object_tagging: GetObjectTaggingInput => GetObjectTaggingOutput;
    delete_object_tagging: DeleteObjectTaggingInput => DeleteObjectTaggingOutput;
    abort_multipart_upload: AbortMultipartUploadInput => AbortMultipartUploadOutput;
}
