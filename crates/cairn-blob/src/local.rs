//! The local-file BlobStore: objects are files under `<root>/objects/<key>`. A write goes
//! to `<root>/tmp/<random>`, is fsynced, then renamed to its key and the directory fsynced,
//! so an object is either absent or complete, even across a crash. Leftover temp files
//! of a crashed process are removed when the store opens. Resumable uploads write to
//! `<root>/uploads/<key>` instead, which survives restarts; `persist` fsyncs it, and
//! `commit` renames it into place like any write.

mod durable;

use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use futures::stream;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::{BlobError, BlobStore, BlobWriter, ByteStream, CHUNK_SIZE, trash_key, validate_key};
use durable::{Durability, create_dir_all_synced};

/// Blobs as local files.
#[derive(Debug, Clone)]
pub struct LocalFileStore {
    objects: PathBuf,
    tmp: PathBuf,
    uploads: PathBuf,
    durability: Arc<Durability>,
}

/// Part size of resumable uploads.
const PART_SIZE: u64 = 8 * 1024 * 1024;

/// Free space kept out of reach of a single blob.
const FREE_SPACE_MARGIN: u64 = 64 * 1024 * 1024;

impl LocalFileStore {
    /// Opens (or creates) the store under `root`, discarding unfinished writes of crashed
    /// processes. Only the process that owns the directory's uploads may do this.
    pub fn open(root: &Path) -> Result<Self, BlobError> {
        let tmp = root.join("tmp");
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp)?;
        }
        Self::open_with(root, Durability::default())
    }

    /// Opens the store without touching unfinished writes, for a second process (a
    /// coordinator beside a worker) sharing the directory.
    pub fn open_shared(root: &Path) -> Result<Self, BlobError> {
        Self::open_with(root, Durability::shared())
    }

    fn open_with(root: &Path, durability: Durability) -> Result<Self, BlobError> {
        let objects = root.join("objects");
        let tmp = root.join("tmp");
        let uploads = root.join("uploads");
        create_dir_all_synced(&objects)?;
        create_dir_all_synced(&tmp)?;
        create_dir_all_synced(&uploads)?;
        Ok(Self { objects, tmp, uploads, durability: Arc::new(durability) })
    }

    /// Where the unfinished resumable upload of `key` lives.
    fn partial_path(&self, key: &str) -> PathBuf {
        self.uploads.join(key.replace('/', "%"))
    }

    fn path_of(&self, key: &str) -> Result<PathBuf, BlobError> {
        validate_key(key)?;
        Ok(self.objects.join(key))
    }
}

struct LocalWriter {
    file: Option<std::fs::File>,
    tmp_path: PathBuf,
    final_path: PathBuf,
    durability: Arc<Durability>,
    /// A resumable writer keeps its file when dropped or suspended.
    resumable: bool,
}

#[async_trait]
impl BlobWriter for LocalWriter {
    async fn write(&mut self, chunk: Bytes) -> Result<(), BlobError> {
        // The chunk moves to a blocking thread and is written from there, without a copy.
        let mut file = self.file.take().ok_or_else(|| BlobError::Io("writer already closed".into()))?;
        let (file, result) = tokio::task::spawn_blocking(move || {
            let result = std::io::Write::write_all(&mut file, &chunk);
            (file, result)
        })
        .await
        .map_err(|e| BlobError::Io(e.to_string()))?;
        self.file = Some(file);
        Ok(result?)
    }

