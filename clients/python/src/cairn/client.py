"""The cairn client: log, upsert, finish and use artifacts.

Every operation is a call into the native core (`cairn._core`, the Rust client the CLI
uses): walking, hashing (through the stat cache), uploading only missing blobs with
resumable uploads, failing over between coordinator replicas, and verified downloads all
happen there, with the GIL released. This module shapes arguments and results."""

from __future__ import annotations

import json
import math
import os
import pathlib
from typing import Any, Dict, List, Optional, Sequence, Union

from . import _core
from .artifact import Artifact, ArtifactSummary, DraftStatus, ManifestEntry, Version
from .identity import derive_distributed_id, derive_writer
from .progress import progress_callback

DEFAULT_SERVER = "http://127.0.0.1:7420"

PathLike = Union[str, "os.PathLike[str]"]


def _user_aliases(aliases: Sequence[str]) -> List[str]:
    """The aliases to set: `latest` always names the newest version by itself, so asking
    for it (as wandb callers such as Lightning's WandbLogger do) is accepted and dropped."""
    return [alias for alias in dict.fromkeys(aliases) if alias != "latest"]


def _version(info: Dict[str, Any]) -> Version:
    """A Version from the core's version or commit summary."""
    metadata = info.get("metadata")
    return Version(
        name=info["name"],
        version=info["version"],
        index=info["index"],
        digest=info["digest"],
        files=info["files"],
        bytes=info["bytes"],
        dedup=bool(info.get("dedup", False)),
        project=info["project"],
        type=info.get("type", ""),
        aliases=tuple(info.get("aliases", ())),
        metadata=metadata if isinstance(metadata, dict) else {},
        expires_unix_ms=info.get("expires_unix_ms"),
        uploaded_bytes=info.get("uploaded_bytes", 0),
        hashed_bytes=info.get("hashed_bytes", 0),
        stat_cache_hits=info.get("stat_cache_hits", 0),
    )


def _draft(info: Dict[str, Any]) -> DraftStatus:
    return DraftStatus(
        name=info["name"],
        distributed_id=info["distributed_id"],
        writer=info.get("writer") or "",
        state=info["state"],
        staged_files=info["draft_files"],
        writer_files=info["writer_files"],
        sealed=info["sealed"],
        unsealed_writers=tuple(info["unsealed_writers"]),
    )


def _metadata_json(metadata: Optional[Dict[str, Any]]) -> str:
    return json.dumps(metadata) if metadata else ""


def _single_run_writer() -> str:
    """The producer id of a single-run log: `CAIRN_WRITER`, else this process."""
    return os.environ.get("CAIRN_WRITER") or f"python-{os.getpid()}"


