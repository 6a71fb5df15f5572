//! Small objects: for each concurrency, PUT for `duration`, then GET and HEAD (for `duration`
//! each) of the keys that phase wrote.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Result;
use http::Method;

use super::Ctx;
use crate::body::ReqBody;
use crate::run::{self, Plan, Worker};
use crate::s3::{Req, object_path};
use crate::stats::PhaseReport;

pub struct Args {
    pub size: u64,
    pub duration: Duration,
    pub concurrency: Vec<usize>,
}

struct Small {
    method: Method,
    kind: [&'static str; 1],
    bucket: String,
    size: u64,
    concurrency: usize,
    /// Keys each worker's PUTs were handed (the read phases cycle over them).
    written: Arc<Vec<AtomicU64>>,
}

impl Small {
    fn key(&self, worker: usize, i: u64) -> String {
        format!("small/c{}/w{worker:03}/{i:08}", self.concurrency)
    }
}

impl Plan for Small {
    fn kinds(&self) -> &[&'static str] {
        &self.kind
    }

    fn next(&self, w: &mut Worker) -> Option<(usize, Req)> {
        if self.method == Method::PUT {
            self.written[w.id].fetch_add(1, Ordering::Relaxed);
            let req = Req::new(Method::PUT, object_path(&self.bucket, &self.key(w.id, w.iter)));
            return Some((0, req.body(ReqBody::generated(self.size))));
        }
        let n = self.written[w.id].load(Ordering::Relaxed);
        if n == 0 {
            return None;
        }
        Some((
            0,
            Req::new(
                self.method.clone(),
                object_path(&self.bucket, &self.key(w.id, w.iter % n)),
            ),
        ))
    }
}

pub async fn run(ctx: &Ctx, args: &Args) -> Result<Vec<PhaseReport>> {
    let mut out = Vec::new();
    for &c in &args.concurrency {
        let written = Arc::new((0..c).map(|_| AtomicU64::new(0)).collect::<Vec<_>>());
        for (name, method) in [("put", Method::PUT), ("get", Method::GET), ("head", Method::HEAD)] {
            let plan = Small {
                method,
                kind: [name],
                bucket: ctx.bucket.clone(),
                size: args.size,
                concurrency: c,
                written: written.clone(),
            };
            let report = run::phase(&ctx.target, name, c, Some(args.duration), Arc::new(plan)).await?;
            out.push(report.with("object_size", args.size));
        }
    }
    Ok(out)
}
