"""A force-torque detector at 1 kHz over a 5-minute attempt: streaming against rescoring.

A plain script: `.venv/bin/python bench/bench_detector.py [--repeat N]`.

A live source hands the detect step a poll's worth of samples at a time (20 ms: 20 samples
at 1 kHz), 15,000 blocks for a 5-minute attempt. Two ways to watch it, in the same run:

- streaming (what ships, `plugins.detectors.streaming.Watch`): each block is cleaned, scored,
  windowed and compared once; the per-block cost does not depend on how long the attempt has
  run;
- rescoring (how the detect step worked before, kept here as the peer): every block, the whole
  stream so far is concatenated, cleaned, scored and windowed again: O(n) per block.

Printed: the median cost per block at 10 s, 60 s and 300 s into the attempt for both (so the
growth shows), their ratio, the whole attempt for streaming (measured, with its share of real
time), the whole attempt for rescoring (the integral of its measured per-block cost: running
it would take too long to be a benchmark), and the peak memory of each. Targets (issue 16):
a per-block cost that stays flat (last/first <= 1.5) and a whole 5-minute attempt well under
its own duration. Nothing is asserted: timing belongs in bench/.
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc

import numpy as np

from engine.detect import clean_stream
from engine.detect.windows import first_crossing, window_sum
from engine.plugins import parse_params
from plugins.detectors.ft_jam_slip import FtJamSlipDetector
from plugins.detectors.streaming import Watch
from plugins.robot.cell_model import CHANNELS

RATE_HZ = 1000
ATTEMPT_S = 300
BLOCK = 20  # samples per poll (20 ms)
WINDOW = 25
POSITIONS_S = (10, 60, 300)
PROBE_BLOCKS = 20


def stream(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A nominal 1 kHz wrench: a pressing force with noise and a sensor offset."""
    rng = np.random.default_rng(seed)
    n = RATE_HZ * ATTEMPT_S
    t = np.arange(n) / RATE_HZ
    x = rng.normal(0, 0.3, (n, len(CHANNELS))) + rng.normal(0, 2, len(CHANNELS))
    x[:, 2] -= 8.0 * (t > 2)  # pressing once in contact
    return t, x


def streaming_probe(t: np.ndarray, x: np.ndarray, params: object,
                    at_s: int) -> float:
    """Median seconds per block `at_s` seconds into the attempt (the watch having seen all
    before it)."""
    det = FtJamSlipDetector()
    watch = Watch(scorer=det.scorer(params=params, channels=list(CHANNELS)), window=WINDOW,
                  cal=None, fixed=1e12, max_gap_s=0.5, max_nan_fraction=0.05)
    start = max(at_s * RATE_HZ - PROBE_BLOCKS * BLOCK, 0)
    for i in range(0, start, BLOCK):
        watch.add(t[i:i + BLOCK], x[i:i + BLOCK])
    times = []
    for i in range(start, start + PROBE_BLOCKS * BLOCK, BLOCK):
        began = time.perf_counter()
        watch.add(t[i:i + BLOCK], x[i:i + BLOCK])
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def rescoring_block(t: np.ndarray, x: np.ndarray, params: object, end: int) -> float:
    """Seconds for the work the detect step did per block before streaming, with `end`
    samples in: concatenate, clean, score, window and compare the whole stream."""
    det = FtJamSlipDetector()
    blocks_t = [t[:end - BLOCK], t[end - BLOCK:end]]
    blocks_x = [x[:end - BLOCK], x[end - BLOCK:end]]
    began = time.perf_counter()
    t_all, x_all = np.concatenate(blocks_t), np.concatenate(blocks_x)
    tc, xc, _ = clean_stream(t_all, x_all, max_gap_s=0.5, max_nan_fraction=0.05)
    scores = det.score(params=params, t=tc, x=xc, channels=list(CHANNELS))
    agg = window_sum(np.nan_to_num(scores), WINDOW)
    first_crossing(agg, 1e12)
    return time.perf_counter() - began


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    t, x = stream()
    # this stream's own nominal levels (it presses 8 N and does not search); calibration
    # would fit them, the cost does not depend on them
    params = parse_params(FtJamSlipDetector, {"press_n": 8.0, "lateral_n": 0.0,
                                              "tilt_nm": 0.0})
    print(f"ft_jam_slip at {RATE_HZ} Hz, {ATTEMPT_S} s attempt, {BLOCK}-sample blocks "
          f"({len(t) // BLOCK} blocks); medians of {args.repeat} runs")
    print(f"{'into the attempt':>18} {'streaming ms/block':>19} {'rescoring ms/block':>19} "
          f"{'ratio':>7}")
    first = last = 0.0
    resc: dict[int, float] = {}
    for at in POSITIONS_S:
        s = statistics.median(streaming_probe(t, x, params, at) for _ in range(args.repeat))
        r = statistics.median(rescoring_block(t, x, params, at * RATE_HZ)
                              for _ in range(args.repeat))
        resc[at] = r
        first = first or s
        last = s
        print(f"{at:>16} s {s * 1e3:>19.3f} {r * 1e3:>19.3f} {r / s:>6.0f}x")
    print(f"streaming per-block cost, last/first: {last / first:.2f} (target <= 1.5)")

    whole = []
    for _ in range(args.repeat):
        det = FtJamSlipDetector()
        watch = Watch(scorer=det.scorer(params=params, channels=list(CHANNELS)),
                      window=WINDOW, cal=None, fixed=1e12, max_gap_s=0.5,
                      max_nan_fraction=0.05)
        began = time.perf_counter()
        for i in range(0, len(t), BLOCK):
            watch.add(t[i:i + BLOCK], x[i:i + BLOCK])
        whole.append(time.perf_counter() - began)
    took = statistics.median(whole)
    print(f"streaming, the whole attempt: {took:.2f} s for {ATTEMPT_S} s of stream "
          f"({took / ATTEMPT_S:.1%} of real time)")
    # rescoring's cost per block grows linearly with the samples in: integrate the line
    # through the measured points over the attempt's blocks
    xs = np.array([a * RATE_HZ for a in POSITIONS_S], dtype=float)
    slope, icpt = np.polyfit(xs, [resc[a] for a in POSITIONS_S], 1)
    ends = np.arange(BLOCK, len(t) + 1, BLOCK, dtype=float)
    estimate = float(np.sum(slope * ends + icpt))
    print(f"rescoring, the whole attempt (estimated from the line through its per-block "
          f"costs): {estimate:.0f} s ({estimate / ATTEMPT_S:.1f}x real time; "
          f"{estimate / took:.0f}x streaming)")

    tracemalloc.start()
    det = FtJamSlipDetector()
    watch = Watch(scorer=det.scorer(params=params, channels=list(CHANNELS)), window=WINDOW,
                  cal=None, fixed=1e12, max_gap_s=0.5, max_nan_fraction=0.05)
    for i in range(0, len(t), BLOCK):
        watch.add(t[i:i + BLOCK], x[i:i + BLOCK])
    peak_stream = tracemalloc.get_traced_memory()[1]
    tracemalloc.reset_peak()
    rescoring_block(t, x, params, len(t))
    peak_resc = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"peak memory: streaming {peak_stream / 1e6:.2f} MB, rescoring's last block "
          f"{peak_resc / 1e6:.1f} MB (it holds the whole stream: {x.nbytes / 1e6:.1f} MB of "
          f"samples)")


if __name__ == "__main__":
    main()
