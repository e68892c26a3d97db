"""The examples in examples/ run as documented against a live server."""

import os
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


def test_the_kubernetes_training_example_commits_one_version_from_an_indexed_job_environment(server, tmp_path):
    # deploy/examples/train.py as the 4 pods of indexed-job.yaml run it: Kubernetes sets
    # JOB_COMPLETION_INDEX, the Downward API JOB_UID; nothing else names the draft or writer.
    script = EXAMPLES.parent / "deploy" / "examples" / "train.py"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CAIRN_DISTRIBUTED", "CAIRN_WRITER"))}
    ranks = [
        subprocess.Popen(
            [sys.executable, str(script), "--world-size", "4", "--out", str(tmp_path / f"pod-{i}"), "--name", "k8s-ckpt"],
            env={**base, "JOB_UID": "2f1c-uid", "JOB_NAME": "train-resnet", "JOB_COMPLETION_INDEX": str(i),
                 "CAIRN_CACHE_DIR": str(tmp_path / f"cache-{i}")},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for i in range(4)
    ]
    outputs = [rank.communicate(timeout=300) for rank in ranks]
    for rank, (out, err) in zip(ranks, outputs):
        assert rank.returncode == 0, err
    assert "draft job-2f1c-uid (from JOB_UID), writer rank-1 (from JOB_COMPLETION_INDEX)" in outputs[1][0]
    assert "committed k8s-ckpt:v0 (4 files" in outputs[0][0]
    import cairn

    assert [e.path for e in cairn.Client().use_artifact("k8s-ckpt").files()] == [f"shards/shard-{i}.bin" for i in range(4)]
