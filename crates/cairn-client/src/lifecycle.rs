//! Creating versions: single-run log, distributed upsert/seal/finish/abort, and edits that
//! start from an existing version and send only the change.

use std::path::PathBuf;

use cairn_core::{EntryPath, Reference};
use cairn_proto::entry_to_proto;
use cairn_proto::v1::{self, log_request};
use futures::stream;

use crate::error::required;
use crate::upload::{Receipts, Uploaded};
use crate::{Client, ClientError, CommitSummary, DraftSummary, HashStats, HashedFile, StatCache, collect, hash_files};

/// Entries per request; the server accepts up to 10,000.
const ENTRIES_PER_REQUEST: usize = 5_000;
/// Encoded bytes of entries per request, well under the 4 MiB message limit.
const BYTES_PER_REQUEST: usize = 2 * 1024 * 1024;

/// A single-run version.
#[derive(Debug, Clone, Default)]
pub struct LogRequest {
    pub name: String,
    pub artifact_type: String,
    /// What to upload: a file or directory, and an optional entry path (or prefix) for it.
    pub sources: Vec<(PathBuf, Option<String>)>,
    pub aliases: Vec<String>,
    pub metadata_json: String,
    pub writer: String,
    /// Time to live of the new version, in seconds.
    pub ttl_seconds: Option<u64>,
}

/// One writer's contribution to a draft.
#[derive(Debug, Clone, Default)]
pub struct UpsertRequest {
    pub name: String,
    /// Required when the request opens the draft.
    pub artifact_type: Option<String>,
    pub distributed_id: String,
    pub writer: String,
    /// What to upload: a file or directory, and an optional entry path (or prefix) for it.
    pub sources: Vec<(PathBuf, Option<String>)>,
    pub seal: bool,
    pub expected_writers: Option<u32>,
    pub ttl_seconds: u64,
    pub last_writer_wins: bool,
}

/// Committing a draft.
#[derive(Debug, Clone, Default)]
pub struct FinishRequest {
    pub name: String,
    pub distributed_id: String,
    pub aliases: Vec<String>,
    pub wait_seconds: u32,
    pub force: bool,
    pub expected_writers: Option<u32>,
    pub metadata_json: String,
    /// Time to live of the new version, in seconds.
    pub ttl_seconds: Option<u64>,
}

/// An incremental version from an existing one.
#[derive(Debug, Clone, Default)]
pub struct EditRequest {
    pub reference: String,
    /// Files to add or replace: a source and an optional destination path.
    pub adds: Vec<(PathBuf, Option<String>)>,
    pub removes: Vec<String>,
    pub aliases: Vec<String>,
    pub metadata_json: String,
    pub writer: String,
    /// Time to live of the new version, in seconds.
    pub ttl_seconds: Option<u64>,
}

/// The entries, upload receipts and removals of one request.
#[derive(Default)]
struct Batch {
    entries: Vec<v1::Entry>,
    receipts: Vec<String>,
    removals: Vec<String>,
}

/// Splits entries (each with the receipt of its upload, if it was uploaded now) and
/// removals into requests of bounded count and size.
fn batches(hashed: &[HashedFile], receipts: &Receipts, removals: Vec<String>) -> Vec<Batch> {
    let mut out = vec![Batch::default()];
    let mut bytes = 0;
    let mut sent_receipts = std::collections::HashSet::new();
    let mut push_room = |out: &mut Vec<Batch>, size: usize| {
        let last = out.last().expect("never empty");
        if last.entries.len() + last.removals.len() >= ENTRIES_PER_REQUEST || bytes + size > BYTES_PER_REQUEST {
            out.push(Batch::default());
            bytes = 0;
        }
        bytes += size;
    };
    for file in hashed {
        let entry = entry_to_proto(&file.entry());
        // A blob's receipt goes once per request that names it.
        let receipt = receipts.get(&file.sha256);
        let receipt_bytes = receipt.map_or(0, |r| r.len() + 4);
        push_room(&mut out, entry.path.len() + 100 + receipt_bytes);
        let last = out.last_mut().expect("never empty");
        if last.entries.is_empty() {
            sent_receipts.clear();
        }
        if let Some(receipt) = receipt
            && sent_receipts.insert(file.sha256)
        {
            last.receipts.push(receipt.clone());
        }
        last.entries.push(entry);
    }
    for removal in removals {
        push_room(&mut out, removal.len() + 8);
        out.last_mut().expect("never empty").removals.push(removal);
    }
    out
}

