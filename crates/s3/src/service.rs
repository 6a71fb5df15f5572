//! The `s3s::S3` implementation: one thin method per supported operation, each handing the
//! request to the module that owns the concept ([`bucket`], [`object`], [`multipart`],
//! [`list`], [`tagging`]) and turning its [`ApiError`](crate::error::ApiError) into an S3
//! error. Operations not listed here answer `NotImplemented` (the `s3s` default).

use keyless_store::Store;
use s3s::dto::*;
use s3s::{S3, S3Request, S3Response, S3Result};

use crate::{bucket, list, multipart, object, tagging};

/// What every handler needs: the engine and the server's identity on the wire.
pub(crate) struct Edge {
    pub store: Store,
    /// The region this server answers for (GetBucketLocation, HeadBucket, signatures).
    pub region: String,
}

/// The canonical user id S3 reports as the owner of everything; there is one owner here.
pub(crate) const OWNER_ID: &str = "6b65796c6573732d726f6f742d6f776e65722d30303030303030303030303030";
pub(crate) const OWNER_NAME: &str = "keyless";

impl Edge {
    pub(crate) fn owner(&self) -> Owner {
        Owner {
            id: Some(OWNER_ID.to_owned()),
            display_name: Some(OWNER_NAME.to_owned()),
        }
    }
}

/// Runs a handler and converts its error.
macro_rules! run {
    ($e:expr) => {
        $e.await.map_err(s3s::S3Error::from)
    };
}

#[async_trait::async_trait]
impl S3 for Edge {
    // ---- buckets ----

    async fn list_buckets(&self, req: S3Request<ListBucketsInput>) -> S3Result<S3Response<ListBucketsOutput>> {
        run!(bucket::list(self, req))
    }

    async fn create_bucket(&self, req: S3Request<CreateBucketInput>) -> S3Result<S3Response<CreateBucketOutput>> {
        run!(bucket::create(self, req))
    }

    async fn delete_bucket(&self, req: S3Request<DeleteBucketInput>) -> S3Result<S3Response<DeleteBucketOutput>> {
        run!(bucket::delete(self, req))
    }

    async fn head_bucket(&self, req: S3Request<HeadBucketInput>) -> S3Result<S3Response<HeadBucketOutput>> {
        run!(bucket::head(self, req))
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        run!(bucket::location(self, req))
    }

    async fn get_bucket_versioning(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> S3Result<S3Response<GetBucketVersioningOutput>> {
        run!(bucket::versioning(self, req))
    }

    // ---- listings ----

    async fn list_objects(&self, req: S3Request<ListObjectsInput>) -> S3Result<S3Response<ListObjectsOutput>> {
        run!(list::list_v1(self, req))
    }

    async fn list_objects_v2(&self, req: S3Request<ListObjectsV2Input>) -> S3Result<S3Response<ListObjectsV2Output>> {
        run!(list::list_v2(self, req))
    }

    async fn list_object_versions(
        &self,
        req: S3Request<ListObjectVersionsInput>,
    ) -> S3Result<S3Response<ListObjectVersionsOutput>> {
        run!(list::list_versions(self, req))
    }

    // ---- objects ----

    async fn get_object(&self, req: S3Request<GetObjectInput>) -> S3Result<S3Response<GetObjectOutput>> {
        run!(object::get(self, req))
    }

    async fn head_object(&self, req: S3Request<HeadObjectInput>) -> S3Result<S3Response<HeadObjectOutput>> {
        run!(object::head(self, req))
    }

    async fn put_object(&self, req: S3Request<PutObjectInput>) -> S3Result<S3Response<PutObjectOutput>> {
        run!(object::put(self, req))
    }

    async fn post_object(&self, _req: S3Request<PostObjectInput>) -> S3Result<S3Response<PostObjectOutput>> {
        Err(crate::error::ApiError::NotImplemented(
            "keyless does not accept browser-form (POST) uploads; use PutObject or a presigned PUT URL.".into(),
        )
        .into())
    }

    async fn copy_object(&self, req: S3Request<CopyObjectInput>) -> S3Result<S3Response<CopyObjectOutput>> {
        run!(object::copy(self, req))
    }

    async fn delete_object(&self, req: S3Request<DeleteObjectInput>) -> S3Result<S3Response<DeleteObjectOutput>> {
        run!(object::delete(self, req))
    }

    async fn delete_objects(&self, req: S3Request<DeleteObjectsInput>) -> S3Result<S3Response<DeleteObjectsOutput>> {
        // A session's keys are authorised one by one; denied keys become AccessDenied entries.
        crate::policy::delete_allowed_keys(req, |req| async move { run!(object::delete_many(self, req)) }).await
    }

    // ---- tagging ----

    async fn get_object_tagging(
        &self,
        req: S3Request<GetObjectTaggingInput>,
    ) -> S3Result<S3Response<GetObjectTaggingOutput>> {
        run!(tagging::get(self, req))
    }

    async fn put_object_tagging(
        &self,
        req: S3Request<PutObjectTaggingInput>,
    ) -> S3Result<S3Response<PutObjectTaggingOutput>> {
        run!(tagging::put(self, req))
    }

    async fn delete_object_tagging(
        &self,
        req: S3Request<DeleteObjectTaggingInput>,
    ) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
        run!(tagging::delete(self, req))
    }

    // ---- multipart ----

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        run!(multipart::create(self, req))
    }

    async fn upload_part(&self, req: S3Request<UploadPartInput>) -> S3Result<S3Response<UploadPartOutput>> {
        run!(multipart::upload_part(self, req))
    }

    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        run!(multipart::upload_part_copy(self, req))
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        run!(multipart::complete(self, req))
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        run!(multipart::abort(self, req))
    }

    async fn list_parts(&self, req: S3Request<ListPartsInput>) -> S3Result<S3Response<ListPartsOutput>> {
        run!(multipart::list_parts(self, req))
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        run!(multipart::list_uploads(self, req))
    }
}
