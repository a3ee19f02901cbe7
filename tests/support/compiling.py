"""Compiling a guide written in a test, and reading the plan: the helpers compile tests share
(tests/support/plans.py holds hand-built plans)."""

from __future__ import annotations

from pathlib import Path

from engine.compile import compile_guide
from engine.compile.explain import explain, unaccounted
from engine.guide import parse_guide
from engine.plan import Plan, Step, StepKind
from engine.runtime.intervene import downstream

PLUGINS = {"shell", "bash", "prometheus", "sql", "http", "logs"}
STYLES = Path(__file__).resolve().parents[1] / "fixtures" / "styles"


def compile_text(text: str) -> Plan:
    return compile_guide(parse_guide(text, path="guide.md"), known_plugins=PLUGINS)


def runs(plan: Plan) -> list[Step]:
    return [s for s in plan.steps if s.kind == StepKind.COMMAND]


def ends_with(plan: Plan, outcome: str) -> list[Step]:
    """The plan's end steps that end the run with `outcome` ("escalate", "resolved" ...)."""
    return [s for s in plan.steps if s.kind == StepKind.END and s.outcome is not None and
            s.outcome.value == outcome]


def end_outcomes(plan: Plan) -> dict[str, object]:
    """Each end step's outcome, by step id."""
    return {s.id: s.outcome for s in plan.steps if s.kind == StepKind.END}


def case_side(plan: Plan, guard_start: str) -> str:
    """The step the case's own side (not "Otherwise") of the decide titled `guard_start...`
    leads to."""
    (decide,) = [s for s in plan.steps if s.kind == StepKind.DECIDE and
                 s.title.startswith(guard_start)]
    (taken,) = [e.target for e in plan.edges if e.source == decide.id and e.condition and
                not e.condition.text.startswith("Otherwise")]
    return taken


def outcomes_after(plan: Plan, step_id: str) -> set[str]:
    """The outcomes of the end steps some path from `step_id` reaches."""
    return {s.outcome.value for s in plan.steps if s.kind == StepKind.END and
            s.outcome is not None and s.id in reachable(plan, step_id)}


def commands_by_argv(plan: Plan) -> dict[tuple[str, ...], Step]:
    """Each command step by the argv of its first stage."""
    return {tuple(s.params["pipeline"][0]): s for s in runs(plan)}


def pipelines(plan: Plan) -> list[list[list[str]]]:
    return [s.params["pipeline"] for s in runs(plan)]


def gated(plan: Plan, step_id: str) -> bool:
    return any(plan.step(e.source).kind == StepKind.APPROVE for _, e in plan.incoming(step_id))


def manual_scripts(plan: Plan) -> list[str]:
    return [str(s.params.get("script", "")) for s in plan.steps if s.kind == StepKind.MANUAL]


def compile_style(name: str) -> Plan:
    """A guide of tests/fixtures/styles, compiled."""
    path = STYLES / name
    return compile_guide(parse_guide(path.read_text(), path=str(path)), known_plugins=PLUGINS)


def running(plan: Plan, *words: str) -> Step:
    """The one command step whose pipeline's text holds all of `words`."""
    (step,) = [s for s in runs(plan)
               if all(w in " ".join(" ".join(a) for a in s.params.get("pipeline", []))
                      for w in words)]
    return step


def successors(plan: Plan, sid: str) -> list[str]:
    """The steps a step's success leads to, through approval gates."""
    out: list[str] = []
    for e in plan.edges:
        if e.source == sid and e.on == "success":
            step = plan.step(e.target)
            out.extend(successors(plan, step.id) if step.kind == StepKind.APPROVE
                       else [step.id])
    return out


def reachable(plan: Plan, start: str) -> set[str]:
    """Every step some path from `start` reaches, `start` too."""
    return downstream(plan, start) | {start}


def step_running(plan: Plan, argv: list[str]) -> str:
    (sid,) = [s.id for s in runs(plan) if s.params.get("pipeline") == [argv]]
    return sid


def guards_of(plan: Plan, step_id: str) -> list[str]:
    """The conditions on the edges into a step, through its approval gate."""
    out: list[str] = []
    for _, e in plan.incoming(step_id):
        if e.condition is not None:
            out.append(e.condition.text)
        elif plan.step(e.source).kind == StepKind.APPROVE:
            out.extend(guards_of(plan, e.source))
    return out


def assert_if_otherwise_guard_their_blocks(cond: str, other: str) -> None:
    """A guard sentence and its "otherwise" (in whatever language) each guard the block after
    them: the clean-up runs only under `cond`, the restart only on the other side."""
    plan = compile_text(f"## Fix\n\n{cond}\n\n```bash\nsudo rm -rf /var/cache/app\n```\n\n"
                        f"{other}\n\n```bash\nkubectl -n web delete pod web-0\n```\n")
    clean = step_running(plan, ["sudo", "rm", "-rf", "/var/cache/app"])
    delete = step_running(plan, ["kubectl", "-n", "web", "delete", "pod", "web-0"])
    assert guards_of(plan, clean) == [cond.rstrip(" :")], cond
    assert len(guards_of(plan, delete)) == 1 and guards_of(plan, delete) != \
        guards_of(plan, clean), other


def assert_gated_and_accounted(names: tuple[str, ...] | None = None, *,
                               folder: Path = STYLES, at_least: int = 1) -> None:
    """Each style fixture's changes wait for an approval, and `--explain` accounts for every
    line range of it: the fixtures `names` of `folder`, or every guide in it (at least
    `at_least` of them)."""
    paths = [folder / n for n in names] if names is not None else sorted(folder.glob("*.md"))
    assert len(paths) >= at_least
    for path in paths:
        text = path.read_text()
        plan = compile_text(text) if names is None else \
            compile_guide(parse_guide(text, path=str(path)), known_plugins=PLUGINS)
        assert all(gated(plan, s.id) for s in runs(plan) if s.mutating), path.name
        assert not unaccounted(text, explain(parse_guide(text, path=str(path)), plan, text)), \
            path.name
