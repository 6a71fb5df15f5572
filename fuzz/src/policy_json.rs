//! A parsed IAM policy written back as JSON, for the round-trip property
//! `parse(write(parse(doc))) == parse(doc)`. The identity crate has no serialiser of its own (it only
//! ever reads policies), so this one lives with the fuzz targets as their oracle.

use keyless_identity::policy::{Condition, Matcher, Policy, PolicyVersion, PrincipalMatch, Principals, Statement};
use serde_json::{Map, Value, json};

pub fn write(p: &Policy) -> String {
    let mut top = Map::new();
    let version = match p.version {
        PolicyVersion::V2012_10_17 => "2012-10-17",
        PolicyVersion::V2008_10_17 => "2008-10-17",
    };
    top.insert("Version".into(), json!(version));
    if let Some(id) = &p.id {
        top.insert("Id".into(), json!(id));
    }
    top.insert(
        "Statement".into(),
        Value::Array(p.statements.iter().map(statement).collect()),
    );
    Value::Object(top).to_string()
}

fn statement(s: &Statement) -> Value {
    let mut m = Map::new();
    if let Some(sid) = &s.sid {
        m.insert("Sid".into(), json!(sid));
    }
    m.insert(
        "Effect".into(),
        json!(match s.effect {
            keyless_identity::policy::Effect::Allow => "Allow",
            keyless_identity::policy::Effect::Deny => "Deny",
        }),
    );
    match &s.principal {
        None => {}
        Some(PrincipalMatch::Principal(p)) => {
            m.insert("Principal".into(), principals(p));
        }
        Some(PrincipalMatch::NotPrincipal(p)) => {
            m.insert("NotPrincipal".into(), principals(p));
        }
    }
    matcher(&mut m, &s.action, "Action", "NotAction");
    if let Some(r) = &s.resource {
        matcher(&mut m, r, "Resource", "NotResource");
    }
    if !s.conditions.is_empty() {
        m.insert("Condition".into(), conditions(&s.conditions));
    }
    Value::Object(m)
}

fn principals(p: &Principals) -> Value {
    match p {
        Principals::Any => json!("*"),
        Principals::Typed(list) => Value::Object(list.iter().map(|(kind, ids)| (kind.clone(), json!(ids))).collect()),
    }
}

fn matcher(m: &mut Map<String, Value>, matcher: &Matcher, yes: &str, no: &str) {
    let name = if matcher.negated { no } else { yes };
    m.insert(name.into(), json!(matcher.patterns));
}

fn conditions(list: &[Condition]) -> Value {
    let mut block = Map::new();
    for c in list {
        let entry = block
            .entry(c.operator.name.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        entry
            .as_object_mut()
            .expect("an operator entry is an object")
            .insert(c.key.clone(), json!(c.values));
    }
    Value::Object(block)
}
