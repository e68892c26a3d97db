//! Turning local paths into entries: a directory contributes its files under their paths
//! relative to it, a file contributes an entry named after the file, `SRC=DEST` renames.
//!
//! Directory walks (the `ignore` crate, without its git-specific filters) follow symbolic
//! links, leave out `.git` and `.cairn` directories and the client's own cache wherever
//! they are, and honour `.cairnignore` files inside the walked tree (gitignore syntax;
//! files above the tree's root do not apply, and the ignore files themselves are not
//! uploaded) unless [`WalkRules::ignore_files`] is off (`--no-ignore`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cairn_core::EntryPath;

use crate::ClientError;
use crate::stat_cache::Fingerprint;

/// A local file and the entry path it becomes.
#[derive(Debug, Clone)]
pub struct LocalFile {
    /// Where the content is read from.
    pub source: PathBuf,
    /// The entry path in the version.
    pub path: EntryPath,
    /// Size when collected.
    pub size: u64,
    /// The file's state when collected, so hashing need not look at it again.
    pub(crate) fingerprint: Option<crate::stat_cache::Fingerprint>,
}

/// The name of ignore files.
pub const IGNORE_FILE: &str = ".cairnignore";

/// Directory names never walked into: version control, and cairn's own data.
const ALWAYS_LEFT_OUT: [&str; 2] = [".git", ".cairn"];

/// What directory walks leave out besides `.git` and `.cairn`.
#[derive(Debug, Clone)]
pub struct WalkRules {
    /// Honour `.cairnignore` files in the walked tree.
    pub ignore_files: bool,
    /// Directories never walked into (the client's caches, should they lie in the tree).
    pub left_out: Vec<PathBuf>,
}

impl Default for WalkRules {
    fn default() -> Self {
        Self { ignore_files: true, left_out: Vec::new() }
    }
}

/// Collects the files of `sources`, each optionally placed under a destination prefix
/// (`None`: a directory's files at their relative paths, a file under its own name).
/// Two sources yielding one entry path is an error.
pub fn collect(sources: &[(PathBuf, Option<String>)], rules: &WalkRules) -> Result<Vec<LocalFile>, ClientError> {
    let mut by_path: BTreeMap<EntryPath, LocalFile> = BTreeMap::new();
    for (source, dest) in sources {
        let meta = std::fs::metadata(source).map_err(|e| ClientError::io(source, e))?;
        let mut found = Vec::new();
        if meta.is_dir() {
            walk(source, rules, &mut found)?;
            for (file, relative, fingerprint) in found {
                let name = match dest {
                    Some(dest) => format!("{}/{relative}", dest.trim_end_matches('/')),
                    None => relative,
                };
                insert(&mut by_path, file, &name, fingerprint)?;
            }
        } else {
            let name = match dest {
                Some(dest) => dest.clone(),
                None => source
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .ok_or_else(|| ClientError::Usage(format!("{} has no file name", source.display())))?,
            };
            insert(&mut by_path, source.clone(), &name, Fingerprint::of(&meta))?;
        }
    }
    // A version the server would refuse (two paths differing only in case, or a path that
    // is a file and a directory) is refused here, before anything is hashed or uploaded.
    cairn_core::check_tree(by_path.keys())?;
    Ok(by_path.into_values().collect())
}

fn insert(
    by_path: &mut BTreeMap<EntryPath, LocalFile>,
    source: PathBuf,
    name: &str,
    fingerprint: Fingerprint,
) -> Result<(), ClientError> {
    let path = EntryPath::parse(name)?;
    if let Some(previous) = by_path.get(&path) {
        return Err(ClientError::Usage(format!(
            "entry path {name:?} comes from both {} and {}",
            previous.source.display(),
            source.display()
        )));
    }
    by_path.insert(path.clone(), LocalFile { source, path, size: fingerprint.size(), fingerprint: Some(fingerprint) });
    Ok(())
}

fn walk(root: &Path, rules: &WalkRules, out: &mut Vec<(PathBuf, String, Fingerprint)>) -> Result<(), ClientError> {
    let left_out: Vec<PathBuf> = rules.left_out.iter().filter_map(|dir| dir.canonicalize().ok()).collect();
    let mut walker = ignore::WalkBuilder::new(root);
    walker.standard_filters(false).follow_links(true).parents(false);
    if rules.ignore_files {
        walker.add_custom_ignore_filename(IGNORE_FILE);
    }
    walker.filter_entry(move |entry| {
        let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
        if !is_dir || entry.depth() == 0 {
            return true;
        }
        let name = entry.file_name().to_string_lossy();
        if ALWAYS_LEFT_OUT.contains(&name.as_ref()) {
            return false;
        }
        // Only directories are compared with the caches, so few paths are canonicalized.
        left_out.is_empty() || entry.path().canonicalize().map_or(true, |dir| !left_out.contains(&dir))
    });
    for entry in walker.build() {
        let entry = entry.map_err(|e| walk_error(root, e))?;
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        if rules.ignore_files && entry.file_name() == IGNORE_FILE {
            continue;
        }
        let path = entry.path().to_path_buf();
        // The walk's own look at the file (links followed) serves the stat cache too.
        let fingerprint = Fingerprint::of(&entry.metadata().map_err(|e| walk_error(root, e))?);
        let relative = path.strip_prefix(root).expect("walked paths are under the root");
        let parts: Vec<String> = relative.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
        out.push((path.clone(), parts.join("/"), fingerprint));
    }
    Ok(())
}

