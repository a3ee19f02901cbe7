"""A numbered paragraph over the commands that do it ("Step 1: Restart the exporter" above
```systemctl restart node-exporter```) is their title, not a step of its own: it was a
person's step asking for the restart by hand, and then the approved command restarted it
again. A bold line with no full stop over the paragraphs that say what to do ("**Step 2: See
what uses the space**") is a title too: it was a person's step the run waited on, with nothing
to do. Over a sample of a file, or alone, the numbered paragraph is still the step."""

from __future__ import annotations

from engine.plan import Plan, StepKind
from tests.support.compiling import compile_text


def _manual_titles(plan: Plan) -> list[str]:
    return [s.text for s in plan.steps if s.kind == StepKind.MANUAL]


def _commands(plan: Plan) -> list[str]:
    return [s.text for s in plan.steps if s.kind == StepKind.COMMAND]


def test_a_numbered_paragraph_over_its_commands_is_their_title() -> None:
    plan = compile_text("""# Exporter down

Step 1: Restart the exporter

```
systemctl restart node-exporter
```

2.3 Check that it answers.

```
curl -s localhost:9100/metrics
```

iv. Look at its last log lines

```
journalctl -u node-exporter -n 50 --no-pager
```
""")
    assert _manual_titles(plan) == []
    assert _commands(plan) == ["systemctl restart node-exporter",
                               "curl -s localhost:9100/metrics",
                               "journalctl -u node-exporter -n 50 --no-pager"]


def test_a_numbered_paragraph_over_a_list_titles_the_list() -> None:
    plan = compile_text("""# Disk full

Step 3: Clean up the disk

- Remove old images: `crictl rmi --prune`
- Shrink the journal: `journalctl --vacuum-size=500M`
""")
    assert not any("Clean up the disk" in t for t in _manual_titles(plan))
    assert _commands(plan) == ["crictl rmi --prune", "journalctl --vacuum-size=500M"]


def test_a_bold_title_over_paragraphs_is_not_a_step() -> None:
    plan = compile_text("""# Disk full

**Step 1: Find the node that reports it**

The alert's `instance` label names the node. Check its disk with `df -h /var/lib`.

**Step 2 - Restart the kubelet**

Restart it: `systemctl restart kubelet`
""")
    assert _manual_titles(plan) == []
    assert _commands(plan) == ["df -h /var/lib", "systemctl restart kubelet"]


def test_a_numbered_step_alone_or_over_a_sample_is_still_a_persons_step() -> None:
    plan = compile_text("""# Routing alerts

Step 1: Press the e-stop on the cell's panel.

Step 2: Ensure the alert carries a `team` label matching the team's name

```yaml
labels:
  team: data-analytics
```

**Step 3: Reset the counters on the HMI.**

Step 4: Check that the cell is idle.
""")
    titles = _manual_titles(plan)
    assert any("Press the e-stop" in t for t in titles)
    assert any("team` label" in t or "team label" in t for t in titles)
    assert any("Reset the counters" in t for t in titles)  # (a full stop: an instruction)
