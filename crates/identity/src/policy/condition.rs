//! Condition operators and how one condition is judged against the request context.
//!
//! The rules, as IAM documents them:
//! - several values for one key are alternatives (OR); several keys and operators must all hold (AND);
//! - a key absent from the request makes a positive operator false and a negated one
//!   (`StringNotEquals`, `NotIpAddress`, `ArnNotLike`, ...) true; `...IfExists` makes it true either way;
//!   `Null` tests presence itself;
//! - `ForAnyValue:` is true when at least one request value satisfies the operator (false on an
//!   absent or empty key); `ForAllValues:` when every request value does (true on an absent or
//!   empty key — which is why it is dangerous with Allow);
//! - without a qualifier, a multivalued key matches a positive operator when any value matches, and a
//!   negated one when none does.

use std::net::IpAddr;

use super::context::RequestContext;
use super::pattern::{self, Pattern};

/// The comparison at the heart of an operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparison {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    Numeric(Ordering),
    Date(Ordering),
    Bool,
    BinaryEquals,
    IpAddress,
    ArnEquals,
    ArnLike,
    Null,
}

/// The ordering tests of the Numeric* and Date* operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ordering {
    Equals,
    LessThan,
    LessThanEquals,
    GreaterThan,
    GreaterThanEquals,
}

/// `ForAnyValue:` / `ForAllValues:`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetQualifier {
    ForAnyValue,
    ForAllValues,
}

/// A parsed condition operator, e.g. `ForAllValues:StringNotLikeIfExists`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operator {
    /// The operator as written in the policy, for decision reasons.
    pub name: String,
    pub comparison: Comparison,
    /// The `Not` operators: the result of the comparison is inverted.
    pub negated: bool,
    pub if_exists: bool,
    pub qualifier: Option<SetQualifier>,
}

impl Operator {
    /// Parses an operator name; `None` for names IAM does not know.
    pub fn parse(name: &str) -> Option<Self> {
        let (qualifier, rest) = if let Some(r) = name.strip_prefix("ForAnyValue:") {
            (Some(SetQualifier::ForAnyValue), r)
        } else if let Some(r) = name.strip_prefix("ForAllValues:") {
            (Some(SetQualifier::ForAllValues), r)
        } else {
            (None, name)
        };
        let (base, if_exists) = match rest.strip_suffix("IfExists") {
            Some(b) if b != "Null" => (b, true),
            _ => (rest, false),
        };
        use Comparison::*;
        use Ordering::*;
        let (comparison, negated) = match base {
            "StringEquals" => (StringEquals, false),
            "StringNotEquals" => (StringEquals, true),
            "StringEqualsIgnoreCase" => (StringEqualsIgnoreCase, false),
            "StringNotEqualsIgnoreCase" => (StringEqualsIgnoreCase, true),
            "StringLike" => (StringLike, false),
            "StringNotLike" => (StringLike, true),
            "NumericEquals" => (Numeric(Equals), false),
            "NumericNotEquals" => (Numeric(Equals), true),
            "NumericLessThan" => (Numeric(LessThan), false),
            "NumericLessThanEquals" => (Numeric(LessThanEquals), false),
            "NumericGreaterThan" => (Numeric(GreaterThan), false),
            "NumericGreaterThanEquals" => (Numeric(GreaterThanEquals), false),
            "DateEquals" => (Date(Equals), false),
            "DateNotEquals" => (Date(Equals), true),
            "DateLessThan" => (Date(LessThan), false),
            "DateLessThanEquals" => (Date(LessThanEquals), false),
            "DateGreaterThan" => (Date(GreaterThan), false),
            "DateGreaterThanEquals" => (Date(GreaterThanEquals), false),
            "Bool" => (Bool, false),
            "BinaryEquals" => (BinaryEquals, false),
            "IpAddress" => (IpAddress, false),
            "NotIpAddress" => (IpAddress, true),
            "ArnEquals" => (ArnEquals, false),
            "ArnNotEquals" => (ArnEquals, true),
            "ArnLike" => (ArnLike, false),
            "ArnNotLike" => (ArnLike, true),
            "Null" if qualifier.is_none() => (Null, false),
            _ => return None,
        };
        Some(Self {
            name: name.to_owned(),
            comparison,
            negated,
            if_exists,
            qualifier,
        })
    }
}