class Client:
    """A connection to cairn. It connects on first use in each process, so one Client can
    be shared with forked workers (DataLoader workers, multiprocessing with fork) and
    pickled to spawned ones.

    `server` may list several coordinator replicas, comma-separated: calls go to one and
    move to another when it fails; `https://` servers are reached over TLS (trusting the
    system's CAs and `CAIRN_CA_CERT`; `CAIRN_CLIENT_CERT`/`CAIRN_CLIENT_KEY` for mTLS).
    `token` (default `CAIRN_TOKEN`) is sent with every call. `stat_cache=False` hashes
    every file instead of trusting the stat cache; `ignore_files=False` uploads what
    `.cairnignore` leaves out."""

    def __init__(
        self,
        server: Optional[str] = None,
        project: Optional[str] = None,
        progress: Optional[bool] = None,
        stat_cache: bool = True,
        ignore_files: bool = True,
        token: Optional[str] = None,
    ):
        servers = server or os.environ.get("CAIRN_SERVER") or DEFAULT_SERVER
        self.servers = [s.strip() for s in servers.split(",") if s.strip()] or [DEFAULT_SERVER]
        self.server = self.servers[0]
        self.project = project or os.environ.get("CAIRN_PROJECT") or "default"
        self.progress = progress
        self.stat_cache = stat_cache
        self.ignore_files = ignore_files
        self._token = token
        self._core_instance: Optional[Any] = None

    def __getstate__(self) -> Dict[str, Any]:
        state = dict(self.__dict__)
        state["_core_instance"] = None  # the native connection stays in its process
        return state

    @property
    def _core(self):
        if self._core_instance is None:
            self._core_instance = _core.Core(
                ",".join(self.servers),
                self.project,
                progress=progress_callback(self.progress),
                stat_cache=self.stat_cache,
                ignore_files=self.ignore_files,
                token=self._token,
            )
        return self._core_instance

    def whoami(self) -> Optional[Dict[str, str]]:
        """Who the server takes this client for (`token_id`, `project`, `role`), or None
        when the server needs no token."""
        return self._core.who_am_i()

    def quota(self) -> Dict[str, Any]:
        """The project's usage and limits: `stored_bytes` (logical bytes of its committed
        versions), `versions`, `open_drafts`, `max_bytes` and `max_open_drafts` (None: no
        limit), `quota_is_set` (False: the server's defaults apply)."""
        return self._core.quota()

    # -- single run ---------------------------------------------------------------------

    def log_artifact(self, artifact: Artifact, aliases: Sequence[str] = ()) -> Version:
        """Commits the artifact as its next version (or finds it identical to the latest:
        `dedup`). An artifact from `new_draft()` becomes an incremental version of its base."""
        if artifact.base is not None:
            return self._commit_edit(artifact, aliases)
        if not artifact.sources:
            raise ValueError(f"artifact {artifact.name!r} has no files")
        summary = self._core.log(
            artifact.name,
            artifact.type,
            [(str(path), name) for path, name in artifact.sources],
            _user_aliases(aliases),
            json.dumps(artifact.metadata),
            _single_run_writer(),
            artifact._ttl_seconds(),
        )
        return _version(summary)

    def _commit_edit(self, artifact: Artifact, aliases: Sequence[str]) -> Version:
        base = artifact.base
        assert base is not None
        summary = self._core.edit(
            f"{base.project}/{base.name}:{base.version}",
            [(str(path), name) for path, name in artifact.sources],
            artifact.removals,
            _user_aliases(aliases),
            _metadata_json(artifact.metadata),
            _single_run_writer(),
            artifact._ttl_seconds(),
        )
        return _version(summary)

    # -- distributed --------------------------------------------------------------------

    def upsert_artifact(
        self,
        artifact: Artifact,
        distributed_id: Optional[str] = None,
        writer: Optional[str] = None,
        seal: bool = False,
        expected_writers: Optional[int] = None,
    ) -> DraftStatus:
        """Adds this writer's files to the draft shared by `distributed_id` (both derived
        from the job's environment when not given). A writer may upsert many times; with
        `seal=True` it declares itself done (finish waits for every writer to seal, or for
        `expected_writers` of them)."""
        summary = self._core.upsert(
            artifact.name,
            artifact.type,
            distributed_id or derive_distributed_id(),
            writer or derive_writer(),
            [(str(path), name) for path, name in artifact.sources],
            seal,
            expected_writers,
        )
        return _draft(summary)

    def seal_writer(self, name: str, distributed_id: Optional[str] = None, writer: Optional[str] = None) -> DraftStatus:
        """Declares this writer done with the draft, without adding files."""
        summary = self._core.upsert(
            name, None, distributed_id or derive_distributed_id(), writer or derive_writer(), [], True
        )
        return _draft(summary)

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
        distributed_id = distributed_id or derive_distributed_id()
        artifact = name_or_artifact if isinstance(name_or_artifact, Artifact) else None
        name = artifact.name if artifact else str(name_or_artifact)
        if artifact is not None and artifact.sources:
            self.upsert_artifact(artifact, distributed_id=distributed_id, seal=True, expected_writers=expected_writers)
        if metadata is None and artifact is not None and artifact.metadata:
            metadata = artifact.metadata
        summary = self._core.finish(
            name,
            distributed_id,
            _user_aliases(aliases),
            int(math.ceil(wait)) if wait else 0,
            force,
            expected_writers,
            _metadata_json(metadata),
            artifact._ttl_seconds() if artifact is not None else None,
        )
        return _version(summary)

    def abort_artifact(self, name: str, distributed_id: Optional[str] = None) -> str:
        """Abandons a draft; returns its state (`aborted`, or `expired` if it had expired)."""
        return self._core.abort(name, distributed_id or derive_distributed_id())["state"]

    # -- reading ------------------------------------------------------------------------

    def use_artifact(self, reference: str) -> "CommittedArtifact":
        """A committed version: `name`, `name:alias`, `name:vN`, `project/name@sha256:…`."""
        return CommittedArtifact(self, _version(self._core.get_version(reference)))

    def artifact(self, reference: str) -> "CommittedArtifact":
        """A committed version, as `wandb.Api().artifact("project/name:alias")` names it."""
        return self.use_artifact(reference)

    def artifacts(self, type: Optional[str] = None) -> List[ArtifactSummary]:
        """The project's artifacts (of one type, if given), by name."""
        found = [ArtifactSummary(a["name"], a["type"], a["versions"], a["latest"]) for a in self._core.artifacts()]
        return [a for a in found if type is None or a.type == type]

    def versions(self, name: str) -> List[Version]:
        """Every version of an artifact, oldest first."""
        return [_version(v) for v in self._core.versions(name)]

    def delete_artifact(self, name: str, delete_aliases: bool = False) -> List[str]:
        """Deletes every version of an artifact (refused while user aliases name one,
        unless `delete_aliases`); returns the deleted versions."""
        return list(self._core.delete_artifact(name, delete_aliases)["deleted"])

    def set_retention(self, name: str, keep_last: int) -> int:
        """Keeps only the newest `keep_last` versions of an artifact (0: no limit); versions
        that user aliases name are always kept. The collector deletes the others."""
        return int(self._core.set_retention(name, keep_last))


