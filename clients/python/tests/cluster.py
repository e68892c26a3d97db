"""A real cluster for SDK tests: etcd, s3s-fs, coordinator replicas and a storage worker,
each on a free loopback port, every process stopped by pid. A missing etcd or s3s-fs
fails the test (scripts/test.sh installs both).

Secure as a deployment: the servers serve TLS with a certificate from a CA made for the
test (openssl) and require tokens; `bootstrap_token` is the admin token they accept."""

from __future__ import annotations

import os
import pathlib
import secrets
import shutil
import socket
import subprocess
import time
import urllib.request
from typing import List, Optional

import pytest

from conftest import cairn_binary

ACCESS_KEY, SECRET_KEY, BUCKET = "sdkaccesskey", "sdksecretkey", "bucket"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _binary(name: str, hint: str) -> str:
    found = shutil.which(name) or (str(pathlib.Path.home() / ".cargo/bin" / name) if name == "s3s-fs" else None)
    if not found or not pathlib.Path(found).exists():
        pytest.fail(f"{name} not found: {hint}")
    return found


def make_pki(root: pathlib.Path) -> dict:
    """A CA, and a certificate it signed for 127.0.0.1 and localhost (openssl)."""
    root.mkdir(parents=True)
    run = lambda *args: subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=root)  # noqa: E731
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
        "-subj", "/CN=cairn sdk test CA", "-keyout", "ca.key", "-out", "ca.pem")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=cairn server",
        "-keyout", "server.key", "-out", "server.csr")
    (root / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "2", "-extfile", "san.ext", "-out", "server.crt")
    return {"ca": root / "ca.pem", "cert": root / "server.crt", "key": root / "server.key"}


class Cluster:
    def __init__(self, root: pathlib.Path, coordinators: int = 2):
        self.root = root
        self.processes: List[subprocess.Popen] = []
        self.pki = make_pki(root / "pki")
        self.bootstrap_token = secrets.token_hex(32)
        etcd_port, peer_port, s3_port = _free_port(), _free_port(), _free_port()
        self.etcd = f"http://127.0.0.1:{etcd_port}"
        self._start([
            _binary("etcd", "apt-get install etcd-server"), "--name", "sdk", "--data-dir", str(root / "etcd"),
            "--listen-client-urls", self.etcd, "--advertise-client-urls", self.etcd,
            "--listen-peer-urls", f"http://127.0.0.1:{peer_port}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer_port}",
            "--initial-cluster", f"sdk=http://127.0.0.1:{peer_port}", "--log-level", "error",
        ])
        (root / "s3" / BUCKET).mkdir(parents=True)
        self.s3 = f"http://127.0.0.1:{s3_port}"
        self._start([
            _binary("s3s-fs", "cargo install s3s-fs@0.14.1 --locked --features binary"), "--host", "127.0.0.1",
            "--port", str(s3_port), "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY, str(root / "s3"),
        ])
        self._wait(f"{self.etcd}/health")
        self.worker = self._cairn("worker", "w0")
        self.coordinators = [self._cairn("coordinator", f"c{i}") for i in range(coordinators)]

    def _start(self, args: List[str], **kwargs) -> subprocess.Popen:
        process = subprocess.Popen(args, stdout=kwargs.pop("stdout", subprocess.DEVNULL), stderr=subprocess.DEVNULL, **kwargs)
        self.processes.append(process)
        return process

    @staticmethod
    def _wait(url: str) -> None:
        for _ in range(150):
            try:
                urllib.request.urlopen(url, timeout=1)
                return
            except Exception:
                time.sleep(0.1)
        pytest.fail(f"{url} did not answer")

    def _cairn(self, role: str, node_id: str) -> "Node":
        process = self._start(
            [
                str(cairn_binary()), role, "--listen", "127.0.0.1:0", "--node-id", node_id, "--lease-ttl-secs", "3",
                "--etcd-endpoints", self.etcd, "--etcd-namespace", "/sdk-test/", "--s3-bucket", BUCKET,
                "--s3-endpoint", self.s3, "--s3-region", "us-east-1", "--s3-access-key", ACCESS_KEY,
                "--s3-secret-key", SECRET_KEY, "--s3-prefix", "cairn/", "--data-dir", str(self.root / node_id),
            ],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "CAIRN_TLS_CERT": str(self.pki["cert"]), "CAIRN_TLS_KEY": str(self.pki["key"]),
                 "CAIRN_CA_CERT": str(self.pki["ca"]), "CAIRN_BOOTSTRAP_TOKEN": self.bootstrap_token},
        )
        line = process.stdout.readline()
        address = next((w for w in line.split() if w.startswith("127.0.0.1:")), None)
        if address is None:
            pytest.fail(f"cairn {role} {node_id} did not start: {line!r}")
        return Node(process, f"https://{address}")

    def servers(self) -> str:
        return ",".join(c.url for c in self.coordinators)

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.kill()
            process.wait()


class Node:
    def __init__(self, process: subprocess.Popen, url: str):
        self.process = process
        self.url = url

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    @property
    def alive(self) -> bool:
        return self.process.poll() is None


@pytest.fixture
def cluster(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch):
    started: Optional[Cluster] = None
    try:
        started = Cluster(tmp_path / "cluster")
        # Clients trust the test CA, as a user's CAIRN_CA_CERT would have them.
        monkeypatch.setenv("CAIRN_CA_CERT", str(started.pki["ca"]))
        monkeypatch.delenv("CAIRN_TOKEN", raising=False)
        yield started
    finally:
        if started is not None:
            started.stop()
