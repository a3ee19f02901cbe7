"""bench/bench_intake.py's burst at a small size, checked for correctness, not speed: a real
`mendflow serve` process given 60 Alertmanager posts at once (30% repeats of firing groups,
10% resolved) answers every one, records every one, and starts exactly one run per distinct
firing group, on the embedded store and on PostgreSQL; then every run is cancelled and the
server stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import uuid
from pathlib import Path
from types import ModuleType

import pytest

from .test_real_alertmanager import ADMIN_URL, admin_sql

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_intake",
                                                  ROOT / "bench" / "bench_intake.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


bench = _bench()


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_a_burst_loses_nothing_and_starts_one_run_per_firing_group(tmp_path: Path,
                                                                   store: str) -> None:
    burst = bench.make_burst(60, seed=7)
    assert (burst.posts, len(burst.firing_groups), burst.firing, burst.resolved) == \
        (60, 36, 54, 6)
    bench.write_guide(tmp_path / "guides")
    database = f"mf_burst_{uuid.uuid4().hex[:8]}" if store == "postgres" else None
    if database:
        admin_sql(f"CREATE DATABASE {database}")
    try:
        url = ADMIN_URL.rsplit("/", 1)[0] + f"/{database}" if database else None
        with bench.serve(tmp_path, database_url=url) as server:
            _, sent, checked, stopped = asyncio.run(
                bench.run_burst(server, burst, concurrency=16, warmup=5))
    finally:
        if database:
            admin_sql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    assert dict(sent.statuses) == {200: 60}, sent.statuses
    # every post recorded with what became of it; repeats (including a repeat that overtook
    # its group's first post) deduped to the group's one run
    assert dict(checked.dispositions) == {"started": 36, "deduped": 18, "resolved": 6,
                                          "unmatched": 5, "refused": 0}, checked.problems
    assert checked.runs == 36 and checked.ok, checked.problems
    assert stopped == "every run ended, shut down cleanly on SIGTERM", stopped
