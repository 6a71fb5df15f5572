//! Many keyless buckets in one upstream bucket (`gateway.shared_bucket`): for an upstream where
//! keyless may have only one bucket (a quota'd AWS account, a tenant of someone else's Ceph).
//!
//! Keyless bucket `B`'s object `K` is upstream object `B/K` of the shared bucket. Bucket `B`
//! itself is the empty marker object `.keyless-buckets/B` (its LastModified is the bucket's
//! creation date): no keyless bucket name can start with `.`, and no object key of a bucket can
//! leave its `B/` prefix, so the namespaces never meet. Listings ask the upstream for the mapped
//! prefix and markers and strip `B/` from what comes back; continuation tokens are the
//! upstream's (they carry the shared bucket's keys, but the upstream still applies the prefix
//! keyless sends, so a forged token cannot reach another bucket's keys).
//!
//! A bucket's existence is checked before every operation on it (HEAD of its marker); a replica
//! remembers a bucket it has seen for [`KNOWN_FOR`], so a bucket deleted through another replica
//! may still take writes on this one for that long.
//! Keys are limited by the upstream's own limit (1024 bytes for S3) minus `B/`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Result, s3_error};

/// Where bucket markers live in the shared bucket.
const MARKERS: &str = ".keyless-buckets/";

/// How long a replica trusts that a bucket it has seen still exists.
pub(crate) const KNOWN_FOR: Duration = Duration::from_secs(5);

/// The buckets a replica has recently seen exist (for [`KNOWN_FOR`]); only real buckets get in,
/// so its size is bounded by theirs.
#[derive(Default)]
pub(crate) struct Known(Mutex<HashMap<String, Instant>>);

impl Known {
    pub(crate) fn fresh(&self, bucket: &str) -> bool {
        self.0
            .lock()
            .expect("not poisoned")
            .get(bucket)
            .is_some_and(|seen| seen.elapsed() < KNOWN_FOR)
    }

    pub(crate) fn seen(&self, bucket: &str) {
        self.0
            .lock()
            .expect("not poisoned")
            .insert(bucket.to_owned(), Instant::now());
    }

    pub(crate) fn forget(&self, bucket: &str) {
        self.0.lock().expect("not poisoned").remove(bucket);
    }

    /// Whether `bucket` exists: remembered, or asked with `head` (a HEAD whose 404 means no).
    pub(crate) async fn exists<T, E, Fut>(&self, bucket: &str, head: impl FnOnce() -> Fut) -> S3Result<bool>
    where
        Fut: std::future::Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        if self.fresh(bucket) {
            return Ok(true);
        }
        match head().await {
            Ok(_) => {
                self.seen(bucket);
                Ok(true)
            }
            Err(e) if not_found(&e) => {
                self.forget(bucket);
                Ok(false)
            }
            Err(e) => Err(sdk_error(e)),
        }
    }

    /// `NoSuchBucket` unless `bucket` exists (see [`Known::exists`]).
    pub(crate) async fn require<T, E, Fut>(&self, bucket: &str, head: impl FnOnce() -> Fut) -> S3Result<()>
    where
        Fut: std::future::Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        if self.exists(bucket, head).await? {
            Ok(())
        } else {
            Err(no_such_bucket())
        }
    }
}

/// S3's answer for a bucket that does not exist.
pub(crate) fn no_such_bucket() -> S3Error {
    s3_error!(NoSuchBucket, "The specified bucket does not exist.")
}

/// A listing's bucket, prefix and marker as the client sent them (see [`Shared::enter_listing`]).
pub(crate) struct ListingNames {
    pub(crate) bucket: String,
    pub(crate) prefix: Option<String>,
    pub(crate) marker: Option<String>,
}

pub(crate) struct Shared {
    /// The upstream bucket holding every keyless bucket.
    pub(crate) bucket: String,
    sdk: aws_sdk_s3::Client,
    known: Known,
}

/// An upstream error from a call keyless makes itself, as the S3 error the client gets.
pub(crate) fn sdk_error<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static>(
    e: SdkError<E, HttpResponse>,
) -> S3Error {
    match &e {
        SdkError::ServiceError(se) => {
            let status = se.raw().status().as_u16();
            let code = se
                .err()
                .code()
                .and_then(|c| S3ErrorCode::from_bytes(c.as_bytes()))
                .unwrap_or(if status == 503 {
                    S3ErrorCode::ServiceUnavailable
                } else {
                    S3ErrorCode::InternalError
                });
            let mut err = S3Error::new(code);
            if let Some(m) = se.err().message() {
                err.set_message(m.to_owned());
            }
            if let Ok(s) = http::StatusCode::from_u16(status) {
                err.set_status_code(s);
            }
            err
        }
        _ => super::unavailable(S3Error::with_source(S3ErrorCode::InternalError, Box::new(e))),
    }
}

fn not_found<E>(e: &SdkError<E, HttpResponse>) -> bool {
    matches!(e, SdkError::ServiceError(se) if se.raw().status().as_u16() == 404)
}

