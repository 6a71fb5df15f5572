//! The webhook's Prometheus metrics, written by hand in the text exposition format. Label values
//! are bounded: `outcome` is one of [`MutationOutcome::label`](keyless_webhook::MutationOutcome::label).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the request duration histograms, in seconds (shared with the S3 metrics).
pub(crate) const BUCKETS: [f64; 11] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

#[derive(Default)]
pub struct Metrics {
    admissions: Mutex<BTreeMap<&'static str, u64>>,
    lookup_failures: AtomicU64,
    durations: Mutex<Histogram>,
}

/// A fixed-bucket histogram; `counts[i]` is cumulative (observations `<= BUCKETS[i]`).
#[derive(Default, Clone)]
pub(crate) struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    pub(crate) fn observe(&mut self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                self.counts[i] += 1;
            }
        }
        self.count += 1;
        self.sum += secs;
    }

    /// Writes the `_bucket`, `_sum` and `_count` samples of metric `name`; `labels` is empty or
    /// `key="value",` pairs each followed by a comma.
    pub(crate) fn write(&self, out: &mut String, name: &str, labels: &str) {
        for (bound, n) in BUCKETS.iter().zip(self.counts.iter()) {
            let _ = writeln!(out, "{name}_bucket{{{labels}le=\"{bound}\"}} {n}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels}le=\"+Inf\"}} {}", self.count);
        let labels = labels.trim_end_matches(',');
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

impl Metrics {
    pub fn admission(&self, outcome: &'static str) {
        *self
            .admissions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(outcome)
            .or_default() += 1;
    }

    pub fn lookup_failure(&self) {
        self.lookup_failures.fetch_add(1, Ordering::Relaxed);
    }

    pub fn observe(&self, elapsed: Duration) {
        self.durations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .observe(elapsed);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP keyless_webhook_admissions_total Admission requests answered, by outcome.\n");
        out.push_str("# TYPE keyless_webhook_admissions_total counter\n");
        for (outcome, n) in self.admissions.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = writeln!(out, "keyless_webhook_admissions_total{{outcome=\"{outcome}\"}} {n}");
        }
        out.push_str(
            "# HELP keyless_webhook_lookup_failures_total ServiceAccounts that could not be read (missing or API unreachable).\n",
        );
        out.push_str("# TYPE keyless_webhook_lookup_failures_total counter\n");
        let _ = writeln!(
            out,
            "keyless_webhook_lookup_failures_total {}",
            self.lookup_failures.load(Ordering::Relaxed)
        );
        out.push_str("# HELP keyless_webhook_request_duration_seconds Time to answer one /mutate request.\n");
        out.push_str("# TYPE keyless_webhook_request_duration_seconds histogram\n");
        self.durations.lock().unwrap_or_else(|e| e.into_inner()).write(
            &mut out,
            "keyless_webhook_request_duration_seconds",
            "",
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition() {
        let m = Metrics::default();
        m.admission("mutated");
        m.admission("mutated");
        m.admission("skipped_no_role");
        m.lookup_failure();
        m.observe(Duration::from_millis(3));
        let text = m.render();
        assert!(
            text.contains("keyless_webhook_admissions_total{outcome=\"mutated\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("keyless_webhook_admissions_total{outcome=\"skipped_no_role\"} 1\n"));
        assert!(text.contains("keyless_webhook_lookup_failures_total 1\n"));
        assert!(text.contains("keyless_webhook_request_duration_seconds_bucket{le=\"0.0025\"} 0\n"));
        assert!(text.contains("keyless_webhook_request_duration_seconds_bucket{le=\"0.005\"} 1\n"));
        assert!(text.contains("keyless_webhook_request_duration_seconds_count 1\n"));
    }
}
