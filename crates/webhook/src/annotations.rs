//! The annotations and labels the webhook reads and writes, all under the configured prefix
//! (`keyless.io` below), and their validation.
//!
//! On the ServiceAccount:
//!
//! | annotation | value | default |
//! |---|---|---|
//! | `keyless.io/role-arn` | `arn:aws:iam::<12 digits>:role/<name>`, or a bare `<name>` (then the configured account) | none: no role, no injection |
//! | `keyless.io/audience` | the projected token's audience | config `audience` (`keyless`) |
//! | `keyless.io/token-expiration` | the token's lifetime in seconds, 600..=4294967296 | config (3600) |
//! | `keyless.io/sts-endpoint` | an `http(s)://` URL for AWS_ENDPOINT_URL_STS | config |
//! | `keyless.io/s3-endpoint` | an `http(s)://` URL for AWS_ENDPOINT_URL_S3 | config |
//! | `keyless.io/region` | AWS_REGION and AWS_DEFAULT_REGION | config (`us-east-1`) |
//!
//! On the pod: annotation `keyless.io/skip-containers: a,b` (comma-separated container names to
//! leave alone), label `keyless.io/inject: "false"` (leave the whole pod alone). The webhook writes
//! `keyless.io/injected-role-arn` on the pods it changed, so `kubectl get pod -o yaml` shows it.
//!
//! Any other annotation under the prefix on a ServiceAccount is reported as a warning (a typo such
//! as `keyless.io/role` would otherwise fail silently).

use std::collections::BTreeMap;
use std::fmt;

use crate::config::{MAX_TOKEN_EXPIRATION, MIN_TOKEN_EXPIRATION, WebhookConfig};
use crate::error::AnnotationError;

pub const ROLE_ARN: &str = "role-arn";
pub const AUDIENCE: &str = "audience";
pub const TOKEN_EXPIRATION: &str = "token-expiration";
pub const STS_ENDPOINT: &str = "sts-endpoint";
pub const S3_ENDPOINT: &str = "s3-endpoint";
pub const REGION: &str = "region";
/// Pod annotation.
pub const SKIP_CONTAINERS: &str = "skip-containers";
/// Pod label; `"false"` opts the pod out.
pub const INJECT: &str = "inject";
/// Pod annotation the webhook writes.
pub const INJECTED_ROLE_ARN: &str = "injected-role-arn";

const SERVICE_ACCOUNT_KEYS: [&str; 6] = [ROLE_ARN, AUDIENCE, TOKEN_EXPIRATION, STS_ENDPOINT, S3_ENDPOINT, REGION];

/// A role ARN in the form keyless accepts: `arn:aws:iam::<12-digit account>:role/<name>`, the name
/// 1–64 characters of `[A-Za-z0-9+=,.@_-]` (no path). The same rule as `keyless_identity::RoleArn`,
/// so the webhook never injects an ARN that STS will refuse as malformed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RoleArn(String);

