//! The `gateway:` section: keyless in front of an upstream S3 service instead of its embedded
//! store (`keyless_s3::Upstream`). The endpoint and the upstream's keys may also come from the
//! environment (`KEYLESS_GATEWAY_*`, e.g. from a Kubernetes Secret), which wins over the file.

use std::path::PathBuf;

use serde::Deserialize;

use super::layers::{Sourced, sourced};
use super::{
    ConfigError, GATEWAY_ACCESS_KEY, GATEWAY_CA_FILE, GATEWAY_ENDPOINT, GATEWAY_PATH_STYLE, GATEWAY_REGION,
    GATEWAY_ROLE_ARN, GATEWAY_SECRET_KEY, GATEWAY_SESSION_NAME, GATEWAY_SHARED_BUCKET, GATEWAY_STS_ENDPOINT,
    GATEWAY_TOKEN_FILE, Origin,
};
use crate::credentials::SecretKey;

/// `gateway:` as written in YAML.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileGateway {
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key: Option<String>,
    pub secret_key: Option<SecretKey>,
    pub ca_file: Option<PathBuf>,
    pub path_style: Option<bool>,
    pub shared_bucket: Option<String>,
    pub web_identity: Option<FileWebIdentity>,
}

/// `gateway.web_identity:`: keyless's own ServiceAccount token, exchanged at the upstream's STS.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileWebIdentity {
    pub role_arn: Option<String>,
    pub token_file: Option<PathBuf>,
    pub sts_endpoint: Option<String>,
    pub session_name: Option<String>,
}

/// The gateway settings of every layer, before validation.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RawGateway {
    pub file: Option<Sourced<FileGateway>>,
    pub endpoint: Option<Sourced<String>>,
    pub access_key: Option<Sourced<String>>,
    pub secret_key: Option<Sourced<SecretKey>>,
    pub shared_bucket: Option<Sourced<String>>,
    pub role_arn: Option<Sourced<String>>,
    pub token_file: Option<Sourced<PathBuf>>,
    pub sts_endpoint: Option<Sourced<String>>,
}

impl RawGateway {
    pub fn over(self, lower: RawGateway) -> RawGateway {
        RawGateway {
            file: self.file.or(lower.file),
            endpoint: self.endpoint.or(lower.endpoint),
            access_key: self.access_key.or(lower.access_key),
            secret_key: self.secret_key.or(lower.secret_key),
            shared_bucket: self.shared_bucket.or(lower.shared_bucket),
            role_arn: self.role_arn.or(lower.role_arn),
            token_file: self.token_file.or(lower.token_file),
            sts_endpoint: self.sts_endpoint.or(lower.sts_endpoint),
        }
    }

    fn is_empty(&self) -> bool {
        self.file.is_none()
            && self.endpoint.is_none()
            && self.access_key.is_none()
            && self.secret_key.is_none()
            && self.shared_bucket.is_none()
            && self.role_arn.is_none()
            && self.token_file.is_none()
            && self.sts_endpoint.is_none()
    }
}

