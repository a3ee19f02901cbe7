"""Scoring compiled plans against what a guide's own syntax proves: deterministic, no LLM.

This module owns `mendflow eval`. Its measures are the reference scorer's (../shared/fidelity),
by the same definitions, computed by ports of its two halves: `engine.compile.gold` (the gold
facts of a guide, from the markdown-it syntax tree) and `engine.compile.fidelity` (the matcher
from plan steps to those facts). `fidelity_report` compiles each guide in memory, scores it,
and sums the counters per source (the top-level folder under the folder given); `MEASURES`
names what `mendflow eval` prints:

- kept: gold command lines executed or given to a person as a manual step, over all lines but
  constant assignments (absorbed as inputs); run automatically: executed only;
- queries run: gold query units an executed step runs;
- output run: gold output/config units an executed step overlaps (must be 0);
- invented: executed steps running text found nowhere in the guide (must be 0);
- mutating lost: gold mutating lines neither executed nor manual (dropped, split, mangled, or in
  a guide that did not compile);
- gated: executed mutating lines whose every path from the entry passes their own approval;
- actionable guards: If/When/Otherwise guards of Diagnosis/Mitigation sections the plan keeps as
  a decide step or a conditional edge;
- run outside session: executed lines the guide runs inside a session it opened (information).
  The reference counts every such line that runs at all, so `mendflow eval` also says how many
  of them the plan runs in that session (`ssh HOST -- CMD`, `kubectl exec POD -- CMD`, `sudo -u
  U CMD`: a step that spans from the opener and runs through its tool), printed as
  "27 (26 in it)"; only the difference runs on the wrong machine. Its counter,
  `ours_outside_session_in_it`, is Mendflow's own, beside the reference's.

The older per-plan checks (`score_plan`: hard gates such as valid, acyclic, deterministic, and
generous recall ratios) stay for the fuzz tests; `mendflow eval` no longer prints their recall.
It does not compile by itself (it is given a compile function, or uses the structural compiler)
and does not print (the CLI does).
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict, cast

from engine.compile.blocks import OUTPUT_TAGS, QUERY_TAGS, SHELL_TAGS
from engine.compile.llm.grounding import Grounding, contains, guide_tokens, step_commands
from engine.compile.phrases import section_class
from engine.compile.validate import check_plan, parallel_groups
from engine.effects import classify_pipeline, step_verdict
from engine.errors import MendflowError
from engine.guide import Element, Guide, load_guide
from engine.plan import Plan, Step, StepKind

RATIOS = ("command_recall", "command_precision", "order_preserved", "branch_recall",
          "jump_recall", "bindings", "diagnostics_parallel")
COUNTS = ("sample_output_as_action", "mutating_concurrent", "mutating_unapproved")
GATES = ("valid", "acyclic", "one_entry", "all_reached", "spans", "deterministic")

_GUARD = re.compile(r"^\s*(?:[a-z0-9]{1,3}[.)]\s+)?\**\s*(?:if|when|in case|otherwise|unless|"
                    r"else)\b", re.I)
_JUMP = re.compile(r"\b(?:skip|go|proceed|jump|continue|move|return)\s+(?:directly\s+|straight\s+)?"
                   r"(?:to|with)\b[^.]*?(?:\]\(#(?P<anchor>[^)]+)\)|\bstep\s+(?P<step>\d+))", re.I)
_DEF = re.compile(r"^\s*(?:export\s+)?([A-Za-z_]\w*)=(?:\$\(|`)")
_ASSIGN = re.compile(r"^\s*(?:export\s+)?[A-Za-z_]\w*=\S*\s*$")
_PROMPT = re.compile(r"^\s*(?:\$|[\w.@-]+:[^\s$#]*[$#])\s+")


class RatioTotal(TypedDict):
    hit: int
    total: int
    value: float | None


class Totals(TypedDict):
    """`Report.totals()`: what `mendflow eval --json` writes under "totals"."""

    guides: int
    compiled: int
    ratios: dict[str, RatioTotal]
    counts: dict[str, int]
    gates_passed: dict[str, int]


@dataclass
class Ratio:
    hit: int = 0
    total: int = 0

    @property
    def value(self) -> float | None:
        return self.hit / self.total if self.total else None

    def __iadd__(self, other: Ratio) -> Ratio:
        self.hit += other.hit
        self.total += other.total
        return self

    def __str__(self) -> str:
        v = self.value
        return "-" if v is None else f"{v:.3f} ({self.hit}/{self.total})"


@dataclass
class GuideScore:
    path: str
    error: str | None = None
    ratios: dict[str, Ratio] = field(default_factory=lambda: {k: Ratio() for k in RATIOS})
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    gates: dict[str, bool | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path, "error": self.error,
                "ratios": {k: {"hit": r.hit, "total": r.total, "value": r.value}
                           for k, r in self.ratios.items()},
                "counts": self.counts, "gates": self.gates}


@dataclass
class Report:
    guides: list[GuideScore]

    def totals(self) -> Totals:
        ratios = {k: Ratio() for k in RATIOS}
        counts = dict.fromkeys(COUNTS, 0)
        gates = {k: 0 for k in GATES}
        scored = [g for g in self.guides if g.error is None]
        for g in scored:
            for k in RATIOS:
                ratios[k] += g.ratios[k]
            for k in COUNTS:
                counts[k] += g.counts[k]
            for k in GATES:
                gates[k] += 1 if g.gates.get(k) else 0
        return {"guides": len(self.guides), "compiled": len(scored),
                "ratios": {k: {"hit": r.hit, "total": r.total, "value": r.value}
                           for k, r in ratios.items()},
                "counts": counts, "gates_passed": gates}


# -- what the guide proves ----------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    line: int
    tokens: tuple[str, ...]
    text: str


def expected_commands(guide: Guide) -> list[Expected]:
    out: list[Expected] = []
    for el in guide.elements:
        if el.kind != "code" or not el.fenced:
            continue
        lang = (el.lang or "").lower()
        if lang in QUERY_TAGS and el.text.strip():
            out.append(Expected(el.span.start + 1, tuple(guide_tokens(el.text)), el.text))
        elif lang in SHELL_TAGS:
            out += _shell_lines(el)
    return out


def _shell_lines(el: Element) -> list[Expected]:
    raw = el.text.split("\n")
    prompted = any(_PROMPT.match(ln) for ln in raw) or el.lang in ("console", "terminal")
    out: list[Expected] = []
    i = 0
    while i < len(raw):
        start = i
        line = raw[i]
        while line.rstrip().endswith("\\") and i + 1 < len(raw):
            i += 1
            line = line.rstrip()[:-1] + " " + raw[i]
        i += 1
        if prompted:
            m = _PROMPT.match(line)
            if not m:
                continue  # output of a console session
            line = line[m.end():]
        text = line.strip()
        if not text or text.startswith("#") or _ASSIGN.match(text):
            continue
        tokens = guide_tokens(text)
        if tokens:
            out.append(Expected(el.span.start + 1 + start, tuple(tokens), text))
    return out


def _guards(guide: Guide) -> list[Element]:
    out = []
    for el in guide.elements:
        if el.kind not in ("paragraph", "list_item", "heading") or not _GUARD.match(el.text):
            continue
        section = guide.elements[el.section] if el.section is not None else None
        if section is not None and section_class(section.text) == "info":
            continue
        out.append(el)
    return out


def _jumps(guide: Guide) -> list[Element]:
    out = []
    for el in guide.elements:
        if el.kind not in ("paragraph", "list_item"):
            continue
        raw = el.text
        for link in el.links:
            raw = raw.replace(link.text, f"[{link.text}]({link.href})", 1)
        if _JUMP.search(raw):
            out.append(el)
    return out


# -- scoring one plan ---------------------------------------------------------------------------


def score_plan(guide: Guide, plan: Plan, *, again: Plan | None = None,
               known_plugins: set[str] | None = None) -> GuideScore:
    """Score `plan` against `guide`; `again` is a second compile, for the determinism gate."""
    score = GuideScore(guide.path)
    g = _Graph(plan)
    expected = expected_commands(guide)
    runs = [(s, toks) for s in plan.steps if s.kind in (StepKind.COMMAND, StepKind.QUERY)
            for toks, _ in step_commands(s)]

    cover: list[str | None] = []
    for exp in expected:
        sid = _covering(plan, runs, exp)
        cover.append(sid)
        score.ratios["command_recall"] += Ratio(sid is not None, 1)
    grounding = Grounding(guide)
    for _, toks in runs:
        score.ratios["command_precision"] += Ratio(grounding.found(toks), 1)

    outputs = [el.span for el in guide.elements if el.kind == "code" and el.fenced
               and (el.lang or "").lower() in OUTPUT_TAGS]
    score.counts["sample_output_as_action"] = sum(
        1 for s in plan.steps if s.kind in (StepKind.COMMAND, StepKind.QUERY) and
        any(sp.start <= s.source.start and s.source.end <= sp.end for sp in outputs))

    pairs = [(a, b) for a, b in zip(cover, cover[1:]) if a and b and a != b]
    for a, b in pairs:
        score.ratios["order_preserved"] += Ratio(b not in g.ancestors(a), 1)

    conditional = [e for e in plan.edges if e.condition is not None]
    steps = plan.step_map
    for el in _guards(guide):
        words = set(re.findall(r"[a-z0-9]{3,}", el.text.lower()))
        hit = any(_overlaps(steps.get(e.target), el) or _overlaps(steps.get(e.source), el) or
                  _mostly(e.condition.text, words) for e in conditional)  # type: ignore[union-attr]
        score.ratios["branch_recall"] += Ratio(hit, 1)
    for el in _jumps(guide):
        hit = any(e.kind == "jump" and _overlaps(steps.get(e.source), el) for e in plan.edges) \
            or any(e.kind == "jump" and e.condition is not None and
                   _mostly(e.condition.text, set(re.findall(r"[a-z0-9]{3,}", el.text.lower())))
                   for e in plan.edges)
        score.ratios["jump_recall"] += Ratio(hit, 1)

    _bindings(score, plan, g, expected, cover)
    _parallel(score, guide, plan, g, expected, cover)

    grouped = {sid for group in parallel_groups(plan) for sid in group}
    score.counts["mutating_concurrent"] = sum(1 for s in plan.steps
                                              if _changes(s) and s.id in grouped)
    score.counts["mutating_unapproved"] = sum(
        1 for s in plan.steps if _changes(s) and (not plan.incoming(s.id) or any(
            steps.get(e.source) is None or steps[e.source].kind != StepKind.APPROVE
            for _, e in plan.incoming(s.id))))

    score.gates = {
        "valid": not check_plan(plan, known_plugins=known_plugins),
        "acyclic": g.acyclic(),
        "one_entry": [s.id for s in plan.steps if not plan.incoming(s.id)] == [plan.entry],
        "all_reached": g.reach(plan.entry) >= set(steps),
        "spans": all(1 <= s.source.start <= s.source.end <= guide.line_count
                     for s in plan.steps),
        "deterministic": None if again is None else again.to_json() == plan.to_json(),
    }
    return score


def _covering(plan: Plan, runs: list[tuple[Step, list[str]]], exp: Expected) -> str | None:
    for s, toks in runs:
        if s.source.start <= exp.line <= s.source.end and contains(list(exp.tokens), toks):
            return s.id
    for s in plan.steps:
        if s.kind == StepKind.MANUAL and s.source.start <= exp.line <= s.source.end:
            held = guide_tokens(str(s.params.get("script", "")) + "\n" + s.text)
            if contains(held, list(exp.tokens)):
                return s.id
    return None


def _bindings(score: GuideScore, plan: Plan, g: _Graph, expected: list[Expected],
              cover: list[str | None]) -> None:
    steps = plan.step_map
    for i, exp in enumerate(expected):
        m = _DEF.match(exp.text)
        if not m:
            continue
        name = m.group(1)
        use = re.compile(r"\$\{?" + re.escape(name) + r"\b")
        for j in range(i + 1, len(expected)):
            if not use.search(expected[j].text) or cover[j] is None:
                if use.search(expected[j].text):
                    score.ratios["bindings"] += Ratio(0, 1)
                continue
            user = steps[cast(str, cover[j])]  # not None: checked above
            text = json.dumps(user.params)
            ok = any(key.split(".", 1)[1] in text and
                     steps[a].source.start <= exp.line <= steps[a].source.end
                     for a in g.ancestors(user.id) for key in steps[a].binds)
            score.ratios["bindings"] += Ratio(ok, 1)


def _parallel(score: GuideScore, guide: Guide, plan: Plan, g: _Graph,
              expected: list[Expected], cover: list[str | None]) -> None:
    by_item: dict[int, list[int]] = {}
    items = [el for el in guide.elements if el.kind == "list_item" and not el.ordered and
             el.depth == 1 and el.section is not None and
             section_class(guide.elements[el.section].text) == "diag"]
    for k, exp in enumerate(expected):
        for el in items:
            if el.span.start <= exp.line <= el.span.end:
                by_item.setdefault(el.index, []).append(k)
    for a, b in zip(items, items[1:]):
        if a.section != b.section or a.parent != b.parent or a.index not in by_item or \
                b.index not in by_item:
            continue
        ka, kb = by_item[a.index], by_item[b.index]
        if any(_effect(expected[k]) != "read" for k in ka + kb):
            continue
        defs = {m.group(1) for k in ka if (m := _DEF.match(expected[k].text))}
        if any(re.search(r"\$\{?" + re.escape(d) + r"\b", expected[k].text)
               for d in defs for k in kb):
            continue
        sa, sb = cover[ka[0]], cover[kb[0]]
        if sa is None or sb is None:
            continue
        ordered = sa in g.ancestors(sb) or sb in g.ancestors(sa)
        score.ratios["diagnostics_parallel"] += Ratio(not ordered, 1)


def _effect(exp: Expected) -> str:
    stages = [st.split() for st in exp.text.split("|") if st.strip()]
    return classify_pipeline(stages).effect if stages else "read"


def _changes(s: Step) -> bool:
    if s.mutating:
        return True
    if s.kind not in (StepKind.COMMAND, StepKind.QUERY) or not s.plugin:
        return False
    return step_verdict(s.plugin, s.params, plan_params=s.params).effect == "mutate"


def _overlaps(step: Step | None, el: Element) -> bool:
    return step is not None and step.source.start <= el.span.end and \
        step.source.end >= el.span.start


def _mostly(text: str, words: set[str]) -> bool:
    mine = set(re.findall(r"[a-z0-9]{3,}", text.lower()))
    return bool(mine) and len(mine & words) >= 0.6 * len(mine)


class _Graph:
    def __init__(self, plan: Plan) -> None:
        self.succ: dict[str, set[str]] = {s.id: set() for s in plan.steps}
        self.pred: dict[str, set[str]] = {s.id: set() for s in plan.steps}
        for e in plan.edges:
            if e.source in self.succ and e.target in self.succ:
                self.succ[e.source].add(e.target)
                self.pred[e.target].add(e.source)
        self._anc: dict[str, set[str]] = {}

    def reach(self, start: str, *, back: bool = False) -> set[str]:
        nxt = self.pred if back else self.succ
        seen, todo = {start}, [start]
        while todo:
            for n in nxt.get(todo.pop(), ()):
                if n not in seen:
                    seen.add(n)
                    todo.append(n)
        return seen

    def ancestors(self, sid: str) -> set[str]:
        if sid not in self._anc:
            self._anc[sid] = self.reach(sid, back=True) - {sid}
        return self._anc[sid]

    def acyclic(self) -> bool:
        indeg = {n: len(p) for n, p in self.pred.items()}
        todo = [n for n, d in indeg.items() if d == 0]
        seen = 0
        while todo:
            n = todo.pop()
            seen += 1
            for m in self.succ[n]:
                indeg[m] -= 1
                if indeg[m] == 0:
                    todo.append(m)
        return seen == len(indeg)


# -- a corpus -----------------------------------------------------------------------------------

Compile = Callable[[Guide], Plan]


def guide_files(paths: Iterable[str | Path]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        out += sorted(x for x in p.rglob("*.md")) if p.is_dir() else [p]
    return out


def evaluate(paths: Iterable[str | Path], *, compile: Compile | None = None,
             known_plugins: set[str] | None = None) -> Report:
    """Compile each guide twice (determinism) and score it; one bad guide never stops the rest."""
    if compile is None:
        from engine.compile import compile_guide

        def compile(guide: Guide) -> Plan:
            return compile_guide(guide, known_plugins=known_plugins)
    rows: list[GuideScore] = []
    for path in guide_files(paths):
        try:
            guide = load_guide(path)
            plan = compile(guide)
            again = compile(guide)
        except MendflowError as exc:
            rows.append(GuideScore(path.as_posix(), error=str(exc)))
            continue
        rows.append(score_plan(guide, plan, again=again, known_plugins=known_plugins))
    return Report(rows)


def to_json(report: Report) -> str:
    return json.dumps({"totals": report.totals(), "guides": [g.to_dict() for g in
                                                             report.guides]},
                      indent=2, sort_keys=True) + "\n"


def table_rows(report: Report) -> list[list[str]]:
    """Header, one row per guide, and a totals row, as text cells (the CLI draws them)."""
    head = ["guide", *(SHORT[k] for k in (*RATIOS, *COUNTS)), "gates"]
    rows = [head]
    root = os.path.commonpath([g.path for g in report.guides]) if report.guides else ""
    root = root if len(report.guides) > 1 else os.path.dirname(root)
    for g in report.guides:
        g = GuideScore(os.path.relpath(g.path, root) if root else g.path, g.error, g.ratios,
                       g.counts, g.gates)
        if g.error is not None:
            rows.append([g.path, *(["-"] * (len(RATIOS) + len(COUNTS))), "not compiled"])
            continue
        failed = [k for k, v in g.gates.items() if v is False]
        rows.append([g.path, *(_pct(g.ratios[k]) for k in RATIOS),
                     *(str(g.counts[k]) for k in COUNTS), "ok" if not failed else
                     "FAIL " + ",".join(failed)])
    t = report.totals()
    ratios = t["ratios"]
    rows.append(["TOTAL",
                 *(_pct(Ratio(ratios[k]["hit"], ratios[k]["total"])) for k in RATIOS),
                 *(str(t["counts"][k]) for k in COUNTS),
                 f"{min(t['gates_passed'].values())}/{t['compiled']}"])
    return rows


def _pct(r: Ratio) -> str:
    return "-" if r.value is None else f"{100 * r.value:.0f}%"


SHORT = {"command_recall": "recall", "command_precision": "precision",
         "order_preserved": "order", "branch_recall": "branches", "jump_recall": "jumps",
         "bindings": "bindings", "diagnostics_parallel": "parallel",
         "sample_output_as_action": "output run", "mutating_concurrent": "concurrent",
         "mutating_unapproved": "unapproved"}


def totals_lines(report: Report) -> list[str]:
    """The totals, one metric a line, with counts: what `mendflow eval` ends with."""
    t = report.totals()
    lines = [f"guides: {t['guides']}, compiled: {t['compiled']}"]
    for k, r in t["ratios"].items():
        lines.append(f"{k}: {Ratio(r['hit'], r['total'])}")
    for k, v in t["counts"].items():
        lines.append(f"{k}: {v}")
    lines.append("gates passed: " + ", ".join(f"{k} {v}" for k, v in
                                              t["gates_passed"].items()))
    return lines


# -- fidelity by the reference definitions ------------------------------------------------------

MEASURES = ("kept", "run automatically", "queries run", "output run", "invented",
            "mutating lost", "gated", "actionable guards", "run outside session")


@dataclass
class FidelityReport:
    """The reference scorer's counters, per source and in total, and the guides not compiled."""

    sources: dict[str, Counter[str]] = field(default_factory=dict)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (guide, message)
    llm: LlmEval | None = None  # with `mendflow eval --llm`: who compiled, what it cost

    def total(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for c in self.sources.values():
            out.update(c)
        return out

    def to_json(self) -> str:
        data = {"measures": {name: measures(c) for name, c in
                             [("TOTAL", self.total()), *sorted(self.sources.items())]},
                "counts": {name: dict(sorted(c.items())) for name, c in
                           sorted(self.sources.items())},
                "not_compiled": [{"guide": g, "error": e} for g, e in self.errors]}
        if self.llm is not None:
            data["llm"] = self.llm.to_dict()
        return json.dumps(data, indent=2, sort_keys=True) + "\n"


def measures(c: Counter[str]) -> dict[str, object]:
    """The headline measures of a counter, as numbers (ratios None when nothing to count)."""
    lines = sum(c[f"cmd_{s}"] for s in ("executed", "mangled", "partial", "manual", "dropped",
                                         "noplan"))
    queries = sum(c[f"query_{s}"] for s in ("executed", "manual", "dropped", "noplan"))
    mutating = c["mut_executed"] + c["mut_manual"]
    lost = c["mut_dropped"] + c["mut_partial"] + c["mut_mangled"] + c["mut_noplan"]
    gated_of = c["mut_exec_steps"] - c["mut_exec_cleanup"]

    def ratio(hit: int, total: int) -> dict[str, object]:
        return {"hit": hit, "total": total, "value": round(hit / total, 6) if total else None}

    return {
        "files": c["files"], "without a plan": c["files_noplan"],
        "kept": ratio(c["cmd_executed"] + c["cmd_manual"], lines),
        "run automatically": ratio(c["cmd_executed"], lines),
        "queries run": ratio(c["query_executed"], queries),
        "output run": {"units": c["outact_units"], "steps": c["outact_steps"]},
        "invented": c["invented"],
        "mutating lost": {"lost": lost, "total": mutating + lost},
        "gated": ratio(c["mut_exec_gated"], gated_of),
        "actionable guards": ratio(c["guard_action_hit"], c["guard_action"]),
        "run outside session": {"lines": c["exec_outside_session"],
                                "in it": c["ours_outside_session_in_it"]},
    }


# the tools a session's steps run through (engine.compile.sessions' forms)
_SESSION_TOOLS = frozenset({"ssh", "oc", "kubectl", "sudo", "docker", "podman", "nerdctl",
                            "crictl", "psql", "gitlab-psql", "mysql", "mariadb",
                            "clickhouse-client", "redis-cli", "gitlab-redis-cli"})


def _run_in_session(misses: list[Any], plan: dict[str, Any] | None) -> int:
    """Of the lines the reference counts as run outside the session the guide opened, those
    whose every step runs in it: the step spans from the opener's line and its first stage
    runs through a session tool (`ssh HOST -- CMD`). Manual steps run nowhere."""
    if plan is None:
        return 0
    steps = {s["id"]: s for s in plan["steps"]}
    n = 0
    for m in misses:
        if m.get("metric") != "outside_session":
            continue
        opener = int(str(m["session"]).split(":", 1)[0])
        ok = True
        for sid in m["steps"]:
            s = steps[sid]
            stages = (s.get("params") or {}).get("pipeline") or [[]]
            first = stages[0][0].rsplit("/", 1)[-1] if stages[0] else ""
            ok = ok and s["kind"] != "manual" and s["source"]["start"] <= opener and \
                first in _SESSION_TOOLS
        n += ok
    return n


def fidelity_report(paths: Iterable[str | Path], *, compile: Compile | None = None,
                    known_plugins: set[str] | None = None,
                    progress: Callable[[int, int, Path], None] | None = None
                    ) -> FidelityReport:
    """Compile each guide (README.md files left out, as `mendflow compile DIR` does), extract
    its gold facts and score the plan against them; a guide that does not compile scores every
    fact as "no plan", as the reference does. `progress(done, total, guide)` is told before
    each guide."""
    from engine.compile import fidelity, gold

    if compile is None:
        from engine.compile import compile_guide

        def compile(guide: Guide) -> Plan:
            return compile_guide(guide, known_plugins=known_plugins)
    report = FidelityReport()
    work = []
    for root in map(Path, paths):
        files = [root] if not root.is_dir() else sorted(
            p for p in root.rglob("*.md") if p.name.lower() != "readme.md")
        work.append((root if root.is_dir() else root.parent, files))
    total = sum(len(files) for _, files in work)
    done = 0
    for base, files in work:
        for path in files:
            if progress is not None:
                progress(done, total, path)
            done += 1
            rel = path.relative_to(base)
            source = rel.parts[0] if len(rel.parts) > 1 else base.name or "."
            facts = gold.Runbook(str(path), rel.as_posix(), str(base)).extract()
            try:
                plan: dict[str, Any] | None = json.loads(compile(load_guide(path)).to_json())
            except MendflowError as exc:
                plan = None
                report.errors.append((path.as_posix(), str(exc)))
            lines = path.read_text(encoding="utf-8", errors="replace").split("\n")
            scored = fidelity.score_file(facts, plan, lines)
            counts = report.sources.setdefault(source, Counter())
            counts.update(scored["counts"])
            counts["ours_outside_session_in_it"] += _run_in_session(scored["misses"], plan)
            counts["files"] += 1
            counts["files_noplan"] += plan is None
    return report


class EvalStopped(Exception):
    """The model's provider failed: the eval stops (`error` says why); not a guide's fault,
    so it is not caught as one guide not compiling."""

    def __init__(self, error: MendflowError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass
class LlmEval:
    """`mendflow eval --llm`: the plans scored are the model's; a guide the model gave no
    acceptable plan for (every repair rejected, or too long) is scored on the structural plan
    a run would fall back to, and listed in `fell_back`. A provider failure (unreachable, a
    timeout, refused credentials) stops the eval: scores of plans nobody refined would pass
    for the model's."""

    label: str
    usage: Any  # engine.compile.llm.Usage, summed over the guides
    by_model: int = 0
    fell_back: list[tuple[str, str]] = field(default_factory=list)  # (guide, why)

    def to_dict(self) -> dict[str, object]:
        return {"model": self.label, "compiled_by_model": self.by_model,
                "fell_back": [{"guide": g, "why": w} for g, w in self.fell_back],
                "usage": self.usage.to_dict()}

    def describe(self) -> str:
        return (f"LLM plans by {self.label}: {self.by_model} compiled by the model, "
                f"{len(self.fell_back)} fell back to the structural plan; "
                f"{self.usage.describe()}")


def llm_compiler(model: Any, label: str, *, context_tokens: int = 32_000,
                 known_plugins: set[str] | None = None) -> tuple[Compile, LlmEval]:
    """A `Compile` that refines each structural plan with `model` (the path `compile --llm`
    and `run` take, without the cache or reviewed plans: the model is what is measured)."""
    from engine.compile import compile_guide
    from engine.compile.llm import (
        GuideTooLong,
        LlmError,
        LlmOptions,
        ModelOutputError,
        Usage,
        compile_with_llm,
    )

    notes = LlmEval(label, Usage(model=label))
    options = LlmOptions(context_tokens=context_tokens, known_plugins=known_plugins)

    def compile(guide: Guide) -> Plan:
        structural = compile_guide(guide, known_plugins=known_plugins)
        try:
            result = compile_with_llm(guide, model=model, model_label=label, options=options,
                                      structural=structural)
        except (ModelOutputError, GuideTooLong) as exc:
            if exc.usage is not None:
                notes.usage.merge(exc.usage)
            notes.fell_back.append((guide.path, exc.message))
            return structural
        except LlmError as exc:
            if exc.usage is not None:
                notes.usage.merge(exc.usage)
            raise EvalStopped(exc) from exc
        notes.usage.merge(result.usage)
        notes.by_model += 1
        return result.plan
    return compile, notes


def fidelity_rows(report: FidelityReport) -> list[list[str]]:
    """Header, one row per source, then the total: the text cells `mendflow eval` prints."""
    head = ["source", "files", "no plan", *MEASURES]
    rows = [head]
    for name, c in [*sorted(report.sources.items()), ("TOTAL", report.total())]:
        m = measures(c)
        rows.append([name, str(m["files"]), str(m["without a plan"]),
                     *(_cell(m[k]) for k in MEASURES)])
    return rows


def _cell(v: object) -> str:
    """Short enough for a table of nine measures (`--format json` has every count)."""
    if isinstance(v, dict) and "value" in v:
        return "-" if v["value"] is None else f"{100 * v['value']:.1f}%"
    if isinstance(v, dict) and "units" in v:
        return str(v["units"])
    if isinstance(v, dict) and "lost" in v:
        return f"{v['lost']}/{v['total']}"
    if isinstance(v, dict) and "in it" in v:
        return f"{v['lines']} ({v['in it']} in it)" if v["lines"] else "0"
    return str(v)
