"""`CancelWatch`: the cancels asked through the store reach the runs this process drives, in
one store query a look however many runs it drives."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

from engine.runtime.services import Executor
from engine.serve.cancels import CancelWatch, ask
from engine.store import SqliteStore
from engine.store.base import Store
from tests.engine.store.contract import make_run


class _Counted:
    """The store, every call it gets written down (name and arguments)."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, (*args, *kwargs.values())))
            return await method(*args, **kwargs)
        return counted


class _Driver:
    """An executor as far as the watch sees it: the cancels it was asked, and whether it
    could act on them (False: not yet, say between two steps)."""

    def __init__(self, *, can: bool = True) -> None:
        self.asked: list[str] = []
        self.can = can

    def cancel(self, reason: str = "cancelled by the user") -> bool:
        self.asked.append(reason)
        return self.can


async def _until(check: Callable[[], object], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "waited in vain"
        await asyncio.sleep(0.01)


@asynccontextmanager
async def _runs(tmp_path: Path, names: list[str]) -> AsyncIterator[SqliteStore]:
    """A store holding running runs `names`, each with two step events."""
    async with SqliteStore(tmp_path / "m.sqlite3") as store:
        for name in names:
            await store.create_run(make_run(name))
            await store.commit(name, expected_version=0, state={}, status="running",
                               events=[("step_started", "check", 1, {}),
                                       ("step_succeeded", "check", 1, {"summary": "ok"})])
        yield store


def _stop(watch: CancelWatch) -> None:
    for run_id in list(watch._runs):
        watch.forget(run_id)
    if watch._poller is not None:
        watch._poller.cancel()


async def test_one_look_at_many_runs_is_one_store_call(tmp_path: Path) -> None:
    # Given eight runs this process drives, the last with a cancel asked at another server
    names = [f"run-{i}" for i in range(8)]
    async with _runs(tmp_path, names) as store:
        await ask(store, names[-1], reason="the alert resolved", by="alertmanager")
        counted = _Counted(store)
        watch = CancelWatch(cast(Store, counted), poll_s=3600)  # one look, then a long wait
        drivers = {name: _Driver() for name in names}
        # When the watch looks at them
        for name in names:
            watch.watch(name, cast(Executor, drivers[name]), from_start=True)
        try:
            await _until(lambda: drivers[names[-1]].asked)
            await asyncio.sleep(0.1)
            # Then the run is cancelled, the others are not, and the store was asked once
            assert drivers[names[-1]].asked == ["the alert resolved"]
            assert not any(drivers[name].asked for name in names[:-1])
            assert [name for name, _ in counted.calls] == ["notes_after"], counted.calls
        finally:
            _stop(watch)


async def test_later_looks_read_each_run_from_its_last_event(tmp_path: Path) -> None:
    # Given two runs watched, looked at once
    async with _runs(tmp_path, ["a", "b"]) as store:
        counted = _Counted(store)
        watch = CancelWatch(cast(Store, counted), poll_s=0.02)
        drivers = {"a": _Driver(), "b": _Driver()}
        watch.watch("a", cast(Executor, drivers["a"]), from_start=True)
        watch.watch("b", cast(Executor, drivers["b"]), from_start=True)
        try:
            await _until(lambda: counted.calls)
            # When run a writes more events, and b is asked to cancel
            await store.commit("a", expected_version=1, state=None, status="running",
                               events=[("step_started", "clean", 1, {})])
            await ask(store, "b", reason="an operator asked", by="oli")
            await _until(lambda: drivers["b"].asked)
            # Then each later look asks from the run's last event, not its first: what is
            # read is what was written since, whatever the run's length
            await _until(lambda: counted.calls[-1][1][1] == {"a": 3})  # b is cancelled here
            assert all(name == "notes_after" for name, _ in counted.calls)
            assert (drivers["a"].asked, drivers["b"].asked) == ([], ["an operator asked"])
        finally:
            _stop(watch)


async def test_a_resumed_run_acts_on_cancels_asked_after_its_resume_once(
        tmp_path: Path) -> None:
    async with _runs(tmp_path, ["resumed", "started", "busy", "gone"]) as store:
        # Given cancels asked before the watch: of a run resumed here and one started here
        await ask(store, "resumed", reason="before the resume", by="ann")
        await ask(store, "started", reason="asked early", by="ann")
        watch = CancelWatch(store, poll_s=0.02)
        drivers = {"resumed": _Driver(), "started": _Driver(), "busy": _Driver(can=False),
                   "gone": _Driver()}
        for name, driver in drivers.items():
            watch.watch(name, cast(Executor, driver), from_start=name != "resumed")
        try:
            # Then the started run's counts; the resumed run's was a word before its resume
            await _until(lambda: drivers["started"].asked)
            await asyncio.sleep(0.1)
            assert drivers["started"].asked == ["asked early"]
            assert drivers["resumed"].asked == []
            # When cancels are asked after: twice of the resumed run, of a run that cannot
            # act on it yet, and of a run no longer driven here
            await ask(store, "resumed", reason="after the resume", by="oli")
            await ask(store, "resumed", reason="again", by="pat")
            await ask(store, "busy", reason="first", by="oli")
            watch.forget("gone")
            await ask(store, "gone", reason="too late", by="oli")
            await _until(lambda: drivers["resumed"].asked and drivers["busy"].asked)
            await asyncio.sleep(0.1)
            # Then the resumed run is cancelled once; the busy one is asked again when
            # asked again; the forgotten one is left alone
            assert drivers["resumed"].asked == ["after the resume"]
            assert drivers["busy"].asked == ["first"]
            await ask(store, "busy", reason="second", by="oli")
            await _until(lambda: len(drivers["busy"].asked) == 2)
            assert drivers["busy"].asked == ["first", "second"]
            assert drivers["gone"].asked == []
            assert drivers["started"].asked == ["asked early"]  # once, however many looks
        finally:
            _stop(watch)
