//! Where each trusted issuer's keys come from: the configuration types.
//!
//! Plain, serde-friendly structs: the binary maps its YAML onto them. One [`IssuerSource`] per
//! trusted issuer, naming its exact `iss` and exactly one [`KeySource`]: OIDC discovery over HTTPS,
//! a JWKS file (what `kubectl get --raw /openid/v1/jwks` prints), or an inline JWKS.
//! [`FetchOptions`] holds the timings and limits, the same for every issuer.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// One trusted issuer.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawIssuerSource")]
pub struct IssuerSource {
    /// The exact `iss` its tokens carry, compared byte for byte.
    pub issuer: String,
    /// Where its keys come from (in YAML, exactly one of `discovery:`, `jwks_file:` or `jwks:`).
    pub keys: KeySource,
    /// When not empty, only tokens whose `aud` holds one of these are accepted for this issuer.
    pub audiences: Vec<String>,
}

/// The YAML/JSON shape of an [`IssuerSource`], before "exactly one key source" is checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIssuerSource {
    issuer: String,
    #[serde(default)]
    discovery: Option<DiscoverySource>,
    #[serde(default)]
    jwks_file: Option<PathBuf>,
    #[serde(default)]
    jwks: Option<serde_json::Value>,
    #[serde(default)]
    audiences: Vec<String>,
}

impl TryFrom<RawIssuerSource> for IssuerSource {
    type Error = String;

    fn try_from(raw: RawIssuerSource) -> Result<Self, String> {
        let keys = match (raw.discovery, raw.jwks_file, raw.jwks) {
            (Some(d), None, None) => KeySource::Discovery(d),
            (None, Some(f), None) => KeySource::JwksFile(f),
            (None, None, Some(j)) => KeySource::Jwks(j),
            _ => {
                return Err(format!(
                    "issuer {:?} needs exactly one of \"discovery\", \"jwks_file\" or \"jwks\"",
                    raw.issuer
                ));
            }
        };
        Ok(Self {
            issuer: raw.issuer,
            keys,
            audiences: raw.audiences,
        })
    }
}

/// Exactly one place an issuer's keys come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// OIDC discovery, then the `jwks_uri` it names, over HTTPS; refreshed periodically and on an
    /// unknown `kid`.
    Discovery(DiscoverySource),
    /// A file holding a JWKS document; re-read when it changes.
    JwksFile(PathBuf),
    /// A JWKS document given inline: a JSON string, or (from YAML) the document itself.
    Jwks(serde_json::Value),
}

/// How to reach an issuer's discovery document.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscoverySource {
    /// The discovery document's URL; default `<iss>/.well-known/openid-configuration`.
    #[serde(default)]
    pub url: Option<String>,
    /// A PEM bundle of the CA(s) to trust for this issuer (a cluster's private CA). Without it,
    /// the operating system's trust store is used. Read on every fetch, so a rotated bundle is
    /// picked up.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// A file holding a bearer token to send (an in-cluster keyless's own projected token, so it
    /// can read its apiserver's discovery without anonymous access). Read fresh on every fetch.
    #[serde(default)]
    pub bearer_token_file: Option<PathBuf>,
}

impl IssuerSource {
    /// The discovery document's URL (only for a discovery source).
    pub fn discovery_url(&self) -> Option<String> {
        match &self.keys {
            KeySource::Discovery(d) => Some(d.url.clone().unwrap_or_else(|| default_discovery_url(&self.issuer))),
            _ => None,
        }
    }

    /// `"discovery"`, `"jwks_file"` or `"jwks"`: the source's kind, for status and logs.
    pub fn kind(&self) -> &'static str {
        match self.keys {
            KeySource::Discovery(_) => "discovery",
            KeySource::JwksFile(_) => "jwks_file",
            KeySource::Jwks(_) => "jwks",
        }
    }
}

/// `<iss>/.well-known/openid-configuration`, without doubling a trailing slash.
pub fn default_discovery_url(iss: &str) -> String {
    format!("{}/.well-known/openid-configuration", iss.trim_end_matches('/'))
}

/// Timings and limits for keeping keys fresh.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchOptions {
    /// How often discovery sources are refetched (each wait jittered by ±10%).
    pub refresh_interval: Duration,
    /// After a failed periodic fetch, the first retry waits this long, doubling up to
    /// `refresh_interval`.
    pub retry_min: Duration,
    /// At most one refetch per issuer in this long is triggered by unknown key ids.
    pub unknown_kid_cooldown: Duration,
    /// The limit for one whole HTTP request: connect, TLS, headers and body.
    pub timeout: Duration,
    /// The largest discovery document or JWKS accepted (and the largest JWKS file read).
    pub max_body: usize,
    /// Same-host redirects followed per request (redirects to another host are refused).
    pub max_redirects: usize,
    /// How often JWKS files are checked for a change (a `stat`; read only when it changed).
    pub file_poll_interval: Duration,
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self {
            refresh_interval: Duration::from_secs(600),
            retry_min: Duration::from_secs(10),
            unknown_kid_cooldown: Duration::from_secs(30),
            timeout: Duration::from_secs(5),
            max_body: 1024 * 1024,
            max_redirects: 3,
            file_poll_interval: Duration::from_secs(2),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_shapes_via_json() {
        // The binary's YAML arrives through serde; JSON exercises the same derive.
        let cases = [
            (
                r#"{"issuer":"https://k8s.example","discovery":{"ca_file":"/ca.pem"}}"#,
                KeySource::Discovery(DiscoverySource {
                    ca_file: Some("/ca.pem".into()),
                    ..Default::default()
                }),
            ),
            (
                r#"{"issuer":"https://k8s.example","jwks_file":"/jwks.json","audiences":["sts.amazonaws.com"]}"#,
                KeySource::JwksFile("/jwks.json".into()),
            ),
            (
                r#"{"issuer":"https://k8s.example","jwks":{"keys":[]}}"#,
                KeySource::Jwks(serde_json::json!({"keys": []})),
            ),
        ];
        for (json, want) in cases {
            let got: IssuerSource = serde_json::from_str(json).unwrap();
            assert_eq!(got.keys, want, "{json}");
        }
        let two = r#"{"issuer":"x","jwks_file":"/a","jwks":"{}"}"#;
        assert!(serde_json::from_str::<IssuerSource>(two).is_err());
        let src: IssuerSource = serde_json::from_str(r#"{"issuer":"https://k8s.example/","discovery":{}}"#).unwrap();
        assert_eq!(
            src.discovery_url().unwrap(),
            "https://k8s.example/.well-known/openid-configuration"
        );
    }
}
