#!/usr/bin/env bash
# Measures a garbage collection over N unreferenced blobs on `cairn dev` (embedded
# MetaStore, local-file BlobStore): time of a dry run and of the real sweep, and the
# server's peak RSS. The blobs are written straight into the store's directory (the
# collector never reads their content), so the figure is the collector's own cost.
# Usage: bash scripts/measure-gc.sh [N] [CAIRN_BINARY]   (default 1000000, target/debug/cairn)
set -euo pipefail
n="${1:-1000000}"
cairn="${2:-target/debug/cairn}"
work="$(mktemp -d)"
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
"$cairn" dev --listen 127.0.0.1:0 --data-dir "$work/data" --gc-interval-secs 0 > "$work/dev.out" 2>/dev/null &
pid=$!
for _ in $(seq 100); do grep -q listening "$work/dev.out" 2>/dev/null && break; sleep 0.1; done
server="http://$(grep -o '127.0.0.1:[0-9]*' "$work/dev.out" | head -1)"
python3 - "$work/data/blobs/objects/blobs/sha256" "$n" <<'PY'
import hashlib, os, sys
root, n = sys.argv[1], int(sys.argv[2])
for shard in range(256):
    os.makedirs(os.path.join(root, f"{shard:02x}"), exist_ok=True)
for i in range(n):
    digest = hashlib.sha256(i.to_bytes(8, "little")).hexdigest()
    with open(os.path.join(root, digest[:2], digest), "wb") as f:
        f.write(b"x" * 100)
PY
echo "blobs written: $n"
for mode in --dry-run ""; do
    start=$(date +%s.%N)
    out=$(CAIRN_SERVER="$server" "$cairn" gc $mode --grace 0 --json)
    end=$(date +%s.%N)
    echo "gc ${mode:-(real)}: $(python3 -c "print(f'{$end - $start:.1f}')") s: $out"
done
echo "cairn dev peak RSS: $(grep VmHWM /proc/$pid/status | awk '{print $2/1024 " MiB"}')"