impl Shared {
    pub(crate) fn new(bucket: String, sdk: aws_sdk_s3::Client) -> Self {
        Self {
            bucket,
            sdk,
            known: Known::default(),
        }
    }

    fn marker(bucket: &str) -> String {
        format!("{MARKERS}{bucket}")
    }

    /// Upstream key of `key` in keyless bucket `bucket`.
    pub(crate) fn key(bucket: &str, key: &str) -> String {
        format!("{bucket}/{key}")
    }

    /// Keyless key of upstream key `key` (also URL-encoded, for `encoding-type=url` listings).
    pub(crate) fn strip(bucket: &str, key: String) -> String {
        for sep in ["/", "%2F", "%2f"] {
            if let Some(rest) = key.strip_prefix(bucket).and_then(|r| r.strip_prefix(sep)) {
                return rest.to_owned();
            }
        }
        key
    }

    fn strip_opt(bucket: &str, key: Option<String>) -> Option<String> {
        key.map(|k| Self::strip(bucket, k))
    }

    /// Whether keyless bucket `bucket` exists (its marker is there).
    pub(crate) async fn exists(&self, bucket: &str) -> S3Result<bool> {
        let marker = self.sdk.head_object().bucket(&self.bucket).key(Self::marker(bucket));
        self.known.exists(bucket, || marker.send()).await
    }

    /// `NoSuchBucket` unless keyless bucket `bucket` exists.
    pub(crate) async fn require(&self, bucket: &str) -> S3Result<()> {
        if self.exists(bucket).await? {
            Ok(())
        } else {
            Err(no_such_bucket())
        }
    }

    /// Checks that `bucket` exists and points `bucket`/`key` at the upstream object.
    pub(crate) async fn enter(&self, bucket: &mut String, key: &mut String) -> S3Result<()> {
        self.require(bucket).await?;
        *key = Self::key(bucket, key);
        *bucket = self.bucket.clone();
        Ok(())
    }

    /// Checks the source bucket of a copy and points the source at the upstream object.
    pub(crate) async fn enter_source(&self, source: &mut CopySource) -> S3Result<()> {
        match source {
            CopySource::Bucket { bucket, key, .. } => {
                self.require(bucket).await?;
                *key = Self::key(bucket, key).into();
                *bucket = self.bucket.clone().into();
                Ok(())
            }
            _ => Err(s3_error!(
                InvalidArgument,
                "Copy sources are given as bucket/key; access points and outposts are not supported."
            )),
        }
    }

    /// Checks `bucket` and points a listing request at the upstream: the bucket, the prefix under
    /// `bucket/`, the marker (key-marker, start-after) as an upstream key. Returns the names as
    /// the client gave them, for the answer.
    pub(crate) async fn enter_listing(
        &self,
        bucket: &mut String,
        prefix: &mut Option<String>,
        marker: &mut Option<String>,
    ) -> S3Result<ListingNames> {
        self.require(bucket).await?;
        let names = ListingNames {
            bucket: bucket.clone(),
            prefix: prefix.clone(),
            marker: marker.clone(),
        };
        *prefix = Some(Self::prefix(bucket, prefix.take()));
        *marker = marker.take().map(|m| Self::key(bucket, &m));
        *bucket = self.bucket.clone();
        Ok(names)
    }

    /// Upstream prefix for a listing of `bucket` with the client's `prefix`.
    pub(crate) fn prefix(bucket: &str, prefix: Option<String>) -> String {
        Self::key(bucket, prefix.as_deref().unwrap_or(""))
    }

    pub(crate) fn strip_contents(bucket: &str, contents: &mut Option<Vec<Object>>) {
        for o in contents.iter_mut().flatten() {
            o.key = Self::strip_opt(bucket, o.key.take());
        }
    }

    pub(crate) fn strip_prefixes(bucket: &str, prefixes: &mut Option<Vec<CommonPrefix>>) {
        for p in prefixes.iter_mut().flatten() {
            p.prefix = Self::strip_opt(bucket, p.prefix.take());
        }
    }

    pub(crate) fn strip_uploads(bucket: &str, uploads: &mut Option<Vec<MultipartUpload>>) {
        for u in uploads.iter_mut().flatten() {
            u.key = Self::strip_opt(bucket, u.key.take());
        }
    }

    pub(crate) fn strip_key(bucket: &str, key: &mut Option<String>) {
        *key = Self::strip_opt(bucket, key.take());
    }

