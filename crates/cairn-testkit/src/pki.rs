//! A private CA made inside the test (rcgen), with a server certificate for loopback and
//! a client certificate, written as PEM files: TLS and mTLS tests need no fixtures.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

/// PEM files of a test CA and the certificates it signed.
pub struct TestPki {
    /// The CA certificate clients and servers trust.
    pub ca: PathBuf,
    /// A server certificate for `localhost` and `127.0.0.1`.
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    /// A client certificate (mTLS).
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

impl TestPki {
    /// Makes a CA named `name` and its certificates in `dir`.
    pub fn generate(dir: &Path, name: &str) -> Self {
        std::fs::create_dir_all(dir).expect("create the PKI directory");
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(DnType::CommonName, format!("{name} test CA"));
        let ca_cert = ca_params.self_signed(&ca_key).expect("self-signed CA");
        let issuer = Issuer::new(ca_params, ca_key);

        let write = |file: &str, text: String| {
            let path = dir.join(file);
            std::fs::write(&path, text).expect("write PEM");
            path
        };
        let leaf = |names: Vec<String>, common_name: &str| {
            let key = KeyPair::generate().expect("leaf key");
            let mut params = CertificateParams::new(names).expect("leaf params");
            params.distinguished_name.push(DnType::CommonName, common_name);
            let cert = params.signed_by(&key, &issuer).expect("signed by the CA");
            (cert.pem(), key.serialize_pem())
        };
        let (server_pem, server_key) = leaf(vec!["localhost".into(), "127.0.0.1".into()], "cairn server");
        let (client_pem, client_key) = leaf(vec!["cairn-client".into()], "cairn client");
        Self {
            ca: write(&format!("{name}-ca.pem"), ca_cert.pem()),
            server_cert: write(&format!("{name}-server.crt"), server_pem),
            server_key: write(&format!("{name}-server.key"), server_key),
            client_cert: write(&format!("{name}-client.crt"), client_pem),
            client_key: write(&format!("{name}-client.key"), client_key),
        }
    }
}
