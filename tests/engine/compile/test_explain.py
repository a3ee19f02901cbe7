"""`mendflow compile --explain` and the plan's `ignored` records: every part of a guide is
accounted for, as a step or as ignored with a reason (issue 11: nothing silently lost)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.compile import compile_guide, compile_many
from engine.compile.explain import explain, format_rows, unaccounted
from engine.guide import load_guide, parse_guide
from engine.plan import Plan, plan_json_schema
from tests.support import corpora

GUIDE = """# Disk full

## Meaning

When the disk fills, writes fail.

## Diagnosis

1. Check the pods:

   ```bash
   kubectl get pods -n foo
   ```

   Example output:

   ```text
   NAME   READY   STATUS
   web-1  1/1     Running
   ```

2. The config looks like:

   ```yaml
   size: 10Gi
   ```

```mermaid
graph TD; a-->b
```

[docs]: https://example.com/docs
"""


def compile_text(text: str) -> Plan:
    return compile_guide(parse_guide(text, path="guide.md"))


def test_blocks_that_run_nothing_are_ignored_with_their_reason():
    plan = compile_text(GUIDE)
    reasons = {(i.span.start, i.kind): i.reason for i in plan.ignored}
    assert reasons[(17, "code")] == "sample output"
    assert reasons[(24, "code")] == "configuration"
    assert reasons[(28, "code")] == "illustration"


def test_a_descriptive_when_is_ignored_as_context_not_lost():
    plan = compile_text(GUIDE)
    [guard] = [i for i in plan.ignored if i.kind == "guard"]
    assert guard.span.start == 5 and guard.reason == "descriptive section"
    assert guard.text.startswith("When the disk fills")


def test_the_ignored_field_is_in_the_schema_and_round_trips():
    plan = compile_text(GUIDE)
    assert "ignored" in plan_json_schema()["properties"]
    assert Plan.from_json(plan.to_json()) == plan
    # a plan written before the field existed still loads
    old = json.loads(plan.to_json())
    del old["ignored"]
    assert Plan.from_json(json.dumps(old)).ignored == []


def test_explain_says_what_each_line_range_became():
    plan = compile_text(GUIDE)
    rows = explain(parse_guide(GUIDE, path="guide.md"), plan, GUIDE)
    text = format_rows(rows)
    step = next(s for s in plan.steps if s.plugin == "shell")
    assert f"{step.id} (command)" in next(r.became for r in rows if r.start == 11)
    assert next(r.became for r in rows if r.start == 17).endswith("sample output")
    assert "ignored" in text
    assert any("link definitions" in r.became for r in rows)
    assert unaccounted(GUIDE, rows) == []


def test_the_cli_prints_the_explanation(tmp_path: Path):
    guide = tmp_path / "g.md"
    guide.write_text(GUIDE)
    env = {**os.environ, "MENDFLOW_DATA_DIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "engine.cli", "compile", "--explain", str(guide)],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "17-20" in proc.stdout and "sample output" in proc.stdout
    assert not (tmp_path / "g.plan.json").exists()  # explaining writes no plan


SESSION = """# Interface down

## Diagnosis

```bash
ssh node-1
```

```bash
ip link show
```
"""


def test_blocks_of_a_session_are_held_by_its_steps_not_ignored():
    # Given `ssh node-1` in one block and the command run on the node in the next
    plan = compile_text(SESSION)
    [step] = [s for s in plan.steps if s.kind.value == "command"]
    assert step.params["pipeline"] == [["ssh", "node-1", "--", "ip link show"]]
    # Then neither block is "ignored: commands the plan does not run": the step holds both
    assert not [i for i in plan.ignored if i.kind == "code"]
    rows = explain(parse_guide(SESSION, path="guide.md"), plan, SESSION)
    assert [r.became for r in rows if r.part.startswith("code")] == [f"{step.id} (command)"] * 2


@corpora.needs(*corpora.CORPORA)
@pytest.mark.parametrize("corpus", corpora.CORPORA, ids=lambda p: p.name)
def test_every_line_range_of_every_corpus_guide_is_accounted_for(corpus: Path):
    paths = corpora.guides(corpus)
    checked = 0
    for r in compile_many(paths):
        if not r.ok:
            continue
        guide = load_guide(r.path)
        text = Path(r.path).read_text(encoding="utf-8", errors="replace")
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        rows = explain(guide, r.plan, text)
        assert unaccounted(text, rows) == [], r.path
        # every code block is a step, part of one, or ignored with a reason
        for row in rows:
            if row.part.startswith("code"):
                assert row.became != "nothing to run", (r.path, row)
        checked += 1
    assert checked >= len(paths) - 1


def test_an_item_that_ends_the_run_shows_its_ending_not_ignored_prose():
    text = ("# T\n\n## Fix\n\n- If the receiver is stopped, restart it:\n\n  ```\n  sudo "
            "systemctl restart pg\n  ```\n\n- Otherwise, page the storage on-call.\n")
    guide = parse_guide(text, path="t.md")
    plan = compile_guide(guide, known_plugins={"shell", "bash"})
    row = next(r for r in explain(guide, plan, text) if "Otherwise" in r.part)
    # Before: "ignored item ...: prose: nothing to run or decide", beside an end step holding
    # the same words: the two accounts contradicted each other.
    assert "ignored" not in row.became and "(end: escalate)" in row.became, row
    assert not [ig for ig in plan.ignored if ig.text.startswith("Otherwise")]


PARALLEL = """# Checks

## Step 1 - Start

Steps 2 through 3 are independent; run them concurrently.

## Step 2 - Disk

```bash
df -h /var
```

## Step 3 - Memory

```bash
free -m
```

## Step 4 - Report

Write what you found into the incident.
"""


def test_a_parallel_instruction_says_which_steps_start_at_once():
    guide = parse_guide(PARALLEL, path="t.md")
    plan = compile_guide(guide, known_plugins={"shell", "bash"})
    row = next(r for r in explain(guide, plan, PARALLEL) if "independent" in r.part)
    # Before: "context for a reader: no command, condition or jump in it", for the sentence
    # the fan-out was made from
    disk, memory = (s.id for s in plan.steps if s.plugin == "shell")
    assert row.became == f"steps 2-3 start at once: {disk}, {memory}", row


def test_a_parallel_instruction_the_plan_could_not_follow_claims_nothing():
    text = PARALLEL.replace("Steps 2 through 3", "Steps 7 through 9")
    guide = parse_guide(text, path="t.md")
    plan = compile_guide(guide, known_plugins={"shell", "bash"})
    row = next(r for r in explain(guide, plan, text) if "independent" in r.part)
    assert "at once" not in row.became, row
