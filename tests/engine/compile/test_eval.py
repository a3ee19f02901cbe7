"""The scorer on hand-built plans, good and bad, so no score is right by accident; and the
structural compiler's totals over the corpus."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.compile import compile_guide
from engine.compile.eval import score_plan
from engine.guide import parse_guide
from engine.plan import Plan
from tests.support import corpora

KNOWN = {"shell", "bash", "prometheus", "sql", "http", "logs"}
GUIDE = """# DiskFull

## Diagnosis

1. Check usage:

   ```bash
   export MNT=$(findmnt -n -o TARGET /data)
   df -h $MNT
   ```

   ```text
   /dev/sda1  97%  /data
   ```

2. If the disk is fuller than 90%, clean up.

## Mitigation

1. Delete old files:

   ```bash
   rm -rf /data/tmp
   ```
"""


@pytest.fixture(scope="module")
def guide():
    return parse_guide(GUIDE, path="disk.md")


@pytest.fixture(scope="module")
def good(guide) -> Plan:
    return compile_guide(guide, known_plugins=KNOWN)


def _edit(plan: Plan, fn) -> Plan:
    data = json.loads(plan.to_json())
    fn(data)
    return Plan.model_validate(data)


def test_the_structural_plan_scores_full_marks(guide, good):
    s = score_plan(guide, good, again=good, known_plugins=KNOWN)
    assert {k: s.ratios[k].value for k in ("command_recall", "command_precision",
                                             "order_preserved", "bindings")} == \
        {"command_recall": 1.0, "command_precision": 1.0, "order_preserved": 1.0,
         "bindings": 1.0}
    assert s.ratios["branch_recall"].total == 1 and s.ratios["branch_recall"].hit == 1
    assert s.counts == {"sample_output_as_action": 0, "mutating_concurrent": 0,
                        "mutating_unapproved": 0}
    assert all(s.gates.values())


def test_an_invented_command_lowers_precision_and_a_lost_one_recall(guide, good):
    def invent(d):
        for s in d["steps"]:
            if s["plugin"] == "shell" and s["params"]["pipeline"][0][0] == "df":
                s["params"]["pipeline"] = [["du", "-sh", "/"]]
    s = score_plan(guide, _edit(good, invent), known_plugins=KNOWN)
    assert s.ratios["command_precision"].value < 1.0
    assert s.ratios["command_recall"].hit == s.ratios["command_recall"].total - 1
    assert s.ratios["bindings"].value == 0.0  # the use of $MNT is gone


def test_sample_output_run_and_an_unapproved_change_are_counted(guide, good):
    def bad(d):
        rm = next(s for s in d["steps"] if s.get("mutating"))
        rm["mutating"] = False  # lies about it: the verb still says it changes the world
        out = next(s for s in d["steps"] if s["plugin"] == "shell" and
                   s["params"]["pipeline"][0][0] == "df")
        out["source"] = {"start": 13, "end": 13}  # the ```text block's line
    s = score_plan(guide, _edit(good, bad), known_plugins=KNOWN)
    assert s.counts["sample_output_as_action"] == 1
    assert s.counts["mutating_unapproved"] == 0  # still behind its approve step...

    def unapproved(d):
        rm = next(s for s in d["steps"] if s.get("mutating"))
        gate = next(e["source"] for e in d["edges"] if e["target"] == rm["id"])
        for e in d["edges"]:
            if e["target"] == gate:
                e["target"] = rm["id"]
        d["steps"] = [s for s in d["steps"] if s["id"] != gate]
        d["edges"] = [e for e in d["edges"] if gate not in (e["source"], e["target"])]
    s = score_plan(guide, _edit(good, unapproved), known_plugins=KNOWN)
    assert s.counts["mutating_unapproved"] == 1 and s.gates["valid"] is False


def test_reordered_commands_and_a_cycle_fail_their_checks(guide, good):
    def cycle(d):
        last = next(s["id"] for s in d["steps"] if s.get("mutating"))
        d["edges"].append({"source": last, "target": d["steps"][1]["id"], "kind": "jump",
                           "on": "success", "condition": None})
    s = score_plan(guide, _edit(good, cycle), known_plugins=KNOWN)
    assert s.gates["acyclic"] is False and s.gates["valid"] is False
    assert s.ratios["order_preserved"].value < 1.0  # the later command now also runs first

    def drop_branches(d):
        for e in d["edges"]:
            e["condition"] = None
    s = score_plan(guide, _edit(good, drop_branches), known_plugins=KNOWN)
    assert s.ratios["branch_recall"].hit == 0


# -- the reference measures (kept, run automatically, ...) ---------------------------------------

FIDELITY_GUIDE = """# DiskFull

