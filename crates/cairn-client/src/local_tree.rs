//! Comparing a local directory with a version: `verify` says which files differ, are
//! missing or are extra; `checkout` makes the directory exactly the version (downloading
//! what differs, deleting what the version does not have), as wandb's `Artifact.verify`
//! and `Artifact.checkout` do.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::hash::hash_file;
use crate::{Client, ClientError, GetSummary};

/// How a directory differs from a version. Paths are entry paths (`/`-separated).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct TreeDifference {
    /// Entries of the version with no file in the directory.
    pub missing: Vec<String>,
    /// Files whose size or sha256 differs from the entry's.
    pub changed: Vec<String>,
    /// Files (and symbolic links) in the directory that the version does not have.
    pub extra: Vec<String>,
}

impl TreeDifference {
    /// True when the directory holds exactly the version's files.
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.changed.is_empty() && self.extra.is_empty()
    }
}

impl Client {
    /// Hashes every file under `dir` and compares the tree with the version `reference`.
    pub async fn verify_dir(&self, reference: &str, dir: &Path) -> Result<TreeDifference, ClientError> {
        let (_, entries) = self.manifest(reference).await?;
        let expected: BTreeMap<String, (String, u64)> =
            entries.into_iter().map(|e| (e.path, (e.sha256, e.size))).collect();
        let dir = dir.to_path_buf();
        tokio::task::spawn_blocking(move || compare(&dir, &expected))
            .await
            .map_err(|e| ClientError::Usage(format!("verification thread failed: {e}")))?
    }

    /// Makes `dir` hold exactly the version: downloads what is missing or different, then
    /// deletes files the version does not have (and directories left empty by that).
    pub async fn checkout(&self, reference: &str, dir: &Path) -> Result<GetSummary, ClientError> {
        let summary = self.get(reference, Some(dir.to_path_buf())).await?;
        let (_, entries) = self.manifest(reference).await?;
        let keep: BTreeMap<String, ()> = entries.into_iter().map(|e| (e.path, ())).collect();
        let dir = dir.to_path_buf();
        tokio::task::spawn_blocking(move || remove_extra(&dir, &dir, &keep))
            .await
            .map_err(|e| ClientError::Usage(format!("checkout thread failed: {e}")))??;
        Ok(summary)
    }
}

/// Every file and symbolic link under `dir`, as (entry path, local path, is a link).
/// Links are listed, never followed.
fn local_files(dir: &Path) -> Result<Vec<(String, PathBuf, bool)>, ClientError> {
    let mut out = Vec::new();
    let mut pending = vec![(dir.to_path_buf(), String::new())];
    while let Some((current, prefix)) = pending.pop() {
        for item in std::fs::read_dir(&current).map_err(|e| ClientError::io(&current, e))? {
            let item = item.map_err(|e| ClientError::io(&current, e))?;
            let kind = item.file_type().map_err(|e| ClientError::io(item.path(), e))?;
            let name = format!("{prefix}{}", item.file_name().to_string_lossy());
            if kind.is_dir() {
                pending.push((item.path(), format!("{name}/")));
            } else {
                out.push((name, item.path(), kind.is_symlink()));
            }
        }
    }
    Ok(out)
}

fn compare(dir: &Path, expected: &BTreeMap<String, (String, u64)>) -> Result<TreeDifference, ClientError> {
    let mut difference = TreeDifference::default();
    let mut seen = std::collections::BTreeSet::new();
    for (name, path, is_link) in local_files(dir)? {
        let Some((sha256, size)) = expected.get(&name) else {
            difference.extra.push(name);
            continue;
        };
        seen.insert(name.clone());
        let same = !is_link && {
            let (digest, actual) = hash_file(&path)?;
            actual == *size && digest.to_string() == *sha256
        };
        if !same {
            difference.changed.push(name);
        }
    }
    difference.missing = expected.keys().filter(|k| !seen.contains(*k)).cloned().collect();
    difference.extra.sort();
    difference.changed.sort();
    Ok(difference)
}

/// Deletes files under `current` that are not entries; returns whether `current` is empty now.
fn remove_extra(root: &Path, current: &Path, keep: &BTreeMap<String, ()>) -> Result<bool, ClientError> {
    let mut empty = true;
    for item in std::fs::read_dir(current).map_err(|e| ClientError::io(current, e))? {
        let item = item.map_err(|e| ClientError::io(current, e))?;
        let path = item.path();
        let kind = item.file_type().map_err(|e| ClientError::io(&path, e))?;
        if kind.is_dir() {
            if remove_extra(root, &path, keep)? {
                std::fs::remove_dir(&path).map_err(|e| ClientError::io(&path, e))?;
            } else {
                empty = false;
            }
            continue;
        }
        let relative = path.strip_prefix(root).expect("walked paths are under the root");
        let name: Vec<String> = relative.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
        if keep.contains_key(&name.join("/")) && !kind.is_symlink() {
            empty = false;
        } else {
            std::fs::remove_file(&path).map_err(|e| ClientError::io(&path, e))?;
        }
    }
    Ok(empty)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_changed_and_extra_files_are_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("same.txt"), b"same").unwrap();
        std::fs::write(dir.path().join("sub/changed.txt"), b"new").unwrap();
        std::fs::write(dir.path().join("sub/extra.txt"), b"extra").unwrap();
        let entry = |content: &[u8]| (cairn_core::Digest::of(content).to_string(), content.len() as u64);
        let expected: BTreeMap<String, (String, u64)> = [
            ("same.txt".to_owned(), entry(b"same")),
            ("sub/changed.txt".to_owned(), entry(b"old")),
            ("gone.txt".to_owned(), entry(b"gone")),
        ]
        .into();
        let difference = compare(dir.path(), &expected).unwrap();
        assert_eq!(difference.missing, ["gone.txt"]);
        assert_eq!(difference.changed, ["sub/changed.txt"]);
        assert_eq!(difference.extra, ["sub/extra.txt"]);
        assert!(!difference.is_empty());
    }

    #[test]
    fn checkout_cleanup_keeps_entries_and_removes_the_rest_with_emptied_directories() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("keep")).unwrap();
        std::fs::create_dir_all(dir.path().join("drop/deeper")).unwrap();
        std::fs::write(dir.path().join("keep/a.txt"), b"a").unwrap();
        std::fs::write(dir.path().join("keep/b.txt"), b"b").unwrap();
        std::fs::write(dir.path().join("drop/deeper/c.txt"), b"c").unwrap();
        let keep: BTreeMap<String, ()> = [("keep/a.txt".to_owned(), ())].into();
        remove_extra(dir.path(), dir.path(), &keep).unwrap();
        assert!(dir.path().join("keep/a.txt").is_file());
        assert!(!dir.path().join("keep/b.txt").exists());
        assert!(!dir.path().join("drop").exists(), "emptied directories go too");
    }
}
