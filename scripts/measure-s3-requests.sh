#!/usr/bin/env bash
# Counts the S3 requests of logging and downloading N small files (256 B to 64 KiB) on
# etcd + S3 (s3s-fs on loopback, one coordinator and one worker, scripts/lib/cluster.sh):
# the difference of the `cairn_blobstore_requests_total{backend="s3"}` counters of both
# processes around each command, by operation, and per 1,000 files. S3 bills per request.
# Usage: bash scripts/measure-s3-requests.sh [N] [CAIRN_BINARY]
#        (default 1000, target/debug/cairn; needs etcd and s3s-fs as scripts/test.sh installs them)
set -euo pipefail
n="${1:-1000}"
cairn="${2:-target/debug/cairn}"
work="$(mktemp -d)"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
# shellcheck source=scripts/lib/cluster.sh
source "$(dirname "$0")/lib/cluster.sh"

python3 - "$work/files" "$n" <<'PY'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(13)
for i in range(n):
    path = os.path.join(root, f"{i // 100:03d}", f"{i:05d}.bin")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(rng.randbytes(rng.randint(256, 64 * 1024)))
PY

s3_counts() {
    for admin in "$coord_admin" "$worker_admin"; do curl -s "http://$admin/metrics"; done | python3 -c '
import collections, re, sys
counts = collections.Counter()
for line in sys.stdin:
    m = re.match(r"cairn_blobstore_requests_total\{([^}]*)\} (\S+)", line)
    if m and "backend=\"s3\"" in m.group(1):
        op = re.search(r"op=\"([^\"]+)\"", m.group(1)).group(1)
        counts[op] += int(float(m.group(2)))
print(" ".join(f"{op}={count}" for op, count in sorted(counts.items())))'
}

report() {
    python3 - "$1" "$2" "$3" "$n" <<'PY'
import sys
step, before, after, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
parse = lambda s: dict(kv.split("=") for kv in s.split()) if s.strip() else {}
b, a = parse(before), parse(after)
diff = {op: int(a[op]) - int(b.get(op, 0)) for op in a if int(a[op]) - int(b.get(op, 0)) > 0}
total = sum(diff.values())
print(f"{step}: {total} S3 requests for {n} files ({total * 1000 / n:.0f} per 1,000 files): "
      + ", ".join(f"{op} {count}" for op, count in sorted(diff.items())))
PY
}

before=$(s3_counts)
CAIRN_SERVER="$server" CAIRN_CACHE_DIR="$work/cache" "$cairn" log "$work/files" --name small --type dataset > /dev/null
after=$(s3_counts)
report "log" "$before" "$after"
before=$after
CAIRN_SERVER="$server" "$cairn" get small -o "$work/back" > /dev/null
after=$(s3_counts)
report "get" "$before" "$after"
diff -r "$work/files" "$work/back" > /dev/null && echo "the files read back intact"
