//! `WebhookConfig`: everything the mutation needs besides the pod and its ServiceAccount, as one
//! explicit struct. [`crate::Webhook::new`] validates it once; the mutation never re-checks it.

use crate::annotations::{valid_account, valid_endpoint, valid_region};
use crate::error::ConfigError;

/// The shortest token lifetime the apiserver accepts for a projected serviceAccountToken.
pub const MIN_TOKEN_EXPIRATION: u64 = 600;
/// The longest (`2^32` seconds, the apiserver's validation limit; it may cap lower itself).
pub const MAX_TOKEN_EXPIRATION: u64 = 1 << 32;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    /// Annotation and label prefix, a DNS subdomain: `<prefix>/role-arn` etc. Default `keyless.io`.
    pub annotation_prefix: String,
    /// Injected as AWS_ENDPOINT_URL_STS. keyless answers STS on its S3 port, so this is usually
    /// the same URL as `s3_endpoint`.
    pub sts_endpoint: String,
    /// Injected as AWS_ENDPOINT_URL_S3.
    pub s3_endpoint: String,
    /// Injected as AWS_REGION and AWS_DEFAULT_REGION. Default `us-east-1`.
    pub region: String,
    /// The projected token's audience unless the ServiceAccount says otherwise. Default `keyless`.
    pub audience: String,
    /// The projected token's expirationSeconds unless the ServiceAccount says otherwise.
    /// Default 3600; at least 600.
    pub token_expiration_seconds: u64,
    /// Where the token volume is mounted; the token file is `<mount_path>/token`.
    pub mount_path: String,
    /// The name of the projected token volume (a DNS label).
    pub volume_name: String,
    /// The 12-digit account a bare role name in `<prefix>/role-arn` belongs to.
    pub account_id: String,
    /// Refuse pods whose ServiceAccount cannot be read or carries an invalid annotation, instead of
    /// admitting them unchanged with a warning.
    pub strict: bool,
}

impl WebhookConfig {
    /// The defaults, with one keyless URL for both STS and S3 and the account that role names
    /// belong to.
    pub fn new(endpoint: impl Into<String>, account_id: impl Into<String>) -> WebhookConfig {
        let endpoint = endpoint.into();
        WebhookConfig {
            annotation_prefix: "keyless.io".into(),
            sts_endpoint: endpoint.clone(),
            s3_endpoint: endpoint,
            region: "us-east-1".into(),
            audience: "keyless".into(),
            token_expiration_seconds: 3600,
            mount_path: "/var/run/secrets/keyless/serviceaccount".into(),
            volume_name: "keyless-token".into(),
            account_id: account_id.into(),
            strict: false,
        }
    }

    /// The token file the SDKs read (AWS_WEB_IDENTITY_TOKEN_FILE).
    pub fn token_file(&self) -> String {
        format!("{}/token", self.mount_path.trim_end_matches('/'))
    }

    /// The full key of an annotation or label under the prefix.
    pub fn key(&self, name: &str) -> String {
        format!("{}/{name}", self.annotation_prefix)
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let fail = |field, message: String| Err(ConfigError { field, message });
        if !valid_dns_subdomain(&self.annotation_prefix) {
            return fail(
                "annotation_prefix",
                format!("{:?} is not a DNS subdomain (e.g. keyless.io)", self.annotation_prefix),
            );
        }
        for (field, url) in [("sts_endpoint", &self.sts_endpoint), ("s3_endpoint", &self.s3_endpoint)] {
            if let Err(m) = valid_endpoint(url) {
                return fail(field, m);
            }
        }
        if let Err(m) = valid_region(&self.region) {
            return fail("region", m);
        }
        if self.audience.trim().is_empty() {
            return fail("audience", "must not be empty".into());
        }
        if !(MIN_TOKEN_EXPIRATION..=MAX_TOKEN_EXPIRATION).contains(&self.token_expiration_seconds) {
            return fail(
                "token_expiration_seconds",
                format!("{} is outside 600..=4294967296 seconds", self.token_expiration_seconds),
            );
        }
        if !self.mount_path.starts_with('/')
            || self.mount_path.contains(':')
            || self.mount_path.trim_matches('/').is_empty()
        {
            return fail(
                "mount_path",
                format!("{:?} is not an absolute path below /", self.mount_path),
            );
        }
        if !valid_dns_label(&self.volume_name) {
            return fail(
                "volume_name",
                format!("{:?} is not a DNS label (e.g. keyless-token)", self.volume_name),
            );
        }
        if !valid_account(&self.account_id) {
            return fail(
                "account_id",
                format!("{:?} is not a 12-digit account id", self.account_id),
            );
        }
        Ok(())
    }
}

/// RFC 1123 label: 1–63 of `[a-z0-9-]`, alphanumeric at both ends.
pub(crate) fn valid_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// RFC 1123 subdomain: dot-separated labels, at most 253 characters.
pub(crate) fn valid_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(valid_dns_label)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(edit: impl FnOnce(&mut WebhookConfig), expected: Result<(), &str>) {
        let mut config = WebhookConfig::new("https://keyless.keyless.svc:9000", "000000000000");
        edit(&mut config);
        match (config.validate(), expected) {
            (Ok(()), Ok(())) => {}
            (Err(e), Err(field)) => assert_eq!(e.field, field, "{e}"),
            (got, expected) => panic!("{config:?}: got {got:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn validation() {
        check(|_| {}, Ok(()));
        check(|c| c.annotation_prefix = "iam.example.com".into(), Ok(()));
        check(|c| c.annotation_prefix = "Keyless.io".into(), Err("annotation_prefix"));
        check(|c| c.annotation_prefix = "keyless.io/".into(), Err("annotation_prefix"));
        check(|c| c.sts_endpoint = "keyless:9000".into(), Err("sts_endpoint"));
        check(|c| c.s3_endpoint = "http://".into(), Err("s3_endpoint"));
        check(|c| c.s3_endpoint = "http://10.0.0.5:9000".into(), Ok(()));
        check(|c| c.region = "US East".into(), Err("region"));
        check(|c| c.audience = " ".into(), Err("audience"));
        check(|c| c.token_expiration_seconds = 599, Err("token_expiration_seconds"));
        check(|c| c.token_expiration_seconds = 600, Ok(()));
        check(|c| c.mount_path = "var/run".into(), Err("mount_path"));
        check(|c| c.mount_path = "/".into(), Err("mount_path"));
        check(|c| c.volume_name = "Keyless_Token".into(), Err("volume_name"));
        check(|c| c.account_id = "12345".into(), Err("account_id"));
    }

    #[test]
    fn token_file() {
        let mut config = WebhookConfig::new("http://k:9000", "000000000000");
        assert_eq!(config.token_file(), "/var/run/secrets/keyless/serviceaccount/token");
        config.mount_path = "/token-dir/".into();
        assert_eq!(config.token_file(), "/token-dir/token");
    }
}