/// Judges one condition. `Err` carries why it failed, for the decision's reason.
pub(crate) fn holds(
    op: &Operator,
    key: &str,
    policy_values: &[String],
    ctx: &RequestContext,
    substitute: bool,
) -> Result<(), String> {
    let request = ctx.get(key).filter(|v| !v.is_empty());
    let shown = || match request {
        None => "absent".to_owned(),
        Some(v) => format!("{v:?}"),
    };
    let fail = || {
        Err(format!(
            "{} {key}: request value {} does not satisfy {policy_values:?}",
            op.name,
            shown()
        ))
    };
    if op.comparison == Comparison::Null {
        let present = request.is_some();
        let ok = policy_values.iter().any(|v| match v.to_ascii_lowercase().as_str() {
            "true" => !present,
            "false" => present,
            _ => false,
        });
        return if ok { Ok(()) } else { fail() };
    }
    let patterns: Vec<Pattern> = policy_values
        .iter()
        .filter_map(|v| pattern::expand(v, substitute.then_some(ctx)))
        .collect();
    let one = |value: &str| {
        let m = patterns.iter().any(|p| compare(op.comparison, value, p));
        m != op.negated
    };
    let ok = match (request, op.qualifier) {
        (None, _) if op.if_exists => true,
        (None, None) => op.negated,
        (None, Some(SetQualifier::ForAnyValue)) => false,
        (None, Some(SetQualifier::ForAllValues)) => true,
        (Some(values), Some(SetQualifier::ForAllValues)) => values.iter().all(|v| one(v)),
        (Some(values), Some(SetQualifier::ForAnyValue)) => values.iter().any(|v| one(v)),
        (Some(values), None) => {
            let m = values
                .iter()
                .any(|v| patterns.iter().any(|p| compare(op.comparison, v, p)));
            m != op.negated
        }
    };
    if ok { Ok(()) } else { fail() }
}

fn compare(cmp: Comparison, value: &str, pattern: &Pattern) -> bool {
    match cmp {
        Comparison::StringEquals | Comparison::BinaryEquals => value == pattern.literal(),
        Comparison::StringEqualsIgnoreCase => value.to_lowercase() == pattern.literal().to_lowercase(),
        Comparison::StringLike => pattern.matches(value, false),
        Comparison::Numeric(ord) => match (value.trim().parse::<f64>(), pattern.literal().trim().parse::<f64>()) {
            (Ok(a), Ok(b)) => order(a.partial_cmp(&b), ord),
            _ => false,
        },
        Comparison::Date(ord) => match (parse_date(value), parse_date(&pattern.literal())) {
            (Some(a), Some(b)) => order(Some(a.cmp(&b)), ord),
            _ => false,
        },
        Comparison::Bool => value.eq_ignore_ascii_case(&pattern.literal()),
        Comparison::IpAddress => ip_in(value, &pattern.literal()),
        Comparison::ArnEquals | Comparison::ArnLike => arn_like(value, pattern),
        Comparison::Null => false,
    }
}

fn order(got: Option<std::cmp::Ordering>, want: Ordering) -> bool {
    use std::cmp::Ordering::*;
    matches!(
        (got, want),
        (
            Some(Equal),
            Ordering::Equals | Ordering::LessThanEquals | Ordering::GreaterThanEquals
        ) | (Some(Less), Ordering::LessThan | Ordering::LessThanEquals)
            | (Some(Greater), Ordering::GreaterThan | Ordering::GreaterThanEquals)
    )
}

/// A date as IAM accepts it: epoch seconds, an RFC 3339 timestamp, or a bare `YYYY-MM-DD` (UTC
/// midnight). Returned as nanoseconds since the epoch.
pub(crate) fn parse_date(s: &str) -> Option<i128> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<i64>() {
        return Some(secs as i128 * 1_000_000_000);
    }
    if let Ok(t) = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
        return Some(t.unix_timestamp_nanos());
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, &format)
        .ok()
        .map(|d| d.midnight().assume_utc().unix_timestamp_nanos())
}

/// Whether `ip` lies in `cidr` (`10.0.0.0/8`, `2001:db8::/32`, or a bare address). Families never mix.
fn ip_in(ip: &str, cidr: &str) -> bool {
    let Ok(ip) = ip.trim().parse::<IpAddr>() else {
        return false;
    };
    let (net, len) = match cidr.trim().split_once('/') {
        Some((n, l)) => (n, l.parse::<u32>().ok()),
        None => (cidr.trim(), None),
    };
    let Ok(net) = net.parse::<IpAddr>() else { return false };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => prefix_eq(u32::from(a) as u128, u32::from(n) as u128, 32, len.unwrap_or(32)),
        (IpAddr::V6(a), IpAddr::V6(n)) => prefix_eq(u128::from(a), u128::from(n), 128, len.unwrap_or(128)),
        _ => false,
    }
}

fn prefix_eq(a: u128, n: u128, bits: u32, len: u32) -> bool {
    if len > bits {
        return false;
    }
    if len == 0 {
        return true;
    }
    let shift = bits - len;
    (a >> shift) == (n >> shift)
}

/// ArnEquals/ArnLike: each of the six colon-separated parts is matched on its own, with wildcards,
/// case-sensitively; the last part keeps any further colons.
fn arn_like(value: &str, pattern: &Pattern) -> bool {
    let vparts: Vec<&str> = value.splitn(6, ':').collect();
    let pparts = pattern.split_colons(6);
    vparts.len() == 6 && pparts.len() == 6 && vparts.iter().zip(&pparts).all(|(v, p)| p.matches(v, false))
}
