//! The `gateway:` section: keyless in front of an upstream S3 service instead of its embedded
//! store (`keyless_s3::Upstream`). The endpoint and the upstream's keys may also come from the
//! environment (`KEYLESS_GATEWAY_*`, e.g. from a Kubernetes Secret), which wins over the file.

use std::path::PathBuf;

use serde::Deserialize;

use super::layers::Sourced;
use super::{
    ConfigError, GATEWAY_ACCESS_KEY, GATEWAY_CA_FILE, GATEWAY_ENDPOINT, GATEWAY_PATH_STYLE, GATEWAY_REGION,
    GATEWAY_SECRET_KEY, Origin,
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
}

/// The gateway settings of every layer, before validation.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RawGateway {
    pub file: Option<Sourced<FileGateway>>,
    pub endpoint: Option<Sourced<String>>,
    pub access_key: Option<Sourced<String>>,
    pub secret_key: Option<Sourced<SecretKey>>,
}

impl RawGateway {
    pub fn over(self, lower: RawGateway) -> RawGateway {
        RawGateway {
            file: self.file.or(lower.file),
            endpoint: self.endpoint.or(lower.endpoint),
            access_key: self.access_key.or(lower.access_key),
            secret_key: self.secret_key.or(lower.secret_key),
        }
    }

    fn is_empty(&self) -> bool {
        self.file.is_none() && self.endpoint.is_none() && self.access_key.is_none() && self.secret_key.is_none()
    }
}

/// Stage two: `None` when no gateway setting is given anywhere (the embedded store).
pub fn validate(raw: RawGateway) -> Result<Option<keyless_s3::Upstream>, ConfigError> {
    if raw.is_empty() {
        return Ok(None);
    }
    let origin = raw.file.as_ref().map_or(Origin::Default, |f| f.origin.clone());
    let file = raw.file.map(|f| f.value).unwrap_or_default();
    let pick = |env: Option<Sourced<String>>, file: Option<String>| {
        env.or_else(|| {
            file.map(|value| Sourced {
                value,
                origin: origin.clone(),
            })
        })
    };
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
    let access_key = pick(raw.access_key, file.access_key).ok_or_else(|| ConfigError::InvalidAt {
        field: GATEWAY_ACCESS_KEY.name.into(),
        origin: origin.clone(),
        message: "is missing: give the upstream's access key (or KEYLESS_GATEWAY_ACCESS_KEY)".into(),
    })?;
    let secret_key = raw
        .secret_key
        .or_else(|| {
            file.secret_key.map(|value| Sourced {
                value,
                origin: origin.clone(),
            })
        })
        .ok_or_else(|| ConfigError::InvalidAt {
            field: GATEWAY_SECRET_KEY.name.into(),
            origin: origin.clone(),
            message: "is missing: give the upstream's secret key (or KEYLESS_GATEWAY_SECRET_KEY)".into(),
        })?;
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
    Ok(Some(keyless_s3::Upstream {
        endpoint: url.trim_end_matches('/').to_owned(),
        region,
        access_key: access_key.value,
        secret_key: secret_key.value.expose().to_owned(),
        ca_file: file.ca_file,
        path_style,
    }))
}
