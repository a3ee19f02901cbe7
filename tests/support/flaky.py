"""The flaky-scenarios TSG's world: run records in a PostgreSQL schema, a reader login, and a
mendflow.toml naming them.

`seed` writes one day of runs of three robot-cell scenarios (plus an older failed run that the
guide's window leaves out): with `flaky`, peg_in_hole completes 12 of its 20 runs and fails
mostly at `align`; without, every scenario completes at least 95% of its runs.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "tests" / "fixtures" / "guides" / "tsg" / "flaky-scenarios.md"
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
READER = "mendflow_test_reader"
SCENARIOS = ("pick_place", "peg_in_hole", "cable_routing")


def runs(*, flaky: bool) -> list[tuple[int, str, str, str | None, int]]:
    """(run_id, scenario, status, failed_step, hours ago)."""
    out = []
    for scenario in SCENARIOS:
        for i in range(20):
            n = len(out) + 1
            if scenario == "peg_in_hole" and flaky and i % 5 in (1, 2, 3) and i < 15:
                out.append((n, scenario, "failed", "insert" if i % 5 == 3 else "align", i))
            elif scenario == "cable_routing" and i == 3:
                out.append((n, scenario, "failed", "route_clip_2", i))
            else:
                out.append((n, scenario, "completed", None, i))
    out.append((len(out) + 1, "pick_place", "failed", "grasp", 72))  # outside the window
    return out


async def seed(*, flaky: bool) -> str:
    """A fresh schema holding `scenario_runs`; returns its name."""
    schema = f"flaky_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(ADMIN_URL, timeout=5)
    try:
        try:
            await conn.execute(f"CREATE ROLE {READER} LOGIN IN ROLE pg_read_all_data")
        except (asyncpg.exceptions.DuplicateObjectError,
                asyncpg.exceptions.UniqueViolationError):
            pass
        await conn.execute(f"CREATE SCHEMA {schema}")
        await conn.execute(f"CREATE TABLE {schema}.scenario_runs (run_id int PRIMARY KEY, "
                           "scenario text, status text, failed_step text, "
                           "started_at timestamptz)")
        await conn.executemany(
            f"INSERT INTO {schema}.scenario_runs VALUES ($1, $2, $3, $4, "
            "now() - make_interval(hours => $5::int, mins => 5))", runs(flaky=flaky))
    finally:
        await conn.close()
    return schema


async def drop(schema: str) -> None:
    conn = await asyncpg.connect(ADMIN_URL, timeout=5)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    finally:
        await conn.close()


def config(directory: Path, schema: str) -> Path:
    """mendflow.toml: the results database, read through the reader login."""
    path = directory / "mendflow.toml"
    path.write_text("[datasources.results]\ntype = \"postgresql\"\n"
                    f"url = \"postgresql://{READER}@127.0.0.1:5432/test?search_path={schema}\"\n")
    return path
