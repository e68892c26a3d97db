"""The cairn client: log, upsert, finish and use artifacts."""

from __future__ import annotations

import json
import math
import os
import pathlib
import random
import threading
import time
import uuid
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import grpc

from .artifact import Artifact, DraftStatus, ManifestEntry, Version
from .errors import CairnError, InvalidArgument, from_rpc_error
from .identity import derive_distributed_id, derive_writer
from .transfer import download_entries, hash_files, progress_bar, upload_missing
from .v1 import coordinator_pb2, coordinator_pb2_grpc, storage_pb2_grpc, types_pb2

DEFAULT_SERVER = "http://127.0.0.1:7420"
ENTRIES_PER_REQUEST = 5_000
_MAX_MESSAGE = 16 * 1024 * 1024
_CHANNEL_OPTIONS = [("grpc.max_receive_message_length", _MAX_MESSAGE), ("grpc.max_send_message_length", _MAX_MESSAGE)]
_DRAFT_STATES = {1: "open", 2: "sealing", 3: "committed", 4: "aborted", 5: "expired"}


def _target(address: str) -> str:
    """gRPC Python wants host:port, not a URL."""
    for prefix in ("http://", "grpc://"):
        if address.startswith(prefix):
            return address[len(prefix) :].rstrip("/")
    if address.startswith("https://"):
        raise InvalidArgument("TLS endpoints are not supported by this SDK version")
    return address.rstrip("/")


def _user_aliases(aliases: Sequence[str]) -> List[str]:
    """The aliases to set: `latest` always names the newest version by itself, so asking
    for it (as wandb callers such as Lightning's WandbLogger do) is accepted and dropped."""
    return [alias for alias in dict.fromkeys(aliases) if alias != "latest"]


def _version(message: types_pb2.Version, dedup: bool = False) -> Version:
    try:
        metadata = json.loads(message.metadata_json or "{}")
    except ValueError:
        metadata = {}
    return Version(
        name=message.artifact,
        version=f"v{message.index}",
        index=message.index,
        digest=message.digest,
        files=message.file_count,
        bytes=message.total_bytes,
        dedup=dedup,
        project=message.project,
        type=message.type,
        aliases=tuple(message.aliases),
        metadata=metadata,
        expires_unix_ms=message.expire_time_unix_ms if message.HasField("expire_time_unix_ms") else None,
    )


#: Seconds of backoff a call may spend retrying before its error is raised.
_RETRY_BUDGET = 60.0


class _RetryingCoordinator:
    """A coordinator stub whose unary calls go through the client's retries."""

    def __init__(self, client: "Client"):
        self._client = client

    def __getattr__(self, method: str):
        return lambda request, timeout=None: self._client._call(method, request, timeout)


