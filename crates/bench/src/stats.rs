//! Counting what a phase did: per-request latencies (every sample kept, sorted once at the end —
//! exact percentiles, and a phase makes at most a few hundred thousand requests), operations,
//! errors and bytes, per kind of operation.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

/// What one worker saw for one kind of operation.
#[derive(Default, Clone)]
pub struct Recorder {
    pub lat_ns: Vec<u64>,
    pub ops: u64,
    pub errors: u64,
    pub bytes: u64,
    pub first_error: Option<String>,
}

impl Recorder {
    pub fn ok(&mut self, latency: Duration, bytes: u64) {
        self.ops += 1;
        self.bytes += bytes;
        self.lat_ns.push(latency.as_nanos() as u64);
    }

    pub fn error(&mut self, what: impl FnOnce() -> String) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(what());
        }
    }

    pub fn merge(&mut self, other: Recorder) {
        self.lat_ns.extend(other.lat_ns);
        self.ops += other.ops;
        self.errors += other.errors;
        self.bytes += other.bytes;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

/// Latency percentiles in milliseconds.
#[derive(Serialize, Clone, Debug, Default)]
pub struct Latency {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

impl Latency {
    pub fn of(samples: &mut [u64]) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        samples.sort_unstable();
        // Nearest rank: the smallest sample with at least q of all samples at or below it.
        let at = |q: f64| {
            let rank = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
            ms(samples[rank - 1])
        };
        let mean = samples.iter().map(|&s| s as f64).sum::<f64>() / samples.len() as f64;
        Self {
            p50_ms: at(0.50),
            p90_ms: at(0.90),
            p99_ms: at(0.99),
            p999_ms: at(0.999),
            max_ms: ms(*samples.last().expect("not empty")),
            mean_ms: round3(mean / 1e6),
        }
    }
}

fn ms(ns: u64) -> f64 {
    round3(ns as f64 / 1e6)
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// One operation kind's figures within a phase.
#[derive(Serialize, Clone, Debug)]
pub struct OpReport {
    pub ops: u64,
    pub errors: u64,
    pub ops_per_sec: f64,
    pub bytes: u64,
    pub mb_per_sec: f64,
    pub latency: Latency,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
}

impl OpReport {
    /// ` (first: ERROR)` for a progress line, or nothing when no request failed.
    pub fn first_error_note(&self) -> String {
        self.first_error
            .as_deref()
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default()
    }

    pub fn of(mut rec: Recorder, elapsed: Duration) -> Self {
        let secs = elapsed.as_secs_f64().max(1e-9);
        Self {
            ops: rec.ops,
            errors: rec.errors,
            ops_per_sec: round3(rec.ops as f64 / secs),
            bytes: rec.bytes,
            mb_per_sec: round3(rec.bytes as f64 / 1e6 / secs),
            latency: Latency::of(&mut rec.lat_ns),
            first_error: rec.first_error,
        }
    }
}

/// One timed phase: e.g. "put" at concurrency 16.
#[derive(Serialize, Clone, Debug)]
pub struct PhaseReport {
    pub name: String,
    pub concurrency: usize,
    pub seconds: f64,
    #[serde(flatten)]
    pub total: OpReport,
    /// Per operation kind, for phases that mix several.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub by_op: BTreeMap<String, OpReport>,
    /// Scenario-specific facts (bucket size of a listing, object size, ...).
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl PhaseReport {
    /// `per_kind[i]` holds kind `kinds[i]`'s merged recorder.
    pub fn new(name: &str, concurrency: usize, elapsed: Duration, kinds: &[&str], per_kind: Vec<Recorder>) -> Self {
        let mut total = Recorder::default();
        let mut by_op = BTreeMap::new();
        for (i, rec) in per_kind.into_iter().enumerate() {
            if kinds.len() > 1 {
                by_op.insert(kinds[i].to_owned(), OpReport::of(rec.clone(), elapsed));
            }
            total.merge(rec);
        }
        Self {
            name: name.to_owned(),
            concurrency,
            seconds: round3(elapsed.as_secs_f64()),
            total: OpReport::of(total, elapsed),
            by_op,
            extra: serde_json::Map::new(),
        }
    }

    pub fn with(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.extra.insert(key.to_owned(), value.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut v: Vec<u64> = (1..=1000).rev().map(|i| i * 1_000_000).collect();
        let l = Latency::of(&mut v);
        assert_eq!(
            (l.p50_ms, l.p90_ms, l.p99_ms, l.p999_ms, l.max_ms),
            (500.0, 900.0, 990.0, 999.0, 1000.0)
        );
        assert_eq!(l.mean_ms, 500.5);
        let one = Latency::of(&mut [2_500_000]);
        assert_eq!((one.p50_ms, one.p999_ms), (2.5, 2.5));
        assert_eq!(Latency::of(&mut []).p99_ms, 0.0);
    }

    #[test]
    fn a_phase_adds_up_its_kinds() {
        let mut get = Recorder::default();
        get.ok(Duration::from_millis(1), 100);
        let mut put = Recorder::default();
        put.ok(Duration::from_millis(3), 50);
        put.error(|| "HTTP 500".into());
        let p = PhaseReport::new("mixed", 2, Duration::from_secs(2), &["get", "put"], vec![get, put]);
        assert_eq!((p.total.ops, p.total.errors, p.total.bytes), (2, 1, 150));
        assert_eq!(p.total.ops_per_sec, 1.0);
        assert_eq!(p.by_op["put"].first_error.as_deref(), Some("HTTP 500"));
    }
}
