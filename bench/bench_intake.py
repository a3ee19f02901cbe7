"""`mendflow serve`'s intake under a burst of Alertmanager webhooks, against a bare floor.

A plain script: `.venv/bin/python bench/bench_intake.py [--repeat N] [--posts 1000]
[--concurrency 32] [--postgres]`.

Each repetition starts, on free ports:

- a real `mendflow serve` (its own process, uvicorn, the embedded SQLite store in a fresh data
  dir; with `--postgres`, a fresh PostgreSQL database on the local server instead) whose
  guides folder holds one guide whose trigger matches the burst's alerts;
- the floor: a bare uvicorn ASGI endpoint (`floor_app`, no framework) that reads the body,
  parses the same JSON and answers 200. No intake can answer faster than that.

Then the same burst goes to each (httpx.AsyncClient, `--concurrency` posts in flight): 1,000
Alertmanager webhook (version 4) posts, one alert each: 60% first notifications of distinct
firing groups, 30% repeats of those groups (notifications Alertmanager sends again), 10%
`resolved` notifications of them, shuffled. Per post, the time from sending it to its answer.

Checked after the burst (printed, never asserted: a failed check is a line saying so):
none lost (every post answered 2xx, and recorded: `GET /api/v1/alerts` counts started +
deduped + resolved = posts), and runs = distinct firing groups exactly (`GET /api/v1/runs`,
and the runs are the ones the `started` alerts name). Printed: intake latency p50 / p99 of
serve and of the floor, and the ratio of the p99s. Target: serve's p99 <= 2x the floor's.
Before the burst, the same server takes up to 500 posts of an alert no guide matches (each
validated, authorised and recorded `unmatched`, no run started): "intake alone", printed beside
it, tells the intake's own cost from that of the runs the burst starts in the same process.

Dedupe holds a group while its run is live (a repeat after the run ended would rightly start
another), so the guide's one step is a read-only `sleep` that outlasts the burst (its step
timeout raised to match: a run that timed out mid-burst would rightly let a repeat start a
second run, as it did on PostgreSQL, whose burst outlasted the default 60 s); at the end
every run is cancelled through the API and the server stopped with SIGTERM, which must exit 0.
Runs are started with no run limit per guide (`--max-runs-per-guide` high): the bench measures
intake, not the limit (tests/serve cover the limit).

`--repeat N` (default 3) repeats the whole measure and prints each repetition and the median
of them. tests/serve/test_intake_burst.py runs the same burst and checks at 60 posts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
ADMIN_URL = os.environ.get("MENDFLOW_TEST_DATABASE_URL",
                           "postgresql://postgres@127.0.0.1:5432/test")
ALERTNAME = "BenchIntake"
WARMUP = "BenchWarmUp"  # matches no guide: recorded `unmatched`, counted apart
HOLD_S = 900  # how long a run's step sleeps unless cancelled: longer than any burst
GUIDE = """---
id: bench-intake
title: Bench intake
triggers:
  - alert: BenchIntake
inputs:
  - name: node
    type: name
    description: The node, from the alert's `node` label.
---

# Bench intake

## Diagnosis

1. Hold the run while the burst lasts (it is cancelled at the end):

   ```bash
   sleep HOLD
   ```
