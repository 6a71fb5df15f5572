//! What keyless tells its operators about each request, beyond the request metrics: the audit
//! stream (one JSON record per request: who, what, the decision and its reason), the latest
//! decisions for the status view, and the decision counters for `/metrics`.
//!
//! The audit record is built from [`keyless_s3::Audit`] (the facts the S3 front gathered while
//! serving) plus what the server knows (peer, status, bytes, time). It never holds a token, a
//! secret or a signature: the front's facts have none, and nothing here reads a header.
//!
//! Records go to a writer thread through a bounded queue, so a slow disk or a blocked stdout
//! never holds up a request; when the queue is full the record is dropped and counted
//! (`keyless_audit_records_dropped_total`), and a warning is logged once.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, SystemTime};

use keyless_s3::{Audit, Principal};
use serde_json::{Value, json};

use crate::config::AuditTarget;

/// How many audit records may wait for the writer.
const AUDIT_QUEUE: usize = 16 * 1024;
/// How many decisions the status view keeps.
const RECENT: usize = 200;

/// One answered request, as the server saw it.
pub struct Served<'a> {
    pub audit: &'a Audit,
    pub status: u16,
    pub peer: Option<IpAddr>,
    pub elapsed: Duration,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub request_id: Option<&'a str>,
}

#[derive(Default)]
pub struct Observer {
    audit: Option<AuditSink>,
    recent: Mutex<VecDeque<Value>>,
    /// (action, outcome, reason code) → count, for STS.
    sts: Mutex<BTreeMap<(String, &'static str, String), u64>>,
    /// operation → count of S3 requests refused by an access decision.
    s3_denied: Mutex<BTreeMap<String, u64>>,
}

impl Observer {
    pub fn new(target: &AuditTarget) -> anyhow::Result<Self> {
        Ok(Self {
            audit: AuditSink::start(target)?,
            ..Self::default()
        })
    }

