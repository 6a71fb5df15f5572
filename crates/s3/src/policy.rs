//! The policy check of every S3 request: after the signature (`s3s` + `auth::KeyRing`) and the
//! edge's own checks (`auth::Gate`), a request signed with temporary credentials is authorised
//! by `keyless_identity::authz::authorize_s3` — the role's permission policies narrowed by the
//! session policy, default deny, explicit Deny wins. Root credentials may do everything.
//!
//! The operation is described to the core as IAM sees it ([`describe`]): bucket and key from the
//! path, `x-amz-copy-source`, whether tags are set, and the request's condition facts — listing
//! `prefix`/`delimiter`/`max-keys`, the peer's address and TLS ([`ClientInfo`]) and the time.
//!
//! DeleteObjects names its keys in the body, which `s3s` reads after this check; so the check
//! leaves a [`DeferredDeletes`] in the request and the handler asks [`deny_deletes`] per key
//! (S3 answers a denied key with an `AccessDenied` entry, not a failed request).
//!
//! Every denial is logged with the deciding reason (`Decision.reason`) and answered with an
//! `AccessDenied` that names the action and resource, never a secret.

use std::sync::Arc;

use keyless_identity::authz::authorize_s3;
use keyless_identity::role::Roles;
use keyless_identity::s3_actions::{RequestFacts, S3Operation};
use keyless_identity::session::{Session, is_temporary_access_key_id};
use s3s::access::{S3Access, S3AccessContext};
use s3s::dto::{DeleteObjectsInput, DeleteObjectsOutput};
use s3s::path::S3Path;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Result};

use crate::auth::Gate;
use crate::identity::{self, ClientInfo, IdentityHandle};

/// The access check `s3s` runs for every S3 operation.
pub(crate) struct Access {
    gate: Gate,
    identity: IdentityHandle,
}

impl Access {
    pub(crate) fn new(gate: Gate, identity: IdentityHandle) -> Self {
        Self { gate, identity }
    }
}

/// A DeleteObjects request of a session whose keys are still to be authorised one by one.
#[derive(Clone)]
pub(crate) struct DeferredDeletes {
    session: Arc<Session>,
    roles: Arc<Roles>,
    facts: OwnedFacts,
}

#[derive(Clone)]
struct OwnedFacts {
    client: Option<ClientInfo>,
    now: i64,
}

fn denied(action: &str, resource: &str) -> S3Error {
    S3Error::with_message(
        S3ErrorCode::AccessDenied,
        format!(
            "Access Denied: the session's role does not allow {action} on {resource}. \
             Check the role's permission policies (and the session policy, if one was given)."
        ),
    )
}

fn query_param(uri: &http::Uri, name: &str) -> Option<String> {
    uri.query()?
        .split('&')
        .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
        .find(|(k, _)| *k == name)
        .and_then(|(_, v)| crate::percent::decode_form_component(v).ok())
}

/// `bucket/key` of `x-amz-copy-source` (optionally with a leading `/` and a `?versionId=`).
fn copy_source(headers: &http::HeaderMap) -> Option<(String, String)> {
    let raw = headers.get("x-amz-copy-source")?.to_str().ok()?;
    let raw = raw.split_once('?').map_or(raw, |(p, _)| p);
    let decoded = crate::percent::decode_form_component(&raw.replace('+', "%2B")).ok()?;
    let (b, k) = decoded.trim_start_matches('/').split_once('/')?;
    Some((b.to_owned(), k.to_owned()))
}