"""

# -- the floor: parse the same JSON, answer 200 --------------------------------------------


async def floor_app(scope: dict[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]],
                    send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
    """A bare ASGI endpoint: read the body, parse it as JSON, answer 200 (400 if it is not)."""
    if scope["type"] != "http":  # lifespan is off (uvicorn --lifespan off)
        return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    try:
        parsed = json.loads(body)
        status, answer = 200, json.dumps({"alerts": len(parsed.get("alerts", []))}).encode()
    except (ValueError, AttributeError):
        status, answer = 400, b'{"detail": "not JSON"}'
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": answer})


# -- the burst ------------------------------------------------------------------------------


@dataclass
class Burst:
    bodies: list[bytes]
    firing_groups: set[str]  # distinct groups among the firing notifications
    firing: int  # firing posts (first + repeats)
    resolved: int

    @property
    def posts(self) -> int:
        return len(self.bodies)


def notification(group: str, node: str, status: str, alertname: str = ALERTNAME) -> bytes:
    labels = {"alertname": alertname, "node": node, "severity": "warning"}
    now = "2026-12-02T10:00:00Z"
    return json.dumps({
        "version": "4", "groupKey": group, "truncatedAlerts": 0, "status": status,
        "receiver": "mendflow", "groupLabels": {"alertname": alertname, "node": node},
        "commonLabels": labels, "commonAnnotations": {"summary": f"{node} is filling up"},
        "externalURL": "http://alertmanager:9093",
        "alerts": [{"status": status, "labels": labels,
                    "annotations": {"summary": f"{node} is filling up"}, "startsAt": now,
                    "endsAt": now if status == "resolved" else "0001-01-01T00:00:00Z",
                    "generatorURL": "http://prometheus:9090/graph",
                    "fingerprint": uuid.uuid5(uuid.NAMESPACE_URL, group).hex[:16]}],
    }).encode()


def make_burst(posts: int, *, repeats: float = 0.3, resolved: float = 0.1,
               seed: int = 15) -> Burst:
    """`posts` notifications: the first of each distinct firing group, `repeats` of them again
    (firing), `resolved` of them resolved; shuffled (a repeat may overtake its first: both then
    race for the group's claim, and one run must still start)."""
    rng = random.Random(seed)
    n_resolved = round(posts * resolved)
    n_repeats = round(posts * repeats)
    n_groups = posts - n_resolved - n_repeats
    if n_groups < 1:
        raise SystemExit("--posts is too small for its shares of repeats and resolved")
    nodes = [f"node-{i:05d}" for i in range(n_groups)]
    group = {n: f'{{}}:{{alertname="{ALERTNAME}", node="{n}"}}' for n in nodes}
    bodies = [notification(group[n], n, "firing") for n in nodes]
    bodies += [notification(group[n], n, "firing")
               for n in (rng.choice(nodes) for _ in range(n_repeats))]
    bodies += [notification(group[n], n, "resolved")
               for n in (rng.choice(nodes) for _ in range(n_resolved))]
    rng.shuffle(bodies)
    return Burst(bodies=bodies, firing_groups=set(group.values()),
                 firing=n_groups + n_repeats, resolved=n_resolved)


@dataclass
class Sent:
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)  # seconds, one per post
    elapsed: float = 0.0

    def p(self, q: float) -> float:
        values = sorted(self.latencies)
        return values[min(len(values) - 1, int(q * len(values)))]


async def fire(url: str, bodies: list[bytes], *, token: str = "",
               concurrency: int = 32) -> Sent:
    """Post every body to `url`, `concurrency` at a time; each post's status and latency."""
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    sent = Sent()
    todo = iter(bodies)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        async def poster() -> None:
            for body in todo:  # one shared iterator: each body is taken once
                t0 = time.perf_counter()
                try:
                    got = await client.post(url, content=body, headers=headers)
                    status = got.status_code
                except httpx.HTTPError:
                    status = 0  # no answer: lost
                sent.latencies.append(time.perf_counter() - t0)
                sent.statuses[status] += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(poster() for _ in range(concurrency)))
        sent.elapsed = time.perf_counter() - t0
    return sent


# -- the server under test ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A `mendflow serve` process, with the tokens its callers use."""

    proc: subprocess.Popen[bytes]
    base: str
    log: Path
    alerts_token: str
    viewer_token: str
    operator_token: str

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: the process exited {proc.returncode}:\n"
                               f"{log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} never answered")


