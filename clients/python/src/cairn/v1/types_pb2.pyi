from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DraftState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DRAFT_STATE_UNSPECIFIED: _ClassVar[DraftState]
    DRAFT_STATE_OPEN: _ClassVar[DraftState]
    DRAFT_STATE_SEALING: _ClassVar[DraftState]
    DRAFT_STATE_COMMITTED: _ClassVar[DraftState]
    DRAFT_STATE_ABORTED: _ClassVar[DraftState]
    DRAFT_STATE_EXPIRED: _ClassVar[DraftState]

class ConflictPolicy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONFLICT_POLICY_UNSPECIFIED: _ClassVar[ConflictPolicy]
    CONFLICT_POLICY_REJECT: _ClassVar[ConflictPolicy]
    CONFLICT_POLICY_LAST_WRITER_WINS: _ClassVar[ConflictPolicy]
DRAFT_STATE_UNSPECIFIED: DraftState
DRAFT_STATE_OPEN: DraftState
DRAFT_STATE_SEALING: DraftState
DRAFT_STATE_COMMITTED: DraftState
DRAFT_STATE_ABORTED: DraftState
DRAFT_STATE_EXPIRED: DraftState
CONFLICT_POLICY_UNSPECIFIED: ConflictPolicy
CONFLICT_POLICY_REJECT: ConflictPolicy
CONFLICT_POLICY_LAST_WRITER_WINS: ConflictPolicy

class Entry(_message.Message):
    __slots__ = ("path", "sha256", "size")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    path: str
    sha256: str
    size: int
    def __init__(self, path: _Optional[str] = ..., sha256: _Optional[str] = ..., size: _Optional[int] = ...) -> None: ...

class Version(_message.Message):
    __slots__ = ("name", "project", "artifact", "type", "index", "digest", "file_count", "total_bytes", "metadata_json", "producers", "create_time_unix_ms", "aliases", "expire_time_unix_ms")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    FILE_COUNT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    METADATA_JSON_FIELD_NUMBER: _ClassVar[int]
    PRODUCERS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    name: str
    project: str
    artifact: str
    type: str
    index: int
    digest: str
    file_count: int
    total_bytes: int
    metadata_json: str
    producers: _containers.RepeatedScalarFieldContainer[str]
    create_time_unix_ms: int
    aliases: _containers.RepeatedScalarFieldContainer[str]
    expire_time_unix_ms: int
    def __init__(self, name: _Optional[str] = ..., project: _Optional[str] = ..., artifact: _Optional[str] = ..., type: _Optional[str] = ..., index: _Optional[int] = ..., digest: _Optional[str] = ..., file_count: _Optional[int] = ..., total_bytes: _Optional[int] = ..., metadata_json: _Optional[str] = ..., producers: _Optional[_Iterable[str]] = ..., create_time_unix_ms: _Optional[int] = ..., aliases: _Optional[_Iterable[str]] = ..., expire_time_unix_ms: _Optional[int] = ...) -> None: ...

class WriterStatus(_message.Message):
    __slots__ = ("writer_id", "sealed", "staged_entries")
    WRITER_ID_FIELD_NUMBER: _ClassVar[int]
    SEALED_FIELD_NUMBER: _ClassVar[int]
    STAGED_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    writer_id: str
    sealed: bool
    staged_entries: int
    def __init__(self, writer_id: _Optional[str] = ..., sealed: bool = ..., staged_entries: _Optional[int] = ...) -> None: ...

class DraftInfo(_message.Message):
    __slots__ = ("project", "artifact", "distributed_id", "state", "type", "writers", "expected_writers", "staged_entries", "expire_time_unix_ms", "base_index", "committed_index", "conflict_policy")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    DISTRIBUTED_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    WRITERS_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_WRITERS_FIELD_NUMBER: _ClassVar[int]
    STAGED_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    BASE_INDEX_FIELD_NUMBER: _ClassVar[int]
    COMMITTED_INDEX_FIELD_NUMBER: _ClassVar[int]
    CONFLICT_POLICY_FIELD_NUMBER: _ClassVar[int]
    project: str
    artifact: str
    distributed_id: str
    state: DraftState
    type: str
    writers: _containers.RepeatedCompositeFieldContainer[WriterStatus]
    expected_writers: int
    staged_entries: int
    expire_time_unix_ms: int
    base_index: int
    committed_index: int
    conflict_policy: ConflictPolicy
    def __init__(self, project: _Optional[str] = ..., artifact: _Optional[str] = ..., distributed_id: _Optional[str] = ..., state: _Optional[_Union[DraftState, str]] = ..., type: _Optional[str] = ..., writers: _Optional[_Iterable[_Union[WriterStatus, _Mapping]]] = ..., expected_writers: _Optional[int] = ..., staged_entries: _Optional[int] = ..., expire_time_unix_ms: _Optional[int] = ..., base_index: _Optional[int] = ..., committed_index: _Optional[int] = ..., conflict_policy: _Optional[_Union[ConflictPolicy, str]] = ...) -> None: ...

class ArtifactSummary(_message.Message):
    __slots__ = ("name", "artifact", "type", "version_count", "latest_index")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    VERSION_COUNT_FIELD_NUMBER: _ClassVar[int]
    LATEST_INDEX_FIELD_NUMBER: _ClassVar[int]
    name: str
    artifact: str
    type: str
    version_count: int
    latest_index: int
    def __init__(self, name: _Optional[str] = ..., artifact: _Optional[str] = ..., type: _Optional[str] = ..., version_count: _Optional[int] = ..., latest_index: _Optional[int] = ...) -> None: ...
