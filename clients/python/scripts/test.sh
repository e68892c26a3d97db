#!/usr/bin/env bash
# The SDK's tests at both ends of its supported range, against a real `cairn dev`:
#   "oldest": grpcio 1.62.3 + protobuf 4.25 (with grpcio-tools 1.62.3, which also checks
#             that the checked-in stubs match the proto);
#   "newest": the newest grpcio and protobuf on PyPI.
# Virtual environments are cached under $CAIRN_VENV_DIR (default /var/tmp/cairn-venvs).
# Needs the cairn binary: $CAIRN_BIN, or $CARGO_TARGET_DIR/debug/cairn (cargo build).
set -euo pipefail
cd "$(dirname "$0")/.."
venvs="${CAIRN_VENV_DIR:-/var/tmp/cairn-venvs}"
python="${PYTHON:-python3}"

run() {
    local name="$1"; shift
    local venv="$venvs/$name"
    if [ ! -x "$venv/bin/python" ]; then
        "$python" -m venv "$venv"
    fi
    "$venv/bin/pip" install -q --disable-pip-version-check "$@" pytest
    "$venv/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps .
    echo "-- $name: $("$venv/bin/python" -c 'import grpc, google.protobuf as p; print("grpcio", grpc.__version__, "protobuf", p.__version__)')"
    (cd tests && "$venv/bin/python" -m pytest -q -p no:cacheprovider ${PYTEST_ARGS:-} "${tests[@]}")
}

tests=(test_stubs.py test_identity.py test_sdk.py test_examples.py)
run oldest "grpcio==1.62.3" "grpcio-tools==1.62.3" "protobuf>=4.25,<4.26"
tests=(test_identity.py test_sdk.py test_examples.py)
run newest --upgrade grpcio protobuf tqdm
