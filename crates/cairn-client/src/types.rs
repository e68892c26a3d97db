//! Results of client operations, shaped for people and for `--json`.

use cairn_proto::v1;
use serde::Serialize;

/// A committed version.
#[derive(Debug, Clone, Serialize)]
pub struct VersionInfo {
    /// Artifact name.
    pub name: String,
    /// `vK`.
    pub version: String,
    /// K.
    pub index: u64,
    /// Project.
    pub project: String,
    /// Artifact type.
    #[serde(rename = "type")]
    pub artifact_type: String,
    /// Version digest.
    pub digest: String,
    /// Number of files.
    pub files: u64,
    /// Total size of the files.
    pub bytes: u64,
    /// Aliases naming this version, `latest` included.
    pub aliases: Vec<String>,
    /// Writers or runs that produced it.
    pub producers: Vec<String>,
    /// User metadata.
    pub metadata: serde_json::Value,
    /// Commit time, ms since the epoch.
    pub created_unix_ms: i64,
    /// When its time to live ends (ms since the epoch), if it has one.
    pub expires_unix_ms: Option<i64>,
}

impl From<v1::Version> for VersionInfo {
    fn from(v: v1::Version) -> Self {
        Self {
            version: format!("v{}", v.index),
            name: v.artifact,
            index: v.index,
            project: v.project,
            artifact_type: v.r#type,
            digest: v.digest,
            files: v.file_count,
            bytes: v.total_bytes,
            aliases: v.aliases,
            producers: v.producers,
            metadata: serde_json::from_str(&v.metadata_json).unwrap_or(serde_json::Value::Null),
            created_unix_ms: v.create_time_unix_ms,
            expires_unix_ms: v.expire_time_unix_ms,
        }
    }
}

/// The outcome of `log`, `finish` or `edit`.
#[derive(Debug, Clone, Serialize)]
pub struct CommitSummary {
    /// Artifact name.
    pub name: String,
    /// `vK`.
    pub version: String,
    /// K.
    pub index: u64,
    /// Project.
    pub project: String,
    /// Version digest.
    pub digest: String,
    /// Number of files in the version.
    pub files: u64,
    /// Total size of the version's files.
    pub bytes: u64,
    /// True when no new version was made (same content as the latest version).
    pub dedup: bool,
    /// Bytes this command uploaded.
    pub uploaded_bytes: u64,
    /// Aliases naming the version.
    pub aliases: Vec<String>,
    /// Bytes this command read and hashed (unchanged files known to the stat cache are not read).
    pub hashed_bytes: u64,
    /// Files whose digest came from the stat cache.
    pub stat_cache_hits: u64,
    /// Artifact type.
    #[serde(rename = "type")]
    pub artifact_type: String,
    /// User metadata of the version.
    pub metadata: serde_json::Value,
    /// When its time to live ends (ms since the epoch), if it has one.
    pub expires_unix_ms: Option<i64>,
}

impl CommitSummary {
    pub(crate) fn with_hashing(mut self, stats: crate::HashStats) -> Self {
        self.hashed_bytes = stats.bytes_hashed;
        self.stat_cache_hits = stats.stat_cache_hits;
        self
    }

    pub(crate) fn new(version: v1::Version, dedup: bool, uploaded_bytes: u64) -> Self {
        Self {
            version: format!("v{}", version.index),
            name: version.artifact,
            index: version.index,
            project: version.project,
            digest: version.digest,
            files: version.file_count,
            bytes: version.total_bytes,
            dedup,
            uploaded_bytes,
            aliases: version.aliases,
            hashed_bytes: 0,
            stat_cache_hits: 0,
            artifact_type: version.r#type,
            metadata: serde_json::from_str(&version.metadata_json).unwrap_or(serde_json::Value::Null),
            expires_unix_ms: version.expire_time_unix_ms,
        }
    }
}

/// The state of a draft after an upsert, seal or abort.
#[derive(Debug, Clone, Serialize)]
pub struct DraftSummary {
    /// Artifact name.
    pub name: String,
    /// Project.
    pub project: String,
    /// The draft's id.
    pub distributed_id: String,
    /// `open`, `sealing`, `committed`, `aborted` or `expired`.
    pub state: String,
    /// The writer this command acted for, if any.
    pub writer: Option<String>,
    /// Whether that writer is sealed.
    pub sealed: bool,
    /// Entries that writer has staged.
    pub writer_files: u64,
    /// Entries the version would have now.
    pub draft_files: u64,
    /// Writers not sealed yet.
    pub unsealed_writers: Vec<String>,
    /// Writers sealed so far.
    pub sealed_writers: Vec<String>,
    /// Declared number of writers (0: not declared).
    pub expected_writers: u32,
    /// Bytes this command uploaded.
    pub uploaded_bytes: u64,
    /// When the open draft expires, ms since the epoch.
    pub expires_unix_ms: i64,
    /// The committed version, once committed.
    pub version: Option<String>,
    /// Bytes this command read and hashed.
    pub hashed_bytes: u64,
    /// Files whose digest came from the stat cache.
    pub stat_cache_hits: u64,
}

impl DraftSummary {
    pub(crate) fn with_hashing(mut self, stats: crate::HashStats) -> Self {
        self.hashed_bytes = stats.bytes_hashed;
        self.stat_cache_hits = stats.stat_cache_hits;
        self
    }

