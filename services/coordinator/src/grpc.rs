//! The CoordinatorService gRPC edge: decodes requests into commands, runs them on the
//! engine, encodes results. Errors become statuses with ErrorInfo here and nowhere else.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn_core::{ConflictPolicy, CoreError, Digest, DraftState, Entry, EntryPath, Selector};
use cairn_proto::v1::coordinator_service_client::CoordinatorServiceClient;
use cairn_proto::v1::{self, coordinator_service_server::CoordinatorService, log_request};
use cairn_proto::{entry_from_proto, entry_to_proto};
use futures::StreamExt;
use futures::stream::BoxStream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Response, Status, Streaming};

use cairn_auth::{Role, TokenStore};

use crate::drafts::{DraftView, FinishCommand, UpsertCommand};
use crate::versions::ResolvedVersion;
use crate::{CoordError, Coordinator, MAX_ENTRIES_PER_REQUEST, ProjectQuota, ProjectUsage};

/// Entries per GetManifest message.
const MANIFEST_PAGE: usize = 1000;

/// Most digests per FindMissingBlobs request.
const MAX_DIGESTS_PER_REQUEST: usize = 10_000;
/// Request metadata marking a request one replica forwarded to the draft's owner; a
/// forwarded request is never forwarded again.
const FORWARDED_HEADER: &str = "x-cairn-forwarded";

/// The gRPC face of a [`Coordinator`].
pub struct CoordinatorGrpc {
    engine: Arc<Coordinator>,
    peers: Mutex<HashMap<String, CoordinatorServiceClient<Channel>>>,
    /// Tokens callers must present; None: no authentication (`--insecure-no-auth`).
    auth: Option<Arc<TokenStore>>,
    /// TLS of calls to other replicas, when they serve TLS.
    peer_tls: Option<tonic::transport::ClientTlsConfig>,
}

impl CoordinatorGrpc {
    /// Serves `engine`, authenticating callers against `auth` when given.
    pub fn new(
        engine: Arc<Coordinator>,
        auth: Option<Arc<TokenStore>>,
        peer_tls: Option<tonic::transport::ClientTlsConfig>,
    ) -> Self {
        Self { engine, peers: Mutex::new(HashMap::new()), auth, peer_tls }
    }

    /// [`Self::authorize`] in the project of the reference `fields` picks out of the
    /// request (the reference's own project, else the request's).
    async fn authorize_reference<T>(
        &self,
        request: &Request<T>,
        needs: Role,
        fields: impl Fn(&T) -> (&String, &String),
    ) -> Result<(), Status> {
        let (project, reference) = fields(request.get_ref());
        self.authorize(request, needs, Some(&project_of(project, reference))).await
    }

    /// Checks that the caller may act with `needs` in `project` (None: a call of no one
    /// project); nothing is checked when authentication is off.
    async fn authorize<T>(&self, request: &Request<T>, needs: Role, project: Option<&str>) -> Result<(), Status> {
        if let Some(auth) = &self.auth {
            auth.authenticate(request.metadata()).await?.allows(needs, project)?;
        }
        Ok(())
    }

    /// With authentication, refuses entries naming blobs the caller has not shown it holds
    /// (claims.rs).
    async fn check_claims(
        &self,
        project: &str,
        artifact: &str,
        entries: &[cairn_core::Entry],
        receipts: &[String],
    ) -> Result<(), Status> {
        let Some(auth) = &self.auth else { return Ok(()) };
        let key = auth.grant_key().await?;
        Ok(self.engine.check_claims(key, project, artifact, entries, receipts).await?)
    }

    /// A client of the replica at `address`, connected lazily and reused.
    fn peer(&self, address: &str) -> Result<CoordinatorServiceClient<Channel>, Status> {
        let mut peers = self.peers.lock().expect("peer cache lock poisoned");
        if let Some(client) = peers.get(address) {
            return Ok(client.clone());
        }
        let mut endpoint = Endpoint::from_shared(address.to_owned())
            .map_err(|e| Status::from(CoordError::Malformed(format!("bad owner address {address:?}: {e}"))))?
            .connect_timeout(Duration::from_secs(5));
        if let Some(tls) = self.peer_tls.clone().filter(|_| address.starts_with("https://")) {
            endpoint = endpoint
                .tls_config(tls)
                .map_err(|e| Status::from(CoordError::Malformed(format!("TLS to {address:?}: {e}"))))?;
        }
        let client = CoordinatorServiceClient::new(endpoint.connect_lazy());
        peers.insert(address.to_owned(), client.clone());
        Ok(client)
    }

