# compose.yaml's store and broker for a machine with no container registry: PostgreSQL and
# Redis from Debian's packages, on the local base (scripts/docker-local-base.sh), in place of
# the postgres:16 and redis:7 images (compose.local.yaml builds and runs it).
ARG BASE=mendflow-local-base:bookworm
FROM ${BASE}
RUN mkdir -p /etc/postgresql-common/createcluster.d && \
    echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.d/none.conf && \
    apt-get update && \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        postgresql redis-server && \
    rm -rf /var/lib/apt/lists/*
COPY local-service.sh /usr/local/bin/local-service
ENTRYPOINT ["local-service"]
