"""One driver per run, and what a driver does with the work a dead one left in flight.

Owns:
- who this process is as a driver (`this_driver`: host, pid, the pid's start time, a nonce),
  and whether a lease holder seen in the store is dead (`holder_is_dead`: on this host, its
  pid is gone or is another process now; on another host it cannot be told, and the lease
  must lapse first);
- `drive_lease`: the lease a local executor takes before it reads a run to drive it, renews
  every third of its TTL (the heartbeat) and releases when it stops; a lost lease, or one that
  could not be renewed before it would lapse, cancels the driving task;
- the rule for which steps left in flight by a dead runner or worker may simply run again
  (`repeatable`: read-only steps, and gated steps whose plugin declares its effect idempotent
  for its key), and the sentence that tells a person how to answer for the others;
- ending what a dead runner's steps left running on this host (`reap_leftovers`): processes
  that carry a step's key in their environment (`STEP_KEY_ENV`, which the process plugins set
  on every process they start and which their children inherit), found in /proc.

It does not decide how a run proceeds (`engine.scheduler`) or talk to people
(`engine.interaction`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from engine.interaction import in_doubt_hint
from engine.plan import Step
from engine.plugins import Registry
from engine.store.base import Lease, LeaseHeld, Store

log = logging.getLogger("mendflow.driving")

STEP_KEY_ENV = "MENDFLOW_STEP_KEY"
"""Set to a step's idempotency key (`run:step:attempt`) in the environment of every process a
step starts, so that processes it leaves behind can be found and ended."""

LEASE_TTL_S = 15.0
"""A driver renews its lease every third of this; a driver that stops renewing (killed,
frozen) loses it this long after its last renewal. A dead driver on the same host is seen at
once and needs no wait."""


LEASE_LOST = "another process took over driving the run"
LEASE_UNRENEWED = "the driver's lease could not be renewed before it lapsed"
"""What a driver stopped by its lease is cancelled with (said in the run's reason)."""


@dataclass(frozen=True, slots=True)
class Driver:
    host: str
    pid: int
    holder: str  # "host|pid|start|nonce": unique, and says how to check the pid is still it


def this_driver() -> Driver:
    host, pid = socket.gethostname(), os.getpid()
    return Driver(host, pid, f"{host}|{pid}|{_start_time(pid)}|{uuid.uuid4().hex[:8]}")


def holder_is_dead(lease: Lease) -> bool:
    """Whether the lease's holder is known dead: on this host, its pid is gone or now belongs
    to a process started at another time. Elsewhere (or without /proc) it cannot be told."""
    parts = lease.holder.rsplit("|", 3)
    if len(parts) != 4 or lease.host != socket.gethostname():
        return False
    started = parts[2]
    if not started:
        return False  # the holder could not read its own start time: wait for the lapse
    return _start_time(lease.pid) != started


def _start_time(pid: int) -> str:
    """The pid's start time in clock ticks since boot (/proc/PID/stat field 22), '' if there
    is no such process or no /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    fields = stat.rpartition(")")[2].split()  # the name, in parentheses, may hold spaces
    return fields[19] if len(fields) > 19 else ""


@contextlib.asynccontextmanager
async def drive_lease(store: Store, run_id: str, *,
                      ttl_s: float = LEASE_TTL_S) -> AsyncIterator[Lease]:
    """Hold the run's lease while the body drives it: taken (from a dead holder on this host
    at once, from a lapsed one after its TTL), renewed in the background, released at the end.
    Raises `LeaseHeld` if a live process drives the run. If the lease is lost (this process
    was frozen for longer than the TTL and another took over), the body's task is cancelled."""
    me = this_driver()
    asked = asyncio.get_running_loop().time()  # the lease runs at least until asked + TTL
    try:
        lease = await store.take_lease(run_id, holder=me.holder, host=me.host, pid=me.pid,
                                       ttl_s=ttl_s)
    except LeaseHeld as exc:
        if not holder_is_dead(exc.lease):
            raise
        lease = await store.take_lease(run_id, holder=me.holder, host=me.host, pid=me.pid,
                                       ttl_s=ttl_s, replacing=exc.lease.holder)
    if lease.taken_over is not None:
        log.warning("run %s: took over from its dead driver (%s)", run_id,
                    lease.taken_over.describe())
    driving = asyncio.current_task()
    heartbeat = asyncio.create_task(_renew(store, run_id, me.holder, ttl_s, driving, asked),
                                    name=f"lease:{run_id}")
    try:
        yield lease
    finally:
        heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heartbeat
        with contextlib.suppress(Exception):  # not released: it lapses after the TTL
            await asyncio.shield(store.release_lease(run_id, holder=me.holder))


