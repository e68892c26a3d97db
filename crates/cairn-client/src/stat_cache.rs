//! The stat cache: (path, size, mtime, ctime, inode, device) → sha256, so unchanged files
//! are not read again. An optimisation only — every way it can be wrong is closed:
//!
//! - any change to a file's content changes its ctime (which no user call can set back)
//!   and usually its mtime and size; a replaced file changes inode;
//! - a file changed in the same coarse clock tick as it was hashed could keep its ctime:
//!   entries are trusted only if the file's ctime is at least `RACY_WINDOW` older than
//!   the moment hashing started (git's "racily clean" rule);
//! - the cache is one `redb` file under `$CAIRN_CACHE_DIR` (default `~/.cache/cairn`);
//!   if another process holds it, this one simply runs without it.
//!
//! What it cannot see: a file whose content changes while ctime is forced back (changing
//! the system clock). `CAIRN_STAT_CACHE=off` turns the cache off.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cairn_core::Digest;
use redb::{Database, TableDefinition};

const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("stat_cache_v1");

/// How much older than the hashing start a file's last change must be to be trusted.
const RACY_WINDOW: Duration = Duration::from_millis(50);

/// What identifies a file's state without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    size: u64,
    mtime_ns: i64,
    ctime_ns: i64,
    inode: u64,
    device: u64,
}

impl Fingerprint {
    /// The fingerprint of `meta`.
    pub fn of(meta: &std::fs::Metadata) -> Self {
        Self {
            size: meta.len(),
            mtime_ns: meta.mtime().saturating_mul(1_000_000_000).saturating_add(meta.mtime_nsec()),
            ctime_ns: meta.ctime().saturating_mul(1_000_000_000).saturating_add(meta.ctime_nsec()),
            inode: meta.ino(),
            device: meta.dev(),
        }
    }

    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }
}

fn now_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(0)
}

fn encode(fingerprint: &Fingerprint, hashed_at_ns: i64, digest: &Digest) -> Vec<u8> {
    let mut out = Vec::with_capacity(80);
    for value in [
        fingerprint.size as i64,
        fingerprint.mtime_ns,
        fingerprint.ctime_ns,
        fingerprint.inode as i64,
        fingerprint.device as i64,
        hashed_at_ns,
    ] {
        out.extend_from_slice(&value.to_le_bytes());
    }
    out.extend_from_slice(digest.as_bytes());
    out
}

