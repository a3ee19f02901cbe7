#!/usr/bin/env bash
# Installs the system packages the tests need and starts the services they talk to, where
# they are missing. Idempotent: on a machine that has everything it changes nothing.
set -euo pipefail

need_apt=()
command -v prometheus >/dev/null 2>&1 || need_apt+=(prometheus)
# mendflow serve's intake is tested against a real Alertmanager sending its webhook
command -v prometheus-alertmanager >/dev/null 2>&1 || need_apt+=(prometheus-alertmanager)
command -v dot >/dev/null 2>&1 || need_apt+=(graphviz)
# A dry run's ungated steps run in a read-only sandbox (plugins/_process.py)
command -v bwrap >/dev/null 2>&1 || need_apt+=(bubblewrap)
# mendflow serve's web UI is tested in a real headless browser (tests/serve/browser.py)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
if ((${#need_apt[@]})); then
    if [ "$(id -u)" = 0 ]; then
        echo "installing ${need_apt[*]} (Debian packages)"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            -o Dpkg::Options::=--force-confold "${need_apt[@]}" >/dev/null
        # The package starts its own service on :9090; tests start their own servers.
        pkill -x prometheus 2>/dev/null || true
        pkill -x prometheus-node-exporter 2>/dev/null || true
        pkill -x prometheus-alertmanager 2>/dev/null || true
    else
        echo "missing ${need_apt[*]}: run 'sudo apt-get install ${need_apt[*]}'" >&2
    fi
fi

# PostgreSQL and Redis: start them if this machine has them and they are not answering.
if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then
    if command -v pg_ctlcluster >/dev/null; then
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    fi
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
if command -v redis-cli >/dev/null && ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
    for _ in $(seq 1 30); do redis-cli ping >/dev/null 2>&1 && break; sleep 1; done
fi
