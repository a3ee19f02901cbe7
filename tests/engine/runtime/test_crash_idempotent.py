"""An idempotent plugin after `kill -9` of its local runner: run again, its effect applied once.

`mendflow run` has no hook for test plugins, so a small driver runs the same `LocalExecutor`
in a real process with one registered: `keyed_file`, a gated action whose effect is keyed by
its idempotency key (as an API taking one would be), declared `idempotent`. The driver is
SIGKILLed at a random point in the step and resumed; calls and effects are counted in files.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from .conftest import edge, end, plan, step
from .test_crash_faults import TRIALS, _lines, _wait_for

pytestmark = pytest.mark.slow

DRIVER = """
import asyncio, os, sys
from pathlib import Path
from typing import ClassVar
from pydantic import BaseModel
from engine.runtime.services import Services
from engine.plan import Plan
from engine.plugins import PluginBase, Registry, StepContext, StepResult
from engine.runtime.executor import LocalExecutor
from engine.settings import Settings
from engine.store import open_store

class Params(BaseModel):
    dir: str
    sleep_s: float = 1.0

class KeyedFile(PluginBase):
    '''A gated action whose effect is keyed by the idempotency key (O_EXCL), as an API
    taking an idempotency key would be: it declares itself idempotent.'''
    name: ClassVar[str] = "keyed_file"
    Params = Params
    read_only = False
    idempotent: ClassVar[bool] = True

    async def run(self, *, params: Params, ctx: StepContext) -> StepResult:
        d = Path(params.dir)
        with open(d / "calls", "a") as f:
            f.write(ctx.idempotency_key + "\\n")
        await asyncio.sleep(params.sleep_s / 2)
        try:
            os.close(os.open(d / ctx.idempotency_key.replace(":", "_"),
                             os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            pass
        else:
            with open(d / "effects", "a") as f:
                f.write(ctx.idempotency_key + "\\n")
        await asyncio.sleep(params.sleep_s / 2)
        return StepResult(summary="keyed")

async def main(command: str, data: str, plan_file: str) -> None:
    async with open_store(Path(data) / "mendflow.sqlite3") as store:
        ex = LocalExecutor(Services(
            store=store, settings=Settings(data_dir=Path(data)),
            registry=Registry(discover=False, extra={"keyed_file": KeyedFile})))
        if command == "run":
            plan = Plan.from_json(Path(plan_file).read_text())
            record = await ex.start(plan, guide_path="t.md", run_id="r1")
        else:
            record = await ex.resume("r1")
        print(record.status, record.outcome)

asyncio.run(main(*sys.argv[1:]))
"""


def _keyed_trial(tmp: Path, kill_after_s: float) -> tuple[int, int, str]:
    tmp.mkdir(parents=True)
    p = plan([step_keyed(tmp), end("ok")], [edge("act", "ok")])
    plan_file = tmp / "plan.json"
    plan_file.write_text(p.to_json())
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[3])}
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, "run", str(tmp / "data"),
                             str(plan_file)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    _wait_for(tmp / "calls", proc)
    time.sleep(kill_after_s)
    proc.kill()
    proc.wait(timeout=10)
    resumed = subprocess.run([sys.executable, "-c", DRIVER, "resume", str(tmp / "data"),
                              str(plan_file)], env=env, capture_output=True, text=True,
                             timeout=60, stdin=subprocess.DEVNULL)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    return len(_lines(tmp / "calls")), len(_lines(tmp / "effects")), resumed.stdout.strip()


def step_keyed(tmp: Path):  # noqa: ANN201
    return step("act", plugin="keyed_file", mutating=True,
                params={"dir": str(tmp), "sleep_s": 1.0})


def test_sigkill_then_resume_reruns_an_idempotent_plugin_with_one_effect(tmp_path: Path) -> None:
    rng = random.Random()
    kills = [rng.uniform(0.0, 0.9) for _ in range(TRIALS)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda it: _keyed_trial(tmp_path / f"k{it[0]}", it[1]),
                                enumerate(kills)))
    print("\nkill after s: calls, effects, resumed run")
    for kill, (calls, effects, status) in zip(kills, results, strict=True):
        print(f"  {kill:.2f}: {calls}, {effects}, {status}")
    for calls, effects, status in results:
        # In doubt it is not: it ran again without asking, and its effect happened once
        assert (calls, effects, status) == (2, 1, "succeeded resolved")