@contextmanager
def floor(workdir: Path) -> Iterator[str]:
    """The floor endpoint in its own uvicorn process; yields its URL."""
    port = free_port()
    log = workdir / "floor.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bench_intake:floor_app", "--host", "127.0.0.1",
         "--port", str(port), "--lifespan", "off", "--no-access-log", "--log-level",
         "warning"], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT / "bench")},
        stdout=log.open("wb"), stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/api/v1/alerts"
        deadline = time.monotonic() + 30
        while True:  # the floor answers 400 to a GET with no body: it is up
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the floor did not start:\n{log.read_text()}") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def write_guide(folder: Path, hold_s: int = HOLD_S) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bench-intake.md").write_text(GUIDE.replace("HOLD", str(hold_s)),
                                            encoding="utf-8")
    return folder


@contextmanager
def serve(workdir: Path, *, database_url: str | None = None) -> Iterator[Server]:
    """A real `mendflow serve` on a free port (embedded store in `workdir`, or PostgreSQL),
    stopped at the end: every run it holds cancelled, then SIGTERM; `stopped` says how."""
    port = free_port()
    tokens = {role: f"{role}-{secrets.token_hex(16)}" for role in
              ("alerts", "viewer", "operator")}
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MENDFLOW_DATA_DIR": str(workdir / "data"),
           "MENDFLOW_API_TOKENS": ",".join(f"bench-{r}:{r}:{t}" for r, t in tokens.items()),
           # the hold outlives the burst: no step timeout (60 s by default) ends a run early
           "MENDFLOW_DEFAULT_TIMEOUT_S": str(HOLD_S + 300)}
    env.pop("MENDFLOW_DATABASE_URL", None)
    if database_url:
        env["MENDFLOW_DATABASE_URL"] = database_url
    log = workdir / "serve.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "serve", "--guides", str(workdir / "guides"),
         "--port", str(port), "--max-runs-per-guide", "100000"],
        cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    server = Server(proc, f"http://127.0.0.1:{port}", log, tokens["alerts"], tokens["viewer"],
                    tokens["operator"])
    try:
        wait_http(f"{server.base}/healthz", proc, log)
        yield server
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def _get(client: httpx.AsyncClient, path: str) -> Any:
    got = await client.get(path)
    got.raise_for_status()
    return got.json()


@dataclass
class Checked:
    dispositions: Counter[str]
    runs: int
    expected_runs: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


async def check(server: Server, burst: Burst, sent: Sent, *, warmup: int = 0,
                settle_s: float = 60) -> Checked:
    """None lost, runs = distinct firing groups exactly. On the local executor the intake
    writes a run's record before it answers (its driving may start later:
    engine.serve.starts); on others it may answer first: the runs are counted once their
    number stops growing (or matches)."""
    problems = []
    answered = sum(n for status, n in sent.statuses.items() if 200 <= status < 300)
    if answered != burst.posts:
        problems.append(f"{burst.posts - answered} of {burst.posts} posts not answered 2xx: "
                        f"{dict(sent.statuses)}")
    headers = {"authorization": f"Bearer {server.viewer_token}"}
    async with httpx.AsyncClient(base_url=server.base, headers=headers, timeout=60) as client:
        counts: Counter[str] = Counter()
        started: set[str] = set()
        for disposition in ("started", "deduped", "resolved", "unmatched", "refused"):
            kept = await _get(client, f"/api/v1/alerts?disposition={disposition}&limit=1000")
            if len(kept) == 1000:
                problems.append(f"{disposition}: 1,000 or more (the API's page): not counted")
            counts[disposition] = len(kept)
            if disposition == "started":
                started = {a["run_id"] for a in kept}
        distinct = len(burst.firing_groups)
        want = {"started": distinct, "deduped": burst.firing - distinct,
                "resolved": burst.resolved, "unmatched": warmup, "refused": 0}
        for disposition, n in want.items():
            if counts[disposition] != n:
                problems.append(f"{counts[disposition]} alerts recorded {disposition}, "
                                f"expected {n}")
        deadline = time.monotonic() + settle_s
        runs: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            runs = await _get(client, "/api/v1/runs?limit=1000")
            if len(runs) >= len(started):
                break
            await asyncio.sleep(0.2)
        if len(runs) != distinct:
            problems.append(f"{len(runs)} runs for {distinct} distinct firing groups")
        if {r["run_id"] for r in runs} != started:
            problems.append("the runs are not the ones the `started` alerts name")
    return Checked(counts, len(runs), distinct, problems)


