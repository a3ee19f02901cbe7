# Mendflow: one image for workers and the CLI (see compose.yaml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

RUN useradd --create-home --uid 10001 mendflow
WORKDIR /app

# Dependencies first, so code changes do not reinstall them.
COPY pyproject.toml README.md ./
COPY engine ./engine
COPY plugins ./plugins
COPY worker ./worker
RUN pip install . "celery[redis]>=5.4" "redis>=5"

COPY guides ./guides

USER mendflow
CMD ["mendflow", "worker", "--concurrency", "4"]
