"""The SDK against a real cluster (etcd, S3, two coordinator replicas, a worker)."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

import cairn
from cluster import cluster  # noqa: F401  (fixture)
from conftest import cairn_binary, read_tree, write


def test_a_log_survives_the_coordinator_it_uses_being_killed_mid_way(cluster, tmp_path, monkeypatch):  # noqa: F811
    import cairn.client as client_module

    files = {f"part-{i}.bin": os.urandom(4 << 20) for i in range(16)}
    write(tmp_path / "data", files)
    first = cluster.coordinators[0]

    def kill_first_once_uploading(phase, event, amount):
        if phase == "uploading" and event == "begin" and first.alive:
            first.kill()

    monkeypatch.setattr(client_module, "progress_callback", lambda enabled: kill_first_once_uploading)
    client = cairn.Client(server=cluster.servers(), progress=True, token=cluster.bootstrap_token)
    version = client.log_artifact(cairn.Artifact("failover", "dataset").add_dir(tmp_path / "data"))
    assert not first.alive, "the coordinator the client started with was killed during the log"
    assert (version.version, version.files, version.bytes) == ("v0", 16, 64 << 20)

    # A distributed draft through the surviving replica, then every byte read back.
    write(tmp_path / "ranks", {"r0.bin": b"rank 0", "r1.bin": b"rank 1"})
    for rank in range(2):
        art = cairn.Artifact("ranked", "checkpoint").add_file(tmp_path / "ranks" / f"r{rank}.bin")
        client.upsert_artifact(art, distributed_id="cluster-job", writer=f"rank-{rank}", seal=True)
    assert client.finish_artifact("ranked", distributed_id="cluster-job").files == 2
    assert read_tree(client.use_artifact("failover").download(tmp_path / "back")) == files
    assert read_tree(client.use_artifact("ranked").download(tmp_path / "ranked")) == {"r0.bin": b"rank 0", "r1.bin": b"rank 1"}


def test_the_sdk_over_tls_with_tokens_is_refused_without_one_and_acts_within_its_role(cluster, tmp_path):  # noqa: F811
    from cairn import errors

    write(tmp_path / "data", {"a.txt": b"a"})
    art = lambda: cairn.Artifact("secured", "dataset").add_dir(tmp_path / "data")  # noqa: E731
    with pytest.raises(errors.CairnError) as missing:
        cairn.Client(server=cluster.servers()).log_artifact(art())
    assert (missing.value.code, missing.value.reason) == ("UNAUTHENTICATED", "TOKEN_MISSING")

    admin = cairn.Client(server=cluster.servers(), token=cluster.bootstrap_token)
    assert admin.whoami() == {"token_id": "bootstrap", "project": "*", "role": "admin"}
    # Tokens made with the CLI against the same cluster, as an operator would.
    env = {**os.environ, "CAIRN_TOKEN": cluster.bootstrap_token, "CAIRN_SERVER": cluster.servers()}
    def token(role: str) -> str:
        out = subprocess.run([str(cairn_binary()), "token", "create", "--role", role, "--json"],
                             env=env, capture_output=True, text=True, check=True)
        return json.loads(out.stdout)["token"]
    writer = cairn.Client(server=cluster.servers(), token=token("writer"))
    reader = cairn.Client(server=cluster.servers(), token=token("reader"))
    assert writer.log_artifact(art()).version == "v0"
    assert read_tree(reader.use_artifact("secured").download(tmp_path / "back")) == {"a.txt": b"a"}
    with pytest.raises(errors.CairnError) as denied:
        reader.log_artifact(cairn.Artifact("secured", "dataset").add_file(tmp_path / "data" / "a.txt", name="b.txt"))
    assert (denied.value.code, denied.value.reason) == ("PERMISSION_DENIED", "ROLE_TOO_LOW")
    assert [v.version for v in admin.versions("secured")] == ["v0"], "the refused log changed nothing"
