//! Roles: a validated ARN, a maximum session duration, a trust policy and permission policies.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use thiserror::Error;

use crate::policy::{NamedPolicy, Policy, PolicyError};
use crate::trust::TrustPolicy;

/// The shortest and longest session AWS allows a role to be configured with (seconds).
pub const MIN_MAX_SESSION_DURATION: u32 = 3600;
pub const MAX_MAX_SESSION_DURATION: u32 = 43200;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum RoleError {
    #[error("{0:?} is not a role ARN of the form arn:aws:iam::<12-digit account>:role/<name>")]
    BadArn(String),
    #[error("role {arn}: maximum session duration {secs}s is outside 3600..=43200")]
    BadMaxSessionDuration { arn: String, secs: u32 },
    #[error("role {arn}: policy {name}: {error}")]
    BadPolicy {
        arn: String,
        name: String,
        error: PolicyError,
    },
}

/// `arn:aws:iam::<account>:role/<name>`: a 12-digit account and a name of 1–64 characters from
/// `[A-Za-z0-9+=,.@_-]`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RoleArn {
    account: String,
    name: String,
}

fn valid_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "+=,.@_-".contains(c)
}

/// Validates a 12-digit AWS-style account id.
pub fn valid_account(account: &str) -> bool {
    account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())
}

impl RoleArn {
    pub fn new(account: &str, name: &str) -> Result<Self, RoleError> {
        format!("arn:aws:iam::{account}:role/{name}").parse()
    }

    pub fn account(&self) -> &str {
        &self.account
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A stable role id in AWS's shape (`AROA` + 17 characters), derived from the ARN.
    pub fn role_id(&self) -> String {
        let digest = ring::digest::digest(&ring::digest::SHA256, self.to_string().as_bytes());
        const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let tail: String = digest
            .as_ref()
            .iter()
            .take(17)
            .map(|b| ALPHABET[(*b & 31) as usize] as char)
            .collect();
        format!("AROA{tail}")
    }
}

impl FromStr for RoleArn {
    type Err = RoleError;

    fn from_str(s: &str) -> Result<Self, RoleError> {
        let bad = || RoleError::BadArn(s.to_owned());
        let rest = s.strip_prefix("arn:aws:iam::").ok_or_else(bad)?;
        let (account, name) = rest.split_once(":role/").ok_or_else(bad)?;
        if !valid_account(account) || name.is_empty() || name.len() > 64 || !name.chars().all(valid_name_char) {
            return Err(bad());
        }
        Ok(Self {
            account: account.to_owned(),
            name: name.to_owned(),
        })
    }
}

impl fmt::Display for RoleArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "arn:aws:iam::{}:role/{}", self.account, self.name)
    }
}

/// A role a token may assume.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Role {
    arn: RoleArn,
    max_session_duration: u32,
    trust: TrustPolicy,
    policies: Vec<NamedPolicy>,
}

impl Role {
    /// A role with the default maximum session duration (3600 s). Permission policies are checked
    /// for what an identity policy must not contain (a Principal; a statement without Resource).
    pub fn new(arn: RoleArn, trust: TrustPolicy, policies: Vec<(String, Policy)>) -> Result<Self, RoleError> {
        let policies = policies
            .into_iter()
            .map(|(name, policy)| {
                policy.check_identity_policy().map_err(|error| RoleError::BadPolicy {
                    arn: arn.to_string(),
                    name: name.clone(),
                    error,
                })?;
                Ok(NamedPolicy::new(format!("role/{}:{name}", arn.name()), policy))
            })
            .collect::<Result<Vec<_>, RoleError>>()?;
        Ok(Self {
            arn,
            max_session_duration: MIN_MAX_SESSION_DURATION,
            trust,
            policies,
        })
    }