fn walk_error(root: &Path, err: ignore::Error) -> ClientError {
    match err.into_io_error() {
        Some(io) => ClientError::io(root, io),
        None => {
            ClientError::Usage(format!("cannot walk {}: a symbolic link loop or a bad ignore file", root.display()))
        }
    }
}

/// Splits `SRC=DEST` at the first `=`.
pub fn parse_add(spec: &str) -> (PathBuf, Option<String>) {
    match spec.split_once('=') {
        Some((src, dest)) => (PathBuf::from(src), Some(dest.to_owned())),
        None => (PathBuf::from(spec), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_files_keep_relative_paths_and_files_keep_their_names() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("out/a")).unwrap();
        std::fs::write(dir.path().join("out/a/b.bin"), b"x").unwrap();
        std::fs::write(dir.path().join("single.txt"), b"yy").unwrap();
        let files =
            collect(&[(dir.path().join("out"), None), (dir.path().join("single.txt"), None)], &WalkRules::default())
                .unwrap();
        let names: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(names, ["a/b.bin", "single.txt"]);
        assert_eq!(files[1].size, 2);
    }

    #[test]
    fn destinations_rename_files_and_prefix_directories() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("d")).unwrap();
        std::fs::write(dir.path().join("d/x"), b"x").unwrap();
        std::fs::write(dir.path().join("f"), b"f").unwrap();
        let files = collect(
            &[(dir.path().join("d"), Some("sub/".into())), (dir.path().join("f"), Some("renamed=f".into()))],
            &WalkRules::default(),
        )
        .unwrap();
        let names: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(names, ["renamed=f", "sub/x"]);
    }

    #[test]
    fn a_tree_no_file_system_can_hold_is_refused_before_hashing() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("README"), b"1").unwrap();
        std::fs::write(dir.path().join("other"), b"2").unwrap();
        let sources = [(dir.path().join("README"), None), (dir.path().join("other"), Some("readme".to_owned()))];
        let err = collect(&sources, &WalkRules::default()).unwrap_err();
        assert!(err.to_string().contains("differs from"), "{err}");
        let sources =
            [(dir.path().join("README"), Some("m".to_owned())), (dir.path().join("other"), Some("m/x".into()))];
        let err = collect(&sources, &WalkRules::default()).unwrap_err();
        assert!(err.to_string().contains("both a file and a directory"), "{err}");
    }

    #[test]
    fn two_sources_for_one_path_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), b"f").unwrap();
        let err =
            collect(&[(dir.path().join("f"), None), (dir.path().join("f"), None)], &WalkRules::default()).unwrap_err();
        assert!(err.to_string().contains("comes from both"), "{err}");
    }

    #[test]
    fn add_spec_splits_at_the_first_equals_sign() {
        assert_eq!(parse_add("a=b=c"), (PathBuf::from("a"), Some("b=c".to_owned())));
        assert_eq!(parse_add("plain"), (PathBuf::from("plain"), None));
    }

    fn names(files: &[LocalFile]) -> Vec<&str> {
        files.iter().map(|f| f.path.as_str()).collect()
    }

    fn tree(root: &Path, files: &[(&str, &str)]) {
        for (path, content) in files {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
    }

    #[test]
    fn ignore_files_apply_in_their_directory_and_below_and_are_not_uploaded() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("run");
        tree(
            &root,
            &[
                (".cairnignore", "*.tmp\nlogs/\n!keep.tmp\n"),
                ("model.bin", "m"),
                ("scratch.tmp", "t"),
                ("keep.tmp", "k"),
                ("logs/train.log", "l"),
                ("sub/.cairnignore", "*.bin\n"),
                ("sub/weights.bin", "w"),
                ("sub/notes.txt", "n"),
                ("sub/deeper/more.tmp", "t"),
            ],
        );
        let files = collect(&[(root.clone(), None)], &WalkRules::default()).unwrap();
        assert_eq!(names(&files), ["keep.tmp", "model.bin", "sub/notes.txt"]);

        let everything = collect(&[(root, None)], &WalkRules { ignore_files: false, left_out: vec![] }).unwrap();
        assert_eq!(everything.len(), 9, "{:?}", names(&everything));
    }

    #[test]
    fn git_cairn_and_the_client_cache_are_always_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("run");
        tree(
            &root,
            &[
                (".git/HEAD", "ref"),
                (".cairn/meta.redb", "server data"),
                ("data/.git/config", "nested repo"),
                ("cache/stat-cache.redb", "cache"),
                ("data/x.bin", "x"),
            ],
        );
        let rules = WalkRules { ignore_files: false, left_out: vec![root.join("cache")] };
        assert_eq!(names(&collect(&[(root, None)], &rules).unwrap()), ["data/x.bin"]);
    }

    #[cfg(unix)]
    #[test]
    fn symbolic_links_are_followed_and_a_loop_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("run");
        tree(dir.path(), &[("elsewhere/shard.bin", "s"), ("run/own.bin", "o")]);
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), root.join("linked")).unwrap();
        let files = collect(&[(root.clone(), None)], &WalkRules::default()).unwrap();
        assert_eq!(names(&files), ["linked/shard.bin", "own.bin"]);

        std::os::unix::fs::symlink(&root, dir.path().join("elsewhere/back")).unwrap();
        let err = collect(&[(root, None)], &WalkRules::default()).unwrap_err();
        assert!(err.to_string().contains("loop"), "{err}");
    }
}
