"""The worker's settings: Mendflow's own (`engine.settings.Settings`) plus what only a Celery
worker needs, each read once from `MENDFLOW_<NAME>`.

Owns the defaults that make at-least-once delivery safe: the broker's visibility timeout must
exceed the longest task (default timeout + claim grace + the time a task may go on continuing
a run's steps), or Redis would hand a running task to a second worker before the first is done
(the claim would still stop it running twice, at the cost of a wasted delivery).
"""

from __future__ import annotations

from pydantic import Field, ValidationError

from engine import metrics
from engine.errors import ConfigError
from engine.settings import Settings, describe_invalid

DEFAULT_BROKER = "redis://127.0.0.1:6379/0"


class WorkerSettings(Settings):
    default_queue: str = Field(default="mendflow", description="Queue of steps with no queue.")
    visibility_timeout_s: float = Field(default=3600.0, gt=0,
                                        description="Redis redelivers an unacked task after.")
    max_deliveries: int = Field(default=3, ge=1,
                                description="Executions of one attempt before it is poison.")
    lease_grace_s: float = Field(default=30.0, ge=0, description="Claim lease past timeout.")
    reconcile_every_s: float = Field(default=30.0, gt=0, description="Sweep for lost tasks.")
    stall_after_s: float = Field(default=120.0, gt=0,
                                 description="A running run idle this long is swept.")
    db_pool_size: int = Field(default=2, ge=1, description="PostgreSQL connections/process.")
    continue_steps: int = Field(default=100, ge=0, description="Steps a task may go on with "
                                "itself (claimed in the commit that started them) before it "
                                "publishes them instead; 0: always publish.")
    continue_s: float = Field(default=2.0, ge=0, description="No step is continued once a task "
                              "has run this long: it publishes them instead.")
    continue_width: int = Field(default=32, ge=1, description="Of the steps one commit "
                                "starts, how many a task keeps and runs at once itself, "
                                "together on its event loop (the others are published); 1: "
                                "one, a fan-out's other branches go through the broker.")
    worker_metrics_port: int | None = Field(default=None, ge=1, le=65535, description="Serve "
                                            "the worker's metrics at http://0.0.0.0:PORT/metrics "
                                            "(all its pool processes summed); unset: none.")
    worker_plugins: str = Field(default="", description="Extra plugin classes for workers, "
                                "'module:Class,...' (tests register theirs this way).")

    @property
    def broker(self) -> str:
        return self.broker_url or DEFAULT_BROKER

    def check(self) -> None:
        longest = self.default_timeout_s + self.lease_grace_s + self.continue_s
        if self.visibility_timeout_s <= longest:
            raise ConfigError(
                f"MENDFLOW_VISIBILITY_TIMEOUT_S={self.visibility_timeout_s:g} does not exceed "
                f"the longest task ({longest:g}s = default timeout + lease grace + "
                "continuation time)", hint="Raise MENDFLOW_VISIBILITY_TIMEOUT_S, or lower the "
                "timeout, the grace or MENDFLOW_CONTINUE_S")
        if self.worker_metrics_port is not None and not metrics.multiprocess_dir():
            raise ConfigError(
                "MENDFLOW_WORKER_METRICS_PORT is set but PROMETHEUS_MULTIPROC_DIR is not: the "
                "pool processes' metrics would not be summed",
                hint="Start the worker with `mendflow worker --metrics-port P` (it sets both), "
                     "or set PROMETHEUS_MULTIPROC_DIR to an empty folder")
        if not self.database_url:
            raise ConfigError("workers need a shared store: MENDFLOW_DATABASE_URL is not set",
                              hint="Set it to postgresql://user:password@host:5432/db")


def load_worker_settings() -> WorkerSettings:
    try:
        settings = WorkerSettings()
    except ValidationError as exc:  # pydantic validation of MENDFLOW_* values
        raise ConfigError(f"bad setting: {describe_invalid(exc)}") from None
    settings.check()
    return settings
