//! The key cache: the current key set of every trusted issuer, kept fresh.
//!
//! [`KeyCache`] owns one [`IssuerKeys`] per configured issuer and one snapshot of all of them as a
//! `keyless_identity::Issuers` (an `Arc` behind a `RwLock`: a reader clones the `Arc` and lets go;
//! a refresh that changes keys builds a new snapshot and swaps it in). The STS path verifies a token
//! against one snapshot with [`KeyCache::verify`]:
//!
//! ```text
//! peek iss → its IssuerKeys → verify with the current keys
//!   → UnknownKey? → on_unknown_kid (at most one refetch per cooldown, shared by concurrent
//!     callers) → verify once more with the new snapshot
//! ```
//!
//! **Architecture Invariant**: a failed fetch or a broken file never replaces keys; the last good
//! set keeps verifying tokens. Only an unknown `kid` after a *failed* fetch is reported as the
//! issuer being unreachable ([`VerifyError::KeysUnavailable`] → `IDPCommunicationError`); after a
//! good fetch it is the token's fault ([`VerifyError::UnknownKey`] → `InvalidIdentityToken`).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use keyless_identity::jwks::KeySet;
use keyless_identity::sts::{StsError, StsErrorCode};
use keyless_identity::token::{Issuer, Issuers, TokenError, Validation, VerifiedToken, peek_issuer};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::error::{ConfigError, FetchError};
use crate::fetch;
use crate::source::{FetchOptions, IssuerSource, KeySource};

/// Every trusted issuer's keys. Cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct KeyCache {
    inner: Arc<CacheInner>,
}

struct CacheInner {
    shared: Arc<Snapshot>,
    by_iss: BTreeMap<String, Arc<IssuerKeys>>,
    validation: Validation,
}

/// The one current `Issuers`, swapped whole when any issuer's keys change.
struct Snapshot(RwLock<Arc<Issuers>>);

impl Snapshot {
    fn get(&self) -> Arc<Issuers> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The keys of one issuer and what is known about fetching them.
pub struct IssuerKeys {
    source: IssuerSource,
    options: FetchOptions,
    shared: Arc<Snapshot>,
    /// Held for the whole of a fetch: concurrent refreshes wait for the one in flight.
    gate: tokio::sync::Mutex<()>,
    /// Completed fetch attempts; a waiter that sees it move uses that fetch's result.
    attempts: AtomicU64,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// When the keys were last confirmed current (a good fetch or file read).
    confirmed: Option<(Instant, SystemTime)>,
    /// The last attempt's error; `None` after a success.
    last_error: Option<String>,
    fetches: u64,
    failures: u64,
    unknown_kid_refetches: u64,
    last_unknown_kid_refetch: Option<Instant>,
    jwks_uri: Option<String>,
    file: FileSeen,
}

/// What was last read from a JWKS file.
#[derive(Default)]
struct FileSeen {
    /// The stamp of the last read, good or bad: a poll reads again only when it changes.
    stamp: Option<FileStamp>,
    /// The content of the last good read.
    content: Option<Vec<u8>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FileStamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

impl FileStamp {
    fn of(meta: &std::fs::Metadata) -> Self {
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(meta);
        #[cfg(not(unix))]
        let inode = 0;
        Self {
            len: meta.len(),
            modified: meta.modified().ok(),
            inode,
        }
    }
}

/// What [`IssuerKeys::on_unknown_kid`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KidLookup {
    /// The key is in the current set (now, or already).
    Known,
    /// The keys were fetched successfully and the key is not among them.
    Unknown,
    /// The last fetch failed (the error): the issuer may have the key but could not be asked.
    Unavailable(String),
}

/// One issuer's state, as plain data for metrics and status pages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuerStatus {
    pub issuer: String,
    /// `"discovery"`, `"jwks_file"` or `"jwks"`.
    pub source: &'static str,
    pub key_count: usize,
    pub key_ids: Vec<String>,
    /// Time since the keys were last confirmed current: a good fetch, a good file read or an
    /// unchanged good file; for inline keys, since start. `None`: never.
    pub keys_age: Option<Duration>,
    pub last_success: Option<SystemTime>,
    /// The last attempt's error, if it failed.
    pub last_error: Option<String>,
    /// Fetches (or file reads) attempted, and how many of them failed.
    pub fetches: u64,
    pub fetch_failures: u64,
    /// Refetches triggered by unknown key ids.
    pub unknown_kid_refetches: u64,
    /// The `jwks_uri` of the last good discovery document.
    pub jwks_uri: Option<String>,
}

