"""How many rounds a measurement takes, and how precise its median is.

Rounds go on, in growing batches, until the median's relative standard error (`rse`) is under 1% or the
benchmark's time (the profile's max_time, counted on the host clock with the flushes and syncs in it) is up, with at
least MIN_ROUNDS rounds. The standard error comes from the order statistics of the rounds (distribution-free: the
95% interval of a median lies between the order statistics of ranks about n/2 -+ 1.96 sqrt(n)/2, so the error is
that span over 2 x 1.96), not from a normal model, since round times are skewed. Outliers are kept in the
statistics and counted (Tukey's 1.5 IQR fences, pytest-benchmark's `iqr_outliers`): the median is robust to them,
and the report shows how many there were.
"""

from __future__ import annotations

import math
import time

MIN_ROUNDS = 5
TARGET_RSE = 0.01
# a warm round holds enough calls to last this long: one synchronization or event pair is spread over them
MIN_ROUND_S = 1e-4
MAX_CALLS_PER_ROUND = 10_000
Z95 = 1.959964


def median(samples: list[float]) -> float:
    x = sorted(samples)
    n = len(x)
    return x[n // 2] if n % 2 else (x[n // 2 - 1] + x[n // 2]) / 2


def median_interval(samples: list[float]) -> tuple[float, float]:
    """A distribution-free 95% interval of the median: the order statistics of (1-based) ranks
    floor(n/2 - 1.96 sqrt(n)/2) and ceil(1 + n/2 + 1.96 sqrt(n)/2), clipped to the sample."""
    x = sorted(samples)
    n = len(x)
    half = Z95 * math.sqrt(n) / 2
    lo = max(1, math.floor(n / 2 - half))
    hi = min(n, math.ceil(1 + n / 2 + half))
    return x[lo - 1], x[hi - 1]


def median_rse(samples: list[float]) -> float:
    """The median's standard error over the median (inf with fewer than 2 rounds or a median of 0)."""
    if len(samples) < 2:
        return math.inf
    m = median(samples)
    lo, hi = median_interval(samples)
    return (hi - lo) / (2 * Z95) / m if m > 0 else math.inf


def calls_per_round(timer, cold: bool) -> int:
    """1 when cold (each timed call follows its own flush); else as many calls as make a round last MIN_ROUND_S,
    from a single call (the fastest of three where one is shorter than a round: a slow training step is called
    once)."""
    if cold:
        return 1
    (one,) = timer.samples(1, 1)
    if one < MIN_ROUND_S:
        one = min(one, *timer.samples(1, 2))
    if one <= 0:
        return MAX_CALLS_PER_ROUND
    return max(1, min(MAX_CALLS_PER_ROUND, math.ceil(MIN_ROUND_S / one)))


def run_rounds(
    timer, calls: int, max_time: float, target_rse: float = TARGET_RSE, min_rounds: int = MIN_ROUNDS, clock=None
) -> list[float]:
    """Rounds of `calls` calls from `timer` (one untimed round first, a warm-up), in batches that double, until
    median_rse < target_rse or max_time seconds have passed on `clock`; at least min_rounds rounds."""
    clock = clock or time.perf_counter
    timer.samples(calls, 1)
    start = clock()
    samples: list[float] = []
    batch = min_rounds
    while True:
        before = clock()
        samples += timer.samples(calls, batch)
        now = clock()
        if len(samples) >= min_rounds and (median_rse(samples) < target_rse or now - start >= max_time):
            return samples
        per_round = max((now - before) / batch, 1e-9)
        batch = max(1, min(len(samples), math.ceil((max_time - (now - start)) / per_round)))
