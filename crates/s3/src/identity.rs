//! Temporary credentials at the edge: what the front holds to serve STS and to verify session
//! credentials ([`Identity`]), what the server tells it about the connection ([`ClientInfo`]),
//! and the per-request scope that carries the session token to the signature check.
//!
//! Why a scope: `s3s` asks `auth::KeyRing` for the secret of an access key id and shows it nothing
//! else, but a temporary secret is derived from the server key *and the expiry sealed in the session
//! token* (`keyless_identity::session`). So [`S3Front::handle`](crate::S3Front::handle) reads the
//! token (`x-amz-security-token` header, or the presigned URL's `X-Amz-Security-Token`) before
//! `s3s` runs and puts it in a task-local [`RequestScope`]; the key ring opens it there
//! ([`session_secret`]) — a token that is missing, tampered with, expired or minted for another
//! access key yields no secret, so the request fails before its signature is even compared — and
//! keeps the opened `Session` for the policy check (`policy`) and GetCallerIdentity (`sts`).
//!
//! **Invariant:** a request signed with an `ASIA…` key reaches an S3 handler only with a session
//! that opened under this server's keys, was bound to that very key, is unexpired, and whose
//! policies allowed every IAM check of the operation.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock};

use keyless_identity::role::Roles;
use keyless_identity::session::{self, Session, SessionError, SessionKeys};
use keyless_idp::KeyCache;
use s3s::auth::SecretKey;
use s3s::{S3Error, S3ErrorCode, S3Result};

/// Everything the front needs to serve STS and check session credentials. Cheap to clone.
#[derive(Clone)]
pub struct Identity {
    /// The trusted issuers' keys, kept fresh by `keyless-idp`.
    pub cache: KeyCache,
    pub roles: Arc<Roles>,
    pub keys: Arc<SessionKeys>,
    /// The account id of root's ARN in GetCallerIdentity (`arn:aws:iam::<account>:root`).
    pub account_id: String,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field(
                "issuers",
                &self.cache.issuers().map(|i| i.iss().to_owned()).collect::<Vec<_>>(),
            )
            .field(
                "roles",
                &self.roles.iter().map(|r| r.arn().to_string()).collect::<Vec<_>>(),
            )
            .field("session_key", &self.keys.active_id())
            .field("account_id", &self.account_id)
            .finish()
    }
}

/// The identity the front serves with, replaceable while it runs (live reload): every request
/// takes the current [`Identity`] once and uses that one throughout, so a reload never mixes an
/// old role with new issuers inside one request. Cheap to clone; clones share the slot.
#[derive(Clone, Default)]
pub struct IdentityHandle(Arc<RwLock<Option<Arc<Identity>>>>);

impl IdentityHandle {
    pub fn new(identity: Option<Identity>) -> Self {
        Self(Arc::new(RwLock::new(identity.map(Arc::new))))
    }

    /// The identity now in force (`None`: only the root credentials sign, STS is refused).
    pub fn current(&self) -> Option<Arc<Identity>> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Puts `identity` in force for every request that starts from now on.
    pub fn replace(&self, identity: Option<Identity>) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = identity.map(Arc::new);
    }
}

impl std::fmt::Debug for IdentityHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.current().fmt(f)
    }
}

/// Who made a request, as far as the signature check established it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Principal {
    /// Unsigned (or the signature was not checked yet when the request was refused).
    #[default]
    Anonymous,
    /// The root (admin) credentials.
    Root { access_key: String },
    /// Temporary credentials from STS.
    Session {
        access_key: String,
        role: String,
        session_name: String,
        subject: String,
        issuer: String,
        /// When the credentials expire (Unix seconds).
        expires_at: i64,
    },
    /// An AssumeRoleWithWebIdentity caller (no credentials yet): the role asked for and, once the
    /// token is verified, its subject and issuer.
    WebIdentity {
        role: String,
        session_name: String,
        subject: Option<String>,
        issuer: Option<String>,
    },
}

/// What was decided about a request, and why (for the audit record).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// In words, for people: which statement decided, or why a token or session was refused.
    pub reason: String,
}

/// The audit facts of one request, gathered while it is served and put in the extensions of its
/// response by [`S3Front::handle`](crate::S3Front::handle). Never holds a token, secret or
/// signature.
#[derive(Clone, Debug, Default)]
pub struct Audit {
    /// As [`Operation`](crate::Operation).
    pub operation: String,
    pub bucket: Option<String>,
    pub key: Option<String>,
    pub principal: Principal,
    /// `None` when no decision was reached (a malformed request, a bad signature).
    pub decision: Option<Decision>,
    /// The S3 or STS error code of an error answer.
    pub error_code: Option<String>,
    /// An STS request (not S3).
    pub sts: bool,
}

/// What the server knows about the connection a request came on. The server inserts it into the
/// request's extensions; policies see it as `aws:SourceIp` and `aws:SecureTransport`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientInfo {
    pub peer: Option<IpAddr>,
    /// Whether the connection is TLS.
    pub secure: bool,
}

/// The facts of one request that `s3s` does not pass to the key ring.
pub(crate) struct RequestScope {
    session_token: Option<String>,
    opened: Mutex<Option<Arc<Session>>>,
    /// The audit facts so far; `operation` stays empty until s3s (or the STS route) has
    /// recognised the request.
    pub(crate) audit: Arc<Mutex<Audit>>,
}

tokio::task_local! {
    static SCOPE: RequestScope;
}