/// A token verified by [`KeyCache::verify`], with the snapshot it was verified against (hand that
/// one to `keyless_identity::sts::assume_role_with_web_identity`, so both see the same keys).
#[derive(Clone, Debug)]
pub struct Verified {
    pub token: VerifiedToken,
    pub issuers: Arc<Issuers>,
}

/// Why [`KeyCache::verify`] refused a token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The token itself is refused (never `UnknownKey`: that is one of the two below).
    #[error(transparent)]
    Token(TokenError),
    /// The token's key is unknown and the issuer's keys could not be refetched.
    #[error("no key {kid:?} in the keys of issuer {issuer:?}, and they could not be refreshed: {cause}")]
    KeysUnavailable {
        issuer: String,
        kid: Option<String>,
        cause: String,
    },
    /// The token's key is unknown even in freshly fetched keys.
    #[error("no key {kid:?} in the current keys of issuer {issuer:?}")]
    UnknownKey { issuer: String, kid: Option<String> },
}

impl VerifyError {
    /// The STS answer: `IDPCommunicationError` (clients retry) when the issuer could not be asked,
    /// `InvalidIdentityToken` for a key the issuer does not have, the core's mapping otherwise.
    pub fn to_sts_error(&self) -> StsError {
        match self {
            Self::Token(e) => StsError::from_token(e),
            Self::KeysUnavailable { issuer, .. } => StsError {
                code: StsErrorCode::IdpCommunicationError,
                message: format!(
                    "The token's signing key is not among the cached keys of issuer {issuer:?}, and its keys \
                     could not be fetched; retry later"
                ),
                log_reason: Some(self.to_string()),
            },
            Self::UnknownKey { issuer, kid } => StsError {
                code: StsErrorCode::InvalidIdentityToken,
                message: format!(
                    "The token's key id {kid:?} is not among the current keys of issuer {issuer:?}; the token was \
                     not signed by this issuer's current keys"
                ),
                log_reason: Some(self.to_string()),
            },
        }
    }
}