    pub fn with_max_session_duration(mut self, secs: u32) -> Result<Self, RoleError> {
        if !(MIN_MAX_SESSION_DURATION..=MAX_MAX_SESSION_DURATION).contains(&secs) {
            return Err(RoleError::BadMaxSessionDuration {
                arn: self.arn.to_string(),
                secs,
            });
        }
        self.max_session_duration = secs;
        Ok(self)
    }

    pub fn arn(&self) -> &RoleArn {
        &self.arn
    }

    pub fn max_session_duration(&self) -> u32 {
        self.max_session_duration
    }

    pub fn trust(&self) -> &TrustPolicy {
        &self.trust
    }

    /// The permission policies, named `role/<name>:<policy name>` for decisions.
    pub fn policies(&self) -> &[NamedPolicy] {
        &self.policies
    }
}

/// All configured roles, by ARN.
#[derive(Clone, Debug, Default)]
pub struct Roles {
    by_arn: BTreeMap<RoleArn, Role>,
}

impl Roles {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, role: Role) {
        self.by_arn.insert(role.arn.clone(), role);
    }

    pub fn get(&self, arn: &RoleArn) -> Option<&Role> {
        self.by_arn.get(arn)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Role> {
        self.by_arn.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arn_table() {
        let rows: &[(&str, Option<(&str, &str)>)] = &[
            ("arn:aws:iam::123456789012:role/app", Some(("123456789012", "app"))),
            (
                "arn:aws:iam::000000000000:role/a+b=c,d.e@f_g-h",
                Some(("000000000000", "a+b=c,d.e@f_g-h")),
            ),
            ("arn:aws:iam::123456789012:role/", None),
            ("arn:aws:iam::12345678901:role/app", None),
            ("arn:aws:iam::1234567890123:role/app", None),
            ("arn:aws:iam::12345678901a:role/app", None),
            ("arn:aws:iam::123456789012:user/app", None),
            ("arn:aws:iam::123456789012:role/path/app", None),
            ("arn:aws:iam::123456789012:role/app*", None),
            ("arn:aws:sts::123456789012:role/app", None),
            ("arn:aws-cn:iam::123456789012:role/app", None),
            ("ARN:aws:iam::123456789012:role/app", None),
            ("", None),
        ];
        for (s, want) in rows {
            let got = s.parse::<RoleArn>();
            assert_eq!(got.as_ref().ok().map(|a| (a.account(), a.name())), *want, "{s}");
            if let Ok(a) = got {
                assert_eq!(a.to_string(), *s);
            }
        }
        let long = format!("arn:aws:iam::123456789012:role/{}", "x".repeat(64));
        assert!(long.parse::<RoleArn>().is_ok());
        assert!(format!("{long}x").parse::<RoleArn>().is_err());
        let id = RoleArn::new("123456789012", "app").unwrap().role_id();
        assert_eq!(id.len(), 21);
        assert!(id.starts_with("AROA"));
        assert_eq!(id, RoleArn::new("123456789012", "app").unwrap().role_id());
        assert_ne!(id, RoleArn::new("123456789012", "app2").unwrap().role_id());
    }

    #[test]
    fn role_validation() {
        let arn = RoleArn::new("123456789012", "app").unwrap();
        let trust = TrustPolicy::parse(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRoleWithWebIdentity"}}"#,
        )
        .unwrap();
        let with_principal =
            Policy::parse(r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}}"#)
                .unwrap();
        let err = Role::new(arn.clone(), trust.clone(), vec![("p".into(), with_principal)]).unwrap_err();
        assert!(err.to_string().contains("cannot name a Principal"), "{err}");
        let ok = Role::new(arn, trust, vec![]).unwrap();
        assert_eq!(ok.max_session_duration(), 3600);
        assert!(ok.clone().with_max_session_duration(3599).is_err());
        assert!(ok.clone().with_max_session_duration(43201).is_err());
        assert_eq!(
            ok.with_max_session_duration(43200).unwrap().max_session_duration(),
            43200
        );
    }
}
