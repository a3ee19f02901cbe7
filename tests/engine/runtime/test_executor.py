"""The local executor against a real SQLite store and real processes."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from engine.interaction import Answers
from engine.settings import Settings
from engine.store.base import EventRecord, LeaseHeld, RunOptions

from .conftest import edge, end, plan, sh, step


def _kinds(events: list[EventRecord]) -> list[tuple[str, str | None]]:
    return [(e.type, e.step_id) for e in events]


async def test_independent_steps_run_at_the_same_time(make_executor, store) -> None:
    # Given five 0.3 s steps that depend only on the entry step
    fan = [sh(f"s{i}", "sleep", "0.3") for i in range(5)]
    p = plan([sh("a", "true"), *fan, end("done")],
             [edge("a", s.id) for s in fan] + [edge(s.id, "done") for s in fan])
    ex, _ = make_executor()
    # When the plan runs
    record = await ex.start(p, guide_path="t.md")
    # Then all five started before any of them finished
    assert record.status == "succeeded" and record.outcome == "resolved"
    events = await store.events(record.run_id)
    first_finish = min(e.seq for e in events if e.type == "step_succeeded" and e.step_id != "a")
    started = [e for e in events if e.type == "step_started" and e.step_id.startswith("s")]
    assert len(started) == 5 and all(e.seq < first_finish for e in started)


async def test_condition_chooses_the_branch_and_the_other_is_skipped(make_executor) -> None:
    p = plan(
        [sh("probe", "echo", "91%"), sh("full", "echo", "cleanup"), sh("fine", "echo", "ok"),
         end("escalate", "escalate"), end("healthy", "no_action")],
        [edge("probe", "full", "steps.probe.stdout | numbers | max > 90"),
         edge("probe", "fine", "steps.probe.stdout | numbers | max <= 90", kind="else"),
         edge("full", "escalate"), edge("fine", "healthy")],
    )
    ex, _ = make_executor()
    record = await ex.start(p, guide_path="t.md")
    assert (record.status, record.outcome) == ("succeeded", "escalate")
    steps = record.state["steps"]
    assert steps["fine"]["status"] == "skipped" and steps["healthy"]["status"] == "skipped"


async def test_a_failing_command_takes_the_error_path(make_executor) -> None:
    p = plan([sh("check", "false"), end("ok"), end("help", "escalate")],
             [edge("check", "ok"), edge("check", "help", on="failure", kind="error")])
    ex, _ = make_executor()
    record = await ex.start(p, guide_path="t.md")
    assert (record.status, record.outcome) == ("succeeded", "escalate")
    assert record.state["steps"]["check"]["status"] == "failed"


async def test_a_failed_check_with_no_error_path_is_inconclusive_and_says_why(
        make_executor) -> None:
    p = plan([sh("check", "ls", "/definitely/not/here"), end("ok")], [edge("check", "ok")])
    ex, _ = make_executor()
    record = await ex.start(p, guide_path="t.md")
    assert (record.status, record.outcome) == ("succeeded", "inconclusive")
    assert "'check' failed" in (record.reason or "")
    assert "No such file or directory" in (record.reason or "")  # the error, not "exit 2"


async def test_a_failed_change_with_no_error_path_fails_the_run(make_executor,
                                                                tmp_path) -> None:
    p = plan([sh("fix", "rm", str(tmp_path / "nothing"), mutating=True), end("ok")],
             [edge("fix", "ok")])
    ex, _ = make_executor()
    record = await ex.start(p, guide_path="t.md")
    assert record.status == "failed" and "'fix'" in (record.reason or "")


async def test_a_plugin_that_raises_or_returns_garbage_is_contained(make_executor) -> None:
    for bad in ("raising", "garbage"):
        p = plan([step("q", plugin=bad, params={}), end("ok"), end("err", "escalate")],
                 [edge("q", "ok"), edge("q", "err", on="failure", kind="error")])
        ex, _ = make_executor()
        record = await ex.start(p, guide_path="t.md")
        assert (record.status, record.outcome) == ("succeeded", "escalate"), bad
        assert record.state["steps"]["q"]["error"]


async def test_retries_until_the_step_succeeds(make_executor, store) -> None:
    p = plan([step("q", plugin="flaky", params={"fail_times": 2},
                   retry={"attempts": 3, "backoff_s": 0.01, "jitter": False}), end("ok")],
             [edge("q", "ok")])
    ex, _ = make_executor()
    record = await ex.start(p, guide_path="t.md")
    assert record.outcome == "resolved"
    assert record.state["steps"]["q"]["attempt"] == 3
    from .conftest import FlakyPlugin
    keys = FlakyPlugin.calls["flaky"]
    assert keys == [f"{record.run_id}:q:{n}" for n in (1, 2, 3)]  # one key per attempt
    # which try found it is in memory, for conditions and the report (`steps.q.attempt`)
    memory = {e.key: e.value for e in await store.memory(record.run_id)}
    assert memory["steps.q"]["attempt"] == 3


async def test_a_hanging_command_times_out_and_is_killed(make_executor, tmp_path) -> None:
    p = plan([sh("hang", "sleep", "30", timeout_s=0.3), end("ok"), end("err", "escalate")],
             [edge("hang", "ok"), edge("hang", "err", on="failure", kind="error")])
    ex, _ = make_executor()
    record = await asyncio.wait_for(ex.start(p, guide_path="t.md"), 10)
    assert record.outcome == "escalate"
    assert "timed out" in record.state["steps"]["hang"]["error"]


async def test_template_values_never_become_shell_syntax(make_executor, store) -> None:
    hostile = "x; touch /tmp/mendflow-pwned $(id) `id` | cat"  # a valid path, all of it
    p = plan([sh("echo", "echo", "{{ inputs.name }}"), end("ok")], [edge("echo", "ok")],
             inputs=[{"name": "name", "type": "path"}])
    ex, _ = make_executor()
    record = await ex.start(p, guide_path="t.md", inputs={"name": hostile})
    memory = {m.key: m.value for m in await store.memory(record.run_id)}
    assert memory["steps.echo"]["stdout"].strip() == hostile
    assert not Path("/tmp/mendflow-pwned").exists()


async def test_an_undefined_template_variable_fails_before_anything_runs(make_executor,
                                                                         tmp_path) -> None:
    marker = tmp_path / "ran"
    p = plan([sh("t", "touch", str(marker), "{{ vars.NOPE }}"), end("ok"),
              end("err", "escalate")],
             [edge("t", "ok"), edge("t", "err", on="failure", kind="error")])
    ex, _ = make_executor()
    record = await ex.start(p, guide_path="t.md")
    assert record.outcome == "escalate"
    assert "NOPE" in record.state["steps"]["t"]["error"]
    assert not marker.exists()


async def test_binds_pass_a_value_to_later_steps(make_executor, store) -> None:
    p = plan([sh("ns", "echo", "kube-system", binds={"vars.NS": "result.stdout | trim"},
                 writes=["steps.ns", "vars.NS"]),
              sh("use", "echo", "ns={{ vars.NS }}"), end("ok")],
             [edge("ns", "use"), edge("use", "ok")])
    ex, _ = make_executor()
    record = await ex.start(p, guide_path="t.md")
    memory = {m.key: m for m in await store.memory(record.run_id)}
    assert memory["vars.NS"].value == "kube-system" and memory["vars.NS"].step_id == "ns"
    assert memory["steps.use"].value["stdout"].strip() == "ns=kube-system"


def _gated(tmp_path: Path):  # noqa: ANN202
    marker = tmp_path / "changed"
    return marker, plan(
        [step("gate", kind="approve"), sh("change", "touch", str(marker), mutating=True),
         end("done", "mitigated"), end("denied", "escalate")],
        [edge("gate", "change"), edge("gate", "denied", on="failure", kind="error"),
         edge("change", "done")],
    )


async def test_a_mutating_step_waits_for_approval(make_executor, tmp_path) -> None:
    marker, p = _gated(tmp_path)
    # Non-interactive and unanswered: the question is not guessed; the gate fails.
    ex, _ = make_executor()
    record = await ex.start(p, guide_path="t.md")
    assert record.outcome == "escalate" and not marker.exists()
    assert "--yes" in record.state["steps"]["gate"]["error"]
    # An answer never approves, whatever it says
    ex, _ = make_executor(interaction=Answers(answers={"gate": True}))
    record = await ex.start(p, guide_path="t.md")
    assert record.outcome == "escalate" and not marker.exists()
    # Approved by --approve of that gate
    ex, _ = make_executor(interaction=Answers(approvals=("gate",)))
    record = await ex.start(p, guide_path="t.md")
    assert record.outcome == "mitigated" and marker.exists()
    marker.unlink()
    # Approved with --yes
    ex, _ = make_executor(interaction=Answers(assume_yes=True))
    record = await ex.start(p, guide_path="t.md")
    assert record.outcome == "mitigated" and marker.exists()


async def test_dry_run_has_no_side_effects_and_shows_what_would_run(make_executor, store,
                                                                    tmp_path) -> None:
    marker, p = _gated(tmp_path)
    ex, _ = make_executor()
    record = await ex.start(p, guide_path="t.md", options=RunOptions(dry_run=True))
    assert not marker.exists()
    memory = {m.key: m.value for m in await store.memory(record.run_id)}
    assert memory["steps.change"]["dry_run"] is True
    assert str(marker) in memory["steps.change"]["would_run"]


async def test_redaction_applies_to_memory_and_events(make_executor, store) -> None:
    secret = "s3cr3t-token-value"
    p = plan([sh("leak", "echo", secret), end("ok")], [edge("leak", "ok")])
    ex, _ = make_executor(redact=_redactor(secret))
    record = await ex.start(p, guide_path="t.md")
    memory = await store.memory(record.run_id)
    events = await store.events(record.run_id)
    blob = repr([m.value for m in memory]) + repr([e.data for e in events])
    assert secret not in blob and "***" in blob


def _redactor(secret: str):  # noqa: ANN202
    def redact(value):  # noqa: ANN001, ANN202
        if isinstance(value, str):
            return value.replace(secret, "***")
        if isinstance(value, dict):
            return {k: redact(v) for k, v in value.items()}
        if isinstance(value, list):
            return [redact(v) for v in value]
        return value
    return redact


async def test_an_interrupted_run_resumes_without_redoing_finished_steps(make_executor, store,
                                                                         recorder) -> None:
    p = plan([recorder.get("first", "first"), recorder.get("slow", "slow", 0.5), end("ok")],
             [edge("first", "slow"), edge("slow", "ok")])
    ex, updates = make_executor()
    run = asyncio.create_task(ex.start(p, guide_path="t.md", run_id="r-interrupt"))
    while "slow" not in recorder.paths:  # the slow step is really running (not just started)
        await asyncio.sleep(0.01)
    run.cancel()  # what Ctrl-C does
    await asyncio.gather(run, return_exceptions=True)
    assert (await store.get_run("r-interrupt")).status == "interrupted"
    ex2, _ = make_executor()
    record = await ex2.resume("r-interrupt")
    assert record.outcome == "resolved"
    lines = recorder.paths
    assert lines.count("first") == 1  # completed: never run again
    assert lines.count("slow") == 2  # in flight at the interruption: run again, same attempt
    assert record.state["steps"]["slow"]["attempt"] == 1


async def test_global_concurrency_limit_is_respected(make_executor, store, tmp_path) -> None:
    fan = [sh(f"s{i}", "sleep", "0.2") for i in range(4)]
    p = plan([sh("a", "true"), *fan, end("done")],
             [edge("a", s.id) for s in fan] + [edge(s.id, "done") for s in fan])
    ex, _ = make_executor(settings=Settings(data_dir=tmp_path, max_concurrency=2))
    record = await ex.start(p, guide_path="t.md")
    assert record.outcome == "resolved"
    # plugin start/finish order from durations: with 2 slots the fan takes two rounds
    memory = {m.key: m.value for m in await store.memory(record.run_id)}
    assert all(memory[f"steps.s{i}"]["exit_code"] == 0 for i in range(4))
    events = await store.events(record.run_id)
    assert (events[-1].at - events[0].at).total_seconds() >= 0.4


async def test_a_judgment_is_put_to_a_person_and_who_answered_is_recorded(make_executor,
                                                                           store) -> None:
    p = plan([sh("look", "echo", "CrashLoopBackOff"), sh("fix", "true"), end("ok"),
              end("fine", "no_action")],
             [edge("look", "fix", text="If the pod is crash-looping", kind="branch"),
              edge("look", "fine", text="Otherwise", kind="else"), edge("fix", "ok")])
    # Unanswered: the run does not guess; it concludes nothing, and says what would answer
    ex, _ = make_executor()
    record = await ex.start(p, guide_path="t.md")
    assert record.outcome == "inconclusive" and "--answer look=yes|no" in \
        record.state["steps"]["look"]["error"]
    # Answered by the decision's own id: one question (the If), its else the opposite
    ex, _ = make_executor(interaction=Answers(answers={"look": True}))
    record = await ex.start(p, guide_path="t.md")
    assert record.outcome == "resolved"
    look = next(e for e in await store.events(record.run_id)
                if e.type == "step_succeeded" and e.step_id == "look")
    assert {(j["target"], j["yes"], j["by"]) for j in look.data["judgments"]} == {
        ("fix", True, "--answer")}
    assert record.state["steps"]["fine"]["status"] == "skipped"


async def test_cancelling_a_run_stops_its_steps_and_still_runs_the_clean_up(make_executor,
                                                                           store,
                                                                           tmp_path) -> None:
    marker = tmp_path / "safe"
    p = plan([sh("work", "sleep", "30"), end("ok"),
              sh("stop", "touch", str(marker), mutating=True)],
             [edge("work", "ok")]).model_copy(update={"cleanup": ["stop"]})
    ex, updates = make_executor()
    run = asyncio.create_task(ex.start(p, guide_path="t.md"))
    while not any(u.kind == "step_started" and u.step_id == "work" for u in updates):
        await asyncio.sleep(0.01)
    assert ex.cancel("operator pressed stop")
    record = await asyncio.wait_for(run, 10)  # the 30 s step does not hold the cancel up
    assert record.status == "cancelled" and marker.exists()
    assert "operator pressed stop" in record.reason and "clean-up done" in record.reason
    types = [(e.type, e.step_id) for e in await store.events(record.run_id)]
    assert ("cancel", None) in types and ("step_succeeded", "stop") in types


# -- a gated step cut off mid-way: in doubt until a person answers ---------------------------------


async def _cut_off(make_executor, store, ledger) -> None:
    """A run whose gated step is interrupted after its effect: its outcome is unknown."""
    p = plan([sh("first", "true"),
              sh("restart", "sh", "-c", f"echo restart >> {ledger}; sleep 1", mutating=True),
              end("ok")],
             [edge("first", "restart"), edge("restart", "ok")])
    ex, updates = make_executor()
    run = asyncio.create_task(ex.start(p, guide_path="t.md", run_id="r-doubt"))
    # the shell creates the file before `echo` writes to it: wait for the effect itself
    while not (ledger.exists() and ledger.read_text().strip()):
        await asyncio.sleep(0.01)
    run.cancel()
    await asyncio.gather(run, return_exceptions=True)


async def test_yes_and_answers_do_not_answer_for_a_step_in_doubt(make_executor, store,
                                                                 tmp_path) -> None:
    ledger = tmp_path / "ledger"
    await _cut_off(make_executor, store, ledger)
    ex, _ = make_executor(interaction=Answers(assume_yes=True, answers={"restart": True},
                                              auto_approve=("*",)))
    record = await ex.resume("r-doubt")
    assert record.status == "interrupted"
    assert record.reason == (
        "step 'restart' was running when its runner died; its outcome is unknown: not run "
        "again unless a person says so (pass --rerun restart to run it again, or --mark-done "
        "restart / --mark-failed restart to go on without running it)")
    assert ledger.read_text().split() == ["restart"]
    assert record.state["steps"]["restart"]["status"] == "in_doubt"


@pytest.mark.parametrize("decision, runs, status", [
    ("rerun", 2, "succeeded"), ("done", 1, "succeeded"), ("failed", 1, "failed")])
async def test_an_answer_for_a_step_in_doubt_reruns_it_or_not(make_executor, store, tmp_path,
                                                              decision, runs, status) -> None:
    ledger = tmp_path / "ledger"
    await _cut_off(make_executor, store, ledger)
    ex, _ = make_executor(interaction=Answers(in_doubt={"restart": decision}))
    record = await asyncio.wait_for(ex.resume("r-doubt"), timeout=30)
    assert record.status == status, record.reason
    assert ledger.read_text().split() == ["restart"] * runs
    events = [(e.type, e.step_id) for e in await store.events("r-doubt")]
    assert ("step_in_doubt", "restart") in events and ("in_doubt_answer", "restart") in events


async def test_a_second_driver_is_refused_naming_the_first(make_executor, store,
                                                           tmp_path) -> None:
    p = plan([sh("wait", "sleep", "1"), end("ok")], [edge("wait", "ok")])
    ex, updates = make_executor()
    first = asyncio.create_task(ex.start(p, guide_path="t.md", run_id="r-lease"))
    while not any(u.kind == "step_started" for u in updates):
        await asyncio.sleep(0.01)
    ex2, _ = make_executor()
    with pytest.raises(LeaseHeld) as refused:
        await ex2.resume("r-lease")
    assert f"run r-lease is being driven by pid {os.getpid()} on " in str(refused.value)
    assert refused.value.exit_code == 2
    assert (await first).outcome == "resolved"
    assert (await ex2.resume("r-lease")).outcome == "resolved"  # released: nothing to do
