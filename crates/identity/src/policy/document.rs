//! IAM policy documents: the JSON grammar with AWS's quirks, parsed into typed statements.
//!
//! Quirks accepted: `Statement` as one object or a list; `Action`/`Resource`/`Principal` values as
//! a string or a list; `Principal` as `"*"` or `{"AWS"|"Federated"|"Service"|"CanonicalUser": ...}`;
//! condition values as strings, numbers or booleans, alone or in lists. A missing `Version` means
//! 2008-10-17, under which policy variables are not substituted (as in AWS). Everything else that
//! AWS would refuse (unknown elements, no Effect, both Action and NotAction, an unknown condition
//! operator) is refused here with a message naming the element.

use serde_json::{Map, Value};
use thiserror::Error;

use super::condition::Operator;

/// Why a policy document was refused (STS answers MalformedPolicyDocument).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("{0}")]
pub struct PolicyError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, PolicyError> {
    Err(PolicyError(msg.into()))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyVersion {
    /// `2012-10-17`: policy variables are substituted.
    V2012_10_17,
    /// `2008-10-17` (or no Version): `${...}` is literal text.
    V2008_10_17,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// A parsed policy document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    pub version: PolicyVersion,
    pub id: Option<String>,
    pub statements: Vec<Statement>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    pub principal: Option<PrincipalMatch>,
    /// `Action` (negated = false) or `NotAction` (negated = true).
    pub action: Matcher,
    /// `Resource`/`NotResource`; absent in trust policies.
    pub resource: Option<Matcher>,
    /// All must hold (AND); each one's values are alternatives (OR).
    pub conditions: Vec<Condition>,
}

/// A list of patterns, or its complement (`NotAction`, `NotResource`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Matcher {
    pub negated: bool,
    pub patterns: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrincipalMatch {
    Principal(Principals),
    NotPrincipal(Principals),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principals {
    /// `"*"`.
    Any,
    /// `{"Federated": [...], "AWS": [...]}`: (type, values).
    Typed(Vec<(String, Vec<String>)>),
}

/// One `"Operator": {"key": values}` entry of a Condition block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    pub operator: Operator,
    pub key: String,
    pub values: Vec<String>,
}

impl Policy {
    /// Parses a policy document.
    pub fn parse(json: &str) -> Result<Self, PolicyError> {
        let value: Value = serde_json::from_str(json).map_err(|e| PolicyError(format!("not valid JSON: {e}")))?;
        let Value::Object(top) = value else {
            return err("the policy is not a JSON object");
        };
        for key in top.keys() {
            if !["Version", "Id", "Statement"].contains(&key.as_str()) {
                return err(format!("unknown top-level element {key:?}"));
            }
        }
        let version = match top.get("Version") {
            None => PolicyVersion::V2008_10_17,
            Some(Value::String(v)) if v == "2012-10-17" => PolicyVersion::V2012_10_17,
            Some(Value::String(v)) if v == "2008-10-17" => PolicyVersion::V2008_10_17,
            Some(v) => return err(format!("Version {v} is not \"2012-10-17\" or \"2008-10-17\"")),
        };
        let id = match top.get("Id") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return err("Id is not a string"),
        };
        let raw = match top.get("Statement") {
            Some(Value::Array(list)) if !list.is_empty() => list.iter().collect::<Vec<_>>(),
            Some(v @ Value::Object(_)) => vec![v],
            Some(_) => return err("Statement is neither an object nor a non-empty list"),
            None => return err("the policy has no Statement"),
        };
        let statements = raw
            .into_iter()
            .enumerate()
            .map(|(i, s)| match s {
                Value::Object(m) => statement(m).map_err(|e| PolicyError(format!("statement {i}: {}", e.0))),
                _ => err(format!("statement {i} is not an object")),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            version,
            id,
            statements,
        })
    }

    /// Refuses what an identity (permission or session) policy must not contain: a Principal, or a
    /// statement without Resource.
    pub fn check_identity_policy(&self) -> Result<(), PolicyError> {
        for (i, s) in self.statements.iter().enumerate() {
            if s.principal.is_some() {
                return err(format!("statement {i}: a permission policy cannot name a Principal"));
            }
            if s.resource.is_none() {
                return err(format!(
                    "statement {i}: a permission policy needs Resource or NotResource"
                ));
            }
        }
        Ok(())
    }

    /// Refuses a trust policy statement without Principal.
    pub fn check_trust_policy(&self) -> Result<(), PolicyError> {
        for (i, s) in self.statements.iter().enumerate() {
            if s.principal.is_none() {
                return err(format!("statement {i}: a trust policy needs a Principal"));
            }
        }
        Ok(())
    }
}

