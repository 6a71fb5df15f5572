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
    /// Prints the version and exits.
    Version,
}

/// The flags of `keyless serve`. Each one overrides its environment variable and config field.
#[derive(Debug, Default, Clone, Args)]
pub struct ServeArgs {
    /// YAML config file to read [env: KEYLESS_CONFIG] [default: none; flags and env only]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

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
    #[arg(long, value_name = "FORMAT", value_parser = ["text", "json"])]
    pub log_format: Option<String>,
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
