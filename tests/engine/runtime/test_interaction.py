"""Answers and approvals are different things: no answer can approve anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import InputError
from engine.interaction import Answers, check_answer_keys

from .conftest import edge, end, plan, sh, step


def _question_before_a_gate(marker: Path):  # noqa: ANN202
    """A judged question whose yes-branch leads to an approval gate before `rm`."""
    return plan(
        [sh("look", "echo", "full"), step("approve-rm", kind="approve"),
         sh("rm", "touch", str(marker), mutating=True), end("done", "mitigated"),
         end("fine", "no_action"), end("denied", "escalate")],
        [edge("look", "approve-rm", text="If the disk is full", kind="branch"),
         edge("look", "fine", text="Otherwise (not: If the disk is full)", kind="else"),
         edge("approve-rm", "rm"), edge("approve-rm", "denied", on="failure", kind="error"),
         edge("rm", "done")])


@pytest.mark.parametrize("answers", [
    {"look": True},                      # the decision's own id
    {"look->approve-rm": True, "look->fine": False},  # each edge
    {"look": True, "approve-rm": True},  # and the gate's id, as an answer
    {"approve-rm": True, "fine": False},  # the old hint: the branch targets' ids
])
async def test_answering_the_question_never_approves_the_gate_behind_it(
        make_executor, tmp_path: Path, answers: dict[str, bool]) -> None:
    marker = tmp_path / "deleted"
    p = _question_before_a_gate(marker)
    ex, _ = make_executor(interaction=Answers(answers=answers))
    record = await ex.start(p, guide_path="t.md")
    assert not marker.exists()
    gate = record.state["steps"]["approve-rm"]
    assert gate["status"] != "succeeded"  # the gate was not approved
    if gate["status"] == "failed":
        assert "--approve approve-rm" in gate["error"]


async def test_approve_passes_the_gate_and_the_answer_picks_the_branch(
        make_executor, tmp_path: Path) -> None:
    marker = tmp_path / "deleted"
    ex, _ = make_executor(interaction=Answers(answers={"look": True},
                                              approvals=("approve-rm",)))
    record = await ex.start(_question_before_a_gate(marker), guide_path="t.md")
    assert record.outcome == "mitigated" and marker.exists()


async def test_no_to_the_decision_takes_its_else(make_executor, tmp_path: Path) -> None:
    ex, _ = make_executor(interaction=Answers(answers={"look": False}, assume_yes=True))
    record = await ex.start(_question_before_a_gate(tmp_path / "x"), guide_path="t.md")
    assert record.outcome == "no_action"


def test_an_answer_for_a_gate_or_for_no_question_is_refused_before_the_run(tmp_path) -> None:
    p = _question_before_a_gate(tmp_path / "x")
    with pytest.raises(InputError, match="an answer never approves") as info:
        check_answer_keys(p, {"approve-rm": True})
    assert "--approve approve-rm" in str(info.value)
    with pytest.raises(InputError, match="asks no question 'lok'"):
        check_answer_keys(p, {"lok": True})
    with pytest.raises(InputError, match="no approval step 'rm'"):
        check_answer_keys(p, {}, approvals=["rm"])
    check_answer_keys(p, {"look": True, "look->approve-rm": False}, approvals=["approve-*"])
