"""Trust, session 17: a container's environment behind a wrapper, every process's environment
(`ps e`), an image's baked-in environment.

1. `kubectl exec P -- env` was gated, but a wrapper in front of it was a read: `kubectl exec P
   -- sudo env`, `docker exec C nice printenv`, `timeout 5 printenv`, `nohup env`, `stdbuf -o0
   env`. `env` or `printenv` run inside a container is judged as such however it is wrapped.
2. `ps e`, `ps auxe`, `ps eww` (the BSD `e` modifier) print each process's environment after
   its command line, on the host or in a container: the secrets a service was started with,
   which no redactor knows. They are not read-only; `ps -e` (every process), `ps aux`, `ps -u
   postgres`, `ps axo user,etime` still read.
3. `docker image inspect I` printed the image's Config.Env (a Dockerfile's ENV, a token baked
   in) as a read while `docker inspect C` was gated for the same text; it is now gated the same
   way (a --format that picks other fields reads).
"""

from __future__ import annotations

import shlex

import pytest

from engine.effects import classify

WRAPPED_CONTAINER_ENV = [
    "kubectl exec p -- sudo env", "docker exec c nice printenv", "kubectl exec p -- timeout 5 "
    "printenv", "kubectl exec p -- sudo -u app printenv HOME", "kubectl exec p -- nohup env",
    "kubectl exec p -- stdbuf -o0 env", "kubectl exec p -- ionice -c3 printenv",
    "kubectl exec p -- time printenv", "kubectl exec p -- sudo sudo env",
    "podman exec c nice -n 5 env", "oc exec p -c app -- timeout -s KILL 3 printenv DB_PASSWORD",
    "ssh h 'docker exec c sudo env'",
]


@pytest.mark.parametrize("command", WRAPPED_CONTAINER_ENV)
def test_a_wrapped_env_in_a_container_is_not_a_read(command: str) -> None:
    verdict = classify(shlex.split(command))
    assert not verdict.read, command
    assert "environment" in verdict.reason


@pytest.mark.parametrize("command", ["kubectl exec p -- sudo df -h", "docker exec c nice uptime",
                                     "kubectl exec p -- timeout 5 cat /etc/os-release", "env",
                                     "printenv HOME"])
def test_a_wrapped_reading_in_a_container_still_reads(command: str) -> None:
    assert classify(shlex.split(command)).read, command


PS_ENVIRONMENT = ["ps e", "ps auxe", "ps eww", "ps axwwe", "ps -o user e",
                  "kubectl exec p -- ps auxe", "sudo ps eww -p 1"]


@pytest.mark.parametrize("command", PS_ENVIRONMENT)
def test_ps_showing_environments_is_not_a_read(command: str) -> None:
    verdict = classify(shlex.split(command))
    assert not verdict.read, command
    assert "environment" in verdict.reason


@pytest.mark.parametrize("command", [
    "ps aux", "ps -ef", "ps -e", "ps -u postgres", "ps -o user,pid -C sshd", "ps axo user,etime",
    "ps U postgres", "ps -eo pid,user,etime --sort=-etime", "ps aux --sort -rss",
    "ps -p 1 -o etime=", "ps -ww -e", "ps -eLf", "ps --user redis -o pid"])
def test_ps_without_environments_still_reads(command: str) -> None:
    assert classify(shlex.split(command)).read, command


@pytest.mark.parametrize("command", ["docker image inspect nginx", "podman image inspect x",
                                     "docker image inspect --format '{{json .Config}}' nginx",
                                     "docker image inspect -f '{{.Config.Env}}' nginx"])
def test_image_inspect_printing_its_environment_is_not_a_read(command: str) -> None:
    verdict = classify(shlex.split(command))
    assert not verdict.read, command
    assert "environment" in verdict.reason


def test_image_inspect_picking_other_fields_reads() -> None:
    assert classify(shlex.split("docker image inspect -f '{{.Id}}' nginx")).read
