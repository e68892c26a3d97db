//! Reading versions: resolve, list, manifests, aliases, and verified downloads.

use std::path::PathBuf;

use cairn_core::{CoreError, Digest, Entry, EntryPath, Reference, Selector, version_digest};
use cairn_proto::v1;
use futures::StreamExt;

use crate::download::Fetched;
use crate::error::{missing, required};
use crate::{
    ArtifactInfo, Client, ClientError, DeleteSummary, FsckItem, FsckSummary, GcSummary, GetSummary, ManifestEntry,
    VersionInfo,
};

/// Checks that `entries` are the version the server says they are — their canonical
/// encoding hashes to the version's digest — and, for a reference pinned with
/// `@sha256:<digest>`, that this is the pinned version. Without it a pinned reference would
/// protect nothing against a faulty or hostile server.
fn verify_manifest(reference: &str, version: &VersionInfo, entries: &[ManifestEntry]) -> Result<(), ClientError> {
    let mismatch = |expected: &str, actual: String| ClientError::ManifestMismatch {
        reference: reference.to_owned(),
        expected: expected.to_owned(),
        actual,
    };
    if let Selector::Digest(pinned) = Reference::parse(reference)?.selector
        && pinned.to_string() != version.digest
    {
        return Err(mismatch(&pinned.to_string(), version.digest.clone()));
    }
    let parsed: Result<Vec<Entry>, CoreError> = entries
        .iter()
        .map(|e| Ok(Entry { path: EntryPath::parse(&e.path)?, sha256: Digest::parse_hex(&e.sha256)?, size: e.size }))
        .collect();
    let actual = match parsed.and_then(|entries| version_digest(&entries)) {
        Ok(digest) => digest.to_string(),
        Err(err) => format!("nothing valid ({err})"),
    };
    if actual != version.digest {
        return Err(mismatch(&version.digest, actual));
    }
    Ok(())
}

impl Client {
    /// Resolves a reference (`name`, `name:alias`, `name:vN`, `project/name@sha256:…`).
    pub async fn get_version(&self, reference: &str) -> Result<VersionInfo, ClientError> {
        Reference::parse(reference)?;
        let request = v1::GetVersionRequest { project: self.project.clone(), reference: reference.to_owned() };
        let version = self
            .coordinator_call(|mut c| {
                let request = request.clone();
                async move { c.get_version(request).await.map(|r| r.into_inner().version) }
            })
            .await?;
        version.map(VersionInfo::from).ok_or_else(|| missing("version"))
    }

    /// Every version of an artifact, oldest first.
    pub async fn versions(&self, name: &str) -> Result<Vec<VersionInfo>, ClientError> {
        cairn_core::validate_artifact(name)?;
        let mut out = Vec::new();
        let mut page_token = String::new();
        loop {
            let request = v1::ListVersionsRequest {
                project: self.project.clone(),
                artifact: name.to_owned(),
                page_size: 1000,
                page_token,
            };
            let page = self
                .coordinator_call(|mut c| {
                    let request = request.clone();
                    async move { c.list_versions(request).await.map(|r| r.into_inner()) }
                })
                .await?;
            out.extend(page.versions.into_iter().map(VersionInfo::from));
            if page.next_page_token.is_empty() {
                return Ok(out);
            }
            page_token = page.next_page_token;
        }
    }

    /// Every artifact of the project, sorted by name; empty for an unknown project.
    pub async fn list_artifacts(&self) -> Result<Vec<ArtifactInfo>, ClientError> {
        let mut out = Vec::new();
        let mut page_token = String::new();
        loop {
            let request = v1::ListArtifactsRequest { project: self.project.clone(), page_size: 1000, page_token };
            let page = self
                .coordinator_call(|mut c| {
                    let request = request.clone();
                    async move { c.list_artifacts(request).await.map(|r| r.into_inner()) }
                })
                .await?;
            out.extend(page.artifacts.into_iter().map(|a| ArtifactInfo {
                name: a.artifact,
                artifact_type: a.r#type,
                versions: a.version_count,
                latest: format!("v{}", a.latest_index),
            }));
            if page.next_page_token.is_empty() {
                return Ok(out);
            }
            page_token = page.next_page_token;
        }
    }

    /// The version and its entries, sorted by path.
    pub async fn manifest(&self, reference: &str) -> Result<(VersionInfo, Vec<ManifestEntry>), ClientError> {
        self.manifest_with_grant(reference).await.map(|(version, entries, _)| (version, entries))
    }