impl Client {
    /// Collects and hashes (through the stat cache).
    async fn hash_sources(
        &self,
        sources: &[(PathBuf, Option<String>)],
    ) -> Result<(Vec<HashedFile>, HashStats), ClientError> {
        let started = std::time::Instant::now();
        let files = collect(sources, &self.walk_rules())?;
        let cache = if self.use_stat_cache { StatCache::open_default() } else { StatCache::disabled() };
        let (hashed, stats) = hash_files(files, cache, self.progress.clone()).await?;
        tracing::debug!(
            files = hashed.len(),
            bytes_hashed = stats.bytes_hashed,
            cache_hits = stats.stat_cache_hits,
            hash_ms = started.elapsed().as_millis() as u64,
            "hashed files"
        );
        Ok((hashed, stats))
    }

    /// Collects, hashes (through the stat cache) and uploads what the server lacks.
    async fn prepare(
        &self,
        artifact: &str,
        sources: &[(PathBuf, Option<String>)],
    ) -> Result<(Vec<HashedFile>, Uploaded, HashStats), ClientError> {
        let (hashed, stats) = self.hash_sources(sources).await?;
        let uploaded = self.upload_missing(artifact, &hashed).await?;
        Ok((hashed, uploaded, stats))
    }

    /// Commits `paths` as the next version of an artifact (or finds it identical to the latest).
    pub async fn log(&self, request: LogRequest) -> Result<CommitSummary, ClientError> {
        if request.sources.is_empty() {
            return Err(ClientError::Usage("log needs at least one PATH".into()));
        }
        let (hashed, stats) = self.hash_sources(&request.sources).await?;
        // Content identical to the latest version has nothing to upload: skip asking.
        let digest = cairn_core::version_digest(&hashed.iter().map(HashedFile::entry).collect::<Vec<_>>())?;
        let unchanged = match self.get_version(&request.name).await {
            Ok(latest) => latest.digest == digest.to_string(),
            Err(_) => false,
        };
        let upload_started = std::time::Instant::now();
        let mut uploaded =
            if unchanged { Uploaded::default() } else { self.upload_missing(&request.name, &hashed).await? };
        tracing::debug!(
            uploaded = uploaded.bytes,
            upload_ms = upload_started.elapsed().as_millis() as u64,
            "uploaded missing blobs"
        );
        let commit_started = std::time::Instant::now();
        let header = v1::LogRequest {
            part: Some(log_request::Part::Header(v1::LogHeader {
                project: self.project.clone(),
                artifact: request.name.clone(),
                r#type: request.artifact_type.clone(),
                aliases: request.aliases.clone(),
                metadata_json: request.metadata_json.clone(),
                writer_id: request.writer.clone(),
                request_id: uuid::Uuid::new_v4().to_string(),
                ttl_seconds: request.ttl_seconds,
            })),
        };
        let messages = |receipts: &Receipts| -> Vec<v1::LogRequest> {
            std::iter::once(header.clone())
                .chain(batches(&hashed, receipts, Vec::new()).into_iter().map(|batch| v1::LogRequest {
                    part: Some(log_request::Part::Batch(v1::EntryBatch {
                        entries: batch.entries,
                        upload_receipts: batch.receipts,
                    })),
                }))
                .collect()
        };
        let send = |messages: Vec<v1::LogRequest>| {
            self.coordinator_call(move |mut c| {
                let messages = messages.clone();
                async move { c.log(stream::iter(messages)).await.map(|r| r.into_inner()) }
            })
        };
        let response = match send(messages(&uploaded.receipts)).await {
            // A blob this log did not upload is gone: the latest version it matched was
            // deleted and collected, or a collection took one FindMissingBlobs had called
            // present (its answer is advice). Upload what is missing now, and send again.
            Err(err) if matches!(err.reason(), Some("BLOB_NOT_STORED" | "UPLOAD_RECEIPT_MISSING")) => {
                uploaded = self.upload_missing(&request.name, &hashed).await?;
                send(messages(&uploaded.receipts)).await?
            }
            other => other?,
        };
        tracing::debug!(commit_ms = commit_started.elapsed().as_millis() as u64, "logged the version");
        let version = required(response.version, "version")?;
        Ok(CommitSummary::new(version, response.dedup, uploaded.bytes).with_hashing(stats))
    }

