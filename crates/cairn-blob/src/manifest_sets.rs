//! The blob digests of manifests, read once from the store and kept: what read grants and
//! upload claims are checked against (a version's digest is its manifest's address, so it
//! names exactly one set of blobs, and the cached set never goes stale).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use cairn_core::{CoreError, Digest, ManifestDecoder};

use crate::{BlobError, BlobStore, BlobStoreExt, manifest_key};

/// Most digests kept across cached manifests (about 80 bytes each); past it the cache
/// starts over.
const MAX_CACHED_DIGESTS: usize = 4_000_000;

/// Why a manifest's digests could not be had.
#[derive(Debug, thiserror::Error)]
pub enum ManifestSetError {
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error(transparent)]
    Corrupt(#[from] CoreError),
}

/// Digest sets of manifests read lately.
#[derive(Default)]
pub struct ManifestSets(Mutex<Cached>);

#[derive(Default)]
struct Cached {
    sets: HashMap<Digest, Arc<HashSet<Digest>>>,
    digests: usize,
}

impl ManifestSets {
    /// The digests of the blobs of manifest `manifest`, read from `store` unless cached;
    /// the manifest's bytes are checked against its digest.
    pub async fn get(
        &self,
        store: &dyn BlobStore,
        manifest: &Digest,
    ) -> Result<Arc<HashSet<Digest>>, ManifestSetError> {
        if let Some(set) = self.0.lock().expect("manifest cache lock").sets.get(manifest) {
            return Ok(set.clone());
        }
        let bytes = store.get_bytes(&manifest_key(manifest)).await?;
        let mut decoder = ManifestDecoder::new();
        let set: HashSet<Digest> = decoder.feed(&bytes)?.into_iter().map(|e| e.sha256).collect();
        decoder.finish(manifest)?;
        let set = Arc::new(set);
        let mut cache = self.0.lock().expect("manifest cache lock");
        if cache.digests + set.len() > MAX_CACHED_DIGESTS {
            *cache = Cached::default();
        }
        cache.digests += set.len();
        cache.sets.insert(*manifest, set.clone());
        Ok(set)
    }
}
