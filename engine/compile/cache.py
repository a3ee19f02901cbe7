"""Which plan runs for a guide: a reviewed or cached LLM plan, a fresh one, or the structural.

This module owns LLM plan files and the compile cache. An LLM plan is a reviewable file,
`GUIDE.llm.plan.json` beside the guide (or in `--out`); the cache keeps a copy under
`DATA_DIR/plans/`, keyed by the guide's content hash, the model and the prompt version (all
three are recorded in the plan: `source.sha256` and `compiler` = `llm/PROMPT/provider:model`).
A plan is used only while its recorded hash matches the guide's bytes: edit the guide and the
plan is stale, ignored, and said to be. It never calls a model and imports no LLM library;
`choose_plan` is given a function that compiles a fresh LLM plan.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from engine.errors import MendflowError
from engine.guide import Guide
from engine.plan import Plan

LLM_SUFFIX = ".llm.plan.json"
Origin = Literal["structural", "cached-llm", "fresh-llm"]


def llm_plan_path(guide_path: str | Path, out_dir: Path | None = None) -> Path:
    p = Path(guide_path)
    name = p.name[: -len(p.suffix)] + LLM_SUFFIX if p.suffix else p.name + LLM_SUFFIX
    return (out_dir / name) if out_dir else p.with_name(name)


def cache_key(guide_sha: str, compiler: str) -> str:
    return hashlib.sha256(f"{guide_sha}\n{compiler}".encode()).hexdigest()[:32]


class PlanCache:
    """Compiled LLM plans under one directory, one file per (guide hash, model, prompt)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, guide_sha: str, compiler: str) -> Path:
        return self.directory / f"{cache_key(guide_sha, compiler)}.plan.json"

    def get(self, guide: Guide, compiler: str) -> Plan | None:
        plan = _read(self.path(guide.sha256, compiler))
        if plan is None or plan.source.sha256 != guide.sha256 or plan.compiler != compiler:
            return None
        return plan

    def put(self, plan: Plan) -> Path:
        target = self.path(plan.source.sha256, plan.compiler)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        tmp.write_text(plan.to_json(), encoding="utf-8")
        tmp.replace(target)
        return target


@dataclass(frozen=True)
class Choice:
    plan: Plan
    origin: Origin
    note: str  # one line for the user: which plan runs, and why

    def describe(self) -> str:
        names = {"structural": "structural plan", "cached-llm": "cached LLM plan",
                 "fresh-llm": "fresh LLM plan"}
        return f"{names[self.origin]} ({self.plan.compiler}): {self.note}"


def reviewed_plan(guide: Guide) -> tuple[Plan | None, str]:
    """The `GUIDE.llm.plan.json` beside the guide, if it still matches the guide's bytes."""
    path = llm_plan_path(guide.path)
    plan = _read(path)
    if plan is None:
        return None, ""
    if plan.source.sha256 != guide.sha256:
        return None, f"ignored stale {path} (the guide changed since it was compiled)"
    return plan, f"from {path}"


def choose_plan(guide: Guide, *, structural: Callable[[], Plan], cache: PlanCache | None = None,
                compiler: str | None = None,
                fresh: Callable[[], Plan] | None = None) -> Choice:
    """Reviewed file, then the cache, then a fresh LLM compile, else the structural plan.

    `compiler` and `fresh` are given when an LLM is configured. A failing fresh compile falls
    back to the structural plan; the note says why.
    """
    plan, note = reviewed_plan(guide)
    if plan is not None:
        return Choice(plan, "cached-llm", note)
    notes = [note] if note else []
    if compiler is not None and cache is not None:
        cached = cache.get(guide, compiler)
        if cached is not None:
            return Choice(cached, "cached-llm", "; ".join(
                [*notes, f"from the compile cache ({cache.path(guide.sha256, compiler)})"]))
    if fresh is not None:
        try:
            plan = fresh()
        except MendflowError as exc:
            notes.append(f"the LLM compile failed, so the structural plan is used: {exc}")
        else:
            if cache is not None:
                cache.put(plan)
            return Choice(plan, "fresh-llm", "; ".join([*notes, "compiled now"]))
    if not notes:
        notes.append("no LLM is configured (MENDFLOW_LLM)" if fresh is None else "")
    return Choice(structural(), "structural", "; ".join(n for n in notes if n) or "compiled now")


def _read(path: Path) -> Plan | None:
    if not path.is_file():
        return None
    try:
        return Plan.load(path)
    except MendflowError:
        return None  # a broken or older cached plan is recompiled, not run