    /// The version, its entries and the grant to read their blobs (servers with
    /// authentication).
    pub(crate) async fn manifest_with_grant(
        &self,
        reference: &str,
    ) -> Result<(VersionInfo, Vec<ManifestEntry>, crate::download::ReadGrant), ClientError> {
        Reference::parse(reference)?;
        let request = v1::GetManifestRequest { project: self.project.clone(), reference: reference.to_owned() };
        let mut pages = self
            .coordinator_call(|mut c| {
                let request = request.clone();
                async move { c.get_manifest(request).await.map(|r| r.into_inner()) }
            })
            .await?;
        let mut version = None;
        let mut grant: crate::download::ReadGrant = None;
        let mut entries = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page?;
            if let Some(v) = page.version {
                version = Some(VersionInfo::from(v));
            }
            if !page.read_grant.is_empty() {
                grant = Some(page.read_grant.into());
            }
            entries.extend(page.entries.into_iter().map(|e| ManifestEntry {
                path: e.path,
                sha256: e.sha256,
                size: e.size,
            }));
        }
        let version = required(version, "version")?;
        verify_manifest(reference, &version, &entries)?;
        Ok((version, entries, grant))
    }

    /// Replaces the user metadata of the version `reference` names (not its files).
    pub async fn update_version(&self, reference: &str, metadata_json: &str) -> Result<VersionInfo, ClientError> {
        Reference::parse(reference)?;
        let request = v1::UpdateVersionRequest {
            project: self.project.clone(),
            reference: reference.to_owned(),
            metadata_json: metadata_json.to_owned(),
        };
        let version = self
            .coordinator_call(|mut c| {
                let request = request.clone();
                async move { c.update_version(request).await.map(|r| r.into_inner().version) }
            })
            .await?;
        Ok(VersionInfo::from(required(version, "version")?))
    }

    /// Points `alias` at the version `reference` names.
    pub async fn set_alias(&self, reference: &str, alias: &str) -> Result<VersionInfo, ClientError> {
        Reference::parse(reference)?;
        let request = v1::SetAliasRequest {
            project: self.project.clone(),
            reference: reference.to_owned(),
            alias: alias.to_owned(),
        };
        let version = self
            .coordinator_call(|mut c| {
                let request = request.clone();
                async move { c.set_alias(request).await.map(|r| r.into_inner().version) }
            })
            .await?;
        version.map(VersionInfo::from).ok_or_else(|| missing("version"))
    }

    /// Removes a user alias; returns the index it named.
    pub async fn delete_alias(&self, name: &str, alias: &str) -> Result<u64, ClientError> {
        let request = v1::DeleteAliasRequest {
            project: self.project.clone(),
            artifact: name.to_owned(),
            alias: alias.to_owned(),
        };
        self.coordinator_call(|mut c| {
            let request = request.clone();
            async move { c.delete_alias(request).await.map(|r| r.into_inner().previous_index) }
        })
        .await
    }

    /// Deletes the version `reference` names; with `force`, also the user aliases naming it.
    pub async fn delete_version(&self, reference: &str, force: bool) -> Result<DeleteSummary, ClientError> {
        Reference::parse(reference)?;
        let request =
            v1::DeleteVersionRequest { project: self.project.clone(), reference: reference.to_owned(), force };
        let response = self
            .coordinator_call(|mut c| {
                let request = request.clone();
                async move { c.delete_version(request).await.map(|r| r.into_inner()) }
            })
            .await?;
        Ok(DeleteSummary::new(
            response.artifact,
            response.deleted_indices,
            response.deleted_aliases,
            response.latest_index,
        ))
    }

    /// Deletes every version of artifact `name`; with `force`, also its user aliases.
    pub async fn delete_artifact(&self, name: &str, force: bool) -> Result<DeleteSummary, ClientError> {
        let request = v1::DeleteArtifactRequest { project: self.project.clone(), artifact: name.to_owned(), force };
        let response = self
            .coordinator_call(|mut c| {
                let request = request.clone();
                async move { c.delete_artifact(request).await.map(|r| r.into_inner()) }
            })
            .await?;
        Ok(DeleteSummary::new(response.artifact, response.deleted_indices, response.deleted_aliases, None))
    }

    /// Keeps only the newest `keep_last` versions of artifact `name` (aliased ones always),
    /// applied by the garbage collector; 0 clears the policy. Returns the policy in force.
    pub async fn set_retention(&self, name: &str, keep_last: u64) -> Result<u64, ClientError> {
        let request = v1::SetRetentionRequest { project: self.project.clone(), artifact: name.to_owned(), keep_last };
        self.coordinator_call(|mut c| {
            let request = request.clone();
            async move { c.set_retention(request).await.map(|r| r.into_inner().keep_last) }
        })
        .await
    }

    /// Writes the bytes of the file `path` of a version to `out`, only after they verified
    /// against the manifest's sha256 (they are downloaded to a temporary file first).
    pub async fn cat(
        &self,
        reference: &str,
        path: &str,
        out: &mut (dyn std::io::Write + Send),
    ) -> Result<u64, ClientError> {
        let temp = tempfile::tempdir().map_err(|e| ClientError::io(std::env::temp_dir(), e))?;
        let summary =
            self.get_selected(reference, Some(temp.path().to_path_buf()), Selection::Path(path.to_owned())).await?;
        let file = temp.path().join(path);
        let mut reader = std::fs::File::open(&file).map_err(|e| ClientError::io(&file, e))?;
        std::io::copy(&mut reader, out).map_err(|e| ClientError::io("standard output", e))?;
        out.flush().map_err(|e| ClientError::io("standard output", e))?;
        Ok(summary.bytes)
    }

    /// Runs the garbage collector now; `grace` overrides the server's grace period;
    /// `purge_trash` empties the trash whatever its age.
    pub async fn collect_garbage(
        &self,
        dry_run: bool,
        grace: Option<u64>,
        purge_trash: bool,
    ) -> Result<GcSummary, ClientError> {
        let request = v1::CollectGarbageRequest { dry_run, grace_seconds: grace, purge_trash };
        let r = self
            .coordinator_call(|mut c| async move { c.collect_garbage(request).await.map(|r| r.into_inner()) })
            .await?;
        Ok(GcSummary {
            dry_run: r.dry_run,
            deleted_blobs: r.deleted_blobs,
            freed_bytes: r.freed_bytes,
            kept_blobs: r.kept_blobs,
            deleted_manifests: r.deleted_manifests,
            deleted_staging: r.deleted_staging,
            deleted_checkpoints: r.deleted_checkpoints,
            expired_versions: r.expired_versions,
            retired_versions: r.retired_versions,
            aborted_uploads: r.aborted_uploads,
            generation: r.generation,
            duration_ms: r.duration_ms,
            trashed_bytes: r.trashed_bytes,
            purged_blobs: r.purged_blobs,
            trash_bytes: r.trash_bytes,
            referenced_missing: r.referenced_missing,
        })
    }

    /// Checks every live version's manifest and blobs (`deep`: re-hashed), restoring what
    /// is missing from the collector's trash with `repair` (an admin of every project).
    pub async fn fsck(&self, deep: bool, repair: bool) -> Result<FsckSummary, ClientError> {
        let request = v1::FsckRequest { deep, repair };
        let r = self.coordinator_call(|mut c| async move { c.fsck(request).await.map(|r| r.into_inner()) }).await?;
        let item = |p: v1::FsckProblem| FsckItem {
            reference: p.r#ref,
            path: (!p.path.is_empty()).then_some(p.path),
            sha256: p.sha256,
        };
        Ok(FsckSummary {
            versions_checked: r.versions_checked,
            blobs_checked: r.blobs_checked,
            missing: r.missing.into_iter().map(item).collect(),
            corrupt: r.corrupt.into_iter().map(item).collect(),
            repaired: r.repaired,
            missing_count: r.missing_count,
            corrupt_count: r.corrupt_count,
        })
    }

    /// Downloads every file of a version into `dir` (default `./<artifact name>`),
    /// verifying each file's sha256 and skipping files already present and correct.
    pub async fn get(&self, reference: &str, dir: Option<PathBuf>) -> Result<GetSummary, ClientError> {
        self.get_selected(reference, dir, Selection::All).await
    }

    /// Like [`Client::get`], for the entries `selection` picks: one file or a subtree,
    /// written under `dir` at their paths in the version.
    pub async fn get_selected(
        &self,
        reference: &str,
        dir: Option<PathBuf>,
        selection: Selection,
    ) -> Result<GetSummary, ClientError> {
        let (version, entries, grant) = self.manifest_with_grant(reference).await?;
        // The default directory comes from the caller's reference, never from the server's
        // answer (a name the server made up could point anywhere).
        let dir = match dir {
            Some(dir) => dir,
            None => PathBuf::from(Reference::parse(reference)?.artifact),
        };
        let entries = selection.apply(reference, entries)?;
        let (files, bytes) = (entries.len() as u64, entries.iter().map(|e| e.size).sum());
        let entries = entries
            .into_iter()
            .map(|e| {
                Ok(cairn_core::Entry {
                    path: cairn_core::EntryPath::parse(&e.path)?,
                    sha256: cairn_core::Digest::parse_hex(&e.sha256)?,
                    size: e.size,
                })
            })
            .collect::<Result<Vec<_>, cairn_core::CoreError>>()?;
        let fetched = self.download_entries(entries, &dir, grant).await?;
        let downloaded_bytes = fetched.iter().map(|f| if let Fetched::Downloaded(n) = f { *n } else { 0 }).sum();
        let skipped_files = fetched.iter().filter(|f| **f == Fetched::AlreadyPresent).count() as u64;
        let cached_files = fetched.iter().filter(|f| **f == Fetched::FromCache).count() as u64;
        Ok(GetSummary {
            name: version.name,
            version: version.version,
            digest: version.digest,
            files,
            bytes,
            downloaded_bytes,
            skipped_files,
            cached_files,
            dir: dir.display().to_string(),
        })
    }
}

