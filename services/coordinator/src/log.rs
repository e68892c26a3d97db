//! Committing a single-run version (Log) once its entries are validated and sorted: the
//! blob checks, the manifest, the commit — again from the checks if a collection began or
//! the latest version changed meanwhile.

use std::collections::HashSet;

use cairn_core::Entry;

use crate::commit::{NewVersion, Reliance};
use crate::gc::Relied;
use crate::manifests::EncodedManifest;
use crate::{CoordError, Coordinator, keys};

/// A Log whose artifact's latest version has at most this many entries skips the blob
/// checks of what that version already refers to (its manifest is read whole: bounded).
const REUSE_LATEST_CHECKS_UP_TO: u64 = 200_000;
/// Times a Log starts again from its checks when what it relied on moved.
const ATTEMPTS: usize = 8;

impl Coordinator {
    /// Checks `entries`' blobs, stores `manifest` and commits `new` (whose digest is the
    /// manifest's); returns the version and whether it was a dedup hit.
    pub(crate) async fn commit_log(
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
