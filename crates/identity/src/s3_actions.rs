//! From an S3 operation to the IAM questions AWS asks about it.
//!
//! Each operation (named as `s3s` names them: `GetObject`, `ListObjectsV2`, ...) needs one or more
//! [`Check`]s — an IAM action on a resource ARN (`arn:aws:s3:::bucket` or `arn:aws:s3:::bucket/key`)
//! — and every one must be allowed. Most operations need one; `CopyObject` and `UploadPartCopy`
//! also need `s3:GetObject` on the source, `DeleteObjects` needs `s3:DeleteObject` on each key, and a
//! write that sets tags also needs `s3:PutObjectTagging`. [`request_context`] builds the condition
//! keys a request carries (`aws:SourceIp`, `s3:prefix`, ...); the caller adds the principal's keys
//! (see `session::Session::policy_context`).

use std::net::IpAddr;

use thiserror::Error;

use crate::policy::RequestContext;

/// One S3 request, as far as authorisation cares.
#[derive(Clone, Copy, Debug, Default)]
pub struct S3Operation<'a> {
    /// The operation name (`"GetObject"`).
    pub name: &'a str,
    pub bucket: Option<&'a str>,
    pub key: Option<&'a str>,
    /// `(bucket, key)` of `x-amz-copy-source` (CopyObject, UploadPartCopy).
    pub copy_source: Option<(&'a str, &'a str)>,
    /// The keys of a DeleteObjects request.
    pub delete_keys: &'a [String],
    /// Whether a PutObject/CopyObject/CreateMultipartUpload sets tags (`x-amz-tagging`).
    pub sets_tags: bool,
}