    /// Adds this writer's files to the draft (opening it if needed), optionally sealing.
    pub async fn upsert(&self, request: UpsertRequest) -> Result<DraftSummary, ClientError> {
        if request.sources.is_empty() && !request.seal {
            return Err(ClientError::Usage("upsert needs a PATH, or --seal to only seal the writer".into()));
        }
        let Some(artifact_type) = request.artifact_type.clone() else {
            if !request.sources.is_empty() {
                return Err(ClientError::Usage("--type is required when upserting files".into()));
            }
            return self.seal(&request.name, &request.distributed_id, &request.writer).await;
        };
        let (hashed, mut uploaded, stats) = self.prepare(&request.name, &request.sources).await?;
        let parts = batches(&hashed, &uploaded.receipts, Vec::new());
        let last = parts.len() - 1;
        let mut draft = None;
        let mut uploaded_again = false;
        for (i, Batch { entries, receipts, .. }) in parts.into_iter().enumerate() {
            let message = v1::UpsertRequest {
                project: self.project.clone(),
                artifact: request.name.clone(),
                r#type: artifact_type.clone(),
                distributed_id: request.distributed_id.clone(),
                writer_id: request.writer.clone(),
                entries,
                removals: Vec::new(),
                expected_writers: request.expected_writers,
                seal: request.seal && i == last,
                conflict_policy: if request.last_writer_wins {
                    v1::ConflictPolicy::LastWriterWins
                } else {
                    v1::ConflictPolicy::Reject
                } as i32,
                base: String::new(),
                ttl_seconds: request.ttl_seconds,
                request_id: uuid::Uuid::new_v4().to_string(),
                upload_receipts: receipts,
            };
            let send = |message: v1::UpsertRequest| {
                self.coordinator_call(move |mut c| {
                    let message = message.clone();
                    async move { c.upsert(message).await.map(|r| r.into_inner().draft) }
                })
            };
            draft = match send(message.clone()).await {
                // A blob FindMissingBlobs called present was collected meanwhile (its
                // answer is advice): upload what is missing now, once, and send again.
                Err(err)
                    if !uploaded_again
                        && matches!(err.reason(), Some("BLOB_NOT_STORED" | "UPLOAD_RECEIPT_MISSING")) =>
                {
                    uploaded_again = true;
                    let again = self.upload_missing(&request.name, &hashed).await?;
                    uploaded.bytes += again.bytes;
                    uploaded.receipts.extend(again.receipts);
                    let retry = batches(&hashed, &uploaded.receipts, Vec::new()).swap_remove(i);
                    send(v1::UpsertRequest { entries: retry.entries, upload_receipts: retry.receipts, ..message })
                        .await?
                }
                other => other?,
            };
        }
        let draft = required(draft, "draft")?;
        Ok(DraftSummary::new(draft, Some(&request.writer), uploaded.bytes).with_hashing(stats))
    }

    /// Seals one writer of an existing draft.
    pub async fn seal(&self, name: &str, distributed_id: &str, writer: &str) -> Result<DraftSummary, ClientError> {
        let request = v1::SealWriterRequest {
            project: self.project.clone(),
            artifact: name.to_owned(),
            distributed_id: distributed_id.to_owned(),
            writer_id: writer.to_owned(),
        };
        let draft = self
            .coordinator_call(|mut c| {
                let request = request.clone();
                async move { c.seal_writer(request).await.map(|r| r.into_inner().draft) }
            })
            .await?;
        let draft = required(draft, "draft")?;
        Ok(DraftSummary::new(draft, Some(writer), 0))
    }

