//! Trust policies: which web identities may assume a role.
//!
//! The AWS form is an ordinary policy evaluated by the policy engine with action
//! `sts:AssumeRoleWithWebIdentity`, the principal `Federated:
//! arn:aws:iam::<account>:oidc-provider/<issuer-host-path>`, and the token's claims as context:
//! `<issuer-host-path>:sub` and `:aud` (host and path *without* the scheme — the key AWS uses), plus
//! keyless's keys (`keyless:namespace`, `keyless:serviceaccount`, `keyless:sub`, ... — the table is in
//! `policy`'s module docs). The short form ([`TrustShortForm`]: an issuer, its audiences and a list of
//! `namespace/name` service accounts, `*` allowed) expands to exactly that AWS form.

use serde_json::json;
use thiserror::Error;

use crate::policy::{Decision, NamedPolicy, Policy, PolicyError, Request, RequestContext, RequestPrincipal, evaluate};
use crate::token::{VerifiedToken, issuer_host_path};

/// The one action a trust policy is asked about.
pub const ASSUME_ROLE_WITH_WEB_IDENTITY: &str = "sts:AssumeRoleWithWebIdentity";

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum TrustError {
    #[error("trust policy: {0}")]
    Policy(#[from] PolicyError),
    #[error("trust short form: service account {0:?} is not \"namespace/name\" (\"*\" allowed, no ':')")]
    BadServiceAccount(String),
    #[error("trust short form: at least one audience is required")]
    NoAudience,
    #[error("trust short form: at least one service account is required")]
    NoServiceAccount,
}

/// A role's trust policy (always held in the AWS form).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustPolicy {
    policy: NamedPolicy,
}

/// The ARN of the OIDC provider AWS names an issuer by.
pub fn provider_arn(account: &str, iss: &str) -> String {
    format!("arn:aws:iam::{account}:oidc-provider/{}", issuer_host_path(iss))
}

/// The identity facts of a web identity, from a fresh token or a session opened later.
#[derive(Clone, Copy, Debug)]
pub struct WebIdentity<'a> {
    pub issuer: &'a str,
    pub subject: &'a str,
    pub audiences: &'a [String],
    pub namespace: Option<&'a str>,
    pub service_account: Option<&'a str>,
    pub pod: Option<&'a str>,
}

impl<'a> WebIdentity<'a> {
    pub fn of_token(token: &'a VerifiedToken) -> Self {
        let k8s = token.kubernetes.as_ref();
        Self {
            issuer: &token.issuer,
            subject: &token.subject,
            audiences: &token.audiences,
            namespace: k8s.map(|k| k.namespace.as_str()),
            service_account: k8s.map(|k| k.service_account.name.as_str()),
            pod: k8s.and_then(|k| k.pod.as_ref()).map(|p| p.name.as_str()),
        }
    }

    /// The condition keys (and policy variables) this identity brings: `<issuer-host-path>:sub`,
    /// `:aud`, `keyless:sub`, `keyless:issuer`, `keyless:aud`, `keyless:namespace`,
    /// `keyless:serviceaccount`, `keyless:pod`, and `aws:FederatedProvider` (the provider ARN).
    pub fn context(&self, account: &str) -> RequestContext {
        let mut ctx = RequestContext::new();
        let host_path = issuer_host_path(self.issuer);
        ctx.insert(&format!("{host_path}:sub"), self.subject);
        ctx.insert_multi(&format!("{host_path}:aud"), self.audiences.iter().cloned());
        ctx.insert("keyless:sub", self.subject);
        ctx.insert("keyless:issuer", self.issuer);
        ctx.insert_multi("keyless:aud", self.audiences.iter().cloned());
        if let Some(ns) = self.namespace {
            ctx.insert("keyless:namespace", ns);
        }
        if let Some(sa) = self.service_account {
            ctx.insert("keyless:serviceaccount", sa);
        }
        if let Some(pod) = self.pod {
            ctx.insert("keyless:pod", pod);
        }
        ctx.insert("aws:FederatedProvider", provider_arn(account, self.issuer));
        ctx
    }
}

impl TrustPolicy {
    /// A trust policy in the AWS JSON form.
    pub fn parse(json: &str) -> Result<Self, TrustError> {
        Self::from_policy(Policy::parse(json)?)
    }

    pub fn from_policy(policy: Policy) -> Result<Self, TrustError> {
        policy.check_trust_policy()?;
        Ok(Self {
            policy: NamedPolicy::new("trust", policy),
        })
    }

    pub fn policy(&self) -> &Policy {
        &self.policy.policy
    }

    /// May this token assume a role of `account` under this policy?
    pub fn evaluate(&self, token: &VerifiedToken, account: &str) -> Decision {
        self.evaluate_identity(&WebIdentity::of_token(token), account)
    }

