#!/usr/bin/env bash
# Makes this machine able to build and run the compose stack without a container registry:
# installs Debian's Docker engine, docker-compose and debootstrap where they are missing, starts
# dockerd if it is not answering (and leaves it running), and builds a local base image once
# (Debian bookworm from debootstrap, with python3 from apt), named by MENDFLOW_LOCAL_BASE.
# Idempotent: with the engine running and the image present it changes nothing.
#
#   bash scripts/docker-local-base.sh
#   docker build --build-arg BASE=mendflow-local-base:bookworm -t mendflow .
#
# dockerd is started with no default bridge, no iptables rules and IP forwarding left as it is:
# the test stack uses the host network (tests/deploy/test_compose_stack.py), so its traffic
# stays on loopback, no private-range address is set up on this machine and its firewall is
# untouched. Builds use `--network host` for the same reason.
set -euo pipefail

BASE_IMAGE="${MENDFLOW_LOCAL_BASE:-mendflow-local-base:bookworm}"
SUITE=bookworm

say() { echo "docker-local-base: $*"; }
die() { echo "docker-local-base: $*" >&2; exit 1; }

need_apt=()
command -v dockerd >/dev/null 2>&1 || need_apt+=(docker.io)
command -v docker-compose >/dev/null 2>&1 || need_apt+=(docker-compose)
command -v debootstrap >/dev/null 2>&1 || need_apt+=(debootstrap)
if ((${#need_apt[@]})); then
    [ "$(id -u)" = 0 ] || die "missing ${need_apt[*]}: run 'sudo apt-get install ${need_apt[*]}'"
    say "installing ${need_apt[*]} (Debian packages)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        -o Dpkg::Options::=--force-confold "${need_apt[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] || die "dockerd is not running: start it (sudo dockerd) or run this as root"
    say "starting dockerd (log: /var/log/mendflow-dockerd.log)"
    # setsid: the daemon outlives this script, the CI step and the shell that ran them
    setsid dockerd --bridge=none --iptables=false --ip-masq=false --ip-forward=false \
        >>/var/log/mendflow-dockerd.log 2>&1 < /dev/null &
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
    docker info >/dev/null 2>&1 || die "dockerd did not start: see /var/log/mendflow-dockerd.log"
fi

if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    say "$BASE_IMAGE is there"
    exit 0
fi

say "building $BASE_IMAGE (debootstrap $SUITE, about a minute)"
root="$(mktemp -d /var/tmp/mendflow-base.XXXXXX)"
trap 'rm -rf "$root"' EXIT
# minbase: essential packages and apt; python3 as the official images have it (no pip: the
# Dockerfile makes a venv, installing python3-venv where the base lacks it)
debootstrap --variant=minbase --include=python3,ca-certificates "$SUITE" "$root" >/dev/null \
    || die "debootstrap failed (is the Debian mirror reachable?)"
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb
# This machine's own certificate authorities (where its HTTPS goes through a proxy that signs
# with them): trusted in the base too, so pip in `docker build` reaches PyPI as it does here.
# pip keeps its own CA list unless told: PIP_CERT names the system's.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
    chroot "$root" update-ca-certificates >/dev/null 2>&1
fi
tar -C "$root" -c . | docker import \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'ENV LANG=C.UTF-8' -c 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
    -c 'CMD ["/bin/bash"]' - "$BASE_IMAGE" >/dev/null
say "built $BASE_IMAGE"
