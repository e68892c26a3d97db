"""Fixtures: a real `cairn dev` server per test, on a free loopback port, stopped by pid."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]


def cairn_binary() -> pathlib.Path:
    """The cairn binary built by `cargo test`/`cargo build`; a missing one fails the test."""
    candidates = []
    if os.environ.get("CAIRN_BIN"):
        candidates.append(pathlib.Path(os.environ["CAIRN_BIN"]))
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    candidates += [target / "debug" / "cairn", target / "release" / "cairn"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    pytest.fail(f"cairn binary not found (tried {', '.join(map(str, candidates))}); run cargo build -p cairn-cli")


class DevServer:
    def __init__(self, data_dir: pathlib.Path):
        self.data_dir = data_dir
        self.process = subprocess.Popen(
            [str(cairn_binary()), "dev", "--listen", "127.0.0.1:0", "--data-dir", str(data_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        line = self.process.stdout.readline()
        address = next((w for w in line.split() if w.startswith("127.0.0.1:")), None)
        if address is None:
            self.stop()
            pytest.fail(f"cairn dev did not start: {line!r}")
        self.url = f"http://{address}"

    def blob_path(self, sha256: str) -> pathlib.Path:
        return self.data_dir / "blobs" / "objects" / "blobs" / "sha256" / sha256[:2] / sha256

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


@pytest.fixture
def server(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch):
    dev = DevServer(tmp_path / "server-data")
    monkeypatch.setenv("CAIRN_SERVER", dev.url)
    monkeypatch.delenv("CAIRN_PROJECT", raising=False)
    for name in ("CAIRN_DISTRIBUTED_ID", "CAIRN_WRITER", "TORCHELASTIC_RUN_ID", "RANK", "JOB_COMPLETION_INDEX",
                 "JOB_NAME", "JOB_UID", "JOBSET_NAME", "JOBSET_UID", "JOB_INDEX", "SLURM_JOB_ID", "SLURM_STEP_ID",
                 "SLURM_PROCID", "OMPI_COMM_WORLD_RANK", "PMI_RANK", "MASTER_ADDR", "WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    yield dev
    dev.stop()


def write(root: pathlib.Path, files: dict) -> pathlib.Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return root


def read_tree(root: pathlib.Path) -> dict:
    return {str(p.relative_to(root)).replace(os.sep, "/"): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


sys.path.insert(0, str(pathlib.Path(__file__).parent))
