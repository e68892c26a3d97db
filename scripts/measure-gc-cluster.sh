#!/usr/bin/env bash
# Measures a garbage collection over N unreferenced blobs on etcd + S3 (s3s-fs on
# loopback, one `cairn coordinator`): time of a dry run and of the real sweep, the
# coordinator's peak RSS, and the etcd key count before and after. With LIVE > 0, that
# many versions of one file each are logged first, so the mark phase has versions to read.
# The unreferenced blobs are written straight into s3s-fs's directory (the collector
# never reads their content), so the figure is the collector's own cost: listing,
# comparing with the mark set and deleting through the S3 API.
# Usage: bash scripts/measure-gc-cluster.sh [N] [CAIRN_BINARY] [LIVE]
#        (default 1000000, target/debug/cairn, 0; needs etcd and s3s-fs as scripts/test.sh installs them)
set -euo pipefail
n="${1:-1000000}"
cairn="${2:-target/debug/cairn}"
live="${3:-0}"
work="$(mktemp -d)"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT

# shellcheck source=scripts/lib/cluster.sh
source "$(dirname "$0")/lib/cluster.sh"

if [ "$live" -gt 0 ]; then
    mkdir -p "$work/files"
    for i in $(seq "$live"); do
        echo "live version $i" > "$work/files/f.txt"
        CAIRN_SERVER="$server" "$cairn" log "$work/files" --name live --type dataset > /dev/null
    done
    echo "live versions logged: $live"
fi

python3 - "$work/s3/bucket/cairn/blobs/sha256" "$n" <<'PY'
import hashlib, os, sys
root, n = sys.argv[1], int(sys.argv[2])
for shard in range(256):
    os.makedirs(os.path.join(root, f"{shard:02x}"), exist_ok=True)
for i in range(n):
    digest = hashlib.sha256(b"unreferenced" + i.to_bytes(8, "little")).hexdigest()
    with open(os.path.join(root, digest[:2], digest), "wb") as f:
        f.write(b"x" * 100)
PY
echo "unreferenced blobs written: $n; etcd keys: $(etcd_keys)"
for mode in ${GC_MODES:---dry-run ""}; do
    start=$(date +%s.%N)
    out=$(CAIRN_SERVER="$server" "$cairn" gc $mode --grace 0 --json)
    end=$(date +%s.%N)
    echo "gc ${mode:-(real)}: $(python3 -c "print(f'{$end - $start:.1f}')") s: $out"
done
echo "etcd keys after: $(etcd_keys)"
echo "coordinator time in S3 and etcd calls (seconds, calls):"
curl -s "http://$coord_admin/metrics" | grep -E '^cairn_(blobstore|metastore)_request_seconds_(sum|count)' \
    | sort -t' ' -k2 -g -r | head -12 | sed 's/^/  /'

echo "coordinator peak RSS: $(grep VmHWM /proc/$coordinator/status | awk '{print $2/1024 " MiB"}')"
if [ "$live" -gt 0 ]; then
    CAIRN_SERVER="$server" "$cairn" get live -o "$work/back" > /dev/null
    cmp "$work/back/f.txt" "$work/files/f.txt" && echo "the latest live version reads back intact"
fi
