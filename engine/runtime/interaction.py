"""Questions a run puts to a person: approvals, manual steps, and judgment conditions.

The executor asks through the `Interaction` protocol and never knows who answers. This module
provides the answers that need no terminal: `--yes`, `--answer STEP=...`, and a policy of steps
that may run unapproved. The terminal prompt lives in the CLI (the only rich/typer importer);
the LLM judge (`engine.compile.llm.judge`) chains in front of the terminal prompt.

An unanswerable question (no terminal, no answer given) is never guessed: it raises
`NeedsAnswer`, and the step fails saying which flag would answer it.
"""

from __future__ import annotations

import fnmatch
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from engine.errors import ConfigError, InputError, MendflowError
from engine.plan import Edge, Plan, Step, StepKind

YES = frozenset({"y", "yes", "true", "approve", "approved", "done", "1", "ok"})
NO = frozenset({"n", "no", "false", "deny", "denied", "0", "skip"})


class NeedsAnswer(MendflowError):
    """A question had no answer: the run was not interactive and no flag answered it."""


@dataclass(frozen=True, slots=True)
class Answer:
    yes: bool
    by: str  # "terminal", "--answer", "--yes", "policy", "llm:openai:gpt-4o-mini", ...
    rationale: str = ""  # why, when the answerer says (the LLM judge does)


class Interaction(Protocol):
    async def approve(self, *, step: Step, action: str) -> Answer:
        """May `action` (the rendered command of the step after this gate) run?"""
        ...

    async def confirm_manual(self, *, step: Step, instructions: str) -> Answer:
        """Did a person do this manual step?"""
        ...

    async def judge(self, *, step: Step, edge: Edge, evidence: str) -> Answer:
        """Does the condition on `edge` hold, given what `step` found?"""
        ...


def load_auto_approve(config_file: Path) -> tuple[str, ...]:
    """The operator's approval policy from `mendflow.toml`:

        [policy]
        auto_approve = ["approve-start_*", "approve-reset_*"]   # globs over approval steps

    Approval belongs to whoever runs the guide, never to the guide itself, so it lives in the
    operator's config file, not in front matter. A missing file means no policy."""
    try:
        data = tomllib.loads(config_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return ()
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read the config file: {exc}", file=str(config_file),
                          hint="Fix the TOML, or point MENDFLOW_CONFIG_FILE elsewhere") from None
    patterns = (data.get("policy") or {}).get("auto_approve", [])
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        raise ConfigError("[policy] auto_approve must be a list of step-id patterns",
                          file=str(config_file), hint='Write auto_approve = ["approve-*"]')
    return tuple(patterns)


def parse_answers(pairs: Iterable[str]) -> dict[str, bool]:
    """`--answer STEP=yes` flags -> {step or edge key: bool}."""
    out: dict[str, bool] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        v = value.strip().lower()
        if not sep or not key.strip() or v not in YES | NO:
            raise InputError(f"bad --answer {pair!r}",
                             hint="Write --answer STEP=yes or --answer STEP=no")
        out[key.strip()] = v in YES
    return out


@dataclass
class Answers:
    """Non-interactive answers: `--approve`, `--yes`, a policy, and `--answer`.

    Approvals and answers are different things. An approval gate is passed only by
    `--approve STEP`, the operator's `auto_approve` policy, or `--yes`; never by an answer.
    A judgment is answered by its decision's own id (`--answer DECIDE=yes`, the step whose
    outgoing edges carry the question; an `else` edge takes the opposite), or for one edge
    by `--answer DECIDE->TARGET=yes`. A manual step is confirmed by `--answer STEP=done`."""

    answers: Mapping[str, bool] = field(default_factory=dict)
    assume_yes: bool = False
    auto_approve: tuple[str, ...] = ()
    approvals: tuple[str, ...] = ()  # --approve STEP (globs, like the policy)
    fallback: Interaction | None = None  # e.g. the terminal prompt

    async def approve(self, *, step: Step, action: str) -> Answer:
        if any(fnmatch.fnmatchcase(step.id, pat) for pat in self.approvals):
            return Answer(True, "--approve")
        if any(fnmatch.fnmatchcase(step.id, pat) for pat in self.auto_approve):
            return Answer(True, "policy")
        if self.assume_yes:
            return Answer(True, "--yes")
        if self.fallback is not None:
            return await self.fallback.approve(step=step, action=action)
        raise NeedsAnswer(f"approval needed before: {action}", step=step.id,
                          hint=f"Run interactively, or pass --approve {step.id} (or --yes)")

    async def confirm_manual(self, *, step: Step, instructions: str) -> Answer:
        given = self.answers.get(step.id)
        if given is not None:
            return Answer(given, "--answer")
        if self.fallback is not None:
            return await self.fallback.confirm_manual(step=step, instructions=instructions)
        raise NeedsAnswer("a person must do this step and confirm it", step=step.id,
                          hint=f"Run interactively, or pass --answer {step.id}=done once done")

    async def judge(self, *, step: Step, edge: Edge, evidence: str) -> Answer:
        given = self.answers.get(f"{step.id}->{edge.target}")
        if given is None and step.id in self.answers:
            given = self.answers[step.id] != (edge.kind == "else")
        if given is not None:
            return Answer(given, "--answer")
        if self.fallback is not None:
            return await self.fallback.judge(step=step, edge=edge, evidence=evidence)
        text = edge.condition.text if edge.condition else ""
        raise NeedsAnswer(f"a person must judge: {text!r}", step=step.id,
                          hint=f"Run interactively, or pass --answer {step.id}=yes|no")


def check_answer_keys(plan: Plan, answers: Mapping[str, bool],
                      approvals: Iterable[str] = ()) -> None:
    """Refuse `--answer` keys that name no question of the plan, or an approval gate (an
    answer never approves: that is `--approve`), and `--approve` ids that name no gate."""
    steps = {s.id: s for s in plan.steps}
    questions = {e.source for e in plan.edges if e.condition is not None and
                 e.condition.expr is None}
    questions |= {s.id for s in plan.steps if s.kind == StepKind.MANUAL}
    edges = {f"{e.source}->{e.target}" for e in plan.edges
             if e.condition is not None and e.condition.expr is None}
    for key in answers:
        if key in edges or key in questions:
            continue
        if key in steps and steps[key].kind == StepKind.APPROVE:
            raise InputError(f"--answer {key}=...: an answer never approves a step",
                             hint=f"Pass --approve {key} to approve it")
        asked = ", ".join(sorted(questions)) or "none"
        raise InputError(f"--answer {key}=...: this plan asks no question {key!r}",
                         hint=f"Answer one of: {asked}")
    gates = {s.id for s in plan.steps if s.kind == StepKind.APPROVE}
    for pattern in approvals:
        if not any(fnmatch.fnmatchcase(g, pattern) for g in gates):
            raise InputError(f"--approve {pattern}: this plan has no approval step {pattern!r}",
                             hint="Approve one of: " + (", ".join(sorted(gates)) or "none"))
