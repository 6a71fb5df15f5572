//! The worker loop every timed phase shares.
//!
//! A phase is a [`Plan`] (which request a worker sends next) run by N workers, each with its own
//! connection, dialled before the clock starts; all start together and stop at the deadline or
//! when the plan has nothing more. A non-2xx answer or a transport failure is an error, never a
//! latency sample.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use tokio::sync::Barrier;

use crate::s3::{Req, Target};
use crate::stats::{PhaseReport, Recorder};

/// What one worker knows about itself; plans keep per-worker state here.
pub struct Worker {
    pub id: usize,
    /// Requests this worker has been handed so far.
    pub iter: u64,
    rng: u64,
    /// Keys this worker wrote, for plans that delete or read them back.
    pub keys: VecDeque<String>,
}

impl Worker {
    /// A fast, seeded xorshift: workload choices, not cryptography.
    pub fn random(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }
}

/// The requests of a phase.
pub trait Plan: Send + Sync + 'static {
    /// Names of the operation kinds `next` returns (index = kind).
    fn kinds(&self) -> &[&'static str];
    /// The next request and its kind, or `None` when this worker is done.
    fn next(&self, worker: &mut Worker) -> Option<(usize, Req)>;
}

/// Runs `plan` with `concurrency` workers until it is exhausted or `duration` has passed.
pub async fn phase(
    target: &Target,
    name: &str,
    concurrency: usize,
    duration: Option<Duration>,
    plan: Arc<dyn Plan>,
) -> Result<PhaseReport> {
    let barrier = Arc::new(Barrier::new(concurrency + 1));
    let mut tasks = Vec::with_capacity(concurrency);
    for id in 0..concurrency {
        let mut conn = target.conn();
        conn.connect().await?;
        let barrier = barrier.clone();
        let plan = plan.clone();
        tasks.push(tokio::spawn(async move {
            let mut worker = Worker {
                id,
                iter: 0,
                rng: 0x2545_F491_4F6C_DD1D ^ ((id as u64 + 1) * 0x9E37_79B9),
                keys: VecDeque::new(),
            };
            let mut recs = vec![Recorder::default(); plan.kinds().len()];
            barrier.wait().await;
            let deadline = duration.map(|d| Instant::now() + d);
            loop {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                let Some((kind, req)) = plan.next(&mut worker) else {
                    break;
                };
                worker.iter += 1;
                let what = format!("{} {}", req.method, req.path);
                let sent = req.body.len();
                let t0 = Instant::now();
                match conn.send(req, false).await {
                    Ok(reply) if reply.status.is_success() => {
                        recs[kind].ok(t0.elapsed(), sent + reply.bytes);
                    }
                    Ok(reply) => recs[kind].error(|| format!("HTTP {} on {what}", reply.status)),
                    Err(e) => {
                        recs[kind].error(|| format!("{e:#} on {what}"));
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
            recs
        }));
    }
    barrier.wait().await;
    let start = Instant::now();
    let mut merged = vec![Recorder::default(); plan.kinds().len()];
    for task in tasks {
        for (i, rec) in task.await?.into_iter().enumerate() {
            merged[i].merge(rec);
        }
    }
    let elapsed = start.elapsed();
    let report = PhaseReport::new(name, concurrency, elapsed, plan.kinds(), merged);
    eprintln!(
        "keyless-bench: {name} c={concurrency}: {} ops in {:.2}s = {:.1} ops/s, {:.1} MB/s, p50 {} ms, p99 {} ms, {} errors{}",
        report.total.ops,
        report.seconds,
        report.total.ops_per_sec,
        report.total.mb_per_sec,
        report.total.latency.p50_ms,
        report.total.latency.p99_ms,
        report.total.errors,
        report.total.first_error_note(),
    );
    Ok(report)
}

/// Hands out 0..count across workers (count-bounded phases).
pub struct Counter {
    next: std::sync::atomic::AtomicU64,
    pub count: u64,
}

impl Counter {
    pub fn new(start: u64, count: u64) -> Self {
        Self {
            next: start.into(),
            count,
        }
    }

    pub fn take(&self) -> Option<u64> {
        let i = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        (i < self.count).then_some(i)
    }
}
