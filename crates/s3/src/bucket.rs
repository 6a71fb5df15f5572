//! Buckets: ListBuckets, CreateBucket, DeleteBucket, HeadBucket, GetBucketLocation and
//! GetBucketVersioning (buckets are never versioned).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use s3s::dto::{
    Bucket, BucketLocationConstraint, CreateBucketInput, CreateBucketOutput, DeleteBucketInput, DeleteBucketOutput,
    GetBucketLocationInput, GetBucketLocationOutput, GetBucketVersioningInput, GetBucketVersioningOutput,
    HeadBucketInput, HeadBucketOutput, ListBucketsInput, ListBucketsOutput,
};
use s3s::{S3Request, S3Response};

use crate::error::{ApiError, ApiResult};
use crate::service::Edge;

/// The most buckets one ListBuckets page returns (S3's limit for `max-buckets`).
const MAX_BUCKETS_PER_PAGE: usize = 10_000;

pub(crate) async fn list(edge: &Edge, req: S3Request<ListBucketsInput>) -> ApiResult<S3Response<ListBucketsOutput>> {
    let i = &req.input;
    let max = match i.max_buckets {
        None => MAX_BUCKETS_PER_PAGE,
        Some(n) if (1..=MAX_BUCKETS_PER_PAGE as i32).contains(&n) => n as usize,
        Some(n) => {
            return Err(ApiError::invalid_argument(format!(
                "max-buckets must be 1 to {MAX_BUCKETS_PER_PAGE}; got {n}."
            )));
        }
    };
    let after = match i.continuation_token.as_deref() {
        None | Some("") => None,
        Some(t) => Some(
            B64.decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    ApiError::invalid_argument(
                        "The continuation token is not one this server issued; start the listing again.",
                    )
                })?,
        ),
    };
    let prefix = i.prefix.as_deref().unwrap_or("");
    let mut buckets: Vec<_> = edge
        .store
        .list_buckets()?
        .into_iter()
        .filter(|b| b.name.starts_with(prefix) && after.as_ref().is_none_or(|a| b.name.as_str() > a.as_str()))
        .collect();
    let truncated = buckets.len() > max;
    buckets.truncate(max);
    let next = truncated
        .then(|| buckets.last().map(|b| B64.encode(b.name.as_bytes())))
        .flatten();
    let out = ListBucketsOutput {
        buckets: Some(
            buckets
                .into_iter()
                .map(|b| Bucket {
                    name: Some(b.name),
                    creation_date: Some(b.created.into()),
                    bucket_region: Some(edge.region.clone()),
                })
                .collect(),
        ),
        continuation_token: next,
        owner: Some(edge.owner()),
        prefix: i.prefix.clone(),
    };
    Ok(S3Response::new(out))
}

pub(crate) async fn create(
    edge: &Edge,
    req: S3Request<CreateBucketInput>,
) -> ApiResult<S3Response<CreateBucketOutput>> {
    let i = &req.input;
    let constraint = i
        .create_bucket_configuration
        .as_ref()
        .and_then(|c| c.location_constraint.as_ref())
        .map(|c| c.as_str());
    if let Some(c) = constraint
        && !c.is_empty()
        && c != edge.region
    {
        return Err(ApiError::InvalidLocationConstraint(format!(
            "The location constraint {c:?} does not match this server's region {:?}; omit it or use {:?}.",
            edge.region, edge.region
        )));
    }
    if i.object_lock_enabled_for_bucket == Some(true) {
        return Err(ApiError::NotImplemented(
            "keyless does not support S3 Object Lock; create the bucket without it.".into(),
        ));
    }
    edge.store.create_bucket(&i.bucket).await?;
    Ok(S3Response::new(CreateBucketOutput {
        location: Some(format!("/{}", i.bucket)),
    }))
}

pub(crate) async fn delete(
    edge: &Edge,
    req: S3Request<DeleteBucketInput>,
) -> ApiResult<S3Response<DeleteBucketOutput>> {
    edge.store.delete_bucket(&req.input.bucket).await?;
    Ok(S3Response::new(DeleteBucketOutput::default()))
}

pub(crate) async fn head(edge: &Edge, req: S3Request<HeadBucketInput>) -> ApiResult<S3Response<HeadBucketOutput>> {
    edge.store.head_bucket(&req.input.bucket)?;
    Ok(S3Response::new(HeadBucketOutput {
        bucket_region: Some(edge.region.clone()),
        ..Default::default()
    }))
}

/// The `LocationConstraint` S3 reports for a region: empty for us-east-1.
fn location_constraint(region: &str) -> Option<BucketLocationConstraint> {
    (region != "us-east-1").then(|| BucketLocationConstraint::from(region.to_owned()))
}

pub(crate) async fn location(
    edge: &Edge,
    req: S3Request<GetBucketLocationInput>,
) -> ApiResult<S3Response<GetBucketLocationOutput>> {
    edge.store.head_bucket(&req.input.bucket)?;
    Ok(S3Response::new(GetBucketLocationOutput {
        location_constraint: location_constraint(&edge.region),
    }))
}

pub(crate) async fn versioning(
    edge: &Edge,
    req: S3Request<GetBucketVersioningInput>,
) -> ApiResult<S3Response<GetBucketVersioningOutput>> {
    edge.store.head_bucket(&req.input.bucket)?;
    Ok(S3Response::new(GetBucketVersioningOutput::default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_constraint_is_empty_for_us_east_1() {
        assert_eq!(location_constraint("us-east-1"), None);
        assert_eq!(
            location_constraint("eu-west-1").as_ref().map(|c| c.as_str()),
            Some("eu-west-1")
        );
        assert_eq!(
            location_constraint("garage").as_ref().map(|c| c.as_str()),
            Some("garage")
        );
    }
}
