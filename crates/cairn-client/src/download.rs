//! Downloading a version: every entry is streamed into a temporary file beside its final
//! name, hashed on the way, and renamed into place only when its sha256 verifies. Files
//! already present with the right content are not fetched again. With a content cache,
//! blobs are taken from it when their bytes hash right (never trusting size alone), and
//! stored into it after a verified download. Temporary files a killed download left are
//! removed by the next download into the same directories: each directory is read once
//! per download, so the cost stays linear in the number of files. Small files (up to
//! 1 MiB) are fetched many to a GetBlobs call and written on blocking threads, each
//! verified on its own; directories are created once per download.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use cairn_core::{Digest, Entry, Sha256Hasher};
use cairn_proto::v1::{GetBlobRequest, GetBlobsRequest};
use cairn_proto::{MAX_BATCHED_BLOB, MAX_BLOBS_PER_CALL};
use futures::{StreamExt, TryStreamExt, stream};
use tokio::io::AsyncWriteExt;

use crate::batching::group_by_size;
use crate::hash::hash_file;
use crate::{Client, ClientError};

/// Files (or batches of small files) downloaded at once.
const DOWNLOAD_CONCURRENCY: usize = 8;
/// Small files of one GetBlobs call written at once.
const WRITES_PER_BATCH: usize = 8;
/// Bytes of small files per GetBlobs call.
const BATCH_BYTES: u64 = 8 * 1024 * 1024;

/// The read grant of the version being downloaded (from GetManifest), sent with every
/// GetBlob/GetBlobs call; None when the server needs none.
pub(crate) type ReadGrant = Option<std::sync::Arc<str>>;

/// `message` as a request carrying `grant`.
fn with_grant<T>(message: T, grant: &ReadGrant) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(value) = grant.as_deref().and_then(|g| g.parse().ok()) {
        request.metadata_mut().insert(read_grant_header(), value);
    }
    request
}

fn read_grant_header() -> tonic::metadata::MetadataKey<tonic::metadata::Ascii> {
    tonic::metadata::MetadataKey::from_static(cairn_proto::READ_GRANT_HEADER)
}

/// What downloading one entry did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fetched {
    /// Bytes were downloaded.
    Downloaded(u64),
    /// The file was already there with the right content.
    AlreadyPresent,
    /// The blob came from the local content cache.
    FromCache,
}

impl Client {
    /// Downloads every entry into `dir`.
    pub(crate) async fn download_entries(
        &self,
        entries: Vec<Entry>,
        dir: &Path,
        grant: ReadGrant,
    ) -> Result<Vec<Fetched>, ClientError> {
        tokio::fs::create_dir_all(dir).await.map_err(|e| ClientError::io(dir, e))?;
        let parents: BTreeSet<PathBuf> =
            entries.iter().filter_map(|e| dir.join(e.path.as_str()).parent().map(Path::to_path_buf)).collect();
        refuse_links_on_the_way(dir, &parents)?;
        for parent in &parents {
            remove_stale_partials(parent).await;
        }
        let to_create: Vec<PathBuf> = parents.into_iter().collect();
        tokio::task::spawn_blocking(move || {
            to_create.iter().try_for_each(|p| std::fs::create_dir_all(p).map_err(|e| ClientError::io(p, e)))
        })
        .await
        .map_err(|e| ClientError::Usage(format!("directory thread failed: {e}")))??;
        crate::progress::begin(&self.progress, crate::Phase::Downloading, entries.iter().map(|e| e.size).sum());
        // Entries taken from a content cache go one by one (the cache is per blob).
        let batched = |e: &Entry| self.content_cache.is_none() && e.size <= MAX_BATCHED_BLOB;
        let (small, large): (Vec<Entry>, Vec<Entry>) = entries.into_iter().partition(batched);
        let small = group_by_size(small, |e| e.size, BATCH_BYTES, MAX_BLOBS_PER_CALL);
        let jobs = small.into_iter().map(Download::Batch).chain(large.into_iter().map(Download::One));
        let jobs = jobs.map(|job| {
            let client = self.clone();
            let dir = dir.to_path_buf();
            let grant = grant.clone();
            async move {
                match job {
                    Download::Batch(batch) => client.download_batch(batch, &dir, &grant).await,
                    Download::One(entry) => {
                        let target = dir.join(entry.path.as_str());
                        client.download_entry(entry, target, &grant).await.map(|fetched| vec![fetched])
                    }
                }
            }
        });
        let fetched: Result<Vec<Vec<Fetched>>, ClientError> =
            stream::iter(jobs).buffer_unordered(DOWNLOAD_CONCURRENCY).try_collect().await;
        crate::progress::end(&self.progress);
        Ok(fetched?.into_iter().flatten().collect())
    }

