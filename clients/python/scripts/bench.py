"""SDK against CLI, measured in one run on one machine: the time to log a first version of a
mixed dataset (1,000 files, 500 MiB, log-normal sizes) and of a no-op re-log of 10,000
unchanged small files. Each figure is the median of several runs, each against a fresh
`cairn dev` and an empty client cache (the re-log's cache is the first log's).

    python clients/python/scripts/bench.py --cairn target/release/cairn [--runs 3]

Runs under any SDK installed in the interpreter (the API it uses is the same in the
pure-Python SDK of earlier releases), so two environments compare two SDKs."""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import random
import statistics
import subprocess
import sys
import tempfile
import time

import cairn


def mixed_dataset(root: pathlib.Path, files: int, total_mib: int, seed: int = 7) -> None:
    """`files` files whose sizes follow a log-normal law, scaled to `total_mib` MiB."""
    rng = random.Random(seed)
    weights = [rng.lognormvariate(0, 1.5) for _ in range(files)]
    scale = total_mib * (1 << 20) / sum(weights)
    for i, weight in enumerate(weights):
        path = root / f"d{i % 20:02d}" / f"f{i:05d}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(max(1, int(weight * scale))))


def small_dataset(root: pathlib.Path, files: int) -> None:
    for i in range(files):
        path = root / f"d{i % 100:03d}" / f"f{i:05d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"small file {i}\n".encode() * 8)


class Server:
    def __init__(self, cairn_bin: str, data_dir: pathlib.Path):
        self.process = subprocess.Popen(
            [cairn_bin, "dev", "--listen", "127.0.0.1:0", "--data-dir", str(data_dir)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        address = next(w for w in self.process.stdout.readline().split() if w.startswith("127.0.0.1:"))
        self.url = f"http://{address}"

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


def timed_cli(cairn_bin: str, server: str, data: pathlib.Path, env: dict) -> float:
    started = time.perf_counter()
    subprocess.run(
        [cairn_bin, "log", str(data), "--name", "ds", "--type", "dataset", "--json", "--server", server],
        check=True, stdout=subprocess.DEVNULL, env=env,
    )
    return time.perf_counter() - started


def timed_sdk(server: str, data: pathlib.Path) -> float:
    client = cairn.Client(server=server, progress=False)
    started = time.perf_counter()
    client.log_artifact(cairn.Artifact("ds", "dataset").add_dir(data))
    return time.perf_counter() - started


def measure(cairn_bin: str, data: pathlib.Path, runs: int, relog: bool) -> dict:
    """Median seconds of the CLI and the SDK: a first log, or (relog) a second one."""
    figures = {"cli": [], "sdk": []}
    for _ in range(runs):
        for who in ("cli", "sdk"):
            with tempfile.TemporaryDirectory() as scratch:
                scratch = pathlib.Path(scratch)
                os.environ["CAIRN_CACHE_DIR"] = str(scratch / "cache")
                env = dict(os.environ)
                server = Server(cairn_bin, scratch / "server")
                try:
                    run = (lambda: timed_cli(cairn_bin, server.url, data, env)) if who == "cli" else (
                        lambda: timed_sdk(server.url, data)
                    )
                    seconds = run()
                    if relog:
                        seconds = run()
                    figures[who].append(seconds)
                finally:
                    server.stop()
    return {who: statistics.median(values) for who, values in figures.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cairn", required=True, help="the cairn binary (a release build)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--mixed-files", type=int, default=1000)
    parser.add_argument("--mixed-mib", type=int, default=500)
    parser.add_argument("--small-files", type=int, default=10_000)
    args = parser.parse_args()
    sdk = "native core" if hasattr(cairn, "_core") else "pure Python"
    with tempfile.TemporaryDirectory() as work:
        work = pathlib.Path(work)
        mixed_dataset(work / "mixed", args.mixed_files, args.mixed_mib)
        small_dataset(work / "small", args.small_files)
        first = measure(args.cairn, work / "mixed", args.runs, relog=False)
        noop = measure(args.cairn, work / "small", args.runs, relog=True)
    result = {
        "sdk": sdk,
        "python": sys.version.split()[0],
        "runs": args.runs,
        "mixed_first_version_s": first,
        "mixed_sdk_over_cli": first["sdk"] / first["cli"],
        "small_noop_relog_s": noop,
    }
    print(f"SDK ({sdk}) vs CLI, median of {args.runs} runs, fresh server and empty cache each:")
    print(f"  first version, {args.mixed_files} files / {args.mixed_mib} MiB: "
          f"CLI {first['cli']:.2f} s, SDK {first['sdk']:.2f} s ({result['mixed_sdk_over_cli']:.2f}x)")
    print(f"  no-op re-log of {args.small_files} files: CLI {noop['cli']:.3f} s, SDK {noop['sdk']:.3f} s")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
