//! Durability of what a rename makes visible. A rename is visible at once but durable only
//! once its directory is fsynced; a reader that relied on an object in between (a commit
//! referring to it) and then a crash would leave a committed version without its blob. So
//! an object renamed into place stays invisible to this process's readers until its
//! directory is fsynced, and a process that shares the directory without seeing those
//! writes (`open_shared`) fsyncs the directory of every object it finds before answering.
//! A directory created on the way is fsynced in its parent too.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

#[derive(Default)]
pub(super) struct Durability {
    /// Objects renamed into place whose directory entry may not be durable yet.
    pending: Mutex<HashSet<PathBuf>>,
    /// Readers fsync the directories of what they find (another process writes).
    shared: bool,
    /// Tests: runs after the renames and before the directory fsyncs.
    #[cfg(test)]
    pub(super) between_rename_and_fsync: Mutex<Option<Box<dyn FnMut() + Send>>>,
}

impl std::fmt::Debug for Durability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Durability").field("shared", &self.shared).finish_non_exhaustive()
    }
}

impl Durability {
    pub fn shared() -> Self {
        Self { shared: true, ..Self::default() }
    }

    /// True while `path` was renamed into place but its directory not yet fsynced.
    pub fn is_pending(&self, path: &Path) -> bool {
        self.pending.lock().expect("not poisoned").contains(path)
    }

    /// Renames each `(temporary, final)` pair into place and fsyncs every directory that
    /// received one, once; the objects become visible to readers of this process only
    /// then. Returns the first failure; temporary files of failed renames are removed.
    pub fn rename_into_place(&self, moves: Vec<(PathBuf, PathBuf)>) -> std::io::Result<()> {
        let targets: Vec<PathBuf> = moves.iter().map(|(_, target)| target.clone()).collect();
        self.pending.lock().expect("not poisoned").extend(targets.iter().cloned());
        let result = rename_and_sync(moves, || self.in_the_window());
        let mut pending = self.pending.lock().expect("not poisoned");
        for target in &targets {
            pending.remove(target);
        }
        result
    }

    #[cfg(test)]
    fn in_the_window(&self) {
        if let Some(hook) = self.between_rename_and_fsync.lock().expect("not poisoned").as_mut() {
            hook();
        }
    }

    #[cfg(not(test))]
    fn in_the_window(&self) {}

    /// Before a reader in a shared directory answers that `found` exist: their directory
    /// entries are made durable (the writer may not have fsynced them yet).
    pub fn before_answering(&self, found: &[&Path]) -> std::io::Result<()> {
        if !self.shared {
            return Ok(());
        }
        let dirs: BTreeSet<&Path> = found.iter().filter_map(|path| path.parent()).collect();
        dirs.into_iter().try_for_each(sync_dir)
    }
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Creates `dir` and any missing parents, fsyncing each new directory's parent so that
/// the new entry survives a crash.
pub(super) fn create_dir_all_synced(dir: &Path) -> std::io::Result<()> {
    let mut missing = Vec::new();
    let mut cursor = dir;
    while !cursor.is_dir() {
        missing.push(cursor.to_path_buf());
        cursor = match cursor.parent() {
            Some(parent) => parent,
            None => break,
        };
    }
    for new in missing.into_iter().rev() {
        match std::fs::create_dir(&new) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => continue, // another writer made it
            Err(err) => return Err(err),
        }
        if let Some(parent) = new.parent() {
            sync_dir(parent)?;
        }
    }
    Ok(())
}

/// Threads fsyncing the directories of one batch of renames.
const SYNC_THREADS: usize = 4;

fn rename_and_sync(moves: Vec<(PathBuf, PathBuf)>, renamed: impl FnOnce()) -> std::io::Result<()> {
    let mut dirs = BTreeSet::new();
    let mut failure = None;
    for (tmp, target) in moves {
        if failure.is_some() {
            let _ = std::fs::remove_file(&tmp);
            continue;
        }
        let parent = target.parent().expect("object paths have a parent").to_path_buf();
        let renamed = std::fs::rename(&tmp, &target).or_else(|err| {
            if err.kind() != std::io::ErrorKind::NotFound {
                return Err(err);
            }
            create_dir_all_synced(&parent)?;
            std::fs::rename(&tmp, &target)
        });
        match renamed {
            Ok(()) => {
                dirs.insert(parent);
            }
            Err(err) => {
                let _ = std::fs::remove_file(&tmp);
                failure = Some(err);
            }
        }
    }
    renamed();
    // The directories are fsynced from several threads (a disk commits concurrent
    // fsyncs together).
    let dirs: Vec<PathBuf> = dirs.into_iter().collect();
    let per_thread = dirs.len().div_ceil(SYNC_THREADS).max(1);
    std::thread::scope(|scope| {
        let syncs: Vec<_> = dirs
            .chunks(per_thread)
            .map(|chunk| scope.spawn(move || chunk.iter().try_for_each(|dir| sync_dir(dir))))
            .collect();
        syncs.into_iter().try_for_each(|sync| sync.join().unwrap_or_else(|_| Err(std::io::Error::other("panicked"))))
    })?;
    match failure {
        Some(err) => Err(err),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_parents_are_created() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("x/y/z");
        create_dir_all_synced(&deep).unwrap();
        assert!(deep.is_dir());
        create_dir_all_synced(&deep).unwrap();
    }
}
