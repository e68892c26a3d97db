//! The StorageService gRPC implementation.

use std::sync::Arc;

use cairn_blob::{BlobError, BlobStore, blob_key, put_verified_as, upload_progress};
use cairn_core::Digest;
use cairn_proto::v1::put_blob_request::Part;
use cairn_proto::v1::{
    GetBlobRequest, GetBlobResponse, GetBlobsRequest, GetBlobsResponse, GetUploadStatusRequest,
    GetUploadStatusResponse, PutBlobRequest, PutBlobResponse, PutBlobsRequest, PutBlobsResponse,
    storage_service_server,
};
use cairn_proto::{core_error_status, error_status};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};

use cairn_auth::{Role, TokenStore};

use crate::upload_lock::UploadLocks;
use tonic::{Code, Request, Response, Status, Streaming};

/// Serves PutBlob and GetBlob over a BlobStore.
pub struct StorageService {
    blobs: Arc<dyn BlobStore>,
    /// Serializes resumable uploads of one blob across workers (cluster mode only).
    locks: Option<UploadLocks>,
    /// Tokens callers must present; None: no authentication.
    auth: Option<Arc<TokenStore>>,
    /// With authentication, reads also need a grant naming a version that holds the blob.
    read_access: Option<crate::grants::ReadAccess>,
    /// How long an upload stream may go without a message.
    idle_timeout: std::time::Duration,
    /// Memory all PutBlobs calls may hold.
    budget: crate::batch::UploadBudget,
}

impl StorageService {
    /// A service storing into `blobs`; with `locks`, uploads larger than one part are
    /// serialized per blob across every worker sharing the store; with `auth`, callers
    /// must present a token (readers read, writers also write).
    pub fn new(blobs: Arc<dyn BlobStore>, locks: Option<UploadLocks>, auth: Option<Arc<TokenStore>>) -> Self {
        Self {
            read_access: auth.clone().map(|auth| crate::grants::ReadAccess::new(auth, blobs.clone())),
            blobs,
            locks,
            auth,
            idle_timeout: crate::DEFAULT_STREAM_IDLE_TIMEOUT,
            budget: crate::batch::UploadBudget::new(256),
        }
    }

    /// Applies `limits`: upload streams idle too long are ended, and PutBlobs calls
    /// together hold at most the upload buffer.
    pub fn with_limits(mut self, limits: &crate::StreamLimits) -> Self {
        self.idle_timeout = limits.idle_timeout();
        self.budget = crate::batch::UploadBudget::new(limits.upload_buffer_mib);
        self
    }

    async fn authorize<T>(&self, request: &Request<T>, needs: Role) -> Result<(), Status> {
        if let Some(auth) = &self.auth {
            auth.authenticate(request.metadata()).await?.allows(needs, None)?;
        }
        Ok(())
    }

    /// Checks the caller's token and read grant for reading `digests`.
    async fn authorize_read<T>(&self, request: &Request<T>, digests: &[Digest]) -> Result<(), Status> {
        match &self.read_access {
            Some(access) => access.check(request.metadata(), digests).await,
            None => Ok(()),
        }
    }
}

