//! Request bodies: empty, one buffer, or N bytes generated from a shared random block.
//!
//! A generated body hands hyper clones of one 1 MiB `Bytes` (a reference count, no copy), so a
//! 256 MiB PUT costs the client no memory traffic beyond what the socket needs.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

/// The size of the shared random block generated bodies are cut from.
pub const BLOCK: usize = 1 << 20;

/// 1 MiB of incompressible bytes (xorshift), made once per process.
pub fn random_block() -> Bytes {
    static BLOCK_BYTES: OnceLock<Bytes> = OnceLock::new();
    BLOCK_BYTES
        .get_or_init(|| {
            let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
            let mut v = Vec::with_capacity(BLOCK);
            while v.len() < BLOCK {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                v.extend_from_slice(&x.to_le_bytes());
            }
            Bytes::from(v)
        })
        .clone()
}

pub enum ReqBody {
    Empty,
    Full(Option<Bytes>),
    /// `remaining` bytes, sent as slices of the random block.
    Generated {
        remaining: u64,
        block: Bytes,
    },
}

impl ReqBody {
    pub fn generated(len: u64) -> Self {
        if len == 0 {
            Self::Empty
        } else {
            Self::Generated {
                remaining: len,
                block: random_block(),
            }
        }
    }

    pub fn len(&self) -> u64 {
        match self {
            Self::Empty => 0,
            Self::Full(b) => b.as_ref().map_or(0, |b| b.len() as u64),
            Self::Generated { remaining, .. } => *remaining,
        }
    }
}

impl Body for ReqBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        let chunk = match this {
            Self::Empty => None,
            Self::Full(b) => b.take(),
            Self::Generated { remaining, block } => {
                if *remaining == 0 {
                    None
                } else {
                    let n = (*remaining).min(block.len() as u64) as usize;
                    *remaining -= n as u64;
                    Some(block.slice(..n))
                }
            }
        };
        Poll::Ready(chunk.map(|c| Ok(Frame::data(c))))
    }

    fn is_end_stream(&self) -> bool {
        self.len() == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn a_generated_body_has_exactly_its_length() {
        for len in [0u64, 1, BLOCK as u64, BLOCK as u64 * 2 + 3] {
            let got = ReqBody::generated(len).collect().await.unwrap().to_bytes();
            assert_eq!(got.len() as u64, len);
        }
        assert_ne!(random_block()[..8], random_block()[8..16]);
    }
}
