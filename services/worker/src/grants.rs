//! Read grants and upload receipts (cairn_auth::grant). A blob is served only to a caller
//! whose token may read the project of a version the blob is in, as a coordinator-signed
//! grant says; membership is checked against the version's manifest, read from the
//! BlobStore once and kept as a set of digests, so no request costs a MetaStore read. A
//! blob a caller sent whole and that verified earns it a receipt for its token's project.

use std::sync::Arc;

use cairn_auth::{AuthError, READ_GRANT_HEADER, Role, TokenStore};
use cairn_blob::{BlobStore, ManifestSetError, ManifestSets};
use cairn_core::Digest;
use tonic::Status;

/// Checks callers' tokens and read grants for GetBlob and GetBlobs.
pub(crate) struct ReadAccess {
    auth: Arc<TokenStore>,
    blobs: Arc<dyn BlobStore>,
    manifests: ManifestSets,
}

impl ReadAccess {
    pub(crate) fn new(auth: Arc<TokenStore>, blobs: Arc<dyn BlobStore>) -> Self {
        Self { auth, blobs, manifests: ManifestSets::default() }
    }

    /// Allows reading `digests` only to a reader whose grant names a version of a project
    /// its token may read, and that holds every one of them.
    pub(crate) async fn check(
        &self,
        metadata: &tonic::metadata::MetadataMap,
        digests: &[Digest],
    ) -> Result<(), Status> {
        let caller = self.auth.authenticate(metadata).await?;
        caller.allows(Role::Reader, None)?;
        let text = metadata.get(READ_GRANT_HEADER).and_then(|v| v.to_str().ok()).ok_or(AuthError::GrantMissing)?;
        let grant = self.auth.grant_key().await?.verify(text, cairn_auth::grant::now_unix_s())?;
        caller.allows(Role::Reader, Some(&grant.project))?;
        let entries = self.manifest_set(&grant.manifest).await?;
        if let Some(outside) = digests.iter().find(|d| !entries.contains(*d)) {
            return Err(AuthError::BlobNotGranted { sha256: outside.to_string() }.into());
        }
        Ok(())
    }

    async fn manifest_set(&self, manifest: &Digest) -> Result<Arc<std::collections::HashSet<Digest>>, Status> {
        self.manifests.get(&*self.blobs, manifest).await.map_err(|err| match err {
            ManifestSetError::Blob(err) => crate::service::blob_status(err, &manifest.to_string()),
            ManifestSetError::Corrupt(err) => cairn_proto::core_error_status(&err),
        })
    }
}

/// Signs upload receipts for one caller.
pub(crate) struct ReceiptSigner {
    key: cairn_auth::GrantKey,
    project: String,
}

impl ReceiptSigner {
    /// A signer for the caller of `metadata` (None when authentication is off).
    pub(crate) async fn for_caller(
        auth: &Option<Arc<TokenStore>>,
        metadata: &tonic::metadata::MetadataMap,
    ) -> Result<Option<Self>, Status> {
        let Some(auth) = auth else { return Ok(None) };
        let caller = auth.authenticate(metadata).await?;
        caller.allows(Role::Writer, None)?;
        Ok(Some(Self { key: auth.grant_key().await?.clone(), project: caller.project }))
    }

    /// The project receipts are signed for (the caller token's).
    pub(crate) fn project(&self) -> &str {
        &self.project
    }

    /// A receipt for the whole blob `digest` of `size` bytes.
    pub(crate) fn sign(&self, digest: &Digest, size: u64) -> String {
        let expires = cairn_auth::grant::now_unix_s() + cairn_auth::grant::RECEIPT_LIFETIME_SECS;
        self.key.issue_receipt(&self.project, digest, size, expires)
    }
}
