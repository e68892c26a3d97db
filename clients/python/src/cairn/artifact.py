"""Artifacts being assembled locally, and the results the server returns."""

from __future__ import annotations

import datetime
import os
import pathlib
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from . import _core

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class Version:
    """A committed version."""

    name: str
    version: str
    index: int
    digest: str
    files: int
    bytes: int
    dedup: bool = False
    project: str = "default"
    type: str = ""
    aliases: Sequence[str] = ()
    metadata: Dict[str, Any] = field(default_factory=dict)
    expires_unix_ms: Optional[int] = None
    uploaded_bytes: int = 0
    """Bytes the call that returned this version uploaded (0 when only read)."""
    hashed_bytes: int = 0
    """Bytes that call read and hashed: files the stat cache knew unchanged are not read."""
    stat_cache_hits: int = 0
    """Files whose digest that call took from the stat cache."""


@dataclass(frozen=True)
class ManifestEntry:
    """One file of a version."""

    path: str
    sha256: str
    size: int


@dataclass(frozen=True)
class DraftStatus:
    """A draft after an upsert."""

    name: str
    distributed_id: str
    writer: str
    state: str
    staged_files: int
    writer_files: int
    sealed: bool
    unsealed_writers: Sequence[str]


@dataclass(frozen=True)
class ArtifactSummary:
    """An artifact in a listing."""

    name: str
    type: str
    versions: int
    latest: str


class Artifact:
    """A set of files to log: add files and directories, remove paths of a base version.

    Nothing is read until the artifact is logged: directories are walked then, by the
    native core, with the CLI's rules (`.cairnignore`, symbolic links followed, `.git` and
    `.cairn` left out), so the SDK and the CLI give one tree the same digest."""

    def __init__(
        self,
        name: str,
        type: str,
        description: Optional[str] = None,
        metadata: Optional[Dict[str, Any]] = None,
    ):
        # wandb's order: the third positional argument is the description. A dict there is
        # taken as metadata, as this SDK's first releases had it.
        if isinstance(description, dict) and metadata is None:
            description, metadata = None, description
        self.name = name
        self.type = type
        self.description = description
        self.metadata: Dict[str, Any] = dict(metadata or {})
        if description is not None:
            # The API has no description field: it travels as metadata.
            self.metadata["description"] = description
        self._sources: List[Tuple[pathlib.Path, Optional[str]]] = []
        self._removals: List[str] = []
        self._base: Optional[Version] = None
        self.ttl: Optional[Union[int, float, datetime.timedelta]] = None
        """Time to live of the version this artifact becomes (wandb's `artifact.ttl`): a
        `timedelta` or seconds. Once it passes, the garbage collector deletes the version,
        unless a user alias names it. None: kept until deleted."""

    def _ttl_seconds(self) -> Optional[int]:
        if self.ttl is None:
            return None
        seconds = self.ttl.total_seconds() if isinstance(self.ttl, datetime.timedelta) else float(self.ttl)
        if seconds <= 0:
            raise ValueError(f"ttl must be positive, got {self.ttl!r}")
        return max(1, int(seconds))

    def add_file(self, local_path: PathLike, name: Optional[str] = None) -> "Artifact":
        """Adds one file, as `name` (default: the file's name)."""
        path = pathlib.Path(local_path)
        if not path.is_file():
            raise FileNotFoundError(f"{path} is not a file")
        entry = name or path.name
        _core.check_entry_path(entry)
        for source, named in self._sources:
            if named == entry and source != path:
                raise ValueError(f"entry {entry!r} comes from both {source} and {path}")
        if entry in self._removals:
            # wandb's modify idiom, remove then add under the same name: a replacement.
            self._removals.remove(entry)
        self._sources.append((path, entry))
        return self

    def add_dir(self, local_dir: PathLike, name: Optional[str] = None) -> "Artifact":
        """Adds every file under `local_dir` at its relative path (under `name/` if given),
        as the CLI walks directories."""
        root = pathlib.Path(local_dir)
        if not root.is_dir():
            raise NotADirectoryError(f"{root} is not a directory")
        self._sources.append((root, name.rstrip("/") if name else None))
        return self

    def remove(self, path: str) -> "Artifact":
        """Drops a file added under `path`, or else removes `path` from the base version
        (for drafts from `new_draft`)."""
        kept = [(source, named) for source, named in self._sources if named != path or source.is_dir()]
        if len(kept) == len(self._sources):
            self._removals.append(path)
        self._sources = kept
        return self

    @property
    def sources(self) -> List[Tuple[pathlib.Path, Optional[str]]]:
        """What was added: (local file or directory, entry path or prefix)."""
        return list(self._sources)

    @property
    def files(self) -> Dict[str, pathlib.Path]:
        """Entry path → local file, walked now with the CLI's rules."""
        return {entry: pathlib.Path(path) for entry, path in _core.collect(self._sources)}

    @property
    def removals(self) -> List[str]:
        """Paths to remove from the base version."""
        return list(self._removals)

    @property
    def base(self) -> Optional[Version]:
        """The version this artifact edits, if it came from `new_draft`."""
        return self._base