    async fn commit(mut self: Box<Self>) -> Result<(), BlobError> {
        let file = self.file.take().ok_or_else(|| BlobError::Io("writer already closed".into()))?;
        let (tmp_path, final_path) = (self.tmp_path.clone(), self.final_path.clone());
        let durability = self.durability.clone();
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            file.sync_all()?;
            drop(file);
            durability.rename_into_place(vec![(tmp_path, final_path)])
        })
        .await
        .map_err(|e| BlobError::Io(e.to_string()))??;
        Ok(())
    }

    async fn abort(mut self: Box<Self>) -> Result<(), BlobError> {
        self.file.take();
        match tokio::fs::remove_file(&self.tmp_path).await {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err.into()),
            _ => Ok(()),
        }
    }

    async fn persist(&mut self) -> Result<Option<String>, BlobError> {
        let file = self.file.take().ok_or_else(|| BlobError::Io("writer already closed".into()))?;
        let (file, result) = tokio::task::spawn_blocking(move || {
            let result = file.sync_data();
            (file, result)
        })
        .await
        .map_err(|e| BlobError::Io(e.to_string()))?;
        self.file = Some(file);
        result?;
        Ok(None)
    }

    async fn suspend(mut self: Box<Self>) -> Result<(), BlobError> {
        if !self.resumable {
            return self.abort().await;
        }
        self.persist().await?;
        self.file.take();
        Ok(())
    }
}

impl Drop for LocalWriter {
    fn drop(&mut self) {
        if self.file.take().is_some() && !self.resumable {
            let _ = std::fs::remove_file(&self.tmp_path);
        }
    }
}

/// Threads writing one [`BlobStore::put_many`] call's objects.
const PUT_MANY_THREADS: usize = 4;

/// Writes each object to its temporary file and fsyncs it; returns (final, temporary)
/// paths, and on failure also the ones written so far, for the caller to remove.
#[allow(clippy::type_complexity)]
fn write_synced(
    group: Vec<(PathBuf, PathBuf, Bytes)>,
) -> Result<Vec<(PathBuf, PathBuf)>, (Vec<(PathBuf, PathBuf)>, BlobError)> {
    let mut done = Vec::with_capacity(group.len());
    for (target, tmp, data) in group {
        let written = std::fs::File::create(&tmp).and_then(|mut file| {
            std::io::Write::write_all(&mut file, &data)?;
            file.sync_all()
        });
        done.push((target, tmp));
        if let Err(err) = written {
            return Err((done, err.into()));
        }
    }
    Ok(done)
}

impl LocalFileStore {
    /// Makes `to` a second name of the file at `from` (a hard link: no bytes copied),
    /// replacing what `to` named, durably; `dated_now` sets its time to now (a trashed
    /// object is purged by how long ago it was trashed). `None` when `from` is absent.
    async fn link_durably(&self, from: PathBuf, to: PathBuf, dated_now: bool) -> Result<Option<u64>, BlobError> {
        let tmp = self.tmp.join(uuid::Uuid::new_v4().to_string());
        let durability = self.durability.clone();
        tokio::task::spawn_blocking(move || -> Result<Option<u64>, BlobError> {
            let size = match stat_size(&from)? {
                Some(size) if !durability.is_pending(&from) => size,
                _ => return Ok(None),
            };
            match std::fs::hard_link(&from, &tmp) {
                Ok(()) => {}
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(err) => return Err(err.into()),
            }
            if dated_now {
                std::fs::File::open(&tmp)?.set_modified(std::time::SystemTime::now())?;
            }
            durability.rename_into_place(vec![(tmp, to)])?;
            Ok(Some(size))
        })
        .await
        .map_err(|e| BlobError::Io(e.to_string()))?
    }
}

/// The size of the file at `path`, `None` when there is none.
fn stat_size(path: &Path) -> Result<Option<u64>, BlobError> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => Ok(Some(meta.len())),
        Ok(_) => Ok(None),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err.into()),
    }
}

#[async_trait]
impl BlobStore for LocalFileStore {
    async fn begin_put(&self, key: &str) -> Result<Box<dyn BlobWriter>, BlobError> {
        let final_path = self.path_of(key)?;
        let tmp_path = self.tmp.join(uuid::Uuid::new_v4().to_string());
        let file = std::fs::File::create(&tmp_path)?;
        let durability = self.durability.clone();
        Ok(Box::new(LocalWriter { file: Some(file), tmp_path, final_path, durability, resumable: false }))
    }

