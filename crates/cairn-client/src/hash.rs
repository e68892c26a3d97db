//! Hashing local files in parallel on every core, with bounded memory (one 1 MiB buffer
//! per thread whatever the file sizes).

use std::io::Read;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use cairn_core::{Digest, Entry, Sha256Hasher};

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

/// Digest and size of one file, read in 1 MiB blocks.
pub fn hash_file(path: &std::path::Path) -> Result<(Digest, u64), ClientError> {
    let mut file = std::fs::File::open(path).map_err(|e| ClientError::io(path, e))?;
    let mut hasher = Sha256Hasher::new();
    let mut buffer = vec![0u8; 1024 * 1024];
    loop {
        let n = file.read(&mut buffer).map_err(|e| ClientError::io(path, e))?;
        if n == 0 {
            let len = hasher.len();
            return Ok((hasher.finish(), len));
        }
        hasher.update(&buffer[..n]);
    }
}

/// Hashes every file on all cores; the result keeps the input order. The size recorded is
/// the number of bytes hashed, so a file that changed since it was listed stays consistent.
pub async fn hash_files(files: Vec<LocalFile>) -> Result<Vec<HashedFile>, ClientError> {
    tokio::task::spawn_blocking(move || hash_files_blocking(files))
        .await
        .map_err(|e| ClientError::Usage(format!("hashing thread failed: {e}")))?
}

/// Digest and size of one file, or why it could not be read.
type HashResult = Result<(Digest, u64), ClientError>;

fn hash_files_blocking(files: Vec<LocalFile>) -> Result<Vec<HashedFile>, ClientError> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).min(files.len().max(1));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<HashResult>>> = Mutex::new((0..files.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(file) = files.get(i) else { break };
                    let result = hash_file(&file.source);
                    let failed = result.is_err();
                    results.lock().expect("hash results lock")[i] = Some(result);
                    if failed {
                        next.store(files.len(), Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let results = results.into_inner().expect("hash results lock");
    files
        .into_iter()
        .zip(results)
        .filter_map(|(file, result)| result.map(|r| (file, r)))
        .map(|(mut file, result)| {
            let (sha256, size) = result?;
            file.size = size;
            Ok(HashedFile { file, sha256 })
        })
        .collect()
}
