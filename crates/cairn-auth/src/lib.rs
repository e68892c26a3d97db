//! Who may call cairn. An API token is a random 256-bit secret shown once at creation and
//! stored only as its sha256 in the MetaStore, with an id, a project scope, a role and an
//! optional expiry ([`token`]). Servers authenticate the bearer token of every call and
//! check the role and project the call needs ([`TokenStore`], [`Principal::allows`]).
//! An admin token can also be given to servers as `CAIRN_BOOTSTRAP_TOKEN`, so that the
//! first tokens can be made.

mod error;
pub mod grant;
mod store;
pub mod token;

pub use error::AuthError;
pub use grant::{GrantKey, READ_GRANT_HEADER, ReadGrant, UploadReceipt};
pub use store::{Principal, TokenStore};
pub use token::{ALL_PROJECTS, NewToken, Role, TokenRecord};

/// The gRPC metadata key of the bearer token.
pub const AUTHORIZATION: &str = "authorization";

/// The token in a request's `authorization: Bearer …` metadata, if any.
pub fn bearer(metadata: &tonic::metadata::MetadataMap) -> Option<&str> {
    let value = metadata.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The token store a server authenticates against: the bootstrap token from
/// `CAIRN_BOOTSTRAP_TOKEN` and the tokens in `meta`; None with `--insecure-no-auth`.
pub fn server_token_store(
    meta: std::sync::Arc<dyn cairn_meta::MetaStore>,
    insecure_no_auth: bool,
) -> Result<Option<std::sync::Arc<TokenStore>>, String> {
    if insecure_no_auth {
        tracing::warn!("authentication is off (--insecure-no-auth): anyone who reaches this server may use it");
        return Ok(None);
    }
    let bootstrap = std::env::var("CAIRN_BOOTSTRAP_TOKEN").ok().filter(|t| !t.is_empty());
    let store = TokenStore::new(meta, bootstrap.as_deref()).map_err(|e| e.to_string())?;
    Ok(Some(std::sync::Arc::new(store)))
}
