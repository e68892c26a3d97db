//! The staged entries of a draft and the rules for changing them: conflicts between
//! writers, replacing and removing, no-op retries.
//!
//! Changes are planned first (validated against the current index, nothing mutated) and
//! applied second, so a refused upsert leaves nothing behind and a planned change can be
//! persisted before it is applied. Replaying persisted changes in order rebuilds the index.

use std::collections::{BTreeMap, BTreeSet};

use crate::{ConflictPolicy, CoreError, Digest, Entry, EntryPath, PathTree};

/// One staged entry and who staged it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedEntry {
    /// The writer that staged it; `None` for entries inherited from the base version.
    pub writer: Option<String>,
    /// Content digest.
    pub sha256: Digest,
    /// Content size.
    pub size: u64,
}

/// One accepted change of one writer: what a single upsert persisted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StagedOp {
    /// The writer that made the change.
    pub writer: String,
    /// Entries added or replaced.
    pub puts: Vec<Entry>,
    /// Paths removed.
    pub removes: Vec<EntryPath>,
}

impl StagedOp {
    /// True when the change changes nothing.
    pub fn is_empty(&self) -> bool {
        self.puts.is_empty() && self.removes.is_empty()
    }
}

/// All entries of a draft, sorted by path.
#[derive(Debug, Clone, Default)]
pub struct StagedIndex {
    entries: BTreeMap<EntryPath, StagedEntry>,
    per_writer: BTreeMap<String, u64>,
    /// The entries' shape on a file system, so that an upsert adding `A.txt` next to
    /// `a.txt`, or `a/b` next to the file `a`, is refused when it is made (a check at
    /// finish would leave the draft sealed and stuck).
    tree: PathTree,
}

impl StagedIndex {
    /// An index starting from a base version's entries.
    pub fn from_base(base: impl IntoIterator<Item = Entry>) -> Self {
        let entries: BTreeMap<EntryPath, StagedEntry> =
            base.into_iter().map(|e| (e.path, StagedEntry { writer: None, sha256: e.sha256, size: e.size })).collect();
        let mut tree = PathTree::default();
        entries.keys().for_each(|path| tree.insert(path));
        Self { entries, per_writer: BTreeMap::new(), tree }
    }

    /// Number of entries the version would have now.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the draft has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries currently owned by `writer`.
    pub fn writer_entries(&self, writer: &str) -> u64 {
        self.per_writer.get(writer).copied().unwrap_or(0)
    }

    /// The staged entry at `path`.
    pub fn get(&self, path: &EntryPath) -> Option<&StagedEntry> {
        self.entries.get(path)
    }