/// Maps a storage failure to a status that names what failed.
pub(crate) fn blob_status(err: BlobError, sha256: &str) -> Status {
    let message = err.to_string();
    match err {
        BlobError::DigestMismatch { expected, actual } => error_status(
            Code::DataLoss,
            "DIGEST_MISMATCH",
            message,
            vec![("sha256", expected), ("actual_sha256", actual)],
        ),
        BlobError::SizeMismatch { expected, actual } => error_status(
            Code::InvalidArgument,
            "SIZE_MISMATCH",
            message,
            vec![("sha256", sha256.to_owned()), ("size", expected.to_string()), ("actual_size", actual.to_string())],
        ),
        BlobError::NotFound(_) => {
            error_status(Code::NotFound, "BLOB_NOT_FOUND", message, vec![("sha256", sha256.to_owned())])
        }
        BlobError::InvalidRange { offset, size, .. } => error_status(
            Code::OutOfRange,
            "INVALID_RANGE",
            message,
            vec![("sha256", sha256.to_owned()), ("offset", offset.to_string()), ("size", size.to_string())],
        ),
        BlobError::ResumeMismatch { requested, available } => error_status(
            Code::FailedPrecondition,
            "RESUME_OFFSET_MISMATCH",
            message,
            vec![
                ("sha256", sha256.to_owned()),
                ("offset", requested.to_string()),
                ("available_offset", available.to_string()),
            ],
        ),
        BlobError::ResumeDiscarded => {
            error_status(Code::Aborted, "RESUMED_UPLOAD_DISCARDED", message, vec![("sha256", sha256.to_owned())])
        }
        BlobError::Interrupted(_) => {
            error_status(Code::Cancelled, "UPLOAD_INTERRUPTED", message, vec![("sha256", sha256.to_owned())])
        }
        BlobError::TooLarge { size, limit } => error_status(
            Code::InvalidArgument,
            "BLOB_TOO_LARGE",
            message,
            vec![("sha256", sha256.to_owned()), ("size", size.to_string()), ("limit", limit.to_string())],
        ),
        BlobError::InsufficientStorage { size, available } => error_status(
            Code::ResourceExhausted,
            "INSUFFICIENT_STORAGE",
            message,
            vec![("sha256", sha256.to_owned()), ("size", size.to_string()), ("available", available.to_string())],
        ),
        BlobError::InvalidKey { .. } | BlobError::Io(_) => {
            error_status(Code::Unavailable, "STORAGE_UNAVAILABLE", message, vec![("sha256", sha256.to_owned())])
        }
    }
}

fn malformed(why: &str) -> Status {
    error_status(Code::InvalidArgument, "MALFORMED_STREAM", why, vec![])
}

#[tonic::async_trait]
impl storage_service_server::StorageService for StorageService {
    async fn put_blob(&self, request: Request<Streaming<PutBlobRequest>>) -> Result<Response<PutBlobResponse>, Status> {
        // Authenticates the caller as a writer (with authentication on) and signs its receipts.
        let signer = crate::grants::ReceiptSigner::for_caller(&self.auth, request.metadata()).await?;
        let mut stream = crate::idle::idle_limited(request.into_inner(), self.idle_timeout);
        let header = match stream.next().await.transpose()? {
            Some(PutBlobRequest { part: Some(Part::Header(header)) }) => header,
            _ => return Err(malformed("the first message of PutBlob must be the header")),
        };
        let digest = Digest::parse_hex(&header.sha256).map_err(|e| core_error_status(&e))?;
        // A size the store cannot hold is refused now, before any byte moves: never as a
        // retryable error, so the client does not send it again and again.
        self.blobs.part_size_for(header.size).map_err(|e| blob_status(e, &header.sha256))?;
        let chunks = stream.map(|message| match message {
            Ok(PutBlobRequest { part: Some(Part::Chunk(chunk)) }) => Ok(chunk),
            Ok(_) => Err(BlobError::Interrupted("PutBlob sent a second header or an empty message".into())),
            Err(status) => Err(BlobError::Interrupted(status.message().to_owned())),
        });
        let started = std::time::Instant::now();
        // Blobs of one part or less are never resumed: concurrent puts of them are plain
        // writes of identical content and need no lock.
        let lock = match &self.locks {
            Some(locks) if header.size > self.blobs.part_size() => Some(locks.acquire(&digest).await?),
            _ => None,
        };
        let uploader = signer.as_ref().map(|s| s.project());
        let result = put_verified_as(&*self.blobs, &digest, header.size, header.offset, chunks, uploader).await;
        if let Some(lock) = lock {
            lock.release().await;
        }
        crate::metrics::UPLOAD_SECONDS.observe(started.elapsed().as_secs_f64());
        let outcome = match result {
            Ok(outcome) => {
                let kind = if outcome.already_present { "present" } else { "stored" };
                crate::metrics::UPLOADS.with_label_values(&[kind]).inc();
                crate::metrics::BYTES_RECEIVED.inc_by(outcome.bytes);
                if outcome.already_present {
                    crate::metrics::DEDUP_BYTES.inc_by(header.size);
                }
                outcome
            }
            Err(err) => {
                let kind = if matches!(err, BlobError::Interrupted(_)) { "interrupted" } else { "refused" };
                crate::metrics::UPLOADS.with_label_values(&[kind]).inc();
                return Err(blob_status(err, &header.sha256));
            }
        };
        tracing::debug!(sha256 = %digest, bytes = outcome.bytes, already_present = outcome.already_present, "blob stored");
        let receipt = match &signer {
            // This call finished an upload another project began: it sent only the tail,
            // so it has not shown it has the blob. The blob is stored; a retry sends it
            // whole and earns the receipt.
            Some(_) if outcome.resumed_from_another => {
                return Err(error_status(
                    Code::Aborted,
                    "RESUMED_UPLOAD_UNPROVEN",
                    "this upload completed one another caller began; send the blob again from byte 0 for a receipt",
                    vec![("sha256", header.sha256)],
                ));
            }
            Some(signer) => signer.sign(&digest, header.size),
            None => String::new(),
        };
        Ok(Response::new(PutBlobResponse {
            sha256: header.sha256,
            size: header.size,
            already_present: outcome.already_present,
            receipt,
        }))
    }

