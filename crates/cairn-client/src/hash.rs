//! Hashing local files in parallel on every core, with bounded memory (one 1 MiB buffer
//! per thread whatever the file sizes).

use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use cairn_core::{Digest, Entry, Sha256Hasher};

use crate::progress::{self, Phase, ProgressHandle};
use crate::stat_cache::{Fingerprint, StatCache, hashing_started};
use crate::{ClientError, LocalFile};

/// A local file with its digest.
#[derive(Debug, Clone)]
pub struct HashedFile {
    /// The file.
    pub file: LocalFile,
    /// Its content digest.
    pub sha256: Digest,
}

impl HashedFile {
    /// The manifest entry of this file.
    pub fn entry(&self) -> Entry {
        Entry { path: self.file.path.clone(), sha256: self.sha256, size: self.file.size }
    }
}

thread_local! {
    /// Each thread's read buffer, reused: zeroing a fresh 1 MiB per file was a sixth of
    /// the time of hashing many small files.
    static READ_BUFFER: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0u8; 1024 * 1024]);
}

/// Digest and size of one file, read in 1 MiB blocks.
pub fn hash_file(path: &std::path::Path) -> Result<(Digest, u64), ClientError> {
    let mut file = std::fs::File::open(path).map_err(|e| ClientError::io(path, e))?;
    let mut hasher = Sha256Hasher::new();
    READ_BUFFER.with_borrow_mut(|buffer| {
        loop {
            let n = file.read(buffer).map_err(|e| ClientError::io(path, e))?;
            if n == 0 {
                let len = hasher.len();
                return Ok((hasher.finish(), len));
            }
            hasher.update(&buffer[..n]);
        }
    })
}

/// What hashing did: how much was read, how much the stat cache saved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct HashStats {
    /// Files read and hashed.
    pub files_hashed: u64,
    /// Bytes read and hashed.
    pub bytes_hashed: u64,
    /// Files whose digest came from the stat cache without reading them.
    pub stat_cache_hits: u64,
}

/// Hashes every file on all cores, skipping files the stat cache knows unchanged; the
/// result keeps the input order. The size recorded is the number of bytes hashed.
/// Dropping the future (a cancelled call, Ctrl-C in the Python SDK) stops the hashing
/// threads after the files they are reading.
pub async fn hash_files(
    files: Vec<LocalFile>,
    cache: StatCache,
    progress: ProgressHandle,
) -> Result<(Vec<HashedFile>, HashStats), ClientError> {
    let cancelled = Arc::new(AtomicBool::new(false));
    let _cancel_on_drop = CancelOnDrop(cancelled.clone());
    tokio::task::spawn_blocking(move || hash_files_blocking(files, &cache, &progress, &cancelled))
        .await
        .map_err(|e| ClientError::Usage(format!("hashing thread failed: {e}")))?
}

/// Sets its flag when dropped.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Digest and size of one file, or why it could not be read.
type HashResult = Result<(Digest, u64), ClientError>;

fn hash_files_blocking(
    files: Vec<LocalFile>,
    cache: &StatCache,
    progress: &ProgressHandle,
    cancelled: &AtomicBool,
) -> Result<(Vec<HashedFile>, HashStats), ClientError> {
    let started = hashing_started();
    let mut stats = HashStats::default();
    let mut known: Vec<Option<(Digest, u64)>> = Vec::with_capacity(files.len());
    let mut to_hash = Vec::new();
    let mut absolute_dirs = AbsoluteDirs::default();
    for (i, file) in files.iter().enumerate() {
        let fingerprint = match file.fingerprint {
            Some(fingerprint) => fingerprint,
            None => Fingerprint::of(&std::fs::metadata(&file.source).map_err(|e| ClientError::io(&file.source, e))?),
        };
        let absolute = absolute_dirs.absolute(&file.source);
        match cache.lookup(&absolute, &fingerprint) {
            Some(digest) => {
                stats.stat_cache_hits += 1;
                known.push(Some((digest, fingerprint.size())));
            }
            None => {
                known.push(None);
                to_hash.push((i, absolute, fingerprint));
            }
        }
    }
    progress::begin(progress, Phase::Hashing, to_hash.iter().map(|(_, _, f)| f.size()).sum());
    let hashed = hash_in_parallel(&files, &to_hash, progress, cancelled);
    progress::end(progress);
    let mut to_record = Vec::new();
    for ((i, absolute, before), result) in to_hash.into_iter().zip(hashed) {
        let (digest, size) = result?;
        stats.files_hashed += 1;
        stats.bytes_hashed += size;
        // Only a file that did not change while it was read is worth remembering.
        let unchanged = std::fs::metadata(&files[i].source).is_ok_and(|m| Fingerprint::of(&m) == before);
        if unchanged && before.size() == size {
            to_record.push((absolute, before, started, digest));
        }
        known[i] = Some((digest, size));
    }
    cache.record(&to_record);
    let hashed_files = files
        .into_iter()
        .zip(known)
        .map(|(mut file, known)| {
            let (sha256, size) = known.expect("every file was looked up or hashed");
            file.size = size;
            HashedFile { file, sha256 }
        })
        .collect();
    Ok((hashed_files, stats))
}

/// Absolute paths for the stat cache, canonicalizing each directory once rather than each
/// file (canonicalizing reads every link on the way: it was a fifth of a re-log's time).
/// A file that is itself a symbolic link is keyed by the link's path; its fingerprint is
/// the target's (metadata follows links), so a changed target is still noticed.
#[derive(Default)]
struct AbsoluteDirs(std::collections::HashMap<std::path::PathBuf, Option<std::path::PathBuf>>);

impl AbsoluteDirs {
    fn absolute(&mut self, path: &std::path::Path) -> std::path::PathBuf {
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else { return path.to_path_buf() };
        let dir = self.0.entry(parent.to_path_buf()).or_insert_with(|| {
            let parent = if parent.as_os_str().is_empty() { std::path::Path::new(".") } else { parent };
            parent.canonicalize().ok()
        });
        match dir {
            Some(dir) => dir.join(name),
            None => path.to_path_buf(),
        }
    }
}

/// Hashes the listed files on all cores, in list order.
fn hash_in_parallel(
    files: &[LocalFile],
    list: &[(usize, std::path::PathBuf, Fingerprint)],
    progress: &ProgressHandle,
    cancelled: &AtomicBool,
) -> Vec<HashResult> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).min(list.len().max(1));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<HashResult>>> = Mutex::new((0..list.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                while !cancelled.load(Ordering::Relaxed) {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some((i, _, _)) = list.get(k) else { break };
                    let result = hash_file(&files[*i].source);
                    if let Ok((_, size)) = &result {
                        progress::advance(progress, *size);
                    }
                    results.lock().expect("hash results lock")[k] = Some(result);
                }
            });
        }
    });
    let cancelled_error = || ClientError::Usage("hashing was cancelled".into());
    results
        .into_inner()
        .expect("hash results lock")
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(cancelled_error())))
        .collect()
}