class Client:
    """A connection to cairn. Channels are created lazily in each process, so one Client
    can be shared with forked workers (DataLoader workers, multiprocessing)."""

    def __init__(self, server: Optional[str] = None, project: Optional[str] = None, progress: Optional[bool] = None):
        servers = server or os.environ.get("CAIRN_SERVER") or DEFAULT_SERVER
        # Several coordinator replicas may be listed, comma-separated: calls go to one, and
        # move to the next when it is unavailable.
        self.servers = [s.strip() for s in servers.split(",") if s.strip()] or [DEFAULT_SERVER]
        self.server = self.servers[0]
        self.project = project or os.environ.get("CAIRN_PROJECT") or "default"
        self.progress = progress
        self._lock = threading.Lock()
        self._pid: Optional[int] = None
        self._channels: List[grpc.Channel] = []
        self._current = 0
        self._storage: List[Any] = []

    # -- connections --------------------------------------------------------------------

    def _ensure(self) -> None:
        with self._lock:
            if self._pid == os.getpid() and self._channels:
                return
            # A new process (or first use): never reuse a channel made before a fork.
            self._channels = [grpc.insecure_channel(_target(s), options=_CHANNEL_OPTIONS) for s in self.servers]
            self._storage = []
            self._pid = os.getpid()

    @property
    def _channel(self) -> grpc.Channel:
        self._ensure()
        return self._channels[self._current % len(self._channels)]

    def _rotate(self) -> None:
        """Moves to the next coordinator replica."""
        with self._lock:
            self._current = (self._current + 1) % len(self.servers)

    @property
    def _coordinator(self) -> coordinator_pb2_grpc.CoordinatorServiceStub:
        self._ensure()
        return coordinator_pb2_grpc.CoordinatorServiceStub(self._channel)

    def _storages(self) -> Sequence[storage_pb2_grpc.StorageServiceStub]:
        self._ensure()
        if not self._storage:
            addresses = self._call(
                "ListStorageWorkers", coordinator_pb2.ListStorageWorkersRequest(page_size=1000)
            ).addresses
            channels = [grpc.insecure_channel(_target(a), options=_CHANNEL_OPTIONS) for a in addresses] or [self._channel]
            self._storage = [storage_pb2_grpc.StorageServiceStub(c) for c in channels]
        return self._storage

    def _call(self, method: str, request, timeout: Optional[float] = None):
        """Calls a coordinator RPC, retrying UNAVAILABLE (on the next replica) and ABORTED
        with jittered exponential backoff, as the Rust client: 100 ms to 2 s between
        attempts, for up to a minute of waiting."""
        return self._retrying(lambda stub: getattr(stub, method)(request, timeout=timeout))

    def _retrying(self, attempt):
        delay, waited = 0.1, 0.0
        while True:
            try:
                return attempt(self._coordinator)
            except grpc.RpcError as error:
                code = error.code()
                if code not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.ABORTED) or waited >= _RETRY_BUDGET:
                    raise from_rpc_error(error) from None
                if code == grpc.StatusCode.UNAVAILABLE:
                    self._rotate()
                pause = delay * random.uniform(0.5, 1.0)
                time.sleep(pause)
                waited += pause
                delay = min(delay * 2, 2.0)

    # -- uploads ------------------------------------------------------------------------

    def _prepare(self, artifact: Artifact) -> Tuple[List[types_pb2.Entry], int]:
        """Hashes the artifact's files in parallel and uploads the missing blobs."""
        names = sorted(artifact.files)
        paths = [artifact.files[n] for n in names]
        total = sum(p.stat().st_size for p in paths)
        bar = progress_bar(2 * total, f"{artifact.name}: hash+upload", self.progress)
        tick = bar.update if bar else None
        try:
            hashes = hash_files(paths, tick)
            blobs = {sha: (path, size) for (sha, size), path in zip(hashes, paths)}
            uploaded = upload_missing(_RetryingCoordinator(self), self._storages, blobs, tick)
        finally:
            if bar:
                bar.close()
        entries = [types_pb2.Entry(path=n, sha256=sha, size=size) for n, (sha, size) in zip(names, hashes)]
        return entries, uploaded

    # -- single run ---------------------------------------------------------------------

    def log_artifact(self, artifact: Artifact, aliases: Sequence[str] = ()) -> Version:
        """Commits the artifact as its next version (or finds it identical to the latest:
        `dedup`). An artifact from `new_draft()` becomes an incremental version of its base."""
        if artifact.base is not None:
            return self._commit_edit(artifact, aliases)
        entries, _ = self._prepare(artifact)
        writer = os.environ.get("CAIRN_WRITER") or f"python-{os.getpid()}"
        header = coordinator_pb2.LogHeader(
            project=self.project,
            artifact=artifact.name,
            type=artifact.type,
            aliases=_user_aliases(aliases),
            metadata_json=json.dumps(artifact.metadata),
            writer_id=writer,
            request_id=uuid.uuid4().hex,
            ttl_seconds=artifact._ttl_seconds(),
        )

        def messages():
            yield coordinator_pb2.LogRequest(header=header)
            for start in range(0, len(entries), ENTRIES_PER_REQUEST):
                yield coordinator_pb2.LogRequest(batch=coordinator_pb2.EntryBatch(entries=entries[start : start + ENTRIES_PER_REQUEST]))

        # A retried Log carries the same request_id: if the first attempt committed, the
        # server answers with that version instead of making another.
        response = self._retrying(lambda stub: stub.Log(messages()))
        return _version(response.version, response.dedup)

    # -- distributed --------------------------------------------------------------------

    def upsert_artifact(
        self,
        artifact: Artifact,
        distributed_id: Optional[str] = None,
        writer: Optional[str] = None,
        seal: bool = True,
        expected_writers: Optional[int] = None,
    ) -> DraftStatus:
        """Adds this writer's files to the draft shared by `distributed_id` (derived from
        the environment when not given) and, by default, seals the writer."""
        distributed_id = distributed_id or derive_distributed_id()
        writer = writer or derive_writer()
        entries, _ = self._prepare(artifact)
        batches = [entries[i : i + ENTRIES_PER_REQUEST] for i in range(0, len(entries), ENTRIES_PER_REQUEST)] or [[]]
        draft = None
        for i, batch in enumerate(batches):
            request = coordinator_pb2.UpsertRequest(
                project=self.project,
                artifact=artifact.name,
                type=artifact.type,
                distributed_id=distributed_id,
                writer_id=writer,
                entries=batch,
                seal=seal and i == len(batches) - 1,
                request_id=uuid.uuid4().hex,
            )
            if expected_writers is not None:
                request.expected_writers = expected_writers
            draft = self._call("Upsert", request).draft
        assert draft is not None
        mine = next((w for w in draft.writers if w.writer_id == writer), None)
        return DraftStatus(
            name=draft.artifact,
            distributed_id=draft.distributed_id,
            writer=writer,
            state=_DRAFT_STATES.get(draft.state, "unknown"),
            staged_files=draft.staged_entries,
            writer_files=mine.staged_entries if mine else 0,
            sealed=bool(mine and mine.sealed),
            unsealed_writers=tuple(w.writer_id for w in draft.writers if not w.sealed),
        )

    def finish_artifact(
        self,
        name_or_artifact: Union[str, Artifact],
        distributed_id: Optional[str] = None,
        aliases: Sequence[str] = (),
        wait: Optional[float] = None,
        force: bool = False,
        expected_writers: Optional[int] = None,
        metadata: Optional[Dict[str, Any]] = None,
    ) -> Version:
        """Commits the draft. Refuses (`WritersStillActive`) while writers are unsealed,
        unless `wait` seconds pass with them all sealed, or `force`. Given an Artifact
        with files (wandb's `finish_artifact(artifact)`), this writer first adds them to
        the draft and seals, so they are part of the version."""
        name = name_or_artifact.name if isinstance(name_or_artifact, Artifact) else name_or_artifact
        if isinstance(name_or_artifact, Artifact) and name_or_artifact.files:
            self.upsert_artifact(name_or_artifact, distributed_id=distributed_id, expected_writers=expected_writers)
        if metadata is None and isinstance(name_or_artifact, Artifact) and name_or_artifact.metadata:
            metadata = name_or_artifact.metadata
        wait_seconds = int(math.ceil(wait)) if wait else 0
        request = coordinator_pb2.FinishRequest(
            project=self.project,
            artifact=name,
            distributed_id=distributed_id or derive_distributed_id(),
            aliases=_user_aliases(aliases),
            wait_seconds=wait_seconds,
            force=force,
            metadata_json=json.dumps(metadata) if metadata else "",
            request_id=uuid.uuid4().hex,
        )
        if expected_writers is not None:
            request.expected_writers = expected_writers
        response = self._call("Finish", request, timeout=wait_seconds + 120)
        return _version(response.version, response.dedup)

    def abort_artifact(self, name: str, distributed_id: Optional[str] = None) -> str:
        """Abandons a draft; returns its state (`aborted`, or `expired` if it had expired)."""
        request = coordinator_pb2.AbortRequest(
            project=self.project, artifact=name, distributed_id=distributed_id or derive_distributed_id()
        )
        return _DRAFT_STATES.get(self._call("Abort", request).draft.state, "unknown")

    def _commit_edit(self, artifact: Artifact, aliases: Sequence[str]) -> Version:
        base = artifact.base
        assert base is not None
        entries, _ = self._prepare(artifact)
        distributed_id = f"edit-{uuid.uuid4().hex}"
        writer = os.environ.get("CAIRN_WRITER") or f"python-{os.getpid()}"
        removals = artifact.removals
        try:
            self._call("Upsert",
                coordinator_pb2.UpsertRequest(
                    project=base.project,
                    artifact=base.name,
                    type=base.type,
                    distributed_id=distributed_id,
                    writer_id=writer,
                    entries=entries,
                    removals=removals,
                    seal=True,
                    base=base.version,
                    expected_writers=1,
                    request_id=uuid.uuid4().hex,
                ),
            )
        except CairnError:
            try:
                self._call("Abort",
                    coordinator_pb2.AbortRequest(project=base.project, artifact=base.name, distributed_id=distributed_id),
                )
            except CairnError:
                pass  # nothing was staged
            raise
        metadata = {k: v for k, v in artifact.metadata.items()}
        request = coordinator_pb2.FinishRequest(
            project=base.project,
            artifact=base.name,
            distributed_id=distributed_id,
            aliases=_user_aliases(aliases),
            metadata_json=json.dumps(metadata) if metadata else "",
            request_id=uuid.uuid4().hex,
            ttl_seconds=artifact._ttl_seconds(),
        )
        response = self._call("Finish", request)
        return _version(response.version, response.dedup)

    # -- reading ------------------------------------------------------------------------

    def use_artifact(self, reference: str) -> "CommittedArtifact":
        """A committed version: `name`, `name:alias`, `name:vN`, `project/name@sha256:…`."""
        request = coordinator_pb2.GetVersionRequest(project=self.project, reference=reference)
        return CommittedArtifact(self, _version(self._call("GetVersion", request).version))

    def versions(self, name: str) -> List[Version]:
        """Every version of an artifact, oldest first."""
        out: List[Version] = []
        token = ""
        while True:
            request = coordinator_pb2.ListVersionsRequest(project=self.project, artifact=name, page_size=1000, page_token=token)
            page = self._call("ListVersions", request)
            out.extend(_version(v) for v in page.versions)
            if not page.next_page_token:
                return out
            token = page.next_page_token


