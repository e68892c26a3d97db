from cairn.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TokenRole(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TOKEN_ROLE_UNSPECIFIED: _ClassVar[TokenRole]
    TOKEN_ROLE_READER: _ClassVar[TokenRole]
    TOKEN_ROLE_WRITER: _ClassVar[TokenRole]
    TOKEN_ROLE_ADMIN: _ClassVar[TokenRole]
TOKEN_ROLE_UNSPECIFIED: TokenRole
TOKEN_ROLE_READER: TokenRole
TOKEN_ROLE_WRITER: TokenRole
TOKEN_ROLE_ADMIN: TokenRole

class UpsertRequest(_message.Message):
    __slots__ = ("project", "artifact", "type", "distributed_id", "writer_id", "entries", "removals", "expected_writers", "seal", "conflict_policy", "base", "ttl_seconds", "request_id", "upload_receipts")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DISTRIBUTED_ID_FIELD_NUMBER: _ClassVar[int]
    WRITER_ID_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    REMOVALS_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_WRITERS_FIELD_NUMBER: _ClassVar[int]
    SEAL_FIELD_NUMBER: _ClassVar[int]
    CONFLICT_POLICY_FIELD_NUMBER: _ClassVar[int]
    BASE_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_RECEIPTS_FIELD_NUMBER: _ClassVar[int]
    project: str
    artifact: str
    type: str
    distributed_id: str
    writer_id: str
    entries: _containers.RepeatedCompositeFieldContainer[_types_pb2.Entry]
    removals: _containers.RepeatedScalarFieldContainer[str]
    expected_writers: int
    seal: bool
    conflict_policy: _types_pb2.ConflictPolicy
    base: str
    ttl_seconds: int
    request_id: str
    upload_receipts: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, project: _Optional[str] = ..., artifact: _Optional[str] = ..., type: _Optional[str] = ..., distributed_id: _Optional[str] = ..., writer_id: _Optional[str] = ..., entries: _Optional[_Iterable[_Union[_types_pb2.Entry, _Mapping]]] = ..., removals: _Optional[_Iterable[str]] = ..., expected_writers: _Optional[int] = ..., seal: bool = ..., conflict_policy: _Optional[_Union[_types_pb2.ConflictPolicy, str]] = ..., base: _Optional[str] = ..., ttl_seconds: _Optional[int] = ..., request_id: _Optional[str] = ..., upload_receipts: _Optional[_Iterable[str]] = ...) -> None: ...

class UpsertResponse(_message.Message):
    __slots__ = ("draft",)
    DRAFT_FIELD_NUMBER: _ClassVar[int]
    draft: _types_pb2.DraftInfo
    def __init__(self, draft: _Optional[_Union[_types_pb2.DraftInfo, _Mapping]] = ...) -> None: ...

class SealWriterRequest(_message.Message):
    __slots__ = ("project", "artifact", "distributed_id", "writer_id")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    DISTRIBUTED_ID_FIELD_NUMBER: _ClassVar[int]
    WRITER_ID_FIELD_NUMBER: _ClassVar[int]
    project: str
    artifact: str
    distributed_id: str
    writer_id: str
    def __init__(self, project: _Optional[str] = ..., artifact: _Optional[str] = ..., distributed_id: _Optional[str] = ..., writer_id: _Optional[str] = ...) -> None: ...

class SealWriterResponse(_message.Message):
    __slots__ = ("draft",)
    DRAFT_FIELD_NUMBER: _ClassVar[int]
    draft: _types_pb2.DraftInfo
    def __init__(self, draft: _Optional[_Union[_types_pb2.DraftInfo, _Mapping]] = ...) -> None: ...

class FinishRequest(_message.Message):
    __slots__ = ("project", "artifact", "distributed_id", "aliases", "wait_seconds", "force", "expected_writers", "metadata_json", "request_id", "ttl_seconds")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    DISTRIBUTED_ID_FIELD_NUMBER: _ClassVar[int]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    WAIT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_WRITERS_FIELD_NUMBER: _ClassVar[int]
    METADATA_JSON_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    project: str
    artifact: str
    distributed_id: str
    aliases: _containers.RepeatedScalarFieldContainer[str]
    wait_seconds: int
    force: bool
    expected_writers: int
    metadata_json: str
    request_id: str
    ttl_seconds: int
    def __init__(self, project: _Optional[str] = ..., artifact: _Optional[str] = ..., distributed_id: _Optional[str] = ..., aliases: _Optional[_Iterable[str]] = ..., wait_seconds: _Optional[int] = ..., force: bool = ..., expected_writers: _Optional[int] = ..., metadata_json: _Optional[str] = ..., request_id: _Optional[str] = ..., ttl_seconds: _Optional[int] = ...) -> None: ...