    pub(crate) fn new(draft: v1::DraftInfo, writer: Option<&str>, uploaded_bytes: u64) -> Self {
        let state = match v1::DraftState::try_from(draft.state) {
            Ok(v1::DraftState::Open) => "open",
            Ok(v1::DraftState::Sealing) => "sealing",
            Ok(v1::DraftState::Committed) => "committed",
            Ok(v1::DraftState::Aborted) => "aborted",
            Ok(v1::DraftState::Expired) => "expired",
            _ => "unknown",
        };
        let mine = writer.and_then(|w| draft.writers.iter().find(|s| s.writer_id == w));
        Self {
            name: draft.artifact.clone(),
            project: draft.project.clone(),
            distributed_id: draft.distributed_id.clone(),
            state: state.to_owned(),
            writer: writer.map(str::to_owned),
            sealed: mine.is_some_and(|w| w.sealed),
            writer_files: mine.map_or(0, |w| w.staged_entries),
            draft_files: draft.staged_entries,
            unsealed_writers: draft.writers.iter().filter(|w| !w.sealed).map(|w| w.writer_id.clone()).collect(),
            sealed_writers: draft.writers.iter().filter(|w| w.sealed).map(|w| w.writer_id.clone()).collect(),
            expected_writers: draft.expected_writers,
            uploaded_bytes,
            expires_unix_ms: draft.expire_time_unix_ms,
            version: draft.committed_index.map(|i| format!("v{i}")),
            hashed_bytes: 0,
            stat_cache_hits: 0,
        }
    }
}

/// The outcome of `get`.
#[derive(Debug, Clone, Serialize)]
pub struct GetSummary {
    /// Artifact name.
    pub name: String,
    /// `vK`.
    pub version: String,
    /// Version digest.
    pub digest: String,
    /// Files in the version.
    pub files: u64,
    /// Total size of the version.
    pub bytes: u64,
    /// Bytes downloaded by this command.
    pub downloaded_bytes: u64,
    /// Files that were already present with the right content.
    pub skipped_files: u64,
    /// Files taken from the local content cache after verifying their hash.
    pub cached_files: u64,
    /// Where the files are.
    pub dir: String,
}

/// An artifact in a listing.
#[derive(Debug, Clone, Serialize)]
pub struct ArtifactInfo {
    /// Artifact name.
    pub name: String,
    /// Artifact type.
    #[serde(rename = "type")]
    pub artifact_type: String,
    /// Number of versions.
    pub versions: u64,
    /// `vK` of the newest version.
    pub latest: String,
}

/// One manifest entry.
#[derive(Debug, Clone, Serialize)]
pub struct ManifestEntry {
    /// Entry path.
    pub path: String,
    /// Content digest.
    pub sha256: String,
    /// Content size.
    pub size: u64,
}

/// What a delete removed.
#[derive(Debug, Clone, Serialize)]
pub struct DeleteSummary {
    /// Artifact name.
    pub name: String,
    /// The deleted versions (`vK`).
    pub deleted: Vec<String>,
    /// User aliases deleted with them.
    pub deleted_aliases: Vec<String>,
    /// The newest remaining version (`vK`), where `latest` points now; null when none is left.
    pub latest: Option<String>,
}

impl DeleteSummary {
    /// A summary from the server's answer.
    pub fn new(name: String, deleted: Vec<u64>, deleted_aliases: Vec<String>, latest: Option<u64>) -> Self {
        Self {
            name,
            deleted: deleted.into_iter().map(|i| format!("v{i}")).collect(),
            deleted_aliases,
            latest: latest.map(|i| format!("v{i}")),
        }
    }
}

/// What a garbage collection freed (or, dry, would free).
#[derive(Debug, Clone, Serialize)]
pub struct GcSummary {
    /// True when nothing was deleted.
    pub dry_run: bool,
    /// Unreferenced blobs deleted.
    pub deleted_blobs: u64,
    /// Bytes of the deleted blobs and manifests.
    pub freed_bytes: u64,
    /// Blobs and manifests kept.
    pub kept_blobs: u64,
    /// Unreferenced manifests deleted.
    pub deleted_manifests: u64,
    /// Staging segments of ended drafts deleted.
    pub deleted_staging: u64,
    /// Abandoned resumable uploads discarded.
    pub deleted_checkpoints: u64,
    /// Versions deleted because their time to live passed.
    pub expired_versions: u64,
    /// Versions deleted by retention policies.
    pub retired_versions: u64,
    /// Unfinished uploads no checkpoint recorded, aborted.
    pub aborted_uploads: u64,
    /// The collection's generation.
    pub generation: u64,
    /// How long it took.
    pub duration_ms: u64,
    /// Bytes moved into the trash (what left the live store).
    pub trashed_bytes: u64,
    /// Objects deleted from the trash.
    pub purged_blobs: u64,
    /// Bytes left in the trash.
    pub trash_bytes: u64,
    /// Objects live versions or open drafts refer to that are missing.
    pub referenced_missing: u64,
}

/// One object a live version refers to that is missing or corrupt.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FsckItem {
    /// The version, `project/name:vK`.
    #[serde(rename = "ref")]
    pub reference: String,
    /// The entry's path; `None` for the version's manifest.
    pub path: Option<String>,
    pub sha256: String,
}

/// What `fsck` found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FsckSummary {
    pub versions_checked: u64,
    pub blobs_checked: u64,
    /// Missing after any repair (the first 1,000; `missing_count` counts all).
    pub missing: Vec<FsckItem>,
    /// Corrupt after any repair (deep only; the first 1,000).
    pub corrupt: Vec<FsckItem>,
    /// Objects restored from the trash.
    pub repaired: u64,
    pub missing_count: u64,
    pub corrupt_count: u64,
}