fn statement(m: &Map<String, Value>) -> Result<Statement, PolicyError> {
    const KNOWN: [&str; 10] = [
        "Sid",
        "Effect",
        "Principal",
        "NotPrincipal",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Condition",
        "Id",
    ];
    for key in m.keys() {
        if !KNOWN.contains(&key.as_str()) {
            return err(format!("unknown element {key:?}"));
        }
    }
    let sid = match m.get("Sid") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return err("Sid is not a string"),
    };
    let effect = match m.get("Effect") {
        Some(Value::String(e)) if e == "Allow" => Effect::Allow,
        Some(Value::String(e)) if e == "Deny" => Effect::Deny,
        Some(v) => return err(format!("Effect {v} is not \"Allow\" or \"Deny\"")),
        None => return err("no Effect"),
    };
    let principal = match (m.get("Principal"), m.get("NotPrincipal")) {
        (Some(_), Some(_)) => return err("both Principal and NotPrincipal"),
        (Some(p), None) => Some(PrincipalMatch::Principal(principals(p)?)),
        (None, Some(p)) => Some(PrincipalMatch::NotPrincipal(principals(p)?)),
        (None, None) => None,
    };
    let action = match matcher(m, "Action", "NotAction")? {
        Some(a) => a,
        None => return err("no Action or NotAction"),
    };
    for pattern in &action.patterns {
        if pattern != "*" && !pattern.contains(':') {
            return err(format!("action {pattern:?} is not of the form \"service:action\""));
        }
    }
    let resource = matcher(m, "Resource", "NotResource")?;
    let conditions = match m.get("Condition") {
        None => Vec::new(),
        Some(Value::Object(block)) => conditions(block)?,
        Some(_) => return err("Condition is not an object"),
    };
    Ok(Statement {
        sid,
        effect,
        principal,
        action,
        resource,
        conditions,
    })
}

fn strings(v: &Value, what: &str) -> Result<Vec<String>, PolicyError> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(list) if !list.is_empty() => list
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| PolicyError(format!("{what} holds a non-string")))
            })
            .collect(),
        _ => err(format!("{what} is neither a string nor a non-empty list of strings")),
    }
}

fn matcher(m: &Map<String, Value>, yes: &str, no: &str) -> Result<Option<Matcher>, PolicyError> {
    match (m.get(yes), m.get(no)) {
        (Some(_), Some(_)) => err(format!("both {yes} and {no}")),
        (Some(v), None) => Ok(Some(Matcher {
            negated: false,
            patterns: strings(v, yes)?,
        })),
        (None, Some(v)) => Ok(Some(Matcher {
            negated: true,
            patterns: strings(v, no)?,
        })),
        (None, None) => Ok(None),
    }
}

fn principals(v: &Value) -> Result<Principals, PolicyError> {
    match v {
        Value::String(s) if s == "*" => Ok(Principals::Any),
        Value::Object(map) => {
            let mut typed = Vec::new();
            for (kind, values) in map {
                if !["AWS", "Federated", "Service", "CanonicalUser"].contains(&kind.as_str()) {
                    return err(format!("unknown principal type {kind:?}"));
                }
                let values = strings(values, "Principal")?;
                if kind == "AWS" && values.iter().any(|v| v == "*") {
                    return Ok(Principals::Any);
                }
                typed.push((kind.clone(), values));
            }
            Ok(Principals::Typed(typed))
        }
        _ => err("Principal is neither \"*\" nor an object"),
    }
}

fn conditions(block: &Map<String, Value>) -> Result<Vec<Condition>, PolicyError> {
    let mut out = Vec::new();
    for (op_name, entries) in block {
        let operator =
            Operator::parse(op_name).ok_or_else(|| PolicyError(format!("unknown condition operator {op_name:?}")))?;
        let Value::Object(entries) = entries else {
            return err(format!("condition {op_name} is not an object of keys"));
        };
        for (key, values) in entries {
            let scalar = |v: &Value| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                _ => None,
            };
            let values = match values {
                Value::Array(list) => list.iter().map(scalar).collect::<Option<Vec<_>>>(),
                v => scalar(v).map(|s| vec![s]),
            }
            .ok_or_else(|| {
                PolicyError(format!(
                    "condition {op_name} {key}: values must be strings, numbers or booleans"
                ))
            })?;
            out.push(Condition {
                operator: operator.clone(),
                key: key.clone(),
                values,
            });
        }
    }
    Ok(out)
}
