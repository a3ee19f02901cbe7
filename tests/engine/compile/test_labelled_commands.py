"""A command a wiki export left without its code marks, on a line of its own after a label
("1. Run: rabbitmqctl list_queues name messages consumers", "Command: systemctl status nginx"):
the label says the rest is the command, so it runs (gated when it changes anything). It was a
person's step. A sentence after the label ("Run: kubectl get pods and look at the status") is
still a person's."""

from __future__ import annotations

import pytest

from tests.support.compiling import compile_text, gated, runs


def _guide(line: str) -> str:
    return f"# Queue\n\n## Diagnosis\n\n{line}\n"


@pytest.mark.parametrize("line,argv", [
    ("1. Run: rabbitmqctl list_queues name messages consumers",
     ["rabbitmqctl", "list_queues", "name", "messages", "consumers"]),
    ("Command: systemctl status nginx", ["systemctl", "status", "nginx"]),
    ("- Execute: df -h /var", ["df", "-h", "/var"]),
])
def test_a_labelled_line_is_its_command(line: str, argv: list[str]) -> None:
    steps = runs(compile_text(_guide(line)))
    assert [s.params["pipeline"] for s in steps] == [[argv]]


def test_a_labelled_change_is_gated() -> None:
    plan = compile_text(_guide("2. Run: systemctl restart orders-consumer"))
    (step,) = runs(plan)
    assert gated(plan, step.id)


def test_a_sentence_after_the_label_stays_a_person_s() -> None:
    plan = compile_text(_guide("1. Run: kubectl get pods and look at the status"))
    assert not runs(plan)