    /// All entries in manifest order.
    pub fn entries(&self) -> impl Iterator<Item = Entry> + '_ {
        self.entries.iter().map(|(path, staged)| Entry { path: path.clone(), sha256: staged.sha256, size: staged.size })
    }

    /// Validates a writer's change against the index and returns the effective change:
    /// puts identical to what is staged are dropped, so retries are no-ops.
    pub fn plan(
        &self,
        writer: &str,
        puts: &[Entry],
        removes: &[EntryPath],
        policy: ConflictPolicy,
    ) -> Result<StagedOp, CoreError> {
        let mut seen = BTreeSet::new();
        for path in puts.iter().map(|e| &e.path).chain(removes) {
            if !seen.insert(path) {
                return Err(CoreError::DuplicatePath { path: path.to_string() });
            }
        }
        let may_replace = |existing: &StagedEntry| match &existing.writer {
            None => true,
            Some(owner) => owner == writer || policy == ConflictPolicy::LastWriterWins,
        };
        let mut op = StagedOp { writer: writer.to_owned(), puts: Vec::new(), removes: Vec::new() };
        for entry in puts {
            match self.entries.get(&entry.path) {
                Some(existing) if existing.sha256 == entry.sha256 && existing.size == entry.size => {}
                Some(existing) if !may_replace(existing) => {
                    return Err(conflict(&entry.path, existing, writer, entry.sha256.to_string()));
                }
                _ => op.puts.push(entry.clone()),
            }
        }
        let new = op.puts.iter().map(|e| &e.path).filter(|path| !self.entries.contains_key(*path));
        self.tree.check_change(new, removes)?;
        for path in removes {
            match self.entries.get(path) {
                None => return Err(CoreError::PathNotFound { path: path.to_string() }),
                Some(existing) if !may_replace(existing) => {
                    return Err(conflict(path, existing, writer, "(removal)".to_owned()));
                }
                Some(_) => op.removes.push(path.clone()),
            }
        }
        Ok(op)
    }

    /// Applies a planned (or replayed) change.
    pub fn apply(&mut self, op: &StagedOp) {
        for path in &op.removes {
            if let Some(old) = self.entries.remove(path) {
                self.forget_owner(old.writer.as_deref());
                self.tree.remove(path);
            }
        }
        for entry in &op.puts {
            self.tree.insert(&entry.path);
            let staged = StagedEntry { writer: Some(op.writer.clone()), sha256: entry.sha256, size: entry.size };
            if let Some(old) = self.entries.insert(entry.path.clone(), staged) {
                self.forget_owner(old.writer.as_deref());
            }
            *self.per_writer.entry(op.writer.clone()).or_default() += 1;
        }
    }

    fn forget_owner(&mut self, writer: Option<&str>) {
        if let Some(count) = writer.and_then(|w| self.per_writer.get_mut(w)) {
            *count -= 1;
        }
    }
}

