"""The web UI of `mendflow serve`: server-rendered pages over the same store as the API.

Pages (all under `/ui`, each needing a token with the `read` right; see `engine.serve.session`
for the login cookie and the CSRF check):

- `/ui/runs`: the runs, newest first, kept current by an event stream (`/ui/runs/events`);
- `/ui/runs/ID`: one run: its plan drawn as a graph whose steps change colour as they run
  (pushed by `/ui/runs/ID/events`, `engine.serve.live`), each step's rendered command,
  output summary, timing and error, its questions with buttons for a caller whose role may
  answer them (approvals: approver; other questions: operator), the alert that started it;
- `/ui/runs/ID/report`: the run's Markdown report, rendered without raw HTML;
- `/ui/alerts`: the alerts received, by what became of them (started, deduped, unmatched,
  refused, resolved);
- `/ui/guides` and `/ui/guides/PLAN`: the guides serve routes alerts to, their triggers,
  their plan's graph and the linter's findings.

Forms post back to `/ui/...` and answer with a redirect (or JSON for the page's script, which
sends `X-Requested-With: fetch` and lets the event stream show the result). The JavaScript is
`static/ui.js`, written here; pages work without it, only not live.

Not here: the REST API and the intake (`engine.serve.app`), which this module does not change.
"""

from __future__ import annotations

import asyncio
import http
import shlex
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from engine import templating
from engine.errors import MendflowError
from engine.learn.record import run_lessons
from engine.plan import Plan
from engine.report import CAUSE_NAMES, build_view, render_markdown, run_memory
from engine.serve import pages, session
from engine.serve.alerts import Route, Router
from engine.serve.auth import Caller
from engine.serve.live import RunWatch, run_events, runs_events
from engine.store.base import RunRecord, Store
from engine.stragglers import BaselineCache

MAX_FORM_BYTES = 4096
POLL_S = 0.5
LIST_POLL_S = 2.0
RUN_STATUSES = ("running", "succeeded", "failed", "cancelled", "interrupted")
OUTCOMES = ("resolved", "mitigated", "no_action", "escalate", "inconclusive")
DISPOSITIONS = ("started", "deduped", "unmatched", "refused", "resolved")
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; connect-src 'self'; object-src 'none'; "
                               "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

Viewer = Annotated[Caller, Depends(session.caller_of)]


def mount_ui(app: FastAPI, *, store: Store, router: Router) -> None:
    """Add the UI's routes, its static files and the login redirect to `app`."""
    app.include_router(_routes(store, router))
    app.mount("/ui/static", StaticFiles(directory=pages.STATIC), name="ui-static")

    @app.exception_handler(session.LoginNeeded)
    async def _login(request: Request, exc: session.LoginNeeded) -> Response:
        if request.method != "GET":
            return JSONResponse({"detail": "log in first"}, status_code=401)
        return RedirectResponse(f"/ui/login?next={quote(_local(str(request.url.path)))}",
                                status_code=303)

    # A browser shown a UI page's refusal (a missing run, a role that may not, a bad form)
    # gets a page saying why, escaped as every page is; the API, and the UI's own scripts
    # (`X-Requested-With: fetch`, which read `detail`), keep JSON.
    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if not _browser_page(request):
            return await http_exception_handler(request, exc)
        return error_page(request, exc.status_code, str(exc.detail), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        if not _browser_page(request):
            return await request_validation_exception_handler(request, exc)
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "query") or "request"
        return error_page(request, 400, f"{where}: {first.get('msg', 'invalid')}")


def _browser_page(request: Request) -> bool:
    path = request.url.path
    return (path == "/ui" or path.startswith("/ui/")) and not path.startswith("/ui/static/") \
        and request.headers.get("x-requested-with") != "fetch"


def error_page(request: Request, status: int, reason: str,
               headers: Mapping[str, str] | None = None) -> HTMLResponse:
    """A small page with the status and its reason (text: escaped by the template)."""
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    page = _page(request, "error.html", None, status=status, code=status, phrase=phrase,
                 reason=reason)
    for name, value in (headers or {}).items():
        page.headers[name] = value
    return page


