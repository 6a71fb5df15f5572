//! Virtual-host-style addressing: `Host: <bucket>.<domain>` names a bucket.
//!
//! `s3s::host::MultiDomain` treats every host it does not recognise as a bucket name (S3's
//! CNAME convention), which would turn `localhost:9000` into a bucket called
//! `localhost:9000` and break path-style requests. [`VirtualHosts`] instead matches the
//! configured domains only, ignoring the port and case, and reads every other host as
//! path-style. (`s3s` never asks about IP-address hosts; those are always path-style.)

use s3s::S3Result;
use s3s::host::{S3Host, VirtualHost};

#[derive(Clone)]
pub(crate) struct VirtualHosts {
    /// Lower-case, without a port.
    domains: Vec<String>,
}

/// The host name of a `Host` header, without the port.
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        // An IPv6 literal: `[::1]:9000`.
        return host.split_once(']').map_or(host, |(h, _)| &host[..=h.len()]);
    }
    host.rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(host, |(h, _)| h)
}

impl VirtualHosts {
    pub(crate) fn new(domains: &[String]) -> Self {
        Self {
            domains: domains
                .iter()
                .map(|d| host_name(d.trim()).trim_end_matches('.').to_ascii_lowercase())
                .filter(|d| !d.is_empty())
                .collect(),
        }
    }

    /// The bucket a host names, if it is `<bucket>.<one of our domains>`.
    pub(crate) fn bucket_of(&self, host: &str) -> Option<String> {
        let name = host_name(host).trim_end_matches('.').to_ascii_lowercase();
        self.domains.iter().find_map(|d| {
            let bucket = name.strip_suffix(d.as_str())?.strip_suffix('.')?;
            (!bucket.is_empty()).then(|| bucket.to_owned())
        })
    }
}

impl S3Host for VirtualHosts {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<VirtualHost<'a>> {
        Ok(match self.bucket_of(host) {
            Some(bucket) => VirtualHost::new(host).with_bucket(bucket),
            None => VirtualHost::new(host),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_come_from_configured_domains_only() {
        let vh = VirtualHosts::new(&["s3.example.com".into(), "Storage.Local:9000".into()]);
        let cases: [(&str, Option<&str>); 11] = [
            ("s3.example.com", None),
            ("photos.s3.example.com", Some("photos")),
            ("photos.s3.example.com:443", Some("photos")),
            ("my.dotted.bucket.s3.example.com", Some("my.dotted.bucket")),
            ("PHOTOS.S3.EXAMPLE.COM", Some("photos")),
            ("photos.storage.local:9000", Some("photos")),
            ("photos.storage.local", Some("photos")),
            ("localhost:9000", None),
            ("keyless.default.svc", None),
            ("evil-s3.example.com", None),
            (".s3.example.com", None),
        ];
        for (host, want) in cases {
            assert_eq!(vh.bucket_of(host).as_deref(), want, "{host}");
        }
    }

    #[test]
    fn host_names_drop_the_port() {
        for (host, want) in [
            ("a.b:80", "a.b"),
            ("a.b", "a.b"),
            ("[::1]:9000", "[::1]"),
            ("[::1]", "[::1]"),
            ("a:b", "a:b"),
        ] {
            assert_eq!(host_name(host), want, "{host}");
        }
    }
}