    /// The owner's address when `result` says another replica owns the draft and the
    /// request may still be forwarded.
    fn forward_target<T>(result: &Result<T, CoordError>, forwarded: bool) -> Option<String> {
        match result {
            Err(CoordError::NotOwner { address, .. }) if !forwarded => Some(address.clone()),
            _ => None,
        }
    }

    async fn version_proto(&self, version: &ResolvedVersion) -> Result<v1::Version, CoordError> {
        let aliases = self.engine.aliases_of(&version.project, &version.artifact).await?;
        Ok(version_to_proto(version, aliases.get(&version.record.index).cloned().unwrap_or_default()))
    }
}

fn is_forwarded<T>(request: &Request<T>) -> bool {
    request.metadata().contains_key(FORWARDED_HEADER)
}

/// The caller's credentials, passed on when a request is forwarded: the owner
/// authenticates the caller itself.
fn bearer_of<T>(request: &Request<T>) -> Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>> {
    request.metadata().get(cairn_auth::AUTHORIZATION).cloned()
}

/// The request to send to a draft's owner: marked forwarded, with the caller's token and
/// a deadline so that a hung owner (stalled, partitioned) does not hold it for ever.
fn forward<T>(
    message: T,
    timeout: Duration,
    bearer: &Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>,
) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(FORWARDED_HEADER, tonic::metadata::MetadataValue::from_static("1"));
    if let Some(bearer) = bearer {
        request.metadata_mut().insert(cairn_auth::AUTHORIZATION, bearer.clone());
    }
    request.set_timeout(timeout);
    request
}

/// The project a reference names, else the request's.
fn project_of<'a>(default: &'a str, reference: &'a str) -> std::borrow::Cow<'a, str> {
    match cairn_core::Reference::parse(reference).ok().and_then(|r| r.project) {
        Some(project) => std::borrow::Cow::Owned(project),
        None => std::borrow::Cow::Borrowed(default),
    }
}

/// A forwarded call that got no answer becomes a retryable UNAVAILABLE: by the retry, the
/// owner has answered again, or its lease has lapsed and another replica can take over.
fn owner_unreachable(owner: &str) -> impl FnOnce(Status) -> Status + '_ {
    move |status| match status.code() {
        tonic::Code::DeadlineExceeded | tonic::Code::Cancelled | tonic::Code::Unknown => cairn_proto::error_status(
            tonic::Code::Unavailable,
            "OWNER_UNREACHABLE",
            format!("the draft's owner at {owner} did not answer: {}", status.message()),
            vec![("owner_address", owner.to_owned())],
        ),
        _ => status,
    }
}

impl CoordinatorGrpc {
    /// The token store, or why token calls cannot be served.
    fn token_store(&self) -> Result<&Arc<TokenStore>, Status> {
        self.auth.as_ref().ok_or_else(|| {
            cairn_proto::error_status(
                tonic::Code::FailedPrecondition,
                "AUTH_DISABLED",
                "this server runs without authentication (--insecure-no-auth): it has no tokens",
                vec![],
            )
        })
    }
}

fn role_to_proto(role: Role) -> v1::TokenRole {
    match role {
        Role::Reader => v1::TokenRole::Reader,
        Role::Writer => v1::TokenRole::Writer,
        Role::Admin => v1::TokenRole::Admin,
    }
}

fn role_from_proto(value: i32) -> Result<Role, Status> {
    match v1::TokenRole::try_from(value) {
        Ok(v1::TokenRole::Reader) => Ok(Role::Reader),
        Ok(v1::TokenRole::Writer) => Ok(Role::Writer),
        Ok(v1::TokenRole::Admin) => Ok(Role::Admin),
        _ => Err(cairn_auth::AuthError::Invalid("role must be reader, writer or admin".into()).into()),
    }
}

fn token_to_proto(record: &cairn_auth::TokenRecord) -> v1::TokenInfo {
    v1::TokenInfo {
        id: record.id.clone(),
        project: record.project.clone(),
        role: role_to_proto(record.role) as i32,
        create_time_unix_ms: record.created_unix_ms,
        expire_time_unix_ms: record.expires_unix_ms,
        revoke_time_unix_ms: record.revoked_unix_ms,
    }
}

