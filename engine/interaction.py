"""Questions a run puts to a person: approvals, manual steps, and judgment conditions.

The executor asks through the `Interaction` protocol and never knows who answers. This module
provides the answers that need no terminal: `--yes`, `--answer STEP=...`, and a policy of steps
that may run unapproved. The terminal prompt lives in the CLI (the only rich/typer importer);
the LLM judge (`engine.compile.llm.judge`) chains in front of the terminal prompt.

An unanswerable question (no terminal, no answer given) is never guessed: it raises
`NeedsAnswer`, and the step fails saying which flag would answer it.

What the command line says is checked against the plan it names and applies to that plan
only. A linked guide's steps (a call step's child run) are named through the call step,
`CALL/STEP` (`--approve fix/restart`, `--answer fix/decide=yes`, `--rerun fix/restart`;
`CALL` may be a glob, `*/restart`), checked against the linked guide's plan: approving the
caller's `restart` never approves a linked guide's `restart`, which no one was shown
(`for_call`). `--yes` and the operator's policy are the operator's for every guide.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar, runtime_checkable

from engine.config import read_config
from engine.errors import InputError, MendflowError
from engine.plan import Edge, Plan, Step, StepKind
from engine.scheduler import InDoubtDecision

YES = frozenset({"y", "yes", "true", "approve", "approved", "done", "1", "ok"})
NO = frozenset({"n", "no", "false", "deny", "denied", "0", "skip"})


class NeedsAnswer(MendflowError):
    """A question had no answer: the run was not interactive and no flag answered it."""


@dataclass(frozen=True, slots=True)
class Answer:
    yes: bool
    by: str  # "terminal", "--answer", "--yes", "policy", "llm:openai:gpt-4o-mini", ...
    rationale: str = ""  # why, when the answerer says (the LLM judge does)


IN_DOUBT_FLAGS: Mapping[InDoubtDecision, str] = {
    "rerun": "--rerun", "done": "--mark-done", "failed": "--mark-failed"}
"""The `mendflow resume` flag that gives each answer for a step in doubt."""


@dataclass(frozen=True, slots=True)
class InDoubtReply:
    """What a person says of a step whose outcome is unknown: run it again, or take it as
    done or failed without running it."""

    decision: InDoubtDecision
    by: str


def in_doubt_hint(step_id: str) -> str:
    """The flags that answer the question about `step_id`, as one sentence."""
    return (f"pass {IN_DOUBT_FLAGS['rerun']} {step_id} to run it again, or "
            f"{IN_DOUBT_FLAGS['done']} {step_id} / {IN_DOUBT_FLAGS['failed']} {step_id} to go "
            "on without running it")


class Interaction(Protocol):
    async def approve(self, *, step: Step, action: str, commands: Sequence[str] = ()) -> Answer:
        """May `action` (the rendered command of the step after this gate) run? `commands`:
        each gated step's rendered command (empty when one cannot be rendered yet)."""
        ...

    async def confirm_manual(self, *, step: Step, instructions: str) -> Answer:
        """Did a person do this manual step?"""
        ...

    async def judge(self, *, step: Step, edge: Edge, evidence: str) -> Answer:
        """Does the condition on `edge` hold, given what `step` found?"""
        ...

    async def settle_in_doubt(self, *, step: Step, reason: str) -> InDoubtReply:
        """`step` (a gated one) was running when its runner or worker died, so its outcome is
        unknown (`reason` says so): run it again, or take it as done or failed?"""
        ...


CALL_SEP = "/"
"""Between a call step's id and a step of its linked guide (`fix/restart`): no step id holds
it (`STEP_ID_PATTERN`)."""

_V = TypeVar("_V")


def addressed_to(given: Mapping[str, _V], call: str) -> dict[str, _V]:
    """What of `given` (keys as the command line wrote them) names the linked guide of call
    step `call` (`CALL/KEY`, CALL a glob), its keys as that guide's plan names them."""
    out: dict[str, _V] = {}
    for key, value in given.items():
        head, sep, rest = key.partition(CALL_SEP)
        if sep and rest and fnmatch.fnmatchcase(call, head):
            out[rest] = value
    return out


@runtime_checkable
class CallScoped(Protocol):
    """An interaction that answers a linked guide's run otherwise than its caller's."""

    def for_call(self, call: str) -> Interaction: ...


def for_call(interaction: Interaction, call: str) -> Interaction:
    """How the child run of call step `call` is answered: what was said of its caller's plan
    does not answer it (`Answers.for_call`); a terminal asks its questions as any."""
    return interaction.for_call(call) if isinstance(interaction, CallScoped) else interaction