    /// Records one answered request: audit stream, counters, and (decisions only) the recent list.
    pub fn served(&self, s: &Served<'_>) {
        let a = s.audit;
        let outcome = a
            .decision
            .as_ref()
            .map(|d| if d.allowed { "allowed" } else { "denied" });
        let (principal_type, who) = principal_json(&a.principal);
        let record = json!({
            "time": rfc3339(SystemTime::now()),
            "kind": if a.sts { "sts" } else { "s3" },
            "operation": a.operation,
            "bucket": a.bucket,
            "key": a.key,
            "status": s.status,
            "error_code": a.error_code,
            "decision": outcome,
            "reason": a.decision.as_ref().map(|d| d.reason.as_str()),
            "principal": principal_type,
            "identity": who,
            "remote_addr": s.peer.map(|p| p.to_string()),
            "request_id": s.request_id,
            "bytes_in": s.bytes_in,
            "bytes_out": s.bytes_out,
            "duration_ms": (s.elapsed.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
        });
        if a.sts && a.operation.starts_with("sts:") && a.operation != "sts:other" {
            let action = a.operation.trim_start_matches("sts:").to_owned();
            let reason = match (&a.error_code, outcome) {
                (Some(code), _) => code.clone(),
                (None, Some("allowed")) => "ok".to_owned(),
                _ => "none".to_owned(),
            };
            let outcome = if s.status < 400 { "allowed" } else { "refused" };
            *lock(&self.sts).entry((action, outcome, reason)).or_default() += 1;
        } else if !a.sts && outcome == Some("denied") {
            *lock(&self.s3_denied).entry(a.operation.clone()).or_default() += 1;
        }
        // The status view keeps every STS decision and every denial.
        let keep = (a.sts && a.operation == "sts:AssumeRoleWithWebIdentity") || outcome == Some("denied");
        if keep {
            let mut recent = lock(&self.recent);
            if recent.len() == RECENT {
                recent.pop_back();
            }
            recent.push_front(record.clone());
        }
        if let Some(sink) = &self.audit {
            sink.send(record);
        }
    }

    /// The latest decisions, newest first; `filter` picks the ones a viewer may see.
    pub fn recent(&self, filter: impl Fn(&Value) -> bool) -> Vec<Value> {
        lock(&self.recent).iter().filter(|r| filter(r)).cloned().collect()
    }

    /// Asks the audit writer to reopen its file (log rotation, on SIGHUP).
    pub fn reopen_audit(&self) {
        if let Some(sink) = &self.audit {
            sink.reopen();
        }
    }

    /// The decision counters in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        out.push_str("# HELP keyless_sts_decisions_total STS decisions, by action, outcome and reason (the STS error code, or ok).\n");
        out.push_str("# TYPE keyless_sts_decisions_total counter\n");
        for ((action, outcome, reason), n) in lock(&self.sts).iter() {
            let _ = writeln!(
                out,
                "keyless_sts_decisions_total{{action=\"{action}\",outcome=\"{outcome}\",reason=\"{reason}\"}} {n}"
            );
        }
        out.push_str("# HELP keyless_s3_access_denied_total S3 requests refused by an access decision (policy, session or anonymous), by operation.\n");
        out.push_str("# TYPE keyless_s3_access_denied_total counter\n");
        for (op, n) in lock(&self.s3_denied).iter() {
            let _ = writeln!(out, "keyless_s3_access_denied_total{{operation=\"{op}\"}} {n}");
        }
        let (written, dropped) = self.audit.as_ref().map_or((0, 0), |a| {
            (a.written.load(Ordering::Relaxed), a.dropped.load(Ordering::Relaxed))
        });
        out.push_str("# HELP keyless_audit_records_total Audit records written.\n");
        out.push_str("# TYPE keyless_audit_records_total counter\n");
        let _ = writeln!(out, "keyless_audit_records_total {written}");
        out.push_str(
            "# HELP keyless_audit_records_dropped_total Audit records dropped because the writer fell behind.\n",
        );
        out.push_str("# TYPE keyless_audit_records_dropped_total counter\n");
        let _ = writeln!(out, "keyless_audit_records_dropped_total {dropped}");
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn rfc3339(t: SystemTime) -> String {
    time::OffsetDateTime::from(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The principal's type and its identifying facts (never a secret: an access key id is not one).
fn principal_json(p: &Principal) -> (&'static str, Value) {
    match p {
        Principal::Anonymous => ("anonymous", Value::Null),
        Principal::Root { access_key } => ("root", json!({ "access_key": access_key })),
        Principal::Session {
            access_key,
            role,
            session_name,
            subject,
            issuer,
            ..
        } => (
            "session",
            json!({ "access_key": access_key, "role": role, "session_name": session_name,
                    "subject": subject, "issuer": issuer }),
        ),
        Principal::WebIdentity {
            role,
            session_name,
            subject,
            issuer,
        } => (
            "web_identity",
            json!({ "role": role, "session_name": session_name, "subject": subject, "issuer": issuer }),
        ),
    }
}

enum Msg {
    Record(Value),
    Reopen,
}

/// The audit writer: a thread that owns the output.
struct AuditSink {
    tx: SyncSender<Msg>,
    written: std::sync::Arc<AtomicU64>,
    dropped: AtomicU64,
    warned: AtomicBool,
}

impl AuditSink {
    fn start(target: &AuditTarget) -> anyhow::Result<Option<Self>> {
        let out = match target {
            AuditTarget::Off => return Ok(None),
            AuditTarget::Stdout => Output::Stdout,
            AuditTarget::Stderr => Output::Stderr,
            AuditTarget::File(path) => Output::File(path.clone(), open_append(path)?),
        };
        let (tx, rx) = sync_channel(AUDIT_QUEUE);
        let written = std::sync::Arc::new(AtomicU64::new(0));
        let counter = written.clone();
        std::thread::Builder::new()
            .name("keyless-audit".into())
            .spawn(move || write_loop(rx, out, &counter))?;
        Ok(Some(Self {
            tx,
            written,
            dropped: AtomicU64::new(0),
            warned: AtomicBool::new(false),
        }))
    }

    fn send(&self, record: Value) {
        if let Err(TrySendError::Full(_)) = self.tx.try_send(Msg::Record(record)) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            if !self.warned.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    "the audit writer cannot keep up; dropping audit records (counted in keyless_audit_records_dropped_total)"
                );
            }
        }
    }

    fn reopen(&self) {
        let _ = self.tx.try_send(Msg::Reopen);
    }
}

enum Output {
    Stdout,
    Stderr,
    File(PathBuf, std::fs::File),
}

fn open_append(path: &PathBuf) -> anyhow::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| {
            anyhow::anyhow!(
                "config field \"log.audit\": cannot open \"{}\" for appending: {e}",
                path.display()
            )
        })
}

fn write_loop(rx: Receiver<Msg>, mut out: Output, written: &AtomicU64) {
    let mut buf = Vec::with_capacity(64 << 10);
    while let Ok(first) = rx.recv() {
        // Write what has queued up in one go.
        let mut reopen = false;
        for msg in std::iter::once(first).chain(rx.try_iter().take(4096)) {
            match msg {
                Msg::Record(v) => {
                    let _ = serde_json::to_writer(&mut buf, &v);
                    buf.push(b'\n');
                    written.fetch_add(1, Ordering::Relaxed);
                }
                Msg::Reopen => reopen = true,
            }
        }
        let result = match &mut out {
            Output::Stdout => std::io::stdout()
                .lock()
                .write_all(&buf)
                .and_then(|()| std::io::stdout().flush()),
            Output::Stderr => std::io::stderr().lock().write_all(&buf),
            Output::File(_, f) => f.write_all(&buf),
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "cannot write audit records");
        }
        buf.clear();
        if reopen && let Output::File(path, f) = &mut out {
            match open_append(path) {
                Ok(new) => {
                    *f = new;
                    tracing::info!(file = %path.display(), "audit log reopened");
                }
                Err(e) => tracing::warn!(error = %e, "cannot reopen the audit log; still writing to the old file"),
            }
        }
    }
}
