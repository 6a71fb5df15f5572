//! The command line, stage one: what the user typed, parsed by clap and nothing more.
//!
//! Every flag is defined here once; `--help` is generated from these definitions. Values stay
//! unvalidated strings so that stage two (`config`) can check them together with the environment
//! and the config file and name the bad field in its error. Flags never carry secrets: root
//! credentials come from the environment, the config file or the data directory only.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// keyless: an S3-compatible object store.
///
/// Settings come from flags, then environment variables, then the YAML config file, then
/// built-in defaults (first one found wins). See docs/configuration.md.
#[derive(Debug, Parser)]
#[command(name = "keyless", version, arg_required_else_help = true, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs the S3 server until SIGTERM or SIGINT.
    Serve(ServeArgs),
    /// Web identity tokens: decode one and validate it against the configured issuers.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Would this work, and if not why: token → trust policy → permission policies → verdict.
    ///
    /// Exit code 0 allowed, 1 denied, 2 usage or configuration error.
    Explain(Box<ExplainArgs>),
    /// Serves the Kubernetes mutating admission webhook (HTTPS) until SIGTERM or SIGINT.
    ///
    /// Every flag can also be set by its environment variable; see docs/configuration.md.
    Webhook(Box<WebhookArgs>),
    /// Prints the version and exits.
    Version,
}

/// The flags of `keyless webhook`: flags and environment only (no config file).
#[derive(Debug, Clone, Args)]
pub struct WebhookArgs {
    /// Address to listen on (HTTPS); port 0 picks a free port
    #[arg(
        long,
        value_name = "HOST:PORT",
        env = "KEYLESS_WEBHOOK_LISTEN",
        default_value = "0.0.0.0:8443"
    )]
    pub listen: String,

    /// PEM certificate chain, reloaded when the file changes (cert-manager rotation)
    #[arg(long, value_name = "FILE", env = "KEYLESS_WEBHOOK_TLS_CERT")]
    pub tls_cert: PathBuf,

    /// PEM private key matching --tls-cert
    #[arg(long, value_name = "FILE", env = "KEYLESS_WEBHOOK_TLS_KEY")]
    pub tls_key: PathBuf,

    /// keyless's URL as pods reach it: injected as AWS_ENDPOINT_URL_STS and AWS_ENDPOINT_URL_S3
    #[arg(long, value_name = "URL", env = "KEYLESS_WEBHOOK_ENDPOINT")]
    pub endpoint: String,

    /// Injected as AWS_ENDPOINT_URL_STS instead of --endpoint
    #[arg(long, value_name = "URL", env = "KEYLESS_WEBHOOK_STS_ENDPOINT")]
    pub sts_endpoint: Option<String>,

    /// Injected as AWS_ENDPOINT_URL_S3 instead of --endpoint
    #[arg(long, value_name = "URL", env = "KEYLESS_WEBHOOK_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,

    /// Injected as AWS_REGION and AWS_DEFAULT_REGION
    #[arg(long, value_name = "R", env = "KEYLESS_WEBHOOK_REGION", default_value = "us-east-1")]
    pub region: String,

    /// The 12-digit account a bare role name in the role annotation belongs to
    #[arg(
        long,
        value_name = "ID",
        env = "KEYLESS_WEBHOOK_ACCOUNT_ID",
        default_value = "000000000000"
    )]
    pub account_id: String,

    /// Prefix of the ServiceAccount annotations and pod labels/annotations read
    #[arg(
        long,
        value_name = "P",
        env = "KEYLESS_WEBHOOK_ANNOTATION_PREFIX",
        default_value = "keyless.io"
    )]
    pub annotation_prefix: String,

    /// Audience of the projected token unless the ServiceAccount says otherwise
    #[arg(long, value_name = "A", env = "KEYLESS_WEBHOOK_AUDIENCE", default_value = "keyless")]
    pub audience: String,

    /// expirationSeconds of the projected token unless the ServiceAccount says otherwise
    #[arg(
        long,
        value_name = "SECS",
        env = "KEYLESS_WEBHOOK_TOKEN_EXPIRATION",
        default_value_t = 3600
    )]
    pub token_expiration: u64,

    /// Refuse pods whose ServiceAccount cannot be read or carries an invalid annotation
    #[arg(long, env = "KEYLESS_WEBHOOK_STRICT")]
    pub strict: bool,

    /// kubeconfig to reach the Kubernetes API [default: in-cluster ServiceAccount]
    #[arg(long, value_name = "FILE", env = "KEYLESS_WEBHOOK_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,

    /// Log format on stderr
    #[arg(long, value_name = "FORMAT", value_parser = ["text", "json"], env = "KEYLESS_WEBHOOK_LOG_FORMAT", default_value = "text")]
    pub log_format: String,
}