def load_auto_approve(config_file: Path, *, required: bool = False) -> tuple[str, ...]:
    """The operator's approval policy from `mendflow.toml`:

        [policy]
        auto_approve = ["systemctl restart *", "kubectl rollout restart deployment/*"]

    Each glob is over the command a gate would run, as its approver is shown it
    (`policy_approves`), never over a step's id: the guide names its steps.

    Approval belongs to whoever runs the guide, never to the guide itself, so it lives in the
    operator's config file, not in front matter. A missing file means no policy, unless it
    was named (`required`)."""
    return tuple(read_config(config_file, required=required).policy.auto_approve)


_SHELL_MARKS = ";&|<>$`'\"\\\n"
"""What a policy glob's `*` and `?` never match: what joins, redirects, expands or quotes."""


def policy_approves(globs: Iterable[str], commands: Sequence[str]) -> bool:
    """Whether the operator's policy approves a gate: each command it gates (as the approver
    is shown it) matches one of the globs, whose `*` and `?` stand for plain words, never for
    `;`, `|`, `&`, `$`, a quote or a redirection; the glob `*` alone approves every gate. A
    step's id is no part of it: the guide names its steps (`{#check-x}` on a `kubectl delete`)."""
    globs = list(globs)
    if "*" in globs:
        return True
    return bool(commands) and all(any(_command_glob(g).fullmatch(c) for g in globs)
                                  for c in commands)


@functools.lru_cache(maxsize=256)
def _command_glob(glob: str) -> re.Pattern[str]:
    """A glob as the pattern it stands for; cached: a policy's few globs meet every gate."""
    plain = "[^" + re.escape(_SHELL_MARKS) + "]"
    return re.compile("".join(plain + "*" if c == "*" else plain if c == "?" else re.escape(c)
                              for c in glob))


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


def parse_in_doubt(*, rerun: Iterable[str] = (), done: Iterable[str] = (),
                   failed: Iterable[str] = ()) -> dict[str, InDoubtDecision]:
    """`--rerun X --mark-done Y --mark-failed Z` -> {step: decision}; one answer per step."""
    out: dict[str, InDoubtDecision] = {}
    given: list[tuple[InDoubtDecision, Iterable[str]]] = [
        ("rerun", rerun), ("done", done), ("failed", failed)]
    for decision, steps in given:
        for step_id in steps:
            step_id = step_id.strip()
            if not step_id:
                raise InputError(f"{IN_DOUBT_FLAGS[decision]} needs a step id",
                                 hint=f"Write {IN_DOUBT_FLAGS[decision]} STEP")
            if out.get(step_id, decision) != decision:
                raise InputError(f"step {step_id!r} is given two answers: "
                                 f"{IN_DOUBT_FLAGS[out[step_id]]} and "
                                 f"{IN_DOUBT_FLAGS[decision]}", hint="Give it one")
            out[step_id] = decision
    return out


