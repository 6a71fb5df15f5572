//! The part of the configuration that changes while keyless runs — issuers, roles and their
//! policies, the session keys — and live reload: on SIGHUP, and when the config file's content
//! changes (checked every `reload_interval_secs`), the whole configuration is loaded again
//! exactly as at start-up (flags > env > file) and validated; only if it is valid, and its
//! issuers could be set up, is the new identity put in force (one atomic swap of the
//! [`IdentityHandle`]: requests in flight finish with the identity they started with). A config
//! that does not validate is refused with the same error `keyless serve` would print, logged,
//! counted, shown by the status view — and the running one stays.
//!
//! Settings that need a restart (listen, data_dir, tls, root, limits, region, domains, log) are
//! compared, and a change is logged as such; they keep their start-up values.
//!
//! [`Live`] also answers `GET /?x-keyless=status` ([`keyless_s3::StatusSource`]): root sees the
//! issuers, roles, reload state and every recent decision; a session sees who it is and its own
//! recent decisions.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use keyless_idp::Refreshers;
use keyless_s3::{IdentityHandle, Principal, StatusSource};
use serde_json::{Value, json};

use crate::config::identity::RoleView;
use crate::config::{Config, ConfigError};
use crate::observe::{Observer, rfc3339};

pub type Loader = Box<dyn Fn() -> Result<Config, ConfigError> + Send + Sync>;

pub struct Live {
    pub handle: IdentityHandle,
    observer: Arc<Observer>,
    loader: Loader,
    /// The configuration as started (what a restart-only change is compared with).
    started: Config,
    /// The quick-start runs with an identity of its own while the config has none.
    quickstart: bool,
    state: Mutex<State>,
}

struct State {
    role_views: Vec<RoleView>,
    account_id: Option<String>,
    refreshers: Option<Refreshers>,
    last: Option<SystemTime>,
    last_error: Option<String>,
    successes: u64,
    failures: u64,
    last_success: Option<SystemTime>,
}

