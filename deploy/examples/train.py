"""A training rank that adds its checkpoint shard to ONE cairn version.

Run by every pod of deploy/examples/indexed-job.yaml (or any launcher cairn knows: JobSet,
Kubeflow PyTorchJob, torchrun, SLURM, MPI). The draft id and the rank's writer id come
from the launcher's environment, read by the SDK itself; rank 0 commits the version once
every rank has sealed.

    python train.py --world-size 4 [--out /work/out] [--name resnet-ckpt]
"""

from __future__ import annotations

import argparse
import os
import pathlib

import cairn


def rank_of_this_process() -> int:
    for name in ("JOB_COMPLETION_INDEX", "RANK", "SLURM_PROCID", "OMPI_COMM_WORLD_RANK", "PMI_RANK"):
        if os.environ.get(name, "").strip():
            return int(os.environ[name])
    raise SystemExit("no rank in the environment: run under an Indexed Job, torchrun, SLURM or MPI")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world-size", type=int, required=True)
    parser.add_argument("--out", default="/work/out")
    parser.add_argument("--name", default="resnet-ckpt")
    args = parser.parse_args()
    rank = rank_of_this_process()

    # ... training; this rank's part of the checkpoint:
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"shard-{rank}.bin").write_bytes(f"weights of rank {rank}\n".encode())

    client = cairn.Client()  # CAIRN_SERVER, CAIRN_PROJECT
    draft, writer = cairn.whoami()["distributed_id"], cairn.whoami()["writer"]
    print(f"rank {rank}: draft {draft.get('value')} (from {draft.get('source')}), "
          f"writer {writer.get('value')} (from {writer.get('source')})", flush=True)
    shard = cairn.Artifact(args.name, "checkpoint", metadata={"world_size": args.world_size})
    shard.add_file(out / f"shard-{rank}.bin", name=f"shards/shard-{rank}.bin")
    client.upsert_artifact(shard, seal=True, expected_writers=args.world_size)
    if rank == 0:
        version = client.finish_artifact(args.name, wait=600, expected_writers=args.world_size)
        print(f"committed {version.name}:{version.version} ({version.files} files, {version.digest})", flush=True)


if __name__ == "__main__":
    main()
