"""Notifications out: `mendflow serve` tells webhooks when a run needs a person and when it ends.

Two moments are told: a run's question waits for a person (an approval, a manual step, a
judgment: `Store.questions`), and the run ended (its status, outcome and why). Each message
carries the link to the run's page, `{base_url}/runs/{run_id}`. Two bodies:

- `json`: `{"event": "question"|"run_ended", "text", "run": {id, guide, title, status, outcome,
  reason, url}, "question": {step_id, kind, text, asked_at}|null, "at"}`;
- `slack`: Slack's incoming-webhook body, `{"text", "blocks"}` (also what Mattermost, Rocket.Chat
  and Teams' Slack-compatible hooks take), the text escaped as Slack's mrkdwn needs.

Webhooks come from mendflow.toml (`[[serve.webhooks]]`: `url` or `url_env`, `format`, `name`)
and the environment (`MENDFLOW_WEBHOOKS`: whitespace-separated `URL`, `json=URL` or
`slack=URL`). A webhook's URL often is its secret (Slack's are): it is never logged nor shown
whole, only its scheme and host (`Webhook.shown`) or the name given to it.

Delivery is off the run's path: a notification is a background task of this process, bounded
in number, so a slow or failing webhook never delays or fails a run. Each is tried up to
`attempts` times with exponential backoff (tenacity) on a connection error, a timeout, a 5xx,
408 or 429; another 4xx is final. Every attempt is recorded: in the log
(`mendflow.serve.notify`), on the run's events (`notification`, through `Store.add_note`) and
in the process's recent deliveries (`Notifier.deliveries`, `GET /api/v1/notifications`).

Both are found by polling the store, for every run on it, whoever drives it: a run started
here or by another `serve`, on this machine's executor or on Celery workers, from the CLI, or
one whose `serve` restarted while its workers went on (nobody follows it any more). Each poll
reads the pending questions (`Store.questions`) and the runs that stopped since the last poll
(`Store.stopped_runs`) and tells those that ended; a newly started process looks back
`catch_up_s` (what ended while no `serve` was up is told late, not never). The stop of a run
driven here is also told as soon as the executor's `start` (or `resume`) returns, the poll
finding it already told; a run that stops `interrupted` (a step in doubt waits for a person's
word) is told from there only: the poll may never see it before someone resumes it.

Each event is told once across every `serve` process on the store: before telling it, the
process records it in the store (`Store.claim_notice`, keyed by the run and `run_ended` or
`question:STEP:ASKED_AT`; `stopped:VERSION` for a run interrupted, whose end comes later), and
only the one that records it first tells it. So a run resumed by another process after its
first driver died does not tell again the question its first driver told, and tells its end
once. (Should the store not answer, the event is told rather than not: at least once then.)
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import httpx
from pydantic import BaseModel, ConfigDict
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from engine.errors import ConfigError
from engine.store.base import Question, RunRecord, Store

log = logging.getLogger("mendflow.serve.notify")

Format = Literal["json", "slack"]
Event = Literal["question", "run_ended"]
MAX_PENDING = 1_000  # notifications in flight; beyond it one is dropped, said in the log
MAX_RECORDED = 500   # delivery attempts kept in memory for GET /api/v1/notifications
_ASKING = {"approve": "an approval", "manual": "a person to confirm a manual step",
           "judge": "a person's judgment"}


@dataclass(frozen=True)
class Webhook:
    url: str = field(repr=False)
    format: Format = "json"
    name: str = ""

    @property
    def shown(self) -> str:
        """What logs and the API say of it: its name, else its scheme and host (the path and
        query of a webhook's URL are often its secret)."""
        if self.name:
            return self.name
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/..."


def _checked_url(url: str, where: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{where}: a webhook's URL must be http:// or https:// with a host",
                          hint="Write the full URL the receiver gave you (not shown here: it "
                               "may hold a secret)")
    return url.strip()


def parse_webhooks(spec: str, where: str = "MENDFLOW_WEBHOOKS") -> list[Webhook]:
    """`URL json=URL slack=URL ...` (whitespace-separated) -> webhooks; a bad entry is a
    ConfigError naming its position, never its URL."""
    hooks = []
    for n, item in enumerate(spec.split(), start=1):
        fmt: Format = "json"
        for prefix in ("json=", "slack="):
            if item.startswith(prefix):
                fmt = "slack" if prefix == "slack=" else "json"
                item = item[len(prefix):]
        hooks.append(Webhook(_checked_url(item, f"{where} entry {n}"), fmt))
    return hooks


def load_webhooks(config_file: Path, *, required: bool, environ: Mapping[str, str],
                  spec: str | None) -> tuple[list[Webhook], str | None]:
    """The webhooks of mendflow.toml's `[[serve.webhooks]]` and of `spec`
    (MENDFLOW_WEBHOOKS), and the file's `[serve] base_url`."""
    from engine.config import read_config

    section = read_config(config_file, required=required).serve
    hooks = []
    for n, entry in enumerate(section.webhooks, start=1):
        where = f"{config_file}: [[serve.webhooks]] entry {n}"
        if (entry.url is None) == (entry.url_env is None):
            raise ConfigError(f"{where}: give exactly one of url and url_env",
                              hint="url_env = \"SLACK_WEBHOOK_URL\" keeps the URL's secret out "
                                   "of the file")
        url = entry.url
        if entry.url_env is not None:
            url = environ.get(entry.url_env, "")
            if not url:
                raise ConfigError(f"{where}: the environment variable {entry.url_env} is not "
                                  "set", hint=f"Export {entry.url_env} with the webhook's URL")
        hooks.append(Webhook(_checked_url(url or "", where), entry.format, entry.name or ""))
    hooks += parse_webhooks(spec or "")
    return hooks, section.base_url


def checked_base_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
        raise ConfigError(f"base URL {url!r}: write http(s)://host[:port][/path]",
                          hint="It is where people reach mendflow serve, e.g. "
                               "https://mendflow.example.com")
    return url.rstrip("/")


@dataclass(frozen=True)
class NotifyConfig:
    webhooks: tuple[Webhook, ...] = ()
    base_url: str = "http://127.0.0.1:8080"
    attempts: int = 5
    backoff_s: float = 1.0      # the first wait between attempts; doubling, at most max_backoff_s
    max_backoff_s: float = 30.0
    timeout_s: float = 10.0     # one attempt
    poll_s: float = 1.0         # how often the store is asked for new questions and ends
    catch_up_s: float = 600.0   # at start, runs that stopped this long ago are still told
    concurrency: int = 8        # deliveries at once


class Delivery(BaseModel):
    """One attempt to deliver one notification to one webhook."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    run_id: str
    event: Event
    webhook: str  # Webhook.shown: never the URL
    attempt: int
    ok: bool
    status: int | None = None
    error: str = ""
    final: bool = False  # no attempt follows this one


class _Retryable(Exception):
    """A failure worth another attempt: no connection, a timeout, 5xx, 408, 429."""


class _Final(Exception):
    """A failure no retry mends: another 4xx."""


@dataclass
class _Message:
    event: Event
    run: RunRecord | None
    run_id: str
    text: str
    question: Question | None = None
    guide: str = ""


def run_url(base_url: str, run_id: str) -> str:
    return f"{base_url}/runs/{quote(run_id, safe='')}"


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_ENDED = ("succeeded", "failed", "cancelled")


def _end_key(record: RunRecord) -> str:
    """The notice of a run's stop: its end once; each interruption (a later end follows)."""
    return "run_ended" if record.status in _ENDED else f"stopped:{record.version}"


class Notifier:
    """Tells the configured webhooks about the runs on the store. Never raises into its
    caller; with no webhooks it does nothing."""

    def __init__(self, config: NotifyConfig, store: Store,
                 redact: Callable[[Any], Any] = lambda value: value) -> None:
        self.config = config
        self.store = store
        self.redact = redact
        self.deliveries: deque[Delivery] = deque(maxlen=MAX_RECORDED)
        self._told: set[tuple[str, str, str]] = set()  # questions told (still pending)
        self._ends: dict[tuple[str, str], datetime] = {}  # stops told -> their update time
        self._since: datetime | None = None  # stops updated from then on are looked at
        self._poller: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(config.concurrency)
        self._client: httpx.AsyncClient | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.config.webhooks)

    # -- what the server tells it ------------------------------------------------------------

    def start(self) -> None:
        """Poll the store for questions and stops (once; at the server's start, and again if
        the poll ever stopped)."""
        if not self.enabled or self._poller is not None and not self._poller.done():
            return
        if self._since is None:
            self._since = datetime.now(UTC) - timedelta(seconds=self.config.catch_up_s)
        self._poller = asyncio.get_running_loop().create_task(self._poll(), name="notify")

    def watch(self, run_id: str) -> None:
        """A run started here: the poll is running (every run's questions are told)."""
        self.start()

    def unwatch(self, run_id: str) -> None:
        """This process no longer drives the run: nothing to do (the poll covers it)."""

    def ended(self, record: RunRecord) -> None:
        if not self.enabled:
            return
        self._ends[(record.run_id, _end_key(record))] = record.updated_at
        how = record.status + (f", {record.outcome}" if record.outcome else "")
        text = f"Run {record.run_id} ({record.title or record.plan_id}) ended: {how}"
        if record.reason:
            text += f": {record.reason}"
        self._send_once(_Message("run_ended", record, record.run_id, text,
                                 guide=record.guide_path), _end_key(record))

    def failed(self, run_id: str, guide: str, message: str) -> None:
        """The run ended with an error before (or without) a final record to tell."""
        if not self.enabled:
            return
        self._send_once(_Message("run_ended", None, run_id,
                                 f"Run {run_id} of {guide} failed: {message}", guide=guide),
                        "run_ended")

    # -- questions ---------------------------------------------------------------------------

    async def _poll(self) -> None:
        while True:
            try:
                await self._questions()
                await self._stops()
            except Exception as exc:  # the store is down a moment: asked again next time
                log.warning("notifications: cannot read the store: %s", exc)
            await asyncio.sleep(self.config.poll_s)

    async def _questions(self) -> None:
        pending = await self.store.questions(pending=True)  # a linked guide's: its caller's
        keys = {(q.run_id, q.step_id, q.asked_at.isoformat()): q for q in pending}
        self._told &= keys.keys()  # answered ones are forgotten: the set stays small
        for key, q in keys.items():
            if key not in self._told:
                self._told.add(key)
                await self._tell_question(q)

    async def _stops(self) -> None:
        assert self._since is not None  # set by start()
        # a commit's time is taken before it lands: look back a little, the keys dedupe
        since = self._since - timedelta(seconds=max(5.0, 5 * self.config.poll_s))
        stopped = await self.store.stopped_runs(since=since, limit=500)
        for record in stopped:
            key = (record.run_id, _end_key(record))
            if key not in self._ends and record.status in _ENDED:
                self.ended(record)  # (an interruption only from the executor that saw it)
        if stopped:
            self._since = max(self._since, stopped[-1].updated_at)
        if len(stopped) < 500:  # everything up to now is seen: forget what is long past
            self._ends = {k: at for k, at in self._ends.items() if at >= since}

    async def _tell_question(self, q: Question) -> None:
        if not await self._first(q.run_id, f"question:{q.step_id}:{q.asked_at.isoformat()}"):
            return
        try:
            record: RunRecord | None = await self.store.get_run(q.run_id)
        except Exception:  # told without the run's details rather than not told
            record = None
        title = (record.title or record.plan_id) if record else q.run_id
        text = (f"Run {q.run_id} ({title}) is waiting for {_ASKING.get(q.kind, 'a person')} "
                f"at step {q.step_id}: {q.text}")
        self._send(_Message("question", record, q.run_id, text, question=q,
                            guide=record.guide_path if record else ""))

    # -- once across processes --------------------------------------------------------------

    async def _first(self, run_id: str, key: str) -> bool:
        """Whether this process is the one to tell the run's event `key`."""
        try:
            first = await self.store.claim_notice(run_id, key)
        except Exception as exc:  # told rather than not told
            log.warning("notification %s of run %s: not recorded in the store (%s); told "
                        "anyway", key, run_id, exc)
            return True
        if not first:
            log.info("notification %s of run %s: already told by another process", key,
                     run_id)
        return first

    def _send_once(self, message: _Message, key: str) -> None:
        async def claim_then_send() -> None:
            if await self._first(message.run_id, key):
                self._send(message)

        task = asyncio.get_running_loop().create_task(claim_then_send(),
                                                      name=f"notify:{message.run_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- delivery ----------------------------------------------------------------------------

    def _send(self, message: _Message) -> None:
        for hook in self.config.webhooks:
            if len(self._tasks) >= MAX_PENDING:
                log.error("notification for run %s to %s dropped: %d are in flight",
                          message.run_id, hook.shown, len(self._tasks))
                continue
            task = asyncio.get_running_loop().create_task(
                self._deliver(hook, message), name=f"notify:{message.run_id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def body(self, hook: Webhook, message: _Message) -> dict[str, Any]:
        url = run_url(self.config.base_url, message.run_id)
        text = str(self.redact(message.text))
        if hook.format == "slack":
            line = f"{_slack_escape(text)}\n<{url}|Open run {_slack_escape(message.run_id)}>"
            return {"text": line,
                    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": line}}]}
        r = message.run
        q = message.question
        return {
            "event": message.event, "text": text, "at": datetime.now(UTC).isoformat(),
            "run": {"id": message.run_id, "url": url,
                    "guide": r.guide_path if r else message.guide,
                    "title": r.title if r else "", "status": r.status if r else "failed",
                    "outcome": r.outcome if r else None,
                    "reason": self.redact(r.reason) if r else text},
            "question": None if q is None else {
                "step_id": q.step_id, "kind": q.kind, "text": self.redact(q.text),
                "asked_at": q.asked_at.isoformat()},
        }

    async def _deliver(self, hook: Webhook, message: _Message) -> None:
        body = self.body(hook, message)
        attempt = 0

        async def record(ok: bool, status: int | None, error: str, final: bool) -> None:
            entry = Delivery(at=datetime.now(UTC), run_id=message.run_id,
                             event=message.event, webhook=hook.shown, attempt=attempt,
                             ok=ok, status=status, error=error, final=final)
            self.deliveries.append(entry)
            if ok:
                said, level = f"delivered (HTTP {status})", logging.INFO
            elif not final:
                said, level = f"{error}; tried again", logging.WARNING
            elif attempt >= self.config.attempts:
                said, level = f"{error}; given up after {attempt} attempt(s)", logging.ERROR
            else:
                said, level = f"{error}; refused, not tried again", logging.ERROR
            log.log(level, "notification %s of run %s to %s, attempt %d: %s", message.event,
                    message.run_id, hook.shown, attempt, said, extra={"run_id": message.run_id})
            try:  # and on the run's events, where its page shows it
                await self.store.add_note(message.run_id, "notification",
                                          entry.model_dump(mode="json", exclude={"run_id"}))
            except Exception as exc:  # the log has it
                log.info("notification attempt not noted on run %s: %s", message.run_id, exc)

        async def one() -> None:
            nonlocal attempt
            attempt += 1
            client = self._http()
            try:
                got = await client.post(hook.url, json=body)
            except httpx.HTTPError as exc:
                error = _scrub(f"{type(exc).__name__}: {exc}", hook.url)
                last = attempt >= self.config.attempts
                await record(False, None, error, last)
                raise _Retryable(error) from None
            if got.is_success:
                await record(True, got.status_code, "", True)
                return
            retry = got.status_code >= 500 or got.status_code in (408, 429)
            last = attempt >= self.config.attempts or not retry
            await record(False, got.status_code, f"HTTP {got.status_code}", last)
            raise (_Retryable if retry else _Final)(f"HTTP {got.status_code}")

        async with self._slots:
            try:
                async for tried in AsyncRetrying(
                        stop=stop_after_attempt(self.config.attempts),
                        wait=wait_exponential(multiplier=self.config.backoff_s,
                                              max=self.config.max_backoff_s),
                        retry=retry_if_exception_type(_Retryable), reraise=True,
                        before_sleep=_quiet):
                    with tried:
                        await one()
            except (_Retryable, _Final):
                pass  # recorded, attempt by attempt
            except Exception as exc:  # a bug here must not reach the run: said, not raised
                log.error("notification of run %s to %s failed: %s", message.run_id,
                          hook.shown, _scrub(repr(exc), hook.url))

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.config.timeout_s,
                                             follow_redirects=False)
        return self._client

    async def aclose(self, timeout_s: float = 10.0) -> None:
        """Wait up to `timeout_s` for the notifications in flight, then stop."""
        if self._poller is not None:
            self._poller.cancel()
        if self._tasks:
            _, late = await asyncio.wait(set(self._tasks), timeout=timeout_s)
            for task in late:
                task.cancel()
            if late:
                log.warning("%d notification(s) not delivered before shutdown", len(late))
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def drain(self) -> None:
        """Wait until every notification started so far is done (tests, shutdown)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))


def _quiet(state: RetryCallState) -> None:
    """Each attempt is recorded where it happens; nothing more to say between them."""


def _scrub(text: str, url: str) -> str:
    """The text without the URL or its secret parts (an HTTP error can quote the URL)."""
    parts = urlsplit(url)
    for secret in (url, parts.path + (f"?{parts.query}" if parts.query else ""), parts.query,
                   parts.path):
        if secret and secret != "/":
            text = text.replace(secret, "...")
    return text
