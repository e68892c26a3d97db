//! The invariants, checked through the CLI against the cluster after the faults stopped:
//! (a) every acknowledged log, finish and edit is a version whose every file reads back
//! with its planned bytes; (b) a finished job's version holds exactly the files its
//! acknowledged writers sealed, no more, no fewer; (c) version indices are dense and
//! unique per artifact; (d) where the workload or a retention policy deletes versions,
//! every version still listed reads back whole, an acknowledged deletion's version is not
//! listed, and a retained artifact lists its newest `keep_last` acknowledged versions (and,
//! after a collection that followed the last commit, no more); (e) `cairn fsck --deep`
//! finds nothing missing or corrupt.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use cairn_core::Digest;

use crate::launcher::Launcher;
use crate::plan::FileSpec;
use crate::rng::content;
use crate::run::Ledger;

/// What the checks found: each entry is one violation, saying what and where.
pub type Violations = Vec<String>;

fn expected_entries(files: &[FileSpec]) -> BTreeMap<String, (String, u64)> {
    files
        .iter()
        .map(|f| (f.path.clone(), (Digest::of(&content(f.content_id, f.size as usize)).to_string(), f.size)))
        .collect()
}

/// Checks (a) to (d) for everything `ledger` acknowledged; `scratch` holds downloads.
/// `collected` says a collection ran after the workload ended (so retention is applied).
pub fn check_versions(ledger: &Ledger, launcher: &Launcher, scratch: &Path, collected: bool) -> Violations {
    let mut violations = Vec::new();
    let artifacts: BTreeSet<&str> = ledger.commits.iter().map(|c| c.artifact.as_str()).collect();
    let mut listed: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for &artifact in &artifacts {
        match list_indices(launcher, scratch, artifact) {
            Ok(indices) => {
                listed.insert(artifact, indices);
            }
            // Every version of a deleting artifact may be gone, and the artifact with them.
            Err(err) if ledger.deleting(artifact) && err.ends_with("[ARTIFACT_NOT_FOUND]") => {
                listed.insert(artifact, Vec::new());
            }
            Err(err) => violations.push(format!("{artifact}: versions unreadable: {err}")),
        }
    }
    let mut indices_by_artifact: BTreeMap<&str, BTreeMap<u64, usize>> = BTreeMap::new();
    for (n, commit) in ledger.commits.iter().enumerate() {
        let Some(index) = commit.index() else { continue };
        let reference = format!("{}:v{index}", commit.artifact);
        let is_listed = listed.get(commit.artifact.as_str()).is_some_and(|l| l.contains(&index));
        if ledger.deleting(&commit.artifact) && !is_listed {
            continue; // deleted by the workload or by retention (checked below)
        }
        if !commit.dedup() {
            *indices_by_artifact.entry(&commit.artifact).or_default().entry(index).or_default() += 1;
        }
        let expected = expected_entries(&commit.expected);
        match read_manifest(launcher, scratch, &reference) {
            Ok(stored) if stored == expected => {}
            Ok(stored) => {
                let missing: Vec<&String> = expected.keys().filter(|p| !stored.contains_key(*p)).collect();
                let extra: Vec<&String> = stored.keys().filter(|p| !expected.contains_key(*p)).collect();
                let differ = expected.iter().filter(|(p, e)| stored.get(*p).is_some_and(|s| s != *e)).count();
                violations.push(format!(
                    "{} {reference}: manifest differs from what was acknowledged: missing {missing:?}, extra {extra:?}, {differ} with other content",
                    commit.kind
                ));
                continue;
            }
            Err(err) => {
                violations.push(format!("{} {reference}: manifest unreadable: {err}", commit.kind));
                continue;
            }
        }
        let out = scratch.join(format!("get-{n}"));
        if let Err(err) = read_back(launcher, scratch, &reference, &out, &commit.expected) {
            violations.push(format!("{} {reference}: {err}", commit.kind));
        }
        let _ = std::fs::remove_dir_all(&out);
    }
    for (artifact, acknowledged) in &indices_by_artifact {
        for (index, count) in acknowledged {
            if *count > 1 {
                violations.push(format!("{artifact}:v{index} acknowledged as new by {count} commits"));
            }
        }
    }
    for (artifact, indices) in &listed {
        if !ledger.deleting(artifact) && !indices.iter().copied().eq(0..indices.len() as u64) {
            violations.push(format!("{artifact}: indices are not dense and unique: {indices:?}"));
        }
    }
    violations.extend(check_deletions(ledger, launcher, scratch, &listed, collected));
    violations
}

