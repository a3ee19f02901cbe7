"""Pytest fixtures for a real Prometheus server; the process management is `demo.prometheus`.

Fixtures: `prometheus_binary` (skips when the Debian `prometheus` package is absent) and
`prometheus_factory` (starts servers, stops them after the test). The builders
(`openmetrics_document`, `rising_counter`, `gauge_samples`) and `start_prometheus` are
re-exported from `demo.prometheus` for the tests that import them from here.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator

import pytest

from demo.prometheus import (  # noqa: F401 - re-exported for tests
    MISSING_REASON,
    PROMETHEUS,
    PROMTOOL,
    PrometheusServer,
    backfill,
    free_port,
    gauge_samples,
    openmetrics_document,
    prometheus_available,
    rising_counter,
    running_prometheus,
    start_prometheus,
)


@pytest.fixture(scope="session")
def prometheus_binary() -> str:
    if not prometheus_available():
        pytest.skip(MISSING_REASON)
    return shutil.which(PROMETHEUS) or PROMETHEUS


@pytest.fixture
def prometheus_factory(
        prometheus_binary: str, tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., PrometheusServer]]:
    """`prometheus_factory(openmetrics=None)` starts a server; all are stopped after the test."""
    servers: list[PrometheusServer] = []

    def start(openmetrics: str | None = None) -> PrometheusServer:
        server = start_prometheus(tmp_path_factory.mktemp("prometheus"), openmetrics=openmetrics)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