/// One IAM question: may `action` be done on `resource`?
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    pub action: &'static str,
    pub resource: String,
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum S3ActionError {
    /// Not mapped: deny rather than guess.
    #[error("operation {0} has no IAM mapping in keyless")]
    UnknownOperation(String),
    #[error("operation {op} needs a {what}")]
    Missing { op: String, what: &'static str },
}

/// The resource ARN of a bucket.
pub fn bucket_arn(bucket: &str) -> String {
    format!("arn:aws:s3:::{bucket}")
}

/// The resource ARN of an object. The key is used as is (no percent-encoding), as in AWS.
pub fn object_arn(bucket: &str, key: &str) -> String {
    format!("arn:aws:s3:::{bucket}/{key}")
}

enum On {
    /// `arn:aws:s3:::*` (ListAllMyBuckets).
    All,
    Bucket,
    Object,
}

fn mapping(op: &str) -> Option<(&'static str, On)> {
    use On::*;
    Some(match op {
        "ListBuckets" => ("s3:ListAllMyBuckets", All),
        "CreateBucket" => ("s3:CreateBucket", Bucket),
        "DeleteBucket" => ("s3:DeleteBucket", Bucket),
        "HeadBucket" | "ListObjects" | "ListObjectsV2" => ("s3:ListBucket", Bucket),
        "ListObjectVersions" => ("s3:ListBucketVersions", Bucket),
        "GetBucketLocation" => ("s3:GetBucketLocation", Bucket),
        "GetBucketVersioning" => ("s3:GetBucketVersioning", Bucket),
        "GetBucketAcl" => ("s3:GetBucketAcl", Bucket),
        "GetBucketTagging" => ("s3:GetBucketTagging", Bucket),
        "PutBucketTagging" | "DeleteBucketTagging" => ("s3:PutBucketTagging", Bucket),
        "ListMultipartUploads" => ("s3:ListBucketMultipartUploads", Bucket),
        "GetObject" | "HeadObject" => ("s3:GetObject", Object),
        "GetObjectAttributes" => ("s3:GetObjectAttributes", Object),
        "GetObjectAcl" => ("s3:GetObjectAcl", Object),
        "PutObject"
        | "CopyObject"
        | "CreateMultipartUpload"
        | "UploadPart"
        | "UploadPartCopy"
        | "CompleteMultipartUpload" => ("s3:PutObject", Object),
        "DeleteObject" | "DeleteObjects" => ("s3:DeleteObject", Object),
        "AbortMultipartUpload" => ("s3:AbortMultipartUpload", Object),
        "ListParts" => ("s3:ListMultipartUploadParts", Object),
        "GetObjectTagging" => ("s3:GetObjectTagging", Object),
        "PutObjectTagging" => ("s3:PutObjectTagging", Object),
        "DeleteObjectTagging" => ("s3:DeleteObjectTagging", Object),
        _ => return None,
    })
}

/// Every check `op` needs; all must be allowed.
pub fn required_checks(op: &S3Operation<'_>) -> Result<Vec<Check>, S3ActionError> {
    let (action, on) = mapping(op.name).ok_or_else(|| S3ActionError::UnknownOperation(op.name.to_owned()))?;
    let missing = |what| S3ActionError::Missing {
        op: op.name.to_owned(),
        what,
    };
    let bucket = || op.bucket.ok_or_else(|| missing("bucket"));
    let mut checks = Vec::new();
    match on {
        On::All => checks.push(Check {
            action,
            resource: "arn:aws:s3:::*".to_owned(),
        }),
        On::Bucket => checks.push(Check {
            action,
            resource: bucket_arn(bucket()?),
        }),
        On::Object if op.name == "DeleteObjects" => {
            let bucket = bucket()?;
            checks.extend(op.delete_keys.iter().map(|k| Check {
                action,
                resource: object_arn(bucket, k),
            }));
        }
        On::Object => {
            let arn = object_arn(bucket()?, op.key.ok_or_else(|| missing("key"))?);
            if op.name == "GetObjectAttributes" {
                checks.push(Check {
                    action: "s3:GetObject",
                    resource: arn.clone(),
                });
            }
            if op.sets_tags && matches!(op.name, "PutObject" | "CopyObject" | "CreateMultipartUpload") {
                checks.push(Check {
                    action: "s3:PutObjectTagging",
                    resource: arn.clone(),
                });
            }
            checks.push(Check { action, resource: arn });
        }
    }
    if matches!(op.name, "CopyObject" | "UploadPartCopy") {
        let (b, k) = op.copy_source.ok_or_else(|| missing("copy source"))?;
        checks.push(Check {
            action: "s3:GetObject",
            resource: object_arn(b, k),
        });
    }
    Ok(checks)
}

/// What the edge knows about a request besides its operation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestFacts<'a> {
    pub source_ip: Option<IpAddr>,
    /// Whether the request came over TLS.
    pub secure_transport: bool,
    /// Unix seconds.
    pub now: i64,
    /// The `prefix`, `delimiter` and `max-keys` of a listing, when given.
    pub prefix: Option<&'a str>,
    pub delimiter: Option<&'a str>,
    pub max_keys: Option<i64>,
}

/// The request's own condition keys: `aws:SourceIp`, `aws:SecureTransport`, `aws:CurrentTime`
/// (ISO 8601, UTC), `aws:EpochTime`, and for listings `s3:prefix`, `s3:delimiter`, `s3:max-keys`.
pub fn request_context(facts: &RequestFacts<'_>) -> RequestContext {
    let mut ctx = RequestContext::new();
    if let Some(ip) = facts.source_ip {
        ctx.insert("aws:SourceIp", ip.to_string());
    }
    ctx.insert("aws:SecureTransport", facts.secure_transport.to_string());
    ctx.insert("aws:CurrentTime", iso8601(facts.now));
    ctx.insert("aws:EpochTime", facts.now.to_string());
    if let Some(p) = facts.prefix {
        ctx.insert("s3:prefix", p);
    }
    if let Some(d) = facts.delimiter {
        ctx.insert("s3:delimiter", d);
    }
    if let Some(m) = facts.max_keys {
        ctx.insert("s3:max-keys", m.to_string());
    }
    ctx
}

