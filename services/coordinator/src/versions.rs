//! Reading versions: references, listings, aliases.

use std::collections::BTreeMap;

use cairn_core::{
    ArtifactRecord, Reference, Selector, VersionRecord, validate_alias, validate_artifact, validate_project,
};
use cairn_meta::Txn;

use crate::error::{decode, encode};
use crate::{CoordError, Coordinator, keys};

/// A version with the artifact it belongs to.
#[derive(Debug, Clone)]
pub struct ResolvedVersion {
    /// Project.
    pub project: String,
    /// Artifact name.
    pub artifact: String,
    /// Artifact type.
    pub artifact_type: String,
    /// The version.
    pub record: VersionRecord,
    /// True when it is the artifact's newest version.
    pub is_latest: bool,
}

/// Largest page of a listing.
const MAX_PAGE: usize = 1000;
/// Page size when the request gives none.
const DEFAULT_PAGE: usize = 100;

fn page_size(requested: u32) -> usize {
    match requested as usize {
        0 => DEFAULT_PAGE,
        n => n.min(MAX_PAGE),
    }
}

impl Coordinator {
    pub(crate) async fn load_artifact(
        &self,
        project: &str,
        artifact: &str,
    ) -> Result<Option<(ArtifactRecord, i64)>, CoordError> {
        let key = keys::artifact(project, artifact);
        match self.meta.get(&key).await? {
            Some(kv) => Ok(Some((decode(&key, &kv.value)?, kv.mod_revision))),
            None => Ok(None),
        }
    }

    pub(crate) async fn load_version(
        &self,
        project: &str,
        artifact: &str,
        index: u64,
    ) -> Result<Option<(VersionRecord, i64)>, CoordError> {
        let key = keys::version(project, artifact, index);
        match self.meta.get(&key).await? {
            Some(kv) => Ok(Some((decode(&key, &kv.value)?, kv.mod_revision))),
            None => Ok(None),
        }
    }

    async fn index_at(&self, key: &str) -> Result<Option<u64>, CoordError> {
        match self.meta.get(key).await? {
            Some(kv) => {
                let text = String::from_utf8_lossy(&kv.value).into_owned();
                text.parse().map(Some).map_err(|_| CoordError::Corrupt(format!("index at {key:?}")))
            }
            None => Ok(None),
        }
    }

    /// True when `digest` is the digest of the artifact's newest version.
    /// The latest version of an artifact, if it has one.
    pub(crate) async fn latest_version(
        &self,
        project: &str,
        artifact: &str,
    ) -> Result<Option<cairn_core::VersionRecord>, CoordError> {
        let Some((record, _)) = self.load_artifact(project, artifact).await? else { return Ok(None) };
        let Some(index) = record.latest() else { return Ok(None) };
        Ok(self.load_version(project, artifact, index).await?.map(|(version, _)| version))
    }

    /// Resolves a selector within one artifact.
    pub async fn resolve(
        &self,
        project: &str,
        artifact: &str,
        selector: &Selector,
    ) -> Result<ResolvedVersion, CoordError> {
        validate_project(project)?;
        validate_artifact(artifact)?;
        let not_found = || CoordError::VersionNotFound { reference: format!("{project}/{artifact}{selector}") };
        let (record, _) = self.load_artifact(project, artifact).await?.ok_or_else(|| CoordError::ArtifactNotFound {
            project: project.to_owned(),
            artifact: artifact.to_owned(),
        })?;
        let index = match selector {
            Selector::Alias(alias) if alias == "latest" => record.latest(),
            Selector::Alias(alias) => self.index_at(&keys::alias(project, artifact, alias)).await?,
            Selector::Index(index) => Some(*index),
            Selector::Digest(digest) => self.index_at(&keys::digest(project, artifact, digest)).await?,
        }
        .ok_or_else(not_found)?;
        let (version, _) = self.load_version(project, artifact, index).await?.ok_or_else(not_found)?;
        Ok(ResolvedVersion {
            project: project.to_owned(),
            artifact: artifact.to_owned(),
            artifact_type: record.artifact_type.clone(),
            is_latest: record.latest() == Some(index),
            record: version,
        })
    }

    /// Resolves `[project/]artifact[:alias|:vN|@sha256:…]`, with `default_project` when the
    /// reference names none.
    pub async fn resolve_reference(
        &self,
        default_project: &str,
        reference: &str,
    ) -> Result<ResolvedVersion, CoordError> {
        let parsed = Reference::parse(reference)?;
        let project = parsed.project.as_deref().unwrap_or(default_project);
        self.resolve(project, &parsed.artifact, &parsed.selector).await
    }

    /// User aliases of an artifact, grouped by the index they name.
    pub async fn aliases_of(&self, project: &str, artifact: &str) -> Result<BTreeMap<u64, Vec<String>>, CoordError> {
        let prefix = keys::aliases_prefix(project, artifact);
        let mut by_index: BTreeMap<u64, Vec<String>> = BTreeMap::new();
        for kv in self.meta.range(&prefix, None, 10_000).await? {
            let index = String::from_utf8_lossy(&kv.value)
                .parse()
                .map_err(|_| CoordError::Corrupt(format!("alias {:?}", kv.key)))?;
            by_index.entry(index).or_default().push(kv.key[prefix.len()..].to_owned());
        }
        Ok(by_index)
    }

