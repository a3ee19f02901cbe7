"""Trust, session 11 (what the compiler alone decides).

2. `docker exec -it C CMD` (podman, nerdctl) runs CMD in the container as a step, as
   `kubectl exec -it POD -- CMD` does: the step has no terminal, so it runs
   `docker exec C CMD` (docker refuses `-t` without one) and is judged by CMD. Before, every
   such line was a person's step, even `df -h`, and a change in a container was never
   offered for approval. A shell alone (`docker exec -it C bash`) still opens a session.
5. IPython's `In [1]: !cmd` is a shell line typed at a prompt, as `$ cmd` is: it runs, and
   the lines under it are what it printed. Before, the whole transcript was output (a
   manual step with nothing to run). Python typed at `In [2]: ` stays a person's."""

from __future__ import annotations

import pytest

from engine.plan import Plan, StepKind
from tests.support.compiling import compile_text, gated, manual_scripts


def _one_block(line: str) -> Plan:
    return compile_text(f"## Check\n\n```bash\n{line}\n```\n")


def _command(plan: Plan):
    (step,) = [s for s in plan.steps if s.kind == StepKind.COMMAND]
    return step


@pytest.mark.parametrize(("line", "pipeline"), [
    ("docker exec -it web df -h", [["docker", "exec", "web", "df", "-h"]]),
    ("podman exec -i -t -u root web cat /etc/hosts",
     [["podman", "exec", "-u", "root", "web", "cat", "/etc/hosts"]]),
    ("sudo nerdctl exec --interactive --tty web ls /data | head -3",
     [["sudo", "nerdctl", "exec", "web", "ls", "/data"], ["head", "-3"]]),
])
def test_a_read_in_a_container_runs_without_a_terminal(line: str, pipeline: list) -> None:
    plan = _one_block(line)
    step = _command(plan)
    assert step.params["pipeline"] == pipeline
    assert not step.mutating and not gated(plan, step.id)


def test_a_change_in_a_container_waits_for_its_approval() -> None:
    plan = _one_block("docker exec -it web rm -rf /var/cache/app")
    step = _command(plan)
    assert step.params["pipeline"] == [["docker", "exec", "web", "rm", "-rf", "/var/cache/app"]]
    assert step.mutating and gated(plan, step.id)


def test_a_console_in_a_container_stays_a_persons() -> None:
    plan = _one_block("docker exec -it web psql -U app")
    assert not [s for s in plan.steps if s.kind == StepKind.COMMAND]
    assert "docker exec -it web psql -U app" in manual_scripts(plan)


def test_an_exec_fed_by_a_pipe_keeps_its_input() -> None:
    plan = _one_block("cat q.sql | docker exec -i web psql -c 'select 1'")
    assert _command(plan).params["pipeline"][1][:3] == ["docker", "exec", "-i"]


def test_a_shell_in_a_container_still_opens_a_session() -> None:
    plan = compile_text("## Check\n\n```bash\ndocker exec -it web bash\ndf -h\nexit\n```\n")
    assert _command(plan).params["pipeline"] == [["docker", "exec", "web", "df", "-h"]]


IPYTHON = """## Check

In IPython:

```
In [1]: !kubectl get pods -n web
NAME    READY   STATUS
web-0   1/1     Running

In [2]: !rm -rf /tmp/web-cache
```

```ipython
In [3]: !uptime
 10:00:01 up 3 days
```
"""


def test_a_shell_escape_at_ipythons_prompt_runs_like_a_dollar_line() -> None:
    plan = compile_text(IPYTHON)
    steps = [s for s in plan.steps if s.kind == StepKind.COMMAND]
    assert [s.params["pipeline"] for s in steps] == [
        [["kubectl", "get", "pods", "-n", "web"]], [["rm", "-rf", "/tmp/web-cache"]],
        [["uptime"]]]
    assert [gated(plan, s.id) for s in steps] == [False, True, False]


def test_python_at_ipythons_prompt_stays_a_persons() -> None:
    plan = compile_text("## Check\n\n```\nIn [1]: import os\n\nIn [2]: os.listdir('/')\n"
                        "Out[2]: ['bin', 'etc']\n```\n")
    assert not [s for s in plan.steps if s.kind == StepKind.COMMAND]
    assert any("os.listdir('/')" in script for script in manual_scripts(plan))