    /// The keyless buckets: the markers, with their creation dates.
    pub(crate) async fn list_buckets(&self, input: &ListBucketsInput) -> S3Result<ListBucketsOutput> {
        let prefix = format!("{MARKERS}{}", input.prefix.as_deref().unwrap_or(""));
        let max = input.max_buckets.map_or(usize::MAX, |m| m.max(1) as usize);
        let mut buckets = Vec::new();
        let mut token: Option<String> = None;
        let mut start_after = input.continuation_token.as_deref().map(Self::marker);
        loop {
            let out = self
                .sdk
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(&prefix)
                .set_start_after(start_after.take())
                .set_continuation_token(token.take())
                .send()
                .await;
            let out = match out {
                Ok(out) => out,
                // No shared bucket yet: no keyless bucket yet either.
                Err(e) if not_found(&e) => break,
                Err(e) => return Err(sdk_error(e)),
            };
            for o in out.contents() {
                let Some(name) = o.key().and_then(|k| k.strip_prefix(MARKERS)) else {
                    continue;
                };
                buckets.push(Bucket {
                    name: Some(name.to_owned()),
                    creation_date: o
                        .last_modified()
                        .and_then(|t| std::time::SystemTime::try_from(*t).ok())
                        .map(Timestamp::from),
                    bucket_region: None,
                });
            }
            if buckets.len() > max || !out.is_truncated().unwrap_or(false) {
                break;
            }
            token = out.next_continuation_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        let continuation_token = if buckets.len() > max {
            buckets.truncate(max);
            buckets.last().and_then(|b| b.name.clone())
        } else {
            None
        };
        Ok(ListBucketsOutput {
            buckets: Some(buckets),
            continuation_token,
            owner: Some(Owner {
                id: Some(crate::service::OWNER_ID.to_owned()),
                display_name: Some(crate::service::OWNER_NAME.to_owned()),
            }),
            prefix: input.prefix.clone(),
        })
    }

    /// Creates keyless bucket `bucket` (and the shared bucket, the first time).
    pub(crate) async fn create_bucket(&self, bucket: &str) -> S3Result<()> {
        if self.exists(bucket).await? {
            return Err(s3_error!(
                BucketAlreadyOwnedByYou,
                "Your previous request to create the named bucket succeeded and you already own it."
            ));
        }
        for attempt in 0..2 {
            let put = self
                .sdk
                .put_object()
                .bucket(&self.bucket)
                .key(Self::marker(bucket))
                .body(Vec::new().into())
                .send()
                .await;
            match put {
                Ok(_) => {
                    self.known.seen(bucket);
                    return Ok(());
                }
                Err(e) if attempt == 0 && e.as_service_error().and_then(|s| s.code()) == Some("NoSuchBucket") => {
                    tracing::info!(bucket = %self.bucket, "creating the shared upstream bucket");
                    match self.sdk.create_bucket().bucket(&self.bucket).send().await {
                        Ok(_) => {}
                        Err(e)
                            if matches!(
                                e.as_service_error().and_then(|s| s.code()),
                                Some("BucketAlreadyOwnedByYou" | "BucketAlreadyExists")
                            ) => {}
                        Err(e) => return Err(sdk_error(e)),
                    }
                }
                Err(e) => return Err(sdk_error(e)),
            }
        }
        Err(s3_error!(
            ServiceUnavailable,
            "The shared upstream bucket could not be created; retry later."
        ))
    }

    /// Deletes keyless bucket `bucket` if it holds no object and no multipart upload.
    pub(crate) async fn delete_bucket(&self, bucket: &str) -> S3Result<()> {
        self.require(bucket).await?;
        ensure_empty(&self.sdk, &self.bucket, &Self::key(bucket, "")).await?;
        self.known.forget(bucket);
        self.sdk
            .delete_object()
            .bucket(&self.bucket)
            .key(Self::marker(bucket))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }
}

/// `BucketNotEmpty` unless upstream bucket `bucket` holds no object and no multipart upload
/// under `prefix`, as S3 (and the embedded store) decide a DeleteBucket.
pub(crate) async fn ensure_empty(sdk: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> S3Result<()> {
    let objects = sdk
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .max_keys(1)
        .send()
        .await
        .map_err(sdk_error)?;
    if !objects.contents().is_empty() {
        return Err(s3_error!(
            BucketNotEmpty,
            "The bucket you tried to delete is not empty."
        ));
    }
    let uploads = sdk
        .list_multipart_uploads()
        .bucket(bucket)
        .prefix(prefix)
        .max_uploads(1)
        .send()
        .await
        .map_err(sdk_error)?;
    if !uploads.uploads().is_empty() {
        return Err(s3_error!(
            BucketNotEmpty,
            "The bucket you tried to delete has multipart uploads in progress; abort them first."
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_into_the_bucket_prefix_and_back() {
        assert_eq!(Shared::key("photos", "2024/a.jpg"), "photos/2024/a.jpg");
        assert_eq!(Shared::strip("photos", "photos/2024/a.jpg".into()), "2024/a.jpg");
        assert_eq!(Shared::strip("photos", "photos%2F2024%2Fa.jpg".into()), "2024%2Fa.jpg");
        // A key of another bucket (never returned for a mapped prefix) is left as it is.
        assert_eq!(Shared::strip("photos", "photosx/a".into()), "photosx/a");
        assert_eq!(Shared::prefix("photos", None), "photos/");
        assert_eq!(Shared::prefix("photos", Some("2024/".into())), "photos/2024/");
        // No keyless bucket name starts with '.', so markers never share a prefix with objects.
        assert!(MARKERS.starts_with('.'));
    }
}
