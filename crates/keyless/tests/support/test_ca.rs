//! A throwaway certificate authority for tests that speak TLS to the real binary (the server's
//! HTTPS, the webhook, a fake Kubernetes API): included by `cli.rs` and `webhook.rs`.

use std::sync::Arc;

/// A CA and leaf certificates for `localhost` and 127.0.0.1 that it signs.
pub struct TestCa {
    pub cert: rcgen::Certificate,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl TestCa {
    pub fn new(name: &str) -> Self {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        TestCa {
            cert,
            issuer: rcgen::Issuer::new(params, key),
        }
    }

    /// (certificate PEM, key PEM, certificate DER) for localhost and 127.0.0.1.
    pub fn leaf(&self, name: &str) -> (String, String, Vec<u8>) {
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem(), cert.der().to_vec())
    }

    pub fn client_config(&self) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(rustls::pki_types::CertificateDer::from(self.cert.der().to_vec()))
            .unwrap();
        let mut config =
            rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth();
        // A resumed session presents no certificate; every test handshake must be a full one.
        config.resumption = rustls::client::Resumption::disabled();
        Arc::new(config)
    }
}
