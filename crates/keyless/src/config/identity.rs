//! The `identity:` section of the config file: the account id, the trusted issuers, the roles
//! (trust policy and permission policies) and the session key file.
//!
//! Only the file can set it. Stage one is the serde schema ([`FileIdentity`], unknown fields
//! refused); stage two ([`validate`]) builds the identity core's own types — `RoleArn`,
//! `TrustPolicy`, `Policy`, `Role` — so a role that would not work stops the start with an error
//! naming the exact field, e.g. `identity.roles[2].trust.service_accounts[0]`.

use std::path::{Path, PathBuf};

use keyless_identity::policy::Policy;
use keyless_identity::role::{MAX_MAX_SESSION_DURATION, MIN_MAX_SESSION_DURATION, Role, RoleArn, valid_account};
use keyless_identity::trust::{TrustPolicy, TrustShortForm};
use keyless_idp::IssuerSource;
use serde::Deserialize;

use super::{
    ConfigError, IDENTITY_ACCOUNT_ID, IDENTITY_ISSUERS, IDENTITY_LEEWAY, IDENTITY_ROLES, IDENTITY_SESSION_KEY_FILE,
    Origin,
};

/// The default account id of role ARNs (`arn:aws:iam::000000000000:role/NAME`).
pub const DEFAULT_ACCOUNT_ID: &str = "000000000000";
/// The default clock leeway on a token's `exp`, `nbf` and `iat`.
pub const DEFAULT_LEEWAY_SECS: u64 = 60;
/// The session key file's name inside the data directory, by default.
pub const SESSION_KEY_FILE_NAME: &str = "session-keys";

/// `identity:` as written in YAML.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileIdentity {
    pub account_id: Option<String>,
    #[serde(default)]
    pub issuers: Vec<IssuerSource>,
    #[serde(default)]
    pub roles: Vec<FileRole>,
    pub session_key_file: Option<PathBuf>,
    pub leeway_secs: Option<u64>,
}

/// One role as written in YAML.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRole {
    pub name: String,
    pub max_session_duration: Option<u32>,
    /// The AWS-form trust policy: a JSON string or the document as YAML.
    pub trust_policy: Option<serde_json::Value>,
    /// The short form: these service accounts of this issuer, with this audience.
    pub trust: Option<FileTrust>,
    /// Permission policies: each a JSON string, the document as YAML, or `{name, document}`.
    #[serde(default)]
    pub policies: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileTrust {
    pub issuer: String,
    /// One audience or a list (`sts.amazonaws.com` when left out).
    pub audience: Option<OneOrMany>,
    pub service_accounts: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// The validated identity settings.
#[derive(Debug, Clone)]
pub struct IdentityConfig {
    pub account_id: String,
    pub issuers: Vec<IssuerSource>,
    pub roles: Vec<Role>,
    /// The roles as documents, for the console's status view (same order as `roles`).
    pub role_views: Vec<RoleView>,
    /// `None`: `<data_dir>/session-keys`.
    pub session_key_file: Option<PathBuf>,
    pub leeway_secs: u64,
}

/// One role as the status view shows it: the trust policy (the AWS document, or the short form
/// as written) and the permission policies as JSON documents.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleView {
    pub arn: String,
    pub max_session_duration: u32,
    pub trust: serde_json::Value,
    pub policies: Vec<(String, serde_json::Value)>,
}

impl IdentityConfig {
    pub fn session_key_file(&self, data_dir: &Path) -> PathBuf {
        self.session_key_file
            .clone()
            .unwrap_or_else(|| data_dir.join(SESSION_KEY_FILE_NAME))
    }
}

fn err(origin: &Origin, field: String, message: impl Into<String>) -> ConfigError {
    ConfigError::InvalidAt {
        field,
        origin: origin.clone(),
        message: message.into(),
    }
}