impl Live {
    pub fn new(
        handle: IdentityHandle,
        observer: Arc<Observer>,
        loader: Loader,
        started: Config,
        identity: Option<(&crate::config::identity::IdentityConfig, Refreshers)>,
        quickstart: bool,
    ) -> Self {
        let (role_views, account_id, refreshers) = match identity {
            Some((id, r)) => (id.role_views.clone(), Some(id.account_id.clone()), Some(r)),
            None => (Vec::new(), None, None),
        };
        Self {
            handle,
            observer,
            loader,
            started,
            quickstart,
            state: Mutex::new(State {
                role_views,
                account_id,
                refreshers,
                last: None,
                last_error: None,
                successes: 0,
                failures: 0,
                last_success: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Loads the configuration again and, if it is good, puts its identity in force.
    pub async fn reload(&self, why: &str) -> Result<(), String> {
        let result = self.try_reload().await;
        let mut st = self.lock();
        st.last = Some(SystemTime::now());
        match &result {
            Ok(()) => {
                st.successes += 1;
                st.last_success = st.last;
                st.last_error = None;
                tracing::info!(trigger = why, "configuration reloaded");
            }
            Err(e) => {
                st.failures += 1;
                st.last_error = Some(e.clone());
                tracing::error!(trigger = why, error = %e, "configuration reload refused; the running configuration stays");
            }
        }
        result
    }

    async fn try_reload(&self) -> Result<(), String> {
        let config = (self.loader)().map_err(|e| e.to_string())?;
        self.note_restart_only_changes(&config);
        let Some(id) = &config.identity else {
            if self.quickstart {
                tracing::info!("the config has no identity: section; the quick-start identity stays");
                return Ok(());
            }
            self.handle.replace(None);
            let mut st = self.lock();
            st.role_views.clear();
            st.account_id = None;
            st.refreshers = None;
            tracing::info!("no identity: section any more: STS is off, temporary credentials are refused");
            return Ok(());
        };
        let (identity, refreshers) = crate::identity::build(id, &self.started.data_dir)
            .await
            .map_err(|e| format!("{e:#}"))?;
        self.handle.replace(Some(identity));
        let mut st = self.lock();
        st.role_views = id.role_views.clone();
        st.account_id = Some(id.account_id.clone());
        // The old refreshers stop when dropped.
        st.refreshers = Some(refreshers);
        Ok(())
    }

    fn note_restart_only_changes(&self, new: &Config) {
        let old = &self.started;
        let changed: Vec<&str> = [
            ("listen", old.listen != new.listen),
            ("data_dir", old.data_dir != new.data_dir),
            ("tls", old.tls != new.tls),
            (
                "root",
                old.root.as_ref().map(|r| &r.access_key) != new.root.as_ref().map(|r| &r.access_key),
            ),
            ("limits", old.limits != new.limits),
            ("region/domains", old.s3 != new.s3),
            ("log", old.log != new.log),
        ]
        .into_iter()
        .filter_map(|(name, c)| c.then_some(name))
        .collect();
        if !changed.is_empty() {
            tracing::warn!(settings = ?changed, "these settings changed in the config but take effect only after a restart");
        }
    }

    /// Reloads on SIGHUP (and reopens the audit file) and when the config file's content changes.
    pub fn spawn_watchers(self: &Arc<Self>, file: Option<PathBuf>, interval: Option<Duration>) -> anyhow::Result<()> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let mut hup =
                signal(SignalKind::hangup()).map_err(|e| anyhow::anyhow!("cannot install the SIGHUP handler: {e}"))?;
            let live = self.clone();
            tokio::spawn(async move {
                while hup.recv().await.is_some() {
                    tracing::info!("received SIGHUP: reloading the configuration, reopening the audit log");
                    live.observer.reopen_audit();
                    let _ = live.reload("SIGHUP").await;
                }
            });
        }
        if let (Some(file), Some(interval)) = (file, interval) {
            let live = self.clone();
            tokio::spawn(async move {
                let mut seen = tokio::fs::read(&file).await.ok();
                let mut tick = tokio::time::interval(interval);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    let now = tokio::fs::read(&file).await.ok();
                    if now != seen {
                        seen = now;
                        let _ = live.reload("config file changed").await;
                    }
                }
            });
        }
        Ok(())
    }

    /// Identity and reload metrics in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        let st = self.lock();
        out.push_str("# HELP keyless_config_reloads_total Configuration reloads, by result.\n");
        out.push_str("# TYPE keyless_config_reloads_total counter\n");
        let _ = writeln!(
            out,
            "keyless_config_reloads_total{{result=\"success\"}} {}",
            st.successes
        );
        let _ = writeln!(
            out,
            "keyless_config_reloads_total{{result=\"failure\"}} {}",
            st.failures
        );
        out.push_str(
            "# HELP keyless_config_last_reload_successful Whether the last reload was applied (1) or refused (0).\n",
        );
        out.push_str("# TYPE keyless_config_last_reload_successful gauge\n");
        let _ = writeln!(
            out,
            "keyless_config_last_reload_successful {}",
            u8::from(st.last_error.is_none())
        );
        drop(st);
        let Some(id) = self.handle.current() else { return };
        let statuses = id.cache.status();
        let gauge = |out: &mut String,
                     name: &str,
                     kind: &str,
                     help: &str,
                     value: &dyn Fn(&keyless_idp::IssuerStatus) -> Option<f64>| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for s in &statuses {
                if let Some(v) = value(s) {
                    let _ = writeln!(out, "{name}{{issuer=\"{}\"}} {v}", label(&s.issuer));
                }
            }
        };
        gauge(
            out,
            "keyless_issuer_keys",
            "gauge",
            "Signing keys known for the issuer.",
            &|s| Some(s.key_count as f64),
        );
        gauge(
            out,
            "keyless_issuer_keys_age_seconds",
            "gauge",
            "Time since the issuer's keys were last confirmed current (a good fetch or file read).",
            &|s| s.keys_age.map(|d| d.as_secs_f64()),
        );
        gauge(
            out,
            "keyless_issuer_up",
            "gauge",
            "1 when the last fetch of the issuer's keys succeeded.",
            &|s| {
                Some(if s.last_error.is_none() && s.last_success.is_some() {
                    1.0
                } else {
                    0.0
                })
            },
        );
        gauge(
            out,
            "keyless_issuer_key_fetches_total",
            "counter",
            "Fetches (or file reads) of the issuer's keys.",
            &|s| Some(s.fetches as f64),
        );
        gauge(
            out,
            "keyless_issuer_key_fetch_failures_total",
            "counter",
            "Failed fetches (or file reads) of the issuer's keys.",
            &|s| Some(s.fetch_failures as f64),
        );
        let _ = writeln!(
            out,
            "# HELP keyless_roles Roles configured.\n# TYPE keyless_roles gauge\nkeyless_roles {}",
            id.roles.iter().count()
        );
    }
}