## Diagnosis

1. Check the disk:

   ```bash
   df -h /var
   ```

2. If the disk is full, go on; otherwise stop.

## Mitigation

1. Delete the old logs:

   ```bash
   rm -rf /var/log/old
   ```

Example output:

```text
Filesystem  Size  Used
/dev/sda1   10G   9G
```
"""


@pytest.fixture
def fidelity_guide(tmp_path: Path) -> Path:
    path = tmp_path / "src" / "disk.md"
    path.parent.mkdir()
    path.write_text(FIDELITY_GUIDE)
    return path


def _measures(path: Path, compile=None) -> dict:
    from engine.compile.eval import fidelity_report, measures
    return measures(fidelity_report([path.parent.parent], compile=compile).sources["src"])


def test_the_structural_plan_keeps_and_gates_every_command(fidelity_guide):
    m = _measures(fidelity_guide)
    assert m["kept"]["hit"] == m["kept"]["total"] == 2
    assert m["gated"] == {"hit": 1, "total": 1, "value": 1.0}
    assert m["mutating lost"] == {"lost": 0, "total": 1}
    assert m["output run"] == {"units": 0, "steps": 0} and m["invented"] == 0


def test_a_lost_change_an_invented_step_and_output_run_are_counted(fidelity_guide):
    from engine.compile import compile_guide
    from engine.plan import Span, Step, StepKind

    def worse(guide):
        plan = compile_guide(guide)
        steps = [s for s in plan.steps if "rm -rf" not in s.text and not s.id.startswith(
            "approve-")]
        kept = {s.id for s in steps}
        steps.append(Step(id="odd", title="odd", kind=StepKind.COMMAND, plugin="shell",
                          text="reboot now", params={"pipeline": [["reboot", "now"]]},
                          source=Span(start=25, end=27)))
        edges = [e for e in plan.edges if e.source in kept and e.target in kept]
        return plan.model_copy(update={"steps": steps, "edges": edges})

    m = _measures(fidelity_guide, compile=worse)
    assert m["mutating lost"] == {"lost": 1, "total": 1}
    assert m["kept"]["hit"] == 1
    assert m["invented"] == 1
    assert m["output run"]["units"] == 1


def test_a_guide_that_does_not_compile_loses_everything_and_is_reported(fidelity_guide):
    from engine.compile.eval import fidelity_report
    from engine.errors import ValidationError

    def refuse(guide):
        raise ValidationError("no", file=guide.path, line=1)

    report = fidelity_report([fidelity_guide.parent.parent], compile=refuse)
    assert report.total()["files_noplan"] == 1 and report.total()["cmd_noplan"] == 2
    assert [g for g, _ in report.errors] == [fidelity_guide.as_posix()]


@pytest.mark.slow
@corpora.needs(corpora.FIDELITY, *corpora.CORPORA)
@pytest.mark.parametrize("corpus", corpora.CORPORA, ids=lambda p: p.name)
def test_eval_agrees_with_the_reference_scorer(corpus: Path, tmp_path: Path):
    """`mendflow eval`'s counters equal those of ../shared/fidelity run as its README says
    (plans compiled beside a copy of the guides, README.md files excluded): same numbers,
    no tolerance, since both apply the same definitions to the same plans."""
    from engine.compile import compile_many
    from engine.compile.eval import fidelity_report

    corpora.require(corpora.FIDELITY)
    copy = tmp_path / "c"
    shutil.copytree(corpora.require(corpus), copy)
    for r in compile_many(sorted(p for p in copy.rglob("*.md") if p.name.lower() != "readme.md")):
        if r.ok:
            Path(r.path).with_suffix(".plan.json").write_text(r.plan.to_json())
    gold, scored = tmp_path / "gold.json", tmp_path / "score.json"
    ref = corpora.FIDELITY
    subprocess.run([sys.executable, str(ref / "gold.py"), str(copy), "-o", str(gold)],
                   check=True, capture_output=True)
    subprocess.run([sys.executable, str(ref / "score.py"), str(gold), str(copy), "--guides",
                    str(copy), "--exclude", "*README.md", "--json", str(scored)],
                   check=True, capture_output=True)
    reference = json.loads(scored.read_text())["total"]
    ours = fidelity_report([corpus]).total()
    assert {k: v for k, v in ours.items() if v and not k.startswith("ours_")} == \
        {k: v for k, v in reference.items() if v}


def test_mendflow_eval_prints_the_measures_per_source(fidelity_guide: Path, tmp_path: Path):
    import os

    env = {**os.environ, "MENDFLOW_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"}
    root = str(fidelity_guide.parent.parent)
    proc = subprocess.run([sys.executable, "-m", "engine.cli", "eval", root, "--format", "json"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert set(data["measures"]) == {"TOTAL", "src"}
    assert data["measures"]["src"]["kept"]["value"] == 1.0
    table = subprocess.run([sys.executable, "-m", "engine.cli", "eval", root],
                           capture_output=True, text=True, env=env, timeout=120).stdout
    assert "src" in table and "kept" in table and "100.0%" in table


SESSION_GUIDE = """# Interface down