/// (d): what deletions and retention left behind.
fn check_deletions(
    ledger: &Ledger,
    launcher: &Launcher,
    scratch: &Path,
    listed: &BTreeMap<&str, Vec<u64>>,
    collected: bool,
) -> Violations {
    let mut violations = Vec::new();
    let acknowledged = |c: &crate::run::Commit| c.index().is_some() && !c.dedup();
    for (artifact, indices) in listed.iter().filter(|(a, _)| ledger.deleting(a)) {
        // Listed versions the ledger does not know (an edit whose answer was lost) read
        // back too: `get` verifies every blob's sha256.
        for index in indices {
            let reference = format!("{artifact}:v{index}");
            let out = scratch.join(format!("listed-{artifact}-{index}"));
            let out_arg = out.display().to_string();
            if let Err(err) = launcher.attempt(scratch, &["get".into(), reference.clone(), "-o".into(), out_arg]) {
                violations.push(format!("{reference} is listed but does not read back: {err}"));
            }
            let _ = std::fs::remove_dir_all(&out);
        }
        if let Some(&keep_last) = ledger.retained.get(*artifact) {
            let mut committed: Vec<u64> = ledger
                .commits
                .iter()
                .filter(|c| c.artifact == **artifact && acknowledged(c))
                .filter_map(|c| c.index())
                .collect();
            committed.sort_unstable();
            let newest = &committed[committed.len().saturating_sub(keep_last as usize)..];
            if let Some(lost) = newest.iter().find(|i| !indices.contains(i)) {
                violations.push(format!("{artifact}:v{lost} is among its newest {keep_last} and was retired"));
            }
            if collected && indices.len() as u64 > keep_last {
                violations.push(format!("{artifact} keeps {indices:?} after a collection; its policy is {keep_last}"));
            }
        }
    }
    for (artifact, index, outcome) in &ledger.deletions {
        let (Some(index), true) = (index, outcome.acked_at.is_some() || outcome.refused.is_some()) else { continue };
        if listed.get(artifact.as_str()).is_some_and(|l| l.contains(index)) {
            violations.push(format!("{artifact}:v{index} is listed after its deletion was acknowledged"));
        }
    }
    violations
}

/// (e): `cairn fsck --deep` over everything stored.
pub fn check_fsck(launcher: &Launcher, scratch: &Path) -> Violations {
    match launcher.attempt(scratch, &["fsck".into(), "--deep".into(), "--json".into()]) {
        Ok(out) => match serde_json::from_str::<serde_json::Value>(out.trim()) {
            Ok(json) if json["missing_count"] == 0 && json["corrupt_count"] == 0 => Vec::new(),
            Ok(json) => vec![format!("fsck found problems: {json}")],
            Err(err) => vec![format!("fsck printed no JSON: {err}")],
        },
        Err(err) => vec![format!("fsck failed: {err}")],
    }
}

fn read_manifest(launcher: &Launcher, cwd: &Path, reference: &str) -> Result<BTreeMap<String, (String, u64)>, String> {
    let out = launcher.attempt(cwd, &["manifest".into(), reference.into(), "--json".into()])?;
    let json: serde_json::Value = serde_json::from_str(out.trim()).map_err(|e| e.to_string())?;
    let entries = json["entries"].as_array().ok_or("no entries in the manifest")?;
    entries
        .iter()
        .map(|e| {
            let path = e["path"].as_str().ok_or("entry without a path")?.to_owned();
            let sha256 = e["sha256"].as_str().ok_or("entry without a digest")?.to_owned();
            Ok((path, (sha256, e["size"].as_u64().ok_or("entry without a size")?)))
        })
        .collect()
}

/// Downloads a version (the CLI verifies every sha256) and compares every file's bytes
/// with the planned content.
fn read_back(
    launcher: &Launcher,
    cwd: &Path,
    reference: &str,
    out: &Path,
    expected: &[FileSpec],
) -> Result<(), String> {
    let out_arg = out.display().to_string();
    launcher.attempt(cwd, &["get".into(), reference.into(), "-o".into(), out_arg])?;
    for file in expected {
        let bytes = std::fs::read(out.join(&file.path)).map_err(|e| format!("{} not downloaded: {e}", file.path))?;
        if bytes != content(file.content_id, file.size as usize) {
            return Err(format!("{} read back with other bytes", file.path));
        }
    }
    let downloaded = count_files(out);
    if downloaded != expected.len() {
        return Err(format!("{downloaded} files downloaded, {} expected", expected.len()));
    }
    Ok(())
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|e| if e.path().is_dir() { count_files(&e.path()) } else { 1 }).sum())
        .unwrap_or(0)
}

fn list_indices(launcher: &Launcher, cwd: &Path, artifact: &str) -> Result<Vec<u64>, String> {
    let out = launcher.attempt(cwd, &["versions".into(), artifact.into(), "--json".into()])?;
    let json: serde_json::Value = serde_json::from_str(out.trim()).map_err(|e| e.to_string())?;
    let mut indices: Vec<u64> =
        json.as_array().ok_or("versions is not a list")?.iter().filter_map(|v| v["index"].as_u64()).collect();
    indices.sort_unstable();
    Ok(indices)
}
