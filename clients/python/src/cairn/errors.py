"""Exceptions raised by the SDK, mapped from the server's gRPC status and ErrorInfo.

The native core raises them through `from_core`; `from_rpc_error` maps errors of the
generated gRPC stubs (`cairn.v1`, the `grpc` extra) the same way."""

from __future__ import annotations

from typing import Dict, List, Optional

class CairnError(Exception):
    """Base of every cairn error: the gRPC code, the ErrorInfo reason and its metadata."""

    def __init__(self, message: str, code: Optional[str] = None, reason: str = "", metadata: Optional[Dict[str, str]] = None):
        super().__init__(f"{message} [{reason}]" if reason else message)
        self.message = message
        self.code = code
        self.reason = reason
        self.metadata: Dict[str, str] = dict(metadata or {})


class InvalidArgument(CairnError):
    """The request is malformed (bad path, name, digest, metadata…)."""


class NotFound(CairnError):
    """An artifact, version, alias, draft or blob does not exist."""


class AlreadyExists(CairnError):
    """The request collides with existing data."""


class FailedPrecondition(CairnError):
    """The current state refuses the request."""


class Unavailable(CairnError):
    """The server or a backend is unreachable; retrying may help."""


class Unauthenticated(CairnError):
    """No token, or one that is unknown, revoked or expired (reason TOKEN_*)."""


class PermissionDenied(CairnError):
    """A valid token outside its project (PROJECT_NOT_ALLOWED) or role (ROLE_TOO_LOW)."""


class DataLoss(CairnError):
    """Bytes did not hash to their address."""


class PathConflict(AlreadyExists):
    """Another writer staged this path with other content."""

    @property
    def path(self) -> str:
        return self.metadata.get("path", "")

    @property
    def writer(self) -> str:
        return self.metadata.get("writer", "")

    @property
    def existing_writer(self) -> str:
        return self.metadata.get("existing_writer", "")

    @property
    def sha256(self) -> str:
        return self.metadata.get("sha256", "")

    @property
    def existing_sha256(self) -> str:
        return self.metadata.get("existing_sha256", "")


class DraftCommitted(FailedPrecondition):
    """The draft was committed already; it names its version."""

    @property
    def version(self) -> str:
        return self.metadata.get("version", "")


class DraftAborted(FailedPrecondition):
    """The draft was aborted; its distributed_id is not reused."""


class DraftExpired(FailedPrecondition):
    """The draft expired; its distributed_id is not reused."""


class WriterSealed(FailedPrecondition):
    """A sealed writer tried to change its entries."""


class WritersStillActive(FailedPrecondition):
    """Finish was refused: some writers have not sealed, or fewer than expected did."""

    @property
    def unsealed_writers(self) -> List[str]:
        value = self.metadata.get("unsealed_writers", "")
        return [w for w in value.split(",") if w]


class BlobNotStored(FailedPrecondition):
    """An entry names a blob that was never uploaded."""


class VersionHasAliases(FailedPrecondition):
    """A delete was refused: user aliases name the version (delete them, or force)."""

    @property
    def aliases(self) -> List[str]:
        return [a for a in self.metadata.get("aliases", "").split(",") if a]


class IdentityError(InvalidArgument):
    """distributed_id or writer could not be derived from the environment."""


class VerificationError(DataLoss):
    """A downloaded file did not match its sha256."""


_BY_REASON = {
    "PATH_CONFLICT": PathConflict,
    "DRAFT_COMMITTED": DraftCommitted,
    "DRAFT_ABORTED": DraftAborted,
    "DRAFT_EXPIRED": DraftExpired,
    "WRITER_SEALED": WriterSealed,
    "WRITERS_STILL_ACTIVE": WritersStillActive,
    "BLOB_NOT_STORED": BlobNotStored,
    "VERSION_HAS_ALIASES": VersionHasAliases,
}

_BY_CODE = {
    "INVALID_ARGUMENT": InvalidArgument,
    "NOT_FOUND": NotFound,
    "ALREADY_EXISTS": AlreadyExists,
    "FAILED_PRECONDITION": FailedPrecondition,
    "UNAVAILABLE": Unavailable,
    "DATA_LOSS": DataLoss,
    "UNAUTHENTICATED": Unauthenticated,
    "PERMISSION_DENIED": PermissionDenied,
}

_DATA_LOSS_REASONS = ("DIGEST_MISMATCH", "MANIFEST_MISMATCH")


def from_core(message: str, code: Optional[str], reason: str, metadata: Dict[str, str]) -> CairnError:
    """The exception for an error of the native core (called from Rust)."""
    cls = _BY_REASON.get(reason) or (VerificationError if reason in _DATA_LOSS_REASONS else None)
    cls = cls or _BY_CODE.get(code or "", CairnError)
    return cls(message, code=code, reason=reason, metadata=metadata)


def _error_info(error):
    """Reads (reason, metadata) from the grpc-status-details-bin trailer, if present."""
    from ._errorinfo import decode_error_info

    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            return decode_error_info(value)
    return "", {}


def from_rpc_error(error) -> CairnError:
    """The SDK exception for a failed call of the generated stubs (a `grpc.RpcError`)."""
    code = error.code() if hasattr(error, "code") else None
    message = error.details() if hasattr(error, "details") else str(error)
    reason, metadata = _error_info(error)
    name = code.name if code else None
    return from_core(message or str(code), name, reason, metadata)
