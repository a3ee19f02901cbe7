"""A decision a person judges is one question, asked once, with the evidence it is about."""

from __future__ import annotations

from typing import Any

import pytest

from engine.interaction import Answer, Answers

from .conftest import edge, end, plan, sh, step


class Asker:
    """A person who answers every question with `yes` and remembers what was asked."""

    def __init__(self, yes: bool) -> None:
        self.yes = yes
        self.asked: list[tuple[str, str, str]] = []

    async def judge(self, *, step: Any, edge: Any, evidence: str) -> Answer:
        self.asked.append((step.id, edge.condition.text, evidence))
        return Answer(self.yes, "test")


def _crashloop_plan():  # noqa: ANN202
    return plan(
        [step("start", kind="decide"), sh("pods", "echo", "web-1 CrashLoopBackOff 7"),
         step("crashloop", kind="decide"), end("restart", "escalate"),
         end("fine", "no_action")],
        [edge("start", "pods"), edge("pods", "crashloop"),
         edge("crashloop", "restart", text="If the pods are crash-looping", kind="branch"),
         edge("crashloop", "fine", text="Otherwise (not: If the pods are crash-looping)",
              kind="else")])


@pytest.mark.parametrize("yes, outcome", [(True, "escalate"), (False, "no_action")])
async def test_an_if_and_its_otherwise_are_one_question(make_executor, yes, outcome) -> None:
    person = Asker(yes)
    ex, _ = make_executor(interaction=Answers(fallback=person))
    record = await ex.start(_crashloop_plan(), guide_path="t.md")
    # One question, about the If; the Otherwise follows from its answer
    assert [(sid, text) for sid, text, _ in person.asked] == [
        ("crashloop", "If the pods are crash-looping")]
    assert record.outcome == outcome
    # and it shows what the step before the decision found, not the decision's own nothing
    evidence = person.asked[0][2]
    assert "CrashLoopBackOff" in evidence and "{}" not in evidence


@pytest.mark.parametrize("answer, outcome", [("yes", "escalate"), ("no", "no_action")])
async def test_answer_flag_keyed_by_the_decision_takes_one_branch(make_executor, answer,
                                                                  outcome) -> None:
    ex, _ = make_executor(interaction=Answers(answers={"crashloop": answer == "yes"}))
    record = await ex.start(_crashloop_plan(), guide_path="t.md")
    assert record.status == "succeeded" and record.outcome == outcome
