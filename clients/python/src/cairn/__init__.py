"""cairn: versioned artifacts for (distributed) ML training.

    client = cairn.Client()
    art = cairn.Artifact("predictions", type="predictions")
    art.add_dir("out/")
    client.log_artifact(art, aliases=["best"])
"""

from . import errors
from .artifact import Artifact, ArtifactSummary, DraftStatus, ManifestEntry, Version
from .client import ArtifactEntry, Client, CommittedArtifact
from .identity import derive_distributed_id, derive_writer, whoami

__all__ = [
    "Artifact",
    "ArtifactEntry",
    "ArtifactSummary",
    "Client",
    "CommittedArtifact",
    "DraftStatus",
    "ManifestEntry",
    "Version",
    "derive_distributed_id",
    "derive_writer",
    "errors",
    "whoami",
]
__version__ = "0.1.0"
