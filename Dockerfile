# Mendflow: one image for workers and the CLI (see compose.yaml).
# BASE is any Debian-like image with python3 >= 3.11 or apt: the official Python image by
# default; a base made on a machine with no registry works too (scripts/docker-local-base.sh):
#   docker build --build-arg BASE=mendflow-local-base:bookworm -t mendflow .
ARG BASE=python:3.11-slim
FROM ${BASE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PATH=/opt/mendflow/bin:$PATH

# The commands the shipped guides run on a worker that slim bases lack (ps: procps). Mendflow
# lives in its own venv, made with the base's python3: the official image has venv; Debian's
# python3 needs python3-venv, installed from apt only where it is missing.
RUN python3 -c 'import ensurepip, venv' 2>/dev/null && venv= || venv="python3 python3-venv"; \
    apt-get update && \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends procps $venv && \
    rm -rf /var/lib/apt/lists/* && \
    python3 -m venv /opt/mendflow && \
    useradd --create-home --uid 10001 mendflow
WORKDIR /app

# Dependencies first, read from pyproject.toml, so a code change does not reinstall them.
COPY pyproject.toml README.md ./
RUN python3 -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' \
        > /tmp/requirements.txt && \
    pip install -r /tmp/requirements.txt && rm /tmp/requirements.txt

COPY engine ./engine
COPY plugins ./plugins
COPY worker ./worker
RUN pip install --no-deps . && mendflow --help >/dev/null && python3 -c 'import celery.app, redis'

COPY guides ./guides

USER mendflow
CMD ["mendflow", "worker", "--concurrency", "4"]