## Diagnosis

1. Log in to the node:

   ```bash
   ssh node-1.example.internal
   ```

2. Look at the links:

   ```bash
   ip link show
   ```
"""


def test_eval_says_which_lines_counted_outside_a_session_the_plan_runs_in_it(tmp_path: Path):
    """The reference counts `ip link show` after `ssh host` as run outside the session, though
    the plan runs it as `ssh host -- 'ip link show'`; eval says so beside its count, and a plan
    altered to run it here is not counted as in it."""
    from engine.compile.eval import fidelity_report

    src = tmp_path / "src"
    src.mkdir()
    (src / "iface.md").write_text(SESSION_GUIDE)
    m = fidelity_report([tmp_path]).total()
    assert (m["exec_outside_session"], m["ours_outside_session_in_it"]) == (1, 1)

    def local(guide):  # the same plan with the command run on this machine
        data = json.loads(compile_guide(guide).to_json())
        for s in data["steps"]:
            if s["kind"] == "command":
                s["params"]["pipeline"] = [["ip", "link", "show"]]
                s["source"]["start"] = s["source"]["end"]
        return Plan.model_validate(data)
    m = fidelity_report([tmp_path], compile=local).total()
    assert (m["exec_outside_session"], m["ours_outside_session_in_it"]) == (1, 0)


def test_mendflow_eval_of_a_missing_path_is_one_line_exit_2(tmp_path: Path):
    import os

    env = {**os.environ, "MENDFLOW_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.run([sys.executable, "-m", "engine.cli", "eval", str(tmp_path / "nope")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "no such file or folder" in proc.stderr


def test_eval_tells_its_progress_guide_by_guide(tmp_path: Path):
    """A walk over hundreds of guides says where it is (the CLI draws it as a bar on a
    terminal): each guide once, before it is scored, with the total across every path."""
    from engine.compile.eval import fidelity_report

    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        for i in range(2):
            (tmp_path / folder / f"g{i}.md").write_text(SESSION_GUIDE)
    told: list[tuple[int, int, str]] = []
    fidelity_report([tmp_path / "a", tmp_path / "b" / "g1.md"],
                    progress=lambda done, total, guide: told.append((done, total, guide.name)))
    assert told == [(0, 3, "g0.md"), (1, 3, "g1.md"), (2, 3, "g1.md")]
