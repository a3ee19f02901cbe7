"""Guards scope what they introduce; a failed check is failed evidence unless the guide lets it
fail. Each test is a small guide written here, not taken from the corpus."""

from __future__ import annotations

from engine.compile import compile_guide
from engine.guide import parse_guide
from engine.plan import Plan, StepKind

PLUGINS = {"shell", "prometheus", "sql", "http", "logs"}


def compile_text(text: str, path: str = "guide.md") -> Plan:
    return compile_guide(parse_guide(text, path=path), known_plugins=PLUGINS)


def outs(plan: Plan, sid: str) -> dict[str, object]:
    return {e.target: e for e in plan.edges if e.source == sid}


def decides(plan: Plan) -> list:
    return [s for s in plan.steps if s.kind == StepKind.DECIDE and s.id != "start"]


# -- issue #12: a failed read-only check no longer continues by default -------------------------

def test_a_failed_check_stops_the_run_unless_the_guide_says_it_may_fail():
    plan = compile_text("# T\n\n## Diagnosis\n\n1. Check the nodes:\n\n   ```bash\n   kubectl get "
                        "nodes\n   ```\n\n2. List failed units (this may fail where systemd is not "
                        "running):\n\n   ```bash\n   systemctl list-units --state=failed\n   ```\n")
    by_title = {s.title: s for s in plan.steps if s.kind == StepKind.COMMAND}
    assert by_title["Check the nodes"].on_error == "fail"
    assert by_title["List failed units (this may fail where systemd is not running)"].on_error \
        == "continue"
