//! What a client presents: a bearer token (`--token`, `CAIRN_TOKEN`) on every call, and
//! for `https://` servers the CAs to trust (the system's, plus `CAIRN_CA_CERT`) and, for
//! mTLS, a client certificate (`CAIRN_CLIENT_CERT`, `CAIRN_CLIENT_KEY`).

use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::transport::{Certificate, ClientTlsConfig, Identity};
use tonic::{Request, Status};

use crate::ClientError;

/// A client's token and TLS material.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    /// The API token, sent as `authorization: Bearer <token>`.
    pub token: Option<String>,
    /// PEM certificates of a private CA to trust besides the system's.
    pub ca_pem: Option<Vec<u8>>,
    /// PEM certificate and key presented to servers that ask (mTLS).
    pub identity: Option<(Vec<u8>, Vec<u8>)>,
}

fn read(variable: &str) -> Result<Option<Vec<u8>>, ClientError> {
    match std::env::var_os(variable).filter(|v| !v.is_empty()) {
        Some(path) => std::fs::read(&path).map(Some).map_err(|e| ClientError::io(path, e)),
        None => Ok(None),
    }
}

impl Credentials {
    /// From `CAIRN_TOKEN`, `CAIRN_CA_CERT`, `CAIRN_CLIENT_CERT` and `CAIRN_CLIENT_KEY`.
    pub fn from_env() -> Result<Self, ClientError> {
        let token = std::env::var("CAIRN_TOKEN").ok().filter(|t| !t.is_empty());
        let identity = match (read("CAIRN_CLIENT_CERT")?, read("CAIRN_CLIENT_KEY")?) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => return Err(ClientError::Usage("CAIRN_CLIENT_CERT and CAIRN_CLIENT_KEY go together".into())),
        };
        Ok(Self { token, ca_pem: read("CAIRN_CA_CERT")?, identity })
    }

    /// The same, with `token` instead (when given).
    pub fn with_token(mut self, token: Option<String>) -> Self {
        if let Some(token) = token.filter(|t| !t.is_empty()) {
            self.token = Some(token);
        }
        self
    }

    /// TLS settings for `https://` servers.
    pub(crate) fn tls(&self) -> ClientTlsConfig {
        let mut tls = ClientTlsConfig::new().with_native_roots();
        if let Some(ca) = &self.ca_pem {
            tls = tls.ca_certificate(Certificate::from_pem(ca));
        }
        if let Some((cert, key)) = &self.identity {
            tls = tls.identity(Identity::from_pem(cert, key));
        }
        tls
    }

    /// The interceptor adding the token to every call.
    pub(crate) fn bearer(&self) -> Result<BearerToken, ClientError> {
        let value = match &self.token {
            Some(token) => Some(
                format!("Bearer {token}")
                    .parse::<MetadataValue<Ascii>>()
                    .map_err(|_| ClientError::Usage("the token has characters a header cannot carry".into()))?,
            ),
            None => None,
        };
        Ok(BearerToken(value))
    }
}

/// Adds `authorization: Bearer <token>` to every call, when there is a token.
#[derive(Debug, Clone)]
pub struct BearerToken(Option<MetadataValue<Ascii>>);

impl Interceptor for BearerToken {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(value) = &self.0 {
            request.metadata_mut().insert("authorization", value.clone());
        }
        Ok(request)
    }
}
