//! A throwaway private CA and the certificates it signs, written as PEM files: a server
//! certificate for `localhost` and `127.0.0.1`, and a client certificate (mTLS). Used by
//! tests and by `cairn bench` to run TLS on loopback without fixtures; never for a real
//! deployment (keys are written unencrypted next to the certificates).

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

/// PEM files of a loopback CA and the certificates it signed.
pub struct LocalPki {
    /// The CA certificate clients and servers trust.
    pub ca: PathBuf,
    /// A server certificate for `localhost` and `127.0.0.1`.
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    /// A client certificate (mTLS).
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

impl LocalPki {
    /// Makes a CA named `name` and its certificates in `dir`.
    pub fn generate(dir: &Path, name: &str) -> Result<Self, String> {
        let failed = |what: &str, err: rcgen::Error| format!("cannot make the {what}: {err}");
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let ca_key = KeyPair::generate().map_err(|e| failed("CA key", e))?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(|e| failed("CA", e))?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(DnType::CommonName, format!("{name} test CA"));
        let ca_cert = ca_params.self_signed(&ca_key).map_err(|e| failed("CA certificate", e))?;
        let issuer = Issuer::new(ca_params, ca_key);

        let write = |file: &str, text: String| {
            let path = dir.join(file);
            std::fs::write(&path, text).map(|()| path).map_err(|e| format!("cannot write {file}: {e}"))
        };
        let leaf = |names: Vec<String>, common_name: &str| -> Result<(String, String), String> {
            let key = KeyPair::generate().map_err(|e| failed("key", e))?;
            let mut params = CertificateParams::new(names).map_err(|e| failed("certificate", e))?;
            params.distinguished_name.push(DnType::CommonName, common_name);
            let cert = params.signed_by(&key, &issuer).map_err(|e| failed("certificate", e))?;
            Ok((cert.pem(), key.serialize_pem()))
        };
        let (server_pem, server_key) = leaf(vec!["localhost".into(), "127.0.0.1".into()], "cairn server")?;
        let (client_pem, client_key) = leaf(vec!["cairn-client".into()], "cairn client")?;
        Ok(Self {
            ca: write(&format!("{name}-ca.pem"), ca_cert.pem())?,
            server_cert: write(&format!("{name}-server.crt"), server_pem)?,
            server_key: write(&format!("{name}-server.key"), server_key)?,
            client_cert: write(&format!("{name}-client.crt"), client_pem)?,
            client_key: write(&format!("{name}-client.key"), client_key)?,
        })
    }
}
