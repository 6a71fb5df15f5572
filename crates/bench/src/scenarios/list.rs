//! Listings on a growing bucket: prefill it to each size in turn (parallel PUTs of tiny objects
//! named `dir-%04d/obj-%06d`, 100 per directory; the prefill is timed too), then time a
//! `max-keys` page from the start, a page deep inside (`start-after` the middle key) and a
//! delimiter listing (`delimiter=/`, the directories). Every page's length is checked.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;
use http::Method;

use super::{Ctx, Sequence};
use crate::creds::count_elements;
use crate::run::{self, Counter};
use crate::s3::Req;
use crate::stats::{PhaseReport, Recorder};

pub struct Args {
    /// Bucket sizes, ascending; the bucket grows from one to the next.
    pub keys: Vec<u64>,
    pub page: u64,
    pub repeat: u32,
    pub prefill_concurrency: usize,
    pub object_size: u64,
    /// The bucket already holds the first size's keys.
    pub skip_prefill: bool,
}

pub const PER_DIR: u64 = 100;

/// A timed listing: name, extra query parameters, the element counted, how many are expected.
type ListCase = (&'static str, Vec<(&'static str, String)>, &'static str, u64);

pub fn key(i: u64) -> String {
    format!("dir-{:04}/obj-{i:06}", i / PER_DIR)
}

pub async fn run(ctx: &Ctx, args: &Args) -> Result<Vec<PhaseReport>> {
    let mut out = Vec::new();
    let mut have = 0;
    for (n, &keys) in args.keys.iter().enumerate() {
        if !(args.skip_prefill && n == 0) && keys > have {
            let plan = Sequence {
                kind: ["put"],
                method: Method::PUT,
                bucket: ctx.bucket.clone(),
                name: key,
                body_len: args.object_size,
                counter: Counter::new(have, keys),
            };
            let report = run::phase(&ctx.target, "prefill", args.prefill_concurrency, None, Arc::new(plan)).await?;
            out.push(report.with("keys", keys).with("added", keys - have));
        }
        have = keys;
        let dirs = keys.div_ceil(PER_DIR);
        let middle = key(keys / 2);
        let cases: [ListCase; 3] = [
            ("list-first-page", vec![], "Contents", args.page.min(keys)),
            (
                "list-deep-page",
                vec![("start-after", middle)],
                "Contents",
                args.page.min(keys - keys / 2 - 1),
            ),
            (
                "list-delimiter",
                vec![("delimiter", "/".into())],
                "CommonPrefixes",
                args.page.min(dirs),
            ),
        ];
        for (name, params, element, expected) in cases {
            let mut conn = ctx.target.conn();
            conn.connect().await?;
            let mut rec = Recorder::default();
            let start = Instant::now();
            for _ in 0..args.repeat {
                let mut req = Req::new(Method::GET, format!("/{}", ctx.bucket))
                    .query("list-type", "2")
                    .query("max-keys", args.page.to_string());
                for (k, v) in &params {
                    req = req.query(k, v.clone());
                }
                let t0 = Instant::now();
                match conn.send(req, true).await {
                    Ok(reply) if reply.status.is_success() => {
                        let elapsed = t0.elapsed();
                        let got = count_elements(&reply.text(), element) as u64;
                        if got == expected {
                            rec.ok(elapsed, reply.bytes);
                        } else {
                            rec.error(|| format!("{name}: {got} <{element}> elements, expected {expected}"));
                        }
                    }
                    Ok(reply) => rec.error(|| format!("{name}: HTTP {}: {}", reply.status, reply.text())),
                    Err(e) => rec.error(|| format!("{name}: {e:#}")),
                }
            }
            let report = PhaseReport::new(name, 1, start.elapsed(), &[name], vec![rec])
                .with("keys", keys)
                .with("page_entries", expected);
            eprintln!(
                "keyless-bench: {name} @{keys} keys: p50 {} ms, p99 {} ms, {} errors{}",
                report.total.latency.p50_ms,
                report.total.latency.p99_ms,
                report.total.errors,
                report.total.first_error_note()
            );
            out.push(report);
        }
    }
    Ok(out)
}
