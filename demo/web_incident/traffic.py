"""The incident's traffic, generated deterministically: one request log, two views of it.

A web service (`shop-web`) serves four endpoints. Six hours ago only v1 ran; one hour ago
v2 was rolled out to half of the fleet (the rollout is paused at 50%). Every request is drawn
from a seeded random generator, so the same seed and the same `now` give the same requests:

- the request log rows (`Request`) go to PostgreSQL, up to `now`;
- `http_requests_total{service,version,code,path}` counters, summed from the same requests in
  15-second buckets, go to Prometheus. The counters carry on for `live_s` after `now` (the
  incident is still happening), so the guide's 15-minute windows still see it a while later.

Scenarios (what the guide should conclude):

- `regression`: v2 fails 30% of /api/checkout and 1% elsewhere; v1 stays at 0.5%
  -> the new version causes the errors: roll back.
- `healthy`: v2 behaves like v1 (0.5%) -> no action.
- `upstream`: 20 minutes ago the payment provider started failing: /api/checkout returns 503
  for a quarter of requests on both versions -> not the deploy: the service owner.

Owns only data; no I/O.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass

SERVICE = "shop-web"
SCENARIOS = ("regression", "healthy", "upstream")
STEP_S = 15
HISTORY_S = 6 * 3600
DEPLOY_AGO_S = 3600
UPSTREAM_AGO_S = 20 * 60
RATE_PER_S = 6.0
V2_SHARE = 0.5
PATHS = {  # path -> (share of traffic, method, median latency ms)
    "/api/checkout": (0.25, "POST", 180),
    "/api/cart": (0.20, "POST", 60),
    "/api/products": (0.45, "GET", 35),
    "/api/search": (0.10, "GET", 90),
}
BASE_ERROR = 0.005


@dataclass(frozen=True, slots=True)
class Request:
    ts: dt.datetime
    service: str
    version: str
    method: str
    path: str
    status: int
    duration_ms: int


def error_probability(scenario: str, version: str, path: str, age_s: float) -> float:
    """Chance that a request to `path` on `version`, `age_s` seconds before now, is a 5xx."""
    p = BASE_ERROR
    if scenario == "regression" and version == "v2":
        p = 0.30 if path == "/api/checkout" else 0.01
    if scenario == "upstream" and path == "/api/checkout" and age_s <= UPSTREAM_AGO_S:
        p = 0.25
    return p


def requests(scenario: str, *, now: float, seed: int = 7, until: float | None = None
             ) -> Iterator[Request]:
    """Every request from `now - 6h` to `until` (default `now`), in time order."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")
    rng = random.Random(f"{seed}:{scenario}")
    paths = list(PATHS)
    weights = [PATHS[p][0] for p in paths]
    start = _bucket(now) - HISTORY_S
    end = now if until is None else until
    t = start
    while t < end:
        expected = RATE_PER_S * STEP_S
        count = max(0, round(rng.gauss(expected, expected ** 0.5)))
        for offset in sorted(rng.random() * STEP_S for _ in range(count)):
            when = t + offset
            if when >= end:
                break
            age = now - when
            version = "v2" if age <= DEPLOY_AGO_S and rng.random() < V2_SHARE else "v1"
            path = rng.choices(paths, weights)[0]
            method, median = PATHS[path][1], PATHS[path][2]
            if rng.random() < error_probability(scenario, version, path, age):
                status = 503 if rng.random() < 0.6 else 500
            else:
                status = 404 if rng.random() < 0.02 else 200
            duration = max(1, round(rng.lognormvariate(0, 0.5) * median))
            yield Request(dt.datetime.fromtimestamp(when, dt.UTC), SERVICE, version, method,
                          path, status, duration)
        t += STEP_S


def counter_samples(reqs: Iterator[Request], *, start: float, end: float) -> list[str]:
    """OpenMetrics sample lines of `http_requests_total`, every 15 s from `start` to `end`.

    A series appears with its first request (v2's at the deploy) and then reports its running
    total at every step, as a scraped counter does.
    """
    totals: dict[tuple[str, str, str, str], int] = {}
    lines: list[str] = []
    pending = iter(reqs)
    nxt = next(pending, None)
    t = _bucket(start) + STEP_S
    while t <= end:
        while nxt is not None and nxt.ts.timestamp() < t:
            key = (nxt.service, nxt.version, str(nxt.status), nxt.path)
            totals[key] = totals.get(key, 0) + 1
            nxt = next(pending, None)
        for (service, version, code, path), value in sorted(totals.items()):
            lines.append(f'http_requests_total{{code="{code}",path="{path}",service="{service}",'
                         f'version="{version}"}} {value} {t:.3f}')
        t += STEP_S
    return lines


def _bucket(t: float) -> float:
    return t - t % STEP_S
