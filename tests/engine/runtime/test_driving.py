"""One driver per run: the lease's holder identity, takeover of a dead holder, the heartbeat."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import BaseModel

from engine.plugins import PluginBase, Registry
from engine.runtime.driving import drive_lease, holder_is_dead, repeatable, this_driver
from engine.store.base import Lease, LeaseHeld

from .conftest import sh, step


def _lease(holder: str, host: str, pid: int) -> Lease:
    now = datetime.now(UTC)
    return Lease(run_id="r", holder=holder, host=host, pid=pid, since=now,
                 expires_at=now + timedelta(seconds=30))


def test_a_holder_is_dead_only_when_this_host_can_tell() -> None:
    me = this_driver()
    assert not holder_is_dead(_lease(me.holder, me.host, me.pid))
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    pid = int(gone.stdout)
    host = socket.gethostname()
    assert holder_is_dead(_lease(f"{host}|{pid}|123|abcd", host, pid))  # exited
    # a live pid with another start time is another process: the holder died
    assert holder_is_dead(_lease(f"{host}|{os.getpid()}|1|abcd", host, os.getpid()))
    assert not holder_is_dead(_lease(f"elsewhere|{pid}|1|abcd", "elsewhere", pid))


async def test_a_dead_holders_lease_is_taken_at_once(store) -> None:  # noqa: ANN001
    record = await _run(store)
    host = socket.gethostname()
    await store.take_lease(record, holder=f"{host}|999999|1|dead", host=host, pid=999999,
                           ttl_s=60)
    async with drive_lease(store, record) as lease:
        assert lease.taken_over is not None and lease.taken_over.pid == 999999


async def test_a_live_holder_is_refused_and_a_lost_lease_stops_the_driver(store) -> None:  # noqa: ANN001
    record = await _run(store)
    await store.take_lease(record, holder="elsewhere|1|1|x", host="elsewhere", pid=1,
                           ttl_s=60)
    with pytest.raises(LeaseHeld):
        async with drive_lease(store, record):
            pass
    await store.release_lease(record, holder="elsewhere|1|1|x")

    async def drive() -> None:
        async with drive_lease(store, record, ttl_s=0.3) as lease:
            # another process takes over (as if this one had been frozen past the TTL)
            await store.take_lease(record, holder="other", host="h", pid=2, ttl_s=60,
                                   replacing=lease.holder)
            await asyncio.sleep(5)
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(drive(), timeout=3)


async def _run(store) -> str:  # noqa: ANN001
    from engine.runtime.executor import new_run_id
    from tests.engine.store.contract import make_run

    run = make_run(new_run_id())
    await store.create_run(run)
    return run.run_id


def test_what_may_run_again_after_a_crash() -> None:
    class Keyed(PluginBase):
        name, idempotent = "keyed", True
        Params = BaseModel

        async def run(self, **_: object) -> None: ...

    class Plain(PluginBase):  # says nothing of idempotency: not idempotent
        name = "plain"
        Params = BaseModel

        async def run(self, **_: object) -> None: ...

    registry = Registry(discover=False, extra={"keyed": Keyed, "plain": Plain})
    assert repeatable(registry, sh("look", "ls"))  # read-only
    assert not repeatable(registry, step("act", plugin="plain", mutating=True))
    assert repeatable(registry, step("act", plugin="keyed", mutating=True))
    assert not repeatable(registry, step("gate", kind="manual", mutating=True))


def test_leftovers_are_found_by_their_step_key_and_only_theirs() -> None:
    from engine.runtime.driving import STEP_KEY_ENV, reap_leftovers

    def sleeper(key: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(["sleep", "30"], env={**os.environ, STEP_KEY_ENV: key})

    mine, attempt2, other = sleeper("run-x:s:1"), sleeper("run-x:s:2"), sleeper("run-xy:s:1")
    try:
        assert reap_leftovers("run-x:s:1") == [mine.pid]
        assert mine.wait(timeout=5) == -9
        assert reap_leftovers("run-x:") == [attempt2.pid]  # the whole run; not run-xy
        assert attempt2.wait(timeout=5) == -9 and other.poll() is None
    finally:
        for proc in (mine, attempt2, other):
            proc.kill()
            proc.wait()