async def wind_down(server: Server, *, timeout: float = 120) -> str:
    """Cancel every live run through the API, wait until none runs, stop the server with
    SIGTERM; how it went, in words."""
    headers = {"authorization": f"Bearer {server.operator_token}"}
    async with httpx.AsyncClient(base_url=server.base, headers=headers, timeout=60) as client:
        running = await _get(client, "/api/v1/runs?status=running&limit=1000")
        gate = asyncio.Semaphore(16)

        async def cancel(run_id: str) -> None:
            async with gate:
                await client.post(f"/api/v1/runs/{run_id}/cancel")

        await asyncio.gather(*(cancel(r["run_id"]) for r in running))
        deadline = time.monotonic() + timeout
        while running and time.monotonic() < deadline:
            await asyncio.sleep(0.25)
            running = await _get(client, "/api/v1/runs?status=running&limit=1000")
    server.proc.send_signal(signal.SIGTERM)
    try:
        code = server.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        code = server.proc.wait()
        return f"{len(running)} runs still running; did not stop on SIGTERM (killed)"
    left = f"{len(running)} runs still running, " if running else "every run ended, "
    # uvicorn shuts down gracefully on SIGTERM, then re-raises it: exit -15 is the clean end
    clean = "Application shutdown complete" in server.log.read_text(errors="replace")
    return left + ("shut down cleanly on SIGTERM" if clean and code in (0, -signal.SIGTERM)
                   else f"NOT a clean shutdown (exit {code}):\n{server.tail()}")


async def run_burst(server: Server, burst: Burst, *, concurrency: int,
                    warmup: int = 0) -> tuple[Sent, Sent, Checked, str]:
    """Warm the server up with `warmup` alerts no guide matches (validated and recorded, no
    run: the intake alone, timed too), post the burst, check it, wind the server down."""
    warm = Sent()
    if warmup:
        warm = await fire(f"{server.base}/api/v1/alerts",
                          [notification(f"warm-{i}", "warm", "firing", WARMUP)
                           for i in range(warmup)],
                          token=server.alerts_token, concurrency=min(concurrency, warmup))
    sent = await fire(f"{server.base}/api/v1/alerts", burst.bodies, token=server.alerts_token,
                      concurrency=concurrency)
    checked = await check(server, burst, sent, warmup=warmup)
    stopped = await wind_down(server)
    return warm, sent, checked, stopped


# -- the measure ----------------------------------------------------------------------------


async def _admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f}"


