//! Stage one of the configuration: the three layers a setting can come from — flags, the
//! environment, the YAML file — each read into the same all-optional [`RawConfig`] whose values
//! remember their [`Origin`]. Nothing here judges a value; `config::validate` does.
//!
//! The YAML schema ([`FileConfig`]) refuses unknown fields, so a misspelt setting is an error
//! rather than silently ignored.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{
    ConfigError, DATA_DIR, DOMAINS, Field, LISTEN, LOG_AUDIT, LOG_FILTER, LOG_FORMAT, Origin, REGION, RELOAD_INTERVAL,
    ROOT_ACCESS_KEY, ROOT_SECRET_KEY, TLS_CERT, TLS_KEY,
};
use crate::cli::ServeArgs;
use crate::credentials::SecretKey;

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourced<T> {
    pub value: T,
    pub origin: Origin,
}

impl<T> Sourced<T> {
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Sourced<U> {
        Sourced {
            value: f(self.value),
            origin: self.origin,
        }
    }
}

/// Every setting, optional, as one layer gives it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RawConfig {
    pub data_dir: Option<Sourced<PathBuf>>,
    pub listen: Option<Sourced<String>>,
    pub region: Option<Sourced<String>>,
    pub domains: Option<Sourced<Vec<String>>>,
    pub tls_cert: Option<Sourced<PathBuf>>,
    pub tls_key: Option<Sourced<PathBuf>>,
    pub tls_reload_interval_secs: Option<Sourced<u64>>,
    pub root_access_key: Option<Sourced<String>>,
    /// Wrapped at once, so that no `Debug` of any configuration stage shows it.
    pub root_secret_key: Option<Sourced<SecretKey>>,
    pub log_format: Option<Sourced<String>>,
    pub log_filter: Option<Sourced<String>>,
    pub log_audit: Option<Sourced<String>>,
    pub reload_interval_secs: Option<Sourced<u64>>,
    pub max_header_bytes: Option<Sourced<u64>>,
    pub header_read_timeout_secs: Option<Sourced<u64>>,
    pub shutdown_grace_secs: Option<Sourced<u64>>,
    pub max_object_size: Option<Sourced<u64>>,
    pub body_read_timeout_secs: Option<Sourced<u64>>,
    pub min_free_bytes: Option<Sourced<u64>>,
    pub max_connections: Option<Sourced<u64>>,
    pub max_requests_in_flight: Option<Sourced<u64>>,
    /// The `identity:` section (file only), validated in `config::identity`.
    pub identity: Option<Sourced<super::identity::FileIdentity>>,
    /// The `gateway:` section and its environment variables, validated in `config::gateway`.
    pub gateway: super::gateway::RawGateway,
}

impl RawConfig {
    /// Merges two layers: each value of `self` wins over the same value of `lower`. A list (the
    /// domains) is taken whole from one layer, never concatenated.
    pub fn over(self, lower: RawConfig) -> RawConfig {
        RawConfig {
            data_dir: self.data_dir.or(lower.data_dir),
            listen: self.listen.or(lower.listen),
            region: self.region.or(lower.region),
            domains: self.domains.or(lower.domains),
            tls_cert: self.tls_cert.or(lower.tls_cert),
            tls_key: self.tls_key.or(lower.tls_key),
            tls_reload_interval_secs: self.tls_reload_interval_secs.or(lower.tls_reload_interval_secs),
            root_access_key: self.root_access_key.or(lower.root_access_key),
            root_secret_key: self.root_secret_key.or(lower.root_secret_key),
            log_format: self.log_format.or(lower.log_format),
            log_filter: self.log_filter.or(lower.log_filter),
            log_audit: self.log_audit.or(lower.log_audit),
            reload_interval_secs: self.reload_interval_secs.or(lower.reload_interval_secs),
            max_header_bytes: self.max_header_bytes.or(lower.max_header_bytes),
            header_read_timeout_secs: self.header_read_timeout_secs.or(lower.header_read_timeout_secs),
            shutdown_grace_secs: self.shutdown_grace_secs.or(lower.shutdown_grace_secs),
            max_object_size: self.max_object_size.or(lower.max_object_size),
            body_read_timeout_secs: self.body_read_timeout_secs.or(lower.body_read_timeout_secs),
            min_free_bytes: self.min_free_bytes.or(lower.min_free_bytes),
            max_connections: self.max_connections.or(lower.max_connections),
            max_requests_in_flight: self.max_requests_in_flight.or(lower.max_requests_in_flight),
            identity: self.identity.or(lower.identity),
            gateway: self.gateway.over(lower.gateway),
        }
    }

