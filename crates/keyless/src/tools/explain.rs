//! `keyless explain`: would this work, and if not, why — step by step, with the server's own code.
//!
//! 1. **token**: verified as STS verifies it (`token::check`), or, with `--sub/--aud/--issuer`,
//!    claims taken from the command line (issuer and issuer audiences checked; signature and expiry
//!    not, and the output says so). A refused token is still followed through the next steps with
//!    its *unverified* claims, so one run shows every problem.
//! 2. **role**: `--role` by name (in the configured account) or ARN.
//! 3. **trust**: the role's trust policy (`TrustPolicy::evaluate` for a verified token; the same
//!    evaluation over the given claims otherwise) → allow/deny and the statement or condition that
//!    decided.
//! 4. **permissions** (with `--op` or `--action`): a throwaway session is minted and opened for the
//!    identity — so the context has exactly the keys a real session has (`keyless:*`, `aws:userid`,
//!    ...) — and every IAM check of the operation is decided by `authz::authorize_s3`, as the S3
//!    front decides it, with `--source-ip`, `--secure`, `--prefix`, ... as the request's facts.
//!
//! The verdict is allowed only if every step allows. Nothing here decides on its own.

use std::net::IpAddr;

use keyless_identity::Random as _;
use keyless_identity::authz::authorize_s3;
use keyless_identity::policy::{
    Decision, DecisionEffect, NamedPolicy, Request, RequestContext, RequestPrincipal, evaluate, evaluate_with_session,
};
use keyless_identity::role::{Role, RoleArn, Roles};
use keyless_identity::s3_actions::{RequestFacts, S3Operation, request_context, required_checks};
use keyless_identity::session::{self, Session, SessionClaims, SessionKey, SessionKeys};
use keyless_identity::token::VerifiedToken;
use keyless_identity::trust::{ASSUME_ROLE_WITH_WEB_IDENTITY, WebIdentity, provider_arn};
use serde_json::{Value, json};

use super::token::{Refusal, check};
use super::{Decoded, time, usage};
use crate::cli::ExplainArgs;
use crate::config::identity::IdentityConfig;

/// The identity the steps after the token are evaluated for.
#[derive(Debug, Clone, Default)]
struct Who {
    issuer: String,
    subject: String,
    audiences: Vec<String>,
    namespace: Option<String>,
    service_account: Option<String>,
    pod: Option<String>,
}

impl Who {
    fn of_token(t: &VerifiedToken) -> Self {
        let k = t.kubernetes.as_ref();
        Self {
            issuer: t.issuer.clone(),
            subject: t.subject.clone(),
            audiences: t.audiences.clone(),
            namespace: k.map(|k| k.namespace.clone()),
            service_account: k.map(|k| k.service_account.name.clone()),
            pod: k.and_then(|k| k.pod.as_ref()).map(|p| p.name.clone()),
        }
    }

    /// From unverified claims (a refused token): `None` without `iss` and `sub`.
    fn of_decoded(d: &Decoded) -> Option<Self> {
        let k8s = d.claims.as_ref().and_then(|c| c.get("kubernetes.io"));
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
        Some(Self {
            issuer: d.claim_str("iss")?.to_owned(),
            subject: d.claim_str("sub")?.to_owned(),
            audiences: d.audiences(),
            namespace: text(k8s.and_then(|k| k.get("namespace"))),
            service_account: text(k8s.and_then(|k| k.get("serviceaccount")).and_then(|s| s.get("name"))),
            pod: text(k8s.and_then(|k| k.get("pod")).and_then(|s| s.get("name"))),
        })
    }

    /// From `--sub system:serviceaccount:NS:NAME`: namespace and name as a kubelet token carries them.
    fn of_claims(issuer: String, subject: String, audiences: Vec<String>) -> Self {
        let (namespace, service_account) = match subject.strip_prefix("system:serviceaccount:").map(|r| r.split(':')) {
            Some(mut parts) => match (parts.next(), parts.next(), parts.next()) {
                (Some(ns), Some(name), None) => (Some(ns.to_owned()), Some(name.to_owned())),
                _ => (None, None),
            },
            None => (None, None),
        };
        Self {
            issuer,
            subject,
            audiences,
            namespace,
            service_account,
            pod: None,
        }
    }

