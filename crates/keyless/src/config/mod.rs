//! The configuration of one keyless process, stage two: one validated [`Config`] struct, built
//! once at start-up and passed down explicitly (there are no globals).
//!
//! Stage one ([`layers`]) collects optional values from three layers — flags, environment
//! variables, the YAML file — each value remembering where it came from ([`Origin`]). This module
//! merges them (flags > env > file > defaults) and checks every value, so that a bad setting
//! stops the process at start with an error that names the field, says who set it and what to do.
//!
//! Adding a setting: give it a [`Field`] below (and list it in [`FIELDS`]), a slot in
//! [`layers::RawConfig`] and in the YAML schema, and a checked home in [`Config`]. A section that
//! only the file can set (the identity issuers and roles, gateway settings) skips the raw layer:
//! deserialize it in [`layers::FileConfig`] and validate it into its own sub-struct here.

pub mod gateway;
pub mod identity;
pub mod layers;

use std::ffi::OsString;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::cli::ServeArgs;
use crate::credentials::{self, CredentialSource, RootCredentials};
use layers::{RawConfig, Sourced};

/// One setting as the user sees it: its YAML path, environment variable and flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// The dotted YAML path, also the name used in every error message.
    pub name: &'static str,
    pub env: Option<&'static str>,
    pub flag: Option<&'static str>,
    /// The default, as the user would write it; `None` when unset by default.
    pub default: Option<&'static str>,
}

const fn field(
    name: &'static str,
    env: Option<&'static str>,
    flag: Option<&'static str>,
    default: Option<&'static str>,
) -> Field {
    Field {
        name,
        env,
        flag,
        default,
    }
}

/// `--config`/`KEYLESS_CONFIG`: where the YAML file is. Not itself a YAML field.
pub const CONFIG: Field = field("config", Some("KEYLESS_CONFIG"), Some("--config"), None);
pub const DATA_DIR: Field = field(
    "data_dir",
    Some("KEYLESS_DATA_DIR"),
    Some("--data-dir"),
    Some("./keyless-data"),
);
pub const LISTEN: Field = field(
    "listen",
    Some("KEYLESS_LISTEN"),
    Some("--listen"),
    Some("127.0.0.1:9000"),
);
pub const REGION: Field = field("region", Some("KEYLESS_REGION"), Some("--region"), Some("us-east-1"));
pub const DOMAINS: Field = field("domains", Some("KEYLESS_DOMAINS"), Some("--domain"), Some("[]"));
pub const TLS_CERT: Field = field("tls.cert", Some("KEYLESS_TLS_CERT"), Some("--tls-cert"), None);
pub const TLS_KEY: Field = field("tls.key", Some("KEYLESS_TLS_KEY"), Some("--tls-key"), None);
pub const TLS_RELOAD: Field = field("tls.reload_interval_secs", None, None, Some("5"));
pub const ROOT_ACCESS_KEY: Field = field("root.access_key", Some("KEYLESS_ROOT_ACCESS_KEY"), None, None);
pub const ROOT_SECRET_KEY: Field = field("root.secret_key", Some("KEYLESS_ROOT_SECRET_KEY"), None, None);
pub const LOG_FORMAT: Field = field(
    "log.format",
    Some("KEYLESS_LOG_FORMAT"),
    Some("--log-format"),
    Some("text"),
);
pub const LOG_FILTER: Field = field("log.filter", Some("KEYLESS_LOG"), None, Some("info"));
pub const LOG_AUDIT: Field = field("log.audit", Some("KEYLESS_AUDIT_LOG"), Some("--audit-log"), Some("off"));
pub const RELOAD_INTERVAL: Field = field(
    "reload_interval_secs",
    Some("KEYLESS_RELOAD_INTERVAL_SECS"),
    None,
    Some("2"),
);
pub const MAX_HEADER_BYTES: Field = field("limits.max_header_bytes", None, None, Some("65536"));
pub const HEADER_READ_TIMEOUT: Field = field("limits.header_read_timeout_secs", None, None, Some("30"));
pub const SHUTDOWN_GRACE: Field = field("limits.shutdown_grace_secs", None, None, Some("30"));
pub const MAX_OBJECT_SIZE: Field = field("limits.max_object_size", None, None, Some("5368709120"));
pub const MIN_FREE_BYTES: Field = field("limits.min_free_bytes", None, None, Some("67108864"));
pub const BODY_READ_TIMEOUT: Field = field("limits.body_read_timeout_secs", None, None, Some("30"));
pub const MAX_CONNECTIONS: Field = field("limits.max_connections", None, None, Some("8192"));
pub const MAX_IN_FLIGHT: Field = field("limits.max_requests_in_flight", None, None, Some("1024"));
pub const IDENTITY_ACCOUNT_ID: Field = field("identity.account_id", None, None, Some("000000000000"));
pub const IDENTITY_ISSUERS: Field = field("identity.issuers", None, None, Some("[]"));
pub const IDENTITY_ROLES: Field = field("identity.roles", None, None, Some("[]"));
pub const IDENTITY_SESSION_KEY_FILE: Field =
    field("identity.session_key_file", None, None, Some("<data_dir>/session-keys"));