fn conflict(path: &EntryPath, existing: &StagedEntry, writer: &str, sha256: String) -> CoreError {
    CoreError::PathConflict {
        path: path.to_string(),
        existing_writer: existing.writer.clone().unwrap_or_default(),
        existing_sha256: existing.sha256.to_string(),
        writer: writer.to_owned(),
        sha256,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, content: &str) -> Entry {
        Entry {
            path: EntryPath::parse(path).unwrap(),
            sha256: Digest::of(content.as_bytes()),
            size: content.len() as u64,
        }
    }

    fn path(p: &str) -> EntryPath {
        EntryPath::parse(p).unwrap()
    }

    #[test]
    fn identical_retry_plans_no_change() {
        let mut index = StagedIndex::default();
        let op = index.plan("w1", &[entry("a", "1")], &[], ConflictPolicy::Reject).unwrap();
        index.apply(&op);
        let retry = index.plan("w1", &[entry("a", "1")], &[], ConflictPolicy::Reject).unwrap();
        assert!(retry.is_empty());
        assert_eq!(index.writer_entries("w1"), 1);
    }

    #[test]
    fn other_writer_with_other_content_conflicts_and_names_both_sides() {
        let mut index = StagedIndex::default();
        index.apply(&index.plan("w1", &[entry("a", "1")], &[], ConflictPolicy::Reject).unwrap());
        let err = index.plan("w2", &[entry("a", "2")], &[], ConflictPolicy::Reject).unwrap_err();
        assert_eq!(err.reason(), "PATH_CONFLICT");
        let meta = err.metadata();
        assert!(meta.contains(&("existing_writer", "w1".to_owned())));
        assert!(meta.contains(&("writer", "w2".to_owned())));
        assert!(meta.contains(&("sha256", Digest::of(b"2").to_string())));
    }

    #[test]
    fn last_writer_wins_replaces_and_moves_ownership() {
        let mut index = StagedIndex::default();
        index.apply(&index.plan("w1", &[entry("a", "1")], &[], ConflictPolicy::Reject).unwrap());
        let op = index.plan("w2", &[entry("a", "2")], &[], ConflictPolicy::LastWriterWins).unwrap();
        index.apply(&op);
        assert_eq!(index.get(&path("a")).unwrap().sha256, Digest::of(b"2"));
        assert_eq!((index.writer_entries("w1"), index.writer_entries("w2")), (0, 1));
    }

    #[test]
    fn base_entries_can_be_replaced_and_removed_but_unknown_paths_cannot() {
        let mut index = StagedIndex::from_base([entry("keep", "k"), entry("old", "o"), entry("gone", "g")]);
        let op = index.plan("edit", &[entry("old", "new")], &[path("gone")], ConflictPolicy::Reject).unwrap();
        index.apply(&op);
        let names: Vec<String> = index.entries().map(|e| e.path.to_string()).collect();
        assert_eq!(names, ["keep", "old"]);
        let err = index.plan("edit", &[], &[path("nope")], ConflictPolicy::Reject).unwrap_err();
        assert_eq!(err.reason(), "PATH_NOT_FOUND");
    }

    #[test]
    fn paths_differing_only_in_case_are_refused_unless_the_other_one_goes() {
        let mut index = StagedIndex::from_base([entry("Data/Train.csv", "1")]);
        let err = index.plan("w", &[entry("data/train.CSV", "2")], &[], ConflictPolicy::Reject).unwrap_err();
        assert_eq!(err.reason(), "PATH_CASE_COLLISION");
        assert!(err.metadata().contains(&("existing_path", "Data/Train.csv".to_owned())));
        let err = index.plan("w", &[entry("x/A", "1"), entry("x/a", "2")], &[], ConflictPolicy::Reject).unwrap_err();
        assert_eq!(err.reason(), "PATH_CASE_COLLISION");
        // Renaming by case in one change (remove the old spelling, add the new) is allowed,
        // and the old spelling is then the one refused.
        let op = index
            .plan("w", &[entry("data/train.csv", "1")], &[path("Data/Train.csv")], ConflictPolicy::Reject)
            .unwrap();
        index.apply(&op);
        let err = index.plan("w", &[entry("Data/Train.csv", "1")], &[], ConflictPolicy::Reject).unwrap_err();
        assert_eq!(err.reason(), "PATH_CASE_COLLISION");
        // Replacing the content of a staged path under its own spelling is not a collision.
        assert!(index.plan("w", &[entry("data/train.csv", "3")], &[], ConflictPolicy::Reject).is_ok());
    }

    #[test]
    fn a_path_cannot_become_a_file_and_a_directory_across_writers() {
        let mut index = StagedIndex::default();
        index.apply(&index.plan("w1", &[entry("logs", "1")], &[], ConflictPolicy::Reject).unwrap());
        let err = index.plan("w2", &[entry("logs/run1.txt", "2")], &[], ConflictPolicy::Reject).unwrap_err();
        assert_eq!(err.reason(), "PATH_FILE_DIRECTORY_CONFLICT");
        assert!(err.metadata().contains(&("directory", "logs".to_owned())));
        index.apply(&index.plan("w1", &[entry("logs", "3")], &[], ConflictPolicy::Reject).unwrap());
        let err = index.plan("w2", &[entry("LOGS/run1.txt", "2")], &[], ConflictPolicy::Reject).unwrap_err();
        assert_eq!(err.reason(), "PATH_FILE_DIRECTORY_CONFLICT", "a replaced file is still one file");
        index.apply(&index.plan("w1", &[], &[path("logs")], ConflictPolicy::Reject).unwrap());
        assert!(index.plan("w2", &[entry("logs/run1.txt", "2")], &[], ConflictPolicy::Reject).is_ok());
    }

    #[test]
    fn duplicate_paths_in_one_request_are_refused() {
        let index = StagedIndex::default();
        let err = index.plan("w", &[entry("a", "1"), entry("a", "2")], &[], ConflictPolicy::Reject).unwrap_err();
        assert_eq!(err.reason(), "DUPLICATE_PATH");
        let err = index.plan("w", &[entry("a", "1")], &[path("a")], ConflictPolicy::Reject).unwrap_err();
        assert_eq!(err.reason(), "DUPLICATE_PATH");
    }
}
