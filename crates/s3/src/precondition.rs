//! Conditional requests: `If-Match`, `If-None-Match`, `If-Modified-Since` and
//! `If-Unmodified-Since` on reads (GetObject, HeadObject), and their `x-amz-copy-source-if-*`
//! twins on copy sources, evaluated with S3's precedence (RFC 9110 §13.2.2):
//!
//! 1. `If-Match` fails → 412; when present, `If-Unmodified-Since` is ignored.
//! 2. Otherwise `If-Unmodified-Since` fails (modified after the date) → 412.
//! 3. `If-None-Match` matches → 304 on a read, 412 on a copy source; when present,
//!    `If-Modified-Since` is ignored.
//! 4. Otherwise `If-Modified-Since` fails (not modified after the date) → 304 / 412.
//!
//! Dates are compared at the one-second resolution of HTTP dates, so a client that sends back
//! the `Last-Modified` it was given gets a match.

use std::time::{SystemTime, UNIX_EPOCH};

use keyless_store::StoreError;
use s3s::dto::{ETagCondition, Timestamp};

use crate::error::{ApiError, ApiResult};

/// An entity-tag condition: `*`, or one tag (quotes and a weak `W/` prefix removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TagCondition {
    Any,
    Tag(String),
}

impl TagCondition {
    fn matches(&self, etag: &str) -> bool {
        match self {
            TagCondition::Any => true,
            TagCondition::Tag(t) => t.trim_matches('"') == etag.trim_matches('"'),
        }
    }
}

impl From<&ETagCondition> for TagCondition {
    fn from(c: &ETagCondition) -> Self {
        match c {
            ETagCondition::Any => TagCondition::Any,
            ETagCondition::ETag(e) => TagCondition::Tag(e.value().to_owned()),
        }
    }
}

/// Seconds since the epoch: the resolution of HTTP dates.
fn secs(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

fn ts_secs(t: &Timestamp) -> i64 {
    time::OffsetDateTime::from(t.clone()).unix_timestamp()
}

/// The four conditions of one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Conditions {
    pub if_match: Option<TagCondition>,
    pub if_none_match: Option<TagCondition>,
    /// Seconds since the epoch.
    pub if_modified_since: Option<i64>,
    pub if_unmodified_since: Option<i64>,
}

/// What the conditions say about the current object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Proceed,
    /// 304 on a read.
    NotModified,
    /// 412.
    Failed,
}

impl Conditions {
    pub(crate) fn new(
        if_match: Option<&ETagCondition>,
        if_none_match: Option<&ETagCondition>,
        if_modified_since: Option<&Timestamp>,
        if_unmodified_since: Option<&Timestamp>,
    ) -> Self {
        Self {
            if_match: if_match.map(TagCondition::from),
            if_none_match: if_none_match.map(TagCondition::from),
            if_modified_since: if_modified_since.map(ts_secs),
            if_unmodified_since: if_unmodified_since.map(ts_secs),
        }
    }

    pub(crate) fn evaluate(&self, etag: &str, last_modified: SystemTime) -> Outcome {
        let lm = secs(last_modified);
        if let Some(m) = &self.if_match {
            if !m.matches(etag) {
                return Outcome::Failed;
            }
        } else if let Some(d) = self.if_unmodified_since
            && lm > d
        {
            return Outcome::Failed;
        }
        if let Some(m) = &self.if_none_match {
            if m.matches(etag) {
                return Outcome::NotModified;
            }
        } else if let Some(d) = self.if_modified_since
            && lm <= d
        {
            return Outcome::NotModified;
        }
        Outcome::Proceed
    }

    /// For GetObject and HeadObject: 304 or 412 as S3 answers them.
    pub(crate) fn check_read(&self, etag: &str, last_modified: SystemTime) -> ApiResult<()> {
        match self.evaluate(etag, last_modified) {
            Outcome::Proceed => Ok(()),
            Outcome::NotModified => Err(ApiError::NotModified {
                etag: etag.to_owned(),
                last_modified,
            }),
            Outcome::Failed => Err(StoreError::PreconditionFailed.into()),
        }
    }