    fn web_identity(&self) -> WebIdentity<'_> {
        WebIdentity {
            issuer: &self.issuer,
            subject: &self.subject,
            audiences: &self.audiences,
            namespace: self.namespace.as_deref(),
            service_account: self.service_account.as_deref(),
            pod: self.pod.as_deref(),
        }
    }
}

/// Step one's outcome.
struct TokenStep {
    /// `token` or `claims` (from the command line).
    mode: &'static str,
    refusal: Option<Refusal>,
    who: Option<Who>,
    verified: Option<VerifiedToken>,
}

/// What the request to check is (stage two of `--op`/`--action` and the context flags).
enum Ask {
    AssumeOnly,
    Operation,
    Action { action: String, resource: String },
}

fn effect_word(e: DecisionEffect) -> &'static str {
    match e {
        DecisionEffect::Allow => "ALLOW",
        DecisionEffect::ExplicitDeny => "DENY (explicit)",
        DecisionEffect::ImplicitDeny => "DENY (implicit)",
    }
}

fn effect_json(e: DecisionEffect) -> &'static str {
    match e {
        DecisionEffect::Allow => "Allow",
        DecisionEffect::ExplicitDeny => "ExplicitDeny",
        DecisionEffect::ImplicitDeny => "ImplicitDeny",
    }
}

fn decision_json(d: &Decision) -> Value {
    json!({
        "effect": effect_json(d.effect),
        "policy": d.statement.as_ref().map(|s| s.policy.clone()),
        "statement": d.statement.as_ref().map(|s| s.statement.clone()),
        "reason": d.reason,
    })
}

/// The trust decision over claims that did not come from a verified token: the same evaluation as
/// `TrustPolicy::evaluate` (same principal, action, resource and context keys).
fn trust_of_claims(role: &Role, who: &Who, account: &str) -> Decision {
    let context = who.web_identity().context(account);
    let principal = RequestPrincipal {
        kind: "Federated".into(),
        id: provider_arn(account, &who.issuer),
    };
    evaluate(
        &[NamedPolicy::new("trust", role.trust().policy().clone())],
        &Request {
            action: ASSUME_ROLE_WITH_WEB_IDENTITY,
            resource: "*",
            principal: Some(&principal),
            context: &context,
        },
    )
}

/// Mistakes in a trust policy that make it deny every token, said plainly.
fn trust_hints(role: &Role) -> Vec<String> {
    role.trust()
        .policy()
        .statements
        .iter()
        .flat_map(|s| &s.conditions)
        .filter(|c| c.key.starts_with("https://") || c.key.starts_with("http://"))
        .map(|c| {
            let bare = c.key.split_once("://").map_or(c.key.as_str(), |(_, rest)| rest);
            format!(
                "condition key {:?} names the issuer with its scheme; IAM keys do not: write {bare:?}",
                c.key
            )
        })
        .collect()
}

/// A session for `who` on `role`, minted and opened with a throwaway key: its `policy_context` is
/// exactly what a real session's requests are judged with.
fn throwaway_session(role: &Role, who: &Who, session_name: &str, now: i64) -> anyhow::Result<Session> {
    let mut secret = [0u8; 32];
    keyless_identity::SystemRandom::new().fill(&mut secret);
    let keys = SessionKeys::new(SessionKey::new(1, &secret));
    let claims = SessionClaims {
        role_arn: role.arn().to_string(),
        session_name: session_name.to_owned(),
        subject: who.subject.clone(),
        issuer: who.issuer.clone(),
        namespace: who.namespace.clone(),
        service_account: who.service_account.clone(),
        pod: who.pod.clone(),
        audiences: who.audiences.clone(),
        session_policy: None,
        issued_at: now,
        expires_at: now + i64::from(role.max_session_duration()),
    };
    let c = session::mint(&keys, &claims, &keyless_identity::SystemRandom::new());
    Ok(session::open(&keys, &c.session_token, &c.access_key_id, now)?)
}

