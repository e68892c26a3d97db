//! `cairn fsck`: checks that every live version's manifest and blobs exist (deep: that
//! they hash to their digests) and, with repair, restores what is missing or corrupt from
//! the collector's trash — each restored object verified against its digest before it
//! counts as repaired. Versions are read at one MetaStore revision; each distinct blob is
//! checked once however many versions share it.

use std::collections::HashMap;

use cairn_blob::{BlobError, blob_key, manifest_key, trash_key};
use cairn_core::{Digest, Entry, ManifestDecoder, Sha256Hasher, VersionRecord};
use futures::StreamExt;

use crate::error::decode;
use crate::{CoordError, Coordinator, keys};

/// Problems listed in an answer at most (the counts are complete).
pub const FSCK_LISTED: usize = 1000;
/// Entries looked up at once.
const LOOKUP_BATCH: usize = 1000;

/// One object a live version refers to that is missing or corrupt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsckProblem {
    /// `project/name:vK`.
    pub reference: String,
    /// The entry's path; empty for the version's manifest.
    pub path: String,
    pub sha256: String,
}

/// What a check found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FsckReport {
    pub versions_checked: u64,
    pub blobs_checked: u64,
    pub missing: Vec<FsckProblem>,
    pub corrupt: Vec<FsckProblem>,
    pub repaired: u64,
}

/// What a check found of one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Health {
    Sound,
    Missing,
    Corrupt,
}

impl Coordinator {
    /// Checks every live version (see the module docs).
    pub async fn fsck(&self, deep: bool, repair: bool) -> Result<FsckReport, CoordError> {
        let mut report = FsckReport::default();
        let mut blobs: HashMap<Digest, Health> = HashMap::new();
        let snapshot = self.meta.snapshot().await?;
        let mut after: Option<String> = None;
        loop {
            let page = snapshot.range("versions/", after.as_deref(), 500).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.key.clone());
            for kv in page {
                let version: VersionRecord = decode(&kv.key, &kv.value)?;
                let Some((project, artifact, index)) = keys::parse_version(&kv.key) else { continue };
                let reference = format!("{project}/{artifact}:v{index}");
                report.versions_checked += 1;
                self.check_version(&reference, &version, deep, repair, &mut blobs, &mut report).await?;
            }
        }
        report.blobs_checked = blobs.len() as u64;
        Ok(report)
    }

    async fn check_version(
        &self,
        reference: &str,
        version: &VersionRecord,
        deep: bool,
        repair: bool,
        blobs: &mut HashMap<Digest, Health>,
        report: &mut FsckReport,
    ) -> Result<(), CoordError> {
        let manifest = manifest_key(&version.digest);
        let mut entries = self.verified_manifest(&manifest, &version.digest).await?;
        if entries.is_err() && repair && self.restore_verified(&manifest, &version.digest, true).await? {
            report.repaired += 1;
            entries = self.verified_manifest(&manifest, &version.digest).await?;
        }
        let entries = match entries {
            Ok(entries) => entries,
            Err(health) => {
                let problem = FsckProblem {
                    reference: reference.to_owned(),
                    path: String::new(),
                    sha256: version.digest.to_string(),
                };
                match health {
                    Health::Corrupt => report.corrupt.push(problem),
                    _ => report.missing.push(problem),
                }
                return Ok(());
            }
        };
        for batch in entries.chunks(LOOKUP_BATCH) {
            let unknown: Vec<&Entry> = batch.iter().filter(|e| !blobs.contains_key(&e.sha256)).collect();
            let sizes = self.blobs.head_many(unknown.iter().map(|e| blob_key(&e.sha256)).collect()).await?;
            for (entry, size) in unknown.into_iter().zip(sizes) {
                let mut health = match size {
                    None => Health::Missing,
                    Some(size) if size != entry.size => Health::Corrupt,
                    Some(_) if deep => self.health_at(&blob_key(&entry.sha256), &entry.sha256).await?,
                    Some(_) => Health::Sound,
                };
                if health != Health::Sound
                    && repair
                    && self.restore_verified(&blob_key(&entry.sha256), &entry.sha256, false).await?
                {
                    report.repaired += 1;
                    health = Health::Sound;
                }
                blobs.insert(entry.sha256, health);
            }
            for entry in batch {
                let problem = || FsckProblem {
                    reference: reference.to_owned(),
                    path: entry.path.to_string(),
                    sha256: entry.sha256.to_string(),
                };
                match blobs[&entry.sha256] {
                    Health::Sound => {}
                    Health::Missing => report.missing.push(problem()),
                    Health::Corrupt => report.corrupt.push(problem()),
                }
            }
        }
        Ok(())
    }

    /// The manifest's entries, verified against its digest, or why not.
    async fn verified_manifest(&self, key: &str, digest: &Digest) -> Result<Result<Vec<Entry>, Health>, CoordError> {
        let mut chunks = match self.blobs.get(key, 0, None).await {
            Ok(chunks) => chunks,
            Err(BlobError::NotFound(_)) => return Ok(Err(Health::Missing)),
            Err(err) => return Err(err.into()),
        };
        let mut decoder = ManifestDecoder::new();
        let mut entries = Vec::new();
        while let Some(chunk) = chunks.next().await {
            match decoder.feed(&chunk?) {
                Ok(more) => entries.extend(more),
                Err(_) => return Ok(Err(Health::Corrupt)),
            }
        }
        match decoder.finish(digest) {
            Ok(()) => Ok(Ok(entries)),
            Err(_) => Ok(Err(Health::Corrupt)),
        }
    }

    /// Reads the blob at `key` and tells whether it hashes to `digest`.
    async fn health_at(&self, key: &str, digest: &Digest) -> Result<Health, CoordError> {
        let mut chunks = match self.blobs.get(key, 0, None).await {
            Ok(chunks) => chunks,
            Err(BlobError::NotFound(_)) => return Ok(Health::Missing),
            Err(err) => return Err(err.into()),
        };
        let mut hasher = Sha256Hasher::new();
        while let Some(chunk) = chunks.next().await {
            hasher.update(&chunk?);
        }
        Ok(if hasher.finish() == *digest { Health::Sound } else { Health::Corrupt })
    }

    /// Restores `key` from the trash if the trash's copy verifies (a manifest against its
    /// version digest, a blob against its sha256); the live object is left as it is if not.
    async fn restore_verified(&self, key: &str, digest: &Digest, manifest: bool) -> Result<bool, CoordError> {
        let trashed = trash_key(key);
        let sound = match manifest {
            true => self.verified_manifest(&trashed, digest).await?.is_ok(),
            false => self.health_at(&trashed, digest).await? == Health::Sound,
        };
        if !sound || !self.blobs.restore_from_trash(key).await? {
            return Ok(false);
        }
        tracing::warn!(key, "restored from the trash");
        Ok(true)
    }
}