fn version_to_proto(version: &ResolvedVersion, mut aliases: Vec<String>) -> v1::Version {
    if version.is_latest {
        aliases.insert(0, "latest".to_owned());
    }
    let record = &version.record;
    v1::Version {
        name: format!("projects/{}/artifacts/{}/versions/{}", version.project, version.artifact, record.index),
        project: version.project.clone(),
        artifact: version.artifact.clone(),
        r#type: version.artifact_type.clone(),
        index: record.index,
        digest: record.digest.to_string(),
        file_count: record.files,
        total_bytes: record.bytes,
        metadata_json: record.metadata_json.clone(),
        producers: record.producers.clone(),
        create_time_unix_ms: record.created_at_ms as i64,
        aliases,
        expire_time_unix_ms: record.expires_at_ms.map(|at| at as i64),
    }
}

fn draft_to_proto(view: &DraftView) -> v1::DraftInfo {
    let record = &view.record;
    let state = match record.state {
        DraftState::Open => v1::DraftState::Open,
        DraftState::Sealing => v1::DraftState::Sealing,
        DraftState::Committed { .. } => v1::DraftState::Committed,
        DraftState::Aborted => v1::DraftState::Aborted,
        DraftState::Expired => v1::DraftState::Expired,
    };
    let committed_index = match record.state {
        DraftState::Committed { index, .. } => Some(index),
        _ => None,
    };
    v1::DraftInfo {
        project: record.project.clone(),
        artifact: record.artifact.clone(),
        distributed_id: record.distributed_id.clone(),
        state: state as i32,
        r#type: record.artifact_type.clone(),
        writers: record
            .writers
            .iter()
            .map(|(id, w)| v1::WriterStatus {
                writer_id: id.clone(),
                sealed: w.sealed,
                staged_entries: view.writer_entries.get(id).copied().unwrap_or(0),
            })
            .collect(),
        expected_writers: record.expected_writers.unwrap_or(0),
        staged_entries: view.staged_entries,
        expire_time_unix_ms: record.expires_at_ms as i64,
        base_index: record.base.as_ref().map(|b| b.index),
        committed_index,
        conflict_policy: match record.policy {
            ConflictPolicy::Reject => v1::ConflictPolicy::Reject,
            ConflictPolicy::LastWriterWins => v1::ConflictPolicy::LastWriterWins,
        } as i32,
    }
}

fn entries_from_proto(entries: &[v1::Entry]) -> Result<Vec<Entry>, CoordError> {
    if entries.len() > MAX_ENTRIES_PER_REQUEST {
        return Err(CoreError::TooManyEntries { count: entries.len(), limit: MAX_ENTRIES_PER_REQUEST }.into());
    }
    Ok(entries.iter().map(entry_from_proto).collect::<Result<_, _>>()?)
}

fn policy_from_proto(value: i32) -> ConflictPolicy {
    match v1::ConflictPolicy::try_from(value) {
        Ok(v1::ConflictPolicy::LastWriterWins) => ConflictPolicy::LastWriterWins,
        _ => ConflictPolicy::Reject,
    }
}

#[tonic::async_trait]
impl CoordinatorService for CoordinatorGrpc {
    async fn upsert(&self, request: Request<v1::UpsertRequest>) -> Result<Response<v1::UpsertResponse>, Status> {
        self.authorize(&request, Role::Writer, Some(&request.get_ref().project)).await?;
        let (forwarded, bearer) = (is_forwarded(&request), bearer_of(&request));
        let r = request.into_inner();
        let original = r.clone();
        let base = match r.base.as_str() {
            "" => None,
            text => Some(Selector::parse(text).map_err(CoordError::from)?),
        };
        let limit_seconds = self.engine.config.max_draft_ttl.as_secs();
        if r.ttl_seconds > limit_seconds {
            return Err(CoordError::TtlTooLong { ttl_seconds: r.ttl_seconds, limit_seconds }.into());
        }
        let cmd = UpsertCommand {
            puts: entries_from_proto(&r.entries)?,
            removes: r
                .removals
                .iter()
                .map(|p| EntryPath::parse(p))
                .collect::<Result<_, _>>()
                .map_err(CoordError::from)?,
            project: r.project,
            artifact: r.artifact,
            artifact_type: r.r#type,
            distributed_id: r.distributed_id,
            writer: r.writer_id,
            expected_writers: r.expected_writers,
            seal: r.seal,
            policy: policy_from_proto(r.conflict_policy),
            base,
            ttl_ms: r.ttl_seconds.saturating_mul(1000),
            request_id: r.request_id,
        };
        self.check_claims(&cmd.project, &cmd.artifact, &cmd.puts, &r.upload_receipts).await?;
        let result = self.engine.upsert(cmd).await;
        if let Some(owner) = Self::forward_target(&result, forwarded) {
            let timeout = self.engine.config.forward_timeout;
            return self
                .peer(&owner)?
                .upsert(forward(original, timeout, &bearer))
                .await
                .map_err(owner_unreachable(&owner));
        }
        Ok(Response::new(v1::UpsertResponse { draft: Some(draft_to_proto(&result?)) }))
    }

