//! The scenarios: each builds its plans, runs its phases and returns their reports.

pub mod disk;
pub mod large;
pub mod list;
pub mod mixed;
pub mod small;
pub mod sts;

use http::Method;

use crate::body::ReqBody;
use crate::run::{Counter, Plan, Worker};
use crate::s3::{Req, Target, object_path};

/// What every S3 scenario works on.
pub struct Ctx {
    pub target: Target,
    pub bucket: String,
}

/// One request per index `0..count`, spread over the workers: `method` on key `name(i)`, with a
/// generated body of `body_len` bytes for a PUT.
pub struct Sequence<F: Fn(u64) -> String + Send + Sync + 'static> {
    pub kind: [&'static str; 1],
    pub method: Method,
    pub bucket: String,
    pub name: F,
    pub body_len: u64,
    pub counter: Counter,
}

impl<F: Fn(u64) -> String + Send + Sync + 'static> Plan for Sequence<F> {
    fn kinds(&self) -> &[&'static str] {
        &self.kind
    }

    fn next(&self, _w: &mut Worker) -> Option<(usize, Req)> {
        let i = self.counter.take()?;
        let mut req = Req::new(self.method.clone(), object_path(&self.bucket, &(self.name)(i)));
        if self.method == Method::PUT {
            req = req.body(ReqBody::generated(self.body_len));
        }
        Some((0, req))
    }
}