    async fn resume_put(
        &self,
        key: &str,
        offset: u64,
        _token: Option<&str>,
        _part_size: u64,
    ) -> Result<Box<dyn BlobWriter>, BlobError> {
        let final_path = self.path_of(key)?;
        let partial = self.partial_path(key);
        let file = tokio::task::spawn_blocking(move || -> Result<(std::fs::File, PathBuf), BlobError> {
            let file = if offset == 0 {
                std::fs::File::create(&partial)?
            } else {
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&partial)
                    .map_err(|_| BlobError::ResumeMismatch { requested: offset, available: 0 })?;
                let available = file.metadata()?.len();
                if available < offset {
                    return Err(BlobError::ResumeMismatch { requested: offset, available });
                }
                // Bytes past the last persisted part are dropped and sent again.
                file.set_len(offset)?;
                file
            };
            let mut file = file;
            std::io::Seek::seek(&mut file, SeekFrom::End(0))?;
            Ok((file, partial))
        })
        .await
        .map_err(|e| BlobError::Io(e.to_string()))??;
        let (file, tmp_path) = file;
        let durability = self.durability.clone();
        Ok(Box::new(LocalWriter { file: Some(file), tmp_path, final_path, durability, resumable: true }))
    }

    async fn discard_upload(&self, key: &str, _token: Option<&str>) -> Result<(), BlobError> {
        match tokio::fs::remove_file(self.partial_path(key)).await {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err.into()),
            _ => Ok(()),
        }
    }

    fn part_size(&self) -> u64 {
        PART_SIZE
    }

    fn part_size_for(&self, blob_size: u64) -> Result<u64, BlobError> {
        // Refused at once rather than after filling the disk: the free space now, less a
        // margin for the store's own files.
        let stats = rustix::fs::statvfs(&self.uploads).map_err(|e| BlobError::Io(format!("statvfs: {e}")))?;
        let available = stats.f_bavail.saturating_mul(stats.f_frsize).saturating_sub(FREE_SPACE_MARGIN);
        if blob_size > available {
            return Err(BlobError::InsufficientStorage { size: blob_size, available });
        }
        Ok(PART_SIZE)
    }

    async fn get(&self, key: &str, offset: u64, length: Option<u64>) -> Result<ByteStream, BlobError> {
        let path = self.path_of(key)?;
        if self.durability.is_pending(&path) {
            return Err(BlobError::NotFound(key.to_owned()));
        }
        let mut file = match tokio::fs::File::open(&path).await {
            Ok(file) => file,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Err(BlobError::NotFound(key.to_owned())),
            Err(err) => return Err(err.into()),
        };
        let size = file.metadata().await?.len();
        if offset > size {
            return Err(BlobError::InvalidRange { key: key.to_owned(), offset, size });
        }
        file.seek(SeekFrom::Start(offset)).await?;
        let remaining = length.map_or(size - offset, |len| len.min(size - offset));
        let chunks = stream::try_unfold((file, remaining), |(mut file, remaining)| async move {
            if remaining == 0 {
                return Ok(None);
            }
            let want = remaining.min(CHUNK_SIZE as u64) as usize;
            let mut buf = BytesMut::zeroed(want);
            let mut filled = 0;
            while filled < want {
                let n = file.read(&mut buf[filled..]).await?;
                if n == 0 {
                    return Err(BlobError::Io("object shrank while being read".into()));
                }
                filled += n;
            }
            Ok(Some((buf.freeze(), (file, remaining - want as u64))))
        });
        Ok(chunks.boxed())
    }

    async fn head(&self, key: &str) -> Result<Option<u64>, BlobError> {
        Ok(self.head_many(vec![key.to_owned()]).await?.pop().flatten())
    }

    async fn put_many(&self, objects: Vec<(String, Bytes)>) -> Result<(), BlobError> {
        let mut targets = Vec::with_capacity(objects.len());
        for (key, data) in objects {
            targets.push((self.path_of(&key)?, self.tmp.join(uuid::Uuid::new_v4().to_string()), data));
        }
        // Written and fsynced from several threads (a disk commits concurrent fsyncs
        // together); then renamed into place, and each directory fsynced once.
        let threads = PUT_MANY_THREADS.min(targets.len()).max(1);
        let per_thread = targets.len().div_ceil(threads).max(1);
        let mut groups: Vec<Vec<(PathBuf, PathBuf, Bytes)>> = Vec::new();
        let mut rest = targets.into_iter();
        loop {
            let group: Vec<_> = rest.by_ref().take(per_thread).collect();
            if group.is_empty() {
                break;
            }
            groups.push(group);
        }
        let writes: Vec<_> =
            groups.into_iter().map(|group| tokio::task::spawn_blocking(move || write_synced(group))).collect();
        let mut written = Vec::new();
        let mut failure = None;
        for write in writes {
            match write.await.map_err(|e| BlobError::Io(e.to_string()))? {
                Ok(group) => written.extend(group),
                Err((group, err)) => {
                    written.extend(group);
                    failure = Some(err);
                }
            }
        }
        if let Some(err) = failure {
            for (_, tmp) in written {
                let _ = std::fs::remove_file(tmp);
            }
            return Err(err);
        }
        let durability = self.durability.clone();
        let moves = written.into_iter().map(|(target, tmp)| (tmp, target)).collect();
        tokio::task::spawn_blocking(move || durability.rename_into_place(moves))
            .await
            .map_err(|e| BlobError::Io(e.to_string()))??;
        Ok(())
    }

    async fn head_many(&self, keys: Vec<String>) -> Result<Vec<Option<u64>>, BlobError> {
        let paths = keys.iter().map(|key| self.path_of(key)).collect::<Result<Vec<PathBuf>, BlobError>>()?;
        // Split in two so both cores stat at once (cold entries wait on the disk).
        let half = paths.len().div_ceil(2).max(1);
        let tasks: Vec<_> = paths
            .chunks(half)
            .map(|chunk| {
                let chunk = chunk.to_vec();
                tokio::task::spawn_blocking(move || chunk.iter().map(|path| stat_size(path)).collect::<Vec<_>>())
            })
            .collect();
        let mut sizes = Vec::with_capacity(keys.len());
        for task in tasks {
            for size in task.await.map_err(|e| BlobError::Io(e.to_string()))? {
                sizes.push(size?);
            }
        }
        for (size, path) in sizes.iter_mut().zip(&paths) {
            if size.is_some() && self.durability.is_pending(path) {
                *size = None;
            }
        }
        let found: Vec<PathBuf> =
            sizes.iter().zip(&paths).filter(|(s, _)| s.is_some()).map(|(_, p)| p.clone()).collect();
        let durability = self.durability.clone();
        tokio::task::spawn_blocking(move || {
            durability.before_answering(&found.iter().map(PathBuf::as_path).collect::<Vec<_>>())
        })
        .await
        .map_err(|e| BlobError::Io(e.to_string()))??;
        Ok(sizes)
    }

    async fn copy_into_trash(&self, key: &str) -> Result<Option<u64>, BlobError> {
        let (live, trashed) = (self.path_of(key)?, self.path_of(&trash_key(key))?);
        self.link_durably(live, trashed, true).await
    }

    async fn restore_from_trash(&self, key: &str) -> Result<bool, BlobError> {
        let (trashed, live) = (self.path_of(&trash_key(key))?, self.path_of(key)?);
        Ok(self.link_durably(trashed, live, false).await?.is_some())
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        match tokio::fs::remove_file(self.path_of(key)?).await {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err.into()),
            _ => Ok(()),
        }
    }

    async fn list_info(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<crate::ObjectInfo>, BlobError> {
        let keys = self.list(prefix, start_after, limit).await?;
        let objects = self.objects.clone();
        tokio::task::spawn_blocking(move || {
            let mut out = Vec::with_capacity(keys.len());
            for key in keys {
                // A key deleted since it was listed is simply not reported.
                if let Ok(meta) = std::fs::metadata(objects.join(&key)) {
                    out.push(crate::ObjectInfo { key, size: meta.len(), modified_ms: modified_ms(&meta) });
                }
            }
            Ok(out)
        })
        .await
        .map_err(|e| BlobError::Io(e.to_string()))?
    }

    async fn list_incomplete_uploads(
        &self,
        prefix: &str,
        limit: usize,
    ) -> Result<Option<Vec<crate::IncompleteUpload>>, BlobError> {
        let uploads = self.uploads.clone();
        let prefix = prefix.to_owned();
        tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            for entry in std::fs::read_dir(&uploads)?.flatten() {
                let key = entry.file_name().to_string_lossy().replace('%', "/");
                // A file removed since it was listed is simply not reported.
                if let (true, Ok(meta)) = (key.starts_with(&prefix), entry.metadata()) {
                    out.push(crate::IncompleteUpload {
                        key,
                        upload_id: String::new(),
                        initiated_ms: modified_ms(&meta),
                    });
                }
            }
            out.sort_by(|a, b| a.key.cmp(&b.key));
            out.truncate(limit);
            Ok(Some(out))
        })
        .await
        .map_err(|e| BlobError::Io(e.to_string()))?
    }

    async fn abort_incomplete_upload(&self, upload: &crate::IncompleteUpload) -> Result<(), BlobError> {
        self.discard_upload(&upload.key, None).await
    }

    async fn list(&self, prefix: &str, start_after: Option<&str>, limit: usize) -> Result<Vec<String>, BlobError> {
        let objects = self.objects.clone();
        let prefix = prefix.to_owned();
        let start_after = start_after.map(str::to_owned);
        tokio::task::spawn_blocking(move || {
            // Walk only the deepest directory the prefix names completely.
            let dir_part = prefix.rsplit_once('/').map_or("", |(dir, _)| dir);
            let mut keys = Vec::new();
            let start = if dir_part.is_empty() { objects.clone() } else { objects.join(dir_part) };
            walk(&objects, &start, &mut keys)?;
            keys.retain(|k| k.starts_with(&prefix) && start_after.as_ref().is_none_or(|after| k > after));
            keys.sort();
            keys.truncate(limit);
            Ok(keys)
        })
        .await
        .map_err(|e| BlobError::Io(e.to_string()))?
    }
}