pub const GATEWAY_ENDPOINT: Field = field("gateway.endpoint", Some("KEYLESS_GATEWAY_ENDPOINT"), None, None);
pub const GATEWAY_REGION: Field = field("gateway.region", None, None, Some("us-east-1"));
pub const GATEWAY_ACCESS_KEY: Field = field("gateway.access_key", Some("KEYLESS_GATEWAY_ACCESS_KEY"), None, None);
pub const GATEWAY_SECRET_KEY: Field = field("gateway.secret_key", Some("KEYLESS_GATEWAY_SECRET_KEY"), None, None);
pub const GATEWAY_CA_FILE: Field = field("gateway.ca_file", None, None, None);
pub const GATEWAY_PATH_STYLE: Field = field("gateway.path_style", None, None, Some("true"));
pub const GATEWAY_SHARED_BUCKET: Field = field(
    "gateway.shared_bucket",
    Some("KEYLESS_GATEWAY_SHARED_BUCKET"),
    None,
    None,
);
pub const GATEWAY_ROLE_ARN: Field = field(
    "gateway.web_identity.role_arn",
    Some("KEYLESS_GATEWAY_ROLE_ARN"),
    None,
    None,
);
pub const GATEWAY_TOKEN_FILE: Field = field(
    "gateway.web_identity.token_file",
    Some("KEYLESS_GATEWAY_TOKEN_FILE"),
    None,
    None,
);
pub const GATEWAY_STS_ENDPOINT: Field = field(
    "gateway.web_identity.sts_endpoint",
    Some("KEYLESS_GATEWAY_STS_ENDPOINT"),
    None,
    Some("<gateway.endpoint>"),
);
pub const GATEWAY_SESSION_NAME: Field = field("gateway.web_identity.session_name", None, None, Some("keyless"));
pub const IDENTITY_LEEWAY: Field = field("identity.leeway_secs", None, None, Some("60"));

/// Every setting, in the order docs/configuration.md lists them; tests check that `--help` and
/// that document agree with it.
#[cfg(test)]
pub const FIELDS: &[Field] = &[
    CONFIG,
    DATA_DIR,
    LISTEN,
    REGION,
    DOMAINS,
    TLS_CERT,
    TLS_KEY,
    TLS_RELOAD,
    ROOT_ACCESS_KEY,
    ROOT_SECRET_KEY,
    LOG_FORMAT,
    LOG_FILTER,
    LOG_AUDIT,
    RELOAD_INTERVAL,
    MAX_HEADER_BYTES,
    HEADER_READ_TIMEOUT,
    SHUTDOWN_GRACE,
    MAX_OBJECT_SIZE,
    MIN_FREE_BYTES,
    BODY_READ_TIMEOUT,
    MAX_CONNECTIONS,
    MAX_IN_FLIGHT,
    IDENTITY_ACCOUNT_ID,
    IDENTITY_ISSUERS,
    IDENTITY_ROLES,
    IDENTITY_SESSION_KEY_FILE,
    IDENTITY_LEEWAY,
    GATEWAY_ENDPOINT,
    GATEWAY_REGION,
    GATEWAY_ACCESS_KEY,
    GATEWAY_SECRET_KEY,
    GATEWAY_CA_FILE,
    GATEWAY_PATH_STYLE,
    GATEWAY_SHARED_BUCKET,
    GATEWAY_ROLE_ARN,
    GATEWAY_TOKEN_FILE,
    GATEWAY_STS_ENDPOINT,
    GATEWAY_SESSION_NAME,
];

