//! Authorising one S3 request made with temporary credentials: the whole pure decision the edge
//! needs, in one call.
//!
//! The session's role is looked up (a role removed from the configuration denies), the operation is
//! mapped to its IAM checks (`s3_actions`), the context is the request's keys plus the session's
//! principal keys, and each check is evaluated against the role's policies narrowed by the session
//! policy. The result keeps one decision per check, because `DeleteObjects` answers per key.

use crate::policy::{Decision, DecisionEffect, Request, evaluate_with_session};
use crate::role::Roles;
use crate::s3_actions::{Check, RequestFacts, S3ActionError, S3Operation, request_context, required_checks};
use crate::session::Session;

/// The decisions for every check an operation needs, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authorization {
    pub decisions: Vec<(Check, Decision)>,
}

impl Authorization {
    /// The first check that was denied, if any: the request as a whole is refused with it (except
    /// DeleteObjects, whose denied keys are reported one by one).
    pub fn first_denied(&self) -> Option<&(Check, Decision)> {
        self.decisions.iter().find(|(_, d)| !d.is_allowed())
    }

    pub fn is_allowed(&self) -> bool {
        self.first_denied().is_none()
    }
}

/// Decides `op` for `session`. An operation keyless cannot map is an error (the edge denies it).
pub fn authorize_s3(
    session: &Session,
    roles: &Roles,
    op: &S3Operation<'_>,
    facts: &RequestFacts<'_>,
) -> Result<Authorization, S3ActionError> {
    let checks = required_checks(op)?;
    let Some(role) = roles.get(&session.role_arn) else {
        let decisions = checks
            .into_iter()
            .map(|c| {
                let d = Decision {
                    effect: DecisionEffect::ImplicitDeny,
                    statement: None,
                    reason: format!("role {} is no longer configured", session.role_arn),
                };
                (c, d)
            })
            .collect();
        return Ok(Authorization { decisions });
    };
    let mut context = request_context(facts);
    context.extend(&session.policy_context());
    let decisions = checks
        .into_iter()
        .map(|c| {
            let req = Request {
                action: c.action,
                resource: &c.resource,
                principal: None,
                context: &context,
            };
            let d = evaluate_with_session(role.policies(), session.session_policy.as_ref(), &req);
            (c, d)
        })
        .collect();
    Ok(Authorization { decisions })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Policy;
    use crate::role::{Role, RoleArn};
    use crate::session::{SessionClaims, SessionKey, SessionKeys, mint, open};
    use crate::testkit::NOW;
    use crate::trust::TrustPolicy;

    fn roles() -> Roles {
        let trust = TrustPolicy::parse(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRoleWithWebIdentity"}}"#,
        )
        .unwrap();
        let policy = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":[
              {"Effect":"Allow","Action":["s3:GetObject","s3:PutObject","s3:DeleteObject"],"Resource":"arn:aws:s3:::tenants/${keyless:namespace}/*"},
              {"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::tenants","Condition":{"StringLike":{"s3:prefix":"${keyless:namespace}/*"}}},
              {"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::public/*"},
              {"Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#,
        )
        .unwrap();
        let mut roles = Roles::new();
        roles.insert(
            Role::new(
                RoleArn::new("123456789012", "tenant").unwrap(),
                trust,
                vec![("prefix".into(), policy)],
            )
            .unwrap(),
        );
        roles
    }

    fn session(ns: &str, role: &str, session_policy: Option<&str>) -> Session {
        let keys = SessionKeys::new(SessionKey::new(1, &[5; 32]));
        let claims = SessionClaims {
            role_arn: format!("arn:aws:iam::123456789012:role/{role}"),
            session_name: "s".into(),
            subject: format!("system:serviceaccount:{ns}:app"),
            issuer: "https://k8s.example".into(),
            namespace: Some(ns.into()),
            service_account: Some("app".into()),
            pod: None,
            audiences: vec!["sts.amazonaws.com".into()],
            session_policy: session_policy.map(str::to_owned),
            issued_at: NOW,
            expires_at: NOW + 3600,
        };
        let c = mint(&keys, &claims, &crate::SystemRandom::new());
        open(&keys, &c.session_token, &c.access_key_id, NOW).unwrap()
    }

    /// Per-namespace isolation through one role and a policy variable, operation by operation.
    #[test]
    fn namespace_isolation_table() {
        let roles = roles();
        let apps = session("apps", "tenant", None);
        let readonly = session(
            "apps",
            "tenant",
            Some(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}}"#),
        );
        let orphan = session("apps", "deleted", None);
        let keys = ["apps/a".to_owned(), "web/b".to_owned()];
        let secure = RequestFacts {
            secure_transport: true,
            now: NOW,
            ..Default::default()
        };
        let op = |name, bucket, key| S3Operation {
            name,
            bucket: Some(bucket),
            key,
            ..Default::default()
        };
        let rows: Vec<(&str, &Session, S3Operation<'_>, RequestFacts<'_>, Vec<bool>)> = vec![
            (
                "own object",
                &apps,
                op("GetObject", "tenants", Some("apps/db")),
                secure.clone(),
                vec![true],
            ),
            (
                "neighbour's object",
                &apps,
                op("GetObject", "tenants", Some("web/db")),
                secure.clone(),
                vec![false],
            ),
            (
                "own upload part",
                &apps,
                op("UploadPart", "tenants", Some("apps/big")),
                secure.clone(),
                vec![true],
            ),
            (
                "list own prefix",
                &apps,
                op("ListObjectsV2", "tenants", None),
                RequestFacts {
                    prefix: Some("apps/"),
                    ..secure.clone()
                },
                vec![true],
            ),
            (
                "list neighbour",
                &apps,
                op("ListObjectsV2", "tenants", None),
                RequestFacts {
                    prefix: Some("web/"),
                    ..secure.clone()
                },
                vec![false],
            ),
            (
                "list without prefix",
                &apps,
                op("ListObjectsV2", "tenants", None),
                secure.clone(),
                vec![false],
            ),
            (
                "copy from public into own prefix",
                &apps,
                S3Operation {
                    copy_source: Some(("public", "x")),
                    ..op("CopyObject", "tenants", Some("apps/x"))
                },
                secure.clone(),
                vec![true, true],
            ),
            (
                "copy from neighbour",
                &apps,
                S3Operation {
                    copy_source: Some(("tenants", "web/x")),
                    ..op("CopyObject", "tenants", Some("apps/x"))
                },
                secure.clone(),
                vec![true, false],
            ),
            (
                "delete objects, one key foreign",
                &apps,
                S3Operation {
                    delete_keys: &keys,
                    ..op("DeleteObjects", "tenants", None)
                },
                secure.clone(),
                vec![true, false],
            ),
            (
                "plain HTTP denied",
                &apps,
                op("GetObject", "tenants", Some("apps/db")),
                RequestFacts {
                    now: NOW,
                    ..Default::default()
                },
                vec![false],
            ),
            (
                "session policy allows reads",
                &readonly,
                op("GetObject", "tenants", Some("apps/db")),
                secure.clone(),
                vec![true],
            ),
            (
                "session policy narrows writes",
                &readonly,
                op("PutObject", "tenants", Some("apps/db")),
                secure.clone(),
                vec![false],
            ),
            (
                "session policy cannot widen",
                &readonly,
                op("GetObject", "tenants", Some("web/db")),
                secure.clone(),
                vec![false],
            ),
            (
                "role removed",
                &orphan,
                op("GetObject", "tenants", Some("apps/db")),
                secure.clone(),
                vec![false],
            ),
        ];
        for (name, s, op, facts, want) in rows {
            let a = authorize_s3(s, &roles, &op, &facts).unwrap();
            let got: Vec<bool> = a.decisions.iter().map(|(_, d)| d.is_allowed()).collect();
            assert_eq!(got, want, "{name}: {:?}", a.decisions);
            assert_eq!(a.is_allowed(), want.iter().all(|w| *w), "{name}");
        }
        let a = authorize_s3(&orphan, &roles, &op("GetObject", "tenants", Some("apps/db")), &secure).unwrap();
        assert_eq!(
            a.first_denied().unwrap().1.reason,
            "role arn:aws:iam::123456789012:role/deleted is no longer configured"
        );
        assert!(authorize_s3(&apps, &roles, &op("PutBucketPolicy", "tenants", None), &secure).is_err());
    }
}
