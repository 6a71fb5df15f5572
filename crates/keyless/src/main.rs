//! keyless: the binary. It parses the command line (`cli`), builds and checks the one
//! [`config::Config`] (`config`), and runs the server (`start`, `server`, `tls`, `health`).
//! Everything that stores or speaks S3 lives in the library crates `keyless-store` and
//! `keyless-s3`; this crate wires them to a socket. `anyhow` is used here and nowhere else.
//!
//! `token inspect` and `explain` (`tools`) are diagnostics over the same configuration and the
//! identity crates: "is this token good?", "would this request work, and why?".
//!
//! Exit codes: 0 after a clean shutdown, 2 for a configuration error (like a usage error; TLS
//! files that do not load count), 1 for any other failure. The tools: 0 yes (valid / allowed),
//! 1 no, 2 usage or configuration error.

mod banner;
mod cli;
mod config;
mod console;
mod credentials;
mod health;
mod identity;
mod live;
mod logging;
mod metrics;
mod observe;
mod quickstart;
mod server;
mod session_keys;
mod start;
mod tls;
mod tools;
mod webhook;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser as _;

use crate::cli::{Cli, Command, TokenCommand};

fn main() -> ExitCode {
    // rustls with ring everywhere (TLS serving, the webhook's Kubernetes client, gateway
    // upstreams). aws-sdk-s3's default features (through s3s-aws) also compile aws-lc-rs into
    // rustls, and with two providers rustls will not pick one by itself.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    match cli.command {
        Command::Version => {
            println!("keyless {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::Token(TokenCommand::Inspect(args)) => tools::exit(tools::token::run(&args)),
        Command::Explain(args) => tools::exit(tools::explain::run(&args)),
        Command::Webhook(args) => webhook::main(*args),
        Command::Serve(args) => {
            let config = match config::load(&args, &|name| std::env::var_os(name)) {
                Ok(config) => config,
                Err(e) => {
                    eprintln!("keyless: {e}");
                    return ExitCode::from(2);
                }
            };
            if let Err(e) = logging::init(&config.log) {
                eprintln!("keyless: {e:#}");
                return ExitCode::FAILURE;
            }
            let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!("cannot start the async runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let reload: live::Loader = Box::new(move || config::load(&args, &|name| std::env::var_os(name)));
            let result = runtime.block_on(start::serve(config, reload));
            // Connections still open after the grace period are cut here; blocking work gets a
            // short bound so that exit is prompt.
            runtime.shutdown_timeout(Duration::from_secs(5));
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!("{e:#}");
                    // TLS files that do not load are a configuration error too.
                    if e.downcast_ref::<tls::TlsError>().is_some() {
                        ExitCode::from(2)
                    } else {
                        ExitCode::FAILURE
                    }
                }
            }
        }
    }
}
