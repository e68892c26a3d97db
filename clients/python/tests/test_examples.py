"""The examples in examples/ run as documented against a live server."""

import pathlib
import subprocess
import sys

EXAMPLES = pathlib.Path(__file__).resolve().parents[3] / "examples"


def test_distributed_ranks_example_commits_one_version_from_four_ranks(server):
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "distributed_ranks.py"), "--ranks", "4"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "committed toy-checkpoint:v0 with 4 files" in result.stdout
    assert "downloaded and verified 4 files" in result.stdout
