"""The native core under the SDK: processes (fork, spawn), Ctrl-C, progress, the stat
cache, resumed uploads, and one walk shared with the CLI."""

from __future__ import annotations

import json
import multiprocessing
import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import cairn
from cairn import errors
from conftest import cairn_binary, read_tree, write


def _log_in_child(client, root, name, queue):
    try:
        art = cairn.Artifact(name, "t").add_dir(root)
        queue.put(client.log_artifact(art).version)
    except BaseException as error:  # reported to the parent
        queue.put(repr(error))


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_a_client_used_in_the_parent_works_in_children_of_every_start_method(server, tmp_path, method):
    write(tmp_path / "parent", {"p.txt": b"parent"})
    write(tmp_path / "child", {"c.txt": b"child " + method.encode()})
    client = cairn.Client()
    # The parent's runtime and connection exist before the children start.
    client.log_artifact(cairn.Artifact("parent", "t").add_dir(tmp_path / "parent"))
    context = multiprocessing.get_context(method)
    queue = context.Queue()
    children = [
        context.Process(target=_log_in_child, args=(client, str(tmp_path / "child"), f"child-{i}", queue))
        for i in range(2)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join(120)
        assert child.exitcode == 0
    assert sorted(queue.get(timeout=5) for _ in children) == ["v0", "v0"]
    assert read_tree(client.use_artifact("child-1").download(tmp_path / "back")) == {"c.txt": b"child " + method.encode()}
    assert client.use_artifact("parent").version.files == 1, "the parent's client still works"


def _read_in_worker(args):
    server, reference, root = args
    client = cairn.Client(server=server)
    return sorted(read_tree(client.use_artifact(reference).download(root)))


def test_a_pool_of_forked_workers_reads_like_dataloader_workers(server, tmp_path):
    # PyTorch's DataLoader forks its workers after the dataset (holding a client) was used.
    write(tmp_path / "data", {f"shard-{i}.bin": os.urandom(1000) for i in range(4)})
    client = cairn.Client()
    client.log_artifact(cairn.Artifact("shards", "dataset").add_dir(tmp_path / "data"))
    with multiprocessing.get_context("fork").Pool(3) as pool:
        listed = pool.map(_read_in_worker, [(server.url, "shards", str(tmp_path / f"w{i}")) for i in range(3)])
    assert listed == [[f"shard-{i}.bin" for i in range(4)]] * 3


def test_progress_reaches_the_callback_in_phases(server, tmp_path, monkeypatch):
    import cairn.client as client_module

    events = []
    monkeypatch.setattr(client_module, "progress_callback", lambda enabled: lambda *event: events.append(event))
    write(tmp_path / "out", {"a.bin": os.urandom(3 << 20), "b.bin": os.urandom(1 << 20)})
    client = cairn.Client(progress=True)
    client.log_artifact(cairn.Artifact("progress", "t").add_dir(tmp_path / "out"))
    client.use_artifact("progress").download(tmp_path / "back")
    begun = [(phase, total) for phase, event, total in events if event == "begin"]
    assert begun == [("hashing", 4 << 20), ("uploading", 4 << 20), ("downloading", 4 << 20)]
    advanced = sum(amount for _, event, amount in events if event == "advance")
    assert advanced == 3 * (4 << 20), "every byte of every phase is reported"
    assert [e for _, e, _ in events].count("end") == 3


def test_a_second_log_of_10000_unchanged_files_is_served_by_the_stat_cache(server, tmp_path, monkeypatch):
    monkeypatch.setenv("CAIRN_CACHE_DIR", str(tmp_path / "cache"))
    write(tmp_path / "many", {f"d{i % 50}/f{i}.txt": f"file {i}".encode() for i in range(10_000)})
    # Past the stat cache's racy window (50 ms): files changed just before hashing are
    # hashed again next time rather than trusted, which would make this count vary.
    time.sleep(0.2)
    client = cairn.Client()
    first = client.log_artifact(cairn.Artifact("many", "dataset").add_dir(tmp_path / "many"))
    assert (first.files, first.stat_cache_hits) == (10_000, 0)
    started = time.monotonic()
    again = client.log_artifact(cairn.Artifact("many", "dataset").add_dir(tmp_path / "many"))
    elapsed = time.monotonic() - started
    assert (again.dedup, again.stat_cache_hits, again.hashed_bytes) == (True, 10_000, 0)
    print(f"no-op re-log of 10,000 files: {elapsed:.3f} s")


def _random_file(path: pathlib.Path, mib: int) -> pathlib.Path:
    """A file of `mib` MiB of random bytes (nothing in it repeats, so nothing dedups)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        for _ in range(mib):
            f.write(os.urandom(1 << 20))
    return path


def test_ctrl_c_cancels_a_transfer_and_raises_keyboard_interrupt(server, tmp_path):
    # A child process logs 256 MiB and is sent SIGINT once uploading has begun. Its
    # progress callback sleeps 20 ms per MiB uploaded, so the transfer lasts at least 5 s
    # however fast the machine is, and the signal always lands in the middle of it.
    big = _random_file(tmp_path / "big" / "data.bin", 256).parent
    script = textwrap.dedent(
        """
        import os, signal, sys, time, cairn, cairn.client as c
        uploading = False
        def report(phase, event, amount):
            global uploading
            if phase == "uploading" and event == "begin":
                uploading = True
                print("uploading", flush=True)
            elif uploading and event == "advance":
                time.sleep(0.02)
        c.progress_callback = lambda enabled: report
        try:
            cairn.Client(progress=True).log_artifact(cairn.Artifact("big", "t").add_dir(sys.argv[1]))
            print("finished")
        except KeyboardInterrupt:
            print("interrupted", flush=True)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script, str(big)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "uploading"
        child.send_signal(signal.SIGINT)
        started = time.monotonic()
        assert child.stdout.readline().strip() == "interrupted"
        assert time.monotonic() - started < 5, "the transfer stopped promptly"
        assert child.wait(30) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    with pytest.raises(errors.NotFound):
        cairn.Client().use_artifact("big")


def test_an_upload_killed_mid_way_resumes_from_python(server, tmp_path):
    # The child kills itself (SIGKILL) once 40 MiB of a 96 MiB file are uploaded; the
    # next log from Python resumes after the stored 8 MiB parts.
    big = _random_file(tmp_path / "big" / "model.bin", 96).parent
    script = textwrap.dedent(
        """
        import os, signal, sys, cairn, cairn.client as c
        sent = [None, 0]
        def report(phase, event, amount):
            if event == "begin":
                sent[0] = phase
            elif event == "advance" and sent[0] == "uploading":
                sent[1] += amount
                if sent[1] >= 40 << 20:
                    os.kill(os.getpid(), signal.SIGKILL)
        c.progress_callback = lambda enabled: report
        cairn.Client(progress=True).log_artifact(cairn.Artifact("model", "t").add_dir(sys.argv[1]))
        """
    )
    killed = subprocess.run([sys.executable, "-c", script, str(big)], timeout=300)
    assert killed.returncode == -signal.SIGKILL
    resumed = cairn.Client().log_artifact(cairn.Artifact("model", "t").add_dir(big))
    assert resumed.version == "v0"
    assert resumed.uploaded_bytes < 96 << 20, f"uploaded {resumed.uploaded_bytes} bytes again: nothing resumed"
    back = cairn.Client().use_artifact("model").download(tmp_path / "back")
    assert (back / "model.bin").read_bytes() == (big / "model.bin").read_bytes()


def test_the_sdk_and_the_cli_give_one_tree_with_ignore_rules_and_symlinks_one_digest(server, tmp_path):
    tree = tmp_path / "tree"
    write(tree, {
        "keep/a.txt": b"a",
        "keep/skip.tmp": b"ignored by pattern",
        "logs/run.log": b"ignored directory",
        ".git/HEAD": b"never uploaded",
        "__pycache__/m.pyc": b"ignored by pattern",
        ".cairnignore": b"*.tmp\nlogs/\n__pycache__/\n",
    })
    outside = write(tmp_path / "outside", {"linked/b.txt": b"through a directory link", "c.txt": b"through a file link"})
    (tree / "dirlink").symlink_to(outside / "linked")
    (tree / "filelink.txt").symlink_to(outside / "c.txt")
    sdk = cairn.Client().log_artifact(cairn.Artifact("sdk-tree", "t").add_dir(tree))
    cli = subprocess.run(
        [str(cairn_binary()), "log", str(tree), "--name", "cli-tree", "--type", "t", "--json", "--server", server.url],
        capture_output=True, text=True, check=True,
    )
    assert json.loads(cli.stdout)["digest"] == sdk.digest
    assert sorted(cairn.Artifact("x", "t").add_dir(tree).files) == ["dirlink/b.txt", "filelink.txt", "keep/a.txt"]
    assert [e.path for e in cairn.Client().use_artifact("sdk-tree").files()] == ["dirlink/b.txt", "filelink.txt", "keep/a.txt"]
