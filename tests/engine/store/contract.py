"""The store contract: behaviour every `engine.store.base.Store` backend must show.

A backend's test module subclasses `StoreContract` and provides two async fixtures:

- `store`: an opened, empty store;
- `peer_store`: a second, independently opened handle on the *same* data (another connection,
  as another process would have), so that races between writers are real, not serialised by
  one handle;

and overrides `tamper_with_artifact`, which changes an artifact's stored bytes behind the
store's back (as a disk error or a person with a shell would).

Nothing here may know which backend it runs against.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.errors import RunNotFound, StoreError
from engine.plan import Condition, Edge, Plan, SourceInfo, Span, Step, StepKind
from engine.store.base import (
    AlertRecord,
    ArtifactRef,
    CauseEvidence,
    EventRecord,
    FailureFix,
    FailureRecord,
    LeaseHeld,
    LlmUsage,
    MemoryEntry,
    NextClaim,
    ReplayOf,
    RunCause,
    RunOptions,
    RunRecord,
    SharedStore,
    StaleState,
    Store,
)

T0 = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def make_plan(title: str = "Disk full on a node") -> Plan:
    return Plan(
        id="disk-full",
        title=title,
        compiler="test/1",
        source=SourceInfo(path="guides/disk-full.md", sha256="0" * 64),
        entry="check",
        steps=[
            Step(id="check", title="Check disk", kind=StepKind.QUERY, plugin="shell",
                 params={"pipeline": [["df", "-h"]], "ok_exit_codes": [0]},
                 writes=["steps.check"], source=Span(start=3, end=5)),
            Step(id="clean", title="Clean logs", kind=StepKind.COMMAND, plugin="shell",
                 mutating=True, params={"pipeline": [["rm", "-rf", "/var/log/old"]]},
                 source=Span(start=7, end=9)),
            Step(id="done", title="Done", kind=StepKind.END, outcome="resolved",
                 source=Span(start=11, end=11)),
        ],
        edges=[
            Edge(source="check", target="clean", kind="branch",
                 condition=Condition(text="disk is over 90% full",
                                     expr="steps.check.exit_code == 0")),
            Edge(source="clean", target="done"),
        ],
    )


def _failure(run_id: str, step: str, attempt: int, sig: str, at: datetime, *,
             guide: str = "disk-full") -> FailureRecord:
    return FailureRecord(run_id=run_id, step_id=step, attempt=attempt, signature=sig,
                         pattern="error <n> at <path>", message=f"error {attempt} at /x",
                         guide=guide, guide_path=f"guides/{guide}.md", plan_hash="h" * 64,
                         line=3, at=at)


def make_run(run_id: str | None = None, *, created_at: datetime = T0,
             plan_hash: str = "h" * 64) -> RunRecord:
    return RunRecord(
        run_id=run_id or uuid.uuid4().hex,
        plan_id="disk-full",
        plan_hash=plan_hash,
        guide_path="guides/disk-full.md",
        title="Disk full on node-7",
        created_at=created_at,
        updated_at=created_at,
        context={"inputs": {"NODE": "node-7"}, "alert": {"labels": {"sev": "2"}}},
        options={"dry_run": False},
    )


def assert_same_json(got: Any, want: Any) -> None:
    """Equal *and* of the same JSON types (1 == 1.0 == True in Python, not in JSON)."""
    assert type(got) is type(want), (got, want)
    if isinstance(want, dict):
        assert got.keys() == want.keys()
        for key in want:
            assert_same_json(got[key], want[key])
    elif isinstance(want, list):
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            assert_same_json(g, w)
    else:
        assert got == want


def _event(seq_type: str, step: str = "check") -> tuple[str, str, int, dict[str, object]]:
    return (seq_type, step, 1, {"n": 1.0})


async def commit_with_retry(store: Store, run_id: str, *, events: list[Any],
                            memory: list[MemoryEntry]) -> int:
    """What the executor does: re-read and re-apply until the compare-and-set lands."""
    tries = 0
    while True:
        tries += 1
        run = await store.get_run(run_id)
        await asyncio.sleep(0)  # let the other writers read the same version
        try:
            await store.commit(run_id, expected_version=run.version,
                               state={**run.state, "n": run.state.get("n", 0) + 1},
                               status="running", events=events, memory=memory)
            return tries
        except StaleState:
            continue


class StoreContract:
    async def tamper_with_artifact(self, store: Store, ref: ArtifactRef) -> None:
        raise NotImplementedError("a backend's contract tests say how its artifacts are kept")

    # -- runs ------------------------------------------------------------------------------

    async def test_created_run_reads_back_equal(self, store: Store) -> None:
        run = make_run()
        await store.create_run(run)
        got = await store.get_run(run.run_id)
        assert got == run
        assert got.created_at.tzinfo is not None
        assert got.created_at.utcoffset() == timedelta(0)

    async def test_run_ids_are_unique(self, store: Store) -> None:
        run = make_run()
        await store.create_run(run)
        with pytest.raises(StoreError, match=run.run_id):
            await store.create_run(run)

    async def test_unknown_run_is_run_not_found(self, store: Store) -> None:
        with pytest.raises(RunNotFound):
            await store.get_run("no-such-run")
        with pytest.raises(RunNotFound):
            await store.commit("no-such-run", expected_version=0, state={}, status="running")
        with pytest.raises(RunNotFound):
            await store.events("no-such-run")

    async def test_list_runs_newest_first_and_limited(self, store: Store) -> None:
        runs = [make_run(f"run-{i}", created_at=T0 + timedelta(minutes=i)) for i in range(5)]
        for run in [runs[2], runs[0], runs[4], runs[1], runs[3]]:
            await store.create_run(run)
        assert [r.run_id for r in await store.list_runs()] == [
            "run-4", "run-3", "run-2", "run-1", "run-0"]
        assert [r.run_id for r in await store.list_runs(limit=2)] == ["run-4", "run-3"]

    async def test_stopped_runs_are_those_that_stopped_since_oldest_first(
            self, store: Store) -> None:
        # A notifier finds every run that ended (or waits for a person) since it last looked,
        # whoever drove it; a run still running, one that stopped before, and a child run
        # (told through its caller) are not listed
        for name in ("early", "ended", "waiting", "running", "parent.call"):
            run = make_run(name)
            if name == "parent.call":
                run = run.model_copy(update={"parent_run_id": "early", "parent_step": "call"})
            await store.create_run(run)
        await store.commit("early", expected_version=0, state=None, status="failed")
        await asyncio.sleep(0.05)
        since = datetime.now(UTC)
        await asyncio.sleep(0.05)
        await store.commit("waiting", expected_version=0, state=None, status="interrupted")
        await store.commit("ended", expected_version=0, state=None, status="succeeded",
                           outcome="resolved")
        await store.commit("parent.call", expected_version=0, state=None, status="succeeded")
        await store.commit("running", expected_version=0, state=None, status="running")
        stopped = await store.stopped_runs(since=since)
        assert [(r.run_id, r.status) for r in stopped] == [("waiting", "interrupted"),
                                                           ("ended", "succeeded")]
        assert [r.run_id for r in await store.stopped_runs(since=since, limit=1)] == ["waiting"]
        assert await store.stopped_runs(since=datetime.now(UTC) + timedelta(seconds=5)) == []

    async def test_child_runs_name_their_parent_and_are_listed_oldest_first(
            self, store: Store) -> None:
        parent = make_run("parent")
        await store.create_run(parent)
        await store.create_run(make_run("unrelated"))
        for i, step in ((2, "backup"), (1, "restore")):
            await store.create_run(make_run(f"parent.{step}", created_at=T0 + timedelta(
                minutes=i)).model_copy(update={"parent_run_id": "parent", "parent_step": step}))
        children = await store.child_runs("parent")
        assert [(c.run_id, c.parent_run_id, c.parent_step) for c in children] == [
            ("parent.restore", "parent", "restore"), ("parent.backup", "parent", "backup")]
        assert (await store.get_run("parent.backup")).parent_step == "backup"
        got = await store.get_run("parent")
        assert (got.parent_run_id, got.parent_step) == (None, None)
        assert await store.child_runs("unrelated") == []
        assert await store.child_runs("no-such-run") == []

    # -- commit: one compare-and-set transaction -------------------------------------------

    async def test_commit_without_state_keeps_the_snapshot_and_its_seq(
            self, store: Store) -> None:
        # Given a snapshot taken after two events
        run = make_run()
        await store.create_run(run)
        await store.commit(run.run_id, expected_version=0, state={"snap": 1}, status="running",
                           events=[("a", None, None, {}), ("b", None, None, {})])
        # When more events are committed without a state
        version = await store.commit(run.run_id, expected_version=1, state=None,
                                     status="failed", reason="r",
                                     events=[("c", None, None, {})])
        # Then the snapshot and its seq are unchanged, and the rest moved on
        after = await store.get_run(run.run_id)
        assert (version, after.version) == (2, 2)
        assert (after.state, after.state_seq) == ({"snap": 1}, 2)
        assert (after.status, after.reason) == ("failed", "r")
        assert [e.type for e in await store.events(run.run_id, after=after.state_seq)] == ["c"]

    async def test_commit_writes_state_status_events_memory_and_bumps_version(
            self, store: Store) -> None:
        run = make_run()
        await store.create_run(run)
        entry = MemoryEntry(key="steps.check", value={"exit_code": 0}, step_id="check",
                            attempt=1, at=T0)
        version = await store.commit(
            run.run_id, expected_version=0, state={"done": ["check"]}, status="succeeded",
            outcome="resolved", reason="disk cleaned",
            events=[("step_started", "check", 1, {}), ("step_succeeded", "check", 1, {"x": 1})],
            memory=[entry])
        assert version == 1
        after = await store.get_run(run.run_id)
        assert after.version == 1 and after.state_seq == 2
        assert (after.status, after.outcome, after.reason) == ("succeeded", "resolved",
                                                               "disk cleaned")
        assert after.state == {"done": ["check"]}
        assert after.updated_at >= after.created_at
        assert [(e.type, e.step_id, e.attempt, e.data) for e in await store.events(run.run_id)
                ] == [("step_started", "check", 1, {}), ("step_succeeded", "check", 1, {"x": 1})]
        assert await store.memory(run.run_id) == [entry]

    async def test_stale_commit_raises_and_writes_nothing(self, store: Store) -> None:
        run = make_run()
        await store.create_run(run)
        await store.commit(run.run_id, expected_version=0, state={"a": 1}, status="running",
                           events=[("started", None, None, {})])
        before = (await store.get_run(run.run_id), await store.events(run.run_id),
                  await store.memory(run.run_id))
        # Given a writer that read version 0, when it commits after version 1 was written...
        with pytest.raises(StaleState):
            await store.commit(
                run.run_id, expected_version=0, state={"a": 2}, status="failed",
                events=[("lost", "x", 1, {})],
                memory=[MemoryEntry(key="vars.X", value=1, step_id="x", attempt=1, at=T0)])
        # ...then nothing of it is visible.
        after = (await store.get_run(run.run_id), await store.events(run.run_id),
                 await store.memory(run.run_id))
        assert after == before

    async def test_commit_of_a_value_that_is_not_json_writes_nothing(self, store: Store) -> None:
        run = make_run()
        await store.create_run(run)
        with pytest.raises(StoreError):
            await store.commit(run.run_id, expected_version=0, state={"ok": 1},
                               status="running", events=[("e", None, None, {"bad": object()})])
        with pytest.raises(StoreError):
            await store.commit(run.run_id, expected_version=0, state={"nan": math.nan},
                               status="running")
        itself: list[Any] = []
        itself.append(itself)  # a value that contains itself: refused, not a crash
        with pytest.raises(StoreError):
            await store.commit(run.run_id, expected_version=0, state=None,
                               status="running", events=[("e", None, None, {"x": itself})])
        assert await store.get_run(run.run_id) == run
        assert await store.events(run.run_id) == []

    async def test_event_seqs_are_contiguous_from_one_and_filtered_by_after(
            self, store: Store) -> None:
        run = make_run()
        await store.create_run(run)
        version = 0
        for batch in ([("a", None, None, {})], [], [("b", "s", 1, {}), ("c", "s", 2, {})],
                      [("d", None, None, {"k": "v"})]):
            version = await store.commit(run.run_id, expected_version=version, state={},
                                         status="running", events=batch)
        events = await store.events(run.run_id)
        assert [(e.seq, e.type) for e in events] == [(1, "a"), (2, "b"), (3, "c"), (4, "d")]
        assert all(e.at.utcoffset() == timedelta(0) for e in events)
        assert [e.seq for e in await store.events(run.run_id, after=2)] == [3, 4]
        assert await store.events(run.run_id, after=4) == []

    async def test_a_note_joins_the_events_and_leaves_the_driver_committing_on(
            self, store: Store) -> None:
        run = make_run()
        await store.create_run(run)
        await store.commit(run.run_id, expected_version=0, state={"snap": 1}, status="running",
                           events=[("a", None, None, {})])
        # a note from another process, while the run's driver holds version 1
        assert await store.add_note(run.run_id, "alert_repeated", {"group_key": "g"}) == 2
        version = await store.commit(run.run_id, expected_version=1, state=None,
                                     status="running", events=[("b", "s", 1, {})])
        assert version == 2  # the note did not make the driver's commit stale
        assert await store.add_note(run.run_id, "alert_resolved", {}) == 4
        await store.commit(run.run_id, expected_version=2, state={"snap": 2},
                           status="succeeded", events=[("c", None, None, {})])
        after = await store.get_run(run.run_id)
        assert [(e.seq, e.type) for e in await store.events(run.run_id)] == [
            (1, "a"), (2, "alert_repeated"), (3, "b"), (4, "alert_resolved"), (5, "c")]
        assert (after.version, after.state_seq) == (3, 5)
        assert (await store.events(run.run_id))[1].data == {"group_key": "g"}
        with pytest.raises(RunNotFound):
            await store.add_note("no-such-run", "x", {})

    async def test_notes_of_many_runs_are_read_at_once_with_each_runs_last_seq(
            self, store: Store) -> None:
        # Given three runs with step events, notes of the type asked and of another type
        for name in ("a", "b", "quiet"):
            await store.create_run(make_run(name))
        for name in ("a", "b"):
            await store.commit(name, expected_version=0, state={}, status="running",
                               events=[_event("step_started"), _event("step_succeeded")])
        await store.add_note("a", "cancel_asked", {"by": "ann"})  # a: 3
        await store.add_note("b", "alert_repeated", {"group_key": "g"})  # b: 3
        await store.commit("a", expected_version=1, state=None, status="running",
                           events=[_event("step_started", "clean")])  # a: 4
        await store.add_note("a", "cancel_asked", {"by": "oli"})  # a: 5
        await store.add_note("b", "cancel_asked", {"by": "pat"})  # b: 4
        # When their notes of that type are asked after a seq each (and of an unknown run)
        found = await store.notes_after("cancel_asked", {"b": 0, "no-such-run": 0, "a": 3,
                                                         "quiet": 0})
        # Then each run known gives its notes after its seq, oldest first, and its last seq
        assert list(found) == ["b", "a", "quiet"]
        assert [(e.seq, e.type, e.data) for e in found["a"].notes] == [
            (5, "cancel_asked", {"by": "oli"})]
        assert [(e.seq, e.data) for e in found["b"].notes] == [(4, {"by": "pat"})]
        assert found["a"].notes[0].step_id is None and found["a"].notes[0].at.tzinfo
        assert (found["a"].last_seq, found["b"].last_seq) == (5, 4)
        assert found["quiet"] == (0, [])
        # and looking again from the last seqs finds nothing new
        again = await store.notes_after("cancel_asked", {"a": 5, "b": 4})
        assert again == {"a": (5, []), "b": (4, [])}
        assert await store.notes_after("cancel_asked", {}) == {}
        assert [e.seq for e in (await store.notes_after("cancel_asked", {"a": 0}))["a"].notes] \
            == [3, 5]

    async def test_events_of_runs_are_numbered_separately(self, store: Store) -> None:
        one, two = make_run(), make_run()
        for run in (one, two):
            await store.create_run(run)
            await store.commit(run.run_id, expected_version=0, state={}, status="running",
                               events=[("a", None, None, {}), ("b", None, None, {})])
        assert [e.seq for e in await store.events(two.run_id)] == [1, 2]

    async def test_memory_keeps_json_value_types_and_write_order(self, store: Store) -> None:
        run = make_run()
        await store.create_run(run)
        values: list[Any] = [
            {"nested": {"list": [1, 2.5, None, True, "x"], "empty": {}}},
            [0.1, -0.0, 1e300, 3],
            1.0,
            7,
            None,
            False,
            "résumé ✓ 🚑 日本語",
            "",
        ]
        entries = [MemoryEntry(key=f"vars.V{i}", value=v, step_id="check", attempt=1,
                               at=T0 + timedelta(seconds=i)) for i, v in enumerate(values)]
        # a key written again by a later attempt is kept as a second entry
        entries.append(MemoryEntry(key="vars.V0", value="again", step_id="check", attempt=2,
                                   at=T0 + timedelta(seconds=99)))
        await store.commit(run.run_id, expected_version=0, state={}, status="running",
                           memory=entries[:4])
        await store.commit(run.run_id, expected_version=1, state={}, status="running",
                           memory=entries[4:])
        got = await store.memory(run.run_id)
        assert got == entries
        for g, want in zip(got, entries, strict=True):
            assert_same_json(g.value, want.value)
            assert g.at.utcoffset() == timedelta(0)

    async def test_run_context_state_and_options_keep_json_types(self, store: Store) -> None:
        run = make_run().model_copy(update={"context": {"alert": {"value": 1.0, "n": 1}}})
        await store.create_run(run)
        await store.commit(run.run_id, expected_version=0,
                           state={"f": 2.0, "i": 2, "u": "ü", "l": [None]}, status="running")
        got = await store.get_run(run.run_id)
        assert_same_json(got.context, {"alert": {"value": 1.0, "n": 1}})
        assert_same_json(got.state, {"f": 2.0, "i": 2, "u": "ü", "l": [None]})

    async def test_a_replays_options_read_back_equal(self, store: Store) -> None:
        """A replay's `RunOptions.replay` (what its steps are served from) is kept whole."""
        replay = ReplayOf(run_id="r-1", from_step="q", reuse=("a", "b"),
                          outputs={"c": {"rows": [{"n": 1.0}], "ok": True}}, from_record=True,
                          interventions=("inputs.x='1'",))
        run = make_run().model_copy(update={"options": RunOptions(executor="celery",
                                                                  replay=replay)})
        await store.create_run(run)
        got = await store.get_run(run.run_id)
        assert got.options == run.options and got.options.replay == replay
        assert_same_json(got.options.replay.outputs["c"], {"rows": [{"n": 1.0}], "ok": True})

    async def test_concurrent_commits_with_retry_all_land_exactly_once(
            self, store: Store, peer_store: Store) -> None:
        run = make_run()
        await store.create_run(run)
        writers = 20
        # Given 20 tasks on two handles, each committing one event and one memory entry...
        tries = await asyncio.gather(*(
            commit_with_retry(
                (store, peer_store)[i % 2], run.run_id,
                events=[("tick", None, None, {"writer": i})],
                memory=[MemoryEntry(key=f"vars.W{i}", value=i, step_id="w", attempt=1,
                                    at=T0)])
            for i in range(writers)))
        # ...then each landed once: no lost update, no duplicate.
        final = await store.get_run(run.run_id)
        assert final.version == writers
        assert final.state == {"n": writers}
        events = await store.events(run.run_id)
        assert [e.seq for e in events] == list(range(1, writers + 1))
        assert sorted(e.data["writer"] for e in events) == list(range(writers))
        assert sorted(m.value for m in await store.memory(run.run_id)) == list(range(writers))
        assert sum(tries) > writers  # the race was real: some writers had to retry

    # -- plans -----------------------------------------------------------------------------

    async def test_plan_round_trips_by_content_hash(self, store: Store) -> None:
        plan = make_plan()
        plan_hash = await store.save_plan(plan)
        assert plan_hash == plan.content_hash()
        loaded = await store.load_plan(plan_hash)
        assert loaded == plan
        assert loaded.content_hash() == plan_hash
        assert await store.save_plan(plan) == plan_hash  # saving again is harmless

    async def test_different_plans_are_kept_apart(self, store: Store) -> None:
        one, two = make_plan("One"), make_plan("Two")
        h1, h2 = await store.save_plan(one), await store.save_plan(two)
        assert h1 != h2
        assert (await store.load_plan(h1)).title == "One"
        assert (await store.load_plan(h2)).title == "Two"

    async def test_unknown_plan_hash_is_a_store_error(self, store: Store) -> None:
        with pytest.raises(StoreError, match="f" * 64):
            await store.load_plan("f" * 64)

    # -- claims ----------------------------------------------------------------------------

    async def test_claim_is_granted_exactly_once_among_concurrent_claimers(
            self, store: Store, peer_store: Store) -> None:
        run = make_run()
        await store.create_run(run)
        granted = await asyncio.gather(*(
            (store, peer_store)[i % 2].claim_step(run.run_id, "clean", 1, f"worker-{i}")
            for i in range(50)))
        assert granted.count(True) == 1

    async def test_each_attempt_is_claimed_separately(self, store: Store) -> None:
        run = make_run()
        await store.create_run(run)
        assert await store.claim_step(run.run_id, "clean", 1, "a")
        assert await store.claim_step(run.run_id, "clean", 2, "b")
        assert await store.claim_step(run.run_id, "check", 1, "b")
        assert not await store.claim_step(run.run_id, "clean", 1, "b")

    async def test_claim_is_reentrant_for_its_owner(self, store: Store) -> None:
        run = make_run()
        await store.create_run(run)
        assert await store.claim_step(run.run_id, "clean", 1, "worker-a")
        assert await store.claim_step(run.run_id, "clean", 1, "worker-a")  # resume
        assert not await store.claim_step(run.run_id, "clean", 1, "worker-b")

    async def test_claim_without_lease_never_lapses(self, store: Store) -> None:
        run = make_run()
        await store.create_run(run)
        assert await store.claim_step(run.run_id, "clean", 1, "a")
        await asyncio.sleep(0.2)
        assert not await store.claim_step(run.run_id, "clean", 1, "b", lease_s=0.01)

    async def test_expired_lease_may_be_taken_by_another_owner(self, store: Store) -> None:
        run = make_run()
        await store.create_run(run)
        assert await store.claim_step(run.run_id, "clean", 1, "a", lease_s=0.2)
        assert not await store.claim_step(run.run_id, "clean", 1, "b")  # lease still held
        await asyncio.sleep(0.3)
        assert await store.claim_step(run.run_id, "clean", 1, "b")  # a is presumed dead
        assert not await store.claim_step(run.run_id, "clean", 1, "a", lease_s=0.2)

    async def test_owner_renews_its_lease_by_claiming_again(self, store: Store) -> None:
        run = make_run()
        await store.create_run(run)
        assert await store.claim_step(run.run_id, "clean", 1, "a", lease_s=0.3)
        await asyncio.sleep(0.2)
        assert await store.claim_step(run.run_id, "clean", 1, "a", lease_s=0.3)
        await asyncio.sleep(0.2)  # 0.4s after the first claim, 0.2s after the renewal
        assert not await store.claim_step(run.run_id, "clean", 1, "b")

    async def test_claim_on_unknown_run_is_run_not_found(self, store: Store) -> None:
        with pytest.raises(RunNotFound):
            await store.claim_step("no-such-run", "clean", 1, "a")

    # -- alerts (`mendflow serve`) ---------------------------------------------------------

    async def test_a_released_alert_group_claim_is_free_at_once_and_only_its_holder_releases(
            self, store: Store) -> None:
        assert await store.claim_alert_group("g", run_id="r1", guide="x.md") == "r1"
        assert await store.claim_alert_group("g", run_id="r2", guide="x.md") == "r1"
        await store.release_alert_group("g", run_id="r2")  # not its holder: nothing
        assert await store.claim_alert_group("g", run_id="r2", guide="x.md") == "r1"
        await store.release_alert_group("g", run_id="r1")  # r1 never started
        assert await store.claim_alert_group("g", run_id="r2", guide="x.md") == "r2"

    async def test_one_claim_of_an_alert_group_wins_among_concurrent_servers(
            self, store: Store, peer_store: Store) -> None:
        group = f"{{}}:{{alertname=\"Disk-{uuid.uuid4().hex[:6]}\"}}"
        got = await asyncio.gather(*(
            (store, peer_store)[i % 2].claim_alert_group(group, run_id=f"r{i}", guide="g.md")
            for i in range(10)))
        assert len(set(got)) == 1 and got[0] in {f"r{i}" for i in range(10)}

    async def test_an_alert_group_is_held_while_its_run_lives_and_freed_when_it_ends(
            self, store: Store) -> None:
        group = f"g-{uuid.uuid4().hex[:6]}"
        run = make_run()
        assert await store.claim_alert_group(group, run_id=run.run_id, guide="g.md") == \
            run.run_id
        # claimed but not yet created: held (its claimer is creating it)
        assert await store.claim_alert_group(group, run_id="other", guide="g.md") == run.run_id
        await store.create_run(run)  # running: held
        assert await store.claim_alert_group(group, run_id="other", guide="g.md") == run.run_id
        await store.commit(run.run_id, expected_version=0, state=None, status="succeeded",
                           outcome="resolved")
        # over: the next notification of the group starts a new run
        assert await store.claim_alert_group(group, run_id="next", guide="g.md") == "next"

    async def test_alerts_are_kept_newest_first_and_filtered_by_what_became_of_them(
            self, store: Store) -> None:
        tag = uuid.uuid4().hex[:6]
        for i, disposition in enumerate(("started", "unmatched", "deduped")):
            await store.record_alert(AlertRecord(
                received_at=T0 + timedelta(seconds=i), group_key=f"{tag}-{i}",
                alertname=f"A{i}", status="firing", disposition=disposition,
                labels={"alertname": f"A{i}", "note": "<script>x</script>"},
                annotations={"summary": "é"}))
        newest = [a for a in await store.alerts(limit=50) if a.group_key.startswith(tag)]
        assert [a.alertname for a in newest] == ["A2", "A1", "A0"]
        assert newest[0].received_at == T0 + timedelta(seconds=2)
        assert newest[1].labels["note"] == "<script>x</script>"  # kept as text, unchanged
        unmatched = await store.alerts(disposition="unmatched", limit=50)
        assert [a.alertname for a in unmatched if a.group_key.startswith(tag)] == ["A1"]

    # -- questions for people --------------------------------------------------------------

    async def test_a_question_is_asked_once_and_its_first_answer_stands(
            self, store: Store, peer_store: Store) -> None:
        run = make_run()
        await store.create_run(run)
        asked = await store.ask_question(run.run_id, "approve-fix", kind="approve",
                                         text="rm -rf /var/log/old")
        again = await store.ask_question(run.run_id, "approve-fix", kind="approve", text="x")
        assert again.text == "rm -rf /var/log/old" and again.asked_at == asked.asked_at
        assert [q.step_id for q in await store.questions(run_id=run.run_id)] == ["approve-fix"]
        # two people answer at once: one answer stands, the other is told it came too late
        got = await asyncio.gather(
            store.answer_question(run.run_id, "approve-fix", yes=True, by="ann",
                                  source="10.0.0.1"),
            peer_store.answer_question(run.run_id, "approve-fix", yes=False, by="bob",
                                       source="10.0.0.2"))
        (answered,) = [g for g in got if g is not None]
        assert answered.answered_at is not None and answered.by in ("ann", "bob")
        assert answered.yes == (answered.by == "ann")
        assert await store.questions(run_id=run.run_id) == []  # none pending
        (kept,) = await store.questions(run_id=run.run_id, pending=False)
        assert (kept.yes, kept.by, kept.source) == (answered.yes, answered.by, answered.source)
        assert await store.answer_question(run.run_id, "nothing-asked", yes=True, by="ann",
                                           source="x") is None

    async def test_a_question_of_an_unknown_run_is_run_not_found(self, store: Store) -> None:
        with pytest.raises(RunNotFound):
            await store.ask_question("no-such-run", "s", kind="manual", text="do it")

    # -- concurrency slots shared by every process ----------------------------------------

    async def test_slots_hold_the_limit_among_concurrent_takers(self, store: Store,
                                                                peer_store: Store) -> None:
        key = f"source:prom-{uuid.uuid4().hex[:6]}"
        got = await asyncio.gather(*(
            (store, peer_store)[i % 2].take_slot(key, limit=3, holder=f"h{i}", ttl_s=30)
            for i in range(12)))
        assert sum(got) == 3

    async def test_concurrent_takers_below_the_limit_all_get_a_slot(
            self, store: Store, peer_store: Store) -> None:
        # Given more free slots than takers, when they all take at once (as alerts of distinct
        # groups arriving together do), then none is refused: two takers picking the same free
        # slot is a lost race, not a full limit
        key = f"serve:guide:burst-{uuid.uuid4().hex[:6]}"
        got = await asyncio.gather(*(
            (store, peer_store)[i % 2].take_slot(key, limit=100, holder=f"h{i}", ttl_s=30)
            for i in range(24)))
        assert all(got), f"{got.count(False)} of 24 takers refused below the limit"

    async def test_a_released_slot_is_free_and_only_its_holder_releases_it(
            self, store: Store) -> None:
        key = f"plugin:sql-{uuid.uuid4().hex[:6]}"
        assert await store.take_slot(key, limit=1, holder="a", ttl_s=30)
        assert not await store.take_slot(key, limit=1, holder="b", ttl_s=30)
        await store.release_slot(key, holder="b")  # not b's: nothing happens
        assert not await store.take_slot(key, limit=1, holder="b", ttl_s=30)
        await store.release_slot(key, holder="a")
        assert await store.take_slot(key, limit=1, holder="b", ttl_s=30)

    async def test_a_holder_taking_again_renews_its_one_slot(self, store: Store) -> None:
        key = f"plugin:shell-{uuid.uuid4().hex[:6]}"
        assert await store.take_slot(key, limit=2, holder="a", ttl_s=0.3)
        await asyncio.sleep(0.2)
        assert await store.take_slot(key, limit=2, holder="a", ttl_s=0.3)  # the same slot
        assert await store.take_slot(key, limit=2, holder="b", ttl_s=30)  # the other one
        await asyncio.sleep(0.2)  # 0.4 s after a's first take, 0.2 s after its renewal
        assert not await store.take_slot(key, limit=2, holder="c", ttl_s=30)

    async def test_a_lapsed_slot_is_taken_by_another_holder(self, store: Store) -> None:
        key = f"source:db-{uuid.uuid4().hex[:6]}"
        assert await store.take_slot(key, limit=1, holder="dead", ttl_s=0.2)
        assert not await store.take_slot(key, limit=1, holder="b", ttl_s=30)
        await asyncio.sleep(0.3)
        assert await store.take_slot(key, limit=1, holder="b", ttl_s=30)
        assert not await store.take_slot(key, limit=1, holder="dead", ttl_s=30)

    async def test_a_take_costs_the_slots_held_not_the_limit(self, store: Store) -> None:
        # Given a limit far above what is held (serve's --max-runs-per-guide 100000 in the
        # intake bench), when 30 holders take and one in the middle gives its slot back, then
        # each take is quick (the old takes walked 0..limit: ~0.5 s each at 10 million, while
        # the store's one thread, or a pooled connection, was busy) and the gap is reused
        key = f"serve:guide:wide-{uuid.uuid4().hex[:6]}"
        limit = 10_000_000
        started = time.monotonic()
        for i in range(30):
            assert await store.take_slot(key, limit=limit, holder=f"h{i}", ttl_s=30)
        took = time.monotonic() - started
        assert took < 3.0, f"30 takes under a limit of {limit:,} took {took:.1f}s"
        await store.release_slot(key, holder="h7")
        assert await store.take_slot(key, limit=limit, holder="late", ttl_s=30)  # slot 7
        assert not await store.take_slot(key, limit=30, holder="over", ttl_s=30)

    async def test_slots_of_different_keys_do_not_share_a_limit(self, store: Store) -> None:
        tag = uuid.uuid4().hex[:6]
        assert await store.take_slot(f"plugin:a-{tag}", limit=1, holder="x", ttl_s=30)
        assert await store.take_slot(f"plugin:b-{tag}", limit=1, holder="x", ttl_s=30)

    # -- one driver per run ----------------------------------------------------------------

    async def test_one_lease_among_concurrent_drivers_and_the_refusal_names_the_holder(
            self, store: Store, peer_store: Store) -> None:
        run = make_run()
        await store.create_run(run)

        async def take(i: int) -> Any:
            try:
                return await (store, peer_store)[i % 2].take_lease(
                    run.run_id, holder=f"h{i}", host=f"host-{i}", pid=1000 + i, ttl_s=30)
            except LeaseHeld as exc:
                return exc
        got = await asyncio.gather(*(take(i) for i in range(20)))
        leases = [g for g in got if not isinstance(g, LeaseHeld)]
        assert len(leases) == 1 and leases[0].taken_over is None
        winner = leases[0]
        refused = [g for g in got if isinstance(g, LeaseHeld)]
        assert {r.lease.holder for r in refused} == {winner.holder}
        assert f"pid {winner.pid} on {winner.host} since" in str(refused[0])
        assert refused[0].exit_code == 2

    async def test_a_lease_can_be_read_live_or_lapsed(self, store: Store) -> None:
        run = make_run()
        await store.create_run(run)
        assert await store.lease(run.run_id) is None
        await store.take_lease(run.run_id, holder="a", host="h", pid=7, ttl_s=0.3)
        held, live = await store.lease(run.run_id)
        assert (held.holder, held.pid, live) == ("a", 7, True)
        await asyncio.sleep(0.4)
        assert (await store.lease(run.run_id))[1] is False
        await store.release_lease(run.run_id, holder="a")
        assert await store.lease(run.run_id) is None

    async def test_lease_is_reentrant_and_keeps_its_start(self, store: Store) -> None:
        run = make_run()
        await store.create_run(run)
        first = await store.take_lease(run.run_id, holder="a", host="h", pid=1, ttl_s=0.3)
        again = await store.take_lease(run.run_id, holder="a", host="h", pid=1, ttl_s=30)
        assert again.since == first.since and again.expires_at > first.expires_at
        assert again.taken_over is None

    async def test_renewed_lease_holds_and_a_lapsed_one_is_taken_over(
            self, store: Store, peer_store: Store) -> None:
        run = make_run()
        await store.create_run(run)
        await store.take_lease(run.run_id, holder="a", host="ha", pid=1, ttl_s=0.4)
        await asyncio.sleep(0.25)
        assert await store.renew_lease(run.run_id, holder="a", ttl_s=0.4)  # the heartbeat
        await asyncio.sleep(0.25)  # 0.5 s after it was taken, 0.25 s after the renewal
        with pytest.raises(LeaseHeld):
            await peer_store.take_lease(run.run_id, holder="b", host="hb", pid=2, ttl_s=30)
        await asyncio.sleep(0.3)  # a stopped renewing: it died
        taken = await peer_store.take_lease(run.run_id, holder="b", host="hb", pid=2, ttl_s=30)
        assert (taken.holder, taken.taken_over.holder, taken.taken_over.pid) == ("b", "a", 1)
        assert not await store.renew_lease(run.run_id, holder="a", ttl_s=30)  # a lost it

    async def test_a_holder_seen_dead_is_replaced_at_once(self, store: Store) -> None:
        run = make_run()
        await store.create_run(run)
        await store.take_lease(run.run_id, holder="a", host="h", pid=1, ttl_s=30)
        with pytest.raises(LeaseHeld):
            await store.take_lease(run.run_id, holder="b", host="h", pid=2, ttl_s=30,
                                   replacing="someone-else")
        taken = await store.take_lease(run.run_id, holder="b", host="h", pid=2, ttl_s=30,
                                       replacing="a")
        assert taken.taken_over is not None and taken.taken_over.holder == "a"

    async def test_released_lease_is_free_and_only_its_holder_releases_it(
            self, store: Store) -> None:
        run = make_run()
        await store.create_run(run)
        await store.take_lease(run.run_id, holder="a", host="h", pid=1, ttl_s=30)
        await store.release_lease(run.run_id, holder="b")  # not b's: nothing happens
        with pytest.raises(LeaseHeld):
            await store.take_lease(run.run_id, holder="b", host="h", pid=2, ttl_s=30)
        await store.release_lease(run.run_id, holder="a")
        taken = await store.take_lease(run.run_id, holder="b", host="h", pid=2, ttl_s=30)
        assert taken.taken_over is None

    async def test_lease_on_unknown_run_is_run_not_found(self, store: Store) -> None:
        with pytest.raises(RunNotFound):
            await store.take_lease("no-such-run", holder="a", host="h", pid=1, ttl_s=30)

    # -- LLM accounting --------------------------------------------------------------------

    async def test_llm_usage_adds_up_per_purpose_and_model(self, store: Store,
                                                           peer_store: Store) -> None:
        run = make_run()
        await store.create_run(run)
        assert await store.llm_usage(run.run_id) == []
        judge = LlmUsage(purpose="judge", model="openai:gpt-4o-mini", calls=1,
                         input_tokens=100, output_tokens=20, cost_usd=0.000027)
        await store.add_llm_usage(run.run_id, judge)
        await peer_store.add_llm_usage(run.run_id, judge)  # a resume, from another process
        await store.add_llm_usage(run.run_id, LlmUsage(
            purpose="compile", model="openai:local", calls=3, input_tokens=9000,
            output_tokens=1200, cost_usd=None))
        got = await peer_store.llm_usage(run.run_id)
        assert [u.purpose for u in got] == ["compile", "judge"]
        assert got[0].cost_usd is None and got[0].input_tokens == 9000
        assert (got[1].calls, got[1].input_tokens, got[1].output_tokens) == (2, 200, 40)
        assert got[1].cost_usd is not None and math.isclose(got[1].cost_usd, 0.000054)
        # an unknown price on one side makes the sum unknown, not a wrong number
        await store.add_llm_usage(run.run_id, judge.model_copy(update={"cost_usd": None}))
        assert (await store.llm_usage(run.run_id))[1].cost_usd is None

    # -- what runs teach: failure signatures, fixes, root causes ----------------------------

    async def test_lessons_group_failures_by_signature_with_counts_places_and_fixes(
            self, store: Store, peer_store: Store) -> None:
        runs = [make_run(f"learn-{i}", created_at=T0 + timedelta(minutes=i)) for i in range(4)]
        for run in runs:
            await store.create_run(run)
        t = [T0 + timedelta(minutes=i, seconds=30) for i in range(4)]
        a0 = _failure(runs[0].run_id, "check", 1, "sigA", t[0])
        a1 = _failure(runs[1].run_id, "check", 1, "sigA", t[1])
        a1b = _failure(runs[1].run_id, "check", 2, "sigA", t[1] + timedelta(seconds=1))
        b2 = _failure(runs[2].run_id, "clean", 1, "sigB", t[2], guide="other-guide")
        await store.record_lessons(runs[0].run_id, failures=[a0], fixes=[], cause=None)
        await peer_store.record_lessons(runs[1].run_id, failures=[a1, a1b], fixes=[],
                                        cause=None)
        await store.record_lessons(runs[2].run_id, failures=[b2], fixes=[], cause=None)
        # recording a run again replaces what was kept for it: counted once
        await store.record_lessons(runs[0].run_id, failures=[a0], fixes=[], cause=None)
        got = await peer_store.signatures()
        assert [s.signature for s in got] == ["sigB", "sigA"]  # most recently seen first
        a = got[1]
        assert (a.count, a.runs, a.first_seen, a.last_seen) == (
            3, 2, t[0], t[1] + timedelta(seconds=1))
        assert a.guides == ["disk-full"] and a.steps == ["disk-full/check"]
        assert a.pattern == "error <n> at <path>" and a.example == "error 2 at /x"
        assert [s.signature for s in await store.signatures(guide="other-guide")] == ["sigB"]
        assert [s.signature for s in await store.signatures(guide="guides/disk-full.md")] == [
            "sigA"]
        assert [s.signature for s in await store.signatures(signatures=["sigA"])] == ["sigA"]
        assert await store.signatures(signatures=[]) == []
        assert [(f.step_id, f.attempt) for f in await store.run_failures(runs[1].run_id)] == [
            ("check", 1), ("check", 2)]
        # the unfixed failures of a step, oldest first, up to a time
        unfixed = await store.unfixed_failures("disk-full", ["check", "clean"], before=t[3])
        assert [(f.run_id, f.attempt) for f in unfixed] == [
            (runs[0].run_id, 1), (runs[1].run_id, 1), (runs[1].run_id, 2)]
        assert await store.unfixed_failures("disk-full", ["check"], before=t[0]) == [a0]
        assert await store.unfixed_failures("disk-full", [], before=t[3]) == []
        # a later run fixes them; the first fix of a failure stands
        fixes = [FailureFix(signature="sigA", failed_run_id=f.run_id, step_id="check",
                            fixed_run_id=runs[3].run_id, changes=["input disk: a -> b"],
                            at=t[3]) for f in (a0, a1)]
        cause = RunCause(run_id=runs[3].run_id, guide="disk-full", cause="guide_defect",
                         summary="a command not found at step check",
                         evidence=[CauseEvidence(step_id="check", line=3,
                                                 message="command not found: duu")], at=t[3])
        await store.record_lessons(runs[3].run_id, failures=[], fixes=fixes, cause=cause)
        later = fixes[0].model_copy(update={"fixed_run_id": runs[2].run_id,
                                            "at": t[3] + timedelta(seconds=9)})
        await peer_store.record_lessons(runs[3].run_id, failures=[], fixes=[*fixes, later],
                                        cause=cause)
        assert await store.unfixed_failures("disk-full", ["check"], before=t[3]) == []
        a = (await store.signatures(signatures=["sigA"]))[0]
        assert [(f.failed_run_id, f.fixed_run_id) for f in a.fixes] == [
            (runs[1].run_id, runs[3].run_id), (runs[0].run_id, runs[3].run_id)]
        assert a.fixes[0].changes == ["input disk: a -> b"]
        # the same signature in another guide, fixed there: not a fix of this guide's
        other = _failure(runs[2].run_id, "check", 2, "sigA", t[2], guide="other-guide")
        await store.record_lessons(runs[2].run_id, failures=[b2, other], fixes=[
            FailureFix(signature="sigA", failed_run_id=runs[2].run_id, step_id="check",
                       fixed_run_id=runs[2].run_id, changes=["retried"], at=t[3])], cause=None)
        mine = (await store.signatures(guide="disk-full", signatures=["sigA"]))[0]
        assert [f.failed_run_id for f in mine.fixes] == [runs[1].run_id, runs[0].run_id]
        theirs = (await store.signatures(guide="other-guide", signatures=["sigA"]))[0]
        assert [f.failed_run_id for f in theirs.fixes] == [runs[2].run_id]
        assert (await store.signatures(signatures=["sigA"]))[0].count == 4
        a = (await store.signatures(guide="disk-full", signatures=["sigA"]))[0]
        assert a.describe() == (f"seen 3 times since {T0:%Y-%m-%d}; last fixed by run "
                                f"{runs[3].run_id} (input disk: a -> b)")

    async def test_run_causes_are_replaced_and_filtered(self, store: Store,
                                                        peer_store: Store) -> None:
        runs = [make_run(f"cause-{i}", created_at=T0 + timedelta(minutes=i)) for i in range(3)]
        for run in runs:
            await store.create_run(run)

        def cause(run: RunRecord, cls: str, minute: int) -> RunCause:
            return RunCause(run_id=run.run_id, guide="disk-full", cause=cls,  # type: ignore[arg-type]
                            summary=f"{cls} here", evidence=[CauseEvidence(message="m")],
                            at=T0 + timedelta(minutes=minute))

        await store.record_lessons(runs[0].run_id, failures=[], fixes=[],
                                   cause=cause(runs[0], "environment", 0))
        await peer_store.record_lessons(runs[0].run_id, failures=[], fixes=[],
                                        cause=cause(runs[0], "guide_defect", 0))
        await store.record_lessons(runs[1].run_id, failures=[], fixes=[],
                                   cause=cause(runs[1], "guide_defect", 1))
        await store.record_lessons(runs[2].run_id, failures=[], fixes=[],
                                   cause=cause(runs[2], "operator", 2))
        got = await peer_store.run_causes()
        assert [(c.run_id, c.cause) for c in got] == [
            (runs[2].run_id, "operator"), (runs[1].run_id, "guide_defect"),
            (runs[0].run_id, "guide_defect")]
        assert got[2] == cause(runs[0], "guide_defect", 0)
        assert [c.run_id for c in await store.run_causes(cause="guide_defect")] == [
            runs[1].run_id, runs[0].run_id]
        assert [c.run_id for c in await store.run_causes(run_ids=[runs[2].run_id])] == [
            runs[2].run_id]
        assert await store.run_causes(run_ids=[]) == []
        assert await store.run_causes(guide="nope") == []
        await store.record_lessons(runs[2].run_id, failures=[], fixes=[], cause=None)
        assert await store.run_causes(run_ids=[runs[2].run_id]) == []

    async def test_lessons_of_an_unknown_run_are_run_not_found(self, store: Store) -> None:
        with pytest.raises(RunNotFound):
            await store.record_lessons("no-such-run", failures=[], fixes=[], cause=None)

    async def test_llm_usage_of_an_unknown_run_is_run_not_found(self, store: Store) -> None:
        with pytest.raises(RunNotFound):
            await store.add_llm_usage("no-such-run", LlmUsage(purpose="judge", model="m"))

    # -- artifacts -------------------------------------------------------------------------

    async def test_artifact_round_trips(self, store: Store) -> None:
        run = make_run()
        await store.create_run(run)
        data = bytes(range(256)) * 100
        ref = await store.put_artifact(run.run_id, "check", 1, "stdout.txt", data)
        assert (ref.size, ref.name, ref.attempt) == (len(data), "stdout.txt", 1)
        assert await store.get_artifact(ref) == data
        empty = await store.put_artifact(run.run_id, "check", 2, "stdout.txt", b"")
        assert await store.get_artifact(empty) == b""
        assert await store.get_artifact(ref) == data  # attempt 2 did not overwrite attempt 1

    async def test_tampered_artifact_is_refused(self, store: Store) -> None:
        run = make_run()
        await store.create_run(run)
        ref = await store.put_artifact(run.run_id, "check", 1, "out", b"the real bytes")
        await self.tamper_with_artifact(store, ref)
        with pytest.raises(StoreError):
            await store.get_artifact(ref)

    async def test_artifact_ref_with_wrong_hash_is_refused(self, store: Store) -> None:
        run = make_run()
        await store.create_run(run)
        ref = await store.put_artifact(run.run_id, "check", 1, "out", b"the real bytes")
        forged = ArtifactRef(**{**ref.model_dump(), "sha256": "0" * 64})
        with pytest.raises(StoreError):
            await store.get_artifact(forged)

    async def test_artifact_name_cannot_escape_its_directory(self, store: Store) -> None:
        run = make_run()
        await store.create_run(run)
        for name in ("../../escape", "a/b", "..", ""):
            with pytest.raises(StoreError):
                await store.put_artifact(run.run_id, "check", 1, name, b"x")

    # -- what workers sharing the store need (`SharedStore`) ----------------------------------

    async def test_the_store_offers_what_distributed_execution_needs(self,
                                                                     store: Store) -> None:
        assert isinstance(store, SharedStore)

    async def test_stalled_runs_lists_only_idle_running_runs(self, store: SharedStore) -> None:
        idle, busy, done = make_run("idle"), make_run("busy"), make_run("done")
        for run in (idle, busy, done):
            await store.create_run(run)
        await store.commit("done", expected_version=0, state=None, status="succeeded")
        await asyncio.sleep(0.3)
        await store.commit("busy", expected_version=0, state=None, status="running")
        assert [r.run_id for r in await store.stalled_runs(idle_s=0.2)] == ["idle"]

    async def test_stalled_runs_leave_child_runs_to_the_process_driving_them(
            self, store: SharedStore) -> None:
        # A linked guide's child run is driven by the worker running its call step, with no task
        # of its own on the broker: a sweeper dispatching its steps would run them twice.
        await store.create_run(make_run("parent"))
        await store.create_run(make_run("parent.call").model_copy(
            update={"parent_run_id": "parent", "parent_step": "call"}))
        await asyncio.sleep(0.3)
        assert [r.run_id for r in await store.stalled_runs(idle_s=0.2)] == ["parent"]

    async def test_begin_step_claims_counts_the_start_and_reads_the_run(
            self, store: SharedStore) -> None:
        run = make_run()
        await store.create_run(run)
        entry = MemoryEntry(key="steps.check", value={"free": 1.0}, step_id="check", attempt=1,
                            at=datetime.now(UTC))
        await store.commit(run.run_id, expected_version=0, state=None, status="running",
                           events=[_event("step_started")], memory=[entry])
        # When a worker begins a step
        got = await store.begin_step(run.run_id, "check", 1, "w1", lease_s=30,
                                     marker_owner="w1/a", max_starts=2)
        # Then it holds the claim, its start is the first, and it read the run as committed
        assert (got.claimed, got.starts) == (True, 1)
        assert got.record.version == 1 and got.record.context == run.context
        assert [(e.seq, e.type, e.data) for e in got.events] == [
            (1, "step_started", {"n": 1.0})]
        assert [(m.key, m.value) for m in got.memory] == [("steps.check", {"free": 1.0})]
        assert got.memory[0].at == entry.at
        # And a second worker is refused the claim, counts nothing and gets no memory
        other = await store.begin_step(run.run_id, "check", 1, "w2", lease_s=30,
                                       marker_owner="w2/a", max_starts=2)
        assert (other.claimed, other.starts, other.memory) == (False, None, [])
        # And once every marker is taken, the next start is one past the limit (poison)
        assert await store.claim_step(run.run_id, "check#run2", 1, "someone")
        again = await store.begin_step(run.run_id, "check", 1, "w1", lease_s=30,
                                       marker_owner="w1/b", max_starts=2)
        assert (again.claimed, again.starts) == (True, 3)

    async def test_begin_step_counts_starts_up_to_the_poison_limit(
            self, store: SharedStore) -> None:
        run = make_run()
        await store.create_run(run)
        starts = []
        for n in range(4):  # each worker died with the claim: its lease lapsed (0 s)
            got = await store.begin_step(run.run_id, "check", 1, f"w{n}", lease_s=0,
                                         marker_owner=f"w{n}/m", max_starts=2)
            assert got.claimed
            starts.append(got.starts)
        assert starts == [1, 2, 3, 3]  # max_starts + 1 once every marker is taken
        # A claim without a lease is never taken over
        other = await store.begin_step(run.run_id, "other", 1, "a", lease_s=None,
                                       marker_owner="a/m", max_starts=2)
        late = await store.begin_step(run.run_id, "other", 1, "b", lease_s=None,
                                      marker_owner="b/m", max_starts=2)
        assert (other.claimed, late.claimed) == (True, False)

    async def test_begin_step_for_an_unknown_run_claims_nothing(self, store: SharedStore) -> None:
        with pytest.raises(RunNotFound):
            await store.begin_step("nope", "check", 1, "w", lease_s=1, marker_owner="w/m",
                                   max_starts=2)

    async def test_commit_locked_serialises_writers_without_lost_updates(
            self, store: SharedStore, peer_store: SharedStore) -> None:
        peer = peer_store
        run = make_run()
        await store.create_run(run)
        seen_versions: list[int] = []

        def add_one(step: str) -> Any:
            def decide(record: RunRecord, events: list[EventRecord]) -> dict[str, Any]:
                # the events past the snapshot are always all of them: none is missed
                assert len(events) == record.version
                seen_versions.append(record.version)
                return {"state": None, "status": "running", "events": [_event("e", step)]}
            return decide

        # When 24 writers on two pools apply an event to the same run at once
        versions = await asyncio.gather(*(
            (store if i % 2 else peer).commit_locked(run.run_id, add_one(f"s{i}"))
            for i in range(24)))
        # Then each committed once, in turn, and every event is there in order
        assert sorted(versions) == list(range(1, 25))
        events = await store.events(run.run_id)
        assert [e.seq for e in events] == list(range(1, 25))
        assert sorted(e.step_id for e in events) == sorted(f"s{i}" for i in range(24))
        # And a decision to write nothing writes nothing
        assert await store.commit_locked(run.run_id, lambda record, events: None) is None
        assert (await store.get_run(run.run_id)).version == 24
        with pytest.raises(RunNotFound):
            await store.commit_locked("nope", lambda record, events: None)

    async def test_parked_reports_are_applied_once_by_one_applier_in_order(
            self, store: SharedStore, peer_store: SharedStore) -> None:
        peer = peer_store
        run = make_run()
        await store.create_run(run)
        entry = MemoryEntry(key="steps.s0", value={"n": 1.0}, step_id="s0", attempt=1,
                            at=datetime.now(UTC))
        # Given a report committed by compare-and-set, and 12 that lost the race (version 0)
        assert await store.commit_or_park(run.run_id, expected_version=0, state=None,
                                          status="running",
                                          events=[_event("done", "first")]) == (
            1, frozenset(), frozenset())
        for i in range(12):
            version, _, _ = await (store if i % 2 else peer).commit_or_park(
                run.run_id, expected_version=0, state=None, status="running",
                events=[_event("done", f"s{i}"), _event("step_started", f"next{i}")],
                memory=[entry] if i == 0 else [])
            assert version is None  # parked, nothing written to the run
        # A second report for the same (run, step, attempt) is not parked twice
        assert await store.commit_or_park(run.run_id, expected_version=0, state=None,
                                          status="running",
                                          events=[_event("done", "s0")]) == (
            None, frozenset(), frozenset())
        assert await store.has_reports(run.run_id)
        applied: list[list[str]] = []

        def decide(record: RunRecord, events: list[EventRecord],
                   reports: list[Any]) -> dict[str, Any] | None:
            # every committed event, none missed: the first, and each report applied before
            assert len(events) == 1 + sum(len(batch) for batch in applied)
            applied.append([r.step_id for r in reports])
            return {"state": None, "status": "running", "memory": [
                        m for r in reports for m in r.memory],
                    "events": [(r.type, r.step_id, r.attempt, r.data) for r in reports]}

        # When several appliers on two pools try at once
        results = await asyncio.gather(*((store if i % 2 else peer).apply_reports(
            run.run_id, decide) for i in range(6)))
        while await store.has_reports(run.run_id):  # what an applier does after releasing
            results.append(await store.apply_reports(run.run_id, decide))
        # Then each report was applied once, in the order parked, the memory with it
        assert sorted(s for batch in applied for s in batch) == sorted(
            f"s{i}" for i in range(12))
        events = await store.events(run.run_id)
        assert [e.step_id for e in events] == ["first", *(f"s{i}" for i in range(12))]
        assert [(m.key, m.value, m.at) for m in await store.memory(run.run_id)] == [
            ("steps.s0", {"n": 1.0}, entry.at)]
        # And an applier that found none has nothing to write, and a busy lock is no error
        assert any(took for took, _ in results)
        assert await store.apply_reports(run.run_id, lambda *a: None) == (True, None)
        assert not await store.has_reports(run.run_id)
        # And an unknown run has no applier and no reports, and parks nothing
        assert await store.apply_reports("nope", lambda *a: None) == (False, None)
        assert not await store.has_reports("nope")
        with pytest.raises(RunNotFound):
            await store.commit_or_park("nope", expected_version=0, state=None,
                                       status="running", events=[_event("done")])

    async def test_a_commit_claims_the_steps_it_starts_for_its_writer_in_the_same_statement(
            self, store: SharedStore) -> None:
        run = make_run()
        await store.create_run(run)
        claims = [NextClaim("next", 1, "w1", 30.0, "w1/x"), NextClaim("also", 2, "w1", 30.0,
                                                                      "w1/x")]
        # A commit that lands claims the steps it starts, and counts their first start
        got = await store.commit_or_park(
            run.run_id, expected_version=0, state=None, status="running", claim=claims,
            events=[_event("done", "first"), _event("step_started", "next")])
        assert got == (1, {"next", "also"}, {"next", "also"})
        assert not await store.claim_step(run.run_id, "next", 1, "w2", lease_s=30)
        assert not await store.claim_step(run.run_id, "also", 2, "w2", lease_s=30)
        assert await store.claim_step(run.run_id, "next", 1, "w1", lease_s=30)  # its own
        got2 = await store.begin_step(run.run_id, "next", 1, "w2", lease_s=30,
                                      marker_owner="w2/y", max_starts=3)
        assert (got2.claimed, got2.starts) == (False, None)
        # A commit that loses the race parks its report and claims nothing
        other = [NextClaim("other", 1, "w1", 30.0, "w1/z")]
        got = await store.commit_or_park(
            run.run_id, expected_version=0, state=None, status="running", claim=other,
            events=[_event("done", "s1"), _event("step_started", "other")])
        assert got == (None, frozenset(), frozenset())
        assert await store.claim_step(run.run_id, "other", 1, "w2", lease_s=30)
        # A step someone holds already is not claimed again, nor its start counted (the commit
        # still lands)
        got = await store.commit_or_park(
            run.run_id, expected_version=1, state=None, status="running",
            claim=[NextClaim("other", 1, "w1", 30.0, "w1/q")], events=[_event("done", "s2")])
        assert got == (2, frozenset(), frozenset())
        assert await store.claim_step(run.run_id, "other#run1", 1, "w2")
