"""Jumps to a section named by its title, arrows that point at a step, and the checks of a fix
that come after it: where the guide says to go is where the run goes."""

from __future__ import annotations

import pytest

from engine.errors import ValidationError
from engine.plan import Plan, StepKind
from tests.support.compiling import compile_text, guards_of, step_running

TRIAGE = """# Disk full

## Diagnosis

1. Check usage: `df -h /var`
2. If usage is above 90%, {jump}. Otherwise, no action is needed.

## Recovery

1. Clean the cache: `apt-get clean`

## Verification

1. Check usage again: `df -h /var/lib`
"""


def _into(plan: Plan, step_id: str) -> list[tuple[str, str]]:
    """(source, kind) of the edges into a step, through its approval gate."""
    out: list[tuple[str, str]] = []
    for _, e in plan.incoming(step_id):
        if plan.step(e.source).kind == StepKind.APPROVE:
            out.extend(_into(plan, e.source))
        else:
            out.append((e.source, e.kind))
    return out


def test_a_jump_to_a_section_named_by_its_title_lands_on_its_first_step() -> None:
    # "go to Recovery" was a person's step: the run then asked "did the diagnosis find a cause
    # that the mitigation addresses?" as if the guide had not just said so
    for jump in ("go to Recovery", "go to the *Recovery* section", "continue with **Recovery**",
                 'proceed to the "Recovery" section below'):
        plan = compile_text(TRIAGE.format(jump=jump))
        clean = step_running(plan, ["apt-get", "clean"])
        ((source, kind),) = _into(plan, clean)
        assert kind == "jump" and plan.step(source).kind == StepKind.DECIDE, jump
        assert guards_of(plan, clean) == ["If usage is above 90%"], jump
        assert not [s for s in plan.steps if s.kind == StepKind.MANUAL], jump


def test_words_that_only_look_like_a_title_are_not_a_jump() -> None:
    # lower case is not a title ("go to the node"), and a title must name a heading whole
    text = ("# T\n\n## Node\n\n1. Check `uptime`.\n2. If it is slow, go to the node and run "
            "`top -bn1`.\n\n## Recovery steps\n\n1. Restart: `systemctl restart app`\n")
    plan = compile_text(text)
    assert not [e for e in plan.edges if e.kind == "jump"]
    plan = compile_text(TRIAGE.format(jump="go to Recover"))
    assert not [e for e in plan.edges if e.kind == "jump"]


def test_the_checks_of_a_fix_run_after_the_fix() -> None:
    # "## Verification" below "## Recovery" was read as a diagnosis and run before the fix
    plan = compile_text(TRIAGE.format(jump="go to Recovery"))
    verify = step_running(plan, ["df", "-h", "/var/lib"])
    ((source, _),) = _into(plan, verify)
    assert source == step_running(plan, ["apt-get", "clean"])
    for heading in ("Post-checks", "Validation", "Verify the fix", "Confirm recovery",
                    "4. Verification steps"):
        text = TRIAGE.format(jump="go to Recovery").replace("## Verification", f"## {heading}")
        plan = compile_text(text)
        ((source, _),) = _into(plan, step_running(plan, ["df", "-h", "/var/lib"]))
        assert source == step_running(plan, ["apt-get", "clean"]), heading


def test_a_diagnosis_written_after_the_fix_is_still_read_before_it() -> None:
    text = ("# T\n\n## Mitigation\n\n1. Restart: `systemctl restart app`\n\n## Check the logs\n\n"
            "1. Read them: `journalctl -u app -n 50`\n")
    plan = compile_text(text)
    restart = step_running(plan, ["systemctl", "restart", "app"])
    logs = step_running(plan, ["journalctl", "-u", "app", "-n", "50"])
    assert all(src != restart for src, _ in _into(plan, logs))


