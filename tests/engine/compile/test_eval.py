"""The scorer on hand-built plans, good and bad, so no score is right by accident; and the
structural compiler's totals over the corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.compile import compile_guide
from engine.compile.eval import evaluate, score_plan
from engine.guide import parse_guide
from engine.plan import Plan

KNOWN = {"shell", "prometheus", "sql", "http", "logs"}
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


from tests.support.corpora import CORPUS  # noqa: E402


@pytest.mark.slow
@pytest.mark.skipif(not CORPUS.exists(), reason="the corpus is not here")
def test_structural_totals_over_the_corpus():
    t = evaluate([CORPUS], known_plugins=KNOWN).totals()
    assert t["guides"] > 550 and t["compiled"] >= 0.95 * t["guides"]
    assert t["counts"] == {"sample_output_as_action": 0, "mutating_concurrent": 0,
                           "mutating_unapproved": 0}
    assert set(t["gates_passed"].values()) == {t["compiled"]}
    assert t["ratios"]["command_recall"]["value"] > 0.9
    assert t["ratios"]["command_precision"]["value"] > 0.98