    /// The same decision for a web identity's facts (a verified token's, or a fuzz target's).
    pub fn evaluate_identity(&self, identity: &WebIdentity<'_>, account: &str) -> Decision {
        let context = identity.context(account);
        let principal = RequestPrincipal {
            kind: "Federated".into(),
            id: provider_arn(account, identity.issuer),
        };
        evaluate(
            std::slice::from_ref(&self.policy),
            &Request {
                action: ASSUME_ROLE_WITH_WEB_IDENTITY,
                resource: "*",
                principal: Some(&principal),
                context: &context,
            },
        )
    }
}

/// "These service accounts of this issuer, with this audience": `service_accounts` are
/// `namespace/name`, either part may use `*` and `?` wildcards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustShortForm {
    pub issuer: String,
    pub audiences: Vec<String>,
    pub service_accounts: Vec<String>,
}

impl TrustShortForm {
    /// The equivalent AWS-form policy document.
    pub fn to_aws_json(&self, account: &str) -> Result<serde_json::Value, TrustError> {
        if self.audiences.is_empty() {
            return Err(TrustError::NoAudience);
        }
        if self.service_accounts.is_empty() {
            return Err(TrustError::NoServiceAccount);
        }
        let subjects = self
            .service_accounts
            .iter()
            .map(|sa| match sa.split_once('/') {
                Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !sa.contains(':') && !name.contains('/') => {
                    Ok(format!("system:serviceaccount:{ns}:{name}"))
                }
                _ => Err(TrustError::BadServiceAccount(sa.clone())),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let host_path = issuer_host_path(&self.issuer);
        Ok(json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn(account, &self.issuer)},
                "Action": ASSUME_ROLE_WITH_WEB_IDENTITY,
                "Condition": {
                    "StringEquals": {format!("{host_path}:aud"): self.audiences},
                    "StringLike": {format!("{host_path}:sub"): subjects},
                }
            }]
        }))
    }

    pub fn expand(&self, account: &str) -> Result<TrustPolicy, TrustError> {
        TrustPolicy::parse(&self.to_aws_json(account)?.to_string())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::jwks::KeySet;
    use crate::policy::DecisionEffect;
    use crate::testkit::{self, NOW, jwt, sa_claims};
    use crate::token::{Issuer, Validation, verify};

    const ISS: &str = "https://oidc.cluster-a.example/id/ABC";
    const ACCOUNT: &str = "123456789012";

    /// A verified token for `ns/name` with audience `aud`, issued by `iss`.
    fn token(iss: &str, ns: &str, name: &str, aud: &str) -> VerifiedToken {
        let key = testkit::rsa_a();
        let mut claims = sa_claims(iss, aud);
        claims["sub"] = json!(format!("system:serviceaccount:{ns}:{name}"));
        claims["kubernetes.io"]["namespace"] = json!(ns);
        claims["kubernetes.io"]["serviceaccount"]["name"] = json!(name);
        let t = jwt(&json!({"alg":"RS256","kid":"k"}), &claims, |m| {
            key.sign(crate::jwks::Algorithm::RS256, m)
        });
        let issuer = Issuer::new(iss, KeySet::from_keys(vec![key.jwk(Some("k"), None)]));
        verify(&t, &issuer, NOW, &Validation::default()).unwrap()
    }

    fn check(policy: &TrustPolicy, rows: &[(&str, VerifiedToken, DecisionEffect)]) {
        for (name, token, want) in rows {
            let d = policy.evaluate(token, ACCOUNT);
            assert_eq!(d.effect, *want, "{name}: {}", d.reason);
        }
    }

    #[test]
    fn aws_form() {
        let policy = TrustPolicy::parse(&format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow",
              "Principal":{{"Federated":"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.cluster-a.example/id/ABC"}},
              "Action":"sts:AssumeRoleWithWebIdentity",
              "Condition":{{"StringEquals":{{"oidc.cluster-a.example/id/ABC:aud":"sts.amazonaws.com"}},
                           "StringLike":{{"oidc.cluster-a.example/id/ABC:sub":"system:serviceaccount:apps:*"}}}}}},
              {{"Effect":"Deny","Principal":"*","Action":"sts:AssumeRoleWithWebIdentity",
               "Condition":{{"StringEquals":{{"keyless:serviceaccount":"default"}}}}}}]}}"#
        ))
        .unwrap();
        use DecisionEffect::*;
        check(
            &policy,
            &[
                (
                    "matching sub and aud",
                    token(ISS, "apps", "litestream", "sts.amazonaws.com"),
                    Allow,
                ),
                (
                    "other namespace",
                    token(ISS, "web", "litestream", "sts.amazonaws.com"),
                    ImplicitDeny,
                ),
                (
                    "other audience",
                    token(ISS, "apps", "litestream", "vault"),
                    ImplicitDeny,
                ),
                (
                    "keyless key in a Deny",
                    token(ISS, "apps", "default", "sts.amazonaws.com"),
                    ExplicitDeny,
                ),
                (
                    "other issuer: principal differs",
                    token(
                        "https://oidc.cluster-b.example/id/ABC",
                        "apps",
                        "x",
                        "sts.amazonaws.com",
                    ),
                    ImplicitDeny,
                ),
            ],
        );
        // Another account's provider ARN never matches.
        let t = token(ISS, "apps", "litestream", "sts.amazonaws.com");
        assert_eq!(policy.evaluate(&t, "999999999999").effect, ImplicitDeny);
    }

    /// sts-wire.md: the condition key is the issuer's host and path without the scheme. Keys written
    /// with the scheme, or as the provider ARN, are simply absent from the context: the condition
    /// fails and the role is not assumed.
    #[test]
    fn condition_key_is_host_and_path() {
        let t = token(ISS, "apps", "litestream", "sts.amazonaws.com");
        let rows = [
            ("oidc.cluster-a.example/id/ABC:sub", DecisionEffect::Allow),
            (
                "https://oidc.cluster-a.example/id/ABC:sub",
                DecisionEffect::ImplicitDeny,
            ),
            (
                "arn:aws:iam::123456789012:oidc-provider/oidc.cluster-a.example/id/ABC:sub",
                DecisionEffect::ImplicitDeny,
            ),
            ("OIDC.CLUSTER-A.EXAMPLE/id/ABC:sub", DecisionEffect::Allow), // condition keys are case-insensitive
            ("keyless:sub", DecisionEffect::Allow),
        ];
        for (key, want) in rows {
            let policy = TrustPolicy::parse(&format!(
                r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{{"Federated":"{}"}},
                  "Action":"sts:AssumeRoleWithWebIdentity","Condition":{{"StringEquals":{{"{key}":"system:serviceaccount:apps:litestream"}}}}}}}}"#,
                provider_arn(ACCOUNT, ISS)
            ))
            .unwrap();
            assert_eq!(policy.evaluate(&t, ACCOUNT).effect, want, "{key}");
        }
    }

    #[test]
    fn keyless_namespace_keys() {
        let policy = TrustPolicy::parse(&format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{{"Federated":"{}"}},
              "Action":"sts:AssumeRoleWithWebIdentity",
              "Condition":{{"StringEquals":{{"keyless:namespace":["apps","jobs"]}},"StringNotEquals":{{"keyless:serviceaccount":"default"}}}}}}}}"#,
            provider_arn(ACCOUNT, ISS)
        ))
        .unwrap();
        use DecisionEffect::*;
        check(
            &policy,
            &[
                ("apps/db", token(ISS, "apps", "db", "a"), Allow),
                ("jobs/x", token(ISS, "jobs", "x", "a"), Allow),
                ("apps/default", token(ISS, "apps", "default", "a"), ImplicitDeny),
                ("web/db", token(ISS, "web", "db", "a"), ImplicitDeny),
            ],
        );
    }

    #[test]
    fn short_form() {
        let short = TrustShortForm {
            issuer: ISS.into(),
            audiences: vec!["sts.amazonaws.com".into()],
            service_accounts: vec!["apps/litestream".into(), "jobs/*".into()],
        };
        assert_eq!(
            short.to_aws_json(ACCOUNT).unwrap(),
            json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow",
                "Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/oidc.cluster-a.example/id/ABC"},
                "Action":"sts:AssumeRoleWithWebIdentity",
                "Condition":{"StringEquals":{"oidc.cluster-a.example/id/ABC:aud":["sts.amazonaws.com"]},
                             "StringLike":{"oidc.cluster-a.example/id/ABC:sub":["system:serviceaccount:apps:litestream","system:serviceaccount:jobs:*"]}}}]})
        );
        let policy = short.expand(ACCOUNT).unwrap();
        use DecisionEffect::*;
        check(
            &policy,
            &[
                ("listed", token(ISS, "apps", "litestream", "sts.amazonaws.com"), Allow),
                (
                    "same namespace, other account",
                    token(ISS, "apps", "web", "sts.amazonaws.com"),
                    ImplicitDeny,
                ),
                (
                    "wildcard namespace",
                    token(ISS, "jobs", "anything", "sts.amazonaws.com"),
                    Allow,
                ),
                (
                    "wrong audience",
                    token(ISS, "apps", "litestream", "keyless"),
                    ImplicitDeny,
                ),
                (
                    "another issuer",
                    token("https://other.example", "apps", "litestream", "sts.amazonaws.com"),
                    ImplicitDeny,
                ),
            ],
        );
        let bad = |sa: &str| {
            TrustShortForm {
                service_accounts: vec![sa.into()],
                ..short.clone()
            }
            .expand(ACCOUNT)
        };
        for sa in ["apps", "/x", "apps/", "a:b/c", "a/b/c", ""] {
            assert_eq!(bad(sa), Err(TrustError::BadServiceAccount(sa.into())), "{sa}");
        }
        assert_eq!(
            TrustShortForm {
                audiences: vec![],
                ..short.clone()
            }
            .expand(ACCOUNT),
            Err(TrustError::NoAudience)
        );
        assert_eq!(
            TrustShortForm {
                service_accounts: vec![],
                ..short
            }
            .expand(ACCOUNT),
            Err(TrustError::NoServiceAccount)
        );
    }
}
