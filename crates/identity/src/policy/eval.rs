//! Policy evaluation: which statements apply to a request, and the decision they add up to.

use std::fmt;

use super::condition;
use super::context::RequestContext;
use super::document::{Effect, Matcher, Policy, PolicyVersion, PrincipalMatch, Principals, Statement};
use super::pattern;

/// A policy with the name decisions cite it by (`role/app:inline-0`, `session`, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedPolicy {
    pub name: String,
    pub policy: Policy,
}

impl NamedPolicy {
    pub fn new(name: impl Into<String>, policy: Policy) -> Self {
        Self {
            name: name.into(),
            policy,
        }
    }
}

/// Who is asking, for trust policies (`Principal` elements): e.g. `("Federated",
/// "arn:aws:iam::123456789012:oidc-provider/oidc.example/id/X")`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestPrincipal {
    pub kind: String,
    pub id: String,
}

/// One authorisation question: may `action` be done on `resource` in `context`?
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    pub action: &'a str,
    pub resource: &'a str,
    pub principal: Option<&'a RequestPrincipal>,
    pub context: &'a RequestContext,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecisionEffect {
    Allow,
    ExplicitDeny,
    ImplicitDeny,
}

/// Names a statement: its policy, and its Sid or (without one) its position `#N`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatementRef {
    pub policy: String,
    pub statement: String,
}

impl fmt::Display for StatementRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} statement {}", self.policy, self.statement)
    }
}

/// The outcome of an evaluation, with what decided it and a sentence saying why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub effect: DecisionEffect,
    pub statement: Option<StatementRef>,
    pub reason: String,
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        self.effect == DecisionEffect::Allow
    }
}

/// How far a statement got in applying to a request.
enum Applies {
    Yes,
    NoPrincipal,
    NoAction,
    NoResource,
    /// Action and resource matched but this condition failed.
    ConditionFailed(String),
}

fn statement_ref(policy: &NamedPolicy, index: usize, s: &Statement) -> StatementRef {
    StatementRef {
        policy: policy.name.clone(),
        statement: s.sid.clone().unwrap_or_else(|| format!("#{index}")),
    }
}

fn matches_list(m: &Matcher, f: impl Fn(&str) -> bool) -> bool {
    m.patterns.iter().any(|p| f(p)) != m.negated
}

fn principal_matches(p: &PrincipalMatch, who: Option<&RequestPrincipal>) -> bool {
    let listed = |ps: &Principals| match (ps, who) {
        (Principals::Any, _) => true,
        (Principals::Typed(_), None) => false,
        (Principals::Typed(list), Some(who)) => list
            .iter()
            .any(|(kind, ids)| *kind == who.kind && ids.contains(&who.id)),
    };
    match p {
        PrincipalMatch::Principal(ps) => listed(ps),
        PrincipalMatch::NotPrincipal(ps) => !listed(ps),
    }
}

fn applies(s: &Statement, version: PolicyVersion, req: &Request<'_>) -> Applies {
    let substitute = version == PolicyVersion::V2012_10_17;
    if let Some(p) = &s.principal
        && !principal_matches(p, req.principal)
    {
        return Applies::NoPrincipal;
    }
    // Actions: case-insensitive, no variables.
    if !matches_list(&s.action, |p| {
        pattern::expand(p, None).is_some_and(|p| p.matches(req.action, true))
    }) {
        return Applies::NoAction;
    }
    if let Some(r) = &s.resource {
        let vars = substitute.then_some(req.context);
        if !matches_list(r, |p| {
            pattern::expand(p, vars).is_some_and(|p| p.matches(req.resource, false))
        }) {
            return Applies::NoResource;
        }
    }
    for c in &s.conditions {
        if let Err(why) = condition::holds(&c.operator, &c.key, &c.values, req.context, substitute) {
            return Applies::ConditionFailed(why);
        }
    }
    Applies::Yes
}

/// Evaluates `policies` together (a role's permission policies, or a trust policy alone): an
/// explicit Deny wins, else any Allow allows, else the request is implicitly denied.
pub fn evaluate(policies: &[NamedPolicy], req: &Request<'_>) -> Decision {
    let mut allow: Option<StatementRef> = None;
    let mut near_miss: Option<(StatementRef, String)> = None;
    for policy in policies {
        for (i, s) in policy.policy.statements.iter().enumerate() {
            match applies(s, policy.policy.version, req) {
                Applies::Yes => match s.effect {
                    Effect::Deny => {
                        let at = statement_ref(policy, i, s);
                        return Decision {
                            effect: DecisionEffect::ExplicitDeny,
                            reason: format!("{} on {} is explicitly denied by {at}", req.action, req.resource),
                            statement: Some(at),
                        };
                    }
                    Effect::Allow => {
                        allow.get_or_insert_with(|| statement_ref(policy, i, s));
                    }
                },
                Applies::ConditionFailed(why) if s.effect == Effect::Allow && near_miss.is_none() => {
                    near_miss = Some((statement_ref(policy, i, s), why));
                }
                Applies::ConditionFailed(_) | Applies::NoPrincipal | Applies::NoAction | Applies::NoResource => {}
            }
        }
    }
    match (allow, near_miss) {
        (Some(at), _) => Decision {
            effect: DecisionEffect::Allow,
            reason: format!("{} on {} is allowed by {at}", req.action, req.resource),
            statement: Some(at),
        },
        (None, Some((at, why))) => Decision {
            effect: DecisionEffect::ImplicitDeny,
            reason: format!(
                "{at} covers {} on {} but its condition failed: {why}",
                req.action, req.resource
            ),
            statement: Some(at),
        },
        (None, None) => Decision {
            effect: DecisionEffect::ImplicitDeny,
            reason: format!("no statement allows {} on {}", req.action, req.resource),
            statement: None,
        },
    }
}

/// Evaluates identity policies narrowed by a session policy: the request must be allowed by both,
/// and an explicit Deny in either wins. A session policy never widens what the role allows.
pub fn evaluate_with_session(identity: &[NamedPolicy], session: Option<&NamedPolicy>, req: &Request<'_>) -> Decision {
    let role = evaluate(identity, req);
    let Some(session) = session else { return role };
    let narrowed = evaluate(std::slice::from_ref(session), req);
    match (role.effect, narrowed.effect) {
        (DecisionEffect::ExplicitDeny, _) => role,
        (_, DecisionEffect::ExplicitDeny) => narrowed,
        (DecisionEffect::Allow, DecisionEffect::Allow) => role,
        (DecisionEffect::Allow, _) => Decision {
            effect: DecisionEffect::ImplicitDeny,
            reason: format!(
                "the role allows it ({}), but the session policy does not: {}",
                role.reason, narrowed.reason
            ),
            statement: narrowed.statement,
        },
        _ => role,
    }
}
