"""Test plugins for real worker processes, registered through the worker-side hook
`MENDFLOW_WORKER_PLUGINS=tests.worker.plugins:LedgerPlugin,tests.worker.plugins:CrashPlugin`
(see `worker.config.WorkerSettings.worker_plugins`), not through entry points, so that an
installed Mendflow never ships them.

`ledger` is a mutating step with an observable effect: it notes every call in `calls` (no
constraint: a step run twice shows up twice), then applies its effect to `ledger` keyed by the
idempotency key (UNIQUE, `ON CONFLICT DO NOTHING`, as a real idempotent action would), so it
declares itself `idempotent`. `effect` does the same but applies its effect to `effects` with
no key (as a restart or a page does): running it twice does it twice; it is not idempotent.
`probe` is read-only: it notes its call and waits. `crash` kills its worker process outright,
as a segfaulting driver would.
"""

from __future__ import annotations

import asyncio
import os
from typing import ClassVar

import asyncpg
from pydantic import BaseModel

from engine.plugins import PluginBase, StepContext, StepResult

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS ledger (key text PRIMARY KEY, run_id text NOT NULL, "
    "step_id text NOT NULL, attempt int NOT NULL, at timestamptz NOT NULL DEFAULT now())",
    "CREATE TABLE IF NOT EXISTS calls (key text NOT NULL, pid int NOT NULL, "
    "at timestamptz NOT NULL DEFAULT now())",
    "CREATE TABLE IF NOT EXISTS effects (key text NOT NULL, run_id text NOT NULL, "
    "step_id text NOT NULL, pid int NOT NULL, at timestamptz NOT NULL DEFAULT now())",
)


class LedgerParams(BaseModel):
    sleep_s: float = 0.0
    effect_at_s: float = 0.0  # `effect`: when, after it starts, its effect is applied


class LedgerPlugin(PluginBase):
    name: ClassVar[str] = "ledger"
    Params = LedgerParams
    read_only = False
    idempotent: ClassVar[bool] = True  # its effect is keyed by the idempotency key
    _pool: ClassVar[asyncpg.Pool | None] = None

    @classmethod
    async def _db(cls) -> asyncpg.Pool:
        if cls._pool is None:
            cls._pool = await asyncpg.create_pool(os.environ["MENDFLOW_TEST_LEDGER_URL"],
                                                  min_size=1, max_size=2)
        return cls._pool

    async def _execute(self, sql: str, *args: object) -> object:
        for _ in range(120):  # ride out a PostgreSQL restart, as a real action would
            try:
                return await (await self._db()).fetchval(sql, *args)
            except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
                    asyncpg.CannotConnectNowError, asyncpg.AdminShutdownError,
                    asyncpg.exceptions.InternalClientError):
                await asyncio.sleep(0.25)
        raise RuntimeError("ledger database unreachable")

    async def run(self, *, params: LedgerParams, ctx: StepContext) -> StepResult:
        await self._execute("INSERT INTO calls (key, pid) VALUES ($1, $2)",
                            ctx.idempotency_key, os.getpid())
        if params.sleep_s:
            await asyncio.sleep(params.sleep_s)
        applied = await self._execute(
            "INSERT INTO ledger (key, run_id, step_id, attempt) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT (key) DO NOTHING RETURNING true",
            ctx.idempotency_key, ctx.run_id, ctx.step_id, ctx.attempt)
        return StepResult(outputs={"applied": bool(applied)}, summary="ledger")


class EffectPlugin(LedgerPlugin):
    name: ClassVar[str] = "effect"
    idempotent: ClassVar[bool] = False

    async def run(self, *, params: LedgerParams, ctx: StepContext) -> StepResult:
        await self._execute("INSERT INTO calls (key, pid) VALUES ($1, $2)",
                            ctx.idempotency_key, os.getpid())
        await asyncio.sleep(params.effect_at_s)
        await self._execute("INSERT INTO effects (key, run_id, step_id, pid) VALUES "
                            "($1, $2, $3, $4)", ctx.idempotency_key, ctx.run_id, ctx.step_id,
                            os.getpid())
        await asyncio.sleep(max(0.0, params.sleep_s - params.effect_at_s))
        return StepResult(outputs={"applied": True}, summary="effect")


class ProbePlugin(LedgerPlugin):
    name: ClassVar[str] = "probe"
    read_only = True
    idempotent: ClassVar[bool] = False

    async def run(self, *, params: LedgerParams, ctx: StepContext) -> StepResult:
        await self._execute("INSERT INTO calls (key, pid) VALUES ($1, $2)",
                            ctx.idempotency_key, os.getpid())
        await asyncio.sleep(params.sleep_s)
        return StepResult(outputs={"looked": True}, summary="probe")


class CrashPlugin(PluginBase):
    name: ClassVar[str] = "crash"
    Params = LedgerParams
    read_only = True

    async def run(self, *, params: LedgerParams, ctx: StepContext) -> StepResult:
        os._exit(70)
