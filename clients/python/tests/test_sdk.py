"""The SDK against a live `cairn dev`: logging, distributed ranks, errors, edits, downloads."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import pathlib

import pytest

import cairn
from cairn import errors
from conftest import read_tree, write


def test_log_artifact_then_identical_relog_is_a_dedup_hit(server, tmp_path):
    write(tmp_path / "out", {"a/b.bin": b"bytes of b", "c.txt": b"c"})
    client = cairn.Client()
    art = cairn.Artifact("preds", type="predictions", metadata={"epoch": 3}, description="val preds")
    art.add_dir(tmp_path / "out")
    first = client.log_artifact(art, aliases=["best"])
    assert (first.name, first.version, first.files, first.bytes, first.dedup) == ("preds", "v0", 2, 11, False)
    assert "best" in first.aliases and first.metadata == {"epoch": 3, "description": "val preds"}
    again = client.log_artifact(art)
    assert (again.version, again.dedup, again.digest) == ("v0", True, first.digest)
    manifest = client.use_artifact("preds:best").manifest()
    assert [(e.path, e.sha256) for e in manifest] == [
        ("a/b.bin", hashlib.sha256(b"bytes of b").hexdigest()),
        ("c.txt", hashlib.sha256(b"c").hexdigest()),
    ]


def _rank(rank: int, root: str, world: int, result) -> None:
    # Each rank is its own process with torchrun's environment.
    os.environ["TORCHELASTIC_RUN_ID"] = "run-42"
    os.environ["RANK"] = str(rank)
    client = cairn.Client()
    art = cairn.Artifact("ckpt", type="checkpoint")
    art.add_file(pathlib.Path(root) / f"shard-{rank}.bin", name=f"shards/{rank}.bin")
    client.upsert_artifact(art, seal=True)
    if rank == 0:
        version = client.finish_artifact("ckpt", wait=60, expected_writers=world)
        result.put((version.version, version.files))


def test_four_ranks_build_one_version_finished_by_rank_0_with_wait(server, tmp_path):
    shards = {f"shard-{r}.bin": os.urandom(100_000 + r) for r in range(4)}
    write(tmp_path, shards)
    context = multiprocessing.get_context("spawn")
    result = context.Queue()
    # Rank 0 starts first and waits for the others inside finish.
    procs = [context.Process(target=_rank, args=(r, str(tmp_path), 4, result)) for r in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    assert result.get(timeout=5) == ("v0", 4)
    out = cairn.Client().use_artifact("ckpt").download(tmp_path / "restored")
    assert read_tree(out) == {f"shards/{r}.bin": shards[f"shard-{r}.bin"] for r in range(4)}


def test_conflicting_ranks_raise_path_conflict_with_details(server, tmp_path):
    write(tmp_path, {"a.bin": b"from rank 0", "b.bin": b"from rank 1"})
    client = cairn.Client()
    client.upsert_artifact(cairn.Artifact("c", "t").add_file(tmp_path / "a.bin", name="same.bin"), "job", "rank-0")
    with pytest.raises(errors.PathConflict) as caught:
        client.upsert_artifact(cairn.Artifact("c", "t").add_file(tmp_path / "b.bin", name="same.bin"), "job", "rank-1")
    conflict = caught.value
    assert (conflict.path, conflict.existing_writer, conflict.writer) == ("same.bin", "rank-0", "rank-1")
    assert conflict.sha256 == hashlib.sha256(b"from rank 1").hexdigest()
    assert conflict.existing_sha256 == hashlib.sha256(b"from rank 0").hexdigest()
    assert isinstance(conflict, errors.AlreadyExists)


def test_upsert_after_finish_raises_draft_committed_naming_the_version(server, tmp_path):
    write(tmp_path, {"f": b"f", "g": b"g"})
    client = cairn.Client()
    client.upsert_artifact(cairn.Artifact("d", "t").add_file(tmp_path / "f"), "job", "w1", seal=True)
    client.finish_artifact("d", "job")
    with pytest.raises(errors.DraftCommitted) as caught:
        client.upsert_artifact(cairn.Artifact("d", "t").add_file(tmp_path / "g"), "job", "w2")
    assert caught.value.version == "v0"


def test_finish_with_an_unsealed_writer_raises_writers_still_active(server, tmp_path):
    write(tmp_path, {"f": b"f"})
    client = cairn.Client()
    client.upsert_artifact(cairn.Artifact("d", "t").add_file(tmp_path / "f"), "job", "slow-rank", seal=False)
    with pytest.raises(errors.WritersStillActive) as caught:
        client.finish_artifact("d", "job")
    assert caught.value.unsealed_writers == ["slow-rank"]
    assert client.finish_artifact("d", "job", force=True).files == 1


def test_new_draft_adds_and_removes_and_leaves_the_base_untouched(server, tmp_path):
    write(tmp_path / "v0", {"keep.txt": b"keep", "gone.txt": b"gone", "swap.txt": b"old"})
    client = cairn.Client()
    base = client.log_artifact(cairn.Artifact("ds", "dataset").add_dir(tmp_path / "v0"))
    write(tmp_path, {"new.txt": b"new", "swap-new.txt": b"swapped"})
    draft = client.use_artifact("ds:v0").new_draft()
    draft.add_file(tmp_path / "new.txt").add_file(tmp_path / "swap-new.txt", name="swap.txt").remove("gone.txt")
    edited = client.log_artifact(draft, aliases=["edited"])
    assert (edited.version, edited.files, edited.dedup) == ("v1", 3, False)
    assert read_tree(client.use_artifact("ds:edited").download(tmp_path / "v1out")) == {
        "keep.txt": b"keep",
        "new.txt": b"new",
        "swap.txt": b"swapped",
    }
    untouched = client.use_artifact("ds:v0")
    assert untouched.version.digest == base.digest
    assert [e.path for e in untouched.manifest()] == ["gone.txt", "keep.txt", "swap.txt"]

    bad = client.use_artifact("ds:v1").new_draft().remove("not-there.txt")
    with pytest.raises(errors.NotFound):
        client.log_artifact(bad)
    assert [v.version for v in client.versions("ds")] == ["v0", "v1"], "nothing was committed"


def test_download_verifies_every_file_and_detects_corruption(server, tmp_path):
    content = os.urandom(300_000)
    write(tmp_path / "src", {"weights.bin": content, "ok.txt": b"fine"})
    client = cairn.Client()
    client.log_artifact(cairn.Artifact("m", "model").add_dir(tmp_path / "src"))
    out = client.use_artifact("m").download(tmp_path / "good")
    assert read_tree(out) == {"ok.txt": b"fine", "weights.bin": content}

    blob = server.blob_path(hashlib.sha256(content).hexdigest())
    corrupted = bytearray(blob.read_bytes())
    corrupted[1000] ^= 0xFF
    blob.write_bytes(bytes(corrupted))
    with pytest.raises(errors.VerificationError) as caught:
        client.use_artifact("m").download(tmp_path / "bad")
    assert caught.value.metadata["path"] == "weights.bin"
    left = read_tree(tmp_path / "bad")
    assert "weights.bin" not in left and all(".cairn-partial" not in name for name in left)


def _use_inherited_client(client, root, queue):
    try:
        art = cairn.Artifact("child", "t").add_file(pathlib.Path(root) / "child.txt")
        queue.put(client.log_artifact(art).version)
    except Exception as error:  # reported to the parent
        queue.put(repr(error))


def test_a_client_survives_fork(server, tmp_path):
    write(tmp_path, {"parent.txt": b"p", "child.txt": b"c"})
    client = cairn.Client()
    assert client.log_artifact(cairn.Artifact("parent", "t").add_file(tmp_path / "parent.txt")).version == "v0"
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_use_inherited_client, args=(client, str(tmp_path), queue))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    assert queue.get(timeout=5) == "v0"
    assert client.use_artifact("child").version.files == 1, "the parent's client still works"


def test_unknown_references_and_bad_names_map_to_typed_errors(server):
    client = cairn.Client()
    with pytest.raises(errors.NotFound):
        client.use_artifact("nothing-here")
    with pytest.raises(errors.InvalidArgument) as caught:
        client.use_artifact("bad name")
    assert caught.value.reason in ("INVALID_NAME", "INVALID_REFERENCE")


def test_deleting_a_version_moves_latest_and_refuses_aliased_versions(server, tmp_path):
    client = cairn.Client()
    for i in range(3):
        (tmp_path / f"d{i}").mkdir()
        (tmp_path / f"d{i}" / "x.txt").write_text(f"content {i}")
        client.log_artifact(cairn.Artifact("deleted", type="dataset").add_dir(tmp_path / f"d{i}"), aliases=[] if i else ["best"])
    latest = client.use_artifact("deleted").delete()
    assert latest is not None and latest.version == "v1"
    assert [v.version for v in client.versions("deleted")] == ["v0", "v1"]
    with pytest.raises(cairn.errors.VersionHasAliases) as refused:
        client.use_artifact("deleted:best").delete()
    assert refused.value.aliases == ["best"]
    assert [v.version for v in client.versions("deleted")] == ["v0", "v1"], "the refusal changed nothing"
    assert client.use_artifact("deleted:v0").delete(delete_aliases=True).version == "v1"
    with pytest.raises(cairn.errors.NotFound):
        client.use_artifact("deleted:best")
    assert client.use_artifact("deleted:v1").delete() is None


def test_an_artifact_ttl_gives_its_version_an_expiry(server, tmp_path):
    import datetime
    import time

    client = cairn.Client()
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "x.txt").write_text("short-lived")
    artifact = cairn.Artifact("ttl", type="dataset").add_dir(tmp_path / "t")
    artifact.ttl = datetime.timedelta(days=30)
    version = client.log_artifact(artifact)
    expires = client.use_artifact("ttl").version.expires_unix_ms
    assert expires is not None and expires > time.time() * 1000 + 29 * 86_400_000
    kept = cairn.Artifact("ttl", type="dataset").add_dir(tmp_path / "t")
    kept.ttl = 0
    with pytest.raises(ValueError):
        client.log_artifact(kept)
    assert version.version == "v0"



def test_wandb_idioms_description_latest_alias_remove_then_add_and_finish_with_files(server, tmp_path, monkeypatch):
    write(tmp_path, {"a.bin": b"old a", "new.bin": b"new a", "b.bin": b"b", "s0.bin": b"shard 0", "s1.bin": b"shard 1"})
    client = cairn.Client()
    # wandb's third positional argument is the description.
    art = cairn.Artifact("wb", "dataset", "my description")
    assert (art.description, art.metadata) == ("my description", {"description": "my description"})
    art.add_file(tmp_path / "a.bin").add_file(tmp_path / "b.bin")
    # Lightning's WandbLogger asks for `latest` among the aliases: accepted, not an error.
    v0 = client.log_artifact(art, aliases=["latest", "best"])
    assert {"latest", "best"} <= set(v0.aliases)

    # wandb's modify idiom: remove a path, then add a file under the same name.
    draft = client.use_artifact("wb:v0").new_draft()
    draft.remove("a.bin")
    draft.add_file(tmp_path / "new.bin", name="a.bin")
    v1 = client.log_artifact(draft)
    assert read_tree(client.use_artifact(f"wb:{v1.version}").download(tmp_path / "v1")) == {
        "a.bin": b"new a",
        "b.bin": b"b",
    }

    # finish_artifact(artifact) adds the finishing rank's own files before committing.
    other = cairn.Artifact("fin", "checkpoint").add_file(tmp_path / "s1.bin")
    client.upsert_artifact(other, distributed_id="fin-job", writer="rank-1", seal=True)
    monkeypatch.setenv("CAIRN_WRITER", "rank-0")
    mine = cairn.Artifact("fin", "checkpoint").add_file(tmp_path / "s0.bin")
    finished = client.finish_artifact(mine, distributed_id="fin-job", expected_writers=2, aliases=["latest"])
    assert finished.files == 2
    assert read_tree(client.use_artifact("fin").download(tmp_path / "fin")) == {"s0.bin": b"shard 0", "s1.bin": b"shard 1"}


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_every_listed_replica_is_used_and_a_dead_one_is_skipped(server, tmp_path, monkeypatch):
    dead = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    write(tmp_path / "out", {"a.txt": b"a", "b/c.txt": b"c"})
    client = cairn.Client(server=f"{dead},{server.url}")
    assert client.servers == [dead, server.url]
    logged = client.log_artifact(cairn.Artifact("failover", "dataset").add_dir(tmp_path / "out"))
    assert (logged.version, logged.files) == ("v0", 2)
    assert [e.path for e in client.use_artifact("failover").manifest()] == ["a.txt", "b/c.txt"]
    assert read_tree(client.use_artifact("failover").download(tmp_path / "back")) == {"a.txt": b"a", "b/c.txt": b"c"}

    # With no live replica, the call fails as unavailable.
    with pytest.raises(errors.Unavailable):
        cairn.Client(server=dead).use_artifact("failover")


@pytest.mark.parametrize(
    "path", ["/etc/passwd", "a/../../x", "a//b", "./a", "a\\b", "C:/Windows/x", "c:x", "a\x00b", "a\nb", "\\\\host\\share\\x"]
)
def test_entry_paths_that_could_land_outside_a_directory_are_refused(tmp_path, path):
    # The core's path rules, which every download applies to the entries it writes.
    with pytest.raises(errors.InvalidArgument) as refused:
        cairn._core.check_entry_path(path)
    assert refused.value.reason == "INVALID_PATH"
    (tmp_path / "f.bin").write_bytes(b"x")
    with pytest.raises(errors.InvalidArgument):
        cairn.Artifact("a", "t").add_file(tmp_path / "f.bin", name=path)


def test_a_download_never_goes_through_a_symbolic_link_in_the_directory(server, tmp_path):
    write(tmp_path / "src", {"data/a.bin": b"a"})
    client = cairn.Client()
    client.log_artifact(cairn.Artifact("linked", "t").add_dir(tmp_path / "src"))
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "out"
    root.mkdir()
    (root / "data").symlink_to(outside)
    with pytest.raises(OSError, match="symbolic link"):
        client.use_artifact("linked").download(root)
    assert list(outside.iterdir()) == [], "nothing was written through the link"


def test_wandb_api_idioms_entries_prefixes_verify_checkout_aliases_listing_and_properties(server, tmp_path):
    write(tmp_path / "src", {"a.txt": b"a", "shards/0.bin": b"zero", "shards/1.bin": b"one"})
    client = cairn.Client()
    client.log_artifact(cairn.Artifact("api", "dataset", "first cut").add_dir(tmp_path / "src"))
    client.log_artifact(cairn.Artifact("other", "model").add_file(tmp_path / "src" / "a.txt"))
    art = client.artifact("default/api:latest")
    assert [e.path for e in art.files()] == ["a.txt", "shards/0.bin", "shards/1.bin"]

    # One file, then one directory.
    assert art.get_entry("shards/1.bin").download(tmp_path / "one").read_bytes() == b"one"
    with pytest.raises(errors.NotFound):
        art.get_entry("missing.bin")
    assert read_tree(art.download(tmp_path / "sub", path_prefix="shards/")) == {"shards/0.bin": b"zero", "shards/1.bin": b"one"}

    # verify names what differs; checkout makes the directory exactly the version.
    full = art.download(tmp_path / "full")
    art.verify(full)
    (full / "a.txt").write_bytes(b"changed")
    (full / "shards" / "0.bin").unlink()
    (full / "extra.txt").write_bytes(b"extra")
    with pytest.raises(ValueError) as differs:
        art.verify(full)
    assert "a.txt" in str(differs.value) and "shards/0.bin" in str(differs.value) and "extra.txt" in str(differs.value)
    art.checkout(full)
    assert read_tree(full) == {"a.txt": b"a", "shards/0.bin": b"zero", "shards/1.bin": b"one"}
    art.verify(full)

    # Aliases, listings by type, and properties of a committed version.
    art.set_alias("golden")
    assert "golden" in art.aliases and client.artifact("api:golden").version.digest == art.version.digest
    art.delete_alias("golden")
    with pytest.raises(errors.NotFound):
        client.artifact("api:golden")
    assert [a.name for a in client.artifacts(type="dataset")] == ["api"]
    assert sorted(a.name for a in client.artifacts()) == ["api", "other"]
    assert art.description == "first cut"
    art.description = "reviewed"
    art.metadata["score"] = 0.91
    saved = art.save()
    assert saved.metadata == {"description": "reviewed", "score": 0.91}
    assert saved.digest == art.version.digest and saved.files == 3, "properties, not content"
    assert client.artifact("api:v0").metadata == {"description": "reviewed", "score": 0.91}


def test_quota_reports_the_projects_usage_against_the_servers_defaults(server, tmp_path):
    write(tmp_path / "out", {"a.bin": b"12345", "b.bin": b"678"})
    client = cairn.Client()
    art = cairn.Artifact("q", type="dataset")
    art.add_dir(tmp_path / "out")
    client.log_artifact(art)
    usage = client.quota()
    assert (usage["project"], usage["stored_bytes"], usage["versions"], usage["open_drafts"]) == ("default", 8, 1, 0)
    assert usage["max_bytes"] is None and usage["max_open_drafts"] == 10000 and usage["quota_is_set"] is False