    async fn seal_writer(
        &self,
        request: Request<v1::SealWriterRequest>,
    ) -> Result<Response<v1::SealWriterResponse>, Status> {
        self.authorize(&request, Role::Writer, Some(&request.get_ref().project)).await?;
        let (forwarded, bearer) = (is_forwarded(&request), bearer_of(&request));
        let r = request.into_inner();
        let result = self.engine.seal_writer(&r.project, &r.artifact, &r.distributed_id, &r.writer_id).await;
        if let Some(owner) = Self::forward_target(&result, forwarded) {
            let timeout = self.engine.config.forward_timeout;
            return self
                .peer(&owner)?
                .seal_writer(forward(r, timeout, &bearer))
                .await
                .map_err(owner_unreachable(&owner));
        }
        Ok(Response::new(v1::SealWriterResponse { draft: Some(draft_to_proto(&result?)) }))
    }

    async fn finish(&self, request: Request<v1::FinishRequest>) -> Result<Response<v1::FinishResponse>, Status> {
        self.authorize(&request, Role::Writer, Some(&request.get_ref().project)).await?;
        let (forwarded, bearer) = (is_forwarded(&request), bearer_of(&request));
        let r = request.into_inner();
        let original = r.clone();
        let cmd = FinishCommand {
            project: r.project,
            artifact: r.artifact,
            distributed_id: r.distributed_id,
            aliases: r.aliases,
            wait: Duration::from_secs(r.wait_seconds.into()),
            force: r.force,
            expected_writers: r.expected_writers,
            metadata_json: r.metadata_json,
            ttl_ms: r.ttl_seconds.map(|s| s.saturating_mul(1000)),
        };
        let result = self.engine.finish(cmd).await;
        if let Some(owner) = Self::forward_target(&result, forwarded) {
            // A finish may wait for its writers: its deadline covers that wait too.
            let timeout = self.engine.config.forward_timeout + Duration::from_secs(original.wait_seconds.into());
            return self
                .peer(&owner)?
                .finish(forward(original, timeout, &bearer))
                .await
                .map_err(owner_unreachable(&owner));
        }
        let (version, dedup) = result?;
        let version = self.version_proto(&version).await?;
        Ok(Response::new(v1::FinishResponse { version: Some(version), dedup }))
    }

    async fn abort(&self, request: Request<v1::AbortRequest>) -> Result<Response<v1::AbortResponse>, Status> {
        self.authorize(&request, Role::Writer, Some(&request.get_ref().project)).await?;
        let (forwarded, bearer) = (is_forwarded(&request), bearer_of(&request));
        let r = request.into_inner();
        let result = self.engine.abort(&r.project, &r.artifact, &r.distributed_id).await;
        if let Some(owner) = Self::forward_target(&result, forwarded) {
            let timeout = self.engine.config.forward_timeout;
            return self.peer(&owner)?.abort(forward(r, timeout, &bearer)).await.map_err(owner_unreachable(&owner));
        }
        Ok(Response::new(v1::AbortResponse { draft: Some(draft_to_proto(&result?)) }))
    }

    async fn get_draft(&self, request: Request<v1::GetDraftRequest>) -> Result<Response<v1::GetDraftResponse>, Status> {
        self.authorize(&request, Role::Reader, Some(&request.get_ref().project)).await?;
        let (forwarded, bearer) = (is_forwarded(&request), bearer_of(&request));
        let r = request.into_inner();
        let result = self.engine.get_draft(&r.project, &r.artifact, &r.distributed_id).await;
        if let Some(owner) = Self::forward_target(&result, forwarded) {
            let timeout = self.engine.config.forward_timeout;
            return self.peer(&owner)?.get_draft(forward(r, timeout, &bearer)).await.map_err(owner_unreachable(&owner));
        }
        Ok(Response::new(v1::GetDraftResponse { draft: Some(draft_to_proto(&result?)) }))
    }

