//! Which blobs a caller may name (servers with authentication). Blobs are stored once by
//! content, whatever project logged them, so a writer must not learn whether a digest is
//! stored, nor put a blob into its version just by naming it. An entry's blob is
//! accepted when the artifact's latest version already holds it (the project had it) or
//! when the caller sends the upload receipt a worker signed after receiving the blob whole
//! (cairn_auth::grant).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use cairn_auth::{AuthError, GrantKey};
use cairn_blob::ManifestSetError;
use cairn_core::{Digest, Entry};

use crate::{CoordError, Coordinator};

impl Coordinator {
    /// The blobs of the artifact's latest version (None: no version yet).
    pub(crate) async fn latest_blob_set(
        &self,
        project: &str,
        artifact: &str,
    ) -> Result<Option<Arc<HashSet<Digest>>>, CoordError> {
        let Some(latest) = self.latest_version(project, artifact).await? else { return Ok(None) };
        match self.manifest_sets.get(&*self.blobs, &latest.digest).await {
            Ok(set) => Ok(Some(set)),
            Err(ManifestSetError::Blob(err)) => Err(err.into()),
            Err(ManifestSetError::Corrupt(err)) => Err(err.into()),
        }
    }

    /// Refuses entries of `project`/`artifact` whose blobs the caller has not shown it
    /// holds: neither in the artifact's latest version nor covered by one of `receipts`.
    pub(crate) async fn check_claims(
        &self,
        key: &GrantKey,
        project: &str,
        artifact: &str,
        entries: &[Entry],
        receipts: &[String],
    ) -> Result<(), CoordError> {
        let now = cairn_auth::grant::now_unix_s();
        let mut proven: HashMap<Digest, u64> = HashMap::with_capacity(receipts.len());
        for text in receipts {
            let receipt = key.verify_receipt(text, now)?;
            if receipt.project != project && receipt.project != cairn_auth::ALL_PROJECTS {
                return Err(AuthError::ReceiptOtherProject {
                    sha256: receipt.digest.to_string(),
                    receipt_project: receipt.project,
                    project: project.to_owned(),
                }
                .into());
            }
            proven.insert(receipt.digest, receipt.size);
        }
        let unproven: Vec<&Entry> = entries.iter().filter(|e| proven.get(&e.sha256) != Some(&e.size)).collect();
        if unproven.is_empty() {
            return Ok(());
        }
        let latest = self.latest_blob_set(project, artifact).await?;
        for entry in unproven {
            if !latest.as_ref().is_some_and(|set| set.contains(&entry.sha256)) {
                return Err(AuthError::ReceiptMissing {
                    path: entry.path.to_string(),
                    sha256: entry.sha256.to_string(),
                }
                .into());
            }
        }
        Ok(())
    }
}