fn context_line(ctx: &RequestContext) -> String {
    let mut out: Vec<String> = ctx
        .iter()
        .filter_map(|(k, v)| {
            let shown = match k.to_ascii_lowercase().as_str() {
                "aws:sourceip" => "aws:SourceIp",
                "aws:securetransport" => "aws:SecureTransport",
                "s3:prefix" => "s3:prefix",
                "s3:delimiter" => "s3:delimiter",
                "s3:max-keys" => "s3:max-keys",
                _ => return None,
            };
            Some(format!("{shown}={}", v.join(",")))
        })
        .collect();
    out.sort();
    out.join(" ")
}

/// `keyless explain`: `Ok(true)` allowed, `Ok(false)` denied.
pub fn run(args: &ExplainArgs) -> anyhow::Result<bool> {
    // Stage two of the flags, before anything is loaded.
    let token = super::read_token(&args.input, None)?;
    if token.is_none() && args.sub.is_none() {
        return Err(usage(
            "give a token (--token-file FILE or --token JWT) or its claims (--sub system:serviceaccount:NS:NAME \
             [--aud A] [--issuer URL])",
        ));
    }
    let now = super::now(args.output.now.as_deref())?;
    let source_ip: Option<IpAddr> = match &args.source_ip {
        None => None,
        Some(s) => Some(
            s.parse()
                .map_err(|_| usage(format!("--source-ip {s:?} is not an IP address")))?,
        ),
    };
    let copy_source = match &args.copy_source {
        None => None,
        Some(s) => Some(
            s.trim_start_matches('/')
                .split_once('/')
                .ok_or_else(|| usage(format!("--copy-source {s:?} is not BUCKET/KEY")))?,
        ),
    };
    let op = S3Operation {
        name: args.op.as_deref().unwrap_or_default(),
        bucket: args.bucket.as_deref(),
        key: args.key.as_deref(),
        copy_source,
        delete_keys: &args.delete_keys,
        sets_tags: args.with_tags,
    };
    let ask = match (&args.op, &args.action, &args.resource) {
        (Some(_), _, _) => {
            required_checks(&op).map_err(|e| usage(format!("--op: {e}")))?;
            Ask::Operation
        }
        (None, Some(a), Some(r)) => Ask::Action {
            action: a.clone(),
            resource: r.clone(),
        },
        _ => Ask::AssumeOnly,
    };
    let facts = RequestFacts {
        source_ip,
        secure_transport: args.secure,
        now,
        prefix: args.prefix.as_deref(),
        delimiter: args.delimiter.as_deref(),
        max_keys: args.max_keys,
    };

    let identity = super::load_identity(&args.config)?;
    let cache = super::key_cache(&identity)?;
    let role_arn: RoleArn = if args.role.starts_with("arn:") {
        args.role
            .parse()
            .map_err(|e| usage(format!("--role {:?}: {e}", args.role)))?
    } else {
        RoleArn::new(&identity.account_id, &args.role).map_err(|e| usage(format!("--role {:?}: {e}", args.role)))?
    };

    // 1. token
    let step = match &token {
        Some(t) => {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            match runtime.block_on(check(&cache, &identity, t, now)) {
                Ok(v) => TokenStep {
                    mode: "token",
                    refusal: None,
                    who: Some(Who::of_token(&v)),
                    verified: Some(v),
                },
                Err(r) => TokenStep {
                    mode: "token",
                    refusal: Some(r),
                    who: Who::of_decoded(&Decoded::of(t)),
                    verified: None,
                },
            }
        }
        None => claims_step(args, &identity)?,
    };

    // 2. role, 3. trust, 4. permissions
    let roles = {
        let mut r = Roles::new();
        for role in &identity.roles {
            r.insert(role.clone());
        }
        r
    };
    let role = roles.get(&role_arn);
    let trust = match (role, &step.who) {
        (Some(role), Some(who)) => Some(match &step.verified {
            Some(v) => role.trust().evaluate(v, role_arn.account()),
            None => trust_of_claims(role, who, role_arn.account()),
        }),
        _ => None,
    };
    let mut context = request_context(&facts);
    // (action, resource, decision) per IAM check.
    let permissions: Option<Vec<(String, String, Decision)>> = match (role, &step.who, &ask) {
        (Some(role), Some(who), Ask::Operation) => {
            let session = throwaway_session(role, who, &args.session_name, now)?;
            context.extend(&session.policy_context());
            let decisions = authorize_s3(&session, &roles, &op, &facts)?.decisions;
            Some(
                decisions
                    .into_iter()
                    .map(|(c, d)| (c.action.to_owned(), c.resource, d))
                    .collect(),
            )
        }
        (Some(role), Some(who), Ask::Action { action, resource }) => {
            let session = throwaway_session(role, who, &args.session_name, now)?;
            context.extend(&session.policy_context());
            let d = evaluate_with_session(
                role.policies(),
                session.session_policy.as_ref(),
                &Request {
                    action,
                    resource,
                    principal: None,
                    context: &context,
                },
            );
            Some(vec![(action.clone(), resource.clone(), d)])
        }
        _ => None,
    };

    // The verdict: the first step that does not allow.
    let configured_roles: Vec<String> = roles.iter().map(|r| r.arn().to_string()).collect();
    let denied_at: Option<(&str, String)> = if let Some(r) = &step.refusal {
        Some(("token", r.reason.clone()))
    } else if role.is_none() {
        Some((
            "role",
            format!(
                "role {role_arn} is not configured (configured roles: {})",
                if configured_roles.is_empty() {
                    "none".to_owned()
                } else {
                    configured_roles.join(", ")
                }
            ),
        ))
    } else if let Some(d) = trust.as_ref().filter(|d| !d.is_allowed()) {
        Some(("trust", d.reason.clone()))
    } else if let Some((_, _, d)) = permissions.iter().flatten().find(|(_, _, d)| !d.is_allowed()) {
        Some(("permissions", d.reason.clone()))
    } else {
        None
    };
    let allowed = denied_at.is_none();

    if args.output.json {
        let who = step.who.as_ref();
        let out = json!({
            "allowed": allowed,
            "verdict": if allowed { "allowed" } else { "denied" },
            "denied_at": denied_at.as_ref().map(|(s, _)| *s),
            "reason": denied_at.as_ref().map(|(_, r)| r.clone()),
            "now": time(now),
            "token": {
                "mode": step.mode,
                "valid": step.refusal.is_none(),
                "signature_checked": step.mode == "token",
                "expiry_checked": step.mode == "token",
                "code": step.refusal.as_ref().map(|r| r.code),
                "reason": step.refusal.as_ref().map(|r| r.reason.clone()),
                "issuer": who.map(|w| w.issuer.clone()),
                "subject": who.map(|w| w.subject.clone()),
                "audiences": who.map(|w| w.audiences.clone()),
                "namespace": who.and_then(|w| w.namespace.clone()),
                "service_account": who.and_then(|w| w.service_account.clone()),
            },
            "role": {"arn": role_arn.to_string(), "configured": role.is_some()},
            "trust": trust.as_ref().map(decision_json),
            "hints": role.map(trust_hints).unwrap_or_default(),
            "permissions": permissions.as_ref().map(|ps| json!({
                "operation": args.op,
                "context": context_line(&context),
                "checks": ps.iter().map(|(action, resource, d)| {
                    let mut v = decision_json(d);
                    v["action"] = json!(action);
                    v["resource"] = json!(resource);
                    v
                }).collect::<Vec<_>>(),
            })),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(allowed);
    }

    let who_text = |w: &Who| {
        format!(
            "subject {:?}, issuer {:?}, audiences {:?}",
            w.subject, w.issuer, w.audiences
        )
    };
    match (&step.mode, &step.refusal, &step.who) {
        (&"token", None, Some(w)) => {
            let exp = step.verified.as_ref().map(|v| time(v.expires_at)).unwrap_or_default();
            println!("token: valid — {}; expires {exp}", who_text(w));
        }
        (&"token", Some(r), w) => {
            println!("token: INVALID — {}", r.reason);
            match w {
                Some(w) => println!("       (the steps below use its UNVERIFIED claims: {})", who_text(w)),
                None => println!("       (no iss and sub can be read from it; nothing more to check)"),
            }
        }
        (_, None, Some(w)) => println!(
            "token: none — claims from the command line ({}); signature and expiry NOT checked",
            who_text(w)
        ),
        (_, Some(r), w) => {
            println!("token: claims from the command line REFUSED — {}", r.reason);
            if let Some(w) = w {
                println!("       (the steps below use them anyway: {})", who_text(w));
            }
        }
        _ => {}
    }
    match role {
        Some(r) => println!(
            "role: {role_arn} (max session {}s, permission policies: {})",
            r.max_session_duration(),
            r.policies().len()
        ),
        None => println!(
            "role: {role_arn} is NOT configured (configured roles: {})",
            if configured_roles.is_empty() {
                "none".to_owned()
            } else {
                configured_roles.join(", ")
            }
        ),
    }
    if let Some(d) = &trust {
        println!("trust: {} — {}", effect_word(d.effect), d.reason);
        if !d.is_allowed() {
            for hint in role.map(trust_hints).unwrap_or_default() {
                println!("       hint: {hint}");
            }
        }
    }
    if let Some(ps) = &permissions {
        let what = args.op.clone().unwrap_or_else(|| "the action".to_owned());
        println!(
            "permissions: {what} needs {} check(s); request context: {}",
            ps.len(),
            context_line(&context)
        );
        for (action, resource, d) in ps {
            println!("  {action} on {resource}: {} — {}", effect_word(d.effect), d.reason);
        }
    } else if matches!(ask, Ask::AssumeOnly) {
        println!("permissions: not asked (give --op/--bucket/--key or --action/--resource)");
    }
    match &denied_at {
        None => println!("verdict: ALLOWED"),
        Some((at, why)) => println!("verdict: DENIED at {at}: {why}"),
    }
    Ok(allowed)
}

/// Step one without a token: the claims given on the command line, with the claim checks that need
/// no signature (issuer configured, issuer's audiences).
fn claims_step(args: &ExplainArgs, identity: &IdentityConfig) -> anyhow::Result<TokenStep> {
    let subject = args.sub.clone().expect("checked by the caller");
    let audiences = if args.audiences.is_empty() {
        vec!["sts.amazonaws.com".to_owned()]
    } else {
        args.audiences.clone()
    };
    let issuer = match (&args.issuer, identity.issuers.as_slice()) {
        (Some(i), _) => i.clone(),
        (None, [only]) => only.issuer.clone(),
        (None, _) => {
            return Err(usage(format!(
                "give --issuer: {} issuers are configured",
                identity.issuers.len()
            )));
        }
    };
    let who = Who::of_claims(issuer.clone(), subject, audiences.clone());
    let refusal = match identity.issuers.iter().find(|s| s.issuer == issuer) {
        None => Some(Refusal {
            code: "issuer_not_configured",
            reason: format!(
                "issuer {issuer:?} is not configured (configured issuers: {})",
                identity
                    .issuers
                    .iter()
                    .map(|s| format!("{:?}", s.issuer))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
        Some(s) if !s.audiences.is_empty() && !audiences.iter().any(|a| s.audiences.contains(a)) => Some(Refusal {
            code: "wrong_audience",
            reason: format!(
                "wrong audience: {audiences:?} holds none of {:?}, the audiences issuer {issuer:?} accepts",
                s.audiences
            ),
        }),
        Some(_) => None,
    };
    Ok(TokenStep {
        mode: "claims",
        refusal,
        who: Some(who),
        verified: None,
    })
}
