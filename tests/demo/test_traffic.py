"""The web incident's traffic: seeded (same seed and `now`, same requests) and shaped as told."""

from __future__ import annotations

import itertools

from demo.web_incident import traffic

NOW = 1_750_000_000.0


def ratio(reqs: list[traffic.Request], **match: str) -> float:
    chosen = [r for r in reqs if all(getattr(r, k) == v for k, v in match.items())]
    return sum(r.status >= 500 for r in chosen) / len(chosen)


def test_same_seed_same_requests_other_seed_other_requests():
    first = list(itertools.islice(traffic.requests("regression", now=NOW), 5000))
    again = list(itertools.islice(traffic.requests("regression", now=NOW), 5000))
    other = list(itertools.islice(traffic.requests("regression", now=NOW, seed=8), 5000))
    assert first == again and first != other


def test_counters_total_the_logged_requests():
    reqs = list(traffic.requests("healthy", now=NOW))
    lines = traffic.counter_samples(iter(reqs), start=NOW - traffic.HISTORY_S, end=NOW)
    last_t = lines[-1].rsplit(" ", 2)[-1]
    final = [ln for ln in lines if ln.endswith(" " + last_t)]
    assert sum(int(ln.rsplit(" ", 2)[-2]) for ln in final) == \
        sum(r.ts.timestamp() < float(last_t) for r in reqs)


def test_each_scenario_has_the_shape_its_conclusion_needs():
    since_deploy = NOW - traffic.DEPLOY_AGO_S
    bad = [r for r in traffic.requests("regression", now=NOW) if r.ts.timestamp() > since_deploy]
    assert ratio(bad, version="v2") > 0.05 and ratio(bad, version="v1") < 0.02
    assert min(r.ts.timestamp() for r in bad if r.version == "v2") < since_deploy + 60
    fine = [r for r in traffic.requests("healthy", now=NOW) if r.ts.timestamp() > since_deploy]
    assert ratio(fine, version="v2") < 0.02 and ratio(fine, version="v1") < 0.02
    recent = NOW - traffic.UPSTREAM_AGO_S
    upstream = [r for r in traffic.requests("upstream", now=NOW) if r.ts.timestamp() > recent]
    assert ratio(upstream, version="v1") > 0.02 and ratio(upstream, version="v2") > 0.02
