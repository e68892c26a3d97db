//! API tokens: make, list and revoke them (admins), and ask who the caller is.

use cairn_proto::v1;
use serde::Serialize;

use crate::error::required;
use crate::{Client, ClientError};

/// A token without its secret.
#[derive(Debug, Clone, Serialize)]
pub struct TokenInfo {
    /// The token's public id.
    pub id: String,
    /// The project it may act in, or `*`.
    pub project: String,
    /// `reader`, `writer` or `admin`.
    pub role: String,
    /// When it was made, ms since the epoch.
    pub created_unix_ms: i64,
    /// When it stops being accepted, if ever.
    pub expires_unix_ms: Option<i64>,
    /// When it was revoked, if it was.
    pub revoked_unix_ms: Option<i64>,
}

/// A token just made: the only time its secret is shown.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedToken {
    /// The token's public id.
    pub id: String,
    /// The secret token to pass as `--token` / `CAIRN_TOKEN`.
    pub token: String,
    /// The project it may act in.
    pub project: String,
    /// `reader`, `writer` or `admin`.
    pub role: String,
    /// When it stops being accepted, if ever.
    pub expires_unix_ms: Option<i64>,
}

/// Who the server takes the caller for.
#[derive(Debug, Clone, Serialize)]
pub struct Identity {
    /// The token's id (`bootstrap` for the bootstrap token).
    pub token_id: String,
    /// The project it may act in, or `*`.
    pub project: String,
    /// `reader`, `writer` or `admin`.
    pub role: String,
}

fn role_name(value: i32) -> String {
    match v1::TokenRole::try_from(value) {
        Ok(v1::TokenRole::Reader) => "reader",
        Ok(v1::TokenRole::Writer) => "writer",
        Ok(v1::TokenRole::Admin) => "admin",
        _ => "unknown",
    }
    .to_owned()
}

fn role_value(role: &str) -> Result<v1::TokenRole, ClientError> {
    match role {
        "reader" => Ok(v1::TokenRole::Reader),
        "writer" => Ok(v1::TokenRole::Writer),
        "admin" => Ok(v1::TokenRole::Admin),
        other => Err(ClientError::Usage(format!("role must be reader, writer or admin, not {other:?}"))),
    }
}

impl From<v1::TokenInfo> for TokenInfo {
    fn from(info: v1::TokenInfo) -> Self {
        Self {
            role: role_name(info.role),
            id: info.id,
            project: info.project,
            created_unix_ms: info.create_time_unix_ms,
            expires_unix_ms: info.expire_time_unix_ms,
            revoked_unix_ms: info.revoke_time_unix_ms,
        }
    }
}

impl Client {
    /// Makes a token for `project` (`*`: every project) with `role`, expiring after
    /// `expires_in_seconds` if given.
    pub async fn create_token(
        &self,
        project: &str,
        role: &str,
        expires_in_seconds: Option<u64>,
    ) -> Result<CreatedToken, ClientError> {
        let request =
            v1::CreateTokenRequest { project: project.to_owned(), role: role_value(role)? as i32, expires_in_seconds };
        // Not retried: a retry after a lost answer would make a second token.
        let response =
            self.coordinator_once(|mut c| async move { c.create_token(request).await.map(|r| r.into_inner()) }).await?;
        let info = TokenInfo::from(required(response.info, "info")?);
        Ok(CreatedToken {
            id: info.id,
            token: response.token,
            project: info.project,
            role: info.role,
            expires_unix_ms: info.expires_unix_ms,
        })
    }

    /// Tokens of `project` (None: every project the caller administers).
    pub async fn list_tokens(&self, project: Option<&str>) -> Result<Vec<TokenInfo>, ClientError> {
        let request = v1::ListTokensRequest { project: project.unwrap_or_default().to_owned() };
        let tokens = self
            .coordinator_call(|mut c| {
                let request = request.clone();
                async move { c.list_tokens(request).await.map(|r| r.into_inner().tokens) }
            })
            .await?;
        Ok(tokens.into_iter().map(TokenInfo::from).collect())
    }

    /// Revokes token `id`.
    pub async fn revoke_token(&self, id: &str) -> Result<TokenInfo, ClientError> {
        let request = v1::RevokeTokenRequest { id: id.to_owned() };
        let info = self
            .coordinator_call(|mut c| {
                let request = request.clone();
                async move { c.revoke_token(request).await.map(|r| r.into_inner().info) }
            })
            .await?;
        Ok(TokenInfo::from(required(info, "info")?))
    }

    /// Who the server takes this client for; None when it needs no authentication.
    pub async fn who_am_i(&self) -> Result<Option<Identity>, ClientError> {
        let answer = self
            .coordinator_call(|mut c| async move { c.who_am_i(v1::WhoAmIRequest {}).await.map(|r| r.into_inner()) })
            .await?;
        Ok(answer.authentication_required.then(|| Identity {
            token_id: answer.token_id,
            project: answer.project,
            role: role_name(answer.role),
        }))
    }
}
