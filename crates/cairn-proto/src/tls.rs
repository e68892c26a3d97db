//! TLS for every cairn listener (rustls, aws-lc-rs): a certificate and key read from PEM
//! files and read again when the files change (cert-manager rotates them in place), and
//! optional client certificates (mTLS) checked against a CA.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use tokio::net::TcpListener;
use tokio_stream::wrappers::ReceiverStream;

/// How often the certificate files are looked at for a change.
const RELOAD_CHECK: Duration = Duration::from_secs(5);
/// A client that has not finished its handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// TLS settings of a server.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TlsArgs {
    /// PEM certificate chain to serve TLS with (reloaded when the file changes).
    #[arg(long, env = "CAIRN_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "CAIRN_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// PEM CA certificates: clients must present a certificate it signed (mTLS).
    #[arg(long, env = "CAIRN_CLIENT_CA", requires = "tls_cert")]
    pub client_ca: Option<PathBuf>,
}

impl TlsArgs {
    /// True when the server speaks TLS.
    pub fn enabled(&self) -> bool {
        self.tls_cert.is_some()
    }

    /// The URL scheme clients use to reach this server.
    pub fn scheme(&self) -> &'static str {
        if self.enabled() { "https" } else { "http" }
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("bad certificate in {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{} holds no certificate", path.display()));
    }
    Ok(certs)
}

fn load_certified_key(cert: &Path, key: &Path) -> Result<Arc<CertifiedKey>, String> {
    let chain = read_certs(cert)?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("cannot read key {}: {e}", key.display()))?;
    let signing = provider().key_provider.load_private_key(key).map_err(|e| format!("unusable key: {e}"))?;
    let certified = CertifiedKey::new(chain, signing);
    certified.keys_match().map_err(|e| format!("{} and its key do not match: {e}", cert.display()))?;
    Ok(Arc::new(certified))
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The served certificate, replaced when its files change; a bad new pair is logged and
/// the old one kept.
#[derive(Debug)]
struct ReloadingCert {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<(Option<SystemTime>, Option<SystemTime>, Arc<CertifiedKey>)>,
}

impl ReloadingCert {
    fn load(cert: &Path, key: &Path) -> Result<Arc<Self>, String> {
        let loaded = load_certified_key(cert, key)?;
        Ok(Arc::new(Self {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            current: RwLock::new((modified(cert), modified(key), loaded)),
        }))
    }

    fn reload_if_changed(&self) {
        let stamps = (modified(&self.cert), modified(&self.key));
        {
            let current = self.current.read().expect("certificate lock");
            if (current.0, current.1) == stamps {
                return;
            }
        }
        match load_certified_key(&self.cert, &self.key) {
            Ok(loaded) => {
                *self.current.write().expect("certificate lock") = (stamps.0, stamps.1, loaded);
                tracing::info!(cert = %self.cert.display(), "TLS certificate reloaded");
            }
            // Half-written files during a rotation: the next check sees the whole pair.
            Err(err) => tracing::warn!(error = %err, "TLS certificate not reloaded; still serving the previous one"),
        }
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().expect("certificate lock").2.clone())
    }
}

