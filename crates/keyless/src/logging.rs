//! Logs: tracing events to stderr, as text or JSON lines, filtered by `log.filter`
//! (`KEYLESS_LOG`, default `info`). Stdout is kept for the start-up text meant for people
//! and scripts.

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};

/// Installs the global subscriber. The filter was checked when the config was validated.
pub fn init(log: &LogConfig) -> anyhow::Result<()> {
    let filter = EnvFilter::builder().parse(&log.filter)?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match log.format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).try_init(),
        LogFormat::Json => builder.json().with_ansi(false).try_init(),
    };
    installed.map_err(|e| anyhow::anyhow!("cannot install the logger: {e}"))
}
