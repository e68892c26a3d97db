"""Deriving distributed_id and writer from a job's environment, in the documented order."""

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