/// `arn:aws:sts::<account>:assumed-role/<role name>/<session>` (what GetCallerIdentity names).
fn assumed_role_arn(role: &str, session_name: &str) -> String {
    match role.strip_prefix("arn:aws:iam::").and_then(|r| r.split_once(":role/")) {
        Some((account, name)) => format!("arn:aws:sts::{account}:assumed-role/{name}/{session_name}"),
        None => role.to_owned(),
    }
}

/// A Prometheus label value, escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

impl StatusSource for Live {
    fn status_json(&self, viewer: &Principal) -> String {
        let st = self.lock();
        let account = st.account_id.clone().unwrap_or_else(|| "000000000000".to_owned());
        let (viewer_json, root) = match viewer {
            Principal::Root { access_key } => (
                json!({ "kind": "root", "arn": format!("arn:aws:iam::{account}:root"), "access_key": access_key }),
                true,
            ),
            Principal::Session {
                access_key,
                role,
                session_name,
                subject,
                issuer,
                expires_at,
            } => (
                json!({ "kind": "session", "arn": assumed_role_arn(role, session_name), "access_key": access_key, "role": role,
                        "session_name": session_name, "subject": subject, "issuer": issuer,
                        "expires": u64::try_from(*expires_at).ok()
                            .map(|s| rfc3339(SystemTime::UNIX_EPOCH + Duration::from_secs(s))) }),
                false,
            ),
            _ => (json!({ "kind": "anonymous" }), false),
        };
        let identity = self.handle.current();
        let issuers: Vec<Value> = match (&identity, root) {
            (Some(id), true) => id
                .cache
                .status()
                .into_iter()
                .map(|s| {
                    json!({ "issuer": s.issuer, "source": s.source, "key_count": s.key_count, "key_ids": s.key_ids,
                            "keys_age_seconds": s.keys_age.map(|d| (d.as_secs_f64() * 10.0).round() / 10.0),
                            "last_success": s.last_success.map(rfc3339), "last_error": s.last_error,
                            "fetches": s.fetches, "fetch_failures": s.fetch_failures, "jwks_uri": s.jwks_uri })
                })
                .collect(),
            _ => Vec::new(),
        };
        let roles: Vec<Value> = if root {
            st.role_views
                .iter()
                .map(|r| {
                    json!({ "arn": r.arn, "max_session_duration": r.max_session_duration, "trust": r.trust,
                            "policies": r.policies.iter().map(|(n, d)| json!({"name": n, "document": d})).collect::<Vec<_>>() })
                })
                .collect()
        } else {
            Vec::new()
        };
        let (own_role, own_subject) = match viewer {
            Principal::Session { role, subject, .. } => (Some(role.clone()), Some(subject.clone())),
            _ => (None, None),
        };
        let decisions: Vec<Value> = self
            .observer
            .recent(|r| {
                root || (r["identity"]["subject"].as_str() == own_subject.as_deref()
                    && r["identity"]["role"].as_str() == own_role.as_deref())
            })
            .into_iter()
            .map(|r| {
                json!({ "time": r["time"], "kind": r["kind"], "operation": r["operation"].as_str().map(|o| o.trim_start_matches("sts:")),
                        "outcome": r["decision"], "code": r["error_code"], "reason": r["reason"], "status": r["status"],
                        "role": r["identity"]["role"], "subject": r["identity"]["subject"],
                        "session_name": r["identity"]["session_name"], "bucket": r["bucket"], "key": r["key"] })
            })
            .collect();
        let reload = if root {
            json!({ "last": st.last.map(rfc3339), "ok": st.last_error.is_none(), "error": st.last_error,
                    "last_success": st.last_success.map(rfc3339), "successes": st.successes, "failures": st.failures })
        } else {
            Value::Null
        };
        json!({ "viewer": viewer_json, "issuers": issuers, "roles": roles, "decisions": decisions,
                "reload": reload, "identity_configured": identity.is_some() })
        .to_string()
    }
}