/// Where a value came from; every error about a value says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Flag(&'static str),
    Env(&'static str),
    File(PathBuf),
    Default,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Flag(flag) => write!(f, "flag {flag}"),
            Origin::Env(var) => write!(f, "environment variable {var}"),
            Origin::File(path) => write!(f, "config file \"{}\"", path.display()),
            Origin::Default => f.write_str("the default"),
        }
    }
}

/// A configuration that cannot be used. The message names the field and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config field \"{field}\": {message} (set by {origin})")]
    Invalid {
        field: &'static str,
        origin: Origin,
        message: String,
    },
    /// A value inside a list (`identity.roles[2].trust.service_accounts[0]`).
    #[error("config field \"{field}\": {message} (set by {origin})")]
    InvalidAt {
        field: String,
        origin: Origin,
        message: String,
    },
    #[error("config field \"{field}\" is missing: {message}")]
    Missing { field: &'static str, message: String },
    #[error("config file \"{}\": {message}", path.display())]
    File { path: PathBuf, message: String },
}

impl ConfigError {
    fn invalid<T>(field: Field, value: &Sourced<T>, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            field: field.name,
            origin: value.origin.clone(),
            message: message.into(),
        }
    }
}

/// The validated configuration of a `keyless serve` process.
#[derive(Debug, Clone)]
pub struct Config {
    /// The store's directory; also holds `root-credentials` when those are generated.
    pub data_dir: PathBuf,
    pub listen: ListenAddr,
    pub s3: S3Config,
    /// HTTPS when set; plain HTTP otherwise.
    pub tls: Option<TlsConfig>,
    /// Root credentials given by the user; `None` means "generate once, keep in the data dir".
    pub root: Option<RootCredentials>,
    pub log: LogConfig,
    pub limits: Limits,
    /// How often the config file is checked for changes (live reload); `None`: only on SIGHUP.
    pub reload_interval: Option<Duration>,
    /// Gateway mode: the upstream S3 service that holds the data instead of the embedded store.
    pub gateway: Option<keyless_s3::Upstream>,
    /// The `identity:` section: issuers, roles, session keys. `None` when the file has none.
    pub identity: Option<identity::IdentityConfig>,
    /// The YAML file read, if any (for the start-up log).
    pub file: Option<PathBuf>,
}

/// Where to listen: a host (IP literal or name) and a port; port 0 asks the OS for a free one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenAddr {
    pub host: String,
    pub port: u16,
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Settings of the S3 protocol front.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Config {
    pub region: String,
    /// Lower-case DNS names without a trailing dot; `BUCKET.<domain>` names a bucket.
    pub domains: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// How often the files are read again to pick up a rotated certificate.
    pub reload_interval: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
    Logfmt,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A tracing-subscriber `EnvFilter` directive such as `info` or `info,keyless=debug`.
    pub filter: String,
    /// Where the audit records go (one JSON object per request).
    pub audit: AuditTarget,
}

/// Where `log.audit` sends the audit stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditTarget {
    Off,
    Stdout,
    Stderr,
    /// Appended to this file (reopened on SIGHUP, for log rotation).
    File(PathBuf),
}

/// Bounds that keep one client from holding the server's resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The request line plus headers of one request, at most (hyper's read buffer).
    pub max_header_bytes: usize,
    /// A connection that has not sent a full request head by then is closed; this also bounds
    /// how long an idle keep-alive connection and a TLS handshake may last.
    pub header_read_timeout: Duration,
    /// After SIGTERM/SIGINT, how long in-flight requests may still run.
    pub shutdown_grace: Duration,
    /// The largest body of one PutObject or UploadPart, in bytes (S3: 5 GiB).
    pub max_object_size: u64,
    /// Free space kept on the data filesystem; new data past it gets `507 InsufficientStorage`.
    pub min_free_bytes: u64,
    /// A request body that sends nothing for this long is abandoned (`400 RequestTimeout`).
    pub body_read_timeout: Duration,
    /// Connections open at once; one more is answered `503 SlowDown` and closed.
    pub max_connections: usize,
    /// Requests being served at once; one more is answered `503 SlowDown`.
    pub max_requests_in_flight: usize,
}