    /// Commits a draft; returns the same version again when it was committed before.
    pub async fn finish(&self, request: FinishRequest) -> Result<CommitSummary, ClientError> {
        let message = v1::FinishRequest {
            project: self.project.clone(),
            artifact: request.name.clone(),
            distributed_id: request.distributed_id.clone(),
            aliases: request.aliases.clone(),
            wait_seconds: request.wait_seconds,
            force: request.force,
            expected_writers: request.expected_writers,
            metadata_json: request.metadata_json.clone(),
            request_id: uuid::Uuid::new_v4().to_string(),
            ttl_seconds: request.ttl_seconds,
        };
        let response = self
            .coordinator_call(|mut c| {
                let message = message.clone();
                async move { c.finish(message).await.map(|r| r.into_inner()) }
            })
            .await?;
        let version = required(response.version, "version")?;
        Ok(CommitSummary::new(version, response.dedup, 0))
    }

    /// Abandons a draft.
    pub async fn abort(&self, name: &str, distributed_id: &str) -> Result<DraftSummary, ClientError> {
        let request = v1::AbortRequest {
            project: self.project.clone(),
            artifact: name.to_owned(),
            distributed_id: distributed_id.to_owned(),
        };
        let draft = self
            .coordinator_call(|mut c| {
                let request = request.clone();
                async move { c.abort(request).await.map(|r| r.into_inner().draft) }
            })
            .await?;
        let draft = required(draft, "draft")?;
        Ok(DraftSummary::new(draft, None, 0))
    }

    /// Reads a draft's state.
    pub async fn draft(&self, name: &str, distributed_id: &str) -> Result<DraftSummary, ClientError> {
        let request = v1::GetDraftRequest {
            project: self.project.clone(),
            artifact: name.to_owned(),
            distributed_id: distributed_id.to_owned(),
        };
        let draft = self
            .coordinator_call(|mut c| {
                let request = request.clone();
                async move { c.get_draft(request).await.map(|r| r.into_inner().draft) }
            })
            .await?;
        let draft = required(draft, "draft")?;
        Ok(DraftSummary::new(draft, None, 0))
    }

    /// Makes a new version from `reference` plus the added files minus the removed paths.
    /// Only the change is hashed, uploaded and sent; on any refusal nothing is committed.
    pub async fn edit(&self, request: EditRequest) -> Result<CommitSummary, ClientError> {
        let reference = Reference::parse(&request.reference)?;
        let base = self.get_version(&request.reference).await?;
        let project = reference.project.clone().unwrap_or_else(|| self.project.clone());
        let client = if project == self.project { self.clone() } else { Client { project, ..self.clone() } };
        for path in &request.removes {
            EntryPath::parse(path)?;
        }
        let (hashed, uploaded, stats) = client.prepare(&base.name, &request.adds).await?;
        let distributed_id = format!("edit-{}", uuid::Uuid::new_v4().simple());
        let parts = batches(&hashed, &uploaded.receipts, request.removes.clone());
        let last = parts.len() - 1;
        for (i, Batch { entries, receipts, removals }) in parts.into_iter().enumerate() {
            let message = v1::UpsertRequest {
                project: client.project.clone(),
                artifact: base.name.clone(),
                r#type: base.artifact_type.clone(),
                distributed_id: distributed_id.clone(),
                writer_id: request.writer.clone(),
                entries,
                removals,
                expected_writers: Some(1),
                seal: i == last,
                conflict_policy: v1::ConflictPolicy::Reject as i32,
                base: format!("v{}", base.index),
                ttl_seconds: 0,
                request_id: uuid::Uuid::new_v4().to_string(),
                upload_receipts: receipts,
            };
            let staged = client
                .coordinator_call(|mut c| {
                    let message = message.clone();
                    async move { c.upsert(message).await.map(|_| ()) }
                })
                .await;
            if let Err(err) = staged {
                // Leave nothing behind: a partly staged edit is abandoned.
                let _ = client.abort(&base.name, &distributed_id).await;
                return Err(err);
            }
        }
        let mut summary = client
            .finish(FinishRequest {
                name: base.name.clone(),
                distributed_id,
                aliases: request.aliases.clone(),
                metadata_json: request.metadata_json.clone(),
                ttl_seconds: request.ttl_seconds,
                ..FinishRequest::default()
            })
            .await?;
        summary.uploaded_bytes = uploaded.bytes;
        Ok(summary.with_hashing(stats))
    }
}