    /// Downloads small entries with one GetBlobs call: files already present are left
    /// alone, every blob is verified against its digest, then the files are written (each
    /// to a temporary name, fsynced and renamed) on a blocking thread.
    async fn download_batch(
        &self,
        batch: Vec<Entry>,
        dir: &Path,
        grant: &ReadGrant,
    ) -> Result<Vec<Fetched>, ClientError> {
        let targets: Vec<(Entry, PathBuf)> =
            batch.into_iter().map(|e| (e.clone(), dir.join(e.path.as_str()))).collect();
        let (present, wanted) = tokio::task::spawn_blocking(move || {
            let mut present = 0;
            let mut wanted = Vec::new();
            for (entry, target) in targets {
                if is_present_blocking(&target, &entry)? {
                    present += 1;
                } else {
                    wanted.push((entry, target));
                }
            }
            Ok::<_, ClientError>((present, wanted))
        })
        .await
        .map_err(|e| ClientError::Usage(format!("download thread failed: {e}")))??;
        let mut fetched = vec![Fetched::AlreadyPresent; present];
        if wanted.is_empty() {
            return Ok(fetched);
        }
        let digests: Vec<String> =
            wanted.iter().map(|(e, _)| e.sha256).collect::<BTreeSet<Digest>>().iter().map(Digest::to_string).collect();
        let request = GetBlobsRequest { sha256: digests };
        let blobs = self
            .storage_call(|mut storage| {
                let request = request.clone();
                async move {
                    let mut stream = storage.get_blobs(with_grant(request, grant)).await?.into_inner();
                    let mut blobs = std::collections::HashMap::new();
                    while let Some(message) = stream.message().await? {
                        if let Some(blob) = message.blob {
                            blobs.insert(blob.sha256, blob.content);
                        }
                    }
                    Ok(blobs)
                }
            })
            .await;
        let blobs = match blobs {
            Ok(blobs) => blobs,
            Err(err) if err.code() == Some(tonic::Code::Unimplemented) => {
                tracing::debug!("the storage service has no GetBlobs; fetching one file at a time");
                for (entry, target) in wanted {
                    fetched.push(self.download_entry(entry, target, grant).await?);
                }
                return Ok(fetched);
            }
            Err(err) => return Err(err),
        };
        let mut writes = Vec::with_capacity(wanted.len());
        for (entry, target) in wanted {
            let content = blobs.get(&entry.sha256.to_string()).ok_or(ClientError::Protocol("blob asked for"))?.clone();
            let actual = Digest::of(&content);
            if actual != entry.sha256 {
                return Err(ClientError::Verify {
                    path: entry.path.to_string(),
                    expected: entry.sha256.to_string(),
                    actual: actual.to_string(),
                });
            }
            writes.push((target, content));
        }
        // Several files at a time: each write ends in an fsync, and a disk commits
        // concurrent ones together.
        let written: Vec<u64> = stream::iter(writes)
            .map(|(target, content)| async move {
                tokio::task::spawn_blocking(move || write_file(&target, &content).map(|()| content.len() as u64))
                    .await
                    .map_err(|e| ClientError::Usage(format!("download thread failed: {e}")))?
            })
            .buffer_unordered(WRITES_PER_BATCH)
            .try_collect()
            .await?;
        crate::progress::advance(&self.progress, written.iter().sum());
        fetched.extend(written.into_iter().map(Fetched::Downloaded));
        Ok(fetched)
    }

