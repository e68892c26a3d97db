//! Manifests in object storage: written once under their version digest, read back as a
//! stream and verified against that digest end to end.

use bytes::Bytes;
use cairn_blob::{BlobStoreExt, manifest_key};
use cairn_core::{Digest, Entry, ManifestDecoder, ManifestWriter};
use futures::StreamExt;
use tokio::sync::mpsc;

use crate::gc::{Relied, Ticket};
use crate::{CoordError, Coordinator};

/// A manifest encoded and ready to store.
#[derive(Clone)]
pub(crate) struct EncodedManifest {
    pub digest: Digest,
    pub bytes: Vec<u8>,
    pub files: u64,
    pub total_bytes: u64,
}

/// Encodes entries that are already sorted by path and unique.
pub(crate) fn encode_sorted(entries: impl Iterator<Item = Entry>) -> Result<EncodedManifest, CoordError> {
    let mut writer = ManifestWriter::new();
    for entry in entries {
        writer.push(&entry)?;
    }
    let (digest, bytes, files, total_bytes) = writer.finish();
    Ok(EncodedManifest { digest, bytes, files, total_bytes })
}

impl Coordinator {
    /// Stores a manifest unless an identical one (same digest) is stored already; the
    /// commit that refers to it next is fenced on the returned ticket.
    pub(crate) async fn store_manifest(&self, manifest: EncodedManifest) -> Result<Ticket, CoordError> {
        let key = manifest_key(&manifest.digest);
        // Journaled, so that no collection deletes it before the commit lands.
        let ticket = self.rely_on([Relied::Content(manifest.digest)]).await?;
        if self.blobs.head(&key).await? == Some(manifest.bytes.len() as u64) {
            return Ok(ticket);
        }
        self.blobs.put_bytes(&key, Bytes::from(manifest.bytes)).await?;
        Ok(ticket)
    }

    /// Streams the entries of the manifest `digest` in pages of at most `page` entries.
    /// The last item is an error if the stored bytes do not hash to `digest`.
    pub(crate) fn stream_manifest(
        &self,
        digest: Digest,
        page: usize,
    ) -> mpsc::Receiver<Result<Vec<Entry>, CoordError>> {
        let (tx, rx) = mpsc::channel(4);
        let blobs = self.blobs.clone();
        let key = manifest_key(&digest);
        tokio::spawn(async move {
            let result: Result<(), CoordError> = async {
                let mut chunks = blobs.get(&key, 0, None).await?;
                let mut decoder = ManifestDecoder::new();
                while let Some(chunk) = chunks.next().await {
                    let entries = decoder.feed(&chunk?)?;
                    for batch in entries.chunks(page) {
                        if tx.send(Ok(batch.to_vec())).await.is_err() {
                            return Ok(()); // the reader went away
                        }
                    }
                }
                decoder.finish(&digest)?;
                Ok(())
            }
            .await;
            if let Err(err) = result {
                let _ = tx.send(Err(err)).await;
            }
        });
        rx
    }

    /// Reads every entry of a manifest (used to start a draft from a base version).
    pub async fn read_manifest(&self, digest: Digest) -> Result<Vec<Entry>, CoordError> {
        let mut pages = self.stream_manifest(digest, 10_000);
        let mut entries = Vec::new();
        while let Some(page) = pages.recv().await {
            entries.extend(page?);
        }
        Ok(entries)
    }
}