    async fn log(&self, request: Request<Streaming<v1::LogRequest>>) -> Result<Response<v1::LogResponse>, Status> {
        // The caller is known before anything is read; the project comes with the header.
        let caller = match &self.auth {
            Some(auth) => Some(auth.authenticate(request.metadata()).await?),
            None => None,
        };
        let mut stream = request.into_inner();
        let header = match stream.message().await? {
            Some(v1::LogRequest { part: Some(log_request::Part::Header(header)) }) => header,
            _ => return Err(CoordError::Malformed("the first message of Log must be the header".into()).into()),
        };
        if let Some(caller) = caller {
            caller.allows(Role::Writer, Some(&header.project))?;
        }
        let header = crate::LogHeader {
            project: header.project,
            artifact: header.artifact,
            artifact_type: header.r#type,
            writer: (!header.writer_id.is_empty()).then_some(header.writer_id),
            aliases: header.aliases,
            metadata_json: header.metadata_json,
            request_id: (!header.request_id.is_empty()).then_some(header.request_id),
            ttl_ms: header.ttl_seconds.map(|s| s.saturating_mul(1000)),
        };
        self.engine.check_log_header(&header).await?;
        let mut entries = Vec::new();
        let mut receipts = Vec::new();
        // Memory the entries take until the commit, counted against the replica's budget
        // for all Logs in flight (released when this call ends).
        let mut held = crate::log_budget::Held::default();
        while let Some(message) = stream.message().await? {
            match message.part {
                Some(log_request::Part::Batch(mut batch)) => {
                    let receipt_bytes: u64 = batch.upload_receipts.iter().map(|r| r.len() as u64).sum();
                    held.take(&self.engine.log_budget, crate::log_budget::cost(&batch.entries) + receipt_bytes)?;
                    entries.extend(entries_from_proto(&batch.entries)?);
                    receipts.append(&mut batch.upload_receipts);
                }
                _ => return Err(CoordError::Malformed("Log sent a second header or an empty message".into()).into()),
            }
        }
        self.check_claims(&header.project, &header.artifact, &entries, &receipts).await?;
        drop(receipts);
        let (project, artifact) = (header.project.clone(), header.artifact.clone());
        let (version, dedup) = self.engine.log(header, entries).await?;
        let resolved = self.engine.resolve(&project, &artifact, &Selector::Index(version.index)).await?;
        Ok(Response::new(v1::LogResponse { version: Some(self.version_proto(&resolved).await?), dedup }))
    }

    async fn get_version(
        &self,
        request: Request<v1::GetVersionRequest>,
    ) -> Result<Response<v1::GetVersionResponse>, Status> {
        self.authorize_reference(&request, Role::Reader, |r| (&r.project, &r.reference)).await?;
        let r = request.into_inner();
        let version = self.engine.resolve_reference(&r.project, &r.reference).await?;
        Ok(Response::new(v1::GetVersionResponse { version: Some(self.version_proto(&version).await?) }))
    }

    async fn list_versions(
        &self,
        request: Request<v1::ListVersionsRequest>,
    ) -> Result<Response<v1::ListVersionsResponse>, Status> {
        self.authorize(&request, Role::Reader, Some(&request.get_ref().project)).await?;
        let r = request.into_inner();
        let (versions, next_page_token) =
            self.engine.list_versions(&r.project, &r.artifact, r.page_size, &r.page_token).await?;
        let aliases = self.engine.aliases_of(&r.project, &r.artifact).await?;
        let versions = versions
            .iter()
            .map(|v| version_to_proto(v, aliases.get(&v.record.index).cloned().unwrap_or_default()))
            .collect();
        Ok(Response::new(v1::ListVersionsResponse { versions, next_page_token }))
    }

    async fn delete_version(
        &self,
        request: Request<v1::DeleteVersionRequest>,
    ) -> Result<Response<v1::DeleteVersionResponse>, Status> {
        self.authorize_reference(&request, Role::Admin, |r| (&r.project, &r.reference)).await?;
        let r = request.into_inner();
        let deletion = self.engine.delete_version(&r.project, &r.reference, r.force).await?;
        Ok(Response::new(v1::DeleteVersionResponse {
            project: deletion.project,
            artifact: deletion.artifact,
            deleted_indices: deletion.deleted,
            deleted_aliases: deletion.deleted_aliases,
            latest_index: deletion.latest,
        }))
    }