def test_an_arrow_points_at_the_step_to_go_to() -> None:
    # "Lag growing → step 3." was prose with nothing to decide: the branch was lost
    text = ("# Lag\n\n### 1. Check lag\n\n```shell\nkafka-consumer-groups --describe --group o\n"
            "```\n\n### 2. Decide\n\n* Lag growing for 15 minutes \u2192 step 3.\n"
            "* Lag shrinking \u2192 stop, no action needed.\n\n### 3. Scale consumers\n\n"
            "```shell\nkubectl scale deploy/c --replicas=6\n```\n")
    plan = compile_text(text)
    scale = step_running(plan, ["kubectl", "scale", "deploy/c", "--replicas=6"])
    jumps = [(src, kind) for src, kind in _into(plan, scale) if kind == "jump"]
    (src, _), = jumps
    assert plan.step(src).text.startswith("Lag growing for 15 minutes")
    # a menu path is not a jump
    plan = compile_text("# T\n\n## Network\n\n1. Open Settings \u2192 Network and check "
                        "`ip addr`.\n")
    assert not [e for e in plan.edges if e.kind == "jump"]


def test_a_second_case_after_a_case_that_jumps_is_asked_when_the_first_does_not_hold() -> None:
    # "2. If `fault` is 3, go to **Recover**. If `fault` is 0, ... no action needed." in one
    # item: the second case sat inside the first's branch, after its jump, where nothing could
    # reach it, and the guide failed to compile
    plan = compile_text("# Gripper fault\n\n## Check\n\n1. Read the status:\n\n   ```bash\n"
                        "   ros2 topic echo --once /gripper/status\n   ```\n\n"
                        "2. If `fault` is 3, go to **Recover**. If `fault` is 0, the alert was "
                        "transient: no action needed.\n\n## Recover\n\n1. Reset the driver:\n\n"
                        "   ```bash\n   systemctl restart gripper-driver\n   ```\n")
    first = next(s.id for s in plan.steps if s.title.startswith("If `fault` is 3"))
    second = next(s.id for s in plan.steps if s.title.startswith("If `fault` is 0"))
    assert [(e.target, e.kind) for e in plan.edges if e.source == first and e.kind == "else"] \
        == [(second, "else")]
    ends = [e.target for e in plan.edges if e.source == second and e.kind == "branch"]
    assert [plan.step(t).outcome for t in ends] == ["no_action"]
    restart = step_running(plan, ["systemctl", "restart", "gripper-driver"])
    (taken,) = [e.target for e in plan.edges if e.source == first and e.kind == "jump"]
    seen, todo = set(), [taken]
    while todo:  # the first case's branch reaches the restart, without the second question
        sid = todo.pop()
        if sid not in seen and sid != second:
            seen.add(sid)
            todo.extend(e.target for e in plan.edges if e.source == sid)
    assert restart in seen


def test_a_second_case_after_a_case_that_ends_the_run_is_its_own_question() -> None:
    plan = compile_text("# Disk\n\n## Diagnosis\n\n1. Check usage: `df -h /var`\n"
                        "2. If usage is below 80%, no action is needed. If usage is above 95%, "
                        "escalate to the storage on-call.\n")
    below = next(s.id for s in plan.steps if s.title.startswith("If usage is below 80%"))
    above = next(s.id for s in plan.steps if s.title.startswith("If usage is above 95%"))
    assert [e.target for e in plan.edges if e.source == below and e.kind == "else"] == [above]
    assert [plan.step(e.target).outcome for e in plan.edges
            if e.source == above and e.kind == "branch"] == ["escalate"]


ONLY_BACK = """# Cache misses

## Step 1: Check the hit ratio

Run `redis-cli info stats`.

Is the hit ratio below 80%? Yes: go to Step 3. No: no action is needed.

## Step 2: Warm the cache

```bash
systemctl start cache-warmer
```

## Step 3: Check evictions

Run `redis-cli info memory`.

If evictions are rising, go back to Step 2.

## Step 4: Done

No further action is needed.
"""


def test_a_step_only_a_jump_back_leads_to_is_refused_saying_so() -> None:
    with pytest.raises(ValidationError) as err:
        compile_text(ONLY_BACK)
    # before: "Connect it: an earlier step, a branch or a jump must lead to it", though the
    # guide's "go back to Step 2" does lead to it
    assert err.value.location.line == 12
    assert "Only a jump back leads to it (line 19" in str(err.value.hint)