class FinishResponse(_message.Message):
    __slots__ = ("version", "dedup")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DEDUP_FIELD_NUMBER: _ClassVar[int]
    version: _types_pb2.Version
    dedup: bool
    def __init__(self, version: _Optional[_Union[_types_pb2.Version, _Mapping]] = ..., dedup: bool = ...) -> None: ...

class AbortRequest(_message.Message):
    __slots__ = ("project", "artifact", "distributed_id")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    DISTRIBUTED_ID_FIELD_NUMBER: _ClassVar[int]
    project: str
    artifact: str
    distributed_id: str
    def __init__(self, project: _Optional[str] = ..., artifact: _Optional[str] = ..., distributed_id: _Optional[str] = ...) -> None: ...

class AbortResponse(_message.Message):
    __slots__ = ("draft",)
    DRAFT_FIELD_NUMBER: _ClassVar[int]
    draft: _types_pb2.DraftInfo
    def __init__(self, draft: _Optional[_Union[_types_pb2.DraftInfo, _Mapping]] = ...) -> None: ...

class GetDraftRequest(_message.Message):
    __slots__ = ("project", "artifact", "distributed_id")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    DISTRIBUTED_ID_FIELD_NUMBER: _ClassVar[int]
    project: str
    artifact: str
    distributed_id: str
    def __init__(self, project: _Optional[str] = ..., artifact: _Optional[str] = ..., distributed_id: _Optional[str] = ...) -> None: ...

class GetDraftResponse(_message.Message):
    __slots__ = ("draft",)
    DRAFT_FIELD_NUMBER: _ClassVar[int]
    draft: _types_pb2.DraftInfo
    def __init__(self, draft: _Optional[_Union[_types_pb2.DraftInfo, _Mapping]] = ...) -> None: ...

class LogHeader(_message.Message):
    __slots__ = ("project", "artifact", "type", "aliases", "metadata_json", "writer_id", "request_id", "ttl_seconds")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    METADATA_JSON_FIELD_NUMBER: _ClassVar[int]
    WRITER_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    project: str
    artifact: str
    type: str
    aliases: _containers.RepeatedScalarFieldContainer[str]
    metadata_json: str
    writer_id: str
    request_id: str
    ttl_seconds: int
    def __init__(self, project: _Optional[str] = ..., artifact: _Optional[str] = ..., type: _Optional[str] = ..., aliases: _Optional[_Iterable[str]] = ..., metadata_json: _Optional[str] = ..., writer_id: _Optional[str] = ..., request_id: _Optional[str] = ..., ttl_seconds: _Optional[int] = ...) -> None: ...

class EntryBatch(_message.Message):
    __slots__ = ("entries", "upload_receipts")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_RECEIPTS_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[_types_pb2.Entry]
    upload_receipts: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, entries: _Optional[_Iterable[_Union[_types_pb2.Entry, _Mapping]]] = ..., upload_receipts: _Optional[_Iterable[str]] = ...) -> None: ...

class LogRequest(_message.Message):
    __slots__ = ("header", "batch")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    header: LogHeader
    batch: EntryBatch
    def __init__(self, header: _Optional[_Union[LogHeader, _Mapping]] = ..., batch: _Optional[_Union[EntryBatch, _Mapping]] = ...) -> None: ...

class LogResponse(_message.Message):
    __slots__ = ("version", "dedup")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DEDUP_FIELD_NUMBER: _ClassVar[int]
    version: _types_pb2.Version
    dedup: bool
    def __init__(self, version: _Optional[_Union[_types_pb2.Version, _Mapping]] = ..., dedup: bool = ...) -> None: ...

class GetVersionRequest(_message.Message):
    __slots__ = ("project", "reference")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    project: str
    reference: str
    def __init__(self, project: _Optional[str] = ..., reference: _Optional[str] = ...) -> None: ...

