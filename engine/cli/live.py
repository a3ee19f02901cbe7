"""What a person sees and answers while a run goes: the live table and terminal prompts."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from rich.live import Live
from rich.markup import escape
from rich.prompt import Confirm
from rich.table import Table
from rich.text import Text

from engine.cli._app import STATUS_STYLE, out
from engine.learn.signatures import of_failure
from engine.store.base import SignatureStats

T = TypeVar("T")


class _LiveView:
    """Steps with status, duration and what each found, redrawn as the run goes."""

    def __init__(self, plan: Any, *, interactive: bool) -> None:
        self.plan = plan
        self.rows: dict[str, dict[str, Any]] = {
            s.id: {"status": "pending", "duration": None, "summary": "", "attempt": 0}
            for s in plan.steps
        }
        self.interactive = interactive
        self.live: Live | None = None
        self.run_id: str | None = None  # known once the run has started
        self.waiting: set[str] = set()  # steps queued for a concurrency slot
        # Steps flagged as stragglers (working past their history's p99): what was said.
        self.stragglers: dict[str, str] = {}
        # The guide's failure signatures other runs had (`engine.learn`), by signature id,
        # loaded when the run starts: a step failing the same way says so as it fails.
        self.known: dict[str, SignatureStats] = {}
        self.recurring: dict[str, str] = {}  # step -> "seen N times since ...; last fixed by"

    def table(self) -> Table:
        table = Table(title=self.plan.title, expand=True, show_edge=False)
        table.add_column("", width=1)
        table.add_column("step", no_wrap=True)
        table.add_column("s", justify="right", width=7)
        table.add_column("found", overflow="ellipsis", no_wrap=True, ratio=1)
        for step in self.plan.steps:
            row = self.rows[step.id]
            icon, style = STATUS_STYLE.get(row["status"], ("?", ""))
            dur = f"{row['duration']:.2f}" if row["duration"] is not None else ""
            summary = " ".join(str(row["summary"]).split())[:200]
            slow = self.stragglers.get(step.id)
            if slow is not None:  # flagged while it ran: it stays marked
                style, dur = "bold magenta", f"{dur}!" if dur else "slow!"
                summary = slow if row["status"] in ("running", "queued") else \
                    f"[straggler] {summary}"
            table.add_row(Text(icon, style=style), Text(step.id, style=style), dur,
                          Text(summary))
        return table

    def __call__(self, update: Any) -> None:
        self.run_id = update.run_id or self.run_id
        if update.state is not None:
            for sid, st in update.state.steps.items():
                if sid in self.rows:
                    status = str(st.status)
                    self.rows[sid]["status"] = (
                        "queued" if status == "running" and sid in self.waiting else status)
        if update.kind == "step_started" and update.step_id in self.rows:
            self.rows[update.step_id]["status"] = "running"
        if update.kind in ("step_waiting", "step_working") and update.step_id in self.rows:
            waiting = update.kind == "step_waiting"
            (self.waiting.add if waiting else self.waiting.discard)(update.step_id)
            row = self.rows[update.step_id]
            row["status"] = "queued" if waiting else "running"
            row["summary"] = "waiting for a concurrency slot" if waiting else ""
        if update.kind == "step_straggler" and update.step_id in self.rows:
            self.stragglers[update.step_id] = update.summary
            if not self.interactive:
                out.print(f"! {update.step_id} {update.summary}", highlight=False,
                          markup=False)
        if update.kind == "step_finished" and update.step_id in self.rows:
            self.waiting.discard(update.step_id)
            row = self.rows[update.step_id]
            row["duration"] = update.duration_s
            row["summary"] = update.summary
            if update.state is None and update.status:  # no state to read it from
                row["status"] = update.status
            if update.error and self.known:
                stats = self.known.get(of_failure(update.error).id)
                if stats is not None:
                    self.recurring[update.step_id] = note = stats.describe()
                    row["summary"] = f"[known failure: {note}] {row['summary']}"
            if not self.interactive:
                icon, _ = STATUS_STYLE.get(row["status"], ("?", ""))
                dur = f"{update.duration_s:.2f}s" if update.duration_s is not None else ""
                out.print(f"{icon} {update.step_id} {row['status']} {dur} "
                          f"{' '.join(str(update.summary).split())[:160]}", highlight=False,
                          markup=False)
                if update.step_id in self.recurring:
                    out.print(f"  known failure: {self.recurring[update.step_id]}",
                              highlight=False, markup=False)
        if self.live is not None:
            self.live.update(self.table())

    def pause(self) -> None:
        if self.live is not None:
            self.live.stop()

    def resume(self) -> None:
        if self.live is not None:
            self.live.start()


class _TerminalPrompt:
    """Asks a person at the terminal; the live view pauses while it asks."""

    def __init__(self, view: _LiveView) -> None:
        self.view = view

    async def _ask(self, question: str, detail: str) -> bool:
        self.view.pause()
        try:
            out.print(detail, highlight=False, markup=False)
            return await _in_daemon_thread(Confirm.ask, question, console=out)
        except asyncio.CancelledError:
            out.print("\n(no answer: the run was stopped)", highlight=False)
            raise
        finally:
            self.view.resume()

    async def approve(self, *, step: Any, action: str, commands: Sequence[str] = ()) -> Any:
        from engine.interaction import Answer

        ok = await self._ask(f"[bold]Approve[/bold] {step.id}?", f"\nAbout to run: {action}")
        return Answer(ok, "terminal")

    async def confirm_manual(self, *, step: Any, instructions: str) -> Any:
        from engine.interaction import Answer

        ok = await self._ask(f"Done with [bold]{step.id}[/bold]?",
                             f"\nDo this by hand: {instructions}")
        return Answer(ok, "terminal")

    async def settle_in_doubt(self, *, step: Any, reason: str) -> Any:
        from engine.interaction import IN_DOUBT_FLAGS, InDoubtReply

        again = await self._ask(f"Run [bold]{step.id}[/bold] again?",
                                f"\n{reason}: {step.title}")
        if again:
            return InDoubtReply("rerun", "terminal")
        done = await self._ask(f"Take [bold]{step.id}[/bold] as done (no: as failed)?",
                               f"\nNot run again. (Or resume with {IN_DOUBT_FLAGS['done']} / "
                               f"{IN_DOUBT_FLAGS['failed']} {step.id}.)")
        return InDoubtReply("done" if done else "failed", "terminal")

    async def judge(self, *, step: Any, edge: Any, evidence: str) -> Any:
        from engine.interaction import Answer

        text = edge.condition.text if edge.condition else edge.target
        ok = await self._ask(f"Does this hold? [bold]{escape(text)}[/bold] "
                             f"(--answer {step.id}=yes|no)",
                             f"\nThe evidence:\n{evidence[:1500]}")
        return Answer(ok, "terminal")


async def _in_daemon_thread(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking prompt in a daemon thread. Unlike `asyncio.to_thread`, a Ctrl-C or
    SIGTERM while it waits for a keypress stops the run at once: the thread blocked on the
    terminal is abandoned (it dies with the process) instead of being waited for."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def work() -> None:
        try:
            result, error = fn(*args, **kwargs), None
        except BaseException as exc:  # noqa: BLE001 - handed over to the awaiting task
            result, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=work, name="mendflow-prompt", daemon=True).start()
    return await future