impl RoleArn {
    /// Parses an ARN, or turns a bare role name into the ARN of that role in `account_id`.
    pub fn from_annotation(value: &str, account_id: &str) -> Result<RoleArn, String> {
        let (account, name) = match value.strip_prefix("arn:") {
            Some(_) => {
                let rest = value.strip_prefix("arn:aws:iam::").ok_or_else(|| {
                    "not a role ARN: expected arn:aws:iam::<12-digit account>:role/<name>".to_string()
                })?;
                rest.split_once(":role/")
                    .ok_or_else(|| "not a role ARN: expected arn:aws:iam::<12-digit account>:role/<name>".to_string())?
            }
            None => (account_id, value),
        };
        if !valid_account(account) {
            return Err(format!("account {account:?} is not 12 digits"));
        }
        if name.is_empty()
            || name.len() > 64
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
        {
            return Err(format!(
                "role name {name:?} must be 1-64 characters of A-Z a-z 0-9 + = , . @ _ -"
            ));
        }
        Ok(RoleArn(format!("arn:aws:iam::{account}:role/{name}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RoleArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a ServiceAccount's annotations ask for, validated, with the config's defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccountSettings {
    pub role_arn: RoleArn,
    pub audience: String,
    pub token_expiration_seconds: u64,
    pub sts_endpoint: String,
    pub s3_endpoint: String,
    pub region: String,
}

impl ServiceAccountSettings {
    /// `Ok(None)` when the ServiceAccount has no `<prefix>/role-arn` annotation: no injection.
    /// `service_account` (`namespace/name`) only names it in errors.
    pub fn from_annotations(
        config: &WebhookConfig,
        service_account: &str,
        annotations: &BTreeMap<String, String>,
    ) -> Result<Option<ServiceAccountSettings>, AnnotationError> {
        let get = |name: &str| {
            let key = config.key(name);
            annotations.get(&key).map(|v| (key, v.trim()))
        };
        let invalid = |(key, value): (String, &str), problem: String| AnnotationError {
            key,
            value: value.to_string(),
            service_account: service_account.to_string(),
            problem,
        };
        let Some(role) = get(ROLE_ARN) else { return Ok(None) };
        let role_arn = RoleArn::from_annotation(role.1, &config.account_id).map_err(|p| invalid(role, p))?;

        let mut settings = ServiceAccountSettings {
            role_arn,
            audience: config.audience.clone(),
            token_expiration_seconds: config.token_expiration_seconds,
            sts_endpoint: config.sts_endpoint.clone(),
            s3_endpoint: config.s3_endpoint.clone(),
            region: config.region.clone(),
        };
        if let Some(a) = get(AUDIENCE) {
            if a.1.is_empty() {
                return Err(invalid(a, "the audience must not be empty".into()));
            }
            settings.audience = a.1.to_string();
        }
        if let Some(e) = get(TOKEN_EXPIRATION) {
            settings.token_expiration_seconds = match e.1.parse::<u64>() {
                Ok(s) if (MIN_TOKEN_EXPIRATION..=MAX_TOKEN_EXPIRATION).contains(&s) => s,
                Ok(_) => return Err(invalid(e, "the token lifetime must be 600..=4294967296 seconds".into())),
                Err(_) => return Err(invalid(e, "not a whole number of seconds (e.g. \"3600\")".into())),
            };
        }
        for (name, slot) in [
            (STS_ENDPOINT, &mut settings.sts_endpoint),
            (S3_ENDPOINT, &mut settings.s3_endpoint),
        ] {
            if let Some(u) = get(name) {
                valid_endpoint(u.1).map_err(|p| invalid(u.clone(), p))?;
                *slot = u.1.to_string();
            }
        }
        if let Some(r) = get(REGION) {
            valid_region(r.1).map_err(|p| invalid(r.clone(), p))?;
            settings.region = r.1.to_string();
        }
        Ok(Some(settings))
    }
}

/// Annotations under the prefix that the webhook does not know: probably typos.
pub fn unknown_service_account_keys(config: &WebhookConfig, annotations: &BTreeMap<String, String>) -> Vec<String> {
    let prefix = config.key("");
    annotations
        .keys()
        .filter(|k| {
            k.strip_prefix(&prefix)
                .is_some_and(|name| !SERVICE_ACCOUNT_KEYS.contains(&name))
        })
        .cloned()
        .collect()
}

pub(crate) fn valid_account(account: &str) -> bool {
    account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())
}

/// `http://` or `https://`, then a host; no spaces.
pub(crate) fn valid_endpoint(url: &str) -> Result<(), String> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(r) if !r.is_empty() && !r.starts_with(['/', ':']) && !url.chars().any(char::is_whitespace) => Ok(()),
        _ => Err(format!("{url:?} is not an http:// or https:// URL with a host")),
    }
}

/// The rule the keyless server applies to its own region.
pub(crate) fn valid_region(r: &str) -> Result<(), String> {
    let ok = !r.is_empty()
        && r.len() <= 64
        && r.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !r.starts_with('-')
        && !r.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!("{r:?} is not a region name (lower-case letters, digits, '-')"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCOUNT: &str = "000000000000";

    fn check(annotations: &[(&str, &str)], expected: Result<Option<&str>, &str>) {
        let config = WebhookConfig::new("http://keyless:9000", ACCOUNT);
        let map = annotations
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let got = ServiceAccountSettings::from_annotations(&config, "apps/app", &map);
        let got = got.map(|s| {
            s.map(|s| {
                format!(
                    "{} aud={} exp={} sts={} s3={} region={}",
                    s.role_arn, s.audience, s.token_expiration_seconds, s.sts_endpoint, s.s3_endpoint, s.region
                )
            })
        });
        match (&got, expected) {
            (Ok(g), Ok(e)) if g.as_deref() == e => {}
            (Err(err), Err(e)) if err.to_string().contains(e) => {}
            _ => panic!("{annotations:?}: got {got:?}, expected {expected:?}"),
        }
    }

    const DEFAULTS: &str = "aud=keyless exp=3600 sts=http://keyless:9000 s3=http://keyless:9000 region=us-east-1";

    #[test]
    fn service_account_annotations() {
        check(&[], Ok(None));
        check(
            &[("eks.amazonaws.com/role-arn", "arn:aws:iam::111122223333:role/app")],
            Ok(None),
        );
        check(
            &[("keyless.io/role-arn", "arn:aws:iam::111122223333:role/app")],
            Ok(Some(&format!("arn:aws:iam::111122223333:role/app {DEFAULTS}"))),
        );
        check(
            &[("keyless.io/role-arn", "litestream")],
            Ok(Some(&format!("arn:aws:iam::000000000000:role/litestream {DEFAULTS}"))),
        );
        check(
            &[("keyless.io/role-arn", "  app \n")],
            Ok(Some(&format!("arn:aws:iam::000000000000:role/app {DEFAULTS}"))),
        );
        check(
            &[
                ("keyless.io/role-arn", "app"),
                ("keyless.io/audience", "sts.example.com"),
                ("keyless.io/token-expiration", "86400"),
                ("keyless.io/sts-endpoint", "https://sts.example.com"),
                ("keyless.io/s3-endpoint", "https://s3.example.com:9000"),
                ("keyless.io/region", "eu-west-3"),
            ],
            Ok(Some(
                "arn:aws:iam::000000000000:role/app aud=sts.example.com exp=86400 sts=https://sts.example.com \
                 s3=https://s3.example.com:9000 region=eu-west-3",
            )),
        );
        check(
            &[("keyless.io/role-arn", "")],
            Err("keyless.io/role-arn=\"\" on ServiceAccount apps/app: role name"),
        );
        check(
            &[("keyless.io/role-arn", "arn:aws:iam::1234:role/app")],
            Err("account \"1234\""),
        );
        check(
            &[("keyless.io/role-arn", "arn:aws:iam::111122223333:user/app")],
            Err("not a role ARN"),
        );
        check(&[("keyless.io/role-arn", "arn:aws:s3:::bucket")], Err("not a role ARN"));
        check(&[("keyless.io/role-arn", "team/app")], Err("role name \"team/app\""));
        check(&[("keyless.io/role-arn", &"r".repeat(65))], Err("1-64"));
        check(
            &[("keyless.io/role-arn", "app"), ("keyless.io/token-expiration", "599")],
            Err("600..="),
        );
        check(
            &[("keyless.io/role-arn", "app"), ("keyless.io/token-expiration", "600")],
            Ok(Some(&format!(
                "arn:aws:iam::000000000000:role/app {}",
                DEFAULTS.replace("exp=3600", "exp=600")
            ))),
        );
        check(
            &[("keyless.io/role-arn", "app"), ("keyless.io/token-expiration", "1h")],
            Err("whole number"),
        );
        check(
            &[("keyless.io/role-arn", "app"), ("keyless.io/token-expiration", "-3600")],
            Err("whole number"),
        );
        check(
            &[("keyless.io/role-arn", "app"), ("keyless.io/audience", "")],
            Err("audience must not be empty"),
        );
        check(
            &[
                ("keyless.io/role-arn", "app"),
                ("keyless.io/s3-endpoint", "s3.example.com"),
            ],
            Err("http:// or https://"),
        );
        check(
            &[("keyless.io/role-arn", "app"), ("keyless.io/region", "EU")],
            Err("region name"),
        );
    }

    #[test]
    fn unknown_keys_are_reported() {
        let config = WebhookConfig::new("http://keyless:9000", ACCOUNT);
        let map: BTreeMap<String, String> = [
            ("keyless.io/role", "app"),
            ("keyless.io/audience", "x"),
            ("other.io/role", "y"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            unknown_service_account_keys(&config, &map),
            vec!["keyless.io/role".to_string()]
        );
    }
}