    /// A page of versions, oldest first, and the token of the next page.
    pub async fn list_versions(
        &self,
        project: &str,
        artifact: &str,
        requested_page: u32,
        page_token: &str,
    ) -> Result<(Vec<ResolvedVersion>, String), CoordError> {
        validate_project(project)?;
        validate_artifact(artifact)?;
        let (record, _) = self.load_artifact(project, artifact).await?.ok_or_else(|| CoordError::ArtifactNotFound {
            project: project.to_owned(),
            artifact: artifact.to_owned(),
        })?;
        let after = match page_token {
            "" => None,
            token => Some(keys::version(
                project,
                artifact,
                token.parse().map_err(|_| CoordError::Malformed(format!("invalid page_token {token:?}")))?,
            )),
        };
        let size = page_size(requested_page);
        let prefix = keys::versions_prefix(project, artifact);
        let kvs = self.meta.range(&prefix, after.as_deref(), size + 1).await?;
        let more = kvs.len() > size;
        let mut versions = Vec::with_capacity(size);
        for kv in kvs.into_iter().take(size) {
            let version: VersionRecord = decode(&kv.key, &kv.value)?;
            versions.push(ResolvedVersion {
                project: project.to_owned(),
                artifact: artifact.to_owned(),
                artifact_type: record.artifact_type.clone(),
                is_latest: record.latest() == Some(version.index),
                record: version,
            });
        }
        let next = match (more, versions.last()) {
            (true, Some(last)) => last.record.index.to_string(),
            _ => String::new(),
        };
        Ok((versions, next))
    }

    /// A page of artifacts sorted by name, and the token of the next page.
    pub async fn list_artifacts(
        &self,
        project: &str,
        requested_page: u32,
        page_token: &str,
    ) -> Result<(Vec<(String, ArtifactRecord)>, String), CoordError> {
        validate_project(project)?;
        let prefix = keys::artifacts_prefix(project);
        let after = (!page_token.is_empty()).then(|| format!("{prefix}{page_token}"));
        let size = page_size(requested_page);
        let kvs = self.meta.range(&prefix, after.as_deref(), size + 1).await?;
        let more = kvs.len() > size;
        let mut artifacts = Vec::with_capacity(size);
        for kv in kvs.into_iter().take(size) {
            let record: ArtifactRecord = decode(&kv.key, &kv.value)?;
            if record.live_versions() > 0 {
                artifacts.push((kv.key[prefix.len()..].to_owned(), record));
            }
        }
        let next = match (more, artifacts.last()) {
            (true, Some((name, _))) => name.clone(),
            _ => String::new(),
        };
        Ok((artifacts, next))
    }

    /// Points `alias` at the version `reference` names, moving it if needed.
    pub async fn set_alias(
        &self,
        default_project: &str,
        reference: &str,
        alias: &str,
    ) -> Result<ResolvedVersion, CoordError> {
        validate_alias(alias)?;
        let version = self.resolve_reference(default_project, reference).await?;
        let key = keys::alias(&version.project, &version.artifact, alias);
        // Only while the version exists: a concurrent deletion must not leave the alias
        // pointing at nothing.
        let version_key = keys::version(&version.project, &version.artifact, version.record.index);
        let exists = self.meta.get(&version_key).await?.map(|kv| kv.mod_revision).unwrap_or(0);
        let txn =
            Txn::new().when_revision(&version_key, exists).put(&key, version.record.index.to_string().into_bytes());
        if exists == 0 || !self.meta.txn(txn).await? {
            return Err(CoordError::VersionNotFound { reference: reference.to_owned() });
        }
        Ok(version)
    }

    /// Replaces the user metadata of the version `reference` names.
    pub async fn update_version(
        &self,
        default_project: &str,
        reference: &str,
        metadata_json: &str,
    ) -> Result<ResolvedVersion, CoordError> {
        let metadata = crate::commit::normalize_metadata(metadata_json)?;
        let mut version = self.resolve_reference(default_project, reference).await?;
        let key = keys::version(&version.project, &version.artifact, version.record.index);
        let Some((mut record, revision)) =
            self.load_version(&version.project, &version.artifact, version.record.index).await?
        else {
            return Err(CoordError::VersionNotFound { reference: reference.to_owned() });
        };
        record.metadata_json = metadata;
        // Only over the record read: a concurrent deletion or update is not overwritten.
        if !self.meta.txn(Txn::new().when_revision(&key, revision).put(&key, encode(&record))).await? {
            return Err(CoordError::ConcurrentUpdate(key));
        }
        version.record = record;
        Ok(version)
    }

    /// Removes a user alias; returns the index it named.
    pub async fn delete_alias(&self, project: &str, artifact: &str, alias: &str) -> Result<u64, CoordError> {
        validate_project(project)?;
        validate_artifact(artifact)?;
        validate_alias(alias)?;
        let key = keys::alias(project, artifact, alias);
        let kv = self
            .meta
            .get(&key)
            .await?
            .ok_or_else(|| CoordError::AliasNotFound { artifact: artifact.to_owned(), alias: alias.to_owned() })?;
        let index =
            String::from_utf8_lossy(&kv.value).parse().map_err(|_| CoordError::Corrupt(format!("alias {key:?}")))?;
        if !self.meta.txn(Txn::new().when_revision(&key, kv.mod_revision).delete(&key)).await? {
            return Err(CoordError::ConcurrentUpdate(key));
        }
        Ok(index)
    }
}

/// Record encoding re-exported for the commit path.
pub(crate) fn encode_version(version: &VersionRecord) -> Vec<u8> {
    encode(version)
}
