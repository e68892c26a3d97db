#!/usr/bin/env bash
# The whole test suite, from a fresh machine: lints the API with buf, checks formatting and
# clippy, then runs every unit, property, conformance and end-to-end test.
# Usage: bash scripts/test.sh   (from anywhere; needs cargo and npm, both on the machine image)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "buf lint (proto/cairn/v1)"
# buf is installed from the npm registry on first use and cached by npm afterwards.
npx --yes @bufbuild/buf@1.57.0 lint

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
cargo test --workspace --locked --no-fail-fast
