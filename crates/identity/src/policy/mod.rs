//! IAM policies: documents, the request context, and an evaluator that decides like AWS.
//!
//! - `document`: the JSON grammar ([`Policy`], [`Statement`]).
//! - `context`: the condition keys of one request ([`RequestContext`]).
//! - `condition`: the operators and their semantics on absent and multivalued keys.
//! - `pattern`: `${...}` policy variables and `*`/`?` wildcards.
//! - `eval`: [`evaluate`] and [`evaluate_with_session`], returning a [`Decision`] that says which
//!   statement decided and why.
//!
//! Policy variables are ordinary context keys, so every key keyless puts in the context can be
//! written `${key}` in a Resource or a condition value. keyless's own keys (set for every request
//! made with temporary credentials, and for trust-policy evaluation):
//!
//! | key | value |
//! |---|---|
//! | `keyless:sub` | the token's `sub` (`system:serviceaccount:NS:NAME`) |
//! | `keyless:namespace` | the Kubernetes namespace of the ServiceAccount |
//! | `keyless:serviceaccount` | the ServiceAccount's name |
//! | `keyless:issuer` | the token's `iss`, exactly |
//! | `keyless:aud` | the token's audiences (multivalued) |
//! | `keyless:pod` | the pod name, when the token names one |
//! | `<issuer-host-path>:sub`, `:aud` | AWS's OIDC keys, e.g. `oidc.example/id/X:sub` |
//!
//! Evaluation order (AWS's, for one account): an explicit Deny in any policy wins; otherwise an
//! Allow is needed in the identity policies *and*, when there is one, in the session policy;
//! otherwise the request is implicitly denied.

pub mod condition;
pub mod context;
pub mod document;
pub mod eval;
pub(crate) mod pattern;

pub use condition::{Comparison, Operator, Ordering, SetQualifier};
pub use context::RequestContext;
pub use document::{
    Condition, Effect, Matcher, Policy, PolicyError, PolicyVersion, PrincipalMatch, Principals, Statement,
};
pub use eval::{
    Decision, DecisionEffect, NamedPolicy, Request, RequestPrincipal, StatementRef, evaluate, evaluate_with_session,
};

#[cfg(test)]
#[allow(clippy::type_complexity)] // test tables are tuples
mod tests;