/// The flags of `keyless serve`. Each one overrides its environment variable and config field.
#[derive(Debug, Default, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub file: ConfigFileArg,

    /// Directory holding the store (created if missing) [env: KEYLESS_DATA_DIR] [default: ./keyless-data]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Address to listen on; port 0 picks a free port [env: KEYLESS_LISTEN] [default: 127.0.0.1:9000]
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: Option<String>,

    /// PEM certificate chain; serves HTTPS, reloaded when the file changes [env: KEYLESS_TLS_CERT]
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key matching --tls-cert [env: KEYLESS_TLS_KEY]
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,

    /// S3 region expected in signatures [env: KEYLESS_REGION] [default: us-east-1]
    #[arg(long, value_name = "R")]
    pub region: Option<String>,

    /// Domain for virtual-host-style bucket addressing (BUCKET.D); repeat for several [env: KEYLESS_DOMAINS, comma-separated] [default: none]
    #[arg(long = "domain", value_name = "D")]
    pub domains: Vec<String>,

    /// Log format on stderr [env: KEYLESS_LOG_FORMAT] [default: text]
    #[arg(long, value_name = "FORMAT", value_parser = ["text", "json", "logfmt"])]
    pub log_format: Option<String>,

    /// Audit stream, one JSON record per request: off, stdout, stderr or a file path [env: KEYLESS_AUDIT_LOG] [default: off]
    #[arg(long, value_name = "TARGET")]
    pub audit_log: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Decodes a token (header and claims; never the signature) and validates it exactly as STS
    /// would, against the issuers of the config file.
    ///
    /// Exit code 0 valid, 1 invalid, 2 usage or configuration error.
    Inspect(InspectArgs),
}

/// `--config`: the YAML file `serve` reads, and the tools read `identity:` from (loaded the same way).
#[derive(Debug, Default, Clone, Args)]
pub struct ConfigFileArg {
    /// YAML config file to read [env: KEYLESS_CONFIG] [default: none; flags and env only]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Where a token comes from: exactly one of these.
#[derive(Debug, Default, Clone, Args)]
pub struct TokenInput {
    /// Read the token from this file (`-`: standard input)
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,

    /// The token itself (prefer --token-file: a command line lands in shell history)
    #[arg(long, value_name = "JWT")]
    pub token: Option<String>,
}

/// Output and clock options shared by the tools.
#[derive(Debug, Default, Clone, Args)]
pub struct ToolOutput {
    /// Evaluate at this time instead of now (RFC 3339, e.g. 2026-03-01T12:00:00Z)
    #[arg(long, value_name = "RFC3339")]
    pub now: Option<String>,

    /// Print one JSON document instead of text
    #[arg(long)]
    pub json: bool,
}

/// The flags of `keyless token inspect`.
#[derive(Debug, Default, Clone, Args)]
pub struct InspectArgs {
    #[command(flatten)]
    pub config: ConfigFileArg,

    #[command(flatten)]
    pub input: TokenInput,

    /// `-`: read the token from standard input
    #[arg(value_name = "-")]
    pub stdin: Option<String>,