fn decode(raw: &[u8]) -> Option<(Fingerprint, i64, Digest)> {
    if raw.len() != 80 {
        return None;
    }
    let field = |i: usize| i64::from_le_bytes(raw[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
    let fingerprint = Fingerprint {
        size: field(0) as u64,
        mtime_ns: field(1),
        ctime_ns: field(2),
        inode: field(3) as u64,
        device: field(4) as u64,
    };
    let digest: [u8; 32] = raw[48..80].try_into().ok()?;
    Some((fingerprint, field(5), Digest::from_bytes(digest)))
}

/// A digest found in the cache, or what to record after hashing.
pub struct StatCache {
    db: Option<Database>,
}

/// The client's cache directory: `$CAIRN_CACHE_DIR`, else `$XDG_CACHE_HOME/cairn`, else
/// `~/.cache/cairn`.
pub fn default_cache_dir() -> Option<PathBuf> {
    std::env::var_os("CAIRN_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("cairn")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("cairn")))
}

impl StatCache {
    /// The user's cache, unless disabled by `CAIRN_STAT_CACHE=off` or held by another process.
    pub fn open_default() -> Self {
        if std::env::var("CAIRN_STAT_CACHE").is_ok_and(|v| v == "off" || v == "0") {
            return Self::disabled();
        }
        match default_cache_dir() {
            Some(dir) => Self::open(&dir.join("stat-cache.redb")),
            None => Self::disabled(),
        }
    }

    /// The cache in `path`; a cache that cannot be opened is disabled (with a debug log).
    pub fn open(path: &Path) -> Self {
        let opened = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .map_err(|e| e.to_string())
            .and_then(|()| Database::create(path).map_err(|e| e.to_string()));
        match opened {
            Ok(db) => Self { db: Some(db) },
            Err(err) => {
                tracing::debug!(path = %path.display(), error = %err, "stat cache unavailable; hashing every file");
                Self::disabled()
            }
        }
    }

    /// No cache: every file is hashed.
    pub fn disabled() -> Self {
        Self { db: None }
    }

    /// The cached digest of `path`, if its fingerprint is unchanged and not racy.
    pub fn lookup(&self, path: &Path, fingerprint: &Fingerprint) -> Option<Digest> {
        let db = self.db.as_ref()?;
        let key = path.as_os_str().as_encoded_bytes();
        let read = db.begin_read().ok()?;
        let table = read.open_table(TABLE).ok()?;
        let raw = table.get(key).ok()??;
        let (cached, hashed_at_ns, digest) = decode(raw.value())?;
        let settled = cached.ctime_ns < hashed_at_ns - RACY_WINDOW.as_nanos() as i64;
        (cached == *fingerprint && settled).then_some(digest)
    }

    /// Records digests computed from files whose fingerprints were taken before hashing
    /// started at `hashed_at` (ns since the epoch).
    pub fn record(&self, entries: &[(PathBuf, Fingerprint, i64, Digest)]) {
        let Some(db) = &self.db else { return };
        if entries.is_empty() {
            return;
        }
        let result = (|| -> Result<(), String> {
            let txn = db.begin_write().map_err(|e| e.to_string())?;
            {
                let mut table = txn.open_table(TABLE).map_err(|e| e.to_string())?;
                for (path, fingerprint, hashed_at_ns, digest) in entries {
                    let value = encode(fingerprint, *hashed_at_ns, digest);
                    table.insert(path.as_os_str().as_encoded_bytes(), value.as_slice()).map_err(|e| e.to_string())?;
                }
            }
            txn.commit().map_err(|e| e.to_string())
        })();
        if let Err(err) = result {
            tracing::debug!(error = %err, "could not update the stat cache");
        }
    }
}

/// The current time in ns, taken before a file is read.
pub(crate) fn hashing_started() -> i64 {
    now_ns()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fingerprint(path: &Path) -> Fingerprint {
        Fingerprint::of(&std::fs::metadata(path).unwrap())
    }

    #[test]
    fn an_unchanged_settled_file_hits_and_any_rewrite_misses_even_with_same_size_and_mtime() {
        let dir = tempfile::tempdir().unwrap();
        let cache = StatCache::open(&dir.path().join("cache.redb"));
        let file = dir.path().join("f");
        std::fs::write(&file, b"aaaa").unwrap();
        let original = std::fs::metadata(&file).unwrap().modified().unwrap();
        std::thread::sleep(RACY_WINDOW * 2);
        let before = fingerprint(&file);
        cache.record(&[(file.clone(), before, hashing_started(), Digest::of(b"aaaa"))]);
        assert_eq!(cache.lookup(&file, &fingerprint(&file)), Some(Digest::of(b"aaaa")));

        // Same size, mtime put back: ctime still moves, so the cache misses.
        std::fs::write(&file, b"bbbb").unwrap();
        std::fs::File::options().write(true).open(&file).unwrap().set_modified(original).unwrap();
        let after = fingerprint(&file);
        assert_eq!((after.size, after.mtime_ns), (before.size, before.mtime_ns));
        assert_eq!(cache.lookup(&file, &after), None);
    }

    #[test]
    fn a_file_changed_just_before_hashing_is_never_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let cache = StatCache::open(&dir.path().join("cache.redb"));
        let file = dir.path().join("f");
        std::fs::write(&file, b"fresh").unwrap();
        let fp = fingerprint(&file);
        cache.record(&[(file.clone(), fp, hashing_started(), Digest::of(b"fresh"))]);
        assert_eq!(cache.lookup(&file, &fp), None, "racily clean entries are re-hashed");
    }

    #[test]
    fn a_replaced_file_misses_through_its_inode() {
        let dir = tempfile::tempdir().unwrap();
        let cache = StatCache::open(&dir.path().join("cache.redb"));
        let file = dir.path().join("f");
        std::fs::write(&file, b"one").unwrap();
        std::thread::sleep(RACY_WINDOW * 2);
        cache.record(&[(file.clone(), fingerprint(&file), hashing_started(), Digest::of(b"one"))]);
        let replacement = dir.path().join("g");
        std::fs::write(&replacement, b"two").unwrap();
        std::fs::rename(&replacement, &file).unwrap();
        assert_eq!(cache.lookup(&file, &fingerprint(&file)), None);
    }

    #[test]
    fn a_cache_held_by_another_opener_is_simply_disabled() {
        let dir = tempfile::tempdir().unwrap();
        let first = StatCache::open(&dir.path().join("cache.redb"));
        let second = StatCache::open(&dir.path().join("cache.redb"));
        assert!(first.db.is_some());
        assert!(second.db.is_none());
    }
}
