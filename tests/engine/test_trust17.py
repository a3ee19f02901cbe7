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
   way (a --format that picks other fields reads). So is `docker history I`, which prints
   each layer's build command (`ENV TOKEN=...`), in part when cut, whole with --no-trunc.
4. The approval line hid part of what would run: a bash step was shown as its line alone
   (`kubectl delete pod $POD`, not which pod), a shell step without the text fed to it (`psql`
   fed `DROP TABLE x`), its folder or its variables, and a value with a newline split the
   command over lines (the rest pushed out of sight). A step is described on one line with
   everything it is given; a value's newline or control character is written escaped (`$'..'`).
"""

from __future__ import annotations

import shlex

import pytest

from engine.effects import classify
from plugins.bash import BashParams, BashPlugin
from plugins.shell import ShellParams, ShellPlugin

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


def test_a_bash_step_is_approved_with_the_values_it_acts_on() -> None:
    shown = BashPlugin().describe(params=BashParams(
        script="kubectl delete pod $POD -n $NS", args={"POD": "web-1", "NS": "prod"}, cwd="/srv"))
    assert shown == "cd /srv && NS=prod; POD=web-1; kubectl delete pod $POD -n $NS"


def test_a_shell_step_is_approved_with_its_input_folder_and_variables() -> None:
    shown = ShellPlugin().describe(params=ShellParams(
        pipeline=[["psql", "-d", "app"]], stdin="DROP TABLE users;", cwd="/var/lib",
        env={"PGHOST": "db-main"}))
    for part in ("DROP TABLE users;", "/var/lib", "PGHOST=db-main", "psql -d app"):
        assert part in shown


@pytest.mark.parametrize("value", ["web-1\n\nok", "web-1\r", "web\u202e1", "a\x1b[2Jb",
                                   "x'\ny"])
def test_a_value_cannot_split_or_hide_the_approved_command(value: str) -> None:
    shown = ShellPlugin().describe(params=ShellParams(
        pipeline=[["kubectl", "delete", "pod", value, "-n", "prod"]]))
    assert shown.isprintable(), shown
    assert shown.endswith("-n prod")
    words = BashPlugin().describe(params=BashParams(script="kubectl delete pod $P",
                                                    args={"P": value}))
    assert words.isprintable(), words


@pytest.mark.parametrize("command", ["docker history nginx", "docker history --no-trunc nginx",
                                     "docker image history nginx", "podman history x",
                                     "docker history --format '{{.CreatedBy}}' nginx"])
def test_history_printing_build_commands_is_not_a_read(command: str) -> None:
    verdict = classify(shlex.split(command))
    assert not verdict.read, command
    assert "built with" in verdict.reason


@pytest.mark.parametrize("command", ["docker history -q nginx",
                                     "docker history --format '{{.Size}}' nginx"])
def test_history_without_build_commands_reads(command: str) -> None:
    assert classify(shlex.split(command)).read, command