    async fn collect_garbage(
        &self,
        request: Request<v1::CollectGarbageRequest>,
    ) -> Result<Response<v1::CollectGarbageResponse>, Status> {
        // A collection spans every project: an admin of one may not run it.
        self.authorize(&request, Role::Admin, Some(cairn_auth::ALL_PROJECTS)).await?;
        let r = request.into_inner();
        let grace = r.grace_seconds.map_or(self.engine.config.gc_grace, Duration::from_secs);
        let options = crate::GcOptions { dry_run: r.dry_run, grace, purge_trash: r.purge_trash };
        let report = self.engine.collect_garbage(options).await?;
        Ok(Response::new(v1::CollectGarbageResponse {
            dry_run: report.dry_run,
            deleted_blobs: report.deleted_blobs,
            freed_bytes: report.freed_bytes,
            kept_blobs: report.kept_blobs,
            deleted_manifests: report.deleted_manifests,
            deleted_staging: report.deleted_staging,
            deleted_checkpoints: report.deleted_checkpoints,
            deleted_journals: report.deleted_journals,
            generation: report.generation,
            duration_ms: report.duration_ms,
            expired_versions: report.expired_versions,
            retired_versions: report.retired_versions,
            aborted_uploads: report.aborted_uploads,
            trashed_bytes: report.trashed_bytes,
            purged_blobs: report.purged_blobs,
            trash_bytes: report.trash_bytes,
            referenced_missing: report.referenced_missing,
        }))
    }