fn modified_ms(meta: &std::fs::Metadata) -> u64 {
    meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_millis() as u64)
}

fn walk(root: &Path, dir: &Path, keys: &mut Vec<String>) -> Result<(), BlobError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(err.into()),
    };
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            walk(root, &path, keys)?;
        } else if let Ok(relative) = path.strip_prefix(root) {
            keys.push(relative.to_string_lossy().replace(std::path::MAIN_SEPARATOR, "/"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, mpsc};

    use super::*;
    use crate::BlobStoreExt;

    /// An object renamed into place is on disk before its directory is fsynced, but no
    /// reader of this store sees it until the directory is: a reader that relied on it
    /// and then a crash would otherwise leave a version without its blob.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_object_is_invisible_until_its_directory_entry_is_durable() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalFileStore::open(dir.path()).unwrap();
        let (in_window, window_seen) = mpsc::channel::<()>();
        let (go_on, wait) = mpsc::channel::<()>();
        let wait = std::sync::Mutex::new(wait);
        *store.durability.between_rename_and_fsync.lock().unwrap() = Some(Box::new(move || {
            in_window.send(()).unwrap();
            wait.lock().unwrap().recv().unwrap();
        }));
        let key = "blobs/sha256/ab/abcdef";
        let writer = Arc::new(store.clone());
        let put = tokio::spawn(async move { writer.put_bytes(key, Bytes::from_static(b"payload")).await });
        tokio::task::spawn_blocking(move || window_seen.recv().unwrap()).await.unwrap();
        assert!(dir.path().join("objects").join(key).exists(), "renamed into place");
        assert_eq!(store.head(key).await.unwrap(), None, "but not visible");
        assert!(matches!(store.get(key, 0, None).await, Err(BlobError::NotFound(_))));
        assert_eq!(store.copy_into_trash(key).await.unwrap(), None, "nor trashable");
        go_on.send(()).unwrap();
        put.await.unwrap().unwrap();
        assert_eq!(store.head(key).await.unwrap(), Some(7));
    }
}