#[async_trait::async_trait]
impl S3Access for Access {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        identity::set_operation(cx.s3_op().name());
        let (bucket, key) = match cx.s3_path() {
            S3Path::Root => (None, None),
            S3Path::Bucket { bucket } => (Some(bucket.to_string()), None),
            S3Path::Object { bucket, key } => (Some(bucket.to_string()), Some(key.to_string())),
        };
        let access_key = cx.credentials().map(|c| c.access_key.clone());
        identity::audit(|a| {
            a.bucket = bucket.clone();
            a.key = key.clone();
            if let Some(ak) = &access_key {
                a.principal = identity::principal_of(ak);
            }
        });
        if let Err(e) = self.gate.check(cx).await {
            identity::decide(false, e.message().unwrap_or("refused by the edge's checks"));
            return Err(e);
        }
        let Some(access_key) = access_key else {
            return Ok(()); // the gate has refused anonymous requests already
        };
        let op_name = cx.s3_op().name().to_owned();
        let op_name = op_name.as_str();
        let id = self.identity.current();
        let (true, Some(id)) = (is_temporary_access_key_id(&access_key), id) else {
            tracing::debug!(op = op_name, access_key, "root credentials: allowed");
            identity::decide(true, "root credentials may do everything");
            return Ok(());
        };
        let roles = id.roles.clone();
        let Some(session) = identity::current_session() else {
            // The key ring opened the session to verify the signature; without it, refuse.
            identity::decide(false, "no session was opened for the temporary credentials");
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidToken,
                "The provided token is malformed or otherwise invalid.",
            ));
        };
        let client = cx.extensions_mut().get::<ClientInfo>().copied();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        if op_name == "DeleteObjects" {
            let deferred = DeferredDeletes {
                session,
                roles,
                facts: OwnedFacts { client, now },
            };
            cx.extensions_mut().insert(deferred);
            identity::decide(true, "DeleteObjects: each key is checked on its own (s3:DeleteObject)");
            return Ok(());
        }
        let uri = cx.uri().clone();
        let headers = cx.headers();
        let copy = copy_source(headers);
        let op = S3Operation {
            name: op_name,
            bucket: bucket.as_deref(),
            key: key.as_deref(),
            copy_source: copy.as_ref().map(|(b, k)| (b.as_str(), k.as_str())),
            delete_keys: &[],
            sets_tags: headers.contains_key("x-amz-tagging"),
        };
        let prefix = query_param(&uri, "prefix");
        let delimiter = query_param(&uri, "delimiter");
        let max_keys = query_param(&uri, "max-keys").and_then(|m| m.parse().ok());
        let facts = RequestFacts {
            source_ip: client.and_then(|c| c.peer),
            secure_transport: client.is_some_and(|c| c.secure),
            now,
            prefix: prefix.as_deref(),
            delimiter: delimiter.as_deref(),
            max_keys,
        };
        let authz = match authorize_s3(&session, &roles, &op, &facts) {
            Ok(a) => a,
            Err(e) => {
                tracing::info!(op = op_name, role = %session.role_arn, subject = %session.claims.subject, reason = %e, "S3 request denied");
                identity::decide(false, &e.to_string());
                return Err(S3Error::with_message(
                    S3ErrorCode::AccessDenied,
                    format!("Access Denied: {e}; temporary credentials may not use it."),
                ));
            }
        };
        match authz.first_denied() {
            None => {
                tracing::debug!(op = op_name, role = %session.role_arn, subject = %session.claims.subject, "S3 request allowed");
                let reason = authz
                    .decisions
                    .iter()
                    .map(|(c, d)| format!("{} on {}: {}", c.action, c.resource, d.reason))
                    .collect::<Vec<_>>()
                    .join("; ");
                identity::decide(true, &reason);
                Ok(())
            }
            Some((check, decision)) => {
                tracing::info!(
                    op = op_name,
                    action = check.action,
                    resource = %check.resource,
                    role = %session.role_arn,
                    session = %session.claims.session_name,
                    subject = %session.claims.subject,
                    effect = ?decision.effect,
                    statement = ?decision.statement,
                    reason = %decision.reason,
                    "S3 request denied"
                );
                identity::decide(
                    false,
                    &format!("{} on {}: {}", check.action, check.resource, decision.reason),
                );
                Err(denied(check.action, &check.resource))
            }
        }
    }
}

