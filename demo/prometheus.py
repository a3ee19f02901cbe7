"""A real Prometheus server for demos and tests: free port, its own TSDB, optional backfill.

    with running_prometheus(workdir, openmetrics=openmetrics_document(...)) as prom:
        httpx.get(f"{prom.url}/api/v1/query", params={"query": "up"})

Backfill goes through `promtool tsdb create-blocks-from openmetrics` before the server starts,
so the data is queryable as soon as the server is ready. `openmetrics_document`,
`rising_counter` and `gauge_samples` build the OpenMetrics text. `start_prometheus(...,
detach=True)` leaves the server running after this process exits (the demo's `up`);
`stop_pid` stops it later by its process id.

Owns only process management; knows nothing of Mendflow, and nothing of pytest (the fixtures
are in `tests/support/prometheus.py`).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

PROMETHEUS = "prometheus"
PROMTOOL = "promtool"
MISSING_REASON = ("Prometheus is not installed (needs /usr/bin/prometheus and promtool: "
                  "apt-get install -y prometheus)")


def prometheus_available() -> bool:
    return shutil.which(PROMETHEUS) is not None and shutil.which(PROMTOOL) is not None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class PrometheusServer:
    url: str
    port: int
    data_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    _stopped: bool = field(default=False, repr=False)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    body = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return "{" + body + "}"


def rising_counter(name: str, labels: Mapping[str, str], *, per_second: float,
                   duration_s: float = 2 * 3600, step_s: float = 15,
                   end: float | None = None) -> list[str]:
    """Sample lines of a counter rising at `per_second` over the last `duration_s` seconds."""
    end = time.time() if end is None else end
    start = end - duration_s
    lines, t = [], start
    while t <= end:
        value = (t - start) * per_second
        lines.append(f"{name}{_labels(labels)} {value:.3f} {t:.3f}")
        t += step_s
    return lines


def gauge_samples(name: str, labels: Mapping[str, str], values: Iterable[float], *,
                  step_s: float = 15, end: float | None = None) -> list[str]:
    """Sample lines of a gauge taking `values` in turn, the last one at `end` (default now)."""
    values = list(values)
    end = time.time() if end is None else end
    start = end - step_s * (len(values) - 1)
    return [f"{name}{_labels(labels)} {v} {start + i * step_s:.3f}" for i, v in enumerate(values)]


def openmetrics_document(families: Mapping[str, tuple[str, Iterable[str]]]) -> str:
    """Join metric families `{family: (type, sample lines)}` into an OpenMetrics document.

    A counter family `http_requests` has samples named `http_requests_total`.
    """
    out: list[str] = []
    for family, (kind, lines) in families.items():
        out.append(f"# TYPE {family} {kind}")
        out.extend(lines)
    out.append("# EOF")
    return "\n".join(out) + "\n"


def backfill(data_dir: Path, openmetrics: str) -> None:
    source = data_dir.parent / "backfill.om"
    source.write_text(openmetrics)
    done = subprocess.run(
        [PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", str(source), str(data_dir)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"promtool backfill failed: {done.stderr or done.stdout}")


def start_prometheus(workdir: Path, *, openmetrics: str | None = None,
                     ready_timeout_s: float = 30, detach: bool = False) -> PrometheusServer:
    """Start Prometheus on a free localhost port with its TSDB under `workdir`; wait for ready.

    `detach` puts the server in a session of its own, so it outlives this process and a
    Ctrl-C in the terminal that started it.
    """
    if not prometheus_available():
        raise RuntimeError(MISSING_REASON)
    workdir.mkdir(parents=True, exist_ok=True)
    data_dir = workdir / "tsdb"
    data_dir.mkdir(exist_ok=True)
    if openmetrics:
        backfill(data_dir, openmetrics)
    config = workdir / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1h\nscrape_configs: []\n")
    last_error = ""
    for _ in range(3):  # the free port may be taken between choosing and binding it
        port = free_port()
        log_path = workdir / f"prometheus-{port}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={data_dir}",
                 f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=30d",
                 "--log.level=warn"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=detach,
            )
        server = PrometheusServer(f"http://127.0.0.1:{port}", port, data_dir, process, log_path)
        if _wait_ready(server, ready_timeout_s):
            return server
        server.stop()
        last_error = server.log()[-2000:]
    raise RuntimeError(f"Prometheus did not become ready: {last_error}")


def _wait_ready(server: PrometheusServer, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"{server.url}/-/ready", timeout=1) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    return False


@contextmanager
def running_prometheus(workdir: Path, *,
                       openmetrics: str | None = None) -> Iterator[PrometheusServer]:
    server = start_prometheus(workdir, openmetrics=openmetrics)
    try:
        yield server
    finally:
        server.stop()


def stop_pid(pid: int, *, timeout_s: float = 15) -> bool:
    """Stop a server started with `detach=True` by an earlier process; False if it was gone."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    with _ignore(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    return True


@contextmanager
def _ignore(*errors: type[BaseException]) -> Iterator[None]:
    try:
        yield
    except errors:
        pass
