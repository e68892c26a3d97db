//! Tokens in the MetaStore (`auth/tokens/<id>`), and authentication with a short cache so
//! that a busy server does not read the store on every call: a revocation takes effect at
//! once on the server that revoked, and within [`CACHE_TTL`] everywhere else.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cairn_meta::{MetaStore, Txn};

use crate::token::{self, ALL_PROJECTS, NewToken, Role, TokenRecord};
use crate::{AuthError, bearer};

/// How long a looked-up token record is trusted before it is read again.
pub const CACHE_TTL: Duration = Duration::from_secs(10);
/// Key prefix of token records.
const PREFIX: &str = "auth/tokens/";
/// Most tokens one listing returns.
const LIST_LIMIT: usize = 10_000;

/// Who is calling: a token's id, project scope and role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's id (`bootstrap` for `CAIRN_BOOTSTRAP_TOKEN`).
    pub token_id: String,
    /// The project it may act in, or `*`.
    pub project: String,
    /// What it may do.
    pub role: Role,
}

impl Principal {
    /// Allowed to act with `role` in `project` (None: a call of no one project, such as
    /// storing a blob, which only needs the role in the token's own project).
    pub fn allows(&self, needs: Role, project: Option<&str>) -> Result<(), AuthError> {
        if let Some(project) = project
            && self.project != ALL_PROJECTS
            && self.project != project
        {
            return Err(AuthError::OtherProject {
                id: self.token_id.clone(),
                allowed: self.project.clone(),
                project: project.to_owned(),
            });
        }
        if self.role < needs {
            return Err(AuthError::role_too_low(&self.token_id, self.role, needs));
        }
        Ok(())
    }
}

/// Token records in a MetaStore.
pub struct TokenStore {
    meta: Arc<dyn MetaStore>,
    bootstrap_sha256: Option<String>,
    cache: Mutex<HashMap<String, (Instant, Option<TokenRecord>)>>,
    grant_key: tokio::sync::OnceCell<crate::GrantKey>,
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

impl TokenStore {
    /// Tokens in `meta`; `bootstrap` (from `CAIRN_BOOTSTRAP_TOKEN`) is accepted as an
    /// admin token of every project.
    pub fn new(meta: Arc<dyn MetaStore>, bootstrap: Option<&str>) -> Result<Self, AuthError> {
        if let Some(secret) = bootstrap
            && secret.len() < 32
        {
            return Err(AuthError::Invalid("CAIRN_BOOTSTRAP_TOKEN must be at least 32 characters".into()));
        }
        Ok(Self {
            meta,
            bootstrap_sha256: bootstrap.map(token::hash),
            cache: Mutex::new(HashMap::new()),
            grant_key: tokio::sync::OnceCell::new(),
        })
    }

    /// The key read grants are signed and checked with, shared by every server of this
    /// MetaStore (read once, made by the first server that needs it).
    pub async fn grant_key(&self) -> Result<&crate::GrantKey, AuthError> {
        self.grant_key.get_or_try_init(|| crate::GrantKey::load_or_create(&*self.meta)).await
    }

    /// Makes a token; the secret is in the answer only.
    pub async fn create(&self, project: &str, role: Role, expires_unix_ms: Option<i64>) -> Result<NewToken, AuthError> {
        if project != ALL_PROJECTS {
            cairn_core::validate_project(project).map_err(|e| AuthError::Invalid(e.to_string()))?;
        }
        let now = now_ms();
        if expires_unix_ms.is_some_and(|at| at <= now) {
            return Err(AuthError::Invalid("the expiry is in the past".into()));
        }
        let made = token::generate(project, role, now, expires_unix_ms);
        let key = format!("{PREFIX}{}", made.record.id);
        let value = serde_json::to_vec(&made.record).expect("token records serialize");
        // Create-if-absent: two tokens never share an id.
        if !self.meta.txn(Txn::new().when_revision(&key, 0).put(&key, value)).await? {
            return Err(AuthError::Invalid("token id collision; try again".into()));
        }
        Ok(made)
    }

    /// Every token record (of `project` only, if given), by id.
    pub async fn list(&self, project: Option<&str>) -> Result<Vec<TokenRecord>, AuthError> {
        let records = self.meta.range(PREFIX, None, LIST_LIMIT).await?;
        Ok(records
            .iter()
            .filter_map(|kv| serde_json::from_slice::<TokenRecord>(&kv.value).ok())
            .filter(|r| project.is_none_or(|p| r.project == p))
            .collect())
    }

    /// The record of token `id`.
    pub async fn get(&self, id: &str) -> Result<TokenRecord, AuthError> {
        self.read(id).await?.ok_or_else(|| AuthError::NotFound(id.to_owned()))
    }

    /// Revokes token `id`: it is refused from now on (here at once, elsewhere within the
    /// cache's lifetime). Revoking twice keeps the first time.
    pub async fn revoke(&self, id: &str) -> Result<TokenRecord, AuthError> {
        let key = format!("{PREFIX}{id}");
        for _ in 0..8 {
            let Some(kv) = self.meta.get(&key).await? else {
                return Err(AuthError::NotFound(id.to_owned()));
            };
            let mut record: TokenRecord = serde_json::from_slice(&kv.value)
                .map_err(|e| AuthError::Invalid(format!("corrupt token {id}: {e}")))?;
            if record.revoked_unix_ms.is_some() {
                self.forget(id);
                return Ok(record);
            }
            record.revoked_unix_ms = Some(now_ms());
            let value = serde_json::to_vec(&record).expect("token records serialize");
            if self.meta.txn(Txn::new().when_revision(&key, kv.mod_revision).put(&key, value)).await? {
                self.forget(id);
                return Ok(record);
            }
        }
        Err(AuthError::Invalid(format!("token {id} changed concurrently; try again")))
    }