async def one_repetition(rep: int, burst: Burst, opts: argparse.Namespace
                         ) -> tuple[dict[str, float], bool]:
    """One floor and one serve, the burst to each; the percentiles (seconds) and the checks."""
    workdir = Path(tempfile.mkdtemp(prefix="mf-bench-intake-"))
    write_guide(workdir / "guides")
    database = None
    if opts.postgres:
        database = f"mf_bench_intake_{uuid.uuid4().hex[:8]}"
        await _admin(f"CREATE DATABASE {database}")
    try:
        with floor(workdir) as floor_url:
            await fire(floor_url, burst.bodies[:50], concurrency=opts.concurrency)  # warm-up
            floor_sent = await fire(floor_url, burst.bodies, concurrency=opts.concurrency)
        url = ADMIN_URL.rsplit("/", 1)[0] + f"/{database}" if database else None
        with serve(workdir, database_url=url) as server:
            warm, sent, checked, stopped = await run_burst(
                server, burst, concurrency=opts.concurrency, warmup=min(500, burst.posts // 2))
    finally:
        if database:
            await _admin(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    ratio = sent.p(0.99) / floor_sent.p(0.99)
    print(f"   rep {rep}: floor p50 {ms(floor_sent.p(0.5))} ms p99 {ms(floor_sent.p(0.99))} ms "
          f"({burst.posts / floor_sent.elapsed:.0f} posts/s) | serve p50 {ms(sent.p(0.5))} ms "
          f"p99 {ms(sent.p(0.99))} ms ({burst.posts / sent.elapsed:.0f} posts/s) | "
          f"p99 ratio {ratio:.2f}x")
    print(f"          intake alone ({len(warm.latencies)} unmatched "
          f"alerts first, no run started): p50 {ms(warm.p(0.5))} ms p99 {ms(warm.p(0.99))} ms "
          f"({len(warm.latencies) / warm.elapsed:.0f} posts/s)")
    c = checked.dispositions
    print(f"          {sum(sent.statuses[s] for s in sent.statuses if 200 <= s < 300)} of "
          f"{burst.posts} answered 2xx; recorded started {c['started']}, deduped "
          f"{c['deduped']}, resolved {c['resolved']} (+{c['unmatched']} unmatched); "
          f"runs {checked.runs} for {checked.expected_runs} distinct firing groups: "
          + ("ok" if checked.ok else "FAILED: " + "; ".join(checked.problems)))
    print(f"          server: {stopped}")
    if checked.ok and "cleanly" in stopped:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"          kept for a look: {workdir} (serve.log, floor.log)")
    return ({"floor p50": floor_sent.p(0.5), "floor p99": floor_sent.p(0.99),
             "serve p50": sent.p(0.5), "serve p99": sent.p(0.99),
             "alone p50": warm.p(0.5), "alone p99": warm.p(0.99)}, checked.ok)


async def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    args.add_argument("--repeat", type=int, default=3, help="repetitions of the whole measure")
    args.add_argument("--posts", type=int, default=1000,
                      help="posts in the burst (at most 1,600: the counts read pages of 1,000)")
    args.add_argument("--concurrency", type=int, default=32, help="posts in flight")
    args.add_argument("--postgres", action="store_true",
                      help="serve on a fresh database of the local PostgreSQL "
                           "(MENDFLOW_TEST_DATABASE_URL), not the embedded SQLite store")
    opts = args.parse_args()
    # SIGTERM unwinds like Ctrl-C: the server is stopped and the database dropped on the way
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if not 10 <= opts.posts <= 1600:
        raise SystemExit("--posts: between 10 and 1,600")
    burst = make_burst(opts.posts)
    store = "PostgreSQL" if opts.postgres else "embedded SQLite"
    print(f"intake: {burst.posts} posts ({len(burst.firing_groups)} firing groups, "
          f"{burst.firing - len(burst.firing_groups)} repeats, {burst.resolved} resolved), "
          f"{opts.concurrency} in flight; serve on {store}, local executor")
    reps, oks = [], []
    for rep in range(1, opts.repeat + 1):
        measured, ok = await one_repetition(rep, burst, opts)
        reps.append(measured)
        oks.append(ok)
    m = {k: statistics.median(r[k] for r in reps) for k in reps[0]}
    print(f"   median of reps: floor p50 {ms(m['floor p50'])} / p99 {ms(m['floor p99'])} ms, "
          f"serve p50 {ms(m['serve p50'])} / p99 {ms(m['serve p99'])} ms; p99 ratio "
          f"{m['serve p99'] / m['floor p99']:.2f}x (target: at most 2x); intake alone p50 "
          f"{ms(m['alone p50'])} / p99 {ms(m['alone p99'])} ms, p99 ratio "
          f"{m['alone p99'] / m['floor p99']:.2f}x; checks "
          f"{'passed' if all(oks) else 'FAILED'} in {sum(oks)} of {len(oks)} repetitions")


if __name__ == "__main__":
    asyncio.run(main())
