//! The diagnostic commands: `keyless token inspect` (`token`) and `keyless explain` (`explain`).
//!
//! Both answer a question an operator asks while wiring a workload up — "is this token good?",
//! "would this request work, and if not, why?" — with the same code the server decides with:
//! `keyless_idp::KeyCache::verify` for tokens, the role's `TrustPolicy` and `keyless_identity::authz`
//! for decisions. This module holds what they share: stage two of their flags (the token source,
//! `--now`), loading the `identity:` section the way `keyless serve` loads its config, decoding a
//! token for display (header and claims only: the signature and the token itself are never
//! printed), and the exit codes (0 yes, 1 no, 2 usage or configuration error).

pub mod explain;
pub mod token;

use std::io::Read as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyless_identity::token::Validation;
use keyless_idp::{FetchOptions, KeyCache};
use serde_json::{Map, Value};

use crate::cli::{ConfigFileArg, ServeArgs, TokenInput};
use crate::config::{self, identity::IdentityConfig};

/// A usage or configuration error: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

pub fn usage(message: impl Into<String>) -> anyhow::Error {
    UsageError(message.into()).into()
}

/// The exit code of a tool: `Ok(true)` 0, `Ok(false)` 1, an error 2 (printed to stderr).
pub fn exit(result: anyhow::Result<bool>) -> ExitCode {
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("keyless: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Loads the configuration exactly as `keyless serve` does (flag, `KEYLESS_*` environment, file)
/// and returns its `identity:` section.
pub fn load_identity(file: &ConfigFileArg) -> anyhow::Result<IdentityConfig> {
    let args = ServeArgs {
        file: file.clone(),
        ..ServeArgs::default()
    };
    let config = config::load(&args, &|name| std::env::var_os(name)).map_err(|e| usage(e.to_string()))?;
    match config.identity {
        Some(identity) => Ok(identity),
        None => Err(usage(match config.file {
            Some(path) => format!(
                "config file \"{}\" has no identity: section; there are no issuers or roles to check against",
                path.display()
            ),
            None => "no config file given (--config FILE or KEYLESS_CONFIG); the issuers and roles are read from its \
                     identity: section"
                .to_owned(),
        })),
    }
}

/// The configured issuers' key cache, built as `keyless serve` builds it (inline keys parsed,
/// JWKS files read now; discovery sources are fetched on first use, from their configured URLs
/// only).
pub fn key_cache(identity: &IdentityConfig) -> anyhow::Result<KeyCache> {
    let validation = Validation {
        leeway_secs: identity.leeway_secs as i64,
        ..Validation::default()
    };
    KeyCache::new(identity.issuers.clone(), validation, FetchOptions::default())
        .map_err(|e| usage(format!("config field \"identity.issuers\": {e}")))
}

/// Stage two of the token flags: exactly one source, read and trimmed.
pub fn read_token(input: &TokenInput, stdin_marker: Option<&str>) -> anyhow::Result<Option<String>> {
    if let Some(m) = stdin_marker
        && m != "-"
    {
        bail!(usage(format!(
            "unexpected argument {m:?}; give the token with --token-file FILE, --token JWT or - (standard input)"
        )));
    }
    let given = [
        input.token_file.is_some(),
        input.token.is_some(),
        stdin_marker.is_some(),
    ];
    if given.iter().filter(|g| **g).count() > 1 {
        bail!(usage(
            "give the token once: --token-file FILE, --token JWT or - (standard input)"
        ));
    }
    let text = if let Some(t) = &input.token {
        t.clone()
    } else if stdin_marker.is_some() || input.token_file.as_deref() == Some(Path::new("-")) {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("cannot read the token from standard input")?;
        s
    } else if let Some(path) = &input.token_file {
        std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the token file \"{}\"", path.display()))
            .map_err(|e| usage(format!("{e:#}")))?
    } else {
        return Ok(None);
    };
    let token = text.trim().to_owned();
    if token.is_empty() {
        bail!(usage("the token is empty"));
    }
    Ok(Some(token))
}

/// Stage two of `--now`: unix seconds.
pub fn now(given: Option<&str>) -> anyhow::Result<i64> {
    match given {
        None => Ok(time::OffsetDateTime::now_utc().unix_timestamp()),
        Some(s) => time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .map(|t| t.unix_timestamp())
            .map_err(|e| {
                usage(format!(
                    "--now {s:?} is not an RFC 3339 time ({e}); e.g. 2026-03-01T12:00:00Z"
                ))
            }),
    }
}

/// Unix seconds as `2026-03-01T12:00:00Z`.
pub fn time(unix: i64) -> String {
    keyless_identity::s3_actions::iso8601(unix)
}

/// `3h 2m 1s`.
pub fn span(secs: i64) -> String {
    let s = secs.unsigned_abs();
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m {s}s"),
        _ => format!("{h}h {m}m {s}s"),
    }
}

/// A token's header and claims, decoded but NOT verified: for display, and for `explain` to keep
/// going after a refusal. The signature is never kept.
#[derive(Debug, Default, Clone)]
pub struct Decoded {
    pub header: Option<Map<String, Value>>,
    pub claims: Option<Map<String, Value>>,
}

impl Decoded {
    pub fn of(token: &str) -> Self {
        let mut parts = token.split('.');
        let mut part = || {
            parts
                .next()
                .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
                .and_then(|b| serde_json::from_slice::<Map<String, Value>>(&b).ok())
        };
        let header = part();
        let claims = part();
        Self { header, claims }
    }

    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.as_ref()?.get(name)?.as_str()
    }

    pub fn audiences(&self) -> Vec<String> {
        match self.claims.as_ref().and_then(|c| c.get("aud")) {
            Some(Value::String(a)) => vec![a.clone()],
            Some(Value::Array(list)) => list.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_table() {
        for (given, want) in [
            (Some("2026-03-01T12:00:00Z"), Some(1_772_366_400)),
            (Some("2026-03-01T13:00:00+01:00"), Some(1_772_366_400)),
            (Some("2026-03-01"), None),
            (Some("yesterday"), None),
        ] {
            assert_eq!(now(given).ok(), want, "{given:?}");
        }
    }

    #[test]
    fn span_table() {
        for (secs, want) in [
            (0, "0s"),
            (59, "59s"),
            (61, "1m 1s"),
            (-3600, "1h 0m 0s"),
            (3725, "1h 2m 5s"),
        ] {
            assert_eq!(span(secs), want);
        }
    }

    #[test]
    fn decoded_never_needs_a_signature() {
        let d = Decoded::of("eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4IiwiYXVkIjpbImEiLCJiIl19");
        assert_eq!(d.header.unwrap()["alg"], "none");
        assert_eq!(d.claims.as_ref().unwrap()["iss"], "x");
        let d = Decoded::of("garbage");
        assert!(d.header.is_none() && d.claims.is_none());
    }
}