    /// The caller of a request carrying `metadata`.
    pub async fn authenticate(&self, metadata: &tonic::metadata::MetadataMap) -> Result<Principal, AuthError> {
        let presented = bearer(metadata).ok_or(AuthError::Missing)?;
        if let Some(expected) = &self.bootstrap_sha256
            && token::hash(presented) == *expected
        {
            return Ok(Principal { token_id: "bootstrap".into(), project: ALL_PROJECTS.into(), role: Role::Admin });
        }
        let (id, secret) = token::split(presented).ok_or(AuthError::Unknown)?;
        let record = self.cached(id).await?.ok_or(AuthError::Unknown)?;
        // Hashes are compared, not secrets: timing reveals nothing about the secret.
        if token::hash(secret) != record.secret_sha256 {
            return Err(AuthError::Unknown);
        }
        if record.revoked_unix_ms.is_some() {
            return Err(AuthError::Revoked { id: record.id });
        }
        if record.expires_unix_ms.is_some_and(|at| at <= now_ms()) {
            return Err(AuthError::Expired { id: record.id });
        }
        Ok(Principal { token_id: record.id, project: record.project, role: record.role })
    }

    async fn cached(&self, id: &str) -> Result<Option<TokenRecord>, AuthError> {
        if let Some((at, record)) = self.cache.lock().expect("token cache lock").get(id)
            && at.elapsed() < CACHE_TTL
        {
            return Ok(record.clone());
        }
        let record = self.read(id).await?;
        let mut cache = self.cache.lock().expect("token cache lock");
        // Bounded: unknown ids sent by a hostile caller must not grow it without end.
        if cache.len() > 10_000 {
            cache.retain(|_, (at, _)| at.elapsed() < CACHE_TTL);
        }
        cache.insert(id.to_owned(), (Instant::now(), record.clone()));
        Ok(record)
    }

    async fn read(&self, id: &str) -> Result<Option<TokenRecord>, AuthError> {
        let key = format!("{PREFIX}{id}");
        match self.meta.get(&key).await? {
            Some(kv) => Ok(serde_json::from_slice(&kv.value).ok()),
            None => Ok(None),
        }
    }

    fn forget(&self, id: &str) {
        self.cache.lock().expect("token cache lock").remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::metadata::MetadataMap;

    fn with_bearer(token: &str) -> MetadataMap {
        let mut metadata = MetadataMap::new();
        metadata.insert("authorization", format!("Bearer {token}").parse().unwrap());
        metadata
    }

    async fn store() -> (tempfile::TempDir, TokenStore) {
        let dir = tempfile::tempdir().unwrap();
        let meta = cairn_meta::EmbeddedStore::open(&dir.path().join("meta.redb")).unwrap();
        let store = TokenStore::new(Arc::new(meta), Some(&"b".repeat(40))).unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn tokens_authenticate_until_revoked_or_expired_and_unknown_ones_never() {
        let (_dir, store) = store().await;
        let made = store.create("vision", Role::Writer, None).await.unwrap();
        let principal = store.authenticate(&with_bearer(&made.token)).await.unwrap();
        assert_eq!((principal.project.as_str(), principal.role), ("vision", Role::Writer));

        let forged = format!("cairn_{}_{}", made.record.id, "0".repeat(64));
        assert_eq!(store.authenticate(&with_bearer(&forged)).await.unwrap_err().reason(), "TOKEN_UNKNOWN");
        assert_eq!(store.authenticate(&MetadataMap::new()).await.unwrap_err().reason(), "TOKEN_MISSING");
        store.revoke(&made.record.id).await.unwrap();
        assert_eq!(store.authenticate(&with_bearer(&made.token)).await.unwrap_err().reason(), "TOKEN_REVOKED");

        let short = store.create("vision", Role::Reader, Some(now_ms() + 50)).await.unwrap();
        store.authenticate(&with_bearer(&short.token)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert_eq!(store.authenticate(&with_bearer(&short.token)).await.unwrap_err().reason(), "TOKEN_EXPIRED");

        let bootstrap = store.authenticate(&with_bearer(&"b".repeat(40))).await.unwrap();
        assert_eq!((bootstrap.project.as_str(), bootstrap.role), (ALL_PROJECTS, Role::Admin));
        let listed = store.list(Some("vision")).await.unwrap();
        assert_eq!(listed.len(), 2);
        assert!(listed.iter().all(|r| !r.secret_sha256.is_empty() && r.secret_sha256.len() == 64));
    }

    #[test]
    fn principals_act_only_in_their_project_and_up_to_their_role() {
        let writer = Principal { token_id: "t".into(), project: "vision".into(), role: Role::Writer };
        writer.allows(Role::Reader, Some("vision")).unwrap();
        writer.allows(Role::Writer, None).unwrap();
        assert_eq!(writer.allows(Role::Reader, Some("nlp")).unwrap_err().reason(), "PROJECT_NOT_ALLOWED");
        assert_eq!(writer.allows(Role::Admin, Some("vision")).unwrap_err().reason(), "ROLE_TOO_LOW");
        let global = Principal { token_id: "b".into(), project: ALL_PROJECTS.into(), role: Role::Admin };
        global.allows(Role::Admin, Some("anything")).unwrap();
    }

    #[test]
    fn a_short_bootstrap_token_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let meta = cairn_meta::EmbeddedStore::open(&dir.path().join("meta.redb")).unwrap();
        assert!(TokenStore::new(Arc::new(meta), Some("short")).is_err());
    }
}