class ArtifactEntry:
    """One file of a committed version (wandb's `artifact.get_entry(path)`)."""

    def __init__(self, artifact: "CommittedArtifact", entry: ManifestEntry):
        self._artifact = artifact
        self.path = entry.path
        self.sha256 = entry.sha256
        self.size = entry.size

    def download(self, root: Optional[PathLike] = None) -> pathlib.Path:
        """Writes this file under `root` (default `./<artifact name>`), verified; returns its path."""
        target = self._artifact._root(root)
        self._artifact._client._core.download(self._artifact._reference, str(target), path=self.path)
        return target / self.path


class CommittedArtifact:
    """A committed version, to read, download, or start an incremental version from."""

    def __init__(self, client: Client, version: Version):
        self._client = client
        self.version = version
        self.metadata: Dict[str, Any] = dict(version.metadata)
        """The version's user metadata; change it (or `description`), then `save()`."""

    @property
    def name(self) -> str:
        return self.version.name

    @property
    def description(self) -> Optional[str]:
        """The description (kept in the metadata, as `Artifact(name, type, description)` puts it)."""
        return self.metadata.get("description")

    @description.setter
    def description(self, text: Optional[str]) -> None:
        if text is None:
            self.metadata.pop("description", None)
        else:
            self.metadata["description"] = text

    def save(self) -> Version:
        """Stores the changed `metadata` and `description` on the committed version (as
        wandb's `artifact.save()`); its files and digest do not change."""
        self.version = _version(self._client._core.update_version(self._by_index, json.dumps(self.metadata)))
        self.metadata = dict(self.version.metadata)
        return self.version

    @property
    def aliases(self) -> Sequence[str]:
        return self.version.aliases

    @property
    def _reference(self) -> str:
        # Pinned by digest: every call acts on exactly this version, even if an alias moves.
        return f"{self.version.project}/{self.version.name}@sha256:{self.version.digest}"

    @property
    def _by_index(self) -> str:
        return f"{self.version.project}/{self.version.name}:{self.version.version}"

    def _root(self, root: Optional[PathLike]) -> pathlib.Path:
        return pathlib.Path(root) if root is not None else pathlib.Path(self.version.name)

    def manifest(self) -> List[ManifestEntry]:
        """The version's entries, sorted by path, verified against the version digest."""
        _, entries = self._client._core.manifest(self._reference)
        return [ManifestEntry(path, sha256, size) for path, sha256, size in entries]

    def files(self) -> List[ManifestEntry]:
        """The version's files (wandb's `artifact.files()`)."""
        return self.manifest()

    def get_entry(self, path: str) -> ArtifactEntry:
        """One file of the version; NotFound if it has none at `path`."""
        from .errors import NotFound

        for entry in self.manifest():
            if entry.path == path:
                return ArtifactEntry(self, entry)
        raise NotFound(f"{self._by_index} has no file {path!r}", code="NOT_FOUND", reason="NOT_IN_VERSION")

    def download(self, root: Optional[PathLike] = None, path_prefix: Optional[str] = None) -> pathlib.Path:
        """Writes the version's files (or those under the directory `path_prefix`) under
        `root` (default `./<name>`), verifying each sha256; files already present with the
        right content are kept."""
        target = self._root(root)
        self._client._core.download(self._reference, str(target), prefix=path_prefix)
        return target

    def verify(self, root: Optional[PathLike] = None) -> None:
        """Checks that `root` holds exactly the version's files, hashing each; raises
        ValueError naming what is missing, changed or extra (as wandb's `verify`)."""
        difference = self._client._core.verify_dir(self._reference, str(self._root(root)))
        problems = [f"{kind}: {', '.join(paths)}" for kind, paths in difference.items() if paths]
        if problems:
            raise ValueError(f"{self._root(root)} does not match {self._by_index}: " + "; ".join(problems))

    def checkout(self, root: Optional[PathLike] = None) -> pathlib.Path:
        """Makes `root` exactly the version: downloads what differs and deletes every file
        the version does not have (as wandb's `checkout`)."""
        target = self._root(root)
        self._client._core.checkout(self._reference, str(target))
        return target

    def set_alias(self, alias: str) -> None:
        """Points `alias` at this version (moving it from another)."""
        info = self._client._core.set_alias(self._by_index, alias)
        self.version = _version(info)

    def delete_alias(self, alias: str) -> None:
        """Removes `alias` from the artifact."""
        self._client._core.delete_alias(self.version.name, alias)
        self.version = _version(self._client._core.get_version(self._by_index))

    def delete(self, delete_aliases: bool = False) -> Optional[Version]:
        """Deletes this version, as wandb's `Artifact.delete(delete_aliases=...)`: a version
        that user aliases name is refused (`VersionHasAliases`) unless `delete_aliases`.
        Returns the artifact's newest remaining version (where `latest` points now), or
        None when none is left. Its index is never reused."""
        summary = self._client._core.delete_version(self._by_index, delete_aliases)
        if summary["latest"] is None:
            return None
        return self._client.use_artifact(f"{self.version.project}/{self.version.name}:{summary['latest']}").version

    def new_draft(self) -> Artifact:
        """An artifact starting from this version: add and remove files, then
        `client.log_artifact(draft)` uploads and sends only the change."""
        draft = Artifact(self.version.name, self.version.type, metadata=dict(self.version.metadata))
        draft._base = self.version
        return draft