@dataclass
class Answers:
    """Non-interactive answers: `--approve`, `--yes`, a policy, `--answer`, and the answers
    for steps in doubt.

    Approvals and answers are different things. An approval gate is passed only by
    `--approve STEP`, the operator's `auto_approve` policy, or `--yes`; never by an answer.
    A judgment is answered by its decision's own id (`--answer DECIDE=yes`, the step whose
    outgoing edges carry the question; an `else` edge takes the opposite), or for one edge
    by `--answer DECIDE->TARGET=yes`. A manual step is confirmed by `--answer STEP=done`.
    A step in doubt after a crash is answered only by `--rerun`, `--mark-done` or
    `--mark-failed`: not `--yes`, not `--answer`, not the policy."""

    answers: Mapping[str, bool] = field(default_factory=dict)
    assume_yes: bool = False
    auto_approve: tuple[str, ...] = ()
    approvals: tuple[str, ...] = ()  # --approve STEP (globs, like the policy)
    fallback: Interaction | None = None  # e.g. the terminal prompt
    in_doubt: Mapping[str, InDoubtDecision] = field(default_factory=dict)
    address: str = ""  # "fix/": how the command line names this (a linked guide's) plan
    # A resumed run's policy now (`auto_approve` is the one saved when it started): a gate is
    # approved by policy only when both approve it, the stricter wins.
    policy_now: tuple[str, ...] | None = None

    def for_call(self, call: str) -> Answers:
        """The answers for the child run of call step `call`: only those given for it
        (`CALL/...`); `--yes`, the policy and the fallback as they are."""
        return Answers(answers=addressed_to(self.answers, call), assume_yes=self.assume_yes,
                       auto_approve=self.auto_approve, policy_now=self.policy_now,
                       approvals=tuple(addressed_to(dict.fromkeys(self.approvals), call)),
                       fallback=for_call(self.fallback, call) if self.fallback else None,
                       in_doubt=addressed_to(self.in_doubt, call),
                       address=f"{self.address}{call}{CALL_SEP}")

    async def approve(self, *, step: Step, action: str, commands: Sequence[str] = ()) -> Answer:
        if any(fnmatch.fnmatchcase(step.id, pat) for pat in self.approvals):
            return Answer(True, "--approve")
        if all(policy_approves(policy, commands)
               for policy in (self.auto_approve, self.policy_now) if policy is not None):
            return Answer(True, "policy")
        if self.assume_yes:
            return Answer(True, "--yes")
        if self.fallback is not None:
            return await self.fallback.approve(step=step, action=action)
        raise NeedsAnswer(f"approval needed before: {action}", step=step.id,
                          hint=f"Run interactively, or pass --approve {self.address}{step.id} "
                               "(or --yes)")

    async def confirm_manual(self, *, step: Step, instructions: str) -> Answer:
        given = self.answers.get(step.id)
        if given is not None:
            return Answer(given, "--answer")
        if self.fallback is not None:
            return await self.fallback.confirm_manual(step=step, instructions=instructions)
        raise NeedsAnswer("a person must do this step and confirm it", step=step.id,
                          hint=f"Run interactively, or pass --answer {self.address}{step.id}=done "
                               "once done")

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
                          hint=f"Run interactively, or pass --answer "
                               f"{self.address}{step.id}=yes|no")

    async def settle_in_doubt(self, *, step: Step, reason: str) -> InDoubtReply:
        decision = self.in_doubt.get(step.id)
        if decision is not None:
            return InDoubtReply(decision, IN_DOUBT_FLAGS[decision])
        if self.fallback is not None:
            return await self.fallback.settle_in_doubt(step=step, reason=reason)
        raise NeedsAnswer(f"{reason}: it is not run again unless a person says so",
                          step=step.id,
                          hint=f"Resume interactively, or {in_doubt_hint(self.address + step.id)}")


def addresses(plan: Plan, which: Callable[[Plan, Step], bool], prefix: str = ""
              ) -> list[str]:
    """How the command line names the steps of `plan` that `which` picks, its linked guides'
    included (`fix/restart`)."""
    found = [prefix + s.id for s in plan.steps if which(plan, s)]
    for s in plan.steps:
        child = plan.calls.get(s.call or "") if s.kind == StepKind.CALL else None
        if child is not None:
            found += addresses(child, which, f"{prefix}{s.id}{CALL_SEP}")
    return found


def names(pattern: str, address: str) -> bool:
    """Whether `pattern` (globs, one per plan: `*/restart`) names `address` (`fix/restart`)."""
    parts, at = pattern.split(CALL_SEP), address.split(CALL_SEP)
    return len(parts) == len(at) and all(fnmatch.fnmatchcase(a, p) for a, p in zip(at, parts))


def _asks(plan: Plan, step: Step) -> bool:
    return step.kind == StepKind.MANUAL or any(
        e.source == step.id and e.condition is not None and e.condition.expr is None
        for e in plan.edges)


def _judged_edges(plan: Plan, prefix: str = "") -> set[str]:
    found = {f"{prefix}{e.source}->{e.target}" for e in plan.edges
             if e.condition is not None and e.condition.expr is None}
    for s in plan.steps:
        child = plan.calls.get(s.call or "") if s.kind == StepKind.CALL else None
        if child is not None:
            found |= _judged_edges(child, f"{prefix}{s.id}{CALL_SEP}")
    return found


def _is_gate(plan: Plan, step: Step) -> bool:
    return step.kind == StepKind.APPROVE


def check_answer_keys(plan: Plan, answers: Mapping[str, bool],
                      approvals: Iterable[str] = ()) -> None:
    """Refuse `--answer` keys that name no question of the plan (its linked guides' named
    `CALL/...`), or an approval gate (an answer never approves: that is `--approve`), and
    `--approve` ids that name no gate."""
    questions = set(addresses(plan, _asks))
    edges = _judged_edges(plan)
    gates = addresses(plan, _is_gate)
    for key in answers:
        if key in edges or key in questions:
            continue
        if key in gates:
            raise InputError(f"--answer {key}=...: an answer never approves a step",
                             hint=f"Pass --approve {key} to approve it")
        asked = ", ".join(sorted(questions)) or "none"
        raise InputError(f"--answer {key}=...: this plan asks no question {key!r}",
                         hint=f"Answer one of: {asked}")
    for pattern in approvals:
        if not any(names(pattern, g) for g in gates):
            raise InputError(f"--approve {pattern}: this plan has no approval step {pattern!r}",
                             hint="Approve one of: " + (", ".join(sorted(gates)) or "none"))