/// The rustls configuration `args` describe (HTTP/2 only), and the certificate to watch.
fn server_config(args: &TlsArgs) -> Result<(rustls::ServerConfig, Arc<ReloadingCert>), String> {
    let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) else {
        return Err("--tls-cert and --tls-key go together".into());
    };
    let resolver = ReloadingCert::load(cert, key)?;
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = match &args.client_ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in read_certs(ca)? {
                roots.add(cert).map_err(|e| format!("bad CA certificate in {}: {e}", ca.display()))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .map_err(|e| format!("client CA {}: {e}", ca.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_cert_resolver(resolver.clone());
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok((config, resolver))
}

/// Accepts TLS connections on `listener`: handshakes run concurrently (a slow or hostile
/// client never holds up the others) and established streams come out of the returned
/// stream. The certificate files are watched for as long as the listener lives.
pub fn incoming(
    listener: TcpListener,
    args: &TlsArgs,
) -> Result<ReceiverStream<std::io::Result<tokio_rustls::server::TlsStream<tokio::net::TcpStream>>>, String> {
    let (config, resolver) = server_config(args)?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let (sender, receiver) = tokio::sync::mpsc::channel(64);
    let watcher = resolver.clone();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(RELOAD_CHECK);
        loop {
            ticks.tick().await;
            if sender_closed(&watcher) {
                return;
            }
            watcher.reload_if_changed();
        }
    });
    tokio::spawn(async move {
        loop {
            let (tcp, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(err) => {
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let (acceptor, connections) = (acceptor.clone(), sender.clone());
            tokio::spawn(async move {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => {
                        let _ = connections.send(Ok(stream)).await;
                    }
                    Ok(Err(err)) => tracing::debug!(%peer, error = %err, "TLS handshake failed"),
                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                }
            });
            if sender.is_closed() {
                return;
            }
        }
    });
    Ok(ReceiverStream::new(receiver))
}

/// The watcher stops with the server: the resolver is shared only with the live config.
fn sender_closed(resolver: &Arc<ReloadingCert>) -> bool {
    Arc::strong_count(resolver) <= 1
}

/// TLS of a server's own outgoing calls (to other replicas): trusts the system roots, and
/// `CAIRN_CA_CERT` when set; presents this server's certificate when it asks clients for
/// theirs (mTLS between replicas).
pub fn peer_client_config(args: &TlsArgs) -> Result<Option<tonic::transport::ClientTlsConfig>, String> {
    if !args.enabled() {
        return Ok(None);
    }
    let mut config = tonic::transport::ClientTlsConfig::new().with_native_roots();
    if let Ok(ca) = std::env::var("CAIRN_CA_CERT") {
        let pem = std::fs::read(&ca).map_err(|e| format!("cannot read CAIRN_CA_CERT {ca}: {e}"))?;
        config = config.ca_certificate(tonic::transport::Certificate::from_pem(pem));
    }
    if let (Some(_), Some(cert), Some(key)) = (&args.client_ca, &args.tls_cert, &args.tls_key) {
        let cert = std::fs::read(cert).map_err(|e| format!("cannot read {}: {e}", cert.display()))?;
        let key = std::fs::read(key).map_err(|e| format!("cannot read {}: {e}", key.display()))?;
        config = config.identity(tonic::transport::Identity::from_pem(cert, key));
    }
    Ok(Some(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let generated = rcgen::generate_simple_self_signed(vec![name.to_owned()]).unwrap();
        let (cert, key) = (dir.join(format!("{name}.crt")), dir.join(format!("{name}.key")));
        std::fs::write(&cert, generated.cert.pem()).unwrap();
        std::fs::write(&key, generated.signing_key.serialize_pem()).unwrap();
        (cert, key)
    }

    #[test]
    fn a_changed_certificate_is_served_and_a_broken_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = write_pair(dir.path(), "first.test");
        let resolver = ReloadingCert::load(&cert, &key).unwrap();
        let first = resolver.current.read().unwrap().2.cert[0].clone();

        // A rotation writes a new pair over the old files.
        std::thread::sleep(Duration::from_millis(20));
        let (new_cert, new_key) = write_pair(dir.path(), "second.test");
        std::fs::copy(&new_cert, &cert).unwrap();
        std::fs::copy(&new_key, &key).unwrap();
        resolver.reload_if_changed();
        let second = resolver.current.read().unwrap().2.cert[0].clone();
        assert_ne!(first, second, "the new certificate is served");

        // A half-written file keeps the previous certificate.
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\ntruncated").unwrap();
        resolver.reload_if_changed();
        assert_eq!(resolver.current.read().unwrap().2.cert[0], second);
    }

    #[test]
    fn a_key_that_is_not_the_certificates_is_refused_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, _) = write_pair(dir.path(), "a.test");
        let (_, other_key) = write_pair(dir.path(), "b.test");
        let err = ReloadingCert::load(&cert, &other_key).unwrap_err();
        assert!(err.contains("do not match"), "{err}");
    }
}
