//! Logs: tracing events to stderr, as text, JSON lines or logfmt, filtered by `log.filter`
//! (`KEYLESS_LOG`, default `info`). Stdout is kept for the start-up text meant for people
//! and scripts (and the audit stream, when `log.audit` is `stdout`: see `audit`).

use std::fmt::{self, Write as _};
use std::io::IsTerminal as _;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

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
        LogFormat::Logfmt => builder.event_format(Logfmt).try_init(),
    };
    installed.map_err(|e| anyhow::anyhow!("cannot install the logger: {e}"))
}

/// One event per line as logfmt: `time=… level=info target=… msg="…" key=value …`.
struct Logfmt;

impl<S, N> FormatEvent<S, N> for Logfmt
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, _: &FmtContext<'_, S, N>, mut w: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let now = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let meta = event.metadata();
        let mut line = format!(
            "time={now} level={} target={}",
            meta.level().as_str().to_ascii_lowercase(),
            meta.target()
        );
        event.record(&mut LogfmtFields(&mut line));
        writeln!(w, "{line}")
    }
}

struct LogfmtFields<'a>(&'a mut String);

impl Visit for LogfmtFields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        pair(self.0, field.name(), value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        pair(self.0, field.name(), &format!("{value:?}"));
    }
}

/// Appends ` key=value`, quoting the value when it is empty or holds a space, `=` or `"`.
fn pair(out: &mut String, key: &str, value: &str) {
    let key = if key == "message" { "msg" } else { key };
    let _ = write!(out, " {key}=");
    if !value.is_empty()
        && !value
            .chars()
            .any(|c| c.is_whitespace() || c == '=' || c == '"' || c.is_control())
    {
        out.push_str(value);
        return;
    }
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    #[test]
    fn logfmt_values_are_quoted_when_they_must_be() {
        let cases = [
            ("message", "store opened", " msg=\"store opened\""),
            ("objects", "12", " objects=12"),
            ("reason", "", " reason=\"\""),
            ("path", "a=\"b\"\nc\\", " path=\"a=\\\"b\\\"\\nc\\\\\""),
        ];
        for (k, v, want) in cases {
            let mut out = String::new();
            super::pair(&mut out, k, v);
            assert_eq!(out, want, "{k}={v:?}");
        }
    }
}