    #[command(flatten)]
    pub output: ToolOutput,
}

/// The flags of `keyless explain`.
#[derive(Debug, Default, Clone, Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub config: ConfigFileArg,

    #[command(flatten)]
    pub input: TokenInput,

    /// Without a token: the subject, `system:serviceaccount:NS:NAME` (signature and expiry are not checked)
    #[arg(long, value_name = "SUB", conflicts_with_all = ["token", "token_file"])]
    pub sub: Option<String>,

    /// Without a token: an audience of the token; repeat for several [default: sts.amazonaws.com]
    #[arg(long = "aud", value_name = "AUD", requires = "sub")]
    pub audiences: Vec<String>,

    /// Without a token: the issuer (`iss`) [default: the only configured issuer]
    #[arg(long, value_name = "URL", requires = "sub")]
    pub issuer: Option<String>,

    /// The role to assume: its name or its ARN
    #[arg(long, value_name = "NAME|ARN")]
    pub role: String,

    /// The session name STS would be given (policy key `keyless:session-name`)
    #[arg(long, value_name = "NAME", default_value = "keyless-explain")]
    pub session_name: String,

    /// An IAM action to check (with --resource), e.g. s3:GetObject
    #[arg(long, value_name = "ACTION", requires = "resource", conflicts_with = "op")]
    pub action: Option<String>,

    /// The resource ARN of --action, e.g. arn:aws:s3:::bucket/key
    #[arg(long, value_name = "ARN", requires = "action")]
    pub resource: Option<String>,

    /// An S3 operation to check, e.g. GetObject, PutObject, ListObjectsV2 (with --bucket, --key)
    #[arg(long, value_name = "OPERATION")]
    pub op: Option<String>,

    /// The bucket of --op
    #[arg(long, value_name = "BUCKET", requires = "op")]
    pub bucket: Option<String>,

    /// The object key of --op
    #[arg(long, value_name = "KEY", requires = "op")]
    pub key: Option<String>,

    /// CopyObject/UploadPartCopy: the source, BUCKET/KEY
    #[arg(long, value_name = "BUCKET/KEY", requires = "op")]
    pub copy_source: Option<String>,

    /// DeleteObjects: a key to delete; repeat for several
    #[arg(long = "delete-key", value_name = "KEY", requires = "op")]
    pub delete_keys: Vec<String>,

    /// PutObject/CopyObject/CreateMultipartUpload: the request sets tags (x-amz-tagging)
    #[arg(long, requires = "op")]
    pub with_tags: bool,

    /// A listing's prefix (condition key s3:prefix)
    #[arg(long, value_name = "P")]
    pub prefix: Option<String>,

    /// A listing's delimiter (condition key s3:delimiter)
    #[arg(long, value_name = "D")]
    pub delimiter: Option<String>,

    /// A listing's max-keys (condition key s3:max-keys)
    #[arg(long, value_name = "N")]
    pub max_keys: Option<i64>,

    /// The client's address (condition key aws:SourceIp)
    #[arg(long, value_name = "IP")]
    pub source_ip: Option<String>,

    /// The request comes over HTTPS (condition key aws:SecureTransport; default false)
    #[arg(long)]
    pub secure: bool,

    #[command(flatten)]
    pub output: ToolOutput,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    /// The help text of each flag names the environment variable of the same setting, so that
    /// `--help` stays the one place a user learns both.
    #[test]
    fn every_flag_help_names_its_env_var() {
        let cmd = Cli::command();
        let serve = cmd.find_subcommand("serve").expect("serve subcommand");
        for field in crate::config::FIELDS {
            let (Some(flag), Some(env)) = (field.flag, field.env) else {
                continue;
            };
            let arg = serve
                .get_arguments()
                .find(|a| a.get_long().map(|l| format!("--{l}")) == Some(flag.to_owned()))
                .unwrap_or_else(|| panic!("flag {flag} of field {} is not defined", field.name));
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            assert!(help.contains(env), "help of {flag} does not mention {env}: {help}");
        }
    }
}
