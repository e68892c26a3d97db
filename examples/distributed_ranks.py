"""A distributed job in miniature: N ranks (plain processes, no GPU or torch needed) each
write a shard of a "checkpoint", add it to ONE cairn version, and rank 0 finishes it.

Start a server first (`cargo run --release -p cairn-cli -- dev`), install the SDK
(`pip install ./clients/python`), then:

    python examples/distributed_ranks.py --ranks 4

Each rank runs with torchrun's environment (TORCHELASTIC_RUN_ID, RANK), so the SDK
derives the shared distributed_id and each rank's writer id by itself.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import pathlib
import tempfile
import uuid

import cairn


def rank_main(rank: int, world: int, run_id: str, workdir: str) -> None:
    os.environ["TORCHELASTIC_RUN_ID"] = run_id
    os.environ["RANK"] = str(rank)
    shard = pathlib.Path(workdir) / f"rank-{rank}" / f"model-{rank:05d}-of-{world:05d}.bin"
    shard.parent.mkdir(parents=True)
    shard.write_bytes(os.urandom(256 * 1024))  # stands in for this rank's weights

    client = cairn.Client()
    artifact = cairn.Artifact("toy-checkpoint", type="checkpoint", metadata={"world_size": world})
    artifact.add_dir(shard.parent, name="shards")
    client.upsert_artifact(artifact, seal=True)  # uploads this rank's shard; the rank is done
    if rank == 0:
        version = client.finish_artifact("toy-checkpoint", wait=120, expected_writers=world)
        print(f"rank 0 committed {version.name}:{version.version} with {version.files} files ({version.digest[:12]})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranks", type=int, default=4)
    args = parser.parse_args()
    run_id = f"example-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as workdir:
        context = multiprocessing.get_context("spawn")
        ranks = [context.Process(target=rank_main, args=(r, args.ranks, run_id, workdir)) for r in range(args.ranks)]
        for process in ranks:
            process.start()
        for process in ranks:
            process.join()
        if any(p.exitcode != 0 for p in ranks):
            raise SystemExit("a rank failed")
        restored = cairn.Client().use_artifact("toy-checkpoint:latest").download(pathlib.Path(workdir) / "restored")
        print(f"downloaded and verified {sum(1 for p in restored.rglob('*') if p.is_file())} files")


if __name__ == "__main__":
    main()
