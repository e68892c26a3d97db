"""Deriving `distributed_id` and `writer` from the environment of a distributed job.

Order (the first that applies wins; nothing is ever guessed):
1. `CAIRN_DISTRIBUTED_ID` / `CAIRN_WRITER`;
2. JobSet: `JOBSET_UID` or `JOBSET_NAME` (+ `JOBSET_RESTART_ATTEMPT`), with `JOB_INDEX`
   and `JOB_COMPLETION_INDEX` for the writer; Indexed Job: `JOB_UID` or `JOB_NAME`, with
   `JOB_COMPLETION_INDEX`. Kubernetes sets `JOB_COMPLETION_INDEX` itself; the others are
   exposed through the Downward API (see deploy/examples/);
3. torchrun: `TORCHELASTIC_RUN_ID` (not its default `none`, which is refused) with `RANK`;
4. SLURM: `SLURM_JOB_ID` (+ `SLURM_STEP_ID`) with `SLURM_PROCID`;
5. MPI: `OMPI_COMM_WORLD_RANK` or `PMI_RANK` for the writer; the job id must come from a
   rule above.

These are the rules of the Rust client (`crates/cairn-client/src/identity.rs`, `cairn
whoami`); `tests/test_identity.py` checks that both derive the same ids.
"""

from __future__ import annotations

import os
from typing import Mapping, Optional

from .errors import IdentityError


def _get(env: Mapping[str, str], name: str) -> Optional[str]:
    value = env.get(name, "").strip()
    return value or None


def derive_distributed_id(env: Mapping[str, str] = os.environ) -> str:
    """The draft id shared by every rank of this job."""
    explicit = _get(env, "CAIRN_DISTRIBUTED_ID")
    if explicit:
        return explicit
    jobset = _get(env, "JOBSET_UID") or _get(env, "JOBSET_NAME")
    if jobset:
        attempt = _get(env, "JOBSET_RESTART_ATTEMPT") or "0"
        return f"jobset-{jobset}-attempt-{attempt}"
    job = _get(env, "JOB_UID") or _get(env, "JOB_NAME")
    if job and _get(env, "JOB_COMPLETION_INDEX") is not None:
        return f"job-{job}"
    run_id = _get(env, "TORCHELASTIC_RUN_ID")
    if run_id and _get(env, "RANK") is not None:
        if run_id == "none":
            raise IdentityError(
                "torchrun was started without --rdzv-id (its run id is the default `none`, the same for every "
                "job): pass --rdzv-id, or set CAIRN_DISTRIBUTED_ID"
            )
        return f"torchelastic-{run_id}"
    slurm_job = _get(env, "SLURM_JOB_ID")
    if slurm_job:
        step = _get(env, "SLURM_STEP_ID")
        return f"slurm-{slurm_job}-step-{step}" if step is not None else f"slurm-{slurm_job}"
    raise IdentityError(
        "cannot derive distributed_id: set CAIRN_DISTRIBUTED_ID, run as a JobSet or Indexed Job "
        "with the Downward API variables of deploy/examples/, under torchrun with --rdzv-id, or under SLURM"
    )


def derive_writer(env: Mapping[str, str] = os.environ) -> str:
    """This process's writer id within the draft."""
    explicit = _get(env, "CAIRN_WRITER")
    if explicit:
        return explicit
    index = _get(env, "JOB_COMPLETION_INDEX")
    if _get(env, "JOBSET_UID") or _get(env, "JOBSET_NAME"):
        job_index = _get(env, "JOB_INDEX")
        if job_index is not None and index is not None:
            return f"job-{job_index}-rank-{index}"
    if (_get(env, "JOB_UID") or _get(env, "JOB_NAME")) and index is not None:
        return f"rank-{index}"
    rank = _get(env, "RANK")
    if _get(env, "TORCHELASTIC_RUN_ID") and rank is not None:
        return f"rank-{rank}"
    for name in ("SLURM_PROCID", "OMPI_COMM_WORLD_RANK", "PMI_RANK"):
        rank = _get(env, name)
        if rank is not None:
            return f"rank-{rank}"
    raise IdentityError(
        "cannot derive writer: set CAIRN_WRITER, run as a JobSet or Indexed Job (JOB_COMPLETION_INDEX), "
        "or under torchrun (RANK), SLURM (SLURM_PROCID) or MPI (OMPI_COMM_WORLD_RANK, PMI_RANK)"
    )
