//! Object tags: the `x-amz-tagging` header, S3's limits on tags, and the three object
//! tagging operations (GetObjectTagging, PutObjectTagging, DeleteObjectTagging).

use s3s::dto::{
    DeleteObjectTaggingInput, DeleteObjectTaggingOutput, GetObjectTaggingInput, GetObjectTaggingOutput,
    PutObjectTaggingInput, PutObjectTaggingOutput, Tag, TagSet,
};
use s3s::{S3Request, S3Response};

use crate::error::{ApiError, ApiResult};
use crate::object::require_null_version;
use crate::percent;
use crate::service::Edge;

/// S3's limits on object tags.
pub(crate) const MAX_TAGS: usize = 10;
pub(crate) const MAX_KEY_CHARS: usize = 128;
pub(crate) const MAX_VALUE_CHARS: usize = 256;

pub(crate) type Tags = Vec<(String, String)>;

/// Checks a tag set against S3's rules.
pub(crate) fn validate(tags: &Tags) -> ApiResult<()> {
    if tags.len() > MAX_TAGS {
        return Err(ApiError::InvalidTag(format!(
            "Object tags cannot be more than {MAX_TAGS}; this request has {}.",
            tags.len()
        )));
    }
    for (i, (k, v)) in tags.iter().enumerate() {
        let key_chars = k.chars().count();
        if key_chars == 0 || key_chars > MAX_KEY_CHARS {
            return Err(ApiError::InvalidTag(format!(
                "A tag key must be 1 to {MAX_KEY_CHARS} characters long; {k:?} is {key_chars}."
            )));
        }
        if v.chars().count() > MAX_VALUE_CHARS {
            return Err(ApiError::InvalidTag(format!(
                "The value of tag {k:?} is longer than {MAX_VALUE_CHARS} characters."
            )));
        }
        if k.starts_with("aws:") {
            return Err(ApiError::InvalidTag(format!(
                "The tag key {k:?} uses the reserved prefix aws:; choose another key."
            )));
        }
        if tags[..i].iter().any(|(other, _)| other == k) {
            return Err(ApiError::InvalidTag(format!(
                "The tag key {k:?} is given twice; each key may appear once."
            )));
        }
    }
    Ok(())
}

/// Parses and checks `x-amz-tagging: k1=v1&k2=v2` (form-encoded).
pub(crate) fn from_header(header: Option<&str>) -> ApiResult<Tags> {
    let Some(h) = header else { return Ok(Vec::new()) };
    let tags = percent::parse_form(h).map_err(|e| {
        ApiError::InvalidArgument(format!(
            "The x-amz-tagging header is not a valid URL query string: {e}."
        ))
    })?;
    validate(&tags)?;
    Ok(tags)
}

pub(crate) fn from_tag_set(set: &TagSet) -> ApiResult<Tags> {
    let tags: Tags = set
        .iter()
        .map(|t| (t.key.clone().unwrap_or_default(), t.value.clone().unwrap_or_default()))
        .collect();
    validate(&tags)?;
    Ok(tags)
}

fn to_tag_set(tags: &Tags) -> TagSet {
    tags.iter()
        .map(|(k, v)| Tag {
            key: Some(k.clone()),
            value: Some(v.clone()),
        })
        .collect()
}

pub(crate) async fn get(
    edge: &Edge,
    req: S3Request<GetObjectTaggingInput>,
) -> ApiResult<S3Response<GetObjectTaggingOutput>> {
    let i = &req.input;
    require_null_version(i.version_id.as_deref())?;
    let info = edge.store.head_object(&i.bucket, &i.key)?;
    Ok(S3Response::new(GetObjectTaggingOutput {
        tag_set: to_tag_set(&info.tags),
        version_id: None,
    }))
}

pub(crate) async fn put(
    edge: &Edge,
    req: S3Request<PutObjectTaggingInput>,
) -> ApiResult<S3Response<PutObjectTaggingOutput>> {
    let i = &req.input;
    require_null_version(i.version_id.as_deref())?;
    let tags = from_tag_set(&i.tagging.tag_set)?;
    edge.store.set_tags(&i.bucket, &i.key, tags).await?;
    Ok(S3Response::new(PutObjectTaggingOutput { version_id: None }))
}

pub(crate) async fn delete(
    edge: &Edge,
    req: S3Request<DeleteObjectTaggingInput>,
) -> ApiResult<S3Response<DeleteObjectTaggingOutput>> {
    let i = &req.input;
    require_null_version(i.version_id.as_deref())?;
    edge.store.set_tags(&i.bucket, &i.key, Vec::new()).await?;
    Ok(S3Response::new(DeleteObjectTaggingOutput { version_id: None }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> Tags {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn tag_limits() {
        let long_key = "k".repeat(MAX_KEY_CHARS);
        let too_long_key = "k".repeat(MAX_KEY_CHARS + 1);
        let long_value = "ü".repeat(MAX_VALUE_CHARS);
        let too_long_value = "v".repeat(MAX_VALUE_CHARS + 1);
        let ten: Vec<(String, String)> = (0..10).map(|i| (format!("k{i}"), String::new())).collect();
        let eleven: Vec<(String, String)> = (0..11).map(|i| (format!("k{i}"), String::new())).collect();
        let cases: Vec<(Tags, bool)> = vec![
            (tags(&[]), true),
            (tags(&[("a", "b")]), true),
            (tags(&[("a", "")]), true),
            (tags(&[(&long_key, "v")]), true),
            (tags(&[(&too_long_key, "v")]), false),
            (tags(&[("k", &long_value)]), true),
            (tags(&[("k", &too_long_value)]), false),
            (tags(&[("", "v")]), false),
            (tags(&[("a", "1"), ("a", "2")]), false),
            (tags(&[("aws:createdBy", "me")]), false),
            (ten, true),
            (eleven, false),
        ];
        for (t, ok) in cases {
            let got = validate(&t);
            assert_eq!(got.is_ok(), ok, "{t:?}: {got:?}");
            if let Err(e) = got {
                assert!(matches!(e, ApiError::InvalidTag(_)));
            }
        }
    }

    #[test]
    fn tagging_header() {
        assert_eq!(from_header(None).unwrap(), tags(&[]));
        assert_eq!(
            from_header(Some("a=1&b=two+words&c=%2B")).unwrap(),
            tags(&[("a", "1"), ("b", "two words"), ("c", "+")])
        );
        assert!(matches!(from_header(Some("a=%zz")), Err(ApiError::InvalidArgument(_))));
        assert!(matches!(from_header(Some("a=1&a=2")), Err(ApiError::InvalidTag(_))));
    }
}
