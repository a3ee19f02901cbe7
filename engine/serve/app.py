"""`mendflow serve`: Alertmanager's alerts in, the matching guide run, runs and alerts out.

An ASGI application (FastAPI) on the same run core and store as the CLI: the embedded store
and local executor by default, PostgreSQL and Celery when configured. Built once per process
by `create_app`; every request reads the store, so several `serve` processes behind a load
balancer on one PostgreSQL agree (and never start two runs for one alert group: the claim is a
unique key in the store, `Store.claim_alert_group`).

What it does with a notification (`POST /api/v1/alerts`):

1. the body (at most `max_body_bytes`) is validated as Alertmanager's webhook; a bad one is a
   400 with the reason and nothing starts;
2. each firing alert is routed to the most specific guide whose `triggers` match it; none:
   recorded `unmatched`, never dropped;
3. its labels and annotations are checked against the guide's typed inputs before anything
   is claimed: a value that does not fit is recorded `refused` with the reason (an alert never
   injects: values stay values);
4. the alert group claims its run (`groupKey` + guide): a group whose run is live gets no
   second one (recorded `deduped`, with the live run); else the run takes one of its guide's
   slots (`max_runs_per_guide` live runs of a guide across every process on the store,
   `engine.serve.slots`; none free: recorded `refused`, the claim given back); then the
   run's row is written (on the local executor) and its driving starts in the background:
   at once, or, while other notifications are being taken in, paced behind them
   (`engine.serve.starts`: a storm of alerts does not starve the intake),
   with the operator's approval policy from mendflow.toml (`[policy] auto_approve`); a gate
   the policy does not cover waits for an approver (below);
5. a `resolved` notification is recorded; with `on_resolved = "cancel"` the group's live run
   (unless another alert of the notification, routed to the same guide, still fires) is
   cancelled (its clean-up steps run): at once when this process drives it, else through
   the store (`engine.serve.cancels`: a committed `cancel_asked` note that the process
   driving the run sees within `cancel_poll_s`). An operator's cancel of a run driven by
   another process goes the same way.

Questions the options and policy do not answer (an approval, a manual step, a judgment) wait
for a person: `GET /api/v1/questions`, answered by `POST /api/v1/runs/ID/steps/STEP/answer`
(approvals by an approver), recorded with who, when and from where.

When a run asks a person and when it ends, the configured webhooks are told, with a link to
the run (`engine.serve.notify`), off the run's path.

`GET /metrics` is Prometheus's exposition of `engine.metrics` (alerts by disposition, runs
started and ended, step durations, queue waits, steps running, questions waiting and the age
of the oldest, read from the store at each scrape): open, as exporters are, unless a metrics
token is set (MENDFLOW_METRICS_TOKEN, or mendflow.toml `[serve] metrics_token_env`).

The web UI (`engine.serve.ui`, at /ui) shows the same runs live. The endpoints are listed in
/docs (OpenAPI).
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field, ValidationError

from engine import metrics
from engine.errors import InputError, MendflowError, PlanError
from engine.interaction import load_auto_approve
from engine.plan import Plan
from engine.runtime.executor import LocalExecutor, new_run_id
from engine.runtime.memory import build_context
from engine.runtime.services import Executor, ExecutorFactory, Services, answers_for
from engine.serve import cancels, views
from engine.serve.alerts import Alert, Notification, Route, Router, duplicate_key
from engine.serve.auth import Caller, Tokens
from engine.serve.notify import Delivery, Notifier, NotifyConfig
from engine.serve.resuming import ReplayRequest, ResumeRequest, check_resumable
from engine.serve.slots import GuideSlots
from engine.serve.starts import RunStarts
from engine.serve.ui import mount_ui
from engine.store.base import (
    AlertRecord,
    EventRecord,
    LeaseHeld,
    Question,
    RunOptions,
    RunRecord,
    Store,
)
from engine.stragglers import BaselineCache

log = logging.getLogger("mendflow.serve")

MAX_BODY_BYTES = 1_000_000


class Reply(BaseModel):
    yes: bool = Field(description="approve / done / the condition holds (false: deny, not "
                      "done, does not hold)")


@dataclass
class ServeConfig:
    guides: Path
    tokens: Tokens
    executor: str = "local"
    on_resolved: Literal["record", "cancel"] = "record"
    max_body_bytes: int = MAX_BODY_BYTES
    max_runs_per_guide: int = 4  # live runs of one guide, across every process on the store
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    metrics_token: str | None = None  # GET /metrics then needs it as a bearer token
    # while other alerts are being taken in, runs start one per `start_pace_s`, each within
    # `start_max_defer_s` of its alert (well inside the store's one-minute claim of a group
    # whose run is not yet written): `RunStarts`
    start_pace_s: float = 0.05
    start_max_defer_s: float = 15.0
    # how often the runs driven here are looked at for a cancel asked through the store
    cancel_poll_s: float = cancels.POLL_S


@dataclass
class _Live:
    """Runs this process started and still drives (or follows), by run id."""

    executors: dict[str, Executor] = field(default_factory=dict)
    tasks: set[asyncio.Task[RunRecord]] = field(default_factory=set)
    groups: dict[str, str] = field(default_factory=dict)  # alert group -> its live run here


def _caller(right: str) -> Callable[[Request], Awaitable[Caller]]:
    """A dependency: the caller of the request, if its bearer token grants `right`."""

    async def check(request: Request) -> Caller:
        tokens: Tokens = request.app.state.config.tokens
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        who = tokens.caller(token.strip()) if scheme.lower() == "bearer" else None
        if who is None:
            raise HTTPException(401, "a bearer token is needed (MENDFLOW_API_TOKENS)",
                                headers={"WWW-Authenticate": "Bearer"})
        if not who.may(right):
            raise HTTPException(403, f"{who.name} ({who.role}) may not {right}")
        return who
    return check


Reader = Annotated[Caller, Depends(_caller("read"))]
Operator = Annotated[Caller, Depends(_caller("act"))]
Alerter = Annotated[Caller, Depends(_caller("alerts"))]


def create_app(config: ServeConfig, services: Services, router: Router,
               factory: ExecutorFactory, *, intake_store: Store | None = None) -> FastAPI:
    """`intake_store`: the same store opened apart (its own connections), for the intake's
    writes (claims, slots, run rows, alerts), so that the runs this process drives (their
    commits, lease and slot renewals) never hold the connections an alert waits for; by
    default the one store."""
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        notifier.start()  # every run's questions and ends, whoever drives it
        yield

    app = FastAPI(title="Mendflow", summary="Alerts in, guides run, runs out.",
                  version="1", lifespan=lifespan)
    app.state.config = config
    live = _Live()
    policy = load_auto_approve(services.settings.config_file,
                               required=services.settings.config_required)
    store = services.store
    baselines = BaselineCache(store)  # each run's step histories, read once per run
    notifier = Notifier(config.notify, store, services.redact)
    slots = GuideSlots(store, config.max_runs_per_guide)
    intake = intake_store or store
    intake_slots = GuideSlots(intake, config.max_runs_per_guide)
    starts = RunStarts(pace_s=config.start_pace_s, max_defer_s=config.start_max_defer_s)
    lint = views.LintStatus()
    cancel_watch = cancels.CancelWatch(store, config.cancel_poll_s)
    app.state.notifier = notifier

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/api/v1/alerts")
    async def receive(request: Request, who: Alerter) -> dict[str, Any]:
        with starts.intake():
            return await _receive(request)

    async def _receive(request: Request) -> dict[str, Any]:
        body = await _limited_body(request, config.max_body_bytes)
        twice = duplicate_key(body)
        if twice is not None:
            raise HTTPException(400, f"not an Alertmanager webhook (version 4): the key "
                                     f"{twice[:60]!r} is in one object twice")
        try:
            note = Notification.model_validate_json(body)
        except ValidationError as exc:
            raise HTTPException(400, f"not an Alertmanager webhook (version 4): "
                                     f"{_first_error(exc)}") from None
        # the groups an alert of this notification still fires in: Alertmanager sends every
        # alert of a group, and one that resolved (a flapping metric, anyone's) does not end
        # the run the others still need
        firing = {_group(note, route) for alert in note.alerts if alert.status == "firing"
                  for route in (router.route(alert),) if route is not None}
        results = [await _take(note, alert, firing) for alert in note.alerts]
        for result in results:
            metrics.alert_received(result["disposition"])
        return {"groupKey": note.groupKey, "alerts": results}

    @app.get("/metrics", include_in_schema=False)
    async def metrics_page(request: Request) -> Response:
        """Prometheus's text exposition of the engine's metrics."""
        if config.metrics_token:
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                    token.strip().encode(), config.metrics_token.encode()):
                raise HTTPException(401, "the metrics token is needed (MENDFLOW_METRICS_TOKEN)",
                                    headers={"WWW-Authenticate": "Bearer"})
        try:
            metrics.questions_waiting(await store.questions())
        except MendflowError as exc:  # the store is away: the rest is still worth scraping
            log.warning("metrics: questions waiting not read: %s", exc.message)
        return Response(metrics.exposition(), media_type=metrics.CONTENT_TYPE)

    async def _take(note: Notification, alert: Alert,
                    firing: frozenset[str] | set[str] = frozenset()) -> dict[str, Any]:
        route = router.route(alert)
        base = AlertRecord(received_at=datetime.now(UTC), group_key=note.groupKey,
                           alertname=alert.name, status=alert.status,
                           disposition="unmatched", labels=alert.labels,
                           annotations=alert.annotations, fingerprint=alert.fingerprint)
        if alert.status == "resolved":
            record = base.model_copy(update={"disposition": "resolved",
                                             "guide": str(route.guide) if route else None})
            if route is not None and _group(note, route) in firing:
                record = record.model_copy(update={
                    "run_id": live.groups.get(_group(note, route)),
                    "detail": "an alert of its group is still firing: its run goes on"})
            elif route is not None and config.on_resolved == "cancel":
                held = live.groups.get(_group(note, route), "")
                starts.hurry(held)  # not yet started (the intake was busy): start it now
                executor = live.executors.get(held)
                if executor is not None and executor.cancel("the alert resolved"):
                    record = record.model_copy(update={"run_id": held,
                                                       "detail": "its run was cancelled"})
                elif executor is None:  # driven elsewhere, if live: asked through the store
                    record = await _cancel_elsewhere(_group(note, route), record)
            elif route is not None and _group(note, route) in live.groups:
                record = record.model_copy(update={"run_id": live.groups[_group(note, route)]})
            record = await _keep(record)
            if record.run_id:
                await _note(record.run_id, "alert_resolved", record)
            return _said(record)
        if route is None:
            base = await _keep(base)
            return _said(base)
        guide = str(route.guide)
        alert_data = {"labels": alert.labels, "annotations": alert.annotations,
                      "status": alert.status}
        try:  # typed inputs first: a label that does not fit refuses the run, not the server
            build_context(route.plan, run_id="check", inputs={}, alert=alert_data)
        except MendflowError as exc:
            record = base.model_copy(update={"disposition": "refused", "guide": guide,
                                             "detail": exc.message})
            record = await _keep(record)
            return _said(record)
        run_id = new_run_id()
        group = _group(note, route)
        # the store's claim is the truth (it reads the held run's status): this process's own
        # map of groups lags a run's end by its driver's last steps (learning from the run,
        # releasing its slot), and a repeat in that window was deduped against an ended run
        held = await intake.claim_alert_group(group, run_id=run_id, guide=guide)
        if held == run_id and not await intake_slots.take(route.plan.id, run_id):
            await intake.release_alert_group(group, run_id=run_id)  # no run: the group is free
            record = base.model_copy(update={
                "disposition": "refused", "guide": guide,
                "detail": f"{config.max_runs_per_guide} runs of this guide are live"})
            record = await _keep(record)
            return _said(record)
        if held != run_id:
            record = base.model_copy(update={"disposition": "deduped", "guide": guide,
                                             "run_id": held})
            record = await _keep(record)
            await _note(held, "alert_repeated", record)
            return _said(record)
        try:
            await _start(route, run_id, alert_data, group)
        except BaseException:  # no run: the group and the slot are free again
            await asyncio.shield(_give_back(route.plan.id, group, run_id))
            raise
        record = base.model_copy(update={"disposition": "started", "guide": guide,
                                         "run_id": run_id})
        record = await _keep(record)
        return _said(record)

    async def _keep(record: AlertRecord) -> AlertRecord:
        """The alert's record, stored and answered with the data sources' secrets masked: a
        label or annotation is written by whoever controls a metric, and may be one (the run's
        context is masked the same way)."""
        record = AlertRecord.model_validate(services.redact(record.model_dump()))
        await intake.record_alert(record)
        return record

    async def _cancel_elsewhere(group: str, record: AlertRecord) -> AlertRecord:
        """The group's run, driven by another process (or by none): its cancel noted in the
        store, where its driver sees it."""
        held = await intake.alert_group_run(group)
        if held is None:
            return record
        try:
            run = await intake.get_run(held)
        except MendflowError:  # claimed, its row not yet written (a Celery start): nothing
            return record      # to note it on; its run goes on
        if run.status != "running":
            return record.model_copy(update={"run_id": held})
        await cancels.ask(intake, held, reason="the alert resolved", by="alertmanager",
                          source=f"alert group {record.group_key}")
        return record.model_copy(update={
            "run_id": held, "detail": "its run's cancel was asked (driven elsewhere)"})

    async def _give_back(plan_id: str, group: str, run_id: str) -> None:
        await intake.release_alert_group(group, run_id=run_id)
        await slots.release(plan_id, run_id)

    async def _note(run_id: str, kind: str, record: AlertRecord) -> None:
        """The notification, on its run's events (a group claimed by a run not yet written
        has none to note it on: the alert record keeps it)."""
        try:
            await intake.add_note(run_id, kind, {
                "group_key": record.group_key, "alertname": record.alertname,
                "status": record.status, "fingerprint": record.fingerprint,
                "received_at": record.received_at.isoformat(), "detail": record.detail})
        except MendflowError as exc:
            log.info("alert %s of run %s not noted on the run: %s", kind, run_id, exc.message)

    async def _start(route: Route, run_id: str, alert_data: dict[str, Any],
                     group: str) -> None:
        """Write the run's row now, where the executor writes it apart (the local one), and
        hand its driving to `starts`: at once, or once the intake is less busy."""
        options = RunOptions(executor=config.executor, auto_approve=policy, ask_people=True)
        executor = factory(services, interaction=answers_for(options, store=store,
                                                             run_id=run_id))
        guide = str(route.guide)
        go: Callable[[], Awaitable[RunRecord]]
        if isinstance(executor, LocalExecutor):
            record = await executor.create(route.plan, guide_path=guide, alert=alert_data,
                                           options=options, run_id=run_id, store=intake)
            go = functools.partial(executor.drive, route.plan, record)
        else:  # it writes the run as it starts it: not deferred (a run not written when
            # the process stops would be lost, its group claimed for a minute)
            go = functools.partial(executor.start, route.plan, guide_path=guide,
                                   alert=alert_data, options=options, run_id=run_id)
        live.groups[group] = run_id
        launch = functools.partial(_launch, executor, run_id, route.plan.id, guide, group, go,
                                   from_start=True)
        if isinstance(executor, LocalExecutor):
            starts.add(run_id, launch)
        else:
            launch()

    def _launch(executor: Executor, run_id: str, plan_id: str, guide: str, group: str | None,
                go: Callable[[], Awaitable[RunRecord]], *, from_start: bool) -> None:
        """Drive (or follow) the run in the background, holding its guide's slot (taken by
        the caller), told to the webhooks when it asks a person and when it ends, cancelled
        when a cancel is asked through the store (`from_start`: a run started here, not a
        resumed one: a cancel noted before it counts too)."""
        live.executors[run_id] = executor
        cancel_watch.watch(run_id, executor, from_start=from_start)
        holding = asyncio.get_running_loop().create_task(slots.hold(plan_id, run_id))

        async def drive() -> RunRecord:
            try:
                record = await go()
            except MendflowError as exc:  # recorded on the run where it has one
                log.error("run %s of %s: %s", run_id, guide, exc)
                if not isinstance(exc, LeaseHeld):  # another process drives it: not ended
                    notifier.failed(run_id, guide, exc.message)
                raise
            finally:
                live.executors.pop(run_id, None)
                cancel_watch.forget(run_id)
                notifier.unwatch(run_id)
                if group is not None and live.groups.get(group) == run_id:
                    del live.groups[group]
                holding.cancel()
                await slots.release(plan_id, run_id)
            notifier.ended(record)
            return record

        task = asyncio.get_running_loop().create_task(drive(), name=f"run:{run_id}")
        notifier.watch(run_id)
        live.tasks.add(task)
        task.add_done_callback(live.tasks.discard)

    @app.get("/api/v1/alerts")
    async def alerts(who: Reader, disposition: str | None = None,
                     limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[AlertRecord]:
        return await store.alerts(limit=limit, disposition=disposition)

    @app.get("/api/v1/runs")
    async def runs(who: Reader, status: str | None = None, outcome: str | None = None,
                   guide: str | None = None,
                   limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> list[dict[str, Any]]:
        found = await store.list_runs(limit=limit if not (status or outcome or guide)
                                      else 1000)
        chosen = [r for r in found if (status is None or r.status == status)
                  and (outcome is None or r.outcome == outcome)
                  and (guide is None or r.guide_path == guide)][:limit]
        return [_run_summary(r) for r in chosen]

    @app.get("/api/v1/runs/{run_id}")
    async def one_run(run_id: str, who: Reader) -> dict[str, Any]:
        from engine.learn.record import run_lessons
        from engine.report import build_view

        record = await _get_run(run_id)
        plan = await store.load_plan(record.plan_hash)
        memory = await store.memory(run_id)  # first: see build_view
        events = await store.events(run_id)
        view = build_view(record, plan, events, memory)
        lessons = await run_lessons(store, record, plan, events)
        view.history = await baselines.of(run_id, record.plan_id, record.created_at)
        asked = await store.questions(run_id=run_id, pending=False)
        return {**_run_summary(record), "conclusion": view.conclusion, "why": view.why,
                **lessons.as_json(),
                "questions": [q.model_dump(mode="json") for q in asked],
                "steps": [{"id": r.step_id, "title": r.title, "kind": r.kind,
                           "status": r.status, "attempts": r.attempts,
                           "duration_s": r.duration_s, "summary": r.summary,
                           "error": r.error, "history": view.history.of(r.step_id).to_json(),
                           "straggler": view.straggler(r),
                           "flagged": (view.flagged[r.step_id].to_json()
                                       if r.step_id in view.flagged else None)}
                          for r in view.rows]}

    @app.get("/api/v1/runs/{run_id}/events")
    async def run_events(run_id: str, who: Reader,
                         after: Annotated[int, Query(ge=0)] = 0) -> list[EventRecord]:
        """The run's events after seq `after`: its steps' transitions, and notes such as a
        repeat of its alert (`alert_repeated`) or its resolution (`alert_resolved`)."""
        await _get_run(run_id)
        return await store.events(run_id, after=after)

    @app.get("/api/v1/runs/{run_id}/report", response_class=PlainTextResponse)
    async def report(run_id: str, who: Reader) -> str:
        return (await _report(run_id))[0]

    @app.get("/api/v1/runs/{run_id}/report.html", response_class=HTMLResponse)
    async def report_page(run_id: str, who: Reader) -> HTMLResponse:
        """The report as a page (no script runs in it: its values are text)."""
        markdown, record = await _report(run_id)
        return HTMLResponse(views.report_html(markdown, f"{record.title} ({run_id})"),
                            headers={"Content-Security-Policy": views.REPORT_CSP})

    async def _report(run_id: str) -> tuple[str, RunRecord]:
        from engine.learn.record import run_lessons
        from engine.report import build_view, render_markdown

        record = await _get_run(run_id)
        plan = await store.load_plan(record.plan_hash)
        memory = await store.memory(run_id)  # first: see build_view
        events = await store.events(run_id)
        view = build_view(record, plan, events, memory)
        lessons = await run_lessons(store, record, plan, events)
        view.recurring, view.cause = lessons.recurring, lessons.cause
        view.history = await baselines.of(run_id, record.plan_id, record.created_at)
        view.llm_usage = await store.llm_usage(run_id)
        view.answers = await store.questions(run_id=run_id, pending=False)
        return render_markdown(view), record

    @app.get("/api/v1/runs/{run_id}/graph")
    async def run_graph(run_id: str, who: Reader) -> dict[str, Any]:
        """The run's plan as nodes and edges, each step with its status in the run."""
        from engine.report import build_view

        record = await _get_run(run_id)
        plan = await store.load_plan(record.plan_hash)
        view = build_view(record, plan, [], [])
        return {"run_id": run_id, "status": record.status,
                **views.graph(plan, {r.step_id: r.status for r in view.rows})}

    @app.get("/api/v1/questions")
    async def questions(who: Reader, run_id: str | None = None) -> list[Question]:
        """Questions runs are waiting on (approvals, manual steps, judgments)."""
        return await store.questions(run_id=run_id)

    # a linked guide's questions are kept as CALL/KEY (fix/restart)
    @app.post("/api/v1/runs/{run_id}/steps/{step_id:path}/answer")
    async def answer(run_id: str, step_id: str, reply: Reply, request: Request,
                     who: Operator) -> Question:
        """Answer a waiting question: an approval needs the approver role; a manual step or
        a judgment, an operator. Recorded with who, when and from where; the first answer
        stands."""
        asked = [q for q in await store.questions(run_id=run_id, pending=False)
                 if q.step_id == step_id]
        if not asked:
            raise HTTPException(404, f"run {run_id} asked nothing at step {step_id}")
        if asked[0].kind == "approve" and not who.may("approve"):
            raise HTTPException(403, f"{who.name} ({who.role}) may not approve: an approver "
                                     "must")
        source = request.client.host if request.client else "unknown"
        answered = await store.answer_question(run_id, step_id, yes=reply.yes, by=who.name,
                                               source=source)
        if answered is None:
            raise HTTPException(409, f"already answered by {asked[0].by} at "
                                     f"{asked[0].answered_at}")
        return answered

    @app.post("/api/v1/runs/{run_id}/cancel")
    async def cancel(run_id: str, request: Request, who: Operator) -> dict[str, Any]:
        """Cancel a running run: at once if this server drives it, else through the store
        (`engine.serve.cancels`: the process that drives it cancels it when it sees it)."""
        source = request.client.host if request.client else "unknown"
        return await cancel_run(run_id, by=who.name, source=source)

    async def cancel_run(run_id: str, *, by: str, source: str) -> dict[str, Any]:
        """The API's and the web UI's cancel."""
        record = await _get_run(run_id)
        starts.hurry(run_id)  # not yet started (the intake was busy): start it now
        executor = live.executors.get(run_id)
        if record.status != "running":
            raise HTTPException(409, f"run {run_id} is {record.status}: nothing to cancel")
        if executor is not None:
            return {"run_id": run_id, "cancelling": executor.cancel(f"cancelled by {by}"),
                    "driven_here": True}
        await cancels.ask(store, run_id, reason=f"cancelled by {by}", by=by, source=source)
        return {"run_id": run_id, "cancelling": True, "driven_here": False}

    @app.get("/api/v1/notifications")
    async def notifications(who: Reader, run_id: str | None = None) -> list[Delivery]:
        """This process's recent webhook delivery attempts, newest first (URLs not shown)."""
        return [d for d in reversed(notifier.deliveries) if run_id in (None, d.run_id)]

    @app.post("/api/v1/runs/{run_id}/resume")
    async def resume(run_id: str, request: Request, who: Operator,
                     body: ResumeRequest | None = None) -> dict[str, Any]:
        """Continue a run that stopped without ending (interrupted, or its driver died);
        finished steps do not run again. A step in doubt runs again, or is taken as done or
        failed, only as `rerun` / `mark_done` / `mark_failed` say (an approver's call)."""
        record = await _get_run(run_id)
        plan = await store.load_plan(record.plan_hash)
        in_doubt = await check_resumable(store, record, plan, body or ResumeRequest(), who=who,
                                         executor=config.executor,
                                         driven_here=run_id in live.executors
                                         or run_id in starts)
        if not await slots.take(plan.id, run_id):
            raise HTTPException(409, f"{config.max_runs_per_guide} runs of this guide are "
                                     "live: resume it when one ends")
        if run_id in live.executors:  # a resume asked at the same moment won (no await
            raise HTTPException(409, f"run {run_id} is driven by this server")  # since here)
        # the policy saved when it started and the policy now: the stricter wins
        answers = answers_for(record.options, store=store, run_id=run_id, policy_now=policy)
        answers.in_doubt = in_doubt
        executor = factory(services, interaction=answers)
        _launch(executor, run_id, plan.id, record.guide_path, None,
                lambda: executor.resume(run_id), from_start=False)
        source = request.client.host if request.client else "unknown"
        await store.add_note(run_id, "resume_asked", {
            "by": who.name, "source": source,
            "in_doubt": {step: str(decision) for step, decision in in_doubt.items()}})
        return {"run_id": run_id, "resuming": True, "by": who.name}

    @app.post("/api/v1/runs/{run_id}/replay")
    async def replay(run_id: str, body: ReplayRequest, request: Request,
                     who: Operator) -> dict[str, Any]:
        """Replay a run that ended from one of its steps, with an intervention (`set`, as
        `mendflow replay --set`; a step's outputs inline): a new run, started here and
        asking people as any run this server starts (a mutating step needs its approval).
        Its verdict is noted on both runs when it ends (`engine.runtime.intervene`)."""
        source = request.client.host if request.client else "unknown"
        return await _replay(run_id, body, who, source)

    async def _replay(run_id: str, body: ReplayRequest, who: Caller,
                      source: str) -> dict[str, Any]:
        """Start a replay (the API's and the web UI's "replay from here")."""
        from engine.runtime.intervene import conclude, parse_sets, prepare

        await _get_run(run_id)
        try:
            prepared = await prepare(store, run_id, from_step=body.from_step,
                                     sets=parse_sets(body.set, files=False),
                                     from_record=body.from_record, redact=services.redact)
        except (InputError, PlanError) as exc:  # the request's fault, said in one line
            raise HTTPException(400, str(exc)) from None
        new_id = new_run_id()
        plan = prepared.plan
        if not await slots.take(plan.id, new_id):
            raise HTTPException(409, f"{config.max_runs_per_guide} runs of this guide are "
                                     "live: replay it when one ends")
        options = RunOptions(executor=config.executor, auto_approve=policy, ask_people=True,
                             dry_run=body.dry_run, replay=prepared.replay)
        executor = factory(services, interaction=answers_for(options, store=store,
                                                             run_id=new_id))

        async def go() -> RunRecord:
            record = await executor.start(plan, guide_path=prepared.guide_path,
                                          inputs=prepared.inputs, alert=prepared.alert,
                                          options=options, run_id=new_id)
            await conclude(store, record.run_id)
            return record

        _launch(executor, new_id, plan.id, prepared.guide_path, None, go, from_start=True)
        await store.add_note(run_id, "replay_asked", {
            "by": who.name, "source": source, "replay_run": new_id,
            "from_step": body.from_step,
            "interventions": list(prepared.replay.interventions)})
        return {"run_id": new_id, "replay_of": run_id, "from_step": body.from_step,
                "reused": list(prepared.replay.reuse),
                "interventions": list(prepared.replay.interventions), "by": who.name}

    @app.get("/api/v1/guides")
    async def guides(who: Reader) -> list[dict[str, Any]]:
        """One entry per trigger, with its guide's lint status (`mendflow lint`)."""
        return [{"guide": str(r.guide), "plan": r.plan.id, "title": r.plan.title,
                 "trigger": r.trigger.model_dump(), "steps": len(r.plan.steps),
                 "lint": await lint.of(r.guide)}
                for r in router.routes]

    @app.get("/api/v1/guides/{plan_id}/graph")
    async def guide_graph(plan_id: str, who: Reader) -> dict[str, Any]:
        route = next((r for r in router.routes if r.plan.id == plan_id), None)
        if route is None:
            raise HTTPException(404, f"no guide {plan_id} among the routed guides")
        return views.graph(route.plan)

    async def _get_run(run_id: str) -> RunRecord:
        try:
            return await store.get_run(run_id)
        except MendflowError:
            raise HTTPException(404, f"no run {run_id}") from None

    @app.exception_handler(MendflowError)
    async def _mendflow_error(request: Request, exc: MendflowError) -> JSONResponse:
        return JSONResponse({"detail": exc.message, "hint": exc.hint}, status_code=503)

    app.state.replay = _replay  # the web UI's "replay from here" starts one the same way
    app.state.cancel_run = cancel_run  # and its cancel cancels one the same way
    mount_ui(app, store=store, router=router)  # the web UI: engine.serve.ui
    app.state.live = live
    app.state.starts = starts
    return app