/// Builds the configuration from the parsed flags, an environment and the config file they name.
/// `env` is the process environment in production and a table in tests.
pub fn load(args: &ServeArgs, env: &dyn Fn(&str) -> Option<OsString>) -> Result<Config, ConfigError> {
    let flags = RawConfig::from_flags(args);
    let environment = RawConfig::from_env(env)?;
    let file_path = match &args.file.config {
        Some(path) => Some(Sourced {
            value: path.clone(),
            origin: Origin::Flag("--config"),
        }),
        None => layers::env_path(env, CONFIG)?,
    };
    let file = match &file_path {
        Some(path) => Some(RawConfig::from_file(path)?),
        None => None,
    };
    let raw = flags.over(environment).over(file.unwrap_or_default());
    validate(raw, file_path.map(|p| p.value))
}

/// Stage two: checks every value and fills in defaults.
fn validate(raw: RawConfig, file: Option<PathBuf>) -> Result<Config, ConfigError> {
    let data_dir = raw.data_dir.unwrap_or_else(|| default_of(DATA_DIR).map(PathBuf::from));
    if data_dir.value.as_os_str().is_empty() {
        return Err(ConfigError::invalid(
            DATA_DIR,
            &data_dir,
            "is empty; give the directory for the store",
        ));
    }
    if data_dir.value.exists() && !data_dir.value.is_dir() {
        return Err(ConfigError::invalid(
            DATA_DIR,
            &data_dir,
            format!(
                "\"{}\" exists and is not a directory; give a directory (it is created if missing)",
                data_dir.value.display()
            ),
        ));
    }

    let listen = raw.listen.unwrap_or_else(|| default_of(LISTEN));
    let listen_addr = parse_listen(&listen.value).map_err(|m| ConfigError::invalid(LISTEN, &listen, m))?;

    let region = raw.region.unwrap_or_else(|| default_of(REGION));
    check_region(&region.value).map_err(|m| ConfigError::invalid(REGION, &region, m))?;

    let mut domains = Vec::new();
    if let Some(given) = &raw.domains {
        for d in &given.value {
            let d = normalize_domain(d).map_err(|m| ConfigError::invalid(DOMAINS, given, m))?;
            if !domains.contains(&d) {
                domains.push(d);
            }
        }
    }

    let tls = match (raw.tls_cert, raw.tls_key) {
        (None, None) => None,
        (Some(cert), None) => return Err(missing_pair(TLS_KEY, TLS_CERT, &cert.origin, "the private key")),
        (None, Some(key)) => return Err(missing_pair(TLS_CERT, TLS_KEY, &key.origin, "the certificate chain")),
        (Some(cert), Some(key)) => {
            for (f, v) in [(TLS_CERT, &cert), (TLS_KEY, &key)] {
                if v.value.as_os_str().is_empty() {
                    return Err(ConfigError::invalid(f, v, "is empty; give the path of a PEM file"));
                }
            }
            let secs = raw.tls_reload_interval_secs.unwrap_or_else(|| default_u64(TLS_RELOAD));
            if !(1..=86_400).contains(&secs.value) {
                return Err(ConfigError::invalid(
                    TLS_RELOAD,
                    &secs,
                    format!("{} is out of range; give 1 to 86400 seconds", secs.value),
                ));
            }
            Some(TlsConfig {
                cert: cert.value,
                key: key.value,
                reload_interval: Duration::from_secs(secs.value),
            })
        }
    };

    let root = match (raw.root_access_key, raw.root_secret_key) {
        (None, None) => None,
        (Some(ak), None) => {
            return Err(missing_pair(
                ROOT_SECRET_KEY,
                ROOT_ACCESS_KEY,
                &ak.origin,
                "its secret key",
            ));
        }
        (None, Some(sk)) => {
            return Err(missing_pair(
                ROOT_ACCESS_KEY,
                ROOT_SECRET_KEY,
                &sk.origin,
                "its access key",
            ));
        }
        (Some(ak), Some(sk)) => {
            credentials::check_access_key(&ak.value).map_err(|m| ConfigError::invalid(ROOT_ACCESS_KEY, &ak, m))?;
            credentials::check_secret_key(sk.value.expose())
                .map_err(|m| ConfigError::invalid(ROOT_SECRET_KEY, &sk, m))?;
            Some(RootCredentials {
                access_key: ak.value,
                secret_key: sk.value,
                source: CredentialSource::Configured {
                    access_key: ak.origin,
                    secret_key: sk.origin,
                },
            })
        }
    };

    let format = raw.log_format.unwrap_or_else(|| default_of(LOG_FORMAT));
    let format = match format.value.as_str() {
        "text" => LogFormat::Text,
        "json" => LogFormat::Json,
        "logfmt" => LogFormat::Logfmt,
        other => {
            return Err(ConfigError::invalid(
                LOG_FORMAT,
                &format,
                format!("\"{other}\" is not a log format; use text, json or logfmt"),
            ));
        }
    };
    let audit = raw.log_audit.unwrap_or_else(|| default_of(LOG_AUDIT));
    let audit = match audit.value.trim() {
        "off" => AuditTarget::Off,
        "stdout" => AuditTarget::Stdout,
        "stderr" => AuditTarget::Stderr,
        "" => {
            return Err(ConfigError::invalid(
                LOG_AUDIT,
                &audit,
                "is empty; give off, stdout, stderr or the path of a file to append to",
            ));
        }
        path => AuditTarget::File(PathBuf::from(path)),
    };
    let reload = raw.reload_interval_secs.unwrap_or_else(|| default_u64(RELOAD_INTERVAL));
    if reload.value > 3600 {
        return Err(ConfigError::invalid(
            RELOAD_INTERVAL,
            &reload,
            format!("{} is out of range; give 0 (SIGHUP only) to 3600 seconds", reload.value),
        ));
    }
    let filter = raw.log_filter.unwrap_or_else(|| default_of(LOG_FILTER));
    if let Err(e) = tracing_subscriber::EnvFilter::builder().parse(&filter.value) {
        return Err(ConfigError::invalid(
            LOG_FILTER,
            &filter,
            format!(
                "\"{}\" is not a log filter ({e}); use a level such as info or directives such as info,keyless=debug",
                filter.value
            ),
        ));
    }

    let max_header = raw.max_header_bytes.unwrap_or_else(|| default_u64(MAX_HEADER_BYTES));
    // hyper refuses read buffers under 8 KiB.
    if !(8192..=1 << 24).contains(&max_header.value) {
        return Err(ConfigError::invalid(
            MAX_HEADER_BYTES,
            &max_header,
            format!("{} is out of range; give 8192 to 16777216 bytes", max_header.value),
        ));
    }
    let header_timeout = raw
        .header_read_timeout_secs
        .unwrap_or_else(|| default_u64(HEADER_READ_TIMEOUT));
    if !(1..=3600).contains(&header_timeout.value) {
        return Err(ConfigError::invalid(
            HEADER_READ_TIMEOUT,
            &header_timeout,
            format!("{} is out of range; give 1 to 3600 seconds", header_timeout.value),
        ));
    }
    let grace = raw.shutdown_grace_secs.unwrap_or_else(|| default_u64(SHUTDOWN_GRACE));
    if grace.value > 3600 {
        return Err(ConfigError::invalid(
            SHUTDOWN_GRACE,
            &grace,
            format!("{} is out of range; give 0 to 3600 seconds", grace.value),
        ));
    }

    let max_object = raw.max_object_size.unwrap_or_else(|| default_u64(MAX_OBJECT_SIZE));
    if !(1..=5 << 30).contains(&max_object.value) {
        return Err(ConfigError::invalid(
            MAX_OBJECT_SIZE,
            &max_object,
            format!(
                "{} is out of range; give 1 to 5368709120 bytes (5 GiB)",
                max_object.value
            ),
        ));
    }

    let min_free = raw.min_free_bytes.unwrap_or_else(|| default_u64(MIN_FREE_BYTES));
    let body_timeout = raw
        .body_read_timeout_secs
        .unwrap_or_else(|| default_u64(BODY_READ_TIMEOUT));
    if !(1..=3600).contains(&body_timeout.value) {
        return Err(ConfigError::invalid(
            BODY_READ_TIMEOUT,
            &body_timeout,
            format!("{} is out of range; give 1 to 3600 seconds", body_timeout.value),
        ));
    }
    let max_connections = raw.max_connections.unwrap_or_else(|| default_u64(MAX_CONNECTIONS));
    if !(1..=1_000_000).contains(&max_connections.value) {
        return Err(ConfigError::invalid(
            MAX_CONNECTIONS,
            &max_connections,
            format!("{} is out of range; give 1 to 1000000", max_connections.value),
        ));
    }
    let max_in_flight = raw.max_requests_in_flight.unwrap_or_else(|| default_u64(MAX_IN_FLIGHT));
    if !(1..=1_000_000).contains(&max_in_flight.value) {
        return Err(ConfigError::invalid(
            MAX_IN_FLIGHT,
            &max_in_flight,
            format!("{} is out of range; give 1 to 1000000", max_in_flight.value),
        ));
    }

    let identity = raw
        .identity
        .map(|id| identity::validate(id.value, &id.origin))
        .transpose()?;
    let gateway = gateway::validate(raw.gateway)?;

    Ok(Config {
        identity,
        gateway,
        data_dir: data_dir.value,
        listen: listen_addr,
        s3: S3Config {
            region: region.value,
            domains,
        },
        tls,
        root,
        log: LogConfig {
            format,
            filter: filter.value,
            audit,
        },
        reload_interval: (reload.value > 0).then(|| Duration::from_secs(reload.value)),
        limits: Limits {
            max_header_bytes: max_header.value as usize,
            header_read_timeout: Duration::from_secs(header_timeout.value),
            shutdown_grace: Duration::from_secs(grace.value),
            max_object_size: max_object.value,
            min_free_bytes: min_free.value,
            body_read_timeout: Duration::from_secs(body_timeout.value),
            max_connections: max_connections.value as usize,
            max_requests_in_flight: max_in_flight.value as usize,
        },
        file,
    })
}