    async fn fsck(&self, request: Request<v1::FsckRequest>) -> Result<Response<v1::FsckResponse>, Status> {
        self.authorize(&request, Role::Admin, Some(cairn_auth::ALL_PROJECTS)).await?;
        let r = request.into_inner();
        let report = self.engine.fsck(r.deep, r.repair).await?;
        let problem = |p: crate::FsckProblem| v1::FsckProblem { r#ref: p.reference, path: p.path, sha256: p.sha256 };
        Ok(Response::new(v1::FsckResponse {
            versions_checked: report.versions_checked,
            blobs_checked: report.blobs_checked,
            missing_count: report.missing.len() as u64,
            corrupt_count: report.corrupt.len() as u64,
            missing: report.missing.into_iter().take(crate::FSCK_LISTED).map(problem).collect(),
            corrupt: report.corrupt.into_iter().take(crate::FSCK_LISTED).map(problem).collect(),
            repaired: report.repaired,
        }))
    }

    async fn set_retention(
        &self,
        request: Request<v1::SetRetentionRequest>,
    ) -> Result<Response<v1::SetRetentionResponse>, Status> {
        self.authorize(&request, Role::Admin, Some(&request.get_ref().project)).await?;
        let r = request.into_inner();
        let keep_last = self.engine.set_retention(&r.project, &r.artifact, r.keep_last).await?;
        Ok(Response::new(v1::SetRetentionResponse { keep_last: keep_last.unwrap_or(0) }))
    }

    async fn delete_artifact(
        &self,
        request: Request<v1::DeleteArtifactRequest>,
    ) -> Result<Response<v1::DeleteArtifactResponse>, Status> {
        self.authorize(&request, Role::Admin, Some(&request.get_ref().project)).await?;
        let r = request.into_inner();
        let deletion = self.engine.delete_artifact(&r.project, &r.artifact, r.force).await?;
        Ok(Response::new(v1::DeleteArtifactResponse {
            project: deletion.project,
            artifact: deletion.artifact,
            deleted_indices: deletion.deleted,
            deleted_aliases: deletion.deleted_aliases,
        }))
    }

    async fn list_artifacts(
        &self,
        request: Request<v1::ListArtifactsRequest>,
    ) -> Result<Response<v1::ListArtifactsResponse>, Status> {
        self.authorize(&request, Role::Reader, Some(&request.get_ref().project)).await?;
        let r = request.into_inner();
        let (artifacts, next_page_token) = self.engine.list_artifacts(&r.project, r.page_size, &r.page_token).await?;
        let artifacts = artifacts
            .into_iter()
            .map(|(name, record)| v1::ArtifactSummary {
                name: format!("projects/{}/artifacts/{name}", r.project),
                artifact: name,
                r#type: record.artifact_type.clone(),
                version_count: record.live_versions(),
                latest_index: record.latest().unwrap_or(0),
            })
            .collect();
        Ok(Response::new(v1::ListArtifactsResponse { artifacts, next_page_token }))
    }

    type GetManifestStream = BoxStream<'static, Result<v1::GetManifestResponse, Status>>;

    async fn get_manifest(
        &self,
        request: Request<v1::GetManifestRequest>,
    ) -> Result<Response<Self::GetManifestStream>, Status> {
        self.authorize_reference(&request, Role::Reader, |r| (&r.project, &r.reference)).await?;
        let r = request.into_inner();
        let version = self.engine.resolve_reference(&r.project, &r.reference).await?;
        let read_grant = match &self.auth {
            Some(auth) => {
                let expires = cairn_auth::grant::now_unix_s() + cairn_auth::grant::GRANT_LIFETIME_SECS;
                let project = project_of(&r.project, &r.reference);
                auth.grant_key().await?.issue(&project, &version.record.digest, expires)
            }
            None => String::new(),
        };
        let first =
            v1::GetManifestResponse { version: Some(self.version_proto(&version).await?), entries: vec![], read_grant };
        let pages =
            ReceiverStream::new(self.engine.stream_manifest(version.record.digest, MANIFEST_PAGE)).map(|page| {
                page.map(|entries| v1::GetManifestResponse {
                    version: None,
                    entries: entries.iter().map(entry_to_proto).collect(),
                    read_grant: String::new(),
                })
                .map_err(Status::from)
            });
        Ok(Response::new(futures::stream::once(async move { Ok(first) }).chain(pages).boxed()))
    }

    async fn set_alias(&self, request: Request<v1::SetAliasRequest>) -> Result<Response<v1::SetAliasResponse>, Status> {
        self.authorize_reference(&request, Role::Writer, |r| (&r.project, &r.reference)).await?;
        let r = request.into_inner();
        let version = self.engine.set_alias(&r.project, &r.reference, &r.alias).await?;
        Ok(Response::new(v1::SetAliasResponse { version: Some(self.version_proto(&version).await?) }))
    }

    async fn update_version(
        &self,
        request: Request<v1::UpdateVersionRequest>,
    ) -> Result<Response<v1::UpdateVersionResponse>, Status> {
        self.authorize_reference(&request, Role::Writer, |r| (&r.project, &r.reference)).await?;
        let r = request.into_inner();
        let version = self.engine.update_version(&r.project, &r.reference, &r.metadata_json).await?;
        Ok(Response::new(v1::UpdateVersionResponse { version: Some(self.version_proto(&version).await?) }))
    }

    async fn delete_alias(
        &self,
        request: Request<v1::DeleteAliasRequest>,
    ) -> Result<Response<v1::DeleteAliasResponse>, Status> {
        self.authorize(&request, Role::Writer, Some(&request.get_ref().project)).await?;
        let r = request.into_inner();
        let previous_index = self.engine.delete_alias(&r.project, &r.artifact, &r.alias).await?;
        Ok(Response::new(v1::DeleteAliasResponse { previous_index }))
    }

    async fn find_missing_blobs(
        &self,
        request: Request<v1::FindMissingBlobsRequest>,
    ) -> Result<Response<v1::FindMissingBlobsResponse>, Status> {
        let scope = request.get_ref().project.clone();
        self.authorize(&request, Role::Writer, (!scope.is_empty()).then_some(scope.as_str())).await?;
        let r = request.into_inner();
        if r.sha256.len() > MAX_DIGESTS_PER_REQUEST {
            return Err(CoordError::from(CoreError::TooManyEntries {
                count: r.sha256.len(),
                limit: MAX_DIGESTS_PER_REQUEST,
            })
            .into());
        }
        let digests: Vec<Digest> =
            r.sha256.iter().map(|d| Digest::parse_hex(d)).collect::<Result<_, _>>().map_err(CoordError::from)?;
        let mut missing = self.engine.find_missing_blobs(&digests).await?;
        if self.auth.is_some() {
            // Whether a blob is stored is told only for the artifact's latest version:
            // anything else is "missing", to be sent whole (which proves its possession).
            let latest = match (r.project.as_str(), r.artifact.as_str()) {
                ("", _) | (_, "") => None,
                (project, artifact) => self.engine.latest_blob_set(project, artifact).await?,
            };
            let missing_set: std::collections::HashSet<Digest> = missing.iter().copied().collect();
            missing = digests
                .iter()
                .filter(|d| missing_set.contains(d) || !latest.as_ref().is_some_and(|set| set.contains(d)))
                .copied()
                .collect();
        }
        Ok(Response::new(v1::FindMissingBlobsResponse { missing: missing.iter().map(Digest::to_string).collect() }))
    }

    async fn create_token(
        &self,
        request: Request<v1::CreateTokenRequest>,
    ) -> Result<Response<v1::CreateTokenResponse>, Status> {
        let auth = self.token_store()?;
        let caller = auth.authenticate(request.metadata()).await?;
        let r = request.into_inner();
        caller.allows(Role::Admin, Some(&r.project))?;
        let role = role_from_proto(r.role)?;
        let expires = r.expires_in_seconds.map(|s| crate::clock::now_ms() as i64 + s.saturating_mul(1000) as i64);
        let made = auth.create(&r.project, role, expires).await?;
        tracing::info!(
            token_id = made.record.id,
            project = r.project,
            role = role.as_str(),
            by = caller.token_id,
            "token created"
        );
        Ok(Response::new(v1::CreateTokenResponse { info: Some(token_to_proto(&made.record)), token: made.token }))
    }

    async fn list_tokens(
        &self,
        request: Request<v1::ListTokensRequest>,
    ) -> Result<Response<v1::ListTokensResponse>, Status> {
        let auth = self.token_store()?;
        let caller = auth.authenticate(request.metadata()).await?;
        let r = request.into_inner();
        let project = match r.project.as_str() {
            "" if caller.project == cairn_auth::ALL_PROJECTS => None,
            "" => Some(caller.project.clone()),
            project => Some(project.to_owned()),
        };
        caller.allows(Role::Admin, project.as_deref())?;
        let tokens = auth.list(project.as_deref()).await?.iter().map(token_to_proto).collect();
        Ok(Response::new(v1::ListTokensResponse { tokens }))
    }

    async fn revoke_token(
        &self,
        request: Request<v1::RevokeTokenRequest>,
    ) -> Result<Response<v1::RevokeTokenResponse>, Status> {
        let auth = self.token_store()?;
        let caller = auth.authenticate(request.metadata()).await?;
        let r = request.into_inner();
        let record = auth.get(&r.id).await?;
        caller.allows(Role::Admin, Some(&record.project))?;
        let revoked = auth.revoke(&r.id).await?;
        tracing::info!(token_id = r.id, by = caller.token_id, "token revoked");
        Ok(Response::new(v1::RevokeTokenResponse { info: Some(token_to_proto(&revoked)) }))
    }

    async fn who_am_i(&self, request: Request<v1::WhoAmIRequest>) -> Result<Response<v1::WhoAmIResponse>, Status> {
        let Some(auth) = &self.auth else {
            return Ok(Response::new(v1::WhoAmIResponse::default()));
        };
        let caller = auth.authenticate(request.metadata()).await?;
        Ok(Response::new(v1::WhoAmIResponse {
            authentication_required: true,
            token_id: caller.token_id,
            project: caller.project,
            role: role_to_proto(caller.role) as i32,
        }))
    }

    async fn get_quota(&self, request: Request<v1::GetQuotaRequest>) -> Result<Response<v1::GetQuotaResponse>, Status> {
        self.authorize(&request, Role::Reader, Some(&request.get_ref().project)).await?;
        let project = request.into_inner().project;
        let usage = self.engine.usage(&project).await?;
        Ok(Response::new(v1::GetQuotaResponse { usage: Some(usage_to_proto(&project, &usage)) }))
    }

    async fn set_quota(&self, request: Request<v1::SetQuotaRequest>) -> Result<Response<v1::SetQuotaResponse>, Status> {
        // Only operators (an admin token of every project) change limits; a project's
        // admins could otherwise lift their own.
        self.authorize(&request, Role::Admin, Some(&request.get_ref().project)).await?;
        self.authorize(&request, Role::Admin, Some(cairn_auth::ALL_PROJECTS)).await?;
        let r = request.into_inner();
        let quota = r.quota.map(|q| ProjectQuota { max_bytes: q.max_bytes, max_open_drafts: q.max_open_drafts });
        let usage = self.engine.set_quota(&r.project, quota).await?;
        Ok(Response::new(v1::SetQuotaResponse { usage: Some(usage_to_proto(&r.project, &usage)) }))
    }

    async fn list_storage_workers(
        &self,
        request: Request<v1::ListStorageWorkersRequest>,
    ) -> Result<Response<v1::ListStorageWorkersResponse>, Status> {
        self.authorize(&request, Role::Reader, None).await?;
        let r = request.into_inner();
        let mut addresses = self.engine.storage_workers().await?;
        addresses.sort();
        addresses.dedup();
        addresses.retain(|a| r.page_token.is_empty() || a.as_str() > r.page_token.as_str());
        let size = match r.page_size {
            0 => 100,
            n => (n as usize).min(1000),
        };
        let next_page_token = if addresses.len() > size { addresses[size - 1].clone() } else { String::new() };
        addresses.truncate(size);
        Ok(Response::new(v1::ListStorageWorkersResponse { addresses, next_page_token }))
    }
}

fn usage_to_proto(project: &str, usage: &ProjectUsage) -> v1::QuotaUsage {
    v1::QuotaUsage {
        project: project.to_owned(),
        quota: Some(v1::ProjectQuota {
            max_bytes: usage.quota.max_bytes,
            max_open_drafts: usage.quota.max_open_drafts,
        }),
        quota_is_set: usage.quota_is_set,
        stored_bytes: usage.stored_bytes,
        versions: usage.versions,
        open_drafts: usage.open_drafts,
    }
}
