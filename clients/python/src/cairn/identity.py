"""Deriving `distributed_id` and `writer` from the environment of a distributed job.

The rules are the Rust client's (`crates/cairn-client/src/identity.rs`), called through the
native core, so the SDK and `cairn whoami` always agree. In order, the first that applies
wins, and nothing is ever guessed:
1. `CAIRN_DISTRIBUTED_ID` / `CAIRN_WRITER`;
2. JobSet: `JOBSET_UID` or `JOBSET_NAME` (+ `JOBSET_RESTART_ATTEMPT`), with `JOB_INDEX`
   and `JOB_COMPLETION_INDEX` for the writer; Indexed Job: `JOB_UID` or `JOB_NAME`, with
   `JOB_COMPLETION_INDEX`;
3. torchrun: `TORCHELASTIC_RUN_ID` (not its default `none`, which is refused) with `RANK`;
4. a Kubeflow PyTorchJob: `MASTER_ADDR=<job>-master-0` with `RANK` and `WORLD_SIZE`;
5. SLURM: `SLURM_JOB_ID` (+ `SLURM_STEP_ID`) with `SLURM_PROCID`;
6. MPI (a Kubeflow MPIJob too): `OMPI_COMM_WORLD_RANK` or `PMI_RANK` for the writer; the
   job id must come from a rule above or `CAIRN_DISTRIBUTED_ID`.
"""

from __future__ import annotations

import os
from typing import Dict, Mapping, Optional

from . import _core
from .errors import IdentityError


def _identity(env: Optional[Mapping[str, str]]) -> Dict[str, Dict[str, str]]:
    # Another mapping than the process environment (tests, launch helpers) is read instead.
    return _core.job_identity(None if env is None or env is os.environ else dict(env))


def _value(part: Dict[str, str]) -> str:
    if "error" in part:
        raise IdentityError(part["error"])
    return part["value"]


def whoami(env: Optional[Mapping[str, str]] = None) -> Dict[str, Dict[str, str]]:
    """What `cairn whoami --json` reports: for `distributed_id` and `writer`, the value and
    the variables it came from (`{"value", "source"}`), or why there is none (`{"error"}`)."""
    return _identity(env)


def derive_distributed_id(env: Optional[Mapping[str, str]] = None) -> str:
    """The draft id shared by every rank of this job."""
    return _value(_identity(env)["distributed_id"])


def derive_writer(env: Optional[Mapping[str, str]] = None) -> str:
    """This process's writer id within the draft."""
    return _value(_identity(env)["writer"])