fn default_of(field: Field) -> Sourced<String> {
    Sourced {
        value: field.default.expect("field has a default").to_owned(),
        origin: Origin::Default,
    }
}

fn default_u64(field: Field) -> Sourced<u64> {
    default_of(field).map(|v| v.parse().expect("numeric default"))
}

/// The error for one half of a pair given without the other.
fn missing_pair(missing: Field, given: Field, given_origin: &Origin, what: &str) -> ConfigError {
    let mut ways = Vec::new();
    if let Some(flag) = missing.flag {
        ways.push(format!("flag {flag}"));
    }
    if let Some(env) = missing.env {
        ways.push(format!("environment variable {env}"));
    }
    ways.push(format!("{} in the config file", missing.name));
    ConfigError::Missing {
        field: missing.name,
        message: format!(
            "\"{}\" is set (by {given_origin}), so give {what} too, with {}; or unset both",
            given.name,
            ways.join(", or ")
        ),
    }
}

/// Parses `HOST:PORT`: an IPv4 address or host name, or a bracketed IPv6 address.
pub fn parse_listen(s: &str) -> Result<ListenAddr, String> {
    let not = |why: &str| format!("\"{s}\" is not HOST:PORT ({why})");
    let Some((host, port)) = s.rsplit_once(':') else {
        return Err(not("the :PORT is missing, e.g. 127.0.0.1:9000"));
    };
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(not("port must be 0-65535"));
    }
    let port: u16 = port.parse().map_err(|_| not("port must be 0-65535"))?;
    let host = if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        match inner.parse::<IpAddr>() {
            Ok(IpAddr::V6(_)) => inner,
            _ => return Err(not("inside [ ] must be an IPv6 address, e.g. [::1]:9000")),
        }
    } else if host.contains(':') {
        return Err(not("an IPv6 address needs brackets, e.g. [::1]:9000"));
    } else if host.is_empty() {
        return Err(not(
            "HOST is empty; use 0.0.0.0 for every interface or 127.0.0.1 for this machine only",
        ));
    } else if host.parse::<IpAddr>().is_ok() || is_dns_name(host) {
        host
    } else {
        return Err(not("HOST must be an IP address or a host name"));
    };
    Ok(ListenAddr {
        host: host.to_owned(),
        port,
    })
}

fn check_region(r: &str) -> Result<(), String> {
    let ok = !r.is_empty()
        && r.len() <= 64
        && r.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !r.starts_with('-')
        && !r.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "\"{r}\" is not a region name; use lower-case letters, digits and '-', e.g. us-east-1"
        ))
    }
}

/// Checks a virtual-host domain and returns it lower-cased without a trailing dot.
pub fn normalize_domain(d: &str) -> Result<String, String> {
    let lower = d.trim().trim_end_matches('.').to_ascii_lowercase();
    if is_dns_name(&lower) {
        Ok(lower)
    } else {
        Err(format!(
            "\"{d}\" is not a domain name; give a bare DNS name such as s3.example.com (no scheme, port or path)"
        ))
    }
}

fn is_dns_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

#[cfg(test)]
mod tests;