class GetVersionResponse(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: _types_pb2.Version
    def __init__(self, version: _Optional[_Union[_types_pb2.Version, _Mapping]] = ...) -> None: ...

class ListVersionsRequest(_message.Message):
    __slots__ = ("project", "artifact", "page_size", "page_token")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    project: str
    artifact: str
    page_size: int
    page_token: str
    def __init__(self, project: _Optional[str] = ..., artifact: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListVersionsResponse(_message.Message):
    __slots__ = ("versions", "next_page_token")
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[_types_pb2.Version]
    next_page_token: str
    def __init__(self, versions: _Optional[_Iterable[_Union[_types_pb2.Version, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListArtifactsRequest(_message.Message):
    __slots__ = ("project", "page_size", "page_token")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    project: str
    page_size: int
    page_token: str
    def __init__(self, project: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListArtifactsResponse(_message.Message):
    __slots__ = ("artifacts", "next_page_token")
    ARTIFACTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    artifacts: _containers.RepeatedCompositeFieldContainer[_types_pb2.ArtifactSummary]
    next_page_token: str
    def __init__(self, artifacts: _Optional[_Iterable[_Union[_types_pb2.ArtifactSummary, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetManifestRequest(_message.Message):
    __slots__ = ("project", "reference")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    project: str
    reference: str
    def __init__(self, project: _Optional[str] = ..., reference: _Optional[str] = ...) -> None: ...

class GetManifestResponse(_message.Message):
    __slots__ = ("version", "entries", "read_grant")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    READ_GRANT_FIELD_NUMBER: _ClassVar[int]
    version: _types_pb2.Version
    entries: _containers.RepeatedCompositeFieldContainer[_types_pb2.Entry]
    read_grant: str
    def __init__(self, version: _Optional[_Union[_types_pb2.Version, _Mapping]] = ..., entries: _Optional[_Iterable[_Union[_types_pb2.Entry, _Mapping]]] = ..., read_grant: _Optional[str] = ...) -> None: ...

class SetAliasRequest(_message.Message):
    __slots__ = ("project", "reference", "alias")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    project: str
    reference: str
    alias: str
    def __init__(self, project: _Optional[str] = ..., reference: _Optional[str] = ..., alias: _Optional[str] = ...) -> None: ...

class SetAliasResponse(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: _types_pb2.Version
    def __init__(self, version: _Optional[_Union[_types_pb2.Version, _Mapping]] = ...) -> None: ...

class DeleteAliasRequest(_message.Message):
    __slots__ = ("project", "artifact", "alias")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    project: str
    artifact: str
    alias: str
    def __init__(self, project: _Optional[str] = ..., artifact: _Optional[str] = ..., alias: _Optional[str] = ...) -> None: ...

class DeleteAliasResponse(_message.Message):
    __slots__ = ("previous_index",)
    PREVIOUS_INDEX_FIELD_NUMBER: _ClassVar[int]
    previous_index: int
    def __init__(self, previous_index: _Optional[int] = ...) -> None: ...

class DeleteVersionRequest(_message.Message):
    __slots__ = ("project", "reference", "force")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    project: str
    reference: str
    force: bool
    def __init__(self, project: _Optional[str] = ..., reference: _Optional[str] = ..., force: bool = ...) -> None: ...

class DeleteVersionResponse(_message.Message):
    __slots__ = ("project", "artifact", "deleted_indices", "deleted_aliases", "latest_index")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    DELETED_INDICES_FIELD_NUMBER: _ClassVar[int]
    DELETED_ALIASES_FIELD_NUMBER: _ClassVar[int]
    LATEST_INDEX_FIELD_NUMBER: _ClassVar[int]
    project: str
    artifact: str
    deleted_indices: _containers.RepeatedScalarFieldContainer[int]
    deleted_aliases: _containers.RepeatedScalarFieldContainer[str]
    latest_index: int
    def __init__(self, project: _Optional[str] = ..., artifact: _Optional[str] = ..., deleted_indices: _Optional[_Iterable[int]] = ..., deleted_aliases: _Optional[_Iterable[str]] = ..., latest_index: _Optional[int] = ...) -> None: ...

class DeleteArtifactRequest(_message.Message):
    __slots__ = ("project", "artifact", "force")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    project: str
    artifact: str
    force: bool
    def __init__(self, project: _Optional[str] = ..., artifact: _Optional[str] = ..., force: bool = ...) -> None: ...

class DeleteArtifactResponse(_message.Message):
    __slots__ = ("project", "artifact", "deleted_indices", "deleted_aliases")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    DELETED_INDICES_FIELD_NUMBER: _ClassVar[int]
    DELETED_ALIASES_FIELD_NUMBER: _ClassVar[int]
    project: str
    artifact: str
    deleted_indices: _containers.RepeatedScalarFieldContainer[int]
    deleted_aliases: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, project: _Optional[str] = ..., artifact: _Optional[str] = ..., deleted_indices: _Optional[_Iterable[int]] = ..., deleted_aliases: _Optional[_Iterable[str]] = ...) -> None: ...

class SetRetentionRequest(_message.Message):
    __slots__ = ("project", "artifact", "keep_last")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    KEEP_LAST_FIELD_NUMBER: _ClassVar[int]
    project: str
    artifact: str
    keep_last: int
    def __init__(self, project: _Optional[str] = ..., artifact: _Optional[str] = ..., keep_last: _Optional[int] = ...) -> None: ...

class SetRetentionResponse(_message.Message):
    __slots__ = ("keep_last",)
    KEEP_LAST_FIELD_NUMBER: _ClassVar[int]
    keep_last: int
    def __init__(self, keep_last: _Optional[int] = ...) -> None: ...

class UpdateVersionRequest(_message.Message):
    __slots__ = ("project", "reference", "metadata_json")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    METADATA_JSON_FIELD_NUMBER: _ClassVar[int]
    project: str
    reference: str
    metadata_json: str
    def __init__(self, project: _Optional[str] = ..., reference: _Optional[str] = ..., metadata_json: _Optional[str] = ...) -> None: ...

class UpdateVersionResponse(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: _types_pb2.Version
    def __init__(self, version: _Optional[_Union[_types_pb2.Version, _Mapping]] = ...) -> None: ...

class TokenInfo(_message.Message):
    __slots__ = ("id", "project", "role", "create_time_unix_ms", "expire_time_unix_ms", "revoke_time_unix_ms")
    ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    REVOKE_TIME_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    id: str
    project: str
    role: TokenRole
    create_time_unix_ms: int
    expire_time_unix_ms: int
    revoke_time_unix_ms: int
    def __init__(self, id: _Optional[str] = ..., project: _Optional[str] = ..., role: _Optional[_Union[TokenRole, str]] = ..., create_time_unix_ms: _Optional[int] = ..., expire_time_unix_ms: _Optional[int] = ..., revoke_time_unix_ms: _Optional[int] = ...) -> None: ...

class CreateTokenRequest(_message.Message):
    __slots__ = ("project", "role", "expires_in_seconds")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_SECONDS_FIELD_NUMBER: _ClassVar[int]
    project: str
    role: TokenRole
    expires_in_seconds: int
    def __init__(self, project: _Optional[str] = ..., role: _Optional[_Union[TokenRole, str]] = ..., expires_in_seconds: _Optional[int] = ...) -> None: ...

class CreateTokenResponse(_message.Message):
    __slots__ = ("info", "token")
    INFO_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    info: TokenInfo
    token: str
    def __init__(self, info: _Optional[_Union[TokenInfo, _Mapping]] = ..., token: _Optional[str] = ...) -> None: ...

class ListTokensRequest(_message.Message):
    __slots__ = ("project",)
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    project: str
    def __init__(self, project: _Optional[str] = ...) -> None: ...

class ListTokensResponse(_message.Message):
    __slots__ = ("tokens",)
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    tokens: _containers.RepeatedCompositeFieldContainer[TokenInfo]
    def __init__(self, tokens: _Optional[_Iterable[_Union[TokenInfo, _Mapping]]] = ...) -> None: ...

class RevokeTokenRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class RevokeTokenResponse(_message.Message):
    __slots__ = ("info",)
    INFO_FIELD_NUMBER: _ClassVar[int]
    info: TokenInfo
    def __init__(self, info: _Optional[_Union[TokenInfo, _Mapping]] = ...) -> None: ...

class WhoAmIRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WhoAmIResponse(_message.Message):
    __slots__ = ("authentication_required", "token_id", "project", "role")
    AUTHENTICATION_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    authentication_required: bool
    token_id: str
    project: str
    role: TokenRole
    def __init__(self, authentication_required: bool = ..., token_id: _Optional[str] = ..., project: _Optional[str] = ..., role: _Optional[_Union[TokenRole, str]] = ...) -> None: ...

class CollectGarbageRequest(_message.Message):
    __slots__ = ("dry_run", "grace_seconds", "purge_trash")
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    GRACE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    PURGE_TRASH_FIELD_NUMBER: _ClassVar[int]
    dry_run: bool
    grace_seconds: int
    purge_trash: bool
    def __init__(self, dry_run: bool = ..., grace_seconds: _Optional[int] = ..., purge_trash: bool = ...) -> None: ...

class CollectGarbageResponse(_message.Message):
    __slots__ = ("dry_run", "deleted_blobs", "freed_bytes", "kept_blobs", "deleted_manifests", "deleted_staging", "deleted_checkpoints", "deleted_journals", "generation", "duration_ms", "expired_versions", "retired_versions", "aborted_uploads", "trashed_bytes", "purged_blobs", "trash_bytes", "referenced_missing")
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    DELETED_BLOBS_FIELD_NUMBER: _ClassVar[int]
    FREED_BYTES_FIELD_NUMBER: _ClassVar[int]
    KEPT_BLOBS_FIELD_NUMBER: _ClassVar[int]
    DELETED_MANIFESTS_FIELD_NUMBER: _ClassVar[int]
    DELETED_STAGING_FIELD_NUMBER: _ClassVar[int]
    DELETED_CHECKPOINTS_FIELD_NUMBER: _ClassVar[int]
    DELETED_JOURNALS_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    EXPIRED_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    RETIRED_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    ABORTED_UPLOADS_FIELD_NUMBER: _ClassVar[int]
    TRASHED_BYTES_FIELD_NUMBER: _ClassVar[int]
    PURGED_BLOBS_FIELD_NUMBER: _ClassVar[int]
    TRASH_BYTES_FIELD_NUMBER: _ClassVar[int]
    REFERENCED_MISSING_FIELD_NUMBER: _ClassVar[int]
    dry_run: bool
    deleted_blobs: int
    freed_bytes: int
    kept_blobs: int
    deleted_manifests: int
    deleted_staging: int
    deleted_checkpoints: int
    deleted_journals: int
    generation: int
    duration_ms: int
    expired_versions: int
    retired_versions: int
    aborted_uploads: int
    trashed_bytes: int
    purged_blobs: int
    trash_bytes: int
    referenced_missing: int
    def __init__(self, dry_run: bool = ..., deleted_blobs: _Optional[int] = ..., freed_bytes: _Optional[int] = ..., kept_blobs: _Optional[int] = ..., deleted_manifests: _Optional[int] = ..., deleted_staging: _Optional[int] = ..., deleted_checkpoints: _Optional[int] = ..., deleted_journals: _Optional[int] = ..., generation: _Optional[int] = ..., duration_ms: _Optional[int] = ..., expired_versions: _Optional[int] = ..., retired_versions: _Optional[int] = ..., aborted_uploads: _Optional[int] = ..., trashed_bytes: _Optional[int] = ..., purged_blobs: _Optional[int] = ..., trash_bytes: _Optional[int] = ..., referenced_missing: _Optional[int] = ...) -> None: ...

class FsckRequest(_message.Message):
    __slots__ = ("deep", "repair")
    DEEP_FIELD_NUMBER: _ClassVar[int]
    REPAIR_FIELD_NUMBER: _ClassVar[int]
    deep: bool
    repair: bool
    def __init__(self, deep: bool = ..., repair: bool = ...) -> None: ...

class FsckProblem(_message.Message):
    __slots__ = ("ref", "path", "sha256")
    REF_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    ref: str
    path: str
    sha256: str
    def __init__(self, ref: _Optional[str] = ..., path: _Optional[str] = ..., sha256: _Optional[str] = ...) -> None: ...

class FsckResponse(_message.Message):
    __slots__ = ("versions_checked", "blobs_checked", "missing", "corrupt", "repaired", "missing_count", "corrupt_count")
    VERSIONS_CHECKED_FIELD_NUMBER: _ClassVar[int]
    BLOBS_CHECKED_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    CORRUPT_FIELD_NUMBER: _ClassVar[int]
    REPAIRED_FIELD_NUMBER: _ClassVar[int]
    MISSING_COUNT_FIELD_NUMBER: _ClassVar[int]
    CORRUPT_COUNT_FIELD_NUMBER: _ClassVar[int]
    versions_checked: int
    blobs_checked: int
    missing: _containers.RepeatedCompositeFieldContainer[FsckProblem]
    corrupt: _containers.RepeatedCompositeFieldContainer[FsckProblem]
    repaired: int
    missing_count: int
    corrupt_count: int
    def __init__(self, versions_checked: _Optional[int] = ..., blobs_checked: _Optional[int] = ..., missing: _Optional[_Iterable[_Union[FsckProblem, _Mapping]]] = ..., corrupt: _Optional[_Iterable[_Union[FsckProblem, _Mapping]]] = ..., repaired: _Optional[int] = ..., missing_count: _Optional[int] = ..., corrupt_count: _Optional[int] = ...) -> None: ...

class FindMissingBlobsRequest(_message.Message):
    __slots__ = ("sha256", "project", "artifact")
    SHA256_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    sha256: _containers.RepeatedScalarFieldContainer[str]
    project: str
    artifact: str
    def __init__(self, sha256: _Optional[_Iterable[str]] = ..., project: _Optional[str] = ..., artifact: _Optional[str] = ...) -> None: ...

class FindMissingBlobsResponse(_message.Message):
    __slots__ = ("missing",)
    MISSING_FIELD_NUMBER: _ClassVar[int]
    missing: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, missing: _Optional[_Iterable[str]] = ...) -> None: ...

class ListStorageWorkersRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListStorageWorkersResponse(_message.Message):
    __slots__ = ("addresses", "next_page_token")
    ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    addresses: _containers.RepeatedScalarFieldContainer[str]
    next_page_token: str
    def __init__(self, addresses: _Optional[_Iterable[str]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ProjectQuota(_message.Message):
    __slots__ = ("max_bytes", "max_open_drafts")
    MAX_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_OPEN_DRAFTS_FIELD_NUMBER: _ClassVar[int]
    max_bytes: int
    max_open_drafts: int
    def __init__(self, max_bytes: _Optional[int] = ..., max_open_drafts: _Optional[int] = ...) -> None: ...

class QuotaUsage(_message.Message):
    __slots__ = ("project", "quota", "quota_is_set", "stored_bytes", "versions", "open_drafts")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    QUOTA_FIELD_NUMBER: _ClassVar[int]
    QUOTA_IS_SET_FIELD_NUMBER: _ClassVar[int]
    STORED_BYTES_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    OPEN_DRAFTS_FIELD_NUMBER: _ClassVar[int]
    project: str
    quota: ProjectQuota
    quota_is_set: bool
    stored_bytes: int
    versions: int
    open_drafts: int
    def __init__(self, project: _Optional[str] = ..., quota: _Optional[_Union[ProjectQuota, _Mapping]] = ..., quota_is_set: bool = ..., stored_bytes: _Optional[int] = ..., versions: _Optional[int] = ..., open_drafts: _Optional[int] = ...) -> None: ...

class GetQuotaRequest(_message.Message):
    __slots__ = ("project",)
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    project: str
    def __init__(self, project: _Optional[str] = ...) -> None: ...

class GetQuotaResponse(_message.Message):
    __slots__ = ("usage",)
    USAGE_FIELD_NUMBER: _ClassVar[int]
    usage: QuotaUsage
    def __init__(self, usage: _Optional[_Union[QuotaUsage, _Mapping]] = ...) -> None: ...

class SetQuotaRequest(_message.Message):
    __slots__ = ("project", "quota")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    QUOTA_FIELD_NUMBER: _ClassVar[int]
    project: str
    quota: ProjectQuota
    def __init__(self, project: _Optional[str] = ..., quota: _Optional[_Union[ProjectQuota, _Mapping]] = ...) -> None: ...

class SetQuotaResponse(_message.Message):
    __slots__ = ("usage",)
    USAGE_FIELD_NUMBER: _ClassVar[int]
    usage: QuotaUsage
    def __init__(self, usage: _Optional[_Union[QuotaUsage, _Mapping]] = ...) -> None: ...