def _group(note: Notification, route: Route) -> str:
    return f"{note.groupKey}|{route.guide}"


def _said(record: AlertRecord) -> dict[str, Any]:
    return {"alertname": record.alertname, "disposition": record.disposition,
            "guide": record.guide, "run_id": record.run_id, "detail": record.detail}


def _run_summary(r: RunRecord) -> dict[str, Any]:
    return {"run_id": r.run_id, "plan": r.plan_id, "guide": r.guide_path, "title": r.title,
            "status": r.status, "outcome": r.outcome, "reason": r.reason,
            "created_at": r.created_at, "updated_at": r.updated_at,
            "executor": r.options.executor, "dry_run": r.options.dry_run}


async def _limited_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"the body is larger than {limit} bytes")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, f"the body is larger than {limit} bytes")
    return body


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "body"
    return f"{where}: {first.get('msg', 'invalid')} ({exc.error_count()} problem(s) in all)"


def load_routes(folder: Path, *, known_plugins: set[str] | None = None) -> Router:
    """Every guide in `folder` with triggers, compiled; a guide that does not compile is an
    error naming it (a server that silently skips a guide would leave its alerts unmatched)."""
    from engine.compile import compile_guide
    from engine.guide import load_guide

    routes = []
    for path in sorted(p for p in folder.rglob("*.md") if p.name.lower() != "readme.md"):
        guide = load_guide(path)
        if not guide.front.triggers:
            continue
        plan: Plan = compile_guide(guide, known_plugins=known_plugins)
        routes += [Route(path, plan, trigger) for trigger in plan.triggers]
    return Router(routes)
