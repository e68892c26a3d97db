//! Turning local paths into entries: a directory contributes its files under their paths
//! relative to it, a file contributes an entry named after the file, `SRC=DEST` renames.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cairn_core::EntryPath;

use crate::ClientError;

/// A local file and the entry path it becomes.
#[derive(Debug, Clone)]
pub struct LocalFile {
    /// Where the content is read from.
    pub source: PathBuf,
    /// The entry path in the version.
    pub path: EntryPath,
    /// Size when collected.
    pub size: u64,
}

/// Collects the files of `sources`, each optionally placed under a destination prefix
/// (`None`: a directory's files at their relative paths, a file under its own name).
/// Two sources yielding one entry path is an error.
pub fn collect(sources: &[(PathBuf, Option<String>)]) -> Result<Vec<LocalFile>, ClientError> {
    let mut by_path: BTreeMap<EntryPath, LocalFile> = BTreeMap::new();
    for (source, dest) in sources {
        let meta = std::fs::metadata(source).map_err(|e| ClientError::io(source, e))?;
        let mut found = Vec::new();
        if meta.is_dir() {
            walk(source, source, &mut found)?;
            for (file, relative, size) in found {
                let name = match dest {
                    Some(dest) => format!("{}/{relative}", dest.trim_end_matches('/')),
                    None => relative,
                };
                insert(&mut by_path, file, &name, size)?;
            }
        } else {
            let name = match dest {
                Some(dest) => dest.clone(),
                None => source
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .ok_or_else(|| ClientError::Usage(format!("{} has no file name", source.display())))?,
            };
            insert(&mut by_path, source.clone(), &name, meta.len())?;
        }
    }
    Ok(by_path.into_values().collect())
}

fn insert(
    by_path: &mut BTreeMap<EntryPath, LocalFile>,
    source: PathBuf,
    name: &str,
    size: u64,
) -> Result<(), ClientError> {
    let path = EntryPath::parse(name)?;
    if let Some(previous) = by_path.get(&path) {
        return Err(ClientError::Usage(format!(
            "entry path {name:?} comes from both {} and {}",
            previous.source.display(),
            source.display()
        )));
    }
    by_path.insert(path.clone(), LocalFile { source, path, size });
    Ok(())
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, String, u64)>) -> Result<(), ClientError> {
    let entries = std::fs::read_dir(dir).map_err(|e| ClientError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| ClientError::io(dir, e))?;
        let path = entry.path();
        let meta = std::fs::metadata(&path).map_err(|e| ClientError::io(&path, e))?;
        if meta.is_dir() {
            walk(root, &path, out)?;
        } else if meta.is_file() {
            let relative = path.strip_prefix(root).expect("walked paths are under the root");
            let parts: Vec<String> =
                relative.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
            out.push((path.clone(), parts.join("/"), meta.len()));
        }
    }
    Ok(())
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
        let files = collect(&[(dir.path().join("out"), None), (dir.path().join("single.txt"), None)]).unwrap();
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
        let files =
            collect(&[(dir.path().join("d"), Some("sub/".into())), (dir.path().join("f"), Some("renamed=f".into()))])
                .unwrap();
        let names: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(names, ["renamed=f", "sub/x"]);
    }

    #[test]
    fn two_sources_for_one_path_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), b"f").unwrap();
        let err = collect(&[(dir.path().join("f"), None), (dir.path().join("f"), None)]).unwrap_err();
        assert!(err.to_string().contains("comes from both"), "{err}");
    }

    #[test]
    fn add_spec_splits_at_the_first_equals_sign() {
        assert_eq!(parse_add("a=b=c"), (PathBuf::from("a"), Some("b=c".to_owned())));
        assert_eq!(parse_add("plain"), (PathBuf::from("plain"), None));
    }
}
