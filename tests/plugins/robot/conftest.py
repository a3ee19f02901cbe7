"""A real simulated cell: `python -m plugins.robot.sim_cell` in a subprocess, over TCP."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_cell(*args: str, time_scale: float = 0.03) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "plugins.robot.sim_cell", "--port", str(port),
         "--time-scale", str(time_scale), *args],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, f"opcua://127.0.0.1:{port}"
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("the simulated cell exited at start") from None
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the simulated cell did not start listening")


def stop_cell(proc: subprocess.Popen) -> None:
    proc.kill()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def cell() -> Iterator[str]:
    # Seeded: the attempts this module queues, in its order, are fixed traces (the successful
    # one watched live carries a sensor offset and is one the detector passes).
    proc, url = start_cell("--seed", "8")
    yield url
    stop_cell(proc)


@pytest.fixture(scope="module")
def peg_cal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.plugins.detectors.helpers import peg_calibration
    return peg_calibration(tmp_path_factory.mktemp("cal"))
