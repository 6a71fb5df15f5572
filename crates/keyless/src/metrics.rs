//! The S3 front's Prometheus metrics at `GET /metrics`, written by hand in the text exposition
//! format with the webhook's helpers ([`Histogram`]). Label values are bounded: `operation` is an
//! s3s operation name, `sts:<Action>` or `other`; `status` is the numeric HTTP status code.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use crate::webhook::metrics::Histogram;

#[derive(Default)]
pub struct S3Metrics {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(String, u16), u64>,
    durations: BTreeMap<String, Histogram>,
    bytes_received: u64,
    bytes_sent: u64,
    shed_requests: u64,
    shed_connections: u64,
}

impl S3Metrics {
    /// Records one answered S3 (or STS) request.
    pub fn record(&self, operation: &str, status: u16, elapsed: Duration, received: u64, sent: u64) {
        let mut m = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        *m.requests.entry((operation.to_owned(), status)).or_default() += 1;
        m.durations.entry(operation.to_owned()).or_default().observe(elapsed);
        m.bytes_received += received;
        m.bytes_sent += sent;
    }

    /// Counts a request answered `503 SlowDown` because `limits.max_requests_in_flight` were busy.
    pub fn shed(&self) {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).shed_requests += 1;
    }

    /// Counts a connection turned away over `limits.max_connections`.
    pub fn turned_away(&self) {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).shed_connections += 1;
    }

    /// The exposition text; `commit_stats` is [`keyless_store::Store::commit_stats`].
    pub fn render(&self, commit_stats: (u64, u64)) -> String {
        let m = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::new();
        out.push_str(
            "# HELP keyless_s3_requests_total S3 and STS requests answered, by operation and HTTP status code.\n",
        );
        out.push_str("# TYPE keyless_s3_requests_total counter\n");
        for ((op, status), n) in &m.requests {
            let _ = writeln!(
                out,
                "keyless_s3_requests_total{{operation=\"{op}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str("# HELP keyless_s3_request_duration_seconds Time to answer one S3 or STS request (up to the response head), by operation.\n");
        out.push_str("# TYPE keyless_s3_request_duration_seconds histogram\n");
        for (op, h) in &m.durations {
            h.write(
                &mut out,
                "keyless_s3_request_duration_seconds",
                &format!("operation=\"{op}\","),
            );
        }
        out.push_str("# HELP keyless_s3_bytes_received_total Request body bytes received, from Content-Length.\n");
        out.push_str("# TYPE keyless_s3_bytes_received_total counter\n");
        let _ = writeln!(out, "keyless_s3_bytes_received_total {}", m.bytes_received);
        out.push_str("# HELP keyless_s3_bytes_sent_total Response body bytes sent, from Content-Length.\n");
        out.push_str("# TYPE keyless_s3_bytes_sent_total counter\n");
        let _ = writeln!(out, "keyless_s3_bytes_sent_total {}", m.bytes_sent);
        out.push_str("# HELP keyless_overload_shed_total Requests and connections answered 503 SlowDown because keyless was at its limits.\n");
        out.push_str("# TYPE keyless_overload_shed_total counter\n");
        let _ = writeln!(
            out,
            "keyless_overload_shed_total{{what=\"request\"}} {}",
            m.shed_requests
        );
        let _ = writeln!(
            out,
            "keyless_overload_shed_total{{what=\"connection\"}} {}",
            m.shed_connections
        );
        let (batches, ops) = commit_stats;
        out.push_str(
            "# HELP keyless_store_commit_batches_total Metadata write transactions committed (group commits).\n",
        );
        out.push_str("# TYPE keyless_store_commit_batches_total counter\n");
        let _ = writeln!(out, "keyless_store_commit_batches_total {batches}");
        out.push_str("# HELP keyless_store_committed_ops_total Metadata write operations committed.\n");
        out.push_str("# TYPE keyless_store_committed_ops_total counter\n");
        let _ = writeln!(out, "keyless_store_committed_ops_total {ops}");
        out
    }
}

/// Storage usage: what the store holds and the room left on its filesystem.
pub fn render_storage(out: &mut String, usage: Option<keyless_store::Usage>, fs: Option<keyless_store::space::Space>) {
    if let Some(u) = usage {
        for (name, help, v) in [
            ("keyless_store_buckets", "Buckets in the store.", u.buckets),
            ("keyless_store_objects", "Objects in the store.", u.objects),
            (
                "keyless_store_multipart_uploads",
                "Multipart uploads in progress.",
                u.uploads,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
    }
    if let Some(keyless_store::space::Space {
        total: size,
        available: avail,
        ..
    }) = fs
    {
        for (name, help, v) in [
            (
                "keyless_data_filesystem_size_bytes",
                "Size of the filesystem holding data_dir.",
                size,
            ),
            (
                "keyless_data_filesystem_available_bytes",
                "Space left for keyless on the filesystem holding data_dir.",
                avail,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
    }
}

/// The body length a message declares in `Content-Length` (0 when absent or unparsable).
pub fn content_length(headers: &http::HeaderMap) -> u64 {
    headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition() {
        let m = S3Metrics::default();
        m.record("GetObject", 200, Duration::from_millis(3), 0, 10);
        m.record("GetObject", 404, Duration::from_millis(1), 0, 5);
        let text = m.render((2, 3));
        assert!(
            text.contains("keyless_s3_requests_total{operation=\"GetObject\",status=\"200\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("keyless_s3_request_duration_seconds_bucket{operation=\"GetObject\",le=\"+Inf\"} 2\n"));
        assert!(text.contains("keyless_s3_request_duration_seconds_count{operation=\"GetObject\"} 2\n"));
        assert!(text.contains("keyless_s3_bytes_sent_total 15\n"));
        assert!(text.contains("keyless_store_commit_batches_total 2\n"));
        assert!(text.contains("keyless_store_committed_ops_total 3\n"));
    }
}