/// `2026-03-01T12:00:00Z` for unix seconds (the form STS and IAM print).
pub fn iso8601(unix: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(unix).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let f = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    t.format(&f).expect("a UTC timestamp always formats")
}

#[cfg(test)]
#[allow(clippy::type_complexity)] // test tables are tuples
mod tests {
    use super::*;

    #[test]
    fn checks_table() {
        let keys = ["a".to_owned(), "dir/b".to_owned()];
        let op = |name| S3Operation {
            name,
            bucket: Some("bkt"),
            key: Some("k/1"),
            ..Default::default()
        };
        let rows: Vec<(S3Operation<'_>, Result<Vec<(&str, &str)>, S3ActionError>)> = vec![
            (
                S3Operation {
                    name: "ListBuckets",
                    ..Default::default()
                },
                Ok(vec![("s3:ListAllMyBuckets", "arn:aws:s3:::*")]),
            ),
            (op("CreateBucket"), Ok(vec![("s3:CreateBucket", "arn:aws:s3:::bkt")])),
            (op("DeleteBucket"), Ok(vec![("s3:DeleteBucket", "arn:aws:s3:::bkt")])),
            (op("HeadBucket"), Ok(vec![("s3:ListBucket", "arn:aws:s3:::bkt")])),
            (op("ListObjects"), Ok(vec![("s3:ListBucket", "arn:aws:s3:::bkt")])),
            (op("ListObjectsV2"), Ok(vec![("s3:ListBucket", "arn:aws:s3:::bkt")])),
            (
                op("ListObjectVersions"),
                Ok(vec![("s3:ListBucketVersions", "arn:aws:s3:::bkt")]),
            ),
            (
                op("GetBucketLocation"),
                Ok(vec![("s3:GetBucketLocation", "arn:aws:s3:::bkt")]),
            ),
            (
                op("ListMultipartUploads"),
                Ok(vec![("s3:ListBucketMultipartUploads", "arn:aws:s3:::bkt")]),
            ),
            (
                op("GetBucketTagging"),
                Ok(vec![("s3:GetBucketTagging", "arn:aws:s3:::bkt")]),
            ),
            (
                op("DeleteBucketTagging"),
                Ok(vec![("s3:PutBucketTagging", "arn:aws:s3:::bkt")]),
            ),
            (op("GetObject"), Ok(vec![("s3:GetObject", "arn:aws:s3:::bkt/k/1")])),
            (op("HeadObject"), Ok(vec![("s3:GetObject", "arn:aws:s3:::bkt/k/1")])),
            (
                op("GetObjectAttributes"),
                Ok(vec![
                    ("s3:GetObject", "arn:aws:s3:::bkt/k/1"),
                    ("s3:GetObjectAttributes", "arn:aws:s3:::bkt/k/1"),
                ]),
            ),
            (op("PutObject"), Ok(vec![("s3:PutObject", "arn:aws:s3:::bkt/k/1")])),
            (
                S3Operation {
                    sets_tags: true,
                    ..op("PutObject")
                },
                Ok(vec![
                    ("s3:PutObjectTagging", "arn:aws:s3:::bkt/k/1"),
                    ("s3:PutObject", "arn:aws:s3:::bkt/k/1"),
                ]),
            ),
            (
                op("CreateMultipartUpload"),
                Ok(vec![("s3:PutObject", "arn:aws:s3:::bkt/k/1")]),
            ),
            (op("UploadPart"), Ok(vec![("s3:PutObject", "arn:aws:s3:::bkt/k/1")])),
            (
                op("CompleteMultipartUpload"),
                Ok(vec![("s3:PutObject", "arn:aws:s3:::bkt/k/1")]),
            ),
            (
                op("AbortMultipartUpload"),
                Ok(vec![("s3:AbortMultipartUpload", "arn:aws:s3:::bkt/k/1")]),
            ),
            (
                op("ListParts"),
                Ok(vec![("s3:ListMultipartUploadParts", "arn:aws:s3:::bkt/k/1")]),
            ),
            (
                S3Operation {
                    copy_source: Some(("src", "x y")),
                    ..op("CopyObject")
                },
                Ok(vec![
                    ("s3:PutObject", "arn:aws:s3:::bkt/k/1"),
                    ("s3:GetObject", "arn:aws:s3:::src/x y"),
                ]),
            ),
            (
                S3Operation {
                    copy_source: Some(("src", "p")),
                    ..op("UploadPartCopy")
                },
                Ok(vec![
                    ("s3:PutObject", "arn:aws:s3:::bkt/k/1"),
                    ("s3:GetObject", "arn:aws:s3:::src/p"),
                ]),
            ),
            (
                op("CopyObject"),
                Err(S3ActionError::Missing {
                    op: "CopyObject".into(),
                    what: "copy source",
                }),
            ),
            (
                op("DeleteObject"),
                Ok(vec![("s3:DeleteObject", "arn:aws:s3:::bkt/k/1")]),
            ),
            (
                S3Operation {
                    name: "DeleteObjects",
                    bucket: Some("bkt"),
                    delete_keys: &keys,
                    ..Default::default()
                },
                Ok(vec![
                    ("s3:DeleteObject", "arn:aws:s3:::bkt/a"),
                    ("s3:DeleteObject", "arn:aws:s3:::bkt/dir/b"),
                ]),
            ),
            (
                op("GetObjectTagging"),
                Ok(vec![("s3:GetObjectTagging", "arn:aws:s3:::bkt/k/1")]),
            ),
            (
                op("PutObjectTagging"),
                Ok(vec![("s3:PutObjectTagging", "arn:aws:s3:::bkt/k/1")]),
            ),
            (
                op("DeleteObjectTagging"),
                Ok(vec![("s3:DeleteObjectTagging", "arn:aws:s3:::bkt/k/1")]),
            ),
            (
                S3Operation {
                    name: "GetObject",
                    bucket: Some("b"),
                    ..Default::default()
                },
                Err(S3ActionError::Missing {
                    op: "GetObject".into(),
                    what: "key",
                }),
            ),
            (
                S3Operation {
                    name: "ListObjectsV2",
                    ..Default::default()
                },
                Err(S3ActionError::Missing {
                    op: "ListObjectsV2".into(),
                    what: "bucket",
                }),
            ),
            (
                op("PutBucketPolicy"),
                Err(S3ActionError::UnknownOperation("PutBucketPolicy".into())),
            ),
        ];
        for (op, want) in rows {
            let got = required_checks(&op);
            let want = want.map(|v| {
                v.into_iter()
                    .map(|(a, r)| Check {
                        action: a,
                        resource: r.to_owned(),
                    })
                    .collect::<Vec<_>>()
            });
            assert_eq!(got, want, "{}", op.name);
        }
    }

    #[test]
    fn context_keys() {
        let facts = RequestFacts {
            source_ip: Some("10.1.2.3".parse().unwrap()),
            secure_transport: true,
            now: 1_772_366_400,
            prefix: Some(""),
            delimiter: Some("/"),
            max_keys: Some(100),
        };
        let ctx = request_context(&facts);
        let rows: &[(&str, Option<&str>)] = &[
            ("aws:SourceIp", Some("10.1.2.3")),
            ("aws:securetransport", Some("true")),
            ("aws:CurrentTime", Some("2026-03-01T12:00:00Z")),
            ("aws:EpochTime", Some("1772366400")),
            ("s3:prefix", Some("")),
            ("s3:delimiter", Some("/")),
            ("s3:max-keys", Some("100")),
            ("aws:userid", None),
        ];
        for (key, want) in rows {
            assert_eq!(ctx.get(key).map(|v| v[0].as_str()), *want, "{key}");
        }
        let bare = request_context(&RequestFacts::default());
        assert_eq!(bare.get("s3:prefix"), None);
        assert_eq!(bare.get("aws:SourceIp"), None);
    }
}
