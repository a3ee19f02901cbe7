"""The bash plugin runs a guide's shell line verbatim with real bash: values stay data, a
value that would split or glob is refused, and a dry run cannot write."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import PluginError, StepFailed
from engine.plugins import Registry, StepContext, parse_params
from plugins.bash import BashPlugin

HOSTILE = "x;touch${IFS}/tmp/mendflow-pwned;$(id)`id`"


def ctx(dry_run: bool = False) -> StepContext:
    return StepContext(run_id="r1", step_id="s1", attempt=1, idempotency_key="k",
                       deadline_s=10.0, dry_run=dry_run)


async def run(script: str, args: dict[str, str] | None = None, dry_run: bool = False):
    params = parse_params(BashPlugin, {"script": script, "args": args or {}})
    return await BashPlugin().run(params=params, ctx=ctx(dry_run))


async def test_the_line_runs_in_bash_with_its_substitutions_and_loops() -> None:
    res = await run("for i in $(seq 1 3); do echo n$i; done | wc -l")
    assert res.ok and res.outputs["stdout"].strip() == "3"
    assert res.outputs["argv"] == [["bash", "-c", "for i in $(seq 1 3); do echo n$i; done | wc -l"]]


async def test_a_hostile_value_is_data_never_code(tmp_path: Path) -> None:
    canary = Path("/tmp/mendflow-pwned")
    canary.unlink(missing_ok=True)
    res = await run('printf "%s" "$NAME"', {"NAME": HOSTILE})
    assert res.ok and res.outputs["stdout"] == HOSTILE
    assert not canary.exists()


async def test_a_value_that_would_split_or_glob_fails_the_step_saying_so() -> None:
    for value in ("a b", "*", "x\ny", "[ab]"):
        with pytest.raises(StepFailed) as failed:
            await run("ls $DIR", {"DIR": value})
        assert "not one word" in str(failed.value) and not failed.value.retryable


def test_a_name_the_shell_uses_is_refused() -> None:
    for name in ("PATH", "IFS", "BASH_ENV", "LD_PRELOAD", "x; rm"):
        with pytest.raises(PluginError):
            parse_params(BashPlugin, {"script": "ls", "args": {name: "/tmp"}})


async def test_the_exit_status_is_the_world_answer() -> None:
    res = await run("grep -q nothing-like-this /etc/hostname")
    assert not res.ok and res.outputs["exit_code"] == 1


async def test_a_dry_run_cannot_write(tmp_path: Path) -> None:
    target = tmp_path / "written"
    res = await run(f"echo x > {target}", dry_run=True)
    assert not res.ok and not target.exists()
    assert "read-only" in (res.error or "")


def test_it_is_registered_and_takes_its_script_verbatim() -> None:
    text = (Path(__file__).parents[2] / "pyproject.toml").read_text()
    assert 'bash = "plugins.bash:BashPlugin"' in text
    assert Registry(extra={"bash": BashPlugin}).get("bash") is BashPlugin
    assert "script" in BashPlugin.untemplated_params
