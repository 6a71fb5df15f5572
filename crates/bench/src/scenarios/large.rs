//! Large objects: PUT then GET of `count` objects of `size` bytes at each concurrency. Bodies are
//! generated; GET reads and counts every byte, then drops it.

use std::sync::Arc;

use anyhow::Result;
use http::Method;

use super::{Ctx, Sequence};
use crate::run::{self, Counter};
use crate::stats::PhaseReport;

pub struct Args {
    pub size: u64,
    pub count: u64,
    pub concurrency: Vec<usize>,
    /// Only GET (the objects exist: an earlier run, or files nginx serves).
    pub get_only: bool,
    pub put_only: bool,
}

pub fn key(i: u64) -> String {
    format!("large-{i:05}")
}

pub async fn run(ctx: &Ctx, args: &Args) -> Result<Vec<PhaseReport>> {
    let mut out = Vec::new();
    for &c in &args.concurrency {
        for (name, method) in [("put", Method::PUT), ("get", Method::GET)] {
            if (method == Method::PUT && args.get_only) || (method == Method::GET && args.put_only) {
                continue;
            }
            let plan = Sequence {
                kind: [name],
                method,
                bucket: ctx.bucket.clone(),
                name: key,
                body_len: args.size,
                counter: Counter::new(0, args.count),
            };
            let report = run::phase(&ctx.target, name, c, None, Arc::new(plan)).await?;
            out.push(report.with("object_size", args.size));
        }
    }
    Ok(out)
}
