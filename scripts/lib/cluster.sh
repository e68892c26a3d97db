# Starts a one-machine cluster for measurement scripts: etcd, s3s-fs and one coordinator
# and one worker on loopback (no TLS, no tokens), as scripts/test.sh installs them.
# Source it with $work (a scratch directory), $cairn (the binary) and a `pids` array set;
# it sets $server (the coordinator's URL), $coord_admin and $worker_admin (metrics), and
# defines etcd_keys.

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
"$cairn" worker --insecure-no-auth --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --data-dir "$work/worker" \
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
for _ in $(seq 100); do [ "$(grep -c 127.0.0.1 "$work/worker.out" 2>/dev/null)" -ge 2 ] && break; sleep 0.1; done
coord_admin="$(grep -o '127.0.0.1:[0-9]*' "$work/coord.out" | sed -n 2p)"
worker_admin="$(grep -o '127.0.0.1:[0-9]*' "$work/worker.out" | sed -n 2p)"
