//! Fetching an issuer's keys over HTTPS: discovery document → its `jwks_uri` → the JWKS.
//!
//! One short-lived HTTP/1.1 connection per request (fetches are rare; no pool to go stale), built
//! from tokio + rustls (ring) + hyper's client connection, so every rule is ours and visible:
//! - https only; plain http only when the discovery URL itself is http on a loopback address
//!   (tests), and then the `jwks_uri` may be too;
//! - the trust anchors are the issuer's `ca_file` (read on every fetch, so a rotated bundle is
//!   picked up) or else the operating system's trust store (`rustls-native-certs`, which honours
//!   `SSL_CERT_FILE`/`SSL_CERT_DIR`);
//! - the discovery document's `issuer` must equal the configured `iss` byte for byte;
//! - the bearer token (re-read from its file on every fetch) goes to the discovery URL, and to the
//!   `jwks_uri` only when that is the same origin, or when the issuer has its own `ca_file` (the
//!   host is then proven to belong to that cluster's PKI, not merely to the public web's);
//! - a whole request (connect, TLS, headers, body) has a time limit; bodies have a size limit;
//!   redirects are followed only within the same scheme, host and port.

use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;
use keyless_identity::jwks::KeySet;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::error::FetchError;
use crate::source::{DiscoverySource, FetchOptions, default_discovery_url};

/// What one successful fetch found.
#[derive(Clone, Debug)]
pub struct Fetched {
    pub keys: KeySet,
    /// The `jwks_uri` the discovery document named.
    pub jwks_uri: String,
}

/// Fetches the keys of issuer `iss` through its discovery document.
pub async fn fetch_keys(iss: &str, src: &DiscoverySource, opts: &FetchOptions) -> Result<Fetched, FetchError> {
    let url = src.url.clone().unwrap_or_else(|| default_discovery_url(iss));
    let discovery = Target::parse(&url, true)?;
    let tls = tls_config(src.ca_file.as_deref()).await?;
    let bearer = match &src.bearer_token_file {
        Some(path) => Some(read_token(path).await?),
        None => None,
    };

    let body = get(&discovery, &tls, bearer.as_deref(), opts).await?;
    let bad = |reason: String| FetchError::BadDiscovery {
        url: url.clone(),
        reason,
    };
    let doc: serde_json::Value = serde_json::from_slice(&body).map_err(|e| bad(format!("not JSON: {e}")))?;
    let found = doc
        .get("issuer")
        .and_then(|v| v.as_str())
        .ok_or_else(|| bad("no \"issuer\" string".into()))?;
    if found != iss {
        return Err(FetchError::WrongIssuer {
            url,
            expected: iss.to_owned(),
            found: found.to_owned(),
        });
    }
    let jwks_uri = doc
        .get("jwks_uri")
        .and_then(|v| v.as_str())
        .ok_or_else(|| bad("no \"jwks_uri\" string".into()))?
        .to_owned();
    let jwks = Target::parse(&jwks_uri, discovery.plain_loopback())?;
    let send_token = bearer_goes_to_jwks(&discovery, &jwks, src.ca_file.is_some());
    let body = get(&jwks, &tls, bearer.as_deref().filter(|_| send_token), opts).await?;
    let text = std::str::from_utf8(&body).map_err(|_| FetchError::Jwks {
        origin: jwks_uri.clone(),
        error: "not UTF-8".into(),
    })?;
    let keys = KeySet::from_json(text).map_err(|e| FetchError::Jwks {
        origin: jwks_uri.clone(),
        error: e.to_string(),
    })?;
    Ok(Fetched { keys, jwks_uri })
}

/// Whether the bearer token meant for the discovery URL may also go to the `jwks_uri`: on the same
/// origin, or when the issuer has its own CA bundle (then only a server holding a certificate from
/// that cluster's CA can receive it — as with the apiserver advertising its node address).
fn bearer_goes_to_jwks(discovery: &Target, jwks: &Target, own_ca: bool) -> bool {
    jwks.same_origin(discovery) || (own_ca && jwks.https)
}

/// Checks a discovery URL at configuration time: parseable, https (or loopback http).
pub(crate) fn check_discovery_url(url: &str) -> Result<(), FetchError> {
    Target::parse(url, true).map(|_| ())
}

/// A parsed request target.
#[derive(Clone, Debug)]
struct Target {
    url: String,
    https: bool,
    host: String,
    port: u16,
    path: String,
}