    /// For the source of CopyObject and UploadPartCopy: every failure is a 412.
    pub(crate) fn check_copy_source(&self, etag: &str, last_modified: SystemTime) -> ApiResult<()> {
        match self.evaluate(etag, last_modified) {
            Outcome::Proceed => Ok(()),
            Outcome::NotModified | Outcome::Failed => Err(StoreError::PreconditionFailed.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const ETAG: &str = "abc";

    fn at(s: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(s)
    }

    fn tag(t: &str) -> Option<TagCondition> {
        Some(if t == "*" {
            TagCondition::Any
        } else {
            TagCondition::Tag(t.to_owned())
        })
    }

    /// The object was modified at second 100 (plus a fraction, which HTTP dates drop).
    #[test]
    fn precedence_table() {
        let lm = at(100) + Duration::from_millis(700);
        let c = |im, inm, ims, ius| Conditions {
            if_match: im,
            if_none_match: inm,
            if_modified_since: ims,
            if_unmodified_since: ius,
        };
        let cases: Vec<(&str, Conditions, Outcome)> = vec![
            ("none", c(None, None, None, None), Outcome::Proceed),
            ("if-match hit", c(tag(ETAG), None, None, None), Outcome::Proceed),
            (
                "if-match quoted hit",
                c(tag("\"abc\""), None, None, None),
                Outcome::Proceed,
            ),
            ("if-match star", c(tag("*"), None, None, None), Outcome::Proceed),
            ("if-match miss", c(tag("zzz"), None, None, None), Outcome::Failed),
            (
                "if-none-match hit",
                c(None, tag(ETAG), None, None),
                Outcome::NotModified,
            ),
            (
                "if-none-match star",
                c(None, tag("*"), None, None),
                Outcome::NotModified,
            ),
            ("if-none-match miss", c(None, tag("zzz"), None, None), Outcome::Proceed),
            ("ims equal to lm", c(None, None, Some(100), None), Outcome::NotModified),
            ("ims after lm", c(None, None, Some(200), None), Outcome::NotModified),
            ("ims before lm", c(None, None, Some(99), None), Outcome::Proceed),
            ("ius equal to lm", c(None, None, None, Some(100)), Outcome::Proceed),
            ("ius before lm", c(None, None, None, Some(99)), Outcome::Failed),
            // S3: If-Match true and If-Unmodified-Since false → 200.
            (
                "if-match overrides ius",
                c(tag(ETAG), None, None, Some(1)),
                Outcome::Proceed,
            ),
            // S3: If-None-Match false (no match) and If-Modified-Since false → 200.
            (
                "if-none-match miss overrides ims",
                c(None, tag("zzz"), Some(200), None),
                Outcome::Proceed,
            ),
            // S3: If-None-Match true (match) and If-Modified-Since true → 304.
            (
                "if-none-match hit with ims",
                c(None, tag(ETAG), Some(1), None),
                Outcome::NotModified,
            ),
            ("412 beats 304", c(tag("zzz"), tag(ETAG), None, None), Outcome::Failed),
            (
                "ius fails before ims",
                c(None, None, Some(200), Some(1)),
                Outcome::Failed,
            ),
        ];
        for (name, conds, want) in cases {
            assert_eq!(conds.evaluate(ETAG, lm), want, "{name}");
        }
    }

    #[test]
    fn copy_source_never_answers_304() {
        let c = Conditions {
            if_none_match: tag(ETAG),
            ..Default::default()
        };
        let e = c.check_copy_source(ETAG, at(1)).unwrap_err();
        assert!(matches!(e, ApiError::Store(StoreError::PreconditionFailed)));
        let e = c.check_read(ETAG, at(1)).unwrap_err();
        assert!(matches!(e, ApiError::NotModified { .. }));
    }
}
