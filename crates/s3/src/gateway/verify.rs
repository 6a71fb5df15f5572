//! Upload bodies on their way to the upstream, checked by keyless as they pass.
//!
//! The embedded store verifies a body before it commits it (`body::receive`); in gateway mode
//! the commit is the upstream's, and it happens when the upstream has received the last byte of
//! the declared length. So [`Verified`] streams the body through while computing every digest
//! the client claimed — `Content-MD5`, an `x-amz-checksum-*` header, an aws-chunked trailer
//! (which s3s cannot forward: it arrives after the body) — and always holds back the latest
//! chunk: the last one is released only when the body has ended and everything checked out:
//! the chunk signatures, the signed `x-amz-content-sha256`, the digests. If anything fails, the
//! upstream gets a body short of its `Content-Length`, which no S3 service commits, and the
//! client gets the failure's own error instead of the failed upstream call's.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use http::HeaderMap;
use keyless_store::Hasher;
use s3s::dto::StreamingBlob;
use s3s::stream::{ByteStream, RemainingLength};
use s3s::{S3Error, StdError, TrailingHeaders};

use crate::body::{BodyFailure, classify};
use crate::checksum::{self, ChecksumPlan};
use crate::error::ApiError;

/// Where a [`Verified`] body leaves the client's error, if it failed.
#[derive(Clone, Default)]
pub(crate) struct Verdict(Arc<Mutex<Option<ApiError>>>);

impl Verdict {
    fn fail(&self, e: ApiError) {
        if let Ok(mut slot) = self.0.lock() {
            slot.get_or_insert(e);
        }
    }

    fn take(&self) -> Option<ApiError> {
        self.0.lock().ok().and_then(|mut s| s.take())
    }

    /// The upstream call's result, unless the body failed: then the body's error (the upstream
    /// call failed because keyless cut the body short).
    pub(crate) fn judge<T>(&self, result: Result<T, S3Error>) -> Result<T, S3Error> {
        match (self.take(), result) {
            (None, r) => r,
            (Some(e), Err(_)) => Err(e.into()),
            (Some(e), Ok(_)) => {
                // Cannot happen: the upstream never had the whole body. Refuse all the same.
                tracing::error!(error = %e, "the upstream answered an upload whose body keyless refused");
                Err(e.into())
            }
        }
    }
}

/// A request body, checked on its way through (see the module docs).
struct Verified {
    // `s3s` wants a `Sync` stream; polling has `&mut self`, so the lock is never contended.
    inner: Mutex<Option<StreamingBlob>>,
    held: Option<Bytes>,
    hasher: Option<Hasher>,
    plan: ChecksumPlan,
    content_md5: Option<String>,
    trailers: Option<TrailingHeaders>,
    verdict: Verdict,
}

impl Verified {
    fn check(&mut self) -> Result<(), ApiError> {
        let Some(hasher) = self.hasher.take() else {
            return Ok(());
        };
        let digests = hasher.finish();
        let trailers = self.trailers.take().and_then(|t| t.take());
        let claimed = self.plan.claimed(trailers.as_ref())?;
        if let Some(md5) = &self.content_md5 {
            digests.check_content_md5(md5)?;
        }
        digests.check_checksums(&claimed)?;
        Ok(())
    }

    fn failed(&mut self, e: ApiError) -> Poll<Option<Result<Bytes, StdError>>> {
        let message = e.to_string();
        self.verdict.fail(e);
        self.held = None;
        *self.inner.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        Poll::Ready(Some(Err(message.into())))
    }
}

impl Stream for Verified {
    type Item = Result<Bytes, StdError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            let inner = this.inner.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner);
            let Some(body) = inner.as_mut() else {
                return Poll::Ready(None);
            };
            match Pin::new(body).poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(chunk))) => {
                    if chunk.is_empty() {
                        continue;
                    }
                    if let Some(h) = this.hasher.as_mut() {
                        h.update(&chunk);
                    }
                    if let Some(previous) = this.held.replace(chunk) {
                        return Poll::Ready(Some(Ok(previous)));
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    let err = match classify(&e) {
                        BodyFailure::ChunkSignature => ApiError::ChunkSignatureMismatch,
                        BodyFailure::ContentSha256 => ApiError::ContentSha256Mismatch,
                        BodyFailure::Idle => ApiError::RequestTimeout,
                        BodyFailure::Other => ApiError::IncompleteBody(format!(
                            "The request body could not be read to its end ({e}); retry the upload."
                        )),
                    };
                    return this.failed(err);
                }
                Poll::Ready(None) => {
                    *inner = None;
                    if let Err(e) = this.check() {
                        return this.failed(e);
                    }
                    return Poll::Ready(this.held.take().map(Ok));
                }
            }
        }
    }
}

impl ByteStream for Verified {
    fn remaining_length(&self) -> RemainingLength {
        // What is still to come from the client, plus the chunk held back: the stream is not at
        // its end while a chunk waits to be released.
        let held = self.held.as_ref().map_or(0, Bytes::len);
        let inner = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match inner.as_ref() {
            None => RemainingLength::new_exact(held),
            Some(b) => {
                let r = b.remaining_length();
                match r.exact() {
                    Some(n) => RemainingLength::new_exact(n + held),
                    None => RemainingLength::unknown(),
                }
            }
        }
    }
}

/// Wraps an upload's body for the upstream; the [`Verdict`] judges the upstream call. An empty
/// body is checked here, before the upstream call (there is no chunk to hold back).
pub(crate) async fn verified(
    body: Option<StreamingBlob>,
    headers: &HeaderMap,
    trailers: Option<TrailingHeaders>,
    content_length: Option<i64>,
) -> Result<(Option<StreamingBlob>, Verdict), S3Error> {
    let plan = ChecksumPlan::from_headers(headers, None)?;
    let content_md5 = checksum::content_md5(headers).map(str::to_owned);
    let claims = content_md5.is_some() || !plan.algorithms().is_empty();
    let verdict = Verdict::default();
    let Some(body) = body else {
        return Ok((None, verdict));
    };
    let stream = Verified {
        inner: Mutex::new(Some(body)),
        held: None,
        hasher: claims.then(|| Hasher::new(plan.algorithms())),
        plan,
        content_md5,
        trailers,
        verdict: verdict.clone(),
    };
    if content_length == Some(0) {
        let mut stream = stream;
        while let Some(item) = futures::StreamExt::next(&mut stream).await {
            if item.is_err() || item.is_ok_and(|b| !b.is_empty()) {
                // The body's own error, or more bytes than the declared zero.
                let why = verdict.take();
                return Err(why.map_or_else(|| S3Error::new(s3s::S3ErrorCode::IncompleteBody), S3Error::from));
            }
        }
        return Ok((Some(StreamingBlob::from(s3s::Body::empty())), verdict));
    }
    Ok((Some(StreamingBlob::new(stream)), verdict))
}
