# The training image of deploy/examples/indexed-job.yaml: Python with the cairn SDK (its
# native core built from this repository) and the example rank script.
#   docker build -f deploy/examples/training.Dockerfile -t ghcr.io/example/cairn-train:0.1.0 .
FROM rust:1.95-bookworm AS wheel
RUN apt-get update && apt-get install -y --no-install-recommends python3-pip python3-venv \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/maturin && /opt/maturin/bin/pip install --no-cache-dir "maturin>=1.8,<2"
WORKDIR /src
COPY . .
RUN /opt/maturin/bin/maturin build --release --manifest-path clients/python/Cargo.toml -o /wheels

FROM python:3.11-slim
COPY --from=wheel /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY deploy/examples/train.py /app/train.py
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER 65532:65532
ENTRYPOINT ["python", "/app/train.py"]
