"""Timeouts and retries as a guide author writes them: front matter defaults per step kind,
a step's own `{#name timeout=2m retries=2 backoff=5s}` tag, shown in the plan and its graph."""

from __future__ import annotations

import pytest

from engine.compile.graph import to_dot
from engine.errors import GuideError
from engine.guide import parse_guide
from engine.stepsettings import StepSettings, parse_duration, parse_tag_settings
from tests.support.compiling import compile_text


@pytest.mark.parametrize("text, seconds", [
    ("30s", 30), ("2m", 120), ("500ms", 0.5), ("1h", 3600), ("1m30s", 90), (" 45 ", 45),
    (12, 12), (1.5, 1.5),
])
def test_durations_read_as_people_write_them(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["soon", "5 minutes", "-3s", "nan", "inf", True, "3x", ""])
def test_a_duration_that_is_not_one_is_refused(text: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_tag_words_are_checked_one_by_one() -> None:
    assert parse_tag_settings(["timeout=2m", "retries=2", "backoff=5s"]) == StepSettings(
        timeout=120, retries=2, backoff=5)
    assert parse_tag_settings([".unnumbered", "retries=0"]) == StepSettings(retries=0)
    for words, said in [(["timout=2m"], "unknown setting 'timout'"),
                        (["retries"], "not key=value"), (["retries=two"], "not a number"),
                        (["retries=1", "retries=2"], "set twice"),
                        (["timeout=0s"], "greater than 0")]:
        with pytest.raises(ValueError, match=said):
            parse_tag_settings(words)


GUIDE = """\
---
defaults:
  query: {timeout: 20s}
  command: {timeout: 1m, retries: 1}
---
# Peg in hole

## Diagnosis

### Read the cell state {#state}

```sh
uptime
```

### Insert the peg {#insert timeout=2m retries=2 backoff=5s}

```sh
df -h
```

### Check the logs {#logs timeout=10s}

```sh
hostname
uname -a
```
"""


def test_a_steps_own_tag_wins_over_its_kinds_default() -> None:
    plan = compile_text(GUIDE)
    state, insert = plan.step("state"), plan.step("insert")
    assert (state.timeout_s, state.retry.attempts) == (60, 2)  # the command default
    assert (insert.timeout_s, insert.retry.attempts, insert.retry.backoff_s) == (120, 3, 5)
    # a block of two commands under one name: both steps take the name's settings,
    # and what the tag leaves unset comes from the default
    logs = [s for s in plan.steps if s.id.startswith("logs")]
    assert len(logs) == 2
    assert all((s.timeout_s, s.retry.attempts) == (10, 2) for s in logs)
    # decisions and ends take no time of their own
    assert all(s.timeout_s is None for s in plan.steps if s.kind.value in ("end", "decide"))


def test_the_graph_shows_a_steps_limits() -> None:
    dot = to_dot(compile_text(GUIDE))
    assert "(timeout 2m, 2 retries after 5s)" in dot


def test_the_title_keeps_nothing_of_the_tag() -> None:
    plan = compile_text(GUIDE)
    assert plan.step("insert").title == "Insert the peg"


@pytest.mark.parametrize("tag, said", [
    ("{#insert timeout=soon}", "is not a duration"),
    ("{#insert tries=2}", "unknown setting 'tries'"),
])
def test_a_bad_tag_is_a_located_error(tag: str, said: str) -> None:
    with pytest.raises(GuideError, match=said) as err:
        parse_guide(f"# G\n\n## Mitigation\n\n### Insert {tag}\n\n```sh\ndf -h\n```\n",
                    path="g.md")
    assert err.value.location.line == 5 and "timeout=2m" in (err.value.hint or "")


def test_a_bad_default_is_a_located_error() -> None:
    text = "---\ndefaults:\n  query: {timeout: soon}\n---\n# G\n"
    with pytest.raises(GuideError, match="defaults.query.timeout") as err:
        parse_guide(text, path="g.md")
    assert err.value.location.line == 3
    with pytest.raises(GuideError, match="defaults.approve"):
        parse_guide("---\ndefaults:\n  approve: {timeout: 1s}\n---\n# G\n", path="g.md")


def test_the_front_matters_policy_reaches_every_detect_step_without_its_own() -> None:
    from engine.compile import compile_path
    plan = compile_path("guides/robot/peg-in-hole.md")
    watches = [s for s in plan.steps if s.kind.value == "detect"]
    assert len(watches) == 3
    assert all(s.params["policy"] == {"history": "history/peg-in-hole.jsonl", "reset": 1.0,
                                      "min_attempts": 20, "default": "abort"} for s in watches)