impl Target {
    /// Parses `url`. Plain http is accepted only for a loopback host and only when
    /// `allow_plain_loopback` (the discovery URL itself; a `jwks_uri` only when its discovery URL
    /// was plain loopback http).
    fn parse(url: &str, allow_plain_loopback: bool) -> Result<Self, FetchError> {
        let bad = |reason: &str| FetchError::BadUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let uri: Uri = url.parse().map_err(|e: http::uri::InvalidUri| bad(&e.to_string()))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(bad("the scheme must be https")),
        };
        let host = uri.host().ok_or_else(|| bad("no host"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
        if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
            return Err(bad("credentials in the URL are not accepted"));
        }
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let path = uri.path_and_query().map_or("/".to_owned(), |p| p.as_str().to_owned());
        let target = Self {
            url: url.to_owned(),
            https,
            host,
            port,
            path,
        };
        let plain_allowed = allow_plain_loopback && target.is_loopback();
        if !https && !plain_allowed {
            return Err(FetchError::NotHttps { url: url.to_owned() });
        }
        Ok(target)
    }

    fn is_loopback(&self) -> bool {
        self.host == "localhost" || self.host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }

    fn plain_loopback(&self) -> bool {
        !self.https && self.is_loopback()
    }

    fn same_origin(&self, other: &Target) -> bool {
        self.https == other.https && self.host.eq_ignore_ascii_case(&other.host) && self.port == other.port
    }

    fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let default = if self.https { 443 } else { 80 };
        if self.port == default {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    /// Where a redirect from here to `location` goes, if it stays on this origin.
    fn redirect(&self, location: &str) -> Result<Target, FetchError> {
        let refuse = |reason| FetchError::Redirect {
            url: self.url.clone(),
            location: location.to_owned(),
            reason,
        };
        if location.starts_with('/') && !location.starts_with("//") {
            let scheme = if self.https { "https" } else { "http" };
            let url = format!("{scheme}://{}{location}", self.authority());
            return Target::parse(&url, true).map_err(|_| refuse("not a valid location"));
        }
        let next = Target::parse(location, true).map_err(|_| refuse("not a valid location"))?;
        if !next.same_origin(self) {
            return Err(refuse("redirects to another scheme, host or port are not followed"));
        }
        Ok(next)
    }
}

/// GET `target` (following same-origin redirects) within the time limit; the body, size-limited.
async fn get(
    target: &Target,
    tls: &Arc<ClientConfig>,
    bearer: Option<&str>,
    opts: &FetchOptions,
) -> Result<Bytes, FetchError> {
    let work = async {
        let mut target = target.clone();
        let mut hops = 0;
        loop {
            match get_once(&target, tls, bearer, opts.max_body).await? {
                Answer::Body(b) => return Ok(b),
                Answer::Redirect(location) => {
                    if hops == opts.max_redirects {
                        return Err(FetchError::Redirect {
                            url: target.url.clone(),
                            location,
                            reason: "too many redirects",
                        });
                    }
                    hops += 1;
                    target = target.redirect(&location)?;
                }
            }
        }
    };
    match tokio::time::timeout(opts.timeout, work).await {
        Ok(result) => result,
        Err(_) => Err(FetchError::Timeout {
            url: target.url.clone(),
            timeout: opts.timeout,
        }),
    }
}

enum Answer {
    Body(Bytes),
    Redirect(String),
}

async fn get_once(
    target: &Target,
    tls: &Arc<ClientConfig>,
    bearer: Option<&str>,
    max_body: usize,
) -> Result<Answer, FetchError> {
    let connect_err = |reason: String| FetchError::Connect {
        url: target.url.clone(),
        reason,
    };
    let tcp = TcpStream::connect((target.host.as_str(), target.port))
        .await
        .map_err(|e| connect_err(e.to_string()))?;
    let _ = tcp.set_nodelay(true);
    let mut request = Request::get(target.path.as_str())
        .header(http::header::HOST, target.authority())
        .header(http::header::ACCEPT, "application/json")
        .header(http::header::USER_AGENT, concat!("keyless/", env!("CARGO_PKG_VERSION")));
    if let Some(token) = bearer {
        request = request.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let request = request
        .body(Empty::<Bytes>::new())
        .map_err(|e| connect_err(e.to_string()))?;
    let response = if target.https {
        let name = ServerName::try_from(target.host.clone()).map_err(|e| connect_err(e.to_string()))?;
        let stream = TlsConnector::from(tls.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| connect_err(format!("TLS: {e}")))?;
        send(TokioIo::new(stream), request).await
    } else {
        send(TokioIo::new(tcp), request).await
    }
    .map_err(|e| connect_err(e.to_string()))?;

    let status = response.status();
    if status.is_redirection() {
        let location = response
            .headers()
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        return Ok(Answer::Redirect(location));
    }
    if status != StatusCode::OK {
        return Err(FetchError::Status {
            url: target.url.clone(),
            status: status.as_u16(),
        });
    }
    let too_large = || FetchError::TooLarge {
        url: target.url.clone(),
        max: max_body,
    };
    if let Some(len) = response.headers().get(http::header::CONTENT_LENGTH)
        && len
            .to_str()
            .ok()
            .and_then(|l| l.parse::<u64>().ok())
            .is_some_and(|l| l > max_body as u64)
    {
        return Err(too_large());
    }
    let body = Limited::new(response.into_body(), max_body)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                too_large()
            } else {
                connect_err(e.to_string())
            }
        })?;
    Ok(Answer::Body(body.to_bytes()))
}

