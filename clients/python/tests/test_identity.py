"""Deriving distributed_id and writer from a job's environment, in the documented order."""

import os

import pytest

from cairn import derive_distributed_id, derive_writer
from cairn.errors import IdentityError


def test_explicit_variables_win():
    env = {"CAIRN_DISTRIBUTED_ID": "d", "CAIRN_WRITER": "w", "TORCHELASTIC_RUN_ID": "r", "RANK": "3"}
    assert (derive_distributed_id(env), derive_writer(env)) == ("d", "w")


def test_jobset_identity_includes_the_restart_attempt():
    env = {"JOBSET_UID": "uid-1", "JOBSET_RESTART_ATTEMPT": "2", "JOB_INDEX": "1", "JOB_COMPLETION_INDEX": "5"}
    assert derive_distributed_id(env) == "jobset-uid-1-attempt-2"
    assert derive_writer(env) == "job-1-rank-5"


def test_indexed_job_identity():
    env = {"JOB_UID": "abc", "JOB_COMPLETION_INDEX": "7"}
    assert (derive_distributed_id(env), derive_writer(env)) == ("job-abc", "rank-7")


def test_torchrun_identity_but_not_its_default_run_id():
    assert (derive_distributed_id({"TORCHELASTIC_RUN_ID": "x", "RANK": "0"}), derive_writer({"TORCHELASTIC_RUN_ID": "x", "RANK": "0"})) == (
        "torchelastic-x",
        "rank-0",
    )
    with pytest.raises(IdentityError):
        derive_distributed_id({"TORCHELASTIC_RUN_ID": "none", "RANK": "0"})


def test_nothing_to_go_on_is_a_clear_error_not_a_guess():
    with pytest.raises(IdentityError, match="CAIRN_DISTRIBUTED_ID"):
        derive_distributed_id({"HOSTNAME": "pod-1"})
    with pytest.raises(IdentityError, match="CAIRN_WRITER"):
        derive_writer({"HOSTNAME": "pod-1"})


# One table for both clients: the SDK must derive what `cairn whoami` (the Rust rules) does.
ENVIRONMENTS = [
    {"CAIRN_DISTRIBUTED_ID": "d", "CAIRN_WRITER": "w", "SLURM_JOB_ID": "1", "SLURM_PROCID": "2"},
    {"JOBSET_NAME": "train", "JOBSET_RESTART_ATTEMPT": "1", "JOB_INDEX": "0", "JOB_COMPLETION_INDEX": "3"},
    {"JOB_NAME": "eval", "JOB_COMPLETION_INDEX": "4"},
    {"TORCHELASTIC_RUN_ID": "r7", "RANK": "5"},
    {"SLURM_JOB_ID": "991", "SLURM_STEP_ID": "0", "SLURM_PROCID": "12"},
    {"SLURM_JOB_ID": "991", "OMPI_COMM_WORLD_RANK": "3"},
    {"CAIRN_DISTRIBUTED_ID": "x", "PMI_RANK": "9"},
    {"TORCHELASTIC_RUN_ID": "none", "RANK": "1"},
    {"MASTER_ADDR": "resnet-master-0", "MASTER_PORT": "23456", "WORLD_SIZE": "4", "RANK": "3"},
    {"HOSTNAME": "pod-1"},
]


def _python_identity(env):
    def attempt(derive):
        try:
            return derive(env)
        except IdentityError:
            return None

    return attempt(derive_distributed_id), attempt(derive_writer)


@pytest.mark.parametrize("env", ENVIRONMENTS, ids=lambda env: ",".join(sorted(env)))
def test_the_sdk_derives_what_the_cli_derives(env):
    import json
    import subprocess

    from conftest import cairn_binary

    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME")}
    out = subprocess.run(
        [str(cairn_binary()), "whoami", "--json"], env={**keep, **env}, capture_output=True, text=True, check=True
    )
    cli = json.loads(out.stdout)
    assert _python_identity(env) == (cli["distributed_id"], cli["writer"])
