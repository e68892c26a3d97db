#!/usr/bin/env bash
# Builds the SDK (the native core with maturin, as `pip install ./clients/python` does) and
# runs its tests against a real `cairn dev`, in a virtual environment cached under
# $CAIRN_VENV_DIR (default /var/tmp/cairn-venvs). The generated gRPC stubs' freshness is
# checked with grpcio-tools 1.62.3, the version they are generated with.
# Needs the cairn binary: $CAIRN_BIN, or $CARGO_TARGET_DIR/debug/cairn (cargo build).
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${CAIRN_VENV_DIR:-/var/tmp/cairn-venvs}/sdk"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
pip() { "$venv/bin/pip" -q --disable-pip-version-check "$@"; }
pip install pytest tqdm "grpcio==1.62.3" "grpcio-tools==1.62.3" "protobuf>=4.25,<4.26"
# What a user runs; cargo's target directory ($CARGO_TARGET_DIR) keeps the build incremental.
pip install --force-reinstall --no-deps .
echo "-- $("$venv/bin/python" -c 'import cairn, sys; print("cairn", cairn.__version__, "native core on Python", sys.version.split()[0])')"
(cd tests && "$venv/bin/python" -m pytest -q -p no:cacheprovider ${PYTEST_ARGS:-} "$@")
