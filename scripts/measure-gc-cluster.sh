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

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
etcd_port=$(free_port); peer_port=$(free_port); s3_port=$(free_port)
etcd --name gc-measure --data-dir "$work/etcd" --log-level error \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "gc-measure=http://127.0.0.1:$peer_port" > /dev/null 2>&1 &
pids+=($!)
mkdir -p "$work/s3/bucket"
s3s-fs --host 127.0.0.1 --port "$s3_port" --access-key measureaccess --secret-key measuresecretkey "$work/s3" \
    > /dev/null 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$etcd_port/health" > /dev/null && break; sleep 0.2; done

"$cairn" coordinator --insecure-no-auth --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --data-dir "$work/coord" --gc-interval-secs 0 \
    --etcd-endpoints "http://127.0.0.1:$etcd_port" --etcd-namespace /measure/ \
    --s3-bucket bucket --s3-endpoint "http://127.0.0.1:$s3_port" --s3-region us-east-1 \
    --s3-access-key measureaccess --s3-secret-key measuresecretkey --s3-prefix cairn/ > "$work/coord.out" 2> "$work/coord.log" &
coordinator=$!
pids+=($coordinator)
"$cairn" worker --insecure-no-auth --listen 127.0.0.1:0 --data-dir "$work/worker" \
    --etcd-endpoints "http://127.0.0.1:$etcd_port" --etcd-namespace /measure/ \
    --s3-bucket bucket --s3-endpoint "http://127.0.0.1:$s3_port" --s3-region us-east-1 \
    --s3-access-key measureaccess --s3-secret-key measuresecretkey --s3-prefix cairn/ > "$work/worker.out" 2> "$work/worker.log" &
pids+=($!)
for _ in $(seq 100); do grep -q 127.0.0.1 "$work/coord.out" 2>/dev/null && break; sleep 0.1; done
server="http://$(grep -o '127.0.0.1:[0-9]*' "$work/coord.out" | head -1)"

etcd_keys() {
    python3 - "$etcd_port" <<'PY'
import base64, json, sys, urllib.request
key = base64.b64encode(b"/measure/").decode()
end = base64.b64encode(b"/measure0").decode()
body = json.dumps({"key": key, "range_end": end, "count_only": True}).encode()
reply = json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/v3/kv/range", body))
print(reply.get("count", 0))
PY
}

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
admin="$(grep -o '127.0.0.1:[0-9]*' "$work/coord.out" | sed -n 2p)"
echo "coordinator time in S3 and etcd calls (seconds, calls):"
curl -s "http://$admin/metrics" | grep -E '^cairn_(blobstore|metastore)_request_seconds_(sum|count)' \
    | sort -t' ' -k2 -g -r | head -12 | sed 's/^/  /'

echo "coordinator peak RSS: $(grep VmHWM /proc/$coordinator/status | awk '{print $2/1024 " MiB"}')"
if [ "$live" -gt 0 ]; then
    CAIRN_SERVER="$server" "$cairn" get live -o "$work/back" > /dev/null
    cmp "$work/back/f.txt" "$work/files/f.txt" && echo "the latest live version reads back intact"
fi
