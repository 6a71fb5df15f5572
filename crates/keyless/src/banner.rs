//! The start-up text on stdout: first the one machine-readable line
//! `keyless: listening on SCHEME://HOST:PORT`, then how a person connects — endpoint, region,
//! root access key, the secret when it is the generated dev one, and a command to paste.

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

use crate::config::ListenAddr;
use crate::credentials::{CredentialSource, RootCredentials};

/// What the text is made from.
pub struct Banner<'a> {
    pub https: bool,
    /// The address the socket is bound to (with the real port when 0 was asked for).
    pub bound: SocketAddr,
    pub listen: &'a ListenAddr,
    pub region: &'a str,
    pub root: &'a RootCredentials,
}

impl Banner<'_> {
    fn scheme(&self) -> &'static str {
        if self.https { "https" } else { "http" }
    }

    /// The first line; scripts and tests wait for it and read the address from it.
    pub fn listening_line(&self) -> String {
        format!("keyless: listening on {}://{}", self.scheme(), self.bound)
    }

    /// The URL a client on this machine should use: the configured host name if one was given
    /// (it is what a certificate names), else the bound IP, with a wildcard replaced by loopback.
    pub fn endpoint(&self) -> String {
        let port = self.bound.port();
        if self.listen.host.parse::<IpAddr>().is_err() {
            return format!("{}://{}:{port}", self.scheme(), self.listen.host);
        }
        let ip = match self.bound.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        format!("{}://{}", self.scheme(), SocketAddr::new(ip, port))
    }

    pub fn render(&self) -> String {
        let endpoint = self.endpoint();
        let root = self.root;
        let (secret_line, secret_value) = match &root.source {
            CredentialSource::Generated(path) => (
                format!(
                    "{}  (generated now, saved in {})",
                    root.secret_key.expose(),
                    display(path)
                ),
                root.secret_key.expose().to_owned(),
            ),
            CredentialSource::Stored(path) => (
                format!("{}  (from {})", root.secret_key.expose(), display(path)),
                root.secret_key.expose().to_owned(),
            ),
            CredentialSource::Configured { secret_key, .. } => {
                (format!("(not shown; set by {secret_key})"), "<secret>".to_owned())
            }
        };
        let ca_hint = if self.https {
            "\n  (add --ca-bundle CA.pem if the server certificate is self-signed or from a private CA)"
        } else {
            ""
        };
        format!(
            "{listening}\n\
             \n\
             How to connect:\n\
             \x20 endpoint:    {endpoint}\n\
             \x20 region:      {region}\n\
             \x20 access key:  {access_key}\n\
             \x20 secret key:  {secret_line}\n\
             \n\
             Try it with the AWS CLI (v1 installs with: pip install awscli):\n\
             \x20 AWS_ACCESS_KEY_ID={access_key} AWS_SECRET_ACCESS_KEY={secret_value} AWS_DEFAULT_REGION={region} aws --endpoint-url {endpoint} s3 ls{ca_hint}\n",
            listening = self.listening_line(),
            region = self.region,
            access_key = root.access_key,
        )
    }

    /// Writes the text to stdout and flushes it (stdout is block-buffered when piped).
    pub fn print(&self) {
        let mut out = std::io::stdout().lock();
        if let Err(e) = out.write_all(self.render().as_bytes()).and_then(|()| out.flush()) {
            tracing::warn!(error = %e, "cannot write the start-up text to stdout");
        }
    }
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Origin;
    use crate::credentials::SecretKey;
    use std::path::PathBuf;

    fn root(source: CredentialSource) -> RootCredentials {
        RootCredentials {
            access_key: "KLTESTKEY".into(),
            secret_key: SecretKey::new("s3cr3t-value".into()),
            source,
        }
    }

    #[test]
    fn endpoint_and_listening_line() {
        let table = [
            // (listen host, bound, https, listening line, endpoint)
            (
                "127.0.0.1",
                "127.0.0.1:41000",
                false,
                "keyless: listening on http://127.0.0.1:41000",
                "http://127.0.0.1:41000",
            ),
            (
                "0.0.0.0",
                "0.0.0.0:9000",
                false,
                "keyless: listening on http://0.0.0.0:9000",
                "http://127.0.0.1:9000",
            ),
            (
                "::",
                "[::]:9000",
                true,
                "keyless: listening on https://[::]:9000",
                "https://[::1]:9000",
            ),
            (
                "localhost",
                "127.0.0.1:9443",
                true,
                "keyless: listening on https://127.0.0.1:9443",
                "https://localhost:9443",
            ),
        ];
        let creds = root(CredentialSource::Generated(PathBuf::from("d/root-credentials")));
        for (host, bound, https, line, endpoint) in table {
            let listen = ListenAddr {
                host: host.into(),
                port: 0,
            };
            let b = Banner {
                https,
                bound: bound.parse().unwrap(),
                listen: &listen,
                region: "us-east-1",
                root: &creds,
            };
            assert_eq!(b.listening_line(), line);
            assert_eq!(b.endpoint(), endpoint);
            assert!(b.render().starts_with(&format!("{line}\n")));
        }
    }

    #[test]
    fn secret_shown_only_for_generated_or_stored() {
        let listen = ListenAddr {
            host: "127.0.0.1".into(),
            port: 0,
        };
        let table = [
            (CredentialSource::Generated(PathBuf::from("d/root-credentials")), true),
            (CredentialSource::Stored(PathBuf::from("d/root-credentials")), true),
            (
                CredentialSource::Configured {
                    access_key: Origin::Env("A"),
                    secret_key: Origin::Env("KEYLESS_ROOT_SECRET_KEY"),
                },
                false,
            ),
        ];
        for (source, shown) in table {
            let creds = root(source);
            let text = Banner {
                https: false,
                bound: "127.0.0.1:9000".parse().unwrap(),
                listen: &listen,
                region: "r",
                root: &creds,
            }
            .render();
            assert_eq!(text.contains("s3cr3t-value"), shown, "{text}");
            assert!(text.contains("AWS_ACCESS_KEY_ID=KLTESTKEY"));
            assert!(text.contains("aws --endpoint-url http://127.0.0.1:9000 s3 ls"));
        }
    }
}