    type GetBlobStream = BoxStream<'static, Result<GetBlobResponse, Status>>;

    async fn get_blob(&self, request: Request<GetBlobRequest>) -> Result<Response<Self::GetBlobStream>, Status> {
        let digest = Digest::parse_hex(&request.get_ref().sha256).map_err(|e| core_error_status(&e))?;
        self.authorize_read(&request, &[digest]).await?;
        let request = request.into_inner();
        let length = (request.length > 0).then_some(request.length);
        let sha256 = request.sha256.clone();
        let chunks =
            self.blobs.get(&blob_key(&digest), request.offset, length).await.map_err(|e| blob_status(e, &sha256))?;
        let responses = chunks
            .map_ok(|chunk| {
                crate::metrics::BYTES_SENT.inc_by(chunk.len() as u64);
                GetBlobResponse { chunk }
            })
            .map_err(move |e| blob_status(e, &sha256))
            .boxed();
        Ok(Response::new(responses))
    }

    async fn get_upload_status(
        &self,
        request: Request<GetUploadStatusRequest>,
    ) -> Result<Response<GetUploadStatusResponse>, Status> {
        self.authorize(&request, Role::Writer).await?;
        let sha256 = request.into_inner().sha256;
        let digest = Digest::parse_hex(&sha256).map_err(|e| core_error_status(&e))?;
        // With authentication, whether a blob exists is not told (send it whole).
        let present = self.auth.is_none()
            && self.blobs.head(&blob_key(&digest)).await.map_err(|e| blob_status(e, &sha256))?.is_some();
        let offset = if present {
            0
        } else {
            upload_progress(&*self.blobs, &digest).await.map_err(|e| blob_status(e, &sha256))?
        };
        Ok(Response::new(GetUploadStatusResponse { present, offset }))
    }

    async fn put_blobs(
        &self,
        request: Request<Streaming<PutBlobsRequest>>,
    ) -> Result<Response<PutBlobsResponse>, Status> {
        self.authorize(&request, Role::Writer).await?;
        let started = std::time::Instant::now();
        let signer = crate::grants::ReceiptSigner::for_caller(&self.auth, request.metadata()).await?;
        let messages = crate::idle::idle_limited(request.into_inner(), self.idle_timeout);
        let result = crate::batch::put_blobs(self.blobs.clone(), self.budget.clone(), signer.as_ref(), messages).await;
        crate::metrics::UPLOAD_SECONDS.observe(started.elapsed().as_secs_f64());
        result.map(Response::new)
    }

    type GetBlobsStream = BoxStream<'static, Result<GetBlobsResponse, Status>>;

    async fn get_blobs(&self, request: Request<GetBlobsRequest>) -> Result<Response<Self::GetBlobsStream>, Status> {
        if self.read_access.is_some() {
            let digests: Vec<Digest> = request
                .get_ref()
                .sha256
                .iter()
                .map(|d| Digest::parse_hex(d))
                .collect::<Result<_, _>>()
                .map_err(|e| core_error_status(&e))?;
            self.authorize_read(&request, &digests).await?;
        }
        crate::batch::get_blobs(self.blobs.clone(), request.into_inner().sha256).map(Response::new)
    }
}
