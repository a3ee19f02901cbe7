"""The runtime asks the read-only table again before an ungated step runs, with the values in.

A plan that says a step only reads (`mutating: false`) is believed only if what the step will
really do is on the read-only list: a hand-edited plan, or a value that turns the command into
another one, is refused before anything runs. A dry run runs only what reads, and the approval
question shows the command as it will run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel

from engine.errors import InputError, PlanError
from engine.interaction import Answer, Answers
from engine.plan import Step
from engine.plugins import PluginBase, Registry, StepContext, StepResult
from engine.runtime.executor import LocalExecutor
from engine.runtime.services import Services
from engine.settings import Settings
from engine.store.base import RunOptions
from plugins.http import HttpPlugin
from plugins.shell import ShellPlugin
from plugins.sql import SqlPlugin

from .conftest import edge, end, plan, sh, step

REFUSAL = ("refused: `{argv}` is not on the read-only list ({why}); a step that changes the "
           "world needs an approval gate in the plan")


class ArmParams(BaseModel):
    call: str | None = None
    read: list[str] = []


class ArmPlugin(PluginBase):
    """An action plugin in the OPC UA mould: `call` acts, `read` only reads."""

    name: ClassVar[str] = "arm"
    Params = ArmParams
    read_only = False
    ran: ClassVar[list[str]] = []

    async def run(self, *, params: ArmParams, ctx: StepContext) -> StepResult:
        self.ran.append(params.call or "read")
        return StepResult(summary="arm")


class PressParams(BaseModel):
    force: float = 1.0


class PressPlugin(PluginBase):
    """A plugin that declares it changes the world, with no parameter that says when."""

    name: ClassVar[str] = "press"
    Params = PressParams
    read_only = False

    async def run(self, *, params: PressParams, ctx: StepContext) -> StepResult:
        raise AssertionError("a refused step must never reach its plugin")


def executor(store: Any, tmp_path: Path, **kw: Any) -> LocalExecutor:
    registry = Registry(discover=False, extra={
        "shell": ShellPlugin, "sql": SqlPlugin, "http": HttpPlugin, "arm": ArmPlugin,
        "press": PressPlugin})
    services = Services(store=store, registry=registry, settings=Settings(data_dir=tmp_path),
                        **{k: kw.pop(k) for k in ("datasources", "redact") if k in kw})
    return LocalExecutor(services, interaction=kw.pop("interaction", Answers()), **kw)


def one(s: Step) -> Any:
    return plan([s, end("ok"), end("err", "escalate")],
                [edge(s.id, "ok"), edge(s.id, "err", on="failure", kind="error")])


async def test_an_ungated_step_that_writes_is_refused_before_it_runs(store, tmp_path) -> None:
    # Given a plan that calls `rm -rf` a read (a hand-edited plan)
    victim = tmp_path / "victim"
    victim.mkdir()
    p = one(sh("clean", "rm", "-rf", str(victim), retry={"attempts": 3, "backoff_s": 0}))
    # When it runs
    record = await executor(store, tmp_path).start(p, guide_path="t.md")
    # Then nothing was removed, the step failed once (not retried), and says why in one line
    assert victim.exists() and record.outcome == "escalate"
    state = record.state["steps"]["clean"]
    assert state["attempt"] == 1
    assert state["error"].startswith("[step clean]: " + REFUSAL.format(
        argv=f"rm -rf {victim}", why="rm is not on the read-only list"))


async def test_a_value_that_turns_a_read_into_a_write_is_refused(store, tmp_path) -> None:
    # The issue's scratch-dir case: `find "$SCRATCH_DIR" ... -print` with the value -delete.
    # Three layers stand in the way: the input's type, the rendered-word check for values an
    # earlier step bound, and (for literal words) the read-only table.
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (scratch / "keep").write_text("x")
    here = tmp_path / "cwd"  # `find -delete` with no path empties the working directory
    here.mkdir()
    (here / "canary").write_text("x")
    listing = step("list", params={"pipeline": [["find", "{{ inputs.dir }}", "-maxdepth", "1",
                                                 "-print"]], "cwd": str(here)})
    p = plan([listing, end("ok"), end("err", "escalate")],
             [edge("list", "ok"), edge("list", "err", on="failure", kind="error")],
             inputs=[{"name": "dir", "type": "path"}])
    ex = executor(store, tmp_path)
    with pytest.raises(InputError, match="starts with '-'"):
        await ex.start(p, guide_path="t.md", inputs={"dir": "-delete"})
    # a value bound by an earlier step has no declared type: the rendered word is checked
    bound = plan([sh("pick", "echo", "-delete", binds={"vars.DIR": "result.stdout | trim"},
                     writes=["steps.pick", "vars.DIR"]),
                  step("list", params={"pipeline": [["find", "{{ vars.DIR }}", "-print"]],
                                       "cwd": str(here)}),
                  end("ok"), end("err", "escalate")],
                 [edge("pick", "list"), edge("list", "ok"),
                  edge("list", "err", on="failure", kind="error")])
    record = await ex.start(bound, guide_path="t.md")
    assert "starts with '-'" in record.state["steps"]["list"]["error"]
    # a literal word is the table's: `find ... -delete` written into a read is refused
    literal = one(step("list", params={"pipeline": [["find", str(scratch), "-delete"]]}))
    record = await ex.start(literal, guide_path="t.md")
    error = record.state["steps"]["list"]["error"]
    assert error.startswith(f"[step list]: refused: `find {scratch} -delete`")
    assert "find's -delete deletes files" in error
    assert (scratch / "keep").exists() and (here / "canary").exists()
    # and the honest value reads
    record = await ex.start(p, guide_path="t.md", inputs={"dir": str(scratch)})
    assert record.outcome == "resolved"


async def test_program_text_from_a_value_is_refused(store, tmp_path) -> None:
    target = tmp_path / "written"
    hosts = tmp_path / "hosts"
    hosts.write_text("a\n")
    p = plan([sh("peek", "sed", "-n", "{{ inputs.expr }}", str(hosts)), end("ok"),
              end("err", "escalate")],
             [edge("peek", "ok"), edge("peek", "err", on="failure", kind="error")],
             inputs=[{"name": "expr", "type": "path"}])
    with pytest.raises(PlanError, match="must never become code"):
        await executor(store, tmp_path).start(p, guide_path="t.md",
                                              inputs={"expr": f"1p;w {target}"})
    assert not target.exists()
    # and the table says the same of a sed program that reads a value, in a plan's own terms
    from engine.effects import Templated, classify

    verdict = classify(["sed", "-n", Templated("{{ inputs.expr }}"), str(hosts)])
    assert verdict.effect != "read" and "program comes from a value" in verdict.reason


async def test_sql_http_and_plugins_are_judged_by_what_they_will_do(store, tmp_path) -> None:
    ex = executor(store, tmp_path)
    cases = [
        (step("q", plugin="sql", params={"query": "/* x */ COPY t TO PROGRAM 'id'"}),
         "the SQL starts with COPY"),
        (step("k", plugin="sql", params={"query": "SELECT pg_terminate_backend(1)"}),
         "pg_terminate_backend()"),
        (step("d", plugin="sql", params={"query": "DELETE FROM t"}), "starts with DELETE"),
        (step("h", plugin="http", params={"url": "http://127.0.0.1:9/x", "method": "DELETE"}),
         "an HTTP DELETE changes the world"),
        (step("a", plugin="arm", params={"call": "Abort"}), "it calls Abort, an action"),
        (step("p", plugin="press", params={}), "the press plugin declares that it may change"),
    ]
    for s, why in cases:
        record = await ex.start(one(s), guide_path="t.md")
        error = record.state["steps"][s.id]["error"]
        assert error.startswith(f"[step {s.id}]: refused: `") and why in error, error
    # A read of the same action plugin (no call) runs
    ArmPlugin.ran = []
    record = await ex.start(one(step("r", plugin="arm", params={"read": ["State"]})),
                            guide_path="t.md")
    assert record.outcome == "resolved" and ArmPlugin.ran == ["read"]


async def test_a_dry_run_runs_only_reads_and_shows_the_rest(store, tmp_path) -> None:
    marker = tmp_path / "changed"
    p = plan([sh("look", "echo", "seen"), step("gate", kind="approve"),
              sh("change", "touch", "{{ inputs.path }}", mutating=True),
              end("done", "mitigated"), end("denied", "escalate")],
             [edge("look", "gate"), edge("gate", "change"),
              edge("gate", "denied", on="failure", kind="error"), edge("change", "done")],
             inputs=[{"name": "path"}])
    record = await executor(store, tmp_path).start(p, guide_path="t.md",
                                                   options=RunOptions(dry_run=True),
                                                   inputs={"path": str(marker)})
    memory = {m.key: m.value for m in await store.memory(record.run_id)}
    assert memory["steps.look"]["stdout"].strip() == "seen"  # a read runs
    assert memory["steps.change"] == {"dry_run": True, "would_run": f"touch {marker}"}
    assert not marker.exists()


async def test_a_dry_run_refuses_an_ungated_write_as_a_run_would(store, tmp_path) -> None:
    marker = tmp_path / "changed"
    record = await executor(store, tmp_path).start(one(sh("t", "touch", str(marker))),
                                                   guide_path="t.md",
                                                   options=RunOptions(dry_run=True))
    assert not marker.exists()
    assert record.state["steps"]["t"]["error"].startswith(f"[step t]: refused: `touch {marker}`")


class Recording(Answers):
    """Answers --yes, and keeps the action each approval question showed."""

    def __init__(self) -> None:
        super().__init__(assume_yes=True)
        self.asked: list[str] = []

    async def approve(self, *, step: Step, action: str, commands: Sequence[str] = ()) -> Answer:
        self.asked.append(action)
        return await super().approve(step=step, action=action)


async def test_the_approval_shows_and_records_the_rendered_argv(store, tmp_path) -> None:
    victim = tmp_path / "old logs"
    victim.mkdir()
    p = plan([step("gate", kind="approve"),
              sh("clean", "rm", "-rf", "{{ inputs.dir }}", mutating=True),
              end("done", "mitigated"), end("denied", "escalate")],
             [edge("gate", "clean"), edge("gate", "denied", on="failure", kind="error"),
              edge("clean", "done")], inputs=[{"name": "dir", "type": "path"}])
    answers = Recording()
    record = await executor(store, tmp_path, interaction=answers).start(
        p, guide_path="t.md", inputs={"dir": str(victim)})
    assert answers.asked == [f"rm -rf '{victim}'"]
    gate = next(e for e in await store.events(record.run_id)
                if e.step_id == "gate" and e.type == "approval")
    assert gate.data["summary"] == f"approved by --yes: rm -rf '{victim}'"
    assert record.outcome == "mitigated" and not victim.exists()


def test_mendflow_run_refuses_a_hand_edited_plan_that_calls_rm_a_read(tmp_path: Path) -> None:
    victim = tmp_path / "x"
    victim.mkdir()
    p = plan([sh("tidy", "rm", "-rf", str(victim)), end("ok")], [edge("tidy", "ok")])
    data = json.loads(p.to_json())
    assert data["steps"][0]["mutating"] is False
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(data))
    proc = subprocess.run([sys.executable, "-m", "engine.cli", "run", str(plan_file)],
                          env={**os.environ, "MENDFLOW_DATA_DIR": str(tmp_path / "data")},
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                          cwd=tmp_path)
    assert proc.returncode == 4, proc.stdout + proc.stderr  # no conclusion was drawn
    assert victim.exists()
    assert "refused: `rm -rf" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