    /// The flag layer.
    pub fn from_flags(args: &ServeArgs) -> RawConfig {
        fn flag<T: Clone>(v: &Option<T>, field: Field) -> Option<Sourced<T>> {
            v.clone().map(|value| Sourced {
                value,
                origin: Origin::Flag(field.flag.expect("field has a flag")),
            })
        }
        RawConfig {
            data_dir: flag(&args.data_dir, DATA_DIR),
            listen: flag(&args.listen, LISTEN),
            region: flag(&args.region, REGION),
            domains: (!args.domains.is_empty()).then(|| Sourced {
                value: args.domains.clone(),
                origin: Origin::Flag("--domain"),
            }),
            tls_cert: flag(&args.tls_cert, TLS_CERT),
            tls_key: flag(&args.tls_key, TLS_KEY),
            log_format: flag(&args.log_format, LOG_FORMAT),
            log_audit: flag(&args.audit_log, LOG_AUDIT),
            ..RawConfig::default()
        }
    }

    /// The environment layer. An empty variable counts as unset.
    pub fn from_env(env: &dyn Fn(&str) -> Option<OsString>) -> Result<RawConfig, ConfigError> {
        let text = |field: Field| env_text(env, field);
        let path = |field: Field| env_path(env, field);
        Ok(RawConfig {
            data_dir: path(DATA_DIR)?,
            listen: text(LISTEN)?,
            region: text(REGION)?,
            domains: text(DOMAINS)?.map(|s| {
                s.map(|v| {
                    v.split(',')
                        .map(str::trim)
                        .filter(|d| !d.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
            }),
            tls_cert: path(TLS_CERT)?,
            tls_key: path(TLS_KEY)?,
            root_access_key: text(ROOT_ACCESS_KEY)?,
            root_secret_key: text(ROOT_SECRET_KEY)?.map(|s| s.map(SecretKey::new)),
            log_format: text(LOG_FORMAT)?,
            log_filter: text(LOG_FILTER)?,
            log_audit: text(LOG_AUDIT)?,
            gateway: super::gateway::RawGateway {
                endpoint: text(super::GATEWAY_ENDPOINT)?,
                access_key: text(super::GATEWAY_ACCESS_KEY)?,
                secret_key: text(super::GATEWAY_SECRET_KEY)?.map(|s| s.map(SecretKey::new)),
                shared_bucket: text(super::GATEWAY_SHARED_BUCKET)?,
                role_arn: text(super::GATEWAY_ROLE_ARN)?,
                token_file: path(super::GATEWAY_TOKEN_FILE)?,
                sts_endpoint: text(super::GATEWAY_STS_ENDPOINT)?,
                file: None,
            },
            reload_interval_secs: env_number(env, RELOAD_INTERVAL)?,
            ..RawConfig::default()
        })
    }

    /// The file layer: reads and parses the YAML file at `path`.
    pub fn from_file(path: &Sourced<PathBuf>) -> Result<RawConfig, ConfigError> {
        let text = std::fs::read_to_string(&path.value).map_err(|e| ConfigError::Invalid {
            field: super::CONFIG.name,
            origin: path.origin.clone(),
            message: format!(
                "cannot read \"{}\": {e}; give an existing YAML file or leave the setting out",
                path.value.display()
            ),
        })?;
        let file = parse_file(&text).map_err(|message| ConfigError::File {
            path: path.value.clone(),
            message,
        })?;
        Ok(RawConfig::from_file_config(file, &path.value))
    }

    fn from_file_config(file: FileConfig, path: &Path) -> RawConfig {
        let origin = Origin::File(path.to_path_buf());
        let tls = file.tls.unwrap_or_default();
        let root = file.root.unwrap_or_default();
        let log = file.log.unwrap_or_default();
        let limits = file.limits.unwrap_or_default();
        RawConfig {
            data_dir: sourced(file.data_dir, &origin),
            listen: sourced(file.listen, &origin),
            region: sourced(file.region, &origin),
            domains: sourced(file.domains, &origin),
            tls_cert: sourced(tls.cert, &origin),
            tls_key: sourced(tls.key, &origin),
            tls_reload_interval_secs: sourced(tls.reload_interval_secs, &origin),
            root_access_key: sourced(root.access_key, &origin),
            root_secret_key: sourced(root.secret_key, &origin),
            log_format: sourced(log.format, &origin),
            log_filter: sourced(log.filter, &origin),
            log_audit: sourced(log.audit, &origin),
            reload_interval_secs: sourced(file.reload_interval_secs, &origin),
            max_header_bytes: sourced(limits.max_header_bytes, &origin),
            header_read_timeout_secs: sourced(limits.header_read_timeout_secs, &origin),
            shutdown_grace_secs: sourced(limits.shutdown_grace_secs, &origin),
            max_object_size: sourced(limits.max_object_size, &origin),
            body_read_timeout_secs: sourced(limits.body_read_timeout_secs, &origin),
            min_free_bytes: sourced(limits.min_free_bytes, &origin),
            max_connections: sourced(limits.max_connections, &origin),
            max_requests_in_flight: sourced(limits.max_requests_in_flight, &origin),
            identity: sourced(file.identity, &origin),
            gateway: super::gateway::RawGateway {
                file: sourced(file.gateway, &origin),
                ..Default::default()
            },
        }
    }
}

/// Parses the YAML text of a config file; an empty file (or one of comments only) is empty.
pub fn parse_file(text: &str) -> Result<FileConfig, String> {
    match serde_yaml_ng::from_str::<Option<FileConfig>>(text) {
        Ok(file) => Ok(file.unwrap_or_default()),
        Err(e) => {
            let mut message = e.to_string();
            if message.contains("unknown field") {
                message.push_str("; remove it or correct its spelling (docs/configuration.md lists every field)");
            }
            Err(message)
        }
    }
}

/// A value read from `origin` (a file's, mostly), if there is one.
pub(super) fn sourced<T>(v: Option<T>, origin: &Origin) -> Option<Sourced<T>> {
    v.map(|value| Sourced {
        value,
        origin: origin.clone(),
    })
}

/// A path-valued environment variable; any bytes are accepted.
pub fn env_path(env: &dyn Fn(&str) -> Option<OsString>, field: Field) -> Result<Option<Sourced<PathBuf>>, ConfigError> {
    let var = field.env.expect("field has an env var");
    Ok(env(var).filter(|v| !v.is_empty()).map(|v| Sourced {
        value: PathBuf::from(v),
        origin: Origin::Env(var),
    }))
}

/// A text-valued environment variable; it must be UTF-8.
fn env_text(env: &dyn Fn(&str) -> Option<OsString>, field: Field) -> Result<Option<Sourced<String>>, ConfigError> {
    let var = field.env.expect("field has an env var");
    match env(var).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => match v.into_string() {
            Ok(value) => Ok(Some(Sourced {
                value,
                origin: Origin::Env(var),
            })),
            Err(_) => Err(ConfigError::Invalid {
                field: field.name,
                origin: Origin::Env(var),
                message: "is not valid UTF-8; give plain text".to_owned(),
            }),
        },
    }
}

/// A whole-number environment variable.
fn env_number(env: &dyn Fn(&str) -> Option<OsString>, field: Field) -> Result<Option<Sourced<u64>>, ConfigError> {
    let Some(text) = env_text(env, field)? else {
        return Ok(None);
    };
    match text.value.trim().parse() {
        Ok(value) => Ok(Some(Sourced {
            value,
            origin: text.origin,
        })),
        Err(_) => Err(ConfigError::Invalid {
            field: field.name,
            origin: text.origin,
            message: format!("\"{}\" is not a whole number", text.value),
        }),
    }
}

/// The YAML config file. Every field is optional; unknown fields are errors.
///
/// New sections (identity issuers and roles, gateway settings) are added here as further
/// `Option<...>` fields with their own `deny_unknown_fields` structs.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<String>,
    pub region: Option<String>,
    pub domains: Option<Vec<String>>,
    pub tls: Option<FileTls>,
    pub root: Option<FileRoot>,
    pub log: Option<FileLog>,
    pub limits: Option<FileLimits>,
    pub reload_interval_secs: Option<u64>,
    pub identity: Option<super::identity::FileIdentity>,
    pub gateway: Option<super::gateway::FileGateway>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileTls {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub reload_interval_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRoot {
    pub access_key: Option<String>,
    pub secret_key: Option<SecretKey>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileLog {
    pub format: Option<String>,
    pub filter: Option<String>,
    pub audit: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileLimits {
    pub max_header_bytes: Option<u64>,
    pub header_read_timeout_secs: Option<u64>,
    pub shutdown_grace_secs: Option<u64>,
    pub max_object_size: Option<u64>,
    pub body_read_timeout_secs: Option<u64>,
    pub min_free_bytes: Option<u64>,
    pub max_connections: Option<u64>,
    pub max_requests_in_flight: Option<u64>,
}
