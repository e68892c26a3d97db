"""Moving bytes: parallel hashing, uploads of missing blobs, verified downloads."""

from __future__ import annotations

import hashlib
import os
import pathlib
import sys
import unicodedata
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import grpc

from .errors import VerificationError, from_rpc_error
from .v1 import coordinator_pb2, storage_pb2

CHUNK = 1024 * 1024
FIND_MISSING_BATCH = 10_000
UPLOAD_THREADS = 4


def hash_file(path: pathlib.Path) -> Tuple[str, int]:
    """sha256 (lowercase hex) and size of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while True:
            block = handle.read(CHUNK)
            if not block:
                return digest.hexdigest(), size
            digest.update(block)
            size += len(block)


def hash_files(paths: Sequence[pathlib.Path], progress: Optional[Callable[[int], None]] = None) -> List[Tuple[str, int]]:
    """Hashes files on all cores (hashlib releases the GIL while hashing)."""
    threads = max(1, min(len(paths), os.cpu_count() or 2))

    def one(path: pathlib.Path) -> Tuple[str, int]:
        result = hash_file(path)
        if progress:
            progress(result[1])
        return result

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, paths))


def _put_requests(path: pathlib.Path, sha256: str, size: int) -> Iterator[storage_pb2.PutBlobRequest]:
    yield storage_pb2.PutBlobRequest(header=storage_pb2.PutBlobHeader(sha256=sha256, size=size))
    with open(path, "rb") as handle:
        while True:
            block = handle.read(CHUNK)
            if not block:
                return
            yield storage_pb2.PutBlobRequest(chunk=block)


def find_missing(coordinator, digests: Sequence[str]) -> List[str]:
    """Digests the server does not store."""
    missing: List[str] = []
    for start in range(0, len(digests), FIND_MISSING_BATCH):
        batch = list(digests[start : start + FIND_MISSING_BATCH])
        try:
            response = coordinator.FindMissingBlobs(coordinator_pb2.FindMissingBlobsRequest(sha256=batch))
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None
        missing.extend(response.missing)
    return missing


def upload_missing(
    coordinator,
    storages: Callable[[], Sequence[object]],
    files: Dict[str, Tuple[pathlib.Path, int]],
    progress: Optional[Callable[[int], None]] = None,
) -> int:
    """Uploads the blobs in `files` (sha256 → (path, size)) that the server lacks; returns bytes sent."""
    missing = find_missing(coordinator, list(files))

    def upload(index_and_digest: Tuple[int, str]) -> int:
        index, sha256 = index_and_digest
        path, size = files[sha256]
        last_error: Optional[grpc.RpcError] = None
        stubs = storages()
        for attempt in range(2 * len(stubs) + 1):
            stub = stubs[(index + attempt) % len(stubs)]
            try:
                response = stub.PutBlob(_put_requests(path, sha256, size))
                if progress:
                    progress(size)
                return 0 if response.already_present else size
            except grpc.RpcError as error:
                # UNAVAILABLE: that worker is gone; ABORTED: a resumed upload was discarded.
                if error.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.ABORTED):
                    raise from_rpc_error(error) from None
                last_error = error
        assert last_error is not None
        raise from_rpc_error(last_error) from None

    with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
        return sum(pool.map(upload, enumerate(missing)))


def _is_present(target: pathlib.Path, sha256: str, size: int) -> bool:
    return target.is_file() and target.stat().st_size == size and hash_file(target)[0] == sha256


def _safe_target(root: pathlib.Path, path: str) -> pathlib.Path:
    """Where entry `path` goes under `root`, refusing what could land elsewhere: the entry
    path rules of the Rust client (relative, `/`-separated, no `.`/`..`/empty segments, no
    `\\`, no control characters), a drive letter, and any symbolic link already on the way."""
    parts = path.split("/")
    unsafe = (
        path.startswith("/")
        or any(p in ("", ".", "..") for p in parts)
        or "\\" in path
        or any(unicodedata.category(c) == "Cc" for c in path)
        or (len(parts[0]) >= 2 and parts[0][1] == ":" and parts[0][0].isalpha())
    )
    if unsafe:
        raise VerificationError(f"refusing unsafe entry path {path!r}", reason="INVALID_PATH")
    target = root
    for part in parts:
        target = target / part
        if target.is_symlink():
            raise VerificationError(
                f"refusing to write {path!r} through the symbolic link {target}", reason="INVALID_PATH"
            )
    return target


def download_entries(
    storages: Callable[[], Sequence[object]],
    entries: Iterable[Tuple[str, str, int]],
    root: pathlib.Path,
    progress: Optional[Callable[[int], None]] = None,
) -> Tuple[int, int]:
    """Downloads (path, sha256, size) entries under `root`; returns (bytes fetched, files skipped).
    Each file goes through a temporary file beside it and is renamed only once verified."""
    root.mkdir(parents=True, exist_ok=True)

    def fetch(index_and_entry: Tuple[int, Tuple[str, str, int]]) -> Tuple[int, int]:
        index, (path, sha256, size) = index_and_entry
        target = _safe_target(root, path)
        if _is_present(target, sha256, size):
            return 0, 1
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.parent / f".{target.name}.cairn-partial-{uuid.uuid4().hex}"
        stubs = storages()
        try:
            for attempt in range(2 * len(stubs) + 1):
                stub = stubs[(index + attempt) % len(stubs)]
                digest = hashlib.sha256()
                try:
                    with open(temp, "wb") as handle:
                        for message in stub.GetBlob(storage_pb2.GetBlobRequest(sha256=sha256)):
                            digest.update(message.chunk)
                            handle.write(message.chunk)
                        handle.flush()
                        os.fsync(handle.fileno())
                    break
                except grpc.RpcError as error:
                    if error.code() != grpc.StatusCode.UNAVAILABLE or attempt == 2 * len(stubs):
                        raise from_rpc_error(error) from None
            actual = digest.hexdigest()
            if actual != sha256:
                raise VerificationError(
                    f"{path}: downloaded content hashes to {actual}, expected {sha256}",
                    reason="DIGEST_MISMATCH",
                    metadata={"path": path, "sha256": sha256, "actual_sha256": actual},
                )
            os.replace(temp, target)
        finally:
            if temp.exists():
                temp.unlink()
        if progress:
            progress(size)
        return size, 0

    with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
        results = list(pool.map(fetch, enumerate(entries)))
    return sum(r[0] for r in results), sum(r[1] for r in results)


def progress_bar(total: int, description: str, enabled: Optional[bool]):
    """A tqdm bar in bytes when enabled (default: tqdm installed and stderr a terminal)."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return None
    try:
        from tqdm import tqdm  # type: ignore
    except ImportError:
        return None
    return tqdm(total=total, desc=description, unit="B", unit_scale=True, unit_divisor=1024, leave=False)