/// Stage two: `None` when no gateway setting is given anywhere (the embedded store).
pub fn validate(raw: RawGateway) -> Result<Option<keyless_s3::Upstream>, ConfigError> {
    if raw.is_empty() {
        return Ok(None);
    }
    let origin = raw.file.as_ref().map_or(Origin::Default, |f| f.origin.clone());
    let file = raw.file.map(|f| f.value).unwrap_or_default();
    // The environment's value wins over the file's.
    let pick = |env: Option<Sourced<_>>, file| env.or_else(|| sourced(file, &origin));
    let endpoint = pick(raw.endpoint, file.endpoint).ok_or_else(|| ConfigError::InvalidAt {
        field: GATEWAY_ENDPOINT.name.into(),
        origin: origin.clone(),
        message: "is missing: give the upstream S3 service's URL (http://host:port or https://host:port)".into(),
    })?;
    let url = endpoint.value.trim();
    let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"));
    if rest.is_none_or(|r| r.is_empty() || r.contains(['?', '#'])) {
        return Err(ConfigError::invalid(
            GATEWAY_ENDPOINT,
            &endpoint,
            format!("{url:?} is not an http:// or https:// URL of the upstream S3 service"),
        ));
    }
    let region = file
        .region
        .unwrap_or_else(|| GATEWAY_REGION.default.expect("a default").to_owned());
    if region.is_empty() {
        return Err(ConfigError::InvalidAt {
            field: GATEWAY_REGION.name.into(),
            origin,
            message: "is empty; give the region the upstream expects in signatures".into(),
        });
    }
    if let Some(ca) = &file.ca_file
        && (url.starts_with("http://") || !ca.is_file())
    {
        return Err(ConfigError::InvalidAt {
            field: GATEWAY_CA_FILE.name.into(),
            origin,
            message: if url.starts_with("http://") {
                "is set but the endpoint is plain http://; use an https:// endpoint or leave ca_file out".into()
            } else {
                format!(
                    "{:?} is not a readable file of PEM certificates",
                    ca.display().to_string()
                )
            },
        });
    }
    let path_style = file
        .path_style
        .unwrap_or_else(|| GATEWAY_PATH_STYLE.default == Some("true"));
    let endpoint = url.trim_end_matches('/').to_owned();
    let shared_bucket = pick(raw.shared_bucket, file.shared_bucket)
        .map(|b| {
            check_bucket_name(&b.value)
                .map(|()| b.value.clone())
                .map_err(|m| ConfigError::invalid(GATEWAY_SHARED_BUCKET, &b, m))
        })
        .transpose()?;
    let web = file.web_identity.unwrap_or_default();
    let role_arn = pick(raw.role_arn, web.role_arn);
    let token_file = raw.token_file.or_else(|| sourced(web.token_file, &origin));
    let sts_endpoint = pick(raw.sts_endpoint, web.sts_endpoint);
    let access_key = pick(raw.access_key, file.access_key);
    let secret_key = raw.secret_key.or_else(|| sourced(file.secret_key, &origin));
    let auth = match (role_arn, access_key, secret_key) {
        (Some(role), None, None) => {
            let token_file = token_file.ok_or_else(|| ConfigError::InvalidAt {
                field: GATEWAY_TOKEN_FILE.name.into(),
                origin: role.origin.clone(),
                message: "is missing: with gateway.web_identity.role_arn, give the file keyless's own \
                          ServiceAccount token is projected to (or KEYLESS_GATEWAY_TOKEN_FILE)"
                    .into(),
            })?;
            if !role.value.starts_with("arn:") {
                return Err(ConfigError::invalid(
                    GATEWAY_ROLE_ARN,
                    &role,
                    format!("{:?} is not a role ARN (arn:aws:iam::ACCOUNT:role/NAME)", role.value),
                ));
            }
            let sts_endpoint = match sts_endpoint {
                Some(s) => {
                    let u = s.value.trim().trim_end_matches('/');
                    if !(u.starts_with("http://") || u.starts_with("https://")) {
                        return Err(ConfigError::invalid(
                            GATEWAY_STS_ENDPOINT,
                            &s,
                            format!("{u:?} is not an http:// or https:// URL of the upstream's STS"),
                        ));
                    }
                    u.to_owned()
                }
                None => default_sts_endpoint(&endpoint, &region),
            };
            keyless_s3::UpstreamAuth::WebIdentity {
                role_arn: role.value,
                token_file: token_file.value,
                sts_endpoint,
                session_name: web
                    .session_name
                    .unwrap_or_else(|| GATEWAY_SESSION_NAME.default.expect("a default").to_owned()),
            }
        }
        (Some(role), _, _) => {
            return Err(ConfigError::InvalidAt {
                field: GATEWAY_ROLE_ARN.name.into(),
                origin: role.origin,
                message: "is set together with gateway.access_key/secret_key: keyless signs upstream requests \
                          either with its web identity or with keys; remove one"
                    .into(),
            });
        }
        (None, Some(access_key), Some(secret_key)) => keyless_s3::UpstreamAuth::Keys {
            access_key: access_key.value,
            secret_key: secret_key.value.expose().to_owned(),
        },
        (None, None, _) => {
            return Err(ConfigError::InvalidAt {
                field: GATEWAY_ACCESS_KEY.name.into(),
                origin: origin.clone(),
                message: "is missing: give the upstream's access key (or KEYLESS_GATEWAY_ACCESS_KEY), or \
                          gateway.web_identity.role_arn for keyless's own web identity"
                    .into(),
            });
        }
        (None, Some(_), None) => {
            return Err(ConfigError::InvalidAt {
                field: GATEWAY_SECRET_KEY.name.into(),
                origin: origin.clone(),
                message: "is missing: give the upstream's secret key (or KEYLESS_GATEWAY_SECRET_KEY)".into(),
            });
        }
    };
    Ok(Some(keyless_s3::Upstream {
        endpoint,
        region,
        auth,
        ca_file: file.ca_file,
        path_style,
        shared_bucket,
    }))
}

/// AWS's regional STS for an AWS S3 endpoint; otherwise the upstream itself (Ceph RGW and keyless
/// serve STS on their S3 port).
fn default_sts_endpoint(endpoint: &str, region: &str) -> String {
    let host = endpoint
        .split("://")
        .nth(1)
        .unwrap_or("")
        .split(['/', ':'])
        .next()
        .unwrap_or("");
    if host.ends_with(".amazonaws.com") {
        format!("https://sts.{region}.amazonaws.com")
    } else {
        endpoint.to_owned()
    }
}

/// S3's bucket naming rules (the shared bucket is created by keyless if it is missing).
fn check_bucket_name(name: &str) -> Result<(), String> {
    let ok = (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.as_bytes()[name.len() - 1].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a valid S3 bucket name (3 to 63 characters: lowercase letters, digits, '.' and '-', \
             starting and ending with a letter or digit)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sts_defaults_to_the_upstream_or_aws_regional_sts() {
        assert_eq!(
            default_sts_endpoint("https://s3.eu-west-1.amazonaws.com", "eu-west-1"),
            "https://sts.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            default_sts_endpoint("http://rgw.storage:7480", "us-east-1"),
            "http://rgw.storage:7480"
        );
        assert!(check_bucket_name("keyless-tenants").is_ok());
        for bad in ["ab", "Upper", "-lead", "trail-", "under_score", &"a".repeat(64)] {
            assert!(check_bucket_name(bad).is_err(), "{bad}");
        }
    }
}