async fn send<IO>(io: IO, request: Request<Empty<Bytes>>) -> Result<http::Response<hyper::body::Incoming>, String>
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        // The connection task ends when the response has been read or the sender is dropped.
        let _ = conn.await;
    });
    sender.send_request(request).await.map_err(|e| {
        // hyper wraps the TLS/IO cause; show the whole chain.
        let mut text = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        text
    })
}

/// The client TLS configuration: the issuer's CA bundle, or the system trust store.
async fn tls_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, FetchError> {
    let roots = match ca_file {
        Some(path) => {
            let ca_err = |reason: String| FetchError::CaFile {
                path: path.to_owned(),
                reason,
            };
            let pem = tokio::fs::read(path).await.map_err(|e| ca_err(e.to_string()))?;
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| ca_err(format!("not PEM: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| ca_err(format!("a certificate was refused: {e}")))?;
            }
            if roots.is_empty() {
                return Err(ca_err("holds no CERTIFICATE block".into()));
            }
            Arc::new(roots)
        }
        None => system_roots()?,
    };
    let config = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| FetchError::NoRoots(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The operating system's trust store, loaded once per process.
fn system_roots() -> Result<Arc<RootCertStore>, FetchError> {
    static ROOTS: OnceLock<Result<Arc<RootCertStore>, String>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            let mut roots = RootCertStore::empty();
            let (added, _ignored) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                let why = found.errors.first().map_or("none found".to_owned(), |e| e.to_string());
                return Err(format!("the system trust store is empty ({why})"));
            }
            Ok(Arc::new(roots))
        })
        .clone()
        .map_err(FetchError::NoRoots)
}

async fn read_token(path: &Path) -> Result<String, FetchError> {
    let err = |reason: String| FetchError::TokenFile {
        path: path.to_owned(),
        reason,
    };
    let text = tokio::fs::read_to_string(path).await.map_err(|e| err(e.to_string()))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(err("the file is empty".into()));
    }
    if token.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err(err("the token holds whitespace or control characters".into()));
    }
    Ok(token.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_rules() {
        let ok = |url: &str, allow: bool| Target::parse(url, allow).is_ok();
        let discovery = |url: &str| Target::parse(url, true).is_ok();
        assert!(discovery("https://k8s.example/.well-known/openid-configuration"));
        assert!(discovery("http://127.0.0.1:8080/.well-known/openid-configuration"));
        assert!(discovery("http://[::1]:8080/x"));
        assert!(!discovery("http://k8s.example/.well-known/openid-configuration"));
        assert!(!discovery("ftp://k8s.example/x"));
        assert!(!discovery("https://user:pw@k8s.example/x"));
        // A jwks_uri: http only on loopback and only after a loopback http discovery.
        assert!(ok("https://other.example/jwks", false));
        assert!(!ok("http://127.0.0.1/jwks", false));
        assert!(ok("http://127.0.0.1/jwks", true));
        assert!(!ok("http://evil.example/jwks", true));
    }

    #[test]
    fn where_the_bearer_token_goes() {
        let t = |u: &str| Target::parse(u, true).unwrap();
        let discovery = t("https://kubernetes.default.svc/.well-known/openid-configuration");
        for (jwks, own_ca, want) in [
            ("https://kubernetes.default.svc/openid/v1/jwks", false, true),
            ("https://KUBERNETES.default.svc:443/openid/v1/jwks", false, true),
            ("https://10.0.0.1:6443/openid/v1/jwks", true, true),
            ("https://10.0.0.1:6443/openid/v1/jwks", false, false),
            ("https://kubernetes.default.svc:6443/openid/v1/jwks", false, false),
            ("https://storage.example/jwks", false, false),
        ] {
            assert_eq!(
                bearer_goes_to_jwks(&discovery, &t(jwks), own_ca),
                want,
                "{jwks} own_ca={own_ca}"
            );
        }
    }

    #[test]
    fn redirect_rules() {
        let t = Target::parse("https://127.0.0.1:8443/a", true).unwrap();
        assert_eq!(t.redirect("/b").unwrap().url, "https://127.0.0.1:8443/b");
        assert!(t.redirect("https://127.0.0.1:8443/c").is_ok());
        for bad in [
            "https://127.0.0.2:8443/c",
            "http://127.0.0.1:8443/c",
            "https://127.0.0.1:9/c",
            "//evil/x",
            "",
        ] {
            assert!(t.redirect(bad).is_err(), "{bad}");
        }
    }
}
