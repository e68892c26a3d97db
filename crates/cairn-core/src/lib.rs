//! Pure domain logic of cairn: names, entry paths, references, digests, the canonical
//! manifest encoding and the draft state machine. No I/O, no async: everything here is
//! tested with plain unit and property tests.

mod digest;
mod draft;
mod duration;
mod error;
mod manifest;
mod names;
mod path;
mod records;
mod reference;
mod resumable;
mod staged;
mod tree;

pub use digest::{Digest, Sha256Hasher};
pub use draft::{
    BaseVersion, ConflictPolicy, DEFAULT_DRAFT_TTL_MS, DraftRecord, DraftState, FinishDecision, MAX_WRITERS_PER_DRAFT,
    SegmentRun, WriterRecord,
};
pub use duration::parse_duration_secs;
pub use error::{CoreError, ErrorClass};
pub use manifest::{MANIFEST_HEADER, ManifestDecoder, ManifestWriter, version_digest};
pub use names::{
    validate_alias, validate_artifact, validate_distributed_id, validate_project, validate_request_id, validate_type,
    validate_writer_id,
};
pub use path::EntryPath;
pub use records::{ArtifactRecord, MAX_PRODUCERS, VersionRecord};
pub use reference::{Reference, Selector};
pub use resumable::{HashCheckpoint, ResumableSha256};
pub use staged::{StagedEntry, StagedIndex, StagedOp};
pub use tree::{PathTree, check_tree};

/// One file of a version: its path in the version, the sha256 of its content and its size.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    /// Where the file lives in the version.
    pub path: EntryPath,
    /// Digest of the content.
    pub sha256: Digest,
    /// Size of the content in bytes.
    pub size: u64,
}