    async fn download_entry(&self, entry: Entry, target: PathBuf, grant: &ReadGrant) -> Result<Fetched, ClientError> {
        if is_present(&target, &entry).await? {
            return Ok(Fetched::AlreadyPresent);
        }
        let parent = target.parent().expect("targets are under the download directory").to_path_buf();
        tokio::fs::create_dir_all(&parent).await.map_err(|e| ClientError::io(&parent, e))?;
        let file_name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let temp = parent.join(format!(".{file_name}.cairn-partial-{}", uuid::Uuid::new_v4().simple()));
        // Removed however this download ends: failed, or cancelled because another file of
        // the same download failed (nothing of a failed download is left in the directory).
        let guard = PartialFile(Some(temp.clone()));
        let from_cache = match self.cached_blob(&entry).await {
            Some(cached) => tokio::fs::copy(&cached, &temp).await.is_ok(),
            None => false,
        };
        let result = if from_cache { Ok(()) } else { self.fetch_into(&entry, &temp, grant).await };
        match result {
            Ok(()) => {
                if !from_cache {
                    self.store_in_cache(&entry, &temp).await;
                }
                tokio::fs::rename(&temp, &target).await.map_err(|e| ClientError::io(&target, e))?;
                guard.keep();
                Ok(if from_cache { Fetched::FromCache } else { Fetched::Downloaded(entry.size) })
            }
            Err(err) => Err(err),
        }
    }

    /// Streams the entry's blob into `temp` and verifies it; a worker that fails mid-way
    /// is replaced by another and the file is fetched again from the start.
    async fn fetch_into(&self, entry: &Entry, temp: &Path, grant: &ReadGrant) -> Result<(), ClientError> {
        self.storage_call(|mut storage| {
            let (entry, temp, progress) = (entry.clone(), temp.to_path_buf(), self.progress.clone());
            let grant = grant.clone();
            async move {
                let mut file = match tokio::fs::File::create(&temp).await {
                    Ok(file) => file,
                    Err(err) => return Ok(Err(ClientError::io(&temp, err))),
                };
                let request = GetBlobRequest { sha256: entry.sha256.to_string(), offset: 0, length: 0 };
                let mut chunks = storage.get_blob(with_grant(request, &grant)).await?.into_inner();
                let mut hasher = Sha256Hasher::new();
                while let Some(message) = chunks.next().await {
                    let chunk = message?.chunk;
                    crate::progress::advance(&progress, chunk.len() as u64);
                    hasher.update(&chunk);
                    if let Err(err) = file.write_all(&chunk).await {
                        return Ok(Err(ClientError::io(&temp, err)));
                    }
                }
                if let Err(err) = file.sync_all().await {
                    return Ok(Err(ClientError::io(&temp, err)));
                }
                let actual = hasher.finish();
                if actual != entry.sha256 {
                    return Ok(Err(ClientError::Verify {
                        path: entry.path.to_string(),
                        expected: entry.sha256.to_string(),
                        actual: actual.to_string(),
                    }));
                }
                Ok(Ok(()))
            }
        })
        .await?
    }
}

/// One download job: small entries for one GetBlobs call, or one larger entry.
enum Download {
    Batch(Vec<Entry>),
    One(Entry),
}

/// Writes verified bytes to `target` through a temporary file beside it (fsynced, then
/// renamed), so the target is either absent, as it was, or complete.
fn write_file(target: &Path, content: &[u8]) -> Result<(), ClientError> {
    use std::io::Write;
    let parent = target.parent().expect("targets are under the download directory");
    let file_name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temp = parent.join(format!(".{file_name}.cairn-partial-{}", uuid::Uuid::new_v4().simple()));
    let guard = PartialFile(Some(temp.clone()));
    let mut file = std::fs::File::create(&temp).map_err(|e| ClientError::io(&temp, e))?;
    file.write_all(content).and_then(|()| file.sync_all()).map_err(|e| ClientError::io(&temp, e))?;
    drop(file);
    std::fs::rename(&temp, target).map_err(|e| ClientError::io(target, e))?;
    guard.keep();
    Ok(())
}

