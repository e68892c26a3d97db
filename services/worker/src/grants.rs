//! Checking read grants (cairn_auth::grant): a blob is served only to a caller whose token
//! may read the project of a version the blob is in, as a coordinator-signed grant says.
//! Membership is checked against the version's manifest, read from the BlobStore once and
//! kept as a set of digests, so no request costs a MetaStore read.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use cairn_auth::{AuthError, READ_GRANT_HEADER, Role, TokenStore};
use cairn_blob::{BlobStore, BlobStoreExt, manifest_key};
use cairn_core::{Digest, ManifestDecoder};
use tonic::Status;

/// Most digests kept across cached manifests (about 80 bytes each); past it the cache
/// starts over.
const MAX_CACHED_DIGESTS: usize = 4_000_000;

/// The blob digests of manifests read lately.
#[derive(Default)]
struct ManifestSets {
    sets: HashMap<Digest, Arc<HashSet<Digest>>>,
    digests: usize,
}

/// Checks callers' tokens and read grants for GetBlob and GetBlobs.
pub(crate) struct ReadAccess {
    auth: Arc<TokenStore>,
    blobs: Arc<dyn BlobStore>,
    manifests: Mutex<ManifestSets>,
}

impl ReadAccess {
    pub(crate) fn new(auth: Arc<TokenStore>, blobs: Arc<dyn BlobStore>) -> Self {
        Self { auth, blobs, manifests: Mutex::new(ManifestSets::default()) }
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

    async fn manifest_set(&self, manifest: &Digest) -> Result<Arc<HashSet<Digest>>, Status> {
        if let Some(set) = self.manifests.lock().expect("manifest cache lock").sets.get(manifest) {
            return Ok(set.clone());
        }
        let key = manifest_key(manifest);
        let bytes = self.blobs.get_bytes(&key).await.map_err(|e| crate::service::blob_status(e, &key))?;
        let mut decoder = ManifestDecoder::new();
        let corrupt = |e: cairn_core::CoreError| cairn_proto::core_error_status(&e);
        let set: HashSet<Digest> = decoder.feed(&bytes).map_err(corrupt)?.into_iter().map(|e| e.sha256).collect();
        decoder.finish(manifest).map_err(corrupt)?;
        let set = Arc::new(set);
        let mut cache = self.manifests.lock().expect("manifest cache lock");
        if cache.digests + set.len() > MAX_CACHED_DIGESTS {
            *cache = ManifestSets::default();
        }
        cache.digests += set.len();
        cache.sets.insert(*manifest, set.clone());
        Ok(set)
    }
}
