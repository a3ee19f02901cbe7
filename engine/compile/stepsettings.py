"""A guide's timeouts and retries (`engine.stepsettings`) onto its compiled plan.

The front matter's `defaults` apply to every step of their kind; a step's own tag
(`{#name timeout=2m}`) applies to the steps compiled from that heading or list item (the
step named `name`, and `name-2`, `name-3`... when it holds several commands), over the
defaults. The same for the structural and the LLM compiler: both keep authors' names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from engine.guide import Guide
from engine.plan import Plan, Retry, Step, StepKind
from engine.stepsettings import TIMED_KINDS, StepSettings


def apply_step_settings(plan: Plan, guide: Guide) -> Plan:
    own = {el.name: el.settings for el in guide.elements
           if el.name is not None and el.settings is not None}
    defaults = {str(kind): given for kind, given in guide.front.defaults.items()}
    policy = guide.front.policy
    if not own and not defaults and policy is None:
        return plan
    steps = [_with(s, _settings_for(s, own, defaults)) for s in plan.steps]
    if policy is not None:  # the front matter's policy, for each detect step without its own
        said = policy.model_dump(mode="json")
        steps = [s.model_copy(update={"params": {**s.params, "policy": said}})
                 if s.kind == StepKind.DETECT and "policy" not in s.params else s
                 for s in steps]
    return plan.model_copy(update={"steps": steps})


def _settings_for(step: Step, own: dict[str, StepSettings],
                  defaults: Mapping[str, StepSettings]) -> StepSettings | None:
    if step.kind.value not in TIMED_KINDS:
        return None  # decisions, gates, a person's steps and ends take no run time of their own
    base = defaults.get(step.kind.value)
    mine = own.get(step.id)
    if mine is None:
        m = re.fullmatch(r"(.+)-(\d+)", step.id)
        mine = own.get(m.group(1)) if m is not None and step.id not in own else None
    if mine is None:
        return base
    return mine.over(base)


def _with(step: Step, settings: StepSettings | None) -> Step:
    if settings is None:
        return step
    update: dict[str, object] = {}
    if settings.timeout is not None:
        update["timeout_s"] = settings.timeout
    if settings.retries is not None or settings.backoff is not None:
        retry = step.retry
        update["retry"] = Retry(
            attempts=retry.attempts if settings.retries is None else settings.retries + 1,
            backoff_s=retry.backoff_s if settings.backoff is None else settings.backoff,
            max_backoff_s=max(retry.max_backoff_s, settings.backoff or 0.0),
            jitter=retry.jitter)
    return step.model_copy(update=update) if update else step