impl KeyCache {
    /// Builds the cache (reading JWKS files with blocking I/O: call it at start-up). Inline key sets
    /// are parsed now (a bad one is a configuration error); JWKS
    /// files are read now (a missing or broken one is recorded in the status and logged, and read
    /// again when it changes); discovery sources start empty until [`KeyCache::refresh_all`] or the
    /// first unknown key.
    pub fn new(sources: Vec<IssuerSource>, validation: Validation, options: FetchOptions) -> Result<Self, ConfigError> {
        let mut issuers = Issuers::new(validation);
        let mut initial = Vec::new();
        for source in &sources {
            if issuers.get(&source.issuer).is_some() {
                return Err(ConfigError::DuplicateIssuer(source.issuer.clone()));
            }
            let invalid = |reason: String| ConfigError::Invalid {
                issuer: source.issuer.clone(),
                reason,
            };
            if source.issuer.is_empty() {
                return Err(invalid("the issuer is empty".into()));
            }
            let keys = match &source.keys {
                KeySource::Jwks(value) => {
                    let text = match value {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    KeySet::from_json(&text).map_err(|e| invalid(format!("inline jwks: {e}")))?
                }
                KeySource::Discovery(_) => {
                    let url = source.discovery_url().expect("a discovery source");
                    fetch::check_discovery_url(&url).map_err(|e| invalid(e.to_string()))?;
                    KeySet::default()
                }
                KeySource::JwksFile(path) => {
                    let read = read_file_now(path, options.max_body);
                    let keys = read.as_ref().map(|(keys, _, _)| keys.clone()).unwrap_or_default();
                    initial.push((source.issuer.clone(), read.map(|(_, stamp, content)| (stamp, content))));
                    keys
                }
            };
            issuers.insert(Issuer::new(source.issuer.clone(), keys).with_audiences(source.audiences.clone()));
        }
        let shared = Arc::new(Snapshot(RwLock::new(Arc::new(issuers))));
        let mut by_iss = BTreeMap::new();
        for source in sources {
            let keys = IssuerKeys {
                source,
                options: options.clone(),
                shared: shared.clone(),
                gate: tokio::sync::Mutex::new(()),
                attempts: AtomicU64::new(0),
                state: Mutex::new(State::default()),
            };
            by_iss.insert(keys.source.issuer.clone(), Arc::new(keys));
        }
        for keys in by_iss.values() {
            if matches!(keys.source.keys, KeySource::Jwks(_)) {
                keys.lock().confirmed = Some((Instant::now(), SystemTime::now()));
            }
        }
        for (iss, read) in initial {
            let keys = &by_iss[&iss];
            let mut state = keys.lock();
            state.fetches += 1;
            match read {
                Ok((stamp, content)) => {
                    state.file.stamp = Some(stamp);
                    state.file.content = Some(content);
                    state.confirmed = Some((Instant::now(), SystemTime::now()));
                }
                Err((stamp, e)) => {
                    tracing::warn!(issuer = %iss, error = %e, "cannot load the issuer's JWKS file; tokens of this issuer are refused until it is fixed");
                    state.file.stamp = stamp;
                    state.failures += 1;
                    state.last_error = Some(e.to_string());
                }
            }
        }
        Ok(Self {
            inner: Arc::new(CacheInner {
                shared,
                by_iss,
                validation,
            }),
        })
    }

    /// The current keys of every issuer, for one verification.
    pub fn snapshot(&self) -> Arc<Issuers> {
        self.inner.shared.get()
    }

    pub fn validation(&self) -> Validation {
        self.inner.validation
    }

    pub fn issuer(&self, iss: &str) -> Option<&Arc<IssuerKeys>> {
        self.inner.by_iss.get(iss)
    }

    pub fn issuers(&self) -> impl Iterator<Item = &Arc<IssuerKeys>> {
        self.inner.by_iss.values()
    }

    /// Refreshes every issuer at once (start-up): each issuer's result.
    pub async fn refresh_all(&self) -> Vec<(String, Result<bool, FetchError>)> {
        let mut set = tokio::task::JoinSet::new();
        for keys in self.issuers() {
            let keys = keys.clone();
            set.spawn(async move { (keys.iss().to_owned(), keys.refresh().await) });
        }
        let mut out = Vec::new();
        while let Some(done) = set.join_next().await {
            out.push(done.expect("a refresh task panicked"));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Every issuer's status.
    pub fn status(&self) -> Vec<IssuerStatus> {
        self.issuers().map(|k| k.status()).collect()
    }

    /// Verifies a token with the current keys of the issuer it names, refetching that issuer's keys
    /// once if the token's key is unknown (see the module docs).
    pub async fn verify(&self, token: &str, now: i64) -> Result<Verified, VerifyError> {
        let iss = peek_issuer(token, self.inner.validation.max_token_len).map_err(VerifyError::Token)?;
        let Some(keys) = self.issuer(&iss) else {
            return Err(VerifyError::Token(TokenError::UnknownIssuer(iss)));
        };
        let snapshot = self.snapshot();
        let kid = match snapshot.verify(token, now) {
            Ok(token) => {
                return Ok(Verified {
                    token,
                    issuers: snapshot,
                });
            }
            Err(TokenError::UnknownKey { kid, .. }) => kid,
            Err(e) => return Err(VerifyError::Token(e)),
        };
        if let KidLookup::Unavailable(cause) = keys.on_unknown_kid(kid.as_deref()).await {
            return Err(VerifyError::KeysUnavailable {
                issuer: iss,
                kid,
                cause,
            });
        }
        let snapshot = self.snapshot();
        match snapshot.verify(token, now) {
            Ok(token) => Ok(Verified {
                token,
                issuers: snapshot,
            }),
            Err(TokenError::UnknownKey { issuer, kid }) => Err(VerifyError::UnknownKey { issuer, kid }),
            Err(e) => Err(VerifyError::Token(e)),
        }
    }

    /// Starts the background refreshers: discovery sources every `refresh_interval` (jittered,
    /// retried sooner after a failure), JWKS files polled every `file_poll_interval`. They stop when
    /// the returned handle is dropped.
    pub fn spawn_refreshers(&self) -> Refreshers {
        let tasks = self
            .issuers()
            .filter(|k| !matches!(k.source.keys, KeySource::Jwks(_)))
            .map(|k| tokio::spawn(k.clone().run()))
            .collect();
        Refreshers { tasks }
    }
}

/// The background refresh tasks; dropping this stops them.
pub struct Refreshers {
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Refreshers {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl IssuerKeys {
    pub fn iss(&self) -> &str {
        &self.source.issuer
    }

    pub fn source(&self) -> &IssuerSource {
        &self.source
    }

    /// The current key set.
    pub fn keys(&self) -> KeySet {
        self.shared
            .get()
            .get(self.iss())
            .map(|i| i.keys().clone())
            .unwrap_or_default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn knows(&self, kid: Option<&str>) -> bool {
        let snapshot = self.shared.get();
        let Some(issuer) = snapshot.get(self.iss()) else {
            return false;
        };
        match kid {
            Some(kid) => issuer.keys().keys().iter().any(|k| k.kid.as_deref() == Some(kid)),
            None => !issuer.keys().is_empty(),
        }
    }

    /// Fetches the keys now (waiting for a fetch already in flight, then doing its own). Returns
    /// whether the key set changed. On failure the old keys stay.
    pub async fn refresh(&self) -> Result<bool, FetchError> {
        let _gate = self.gate.lock().await;
        self.refresh_locked(true).await
    }

    /// A token named key `kid` that the current set lacks. Refetches at most once per
    /// `unknown_kid_cooldown` (callers arriving during a fetch share it), then says whether the key
    /// is known now.
    ///
    /// Without a `kid` (the token relies on the only key fitting its algorithm), the keys are
    /// refetched the same way, and `Known` means only "there are keys now": verify again to know.
    pub async fn on_unknown_kid(&self, kid: Option<&str>) -> KidLookup {
        if kid.is_some() && self.knows(kid) {
            return KidLookup::Known;
        }
        if !matches!(self.source.keys, KeySource::Jwks(_)) {
            let seen = self.attempts.load(Ordering::SeqCst);
            let _gate = self.gate.lock().await;
            // A fetch that completed while this caller waited for the gate answers it too.
            if self.attempts.load(Ordering::SeqCst) == seen {
                let cooled = self
                    .lock()
                    .last_unknown_kid_refetch
                    .is_none_or(|t| t.elapsed() >= self.options.unknown_kid_cooldown);
                if cooled {
                    {
                        let mut state = self.lock();
                        state.last_unknown_kid_refetch = Some(Instant::now());
                        state.unknown_kid_refetches += 1;
                    }
                    tracing::info!(issuer = %self.iss(), kid = ?kid, "unknown key id: refetching the issuer's keys");
                    let _ = self.refresh_locked(true).await;
                }
            }
        }
        if self.knows(kid) {
            return KidLookup::Known;
        }
        match &self.lock().last_error {
            Some(e) => KidLookup::Unavailable(e.clone()),
            None => KidLookup::Unknown,
        }
    }

    /// This issuer's state as plain data.
    pub fn status(&self) -> IssuerStatus {
        let keys = self.keys();
        let state = self.lock();
        IssuerStatus {
            issuer: self.iss().to_owned(),
            source: self.source.kind(),
            key_count: keys.keys().len(),
            key_ids: keys.keys().iter().filter_map(|k| k.kid.clone()).collect(),
            keys_age: state.confirmed.map(|(at, _)| at.elapsed()),
            last_success: state.confirmed.map(|(_, wall)| wall),
            last_error: state.last_error.clone(),
            fetches: state.fetches,
            fetch_failures: state.failures,
            unknown_kid_refetches: state.unknown_kid_refetches,
            jwks_uri: state.jwks_uri.clone(),
        }
    }

    /// One fetch (discovery) or file read, with the gate held. `force`: read a file even if its
    /// stamp did not change.
    async fn refresh_locked(&self, force: bool) -> Result<bool, FetchError> {
        let outcome = match &self.source.keys {
            KeySource::Jwks(_) => return Ok(false),
            KeySource::Discovery(d) => fetch::fetch_keys(self.iss(), d, &self.options).await.map(|f| {
                self.lock().jwks_uri = Some(f.jwks_uri);
                Some(f.keys)
            }),
            KeySource::JwksFile(path) => match self.read_file(path, force).await {
                FileRead::Unchanged => {
                    // An unchanged good file confirms the keys as much as a read would.
                    let mut state = self.lock();
                    if state.last_error.is_none() && state.confirmed.is_some() {
                        state.confirmed = Some((Instant::now(), SystemTime::now()));
                    }
                    return Ok(false);
                }
                FileRead::Same => Ok(None),
                FileRead::New(keys) => Ok(Some(keys)),
                FileRead::Failed(e) => Err(e),
            },
        };
        let result = match outcome {
            Ok(keys) => {
                let changed = keys.is_some_and(|k| self.install(k));
                let mut state = self.lock();
                state.fetches += 1;
                state.confirmed = Some((Instant::now(), SystemTime::now()));
                state.last_error = None;
                Ok(changed)
            }
            Err(e) => {
                tracing::warn!(issuer = %self.iss(), error = %e, "cannot refresh the issuer's keys; keeping the previous ones");
                let mut state = self.lock();
                state.fetches += 1;
                state.failures += 1;
                state.last_error = Some(e.to_string());
                Err(e)
            }
        };
        self.attempts.fetch_add(1, Ordering::SeqCst);
        result
    }

    /// Puts `keys` into the shared snapshot; whether they differ from the current ones.
    fn install(&self, keys: KeySet) -> bool {
        let mut guard = self.shared.0.write().unwrap_or_else(|e| e.into_inner());
        let Some(current) = guard.get(self.iss()) else {
            return false;
        };
        if current.keys() == &keys {
            return false;
        }
        let kids: Vec<_> = keys.keys().iter().map(|k| k.kid.clone().unwrap_or_default()).collect();
        let mut next = (**guard).clone();
        next.get_mut(self.iss()).expect("present above").set_keys(keys);
        *guard = Arc::new(next);
        drop(guard);
        tracing::info!(issuer = %self.iss(), kids = ?kids, "the issuer's keys changed");
        true
    }

    async fn read_file(&self, path: &Path, force: bool) -> FileRead {
        let meta = match tokio::fs::metadata(path).await {
            Ok(m) => m,
            Err(e) => {
                let e = FetchError::File {
                    path: path.to_owned(),
                    reason: e.to_string(),
                };
                // A missing file is reported once per change of state, not on every poll.
                let mut state = self.lock();
                if !force && state.file.stamp.is_none() && state.last_error.is_some() {
                    return FileRead::Unchanged;
                }
                state.file.stamp = None;
                return FileRead::Failed(e);
            }
        };
        let stamp = FileStamp::of(&meta);
        if !force && self.lock().file.stamp == Some(stamp) {
            return FileRead::Unchanged;
        }
        let path_buf = path.to_owned();
        let max = self.options.max_body;
        let read = tokio::task::spawn_blocking(move || read_file_now(&path_buf, max))
            .await
            .expect("file read task");
        let mut state = self.lock();
        match read {
            Ok((keys, stamp, content)) => {
                state.file.stamp = Some(stamp);
                if state.file.content.as_ref() == Some(&content) {
                    return FileRead::Same;
                }
                state.file.content = Some(content);
                FileRead::New(keys)
            }
            Err((stamp, e)) => {
                state.file.stamp = stamp;
                FileRead::Failed(e)
            }
        }
    }

    /// The background loop for this issuer.
    async fn run(self: Arc<Self>) {
        match &self.source.keys {
            KeySource::Jwks(_) => {}
            KeySource::JwksFile(_) => loop {
                tokio::time::sleep(self.options.file_poll_interval).await;
                let _gate = self.gate.lock().await;
                let _ = self.refresh_locked(false).await;
            },
            KeySource::Discovery(_) => {
                let mut failures_in_a_row: u32 = 0;
                if self.attempts.load(Ordering::SeqCst) == 0 && self.refresh().await.is_err() {
                    failures_in_a_row = 1;
                }
                loop {
                    let interval = self.options.refresh_interval;
                    let wait = if failures_in_a_row == 0 {
                        jitter(interval)
                    } else {
                        let backoff = self
                            .options
                            .retry_min
                            .saturating_mul(1 << (failures_in_a_row - 1).min(16));
                        backoff.min(interval)
                    };
                    tokio::time::sleep(wait).await;
                    match self.refresh().await {
                        Ok(_) => failures_in_a_row = 0,
                        Err(_) => failures_in_a_row = failures_in_a_row.saturating_add(1),
                    }
                }
            }
        }
    }
}

enum FileRead {
    /// Not read: the stamp is the same as last time.
    Unchanged,
    /// Read; the same content as the keys in use.
    Same,
    New(KeySet),
    Failed(FetchError),
}

type FileLoad = Result<(KeySet, FileStamp, Vec<u8>), (Option<FileStamp>, FetchError)>;

/// Reads and parses a JWKS file (blocking; small).
fn read_file_now(path: &Path, max: usize) -> FileLoad {
    let fail = |stamp, reason: String| {
        (
            stamp,
            FetchError::File {
                path: path.to_owned(),
                reason,
            },
        )
    };
    let meta = std::fs::metadata(path).map_err(|e| fail(None, e.to_string()))?;
    let stamp = FileStamp::of(&meta);
    if meta.len() > max as u64 {
        return Err(fail(Some(stamp), format!("larger than {max} bytes")));
    }
    let content = std::fs::read(path).map_err(|e| fail(Some(stamp), e.to_string()))?;
    let text = std::str::from_utf8(&content).map_err(|_| fail(Some(stamp), "not UTF-8".into()))?;
    let keys = KeySet::from_json(text).map_err(|e| {
        (
            Some(stamp),
            FetchError::Jwks {
                origin: path.display().to_string(),
                error: e.to_string(),
            },
        )
    })?;
    Ok((keys, stamp, content))
}

/// `d` ± 10%, from the system random generator.
fn jitter(d: Duration) -> Duration {
    let mut b = [0u8; 2];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b);
    let unit = f64::from(u16::from_le_bytes(b)) / f64::from(u16::MAX); // 0..=1
    d.mul_f64(0.9 + 0.2 * unit)
}