/// A temporary download file, deleted when dropped unless it was renamed into place.
struct PartialFile(Option<PathBuf>);

impl PartialFile {
    fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for PartialFile {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Client {
    fn cache_path(&self, entry: &Entry) -> Option<PathBuf> {
        let hex = entry.sha256.to_string();
        self.content_cache.as_ref().map(|dir| dir.join("sha256").join(&hex[..2]).join(hex))
    }

    /// The cached copy of the entry's blob, if there is one whose bytes hash right; a
    /// corrupt one is deleted so the blob is fetched again.
    async fn cached_blob(&self, entry: &Entry) -> Option<PathBuf> {
        let path = self.cache_path(entry)?;
        if is_present(&path, entry).await.ok()? {
            return Some(path);
        }
        if tokio::fs::metadata(&path).await.is_ok() {
            tracing::warn!(path = %path.display(), "cached blob failed verification; fetching it again");
            let _ = tokio::fs::remove_file(&path).await;
        }
        None
    }

    /// Copies a verified download into the content cache (best effort).
    async fn store_in_cache(&self, entry: &Entry, verified: &Path) {
        let Some(path) = self.cache_path(entry) else { return };
        let Some(parent) = path.parent() else { return };
        let staging = parent.join(format!(".incoming-{}", uuid::Uuid::new_v4().simple()));
        let stored = async {
            tokio::fs::create_dir_all(parent).await?;
            tokio::fs::copy(verified, &staging).await?;
            tokio::fs::rename(&staging, &path).await
        }
        .await;
        if let Err(err) = stored {
            let _ = tokio::fs::remove_file(&staging).await;
            tracing::debug!(error = %err, "could not store a blob in the content cache");
        }
    }
}

/// Refuses to write through a symbolic link already in the output directory: an entry
/// path is checked to stay inside `dir`, but a link on the way would take it elsewhere.
/// Each directory on the way is looked at once.
fn refuse_links_on_the_way(dir: &Path, parents: &BTreeSet<PathBuf>) -> Result<(), ClientError> {
    let mut checked = BTreeSet::new();
    for parent in parents {
        let Ok(relative) = parent.strip_prefix(dir) else { continue };
        let mut on_the_way = dir.to_path_buf();
        for part in relative.components() {
            on_the_way.push(part);
            if !checked.insert(on_the_way.clone()) {
                continue;
            }
            match std::fs::symlink_metadata(&on_the_way) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    let refusal = std::io::Error::other("refusing to download through a symbolic link");
                    return Err(ClientError::io(on_the_way, refusal));
                }
                Ok(_) => {}
                Err(_) => break, // does not exist yet: nothing below it does either
            }
        }
    }
    Ok(())
}

/// Removes the `.NAME.cairn-partial-*` files a killed download left in `dir` (one read of
/// the directory; a directory that does not exist yet has none).
async fn remove_stale_partials(dir: &Path) {
    let Ok(mut entries) = tokio::fs::read_dir(dir).await else { return };
    while let Ok(Some(entry)) = entries.next_entry().await {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') && name.contains(".cairn-partial-") {
            let _ = tokio::fs::remove_file(entry.path()).await;
        }
    }
}

/// True when `target` already holds exactly the entry's content (checked by hash), on
/// the calling (blocking) thread.
fn is_present_blocking(target: &Path, entry: &Entry) -> Result<bool, ClientError> {
    match std::fs::metadata(target) {
        Ok(meta) if meta.is_file() && meta.len() == entry.size => Ok(hash_file(target)?.0 == entry.sha256),
        _ => Ok(false),
    }
}

/// True when `target` already holds exactly the entry's content (checked by hash).
async fn is_present(target: &Path, entry: &Entry) -> Result<bool, ClientError> {
    let (target, entry) = (target.to_path_buf(), entry.clone());
    tokio::task::spawn_blocking(move || is_present_blocking(&target, &entry))
        .await
        .map_err(|e| ClientError::Usage(format!("hashing thread failed: {e}")))?
}