/// A policy document given as a JSON string or as YAML (serialised to JSON).
fn document_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Stage two of `identity:`.
pub fn validate(file: FileIdentity, origin: &Origin) -> Result<IdentityConfig, ConfigError> {
    let account_id = file.account_id.unwrap_or_else(|| DEFAULT_ACCOUNT_ID.to_owned());
    if !valid_account(&account_id) {
        return Err(err(
            origin,
            IDENTITY_ACCOUNT_ID.name.into(),
            format!("{account_id:?} is not an account id; give 12 digits in quotes, e.g. \"000000000000\""),
        ));
    }
    let leeway_secs = file.leeway_secs.unwrap_or(DEFAULT_LEEWAY_SECS);
    if leeway_secs > 600 {
        return Err(err(
            origin,
            IDENTITY_LEEWAY.name.into(),
            format!("{leeway_secs} is out of range; give 0 to 600 seconds"),
        ));
    }
    for (i, issuer) in file.issuers.iter().enumerate() {
        if issuer.issuer.is_empty() {
            return Err(err(
                origin,
                format!("{}[{i}].issuer", IDENTITY_ISSUERS.name),
                "is empty; give the exact `iss` of the cluster's tokens",
            ));
        }
        if file.issuers[..i].iter().any(|o| o.issuer == issuer.issuer) {
            return Err(err(
                origin,
                format!("{}[{i}].issuer", IDENTITY_ISSUERS.name),
                format!("{:?} is listed twice; keep one entry per issuer", issuer.issuer),
            ));
        }
    }
    let mut roles: Vec<Role> = Vec::new();
    let mut role_views = Vec::new();
    for (i, r) in file.roles.iter().enumerate() {
        let at = |rest: &str| format!("{}[{i}]{rest}", IDENTITY_ROLES.name);
        let arn = RoleArn::new(&account_id, &r.name).map_err(|e| err(origin, at(".name"), e.to_string()))?;
        if roles.iter().any(|o| o.arn() == &arn) {
            return Err(err(origin, at(".name"), format!("role {:?} is defined twice", r.name)));
        }
        let trust_view = match (&r.trust_policy, &r.trust) {
            (Some(doc), _) => serde_json::from_str(&document_text(doc)).unwrap_or(serde_json::Value::Null),
            (None, Some(t)) => serde_json::json!({
                "issuer": t.issuer,
                "audience": match &t.audience {
                    None => serde_json::json!("sts.amazonaws.com"),
                    Some(OneOrMany::One(a)) => serde_json::json!(a),
                    Some(OneOrMany::Many(a)) => serde_json::json!(a),
                },
                "service_accounts": t.service_accounts,
            }),
            (None, None) => serde_json::Value::Null,
        };
        let trust = match (&r.trust_policy, &r.trust) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(err(
                    origin,
                    at(""),
                    "give exactly one of trust (the short form) or trust_policy (AWS JSON)",
                ));
            }
            (Some(doc), None) => {
                TrustPolicy::parse(&document_text(doc)).map_err(|e| err(origin, at(".trust_policy"), e.to_string()))?
            }
            (None, Some(t)) => {
                if !file.issuers.iter().any(|s| s.issuer == t.issuer) {
                    return Err(err(
                        origin,
                        at(".trust.issuer"),
                        format!(
                            "{:?} is not one of identity.issuers; add the issuer or correct the name",
                            t.issuer
                        ),
                    ));
                }
                let audiences = match &t.audience {
                    None => vec!["sts.amazonaws.com".to_owned()],
                    Some(OneOrMany::One(a)) => vec![a.clone()],
                    Some(OneOrMany::Many(a)) => a.clone(),
                };
                if audiences.is_empty() || audiences.iter().any(String::is_empty) {
                    return Err(err(
                        origin,
                        at(".trust.audience"),
                        "give at least one non-empty audience",
                    ));
                }
                if t.service_accounts.is_empty() {
                    return Err(err(
                        origin,
                        at(".trust.service_accounts"),
                        "is empty; list \"namespace/name\" entries (\"*\" wildcards allowed)",
                    ));
                }
                for (j, sa) in t.service_accounts.iter().enumerate() {
                    let ok = matches!(sa.split_once('/'), Some((ns, name))
                        if !ns.is_empty() && !name.is_empty() && !sa.contains(':') && !name.contains('/'));
                    if !ok {
                        return Err(err(
                            origin,
                            at(&format!(".trust.service_accounts[{j}]")),
                            format!("{sa:?} is not \"namespace/name\" (\"*\" wildcards allowed, no ':')"),
                        ));
                    }
                }
                TrustShortForm {
                    issuer: t.issuer.clone(),
                    audiences,
                    service_accounts: t.service_accounts.clone(),
                }
                .expand(&account_id)
                .map_err(|e| err(origin, at(".trust"), e.to_string()))?
            }
        };
        let mut policies = Vec::new();
        let mut policy_views = Vec::new();
        for (j, p) in r.policies.iter().enumerate() {
            let field = at(&format!(".policies[{j}]"));
            let (name, doc) = match p {
                serde_json::Value::Object(m) if m.contains_key("document") => {
                    let name = m
                        .get("name")
                        .and_then(|n| n.as_str())
                        .map(str::to_owned)
                        .unwrap_or_else(|| format!("policy-{j}"));
                    (name, document_text(&m["document"]))
                }
                other => (format!("policy-{j}"), document_text(other)),
            };
            let policy = Policy::parse(&doc)
                .and_then(|pol| pol.check_identity_policy().map(|()| pol))
                .map_err(|e| err(origin, field, e.to_string()))?;
            policy_views.push((
                name.clone(),
                serde_json::from_str(&doc).unwrap_or(serde_json::Value::Null),
            ));
            policies.push((name, policy));
        }
        let mut role = Role::new(arn, trust, policies).map_err(|e| err(origin, at(".policies"), e.to_string()))?;
        if let Some(secs) = r.max_session_duration {
            role = role.with_max_session_duration(secs).map_err(|_| {
                err(
                    origin,
                    at(".max_session_duration"),
                    format!(
                        "{secs} is out of range; give {MIN_MAX_SESSION_DURATION} to {MAX_MAX_SESSION_DURATION} seconds"
                    ),
                )
            })?;
        }
        role_views.push(RoleView {
            arn: role.arn().to_string(),
            max_session_duration: role.max_session_duration(),
            trust: trust_view,
            policies: policy_views,
        });
        roles.push(role);
    }
    if let Some(p) = &file.session_key_file
        && p.as_os_str().is_empty()
    {
        return Err(err(
            origin,
            IDENTITY_SESSION_KEY_FILE.name.into(),
            "is empty; give a path or leave it out for <data_dir>/session-keys",
        ));
    }
    Ok(IdentityConfig {
        account_id,
        issuers: file.issuers,
        roles,
        role_views,
        session_key_file: file.session_key_file,
        leeway_secs,
    })
}