async def _renew(store: Store, run_id: str, holder: str, ttl_s: float,
                 driving: asyncio.Task[object] | None, renewed: float) -> None:
    """Renew the lease every third of its TTL. A renewal that fails (a store hiccup) is tried
    again at the next beat, unless that beat would come after the lease lapsed: from then on
    another process may take the run over, so this one stops first (two drivers would each
    run what is in flight)."""
    clock = asyncio.get_running_loop()  # the lease runs at least until `renewed + ttl_s`
    while True:
        await asyncio.sleep(ttl_s / 3)
        sent = clock.time()
        try:
            kept = await store.renew_lease(run_id, holder=holder, ttl_s=ttl_s)
        except Exception as exc:  # noqa: BLE001 - a store hiccup: try again next beat
            if clock.time() + ttl_s / 3 < renewed + ttl_s:
                log.warning("run %s: could not renew the driver's lease: %s", run_id, exc)
                continue
            log.error("run %s: the driver's lease could not be renewed before it lapses "
                      "(%s); this one stops", run_id, exc)
            if driving is not None:
                driving.cancel(LEASE_UNRENEWED)
            return
        if not kept:
            log.error("run %s: another process took over driving it; this one stops", run_id)
            if driving is not None:
                driving.cancel(LEASE_LOST)
            return
        renewed = sent


# -- work left in flight by a dead runner or worker --------------------------------------------


def repeatable(registry: Registry, step: Step) -> bool:
    """Whether a step that was in flight when its runner or worker died may run again without
    asking: read-only steps (at least once), and gated steps whose plugin declares its effect
    idempotent for its key (exactly once in effect). Any other gated step is in doubt."""
    if not step.mutating:
        return True
    if not step.plugin:
        return False
    return bool(registry.get(step.plugin).idempotent)


def in_doubt_reason(step_id: str, *, lost: str) -> str:
    """The note of a step put in doubt; `lost` names what died ("runner", "worker")."""
    return f"step '{step_id}' was running when its {lost} died; its outcome is unknown"


def interrupted_reason(reasons: list[tuple[str, str]]) -> str:
    """The run's reason while it waits for answers: each (step, note), and the flags."""
    return "; ".join(f"{note}: not run again unless a person says so ({in_doubt_hint(sid)})"
                     for sid, note in reasons)


def reap_leftovers(key_prefix: str) -> list[int]:
    """SIGKILL every process on this host whose environment says it belongs to a step whose
    key starts with `key_prefix` (`"RUN:"`: the whole run; `"RUN:STEP:N"`: one attempt), but
    not this process. Called by whoever takes over from a dead runner or worker, before it
    runs anything: a step's processes that outlived their runner (children of a stage, which
    the parent-death signal does not reach, even `setsid` ones) end here. Processes of other
    users cannot be read unless this one is root; returns the pids ended."""
    needle = f"{STEP_KEY_ENV}={key_prefix}".encode()
    ended: list[int] = []
    try:
        pids = [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return ended  # no /proc: nothing can be found
    for pid in pids:
        if pid == os.getpid():
            continue
        try:
            handle = os.pidfd_open(pid)  # first: a pid reused after this is not signalled
        except OSError:
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                environ = f.read()
            if any(entry.startswith(needle) for entry in environ.split(b"\0")):
                signal.pidfd_send_signal(handle, signal.SIGKILL)
                ended.append(pid)
        except OSError:
            continue  # gone, or not ours to read
        finally:
            os.close(handle)
    if ended:
        log.warning("ended %d process(es) left running by steps of %s: %s", len(ended),
                    key_prefix.rstrip(":"), ", ".join(map(str, ended)))
    return ended