def _page(request: Request, template: str, who: Caller | None, status: int = 200,
          **context: Any) -> HTMLResponse:
    html = pages.render(template, who=who, csrf=session.csrf_token(request) if who else "",
                        path=request.url.path, **context)
    return HTMLResponse(html, status_code=status, headers=_SECURITY_HEADERS)


def _local(target: str) -> str:
    """Only a path of this UI is a place to go back to after logging in (no open redirect)."""
    return target if target.startswith("/ui/") and not target.startswith("//") and \
        "\\" not in target else "/ui/runs"


async def _form(request: Request) -> dict[str, str]:
    """The posted form (urlencoded), read no further than `MAX_FORM_BYTES`."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(413, "the form is too large")
    return dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))


def _done(request: Request, to: str, said: dict[str, Any]) -> Response:
    if request.headers.get("x-requested-with") == "fetch":
        return JSONResponse(said)
    return RedirectResponse(to, status_code=303)


def _routes(store: Store, router: Router) -> APIRouter:
    ui = APIRouter(include_in_schema=False)
    lint_cache: dict[tuple[str, float], list[Any]] = {}
    baselines = BaselineCache(store)  # each run's step histories, read once per run

    @ui.get("/")
    async def root() -> Response:
        return RedirectResponse("/ui/runs", status_code=303)

    @ui.get("/ui")
    @ui.get("/ui/")
    async def ui_root() -> Response:
        return RedirectResponse("/ui/runs", status_code=303)

    @ui.get("/ui/login")
    async def login_page(request: Request, next: str = "/ui/runs") -> Response:
        return _page(request, "login.html", None, next=_local(next), error=None)

    @ui.post("/ui/login")
    async def login(request: Request) -> Response:
        session.check_origin(request)  # no other site logs a browser in as someone else
        form = await _form(request)
        target = _local(form.get("next", "/ui/runs"))
        token = form.get("token", "").strip()
        who = request.app.state.config.tokens.caller(token) if token else None
        if who is None or not who.may("read"):
            why = "That token is not known." if who is None else \
                f"{who.name} ({who.role}) may not read runs."
            return _page(request, "login.html", None, status=401, next=target, error=why)
        response = RedirectResponse(target, status_code=303)
        session.set_login(response, request, token)
        return response

    @ui.post("/ui/logout")
    async def logout(request: Request, who: Viewer) -> Response:
        session.check_form(request, await _form(request))
        response = RedirectResponse("/ui/login", status_code=303)
        session.clear_login(response)
        return response

    @ui.get("/ui/runs")
    async def runs_page(request: Request, who: Viewer, status: str = "",
                        outcome: str = "") -> Response:
        return _page(request, "runs.html", who, runs=await _runs(status, outcome),
                     run_status=status, run_outcome=outcome, statuses=RUN_STATUSES,
                     outcomes=OUTCOMES)

    @ui.get("/ui/runs/table")
    async def runs_table(request: Request, who: Viewer, status: str = "",
                         outcome: str = "") -> Response:
        return _page(request, "_runs_table.html", who, runs=await _runs(status, outcome))

    async def _runs(status: str, outcome: str) -> list[RunRecord]:
        found = await store.list_runs(limit=1000 if status or outcome else 100)
        return [r for r in found if (not status or r.status == status)
                and (not outcome or r.outcome == outcome)][:100]

    @ui.get("/ui/runs/events")
    async def runs_stream(request: Request, who: Viewer) -> Response:
        return _stream(runs_events(store, interval_s=LIST_POLL_S, limit=100,
                                   disconnected=request.is_disconnected))

    @ui.get("/ui/runs/{run_id}")
    async def run_page(request: Request, run_id: str, who: Viewer) -> Response:
        record, plan = await _run(run_id)
        return _page(request, "run.html", who, record=record,
                     svg=await asyncio.to_thread(pages.plan_svg, plan, record.plan_hash),
                     alerts=[a for a in await store.alerts(limit=1000) if a.run_id == run_id],
                     **await _detail(record, plan))

    @ui.get("/ui/runs/{run_id}/detail")
    async def run_detail(request: Request, run_id: str, who: Viewer) -> Response:
        record, plan = await _run(run_id)
        return _page(request, "_run_detail.html", who, record=record,
                     **await _detail(record, plan))

    @ui.get("/ui/runs/{run_id}/events")
    async def run_stream(request: Request, run_id: str, who: Viewer) -> Response:
        await _run(run_id)
        return _stream(run_events(store, run_id, interval_s=POLL_S,
                                  disconnected=request.is_disconnected))

    @ui.get("/ui/runs/{run_id}/report")
    async def report_page(request: Request, run_id: str, who: Viewer) -> Response:
        record, plan = await _run(run_id)
        memory = await store.memory(run_id)  # first: see build_view
        events = await store.events(run_id)
        view = build_view(record, plan, events, memory)
        lessons = await run_lessons(store, record, plan, events)
        view.recurring, view.cause = lessons.recurring, lessons.cause
        view.history = await baselines.of(run_id, record.plan_id, record.created_at)
        view.llm_usage = await store.llm_usage(run_id)
        view.answers = await store.questions(run_id=run_id, pending=False)
        return _page(request, "report.html", who, record=record,
                     report=pages.markdown_html(render_markdown(view)))

    # a linked guide's questions are kept as CALL/KEY (fix/restart)
    @ui.post("/ui/runs/{run_id}/steps/{step_id:path}/answer")
    async def answer(request: Request, run_id: str, step_id: str, who: Viewer) -> Response:
        form = await _form(request)
        session.check_form(request, form)
        if form.get("yes") not in ("yes", "no"):
            raise HTTPException(400, "the answer must be yes or no")
        asked = [q for q in await store.questions(run_id=run_id, pending=False)
                 if q.step_id == step_id]
        if not asked:
            raise HTTPException(404, f"run {run_id} asked nothing at step {step_id}")
        need = "approve" if asked[0].kind == "approve" else "act"
        if not who.may(need):
            raise HTTPException(403, f"{who.name} ({who.role}) may not "
                                     f"{'approve' if need == 'approve' else 'answer'}")
        source = request.client.host if request.client else "unknown"
        answered = await store.answer_question(run_id, step_id, yes=form["yes"] == "yes",
                                               by=who.name, source=f"{source} (web UI)")
        if answered is None:
            raise HTTPException(409, f"already answered by {asked[0].by} at "
                                     f"{asked[0].answered_at}")
        return _done(request, f"/ui/runs/{quote(run_id)}",
                     {"step_id": step_id, "yes": answered.yes, "by": answered.by})

    @ui.post("/ui/runs/{run_id}/cancel")
    async def cancel(request: Request, run_id: str, who: Viewer) -> Response:
        session.check_form(request, await _form(request))
        if not who.may("act"):
            raise HTTPException(403, f"{who.name} ({who.role}) may not cancel runs")
        await _run(run_id)
        source = request.client.host if request.client else "unknown"
        said = await request.app.state.cancel_run(run_id, by=f"{who.name} (web UI)",
                                                  source=f"{source} (web UI)")
        return _done(request, f"/ui/runs/{quote(run_id)}", {"cancelling": said["cancelling"]})

    @ui.post("/ui/runs/{run_id}/steps/{step_id}/replay")
    async def replay(request: Request, run_id: str, step_id: str, who: Viewer) -> Response:
        """"Replay from here": a replay of the run from this step (`mendflow replay`), with
        the intervention written in the form (one `inputs.NAME=VALUE` or
        `steps.STEP.output={...}` a line); the page of the new run follows."""
        from engine.serve.resuming import ReplayRequest

        form = await _form(request)
        session.check_form(request, form)
        if not who.may("act"):
            raise HTTPException(403, f"{who.name} ({who.role}) may not replay runs")
        sets = [line.strip() for line in form.get("set", "").splitlines() if line.strip()]
        body = ReplayRequest(from_step=step_id, set=sets,
                             from_record=form.get("from_record") == "yes")
        source = request.client.host if request.client else "unknown"
        said = await request.app.state.replay(run_id, body, who, f"{source} (web UI)")
        return _done(request, f"/ui/runs/{quote(said['run_id'])}", said)

    @ui.get("/ui/alerts")
    async def alerts_page(request: Request, who: Viewer,
                          disposition: Annotated[str | None, Query()] = None) -> Response:
        if disposition not in (None, "", *DISPOSITIONS):
            raise HTTPException(400, f"disposition: one of {', '.join(DISPOSITIONS)}")
        found = await store.alerts(limit=500, disposition=disposition or None)
        return _page(request, "alerts.html", who, alerts=found, dispositions=DISPOSITIONS,
                     chosen=disposition or "")

    @ui.get("/ui/guides")
    async def guides_page(request: Request, who: Viewer) -> Response:
        return _page(request, "guides.html", who,
                     guides=[(g, routes, await asyncio.to_thread(_lint, g.guide))
                             for g, routes in _guides()])

    @ui.get("/ui/guides/{plan_id}")
    async def guide_page(request: Request, plan_id: str, who: Viewer) -> Response:
        for first, routes in _guides():
            if first.plan.id == plan_id:
                plan = first.plan
                return _page(request, "guide.html", who, route=first, routes=routes,
                             findings=await asyncio.to_thread(_lint, first.guide),
                             svg=await asyncio.to_thread(pages.plan_svg, plan,
                                                         f"guide:{first.guide}:{plan.id}"))
        raise HTTPException(404, f"no guide with the plan id {plan_id}")

    def _guides() -> list[tuple[Route, list[Route]]]:
        """Each guide once (its first route), with all its routes (one per trigger)."""
        by_path: dict[Path, list[Route]] = {}
        for route in router.routes:
            by_path.setdefault(route.guide, []).append(route)
        return [(routes[0], routes) for _, routes in sorted(by_path.items())]

    def _lint(path: Path) -> list[Any]:
        from engine.compile.lint import lint_path

        try:
            key = (str(path), path.stat().st_mtime)
        except OSError:
            return []
        if key not in lint_cache:
            lint_cache[key] = lint_path(path)
        return lint_cache[key]

    async def _run(run_id: str) -> tuple[RunRecord, Plan]:
        try:
            record = await store.get_run(run_id)
        except MendflowError:
            raise HTTPException(404, f"no run {run_id}") from None
        return record, await store.load_plan(record.plan_hash)

    async def _detail(record: RunRecord, plan: Plan) -> dict[str, Any]:
        memory = await store.memory(record.run_id)  # first: see build_view
        events = await store.events(record.run_id)
        view = build_view(record, plan, events, memory)
        lessons = await run_lessons(store, record, plan, events)
        view.recurring, view.cause = lessons.recurring, lessons.cause
        seen = await RunWatch(store, record.run_id).look()
        asked = await store.questions(run_id=record.run_id, pending=False)
        scope = run_memory(record, memory).view()
        steps = [{"row": row, "status": seen.steps.get(row.step_id, row.status),
                  "command": _command(plan, row.step_id, row.outputs, row.status, scope),
                  "started": _clock(row.started_at)} for row in view.rows]
        return {"view": view, "seen": seen, "steps": steps, "questions": asked,
                "pending": [q for q in asked if q.answered_at is None],
                "cause_names": CAUSE_NAMES}

    return ui


def _stream(body: Any) -> StreamingResponse:
    return StreamingResponse(body, media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def _clock(at: datetime | None) -> str:
    return at.strftime("%H:%M:%S") if at else ""


def _command(plan: Plan, step_id: str, outputs: dict[str, Any], status: str,
             scope: Any) -> tuple[str, str]:
    """What the step ran (`rendered`) or will run as the guide writes it (`as written`)."""
    argv = outputs.get("argv")
    if isinstance(argv, list) and argv and all(isinstance(a, list) for a in argv):
        return "rendered", " | ".join(shlex.join(str(w) for w in a) for a in argv)
    step = plan.step(step_id)
    if not step.params:
        return "", ""
    written = _params_text(step.params)
    if status == "pending":
        return "as written", written
    try:
        return "rendered", _params_text(templating.render_value(dict(step.params), scope))
    except MendflowError:
        return "as written", written


def _params_text(params: Any) -> str:
    if isinstance(params, dict):
        pipeline = params.get("pipeline")
        if isinstance(pipeline, list) and all(isinstance(a, list) for a in pipeline):
            return " | ".join(shlex.join(str(w) for w in a) for a in pipeline)
        return "\n".join(f"{k}: {v}" for k, v in params.items())
    return str(params)
