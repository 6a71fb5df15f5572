//! Bodies crossing the edge, both ways.
//!
//! Inbound, [`receive`] is the one path every uploaded body takes (PutObject, UploadPart):
//! stage it in the store while hashing, then compare every digest the client claimed —
//! `Content-MD5`, `x-amz-checksum-*` headers, and aws-chunked trailers, which can only be read
//! once the body has ended — before the caller commits anything. A failed check drops the
//! [`StagedBlob`], which deletes it: nothing becomes visible.
//!
//! The body stream given to the store records why it failed, because the store only sees
//! "the body could not be read": a bad chunk signature must reach the client as
//! `SignatureDoesNotMatch`, not as a short read.
//!
//! Outbound, [`ObjectBody`] streams an object's bytes with their exact length.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use http::HeaderMap;
use keyless_store::{StagedBlob, Store, StoreError};
use s3s::dto::StreamingBlob;
use s3s::stream::{ByteStream, RemainingLength};
use s3s::{StdError, TrailingHeaders};

use crate::checksum::{self, ChecksumPlan};
use crate::error::{ApiError, ApiResult};

/// Why a request body stream failed, as far as the edge can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyFailure {
    /// An aws-chunked chunk (or trailer) signature did not verify.
    ChunkSignature,
    /// A single-chunk body did not hash to its signed `x-amz-content-sha256`.
    ContentSha256,
    /// The client stopped sending (`connection::BodyIdle`).
    Idle,
    /// Anything else: the connection closed early, a malformed chunk, a length mismatch.
    Other,
}

/// `s3s` reports body failures with private error types; their messages are all we can see.
pub(crate) fn classify(e: &StdError) -> BodyFailure {
    let text = e.to_string();
    if text.contains("SignatureMismatch") {
        BodyFailure::ChunkSignature
    } else if text.contains("Sha256Mismatch") {
        BodyFailure::ContentSha256
    } else if text.contains(crate::connection::BODY_IDLE_MARK) {
        BodyFailure::Idle
    } else {
        BodyFailure::Other
    }
}

#[derive(Debug)]
struct BodyReadError(String);

impl std::fmt::Display for BodyReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A request body on its way into the store; remembers the first failure's kind.
struct UploadBody {
    inner: Option<StreamingBlob>,
    failure: Arc<Mutex<Option<BodyFailure>>>,
}

impl Stream for UploadBody {
    type Item = Result<Bytes, BodyReadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        match Pin::new(inner).poll_next(cx) {
            Poll::Ready(Some(Err(e))) => {
                let kind = classify(&e);
                if let Ok(mut slot) = self.failure.lock() {
                    slot.get_or_insert(kind);
                }
                Poll::Ready(Some(Err(BodyReadError(e.to_string()))))
            }
            other => other.map(|o| o.map(|r| r.map_err(|e| BodyReadError(e.to_string())))),
        }
    }
}

/// A request body and what the request says about it.
pub(crate) struct Upload<'a> {
    pub body: Option<StreamingBlob>,
    pub headers: &'a HeaderMap,
    /// The decoded length (`Content-Length`, or `x-amz-decoded-content-length` for aws-chunked).
    pub content_length: Option<i64>,
    pub trailers: Option<TrailingHeaders>,
    pub plan: &'a ChecksumPlan,
}

/// Stages a body and verifies every digest its request claims. The returned blob is
/// verified but not yet visible; commit it with `put_object` or `put_part`.
pub(crate) async fn receive(store: &Store, up: Upload<'_>) -> ApiResult<StagedBlob> {
    let limit = store.options().max_object_size;
    if let Some(len) = up.content_length {
        if len < 0 {
            return Err(ApiError::invalid_argument("Content-Length must not be negative."));
        }
        if len as u64 > limit {
            return Err(ApiError::EntityTooLarge { limit });
        }
    }
    let failure = Arc::new(Mutex::new(None));
    let body = UploadBody {
        inner: up.body,
        failure: failure.clone(),
    };
    let staged = match store.stage(body, up.plan.algorithms()).await {
        Ok(s) => s,
        Err(StoreError::IncompleteBody(m)) => {
            let kind = failure.lock().ok().and_then(|s| *s);
            return Err(match kind {
                Some(BodyFailure::ChunkSignature) => ApiError::ChunkSignatureMismatch,
                Some(BodyFailure::ContentSha256) => ApiError::ContentSha256Mismatch,
                Some(BodyFailure::Idle) => ApiError::RequestTimeout,
                _ => ApiError::Store(StoreError::IncompleteBody(m)),
            });
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(len) = up.content_length
        && staged.size() != len as u64
    {
        return Err(ApiError::IncompleteBody(format!(
            "The request said the body is {len} bytes but {} bytes arrived; retry the upload.",
            staged.size()
        )));
    }
    // The body has been read to its end: the trailers, if any, have arrived.
    let trailers = up.trailers.and_then(|t| t.take());
    let claimed = up.plan.claimed(trailers.as_ref())?;
    let digests = staged.digests();
    if let Some(md5) = checksum::content_md5(up.headers) {
        digests.check_content_md5(md5)?;
    }
    digests.check_checksums(&claimed)?;
    Ok(staged)
}

/// An object's bytes on their way out, with their exact length.
///
/// `s3s` wants a `Sync` stream; the store's is only `Send`. The mutex makes it `Sync`
/// without ever being locked: polling has `&mut self`, and `get_mut` needs no lock.
pub(crate) struct ObjectBody {
    inner: Mutex<Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>>,
    remaining: u64,
}

impl ObjectBody {
    pub(crate) fn new(stream: impl Stream<Item = std::io::Result<Bytes>> + Send + 'static, len: u64) -> Self {
        Self {
            inner: Mutex::new(Box::pin(stream)),
            remaining: len,
        }
    }

    pub(crate) fn into_blob(self) -> StreamingBlob {
        StreamingBlob::new(self)
    }
}

impl Stream for ObjectBody {
    type Item = Result<Bytes, StdError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let inner = this.inner.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner);
        match inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(b))) => {
                this.remaining = this.remaining.saturating_sub(b.len() as u64);
                Poll::Ready(Some(Ok(b)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Box::new(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, None)
    }
}

impl ByteStream for ObjectBody {
    fn remaining_length(&self) -> RemainingLength {
        usize::try_from(self.remaining).map_or_else(|_| RemainingLength::unknown(), RemainingLength::new_exact)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_body_failures() {
        let cases: [(&str, BodyFailure); 4] = [
            ("AwsChunkedStreamError: SignatureMismatch", BodyFailure::ChunkSignature),
            ("UploadStreamError: Sha256Mismatch", BodyFailure::ContentSha256),
            ("AwsChunkedStreamError: Incomplete", BodyFailure::Other),
            ("connection reset", BodyFailure::Other),
        ];
        for (msg, want) in cases {
            let e: StdError = msg.into();
            assert_eq!(classify(&e), want, "{msg}");
        }
    }
}