/// For a DeleteObjects of a session: removes the keys the session may not delete from the input
/// and returns an `AccessDenied` entry for each (in the order the request named them).
pub(crate) fn deny_deletes(req: &mut S3Request<DeleteObjectsInput>) -> Vec<s3s::dto::Error> {
    let Some(d) = req.extensions.get::<DeferredDeletes>().cloned() else {
        return Vec::new();
    };
    let bucket = req.input.bucket.clone();
    let facts = RequestFacts {
        source_ip: d.facts.client.and_then(|c| c.peer),
        secure_transport: d.facts.client.is_some_and(|c| c.secure),
        now: d.facts.now,
        ..Default::default()
    };
    let mut errors = Vec::new();
    let mut allowed_keys = 0usize;
    let mut first_reason = None;
    req.input.delete.objects.retain(|o| {
        let keys = [o.key.clone()];
        let op = S3Operation {
            name: "DeleteObjects",
            bucket: Some(&bucket),
            delete_keys: &keys,
            ..Default::default()
        };
        let verdict = authorize_s3(&d.session, &d.roles, &op, &facts);
        let refusal = match &verdict {
            Ok(a) => a.first_denied().map(|(c, dec)| (c.resource.clone(), dec.reason.clone())),
            Err(e) => Some((format!("arn:aws:s3:::{bucket}/{}", o.key), e.to_string())),
        };
        match refusal {
            None => {
                allowed_keys += 1;
                true
            }
            Some((resource, reason)) => {
                tracing::info!(op = "DeleteObjects", action = "s3:DeleteObject", %resource, role = %d.session.role_arn, subject = %d.session.claims.subject, %reason, "S3 delete of one key denied");
                first_reason.get_or_insert_with(|| format!("s3:DeleteObject on {resource}: {reason}"));
                errors.push(s3s::dto::Error {
                    code: Some("AccessDenied".to_owned()),
                    key: Some(o.key.clone()),
                    message: Some(format!(
                        "Access Denied: the session's role does not allow s3:DeleteObject on {resource}."
                    )),
                    version_id: None,
                });
                false
            }
        }
    });
    if let Some(reason) = first_reason {
        identity::decide(
            allowed_keys > 0,
            &format!(
                "{} of {} keys denied, the first: {reason}",
                errors.len(),
                errors.len() + allowed_keys
            ),
        );
    }
    errors
}

/// DeleteObjects with the keys a session may not delete taken out first (each answered with an
/// `AccessDenied` entry) and the rest handed to `delete` — the embedded store's or the gateway's.
pub(crate) async fn delete_allowed_keys<F, Fut>(
    mut req: S3Request<DeleteObjectsInput>,
    delete: F,
) -> S3Result<s3s::S3Response<DeleteObjectsOutput>>
where
    F: FnOnce(S3Request<DeleteObjectsInput>) -> Fut,
    Fut: Future<Output = S3Result<s3s::S3Response<DeleteObjectsOutput>>>,
{
    let denied = deny_deletes(&mut req);
    if !denied.is_empty() && req.input.delete.objects.is_empty() {
        return Ok(s3s::S3Response::new(DeleteObjectsOutput {
            deleted: Some(Vec::new()),
            errors: Some(denied),
            ..Default::default()
        }));
    }
    let mut resp = delete(req).await?;
    if !denied.is_empty() {
        resp.output.errors.get_or_insert_with(Vec::new).extend(denied);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_sources_and_listing_parameters() {
        let cases: [(&str, Option<(&str, &str)>); 5] = [
            ("src/dir/a.txt", Some(("src", "dir/a.txt"))),
            ("/src/a%20b.txt", Some(("src", "a b.txt"))),
            ("src/a+b.txt?versionId=null", Some(("src", "a+b.txt"))),
            ("src", None),
            ("/src/%2E%2E/x", Some(("src", "../x"))),
        ];
        for (raw, want) in cases {
            let mut h = http::HeaderMap::new();
            h.insert("x-amz-copy-source", raw.parse().unwrap());
            let got = copy_source(&h);
            assert_eq!(got.as_ref().map(|(b, k)| (b.as_str(), k.as_str())), want, "{raw}");
        }
        let uri: http::Uri = "/b?list-type=2&prefix=a%2Fb%2F&delimiter=%2F&max-keys=7&empty"
            .parse()
            .unwrap();
        assert_eq!(query_param(&uri, "prefix").as_deref(), Some("a/b/"));
        assert_eq!(query_param(&uri, "delimiter").as_deref(), Some("/"));
        assert_eq!(query_param(&uri, "max-keys").as_deref(), Some("7"));
        assert_eq!(query_param(&uri, "empty").as_deref(), Some(""));
        assert_eq!(query_param(&uri, "missing"), None);
    }
}
