//! Committing a single-run version (Log) once its entries are validated and sorted: the
//! blob checks, the manifest, the commit — again from the checks if a collection began or
//! the latest version changed meanwhile.

use std::collections::HashSet;

use cairn_core::{
    CoreError, Entry, VersionRecord, validate_artifact, validate_project, validate_request_id, validate_type,
    validate_writer_id,
};

use crate::commit::{NewVersion, Reliance, normalize_metadata, validate_aliases};
use crate::gc::Relied;
use crate::manifests::{EncodedManifest, encode_sorted};
use crate::{CoordError, Coordinator, keys};

/// What a Log says about the version it makes, before its entries.
#[derive(Debug, Clone, Default)]
pub struct LogHeader {
    pub project: String,
    pub artifact: String,
    pub artifact_type: String,
    /// The producer recorded with the version (none: nobody named).
    pub writer: Option<String>,
    pub aliases: Vec<String>,
    pub metadata_json: String,
    /// Client-chosen id: a retry of a committed Log returns that commit's version.
    pub request_id: Option<String>,
    pub ttl_ms: Option<u64>,
}

/// A Log whose artifact's latest version has at most this many entries skips the blob
/// checks of what that version already refers to (its manifest is read whole: bounded).
const REUSE_LATEST_CHECKS_UP_TO: u64 = 200_000;
/// Times a Log starts again from its checks when what it relied on moved.
const ATTEMPTS: usize = 8;

impl Coordinator {
    /// Refuses a bad Log header before any entry is read.
    pub async fn check_log_header(&self, header: &LogHeader) -> Result<(), CoordError> {
        validate_project(&header.project)?;
        validate_artifact(&header.artifact)?;
        validate_type(&header.artifact_type)?;
        if let Some(writer) = &header.writer {
            validate_writer_id(writer)?;
        }
        validate_aliases(&header.aliases)?;
        if let Some(request_id) = &header.request_id {
            validate_request_id(request_id)?;
        }
        normalize_metadata(&header.metadata_json)?;
        if let Some((artifact, _)) = self.load_artifact(&header.project, &header.artifact).await? {
            artifact.check_type(&header.artifact, &header.artifact_type)?;
        }
        Ok(())
    }

    /// Commits a single-run version of `entries` (in any order): the version and whether
    /// it was a dedup hit.
    pub async fn log(&self, header: LogHeader, mut entries: Vec<Entry>) -> Result<(VersionRecord, bool), CoordError> {
        self.check_log_header(&header).await?;
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        if let Some(pair) = entries.windows(2).find(|pair| pair[0].path == pair[1].path) {
            return Err(CoreError::DuplicatePath { path: pair[0].path.to_string() }.into());
        }
        cairn_core::check_tree(entries.iter().map(|e| &e.path))?;
        let manifest = encode_sorted(entries.iter().cloned())?;
        let new = NewVersion {
            project: header.project,
            artifact: header.artifact,
            artifact_type: header.artifact_type,
            digest: manifest.digest,
            files: manifest.files,
            bytes: manifest.total_bytes,
            metadata_json: normalize_metadata(&header.metadata_json)?,
            producers: header.writer.into_iter().collect(),
            aliases: header.aliases,
            request_id: header.request_id,
            ttl_ms: header.ttl_ms,
            reliance: Reliance::default(),
        };
        self.commit_log(&entries, manifest, new).await
    }

    /// Checks `entries`' blobs, stores `manifest` and commits `new` (whose digest is the
    /// manifest's); returns the version and whether it was a dedup hit.
    async fn commit_log(
        &self,
        entries: &[Entry],
        manifest: EncodedManifest,
        mut new: NewVersion,
    ) -> Result<(cairn_core::VersionRecord, bool), CoordError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            new.reliance = self.check_log_blobs(&new.project, &new.artifact, entries, &manifest).await?;
            self.store_manifest(manifest.clone()).await?;
            match self.commit_version(&new, None).await {
                Err(CoordError::RelianceLost) if attempt < ATTEMPTS => {
                    tracing::info!(project = %new.project, artifact = %new.artifact, "a Log's checks went stale; checking again");
                }
                other => return other,
            }
        }
    }

    /// The blob checks of a Log. The latest version's blobs are stored as long as it
    /// lives (the collector keeps what a version refers to): an identical re-log looks
    /// nothing up, and a log that changes a few files looks up only what that version
    /// lacks — and its commit compares on that version's record, so that a deletion of
    /// it in between sends the Log back here.
    // model: ResolveLatest
    async fn check_log_blobs(
        &self,
        project: &str,
        artifact: &str,
        entries: &[Entry],
        manifest: &EncodedManifest,
    ) -> Result<Reliance, CoordError> {
        let latest = match self.load_artifact(project, artifact).await?.and_then(|(record, _)| record.latest()) {
            Some(index) => self.load_version(project, artifact, index).await?.map(|(v, rev)| (v, index, rev)),
            None => None,
        };
        let Some((latest, index, revision)) = latest else {
            return Ok(Reliance::on(self.verify_blobs_stored(entries).await?));
        };
        let relied = vec![(keys::version(project, artifact, index), revision)];
        let ticket = if latest.digest == manifest.digest {
            self.rely_on(entries.iter().map(|e| Relied::Content(e.sha256))).await?
        } else if latest.files <= REUSE_LATEST_CHECKS_UP_TO {
            let known: HashSet<_> =
                self.read_manifest(latest.digest).await?.into_iter().map(|e| (e.sha256, e.size)).collect();
            self.verify_blobs_stored_except(entries, &known, []).await?
        } else {
            return Ok(Reliance::on(self.verify_blobs_stored(entries).await?));
        };
        Ok(Reliance { ticket: Some(ticket), versions: relied })
    }
}
