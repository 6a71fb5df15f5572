//! The request body between hyper and `s3s`, and what becomes of its unread rest.
//!
//! Many answers come before the request body has been read: a `403` for a bad signature, a
//! `404` for a missing bucket or upload, a `412` for `If-None-Match: *`. hyper then reads
//! whatever of the body is already buffered and, if more is coming, closes the connection
//! after the response. A client still writing a large body gets a broken pipe instead of the
//! answer, and a client that did not learn of the close may send its next request on a
//! connection that is going away (botocore then reports a stale status).
//!
//! So, as Go's `net/http` does, [`Leftover::settle`] reads and discards up to
//! [`DRAIN_LIMIT`] bytes of an unread body before the response is sent, keeping the
//! connection usable; past the limit, or when the client is still waiting for
//! `100 Continue` (and so will never send the body), the response says `Connection: close`.
//!
//! One client bug shapes this too: botocore (boto3, awscli v1) keeps the status of a final
//! answer it got instead of `100 Continue` and applies it to its next `Expect` request on
//! the same connection, unless the connection was closed. So a request that asked for
//! `100 Continue` and was answered without one — hyper sends none for an empty body either
//! — always ends its connection.

use std::future::Future as _;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt as _;
use hyper::body::{Body as _, Frame, Incoming, SizeHint};

/// The most unread request body bytes read and discarded to keep a connection.
pub(crate) const DRAIN_LIMIT: u64 = 8 << 20;
/// The longest time spent discarding them.
pub(crate) const DRAIN_TIME: Duration = Duration::from_secs(5);

struct State {
    /// The body was declared empty (`Content-Length: 0`): hyper never sends `100 Continue`.
    empty: bool,
    /// `s3s` asked for body bytes at least once (hyper then sent any `100 Continue`).
    polled: AtomicBool,
    /// The body was read to its end.
    ended: AtomicBool,
    /// The body went quiet for the idle timeout: the connection is not worth keeping.
    idle: AtomicBool,
    /// Reading the body failed (it ended before its declared length, or the connection broke).
    broken: AtomicBool,
}

/// The request body as `s3s` reads it. It does not own the hyper body: dropping it leaves
/// the body with the [`Leftover`], so that its rest can be drained.
///
/// A body that sends nothing for `idle_timeout` fails with [`BodyIdle`] (a slow-trickle client
/// must not hold a request, its staged file and an in-flight slot for ever); the store sees a
/// failed read and the edge answers `400 RequestTimeout`.
pub(crate) struct SharedBody {
    body: Arc<Mutex<Option<Incoming>>>,
    state: Arc<State>,
    idle_timeout: Duration,
    idle: Option<Pin<Box<tokio::time::Sleep>>>,
}

/// The error of a request body that went quiet; its message is how `body::classify` knows it.
#[derive(Debug)]
pub(crate) struct BodyIdle(pub(crate) Duration);

/// What [`BodyIdle`] says; `body::classify` looks for it.
pub(crate) const BODY_IDLE_MARK: &str = "keyless: request body idle";

impl std::fmt::Display for BodyIdle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{BODY_IDLE_MARK} for {} s", self.0.as_secs())
    }
}

impl std::error::Error for BodyIdle {}

/// What remains of a request body once `s3s` has answered.
pub(crate) struct Leftover {
    body: Arc<Mutex<Option<Incoming>>>,
    state: Arc<State>,
}

pub(crate) fn share(body: Incoming, idle_timeout: Duration) -> (SharedBody, Leftover) {
    let empty = body.is_end_stream();
    let state = Arc::new(State {
        empty,
        polled: AtomicBool::new(false),
        ended: AtomicBool::new(empty),
        idle: AtomicBool::new(false),
        broken: AtomicBool::new(false),
    });
    let body = Arc::new(Mutex::new(Some(body)));
    (
        SharedBody {
            body: body.clone(),
            state: state.clone(),
            idle_timeout,
            idle: None,
        },
        Leftover { body, state },
    )
}

impl hyper::body::Body for SharedBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.state.polled.store(true, Ordering::Release);
        let r = {
            let mut guard = self.body.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let Some(body) = guard.as_mut() else {
                return Poll::Ready(None);
            };
            Pin::new(body).poll_frame(cx)
        };
        match r {
            Poll::Pending => {
                let timeout = self.idle_timeout;
                let idle = self.idle.get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                if idle.as_mut().poll(cx).is_ready() {
                    self.state.idle.store(true, Ordering::Release);
                    return Poll::Ready(Some(Err(Box::new(BodyIdle(timeout)))));
                }
                Poll::Pending
            }
            Poll::Ready(r) => {
                self.idle = None;
                match &r {
                    None => self.state.ended.store(true, Ordering::Release),
                    Some(Err(_)) => self.state.broken.store(true, Ordering::Release),
                    Some(Ok(_)) => {}
                }
                Poll::Ready(r.map(|f| f.map_err(Into::into)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body
            .lock()
            .map_or(true, |g| g.as_ref().is_none_or(|b| b.is_end_stream()))
    }

    fn size_hint(&self) -> SizeHint {
        self.body
            .lock()
            .ok()
            .and_then(|g| g.as_ref().map(|b| b.size_hint()))
            .unwrap_or_default()
    }
}

impl Leftover {
    /// Whether reading the body failed (ended early, or the connection broke).
    pub(crate) fn broken(&self) -> bool {
        self.state.broken.load(Ordering::Acquire)
    }

    /// Disposes of the unread rest of the body. Returns whether the connection can carry
    /// another request; if not, the response must say `Connection: close`.
    pub(crate) async fn settle(self, expect_continue: bool) -> bool {
        // No `100 Continue` was sent: the client will not send the body, and botocore would
        // misread its next response on this connection.
        if expect_continue && (self.state.empty || !self.state.polled.load(Ordering::Acquire)) {
            return false;
        }
        if self.state.ended.load(Ordering::Acquire) {
            return true;
        }
        if self.state.idle.load(Ordering::Acquire) {
            return false;
        }
        let Some(mut body) = self.body.lock().ok().and_then(|mut g| g.take()) else {
            return false;
        };
        let drain = async {
            let mut read: u64 = 0;
            while let Some(frame) = body.frame().await {
                let Ok(frame) = frame else { return false };
                if let Some(data) = frame.data_ref() {
                    read += data.len() as u64;
                    if read > DRAIN_LIMIT {
                        return false;
                    }
                }
            }
            true
        };
        tokio::time::timeout(DRAIN_TIME, drain).await.unwrap_or(false)
    }
}