impl RequestScope {
    /// Reads the session token of a request: the `x-amz-security-token` header, else the query
    /// parameter of that name (any case: SigV4 presigned URLs use `X-Amz-Security-Token`, SigV2
    /// ones `x-amz-security-token`).
    pub(crate) fn of(parts: &http::request::Parts) -> Self {
        let header = parts
            .headers
            .get("x-amz-security-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let query = || {
            parts.uri.query().and_then(|q| {
                q.split('&')
                    .filter_map(|kv| kv.split_once('='))
                    .find(|(k, _)| k.eq_ignore_ascii_case("x-amz-security-token"))
                    .and_then(|(_, v)| crate::percent::decode_form_component(v).ok())
            })
        };
        Self {
            session_token: header.or_else(query),
            opened: Mutex::new(None),
            audit: Arc::default(),
        }
    }

    /// Runs `f` with this scope current.
    pub(crate) async fn run<F: Future>(self, f: F) -> F::Output {
        SCOPE.scope(self, f).await
    }
}

/// Records the operation the current request turned out to be (for metrics and the audit).
pub(crate) fn set_operation(name: &str) {
    audit(|a| a.operation = name.to_owned());
}

/// Adds to the current request's audit facts.
pub(crate) fn audit(f: impl FnOnce(&mut Audit)) {
    let _ = SCOPE.try_with(|s| f(&mut s.audit.lock().unwrap_or_else(|e| e.into_inner())));
}

/// The principal of a request signed with `access_key`: a session when one was opened for it.
pub(crate) fn principal_of(access_key: &str) -> Principal {
    match current_session() {
        Some(s) => Principal::Session {
            access_key: s.access_key_id.clone(),
            role: s.role_arn.to_string(),
            session_name: s.claims.session_name.clone(),
            subject: s.claims.subject.clone(),
            issuer: s.claims.issuer.clone(),
            expires_at: s.claims.expires_at,
        },
        None => Principal::Root {
            access_key: access_key.to_owned(),
        },
    }
}

/// The session opened for the current request by [`session_secret`], if any.
pub(crate) fn current_session() -> Option<Arc<Session>> {
    SCOPE
        .try_with(|s| s.opened.lock().expect("scope lock").clone())
        .ok()
        .flatten()
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Records the access decision on the current request and its reason (for the audit).
pub(crate) fn decide(allowed: bool, reason: &str) {
    audit(|a| {
        a.decision = Some(Decision {
            allowed,
            reason: reason.to_owned(),
        })
    });
}

/// The secret of temporary access key `access_key`, re-derived from the current request's session
/// token; the opened session is kept for the rest of the request.
pub(crate) fn session_secret(keys: &SessionKeys, access_key: &str) -> S3Result<SecretKey> {
    let token = SCOPE.try_with(|s| s.session_token.clone()).ok().flatten();
    let Some(token) = token else {
        tracing::info!(access_key, reason = "no session token", "refused temporary credentials");
        decide(false, "temporary credentials without their session token");
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidAccessKeyId,
            "The access key is a temporary credential: send its session token too (x-amz-security-token, \
             or X-Amz-Security-Token in a presigned URL).",
        ));
    };
    match session::open(keys, &token, access_key, now()) {
        Ok(s) => {
            let secret = SecretKey::from(s.secret_access_key.as_str());
            let _ = SCOPE.try_with(|scope| *scope.opened.lock().expect("scope lock") = Some(Arc::new(s)));
            Ok(secret)
        }
        Err(e) => {
            tracing::info!(access_key, reason = %e, "refused temporary credentials");
            decide(false, &format!("temporary credentials refused: {e}"));
            Err(match e {
                SessionError::Expired { .. } => S3Error::with_message(
                    S3ErrorCode::ExpiredToken,
                    "The provided token has expired: get new credentials from STS (AssumeRoleWithWebIdentity).",
                ),
                _ => S3Error::with_message(
                    S3ErrorCode::InvalidToken,
                    "The provided token is malformed or otherwise invalid: send the session token STS returned \
                     together with this access key.",
                ),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (header, path and query, the token the key ring sees).
    #[test]
    fn the_session_token_comes_from_the_header_then_the_query() {
        let cases: [(Option<&str>, &str, Option<&str>); 5] = [
            (Some("hdr"), "/b/k?X-Amz-Security-Token=qry", Some("hdr")),
            (None, "/b/k?X-Amz-Security-Token=a%2Fb", Some("a/b")),
            (None, "/b/k?AWSAccessKeyId=A&x-amz-security-token=v2", Some("v2")),
            (None, "/b/k?X-Amz-Credential=x", None),
            (None, "/b/k", None),
        ];
        for (header, uri, want) in cases {
            let mut req = http::Request::builder().uri(uri);
            if let Some(h) = header {
                req = req.header("x-amz-security-token", h);
            }
            let (parts, ()) = req.body(()).unwrap().into_parts();
            assert_eq!(
                RequestScope::of(&parts).session_token.as_deref(),
                want,
                "{header:?} {uri}"
            );
        }
    }

    #[tokio::test]
    async fn no_scope_means_no_secret() {
        let keys = SessionKeys::new(session::SessionKey::new(1, &[7; 32]));
        let err = session_secret(&keys, "ASIAAAAQEAYEAUDAOCAJ").unwrap_err();
        assert_eq!(err.code(), &S3ErrorCode::InvalidAccessKeyId);
        let scope = RequestScope {
            session_token: Some("garbage".into()),
            opened: Mutex::new(None),
            audit: Arc::default(),
        };
        let err = scope
            .run(async { session_secret(&keys, "ASIAAAAQEAYEAUDAOCAJ").unwrap_err() })
            .await;
        assert_eq!(err.code(), &S3ErrorCode::InvalidToken);
        assert!(current_session().is_none());
    }
}