class CommittedArtifact:
    """A committed version, to read, download, or start an incremental version from."""

    def __init__(self, client: Client, version: Version):
        self._client = client
        self.version = version

    @property
    def name(self) -> str:
        return self.version.name

    def manifest(self) -> List[ManifestEntry]:
        """The version's entries, sorted by path (streamed from the server in pages)."""
        ref = f"{self.version.project}/{self.version.name}:{self.version.version}"
        request = coordinator_pb2.GetManifestRequest(project=self._client.project, reference=ref)
        entries: List[ManifestEntry] = []
        # The whole stream in one attempt: a stream cut half-way is read again from the start.
        pages = self._client._retrying(lambda stub: list(stub.GetManifest(request)))
        for page in pages:
            entries.extend(ManifestEntry(e.path, e.sha256, e.size) for e in page.entries)
        return entries

    def download(self, root: Optional[Union[str, "os.PathLike[str]"]] = None) -> pathlib.Path:
        """Writes every file under `root` (default `./<name>`), verifying each sha256;
        files already present with the right content are kept."""
        target = pathlib.Path(root) if root is not None else pathlib.Path(self.version.name)
        entries = [(e.path, e.sha256, e.size) for e in self.manifest()]
        bar = progress_bar(self.version.bytes, f"{self.name}:{self.version.version}", self._client.progress)
        try:
            download_entries(self._client._storages, entries, target, bar.update if bar else None)
        finally:
            if bar:
                bar.close()
        return target

    def delete(self, delete_aliases: bool = False) -> Optional[Version]:
        """Deletes this version, as wandb's `Artifact.delete(delete_aliases=...)`: a version
        that user aliases name is refused (`VersionHasAliases`) unless `delete_aliases`.
        Returns the artifact's newest remaining version (where `latest` points now), or
        None when none is left. Its index is never reused."""
        ref = f"{self.version.project}/{self.version.name}:{self.version.version}"
        request = coordinator_pb2.DeleteVersionRequest(project=self._client.project, reference=ref, force=delete_aliases)
        response = self._client._call("DeleteVersion", request)
        if not response.HasField("latest_index"):
            return None
        return self._client.use_artifact(f"{self.version.project}/{self.version.name}:v{response.latest_index}").version

    def new_draft(self) -> Artifact:
        """An artifact starting from this version: add and remove files, then
        `client.log_artifact(draft)` uploads and sends only the change."""
        draft = Artifact(self.version.name, self.version.type, metadata=dict(self.version.metadata))
        draft._base = self.version
        return draft
