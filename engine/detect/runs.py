"""Recorded runs on disk: one JSON-lines file per attempt.

    {"mendflow_run": 1, "label": "success", "channels": ["fx", ...], "meta": {...}}
    [0.0, 0.12, -0.03, ...]          # t, then one value per channel (null for NaN)
    [0.02, 0.11, -0.01, ...]

`label` is `success` or `failure` (or null when unknown). `meta` is free-form; the simulated
cell writes `mode`, `duration_s`, `failure_onset_s`, `offset`. Plain text, so a reviewer can
open one, and small enough at 50 Hz for a few hundred runs.

This module does not score or calibrate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.detect.errors import StreamDataError
from engine.files import loads, read_text

FORMAT_VERSION = 1


@dataclass
class RecordedRun:
    t: np.ndarray
    x: np.ndarray  # (steps, channels)
    channels: list[str]
    label: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @property
    def duration_s(self) -> float:
        if "duration_s" in self.meta:
            return float(self.meta["duration_s"])
        return float(self.t[-1] - self.t[0]) if len(self.t) > 1 else 0.0


def write_run(run: RecordedRun, path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    header = {"mendflow_run": FORMAT_VERSION, "label": run.label, "channels": run.channels,
              "meta": run.meta}
    with p.open("w", encoding="utf-8") as f:
        f.write(json.dumps(header) + "\n")
        for ti, row in zip(run.t, run.x, strict=True):
            vals = [round(float(ti), 4)] + [None if not np.isfinite(v) else round(float(v), 4)
                                            for v in row]
            f.write(json.dumps(vals, separators=(",", ":")) + "\n")
    return p


def read_run(path: str | Path) -> RecordedRun:
    p = Path(path)
    lines = read_text(p, what="recorded run", error=StreamDataError,
                      hint="Record runs with `mendflow detector` or the sim cell").splitlines()
    try:
        header = loads(lines[0]) if lines else {}
    except json.JSONDecodeError:
        header = {}
    if not isinstance(header, dict) or header.get("mendflow_run") != FORMAT_VERSION:
        raise StreamDataError(f"{p} is not a recorded run (no header line)", file=str(p),
                              line=1, hint='The first line must be {"mendflow_run": 1, '
                                           '"channels": [...], ...}')
    channels, label, meta = _header(header, p)
    rows = []
    for i, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            row = loads(line)
        except json.JSONDecodeError as exc:
            raise StreamDataError(f"bad sample: {exc.msg}", file=str(p), line=i) from None
        if not isinstance(row, list) or len(row) != len(channels) + 1:
            raise StreamDataError(f"a sample has {len(row) if isinstance(row, list) else '?'}"
                                  f" values, expected t + {len(channels)} channels",
                                  file=str(p), line=i)
        bad = next((v for v in row if v is not None and not _number(v)), None)
        if bad is not None or row[0] is None:
            raise StreamDataError(f"a sample holds {json.dumps(bad)[:40]}, not a number",
                                  file=str(p), line=i,
                                  hint="Each sample is [t, one number or null per channel]")
        rows.append([np.nan if v is None else float(v) for v in row])
    arr = np.asarray(rows, dtype=float).reshape(-1, len(channels) + 1)
    return RecordedRun(t=arr[:, 0], x=arr[:, 1:], channels=channels,
                       label=label, meta=meta, path=p)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _header(header: dict[str, Any], p: Path) -> tuple[list[str], str | None, dict[str, Any]]:
    """The header's channels, label and meta, each of the type it must be."""
    channels = header.get("channels") or []
    label = header.get("label")
    meta = header.get("meta") or {}
    hint = ('The first line must be {"mendflow_run": 1, "label": "success" | "failure" | null, '
            '"channels": ["name", ...], "meta": {...}}')
    problem = (
        "its channels are not a list of names" if not isinstance(channels, list) or
        not all(isinstance(c, str) for c in channels) else
        "its label is not a string or null" if label is not None and not isinstance(label, str)
        else "its meta is not an object" if not isinstance(meta, dict) else
        "its meta's duration_s is not a number" if "duration_s" in meta and
        not _number(meta["duration_s"]) else None)
    if problem:
        raise StreamDataError(f"a bad header: {problem}", file=str(p), line=1,
                              hint=hint)
    return list(channels), label, dict(meta)


def run_files(directory: str | Path) -> list[Path]:
    d = Path(directory)
    if d.is_file():
        return [d]
    if not d.is_dir():
        raise StreamDataError(f"no recorded runs at {d}", file=str(d),
                              hint="Give a directory of *.jsonl run files")
    return sorted(d.glob("*.jsonl"))


def read_runs(directory: str | Path) -> list[RecordedRun]:
    return [read_run(p) for p in run_files(directory)]
