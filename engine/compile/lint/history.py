"""MF601: the lines of a guide whose steps failed most as guide defects in past runs.

Not a rule over the guide's text: `mendflow lint` reads the root causes of the guide's runs
from the store (when there is one) and passes them here. Each line named by the evidence of
runs classified `guide_defect` (`engine.learn.causes`) is one info-level finding: how many
runs failed there and the last message. Lines are as they were in the guide that ran.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.compile.lint.base import RULES, Finding, Rule
from engine.store.base import RunCause

RULES["MF601"] = Rule("structure", "info", "Past runs of the guide failed at this line because "
                      "of the guide itself (guide defects, from the store's history).")

MOST = 5
"""Lines reported per guide: those that failed in the most runs."""


def history_findings(file: str, causes: Sequence[RunCause]) -> list[Finding]:
    """Info findings for the lines where `causes` (the guide's runs' root causes) put guide
    defects, most runs first."""
    counts: dict[tuple[int, str], list[RunCause]] = {}
    last: dict[tuple[int, str], str] = {}
    for cause in sorted(causes, key=lambda c: c.at):
        if cause.cause != "guide_defect":
            continue
        seen: set[tuple[int, str]] = set()
        for e in cause.evidence:
            if e.line is None or e.step_id is None:
                continue
            key = (e.line, e.step_id)
            last[key] = e.message
            if key not in seen:
                seen.add(key)
                counts.setdefault(key, []).append(cause)
    ranked = sorted(counts.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:MOST]
    return [Finding(
        rule="MF601", category="structure", severity="info", file=file, line=line, step=step,
        message=(f"step {step} failed as a guide defect in {len(runs)} past run"
                 f"{'s' if len(runs) != 1 else ''} (last {runs[-1].run_id}: "
                 f"{runs[-1].summary}): {' '.join(last[line, step].split())[:160]}"),
        suggestion="Fix the instruction at this line so that it can work as written "
                   "(`mendflow failures --guide` lists the errors).")
        for (line, step), runs in ranked]
