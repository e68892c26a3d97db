//! The shape a version's paths make on a file system, so that versions no client can check
//! out are refused when they are made: two paths that differ only in case (`Data/a.csv`,
//! `data/A.csv`: one file on macOS and Windows), and a path that is a file in one entry and
//! a directory in another (`a` and `a/b`: on every system). Paths are compared
//! case-folded (Unicode lowercase).

use std::collections::{HashMap, HashSet};

use crate::{CoreError, EntryPath};

/// Case-folded files and directories of a set of entry paths.
#[derive(Debug, Clone, Default)]
pub struct PathTree {
    /// Folded file path → its spelling.
    files: HashMap<String, EntryPath>,
    /// Folded directory path → how many files are under it.
    dirs: HashMap<String, u64>,
}

/// The folded directories above a folded path, outermost first (`a/b/c` → `a`, `a/b`).
fn ancestors(folded: &str) -> impl Iterator<Item = &str> {
    folded.match_indices('/').map(move |(at, _)| &folded[..at])
}

impl PathTree {
    /// Adds a file (no check: see [`PathTree::check_change`]); adding one already there
    /// changes nothing.
    pub fn insert(&mut self, path: &EntryPath) {
        let folded = path.case_folded();
        if self.files.contains_key(&folded) {
            return;
        }
        for dir in ancestors(&folded) {
            *self.dirs.entry(dir.to_owned()).or_default() += 1;
        }
        self.files.insert(folded, path.clone());
    }

    /// Removes a file.
    pub fn remove(&mut self, path: &EntryPath) {
        let folded = path.case_folded();
        if self.files.get(&folded) != Some(path) {
            return;
        }
        for dir in ancestors(&folded) {
            if let Some(count) = self.dirs.get_mut(dir) {
                *count -= 1;
                if *count == 0 {
                    self.dirs.remove(dir);
                }
            }
        }
        self.files.remove(&folded);
    }

    /// Refuses a change (files added or replaced, files removed) after which two paths
    /// would differ only in case, or one path would be both a file and a directory.
    pub fn check_change<'a>(
        &self,
        puts: impl IntoIterator<Item = &'a EntryPath>,
        removes: &[EntryPath],
    ) -> Result<(), CoreError> {
        let removed: HashSet<String> = removes.iter().map(EntryPath::case_folded).collect();
        let mut removed_under: HashMap<String, u64> = HashMap::new();
        for folded in &removed {
            for dir in ancestors(folded) {
                *removed_under.entry(dir.to_owned()).or_default() += 1;
            }
        }
        let mut added = PathTree::default();
        for path in puts {
            self.check_against(path, &removed, &removed_under)?;
            added.check_against(path, &HashSet::new(), &HashMap::new())?;
            added.insert(path);
        }
        Ok(())
    }

    fn check_against(
        &self,
        path: &EntryPath,
        removed: &HashSet<String>,
        removed_under: &HashMap<String, u64>,
    ) -> Result<(), CoreError> {
        let folded = path.case_folded();
        if let Some(existing) = self.files.get(&folded)
            && existing != path
            && !removed.contains(&folded)
        {
            return Err(CoreError::CaseCollision { path: path.to_string(), existing_path: existing.to_string() });
        }
        let under = self.dirs.get(&folded).copied().unwrap_or(0);
        if under > removed_under.get(&folded).copied().unwrap_or(0) {
            return Err(CoreError::FileDirectoryConflict { path: path.to_string(), directory: path.to_string() });
        }
        for dir in ancestors(&folded) {
            if let Some(file) = self.files.get(dir)
                && !removed.contains(dir)
            {
                return Err(CoreError::FileDirectoryConflict { path: path.to_string(), directory: file.to_string() });
            }
        }
        Ok(())
    }
}

/// Refuses a set of paths (in any order) that no file system can hold as one tree.
pub fn check_tree<'a>(paths: impl IntoIterator<Item = &'a EntryPath>) -> Result<(), CoreError> {
    PathTree::default().check_change(paths, &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> EntryPath {
        EntryPath::parse(text).unwrap()
    }

    fn reason(paths: &[&str]) -> Option<&'static str> {
        let paths: Vec<EntryPath> = paths.iter().map(|t| p(t)).collect();
        check_tree(&paths).err().map(|e| e.reason())
    }

    #[test]
    fn trees_no_file_system_can_hold_are_refused() {
        assert_eq!(reason(&["a/b.txt", "a/c.txt", "d"]), None);
        assert_eq!(reason(&["Data/x", "data/y"]), None, "directories differing in case merge; no file is lost");
        assert_eq!(reason(&["README", "readme"]), Some("PATH_CASE_COLLISION"));
        assert_eq!(reason(&["a", "a/b"]), Some("PATH_FILE_DIRECTORY_CONFLICT"));
        assert_eq!(reason(&["a/b", "a"]), Some("PATH_FILE_DIRECTORY_CONFLICT"));
        assert_eq!(reason(&["x/A", "x/a/b/c"]), Some("PATH_FILE_DIRECTORY_CONFLICT"));
    }

    #[test]
    fn a_change_may_replace_what_it_removes() {
        let mut tree = PathTree::default();
        for path in ["a", "dir/one", "dir/two", "Cat.png"] {
            tree.insert(&p(path));
        }
        // `a` becomes a directory only if the file `a` goes in the same change.
        assert!(tree.check_change([&p("a/b")], &[]).is_err());
        assert!(tree.check_change([&p("a/b")], &[p("a")]).is_ok());
        // `dir` becomes a file only once both files under it go.
        assert!(tree.check_change([&p("dir")], &[p("dir/one")]).is_err());
        assert!(tree.check_change([&p("dir")], &[p("dir/one"), p("dir/two")]).is_ok());
        // A rename by case removes the old spelling.
        assert!(tree.check_change([&p("cat.png")], &[]).is_err());
        assert!(tree.check_change([&p("cat.png")], &[p("Cat.png")]).is_ok());
        // Replacing a file under its own spelling changes no shape.
        assert!(tree.check_change([&p("Cat.png")], &[]).is_ok());
        tree.insert(&p("dir/one")); // a replacement: still one file under `dir/`
        tree.remove(&p("dir/one"));
        tree.remove(&p("dir/two"));
        assert!(tree.check_change([&p("dir")], &[]).is_ok(), "an emptied directory is gone");
    }
}