/// Which entries of a version to download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Every entry.
    All,
    /// The one entry with this path.
    Path(String),
    /// The entries under this directory (`dir/`, with or without the trailing slash).
    Prefix(String),
}

impl Selection {
    fn apply(&self, reference: &str, entries: Vec<ManifestEntry>) -> Result<Vec<ManifestEntry>, ClientError> {
        let missing = |what, path: &str| ClientError::NotInVersion {
            reference: reference.to_owned(),
            what,
            path: path.to_owned(),
        };
        match self {
            Selection::All => Ok(entries),
            Selection::Path(path) => {
                let found: Vec<_> = entries.into_iter().filter(|e| &e.path == path).collect();
                if found.is_empty() { Err(missing("file", path)) } else { Ok(found) }
            }
            Selection::Prefix(prefix) => {
                let dir = format!("{}/", prefix.trim_end_matches('/'));
                let found: Vec<_> = entries.into_iter().filter(|e| e.path.starts_with(&dir)).collect();
                if found.is_empty() { Err(missing("directory", prefix)) } else { Ok(found) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, content: &[u8]) -> ManifestEntry {
        ManifestEntry { path: path.into(), sha256: Digest::of(content).to_string(), size: content.len() as u64 }
    }

    fn version_of(entries: &[ManifestEntry]) -> VersionInfo {
        let parsed: Vec<Entry> = entries
            .iter()
            .map(|e| Entry {
                path: EntryPath::parse(&e.path).unwrap(),
                sha256: Digest::parse_hex(&e.sha256).unwrap(),
                size: e.size,
            })
            .collect();
        VersionInfo::from(v1::Version {
            artifact: "ds".into(),
            digest: version_digest(&parsed).unwrap().to_string(),
            file_count: entries.len() as u64,
            ..Default::default()
        })
    }

    #[test]
    fn a_manifest_that_hashes_to_its_version_digest_is_accepted() {
        let entries = vec![entry("a.bin", b"a"), entry("b/c.bin", b"c")];
        let version = version_of(&entries);
        verify_manifest("ds:v0", &version, &entries).unwrap();
        verify_manifest(&format!("ds@sha256:{}", version.digest), &version, &entries).unwrap();
    }

    #[test]
    fn a_tampered_entry_or_another_version_than_the_pinned_one_is_refused() {
        let entries = vec![entry("a.bin", b"a"), entry("b/c.bin", b"c")];
        let version = version_of(&entries);
        let mut swapped = entries.clone();
        swapped[1] = entry("b/c.bin", b"evil");
        let err = verify_manifest("ds:v0", &version, &swapped).unwrap_err();
        assert!(matches!(err, ClientError::ManifestMismatch { .. }), "{err}");
        let mut extra = entries.clone();
        extra.push(entry("z.bin", b"z"));
        assert!(verify_manifest("ds", &version, &extra).is_err(), "an added entry is refused");

        let other = version_of(&[entry("x.bin", b"x")]);
        let pinned = format!("ds@sha256:{}", version.digest);
        let err = verify_manifest(&pinned, &other, &[entry("x.bin", b"x")]).unwrap_err();
        assert!(err.to_string().contains(&version.digest), "names the pinned digest: {err}");
    }
}
