//! A mixed workload: 45% GET, 30% HEAD (of a prefilled set of objects), 15% PUT (new keys),
//! 10% DELETE (of keys this worker PUT before, oldest first), all of `size` bytes.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use http::Method;

use super::{Ctx, Sequence};
use crate::body::ReqBody;
use crate::run::{self, Counter, Plan, Worker};
use crate::s3::{Req, object_path};
use crate::stats::PhaseReport;

pub struct Args {
    pub size: u64,
    pub duration: Duration,
    pub concurrency: Vec<usize>,
    /// Objects prefilled for GET and HEAD.
    pub objects: u64,
}

fn stable_key(i: u64) -> String {
    format!("mixed/stable-{i:05}")
}

struct Mixed {
    bucket: String,
    size: u64,
    objects: u64,
    round: usize,
}

const KINDS: [&str; 4] = ["get", "head", "put", "delete"];

impl Plan for Mixed {
    fn kinds(&self) -> &[&'static str] {
        &KINDS
    }

    fn next(&self, w: &mut Worker) -> Option<(usize, Req)> {
        let roll = w.random() % 100;
        let pick = w.random() % self.objects;
        let stable = || object_path(&self.bucket, &stable_key(pick));
        let (kind, req) = match roll {
            0..45 => (0, Req::new(Method::GET, stable())),
            45..75 => (1, Req::new(Method::HEAD, stable())),
            75..90 => {
                let key = format!("mixed/churn-r{}-w{:03}-{:08}", self.round, w.id, w.iter);
                let req = Req::new(Method::PUT, object_path(&self.bucket, &key));
                w.keys.push_back(key);
                (2, req.body(ReqBody::generated(self.size)))
            }
            _ => {
                let key = w.keys.pop_front().unwrap_or_else(|| format!("mixed/never-{:03}", w.id));
                (3, Req::new(Method::DELETE, object_path(&self.bucket, &key)))
            }
        };
        Some((kind, req))
    }
}

pub async fn run(ctx: &Ctx, args: &Args) -> Result<Vec<PhaseReport>> {
    let prefill = Sequence {
        kind: ["put"],
        method: Method::PUT,
        bucket: ctx.bucket.clone(),
        name: stable_key,
        body_len: args.size,
        counter: Counter::new(0, args.objects),
    };
    let mut out = vec![run::phase(&ctx.target, "prefill", 4, None, Arc::new(prefill)).await?];
    for (round, &c) in args.concurrency.iter().enumerate() {
        let plan = Mixed {
            bucket: ctx.bucket.clone(),
            size: args.size,
            objects: args.objects.max(1),
            round,
        };
        let report = run::phase(&ctx.target, "mixed", c, Some(args.duration), Arc::new(plan)).await?;
        out.push(report.with("object_size", args.size));
    }
    Ok(out)
}
