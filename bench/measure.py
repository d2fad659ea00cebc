"""One measurement of one call, the same for every kind of benchmark (op, lesson, lab, ceiling): the timer and cache
state it was asked for (bench/timers.py, bench/cache.py), rounds until the median is precise or the time is up
(bench/rounds.py), the machine's clocks before and after and the energy of a call (bench/clocks.py). The rounds go to
pytest-benchmark, whose statistics, JSON and stream keep them; the fields this returns go into the row's
`extra_info` (reports/schema.py: TIMING and MACHINE_STATE).

Defaults (README: How the suite times): ops and ceilings on CUDA are timed with CUDA events on a cold cache; on the
CPU with the host clock on a warm cache (a flush there touches twice the last-level cache, 960 MB on this project's
CPU machines, before every call); the lessons' training steps and the labs with the host clock on a warm cache (a
training step is what a user's loop runs, caches as they are).
"""

from __future__ import annotations

import gc
from dataclasses import dataclass

import pytest

from bench import clocks, rounds
from bench.cache import flush_for
from bench.timers import KernelTimer, TimerError, default_timer, make_timer, replaying, timer_skip_reason


@dataclass(frozen=True)
class Method:
    timer: str
    cache: str


def default_cache(kind: str, device: str) -> str:
    return "cold" if device == "cuda" and kind == "op" else "warm"


def method_for(options, kind: str, device: str) -> Method:
    """The run's --timer and --cache where given, else the defaults of this kind of benchmark on `device`."""
    return Method(
        getattr(options, "timer", None) or default_timer(kind, device),
        getattr(options, "cache", None) or default_cache(kind, device),
    )


def skip_reason(options, kind: str, device: str) -> str | None:
    return timer_skip_reason(method_for(options, kind, device).timer, device)


def _nothing() -> None:
    return None


def measure(benchmark, call, device: str, kind: str, options) -> dict:
    """Time `call` as the run's options ask for this kind of benchmark on `device` (method_for; options.max_time,
    options.target_rse, options.energy_window), store its rounds in `benchmark` (pytest-benchmark), and return the
    row's timing and machine-state fields. A call the timer cannot take (one that a CUDA graph cannot capture, one
    without a fixed set of kernels) is a skip with the reason."""
    method = method_for(options, kind, device)
    flush = flush_for(device) if method.cache == "cold" else None
    timer = make_timer(method.timer, call, device, flush)
    before = clocks.snapshot(device)
    collecting = gc.isenabled()
    gc.disable()  # a collection inside a round would be timed
    try:
        calls = 1 if isinstance(timer, KernelTimer) else rounds.calls_per_round(timer, cold=flush is not None)
        samples = rounds.run_rounds(timer, calls, options.max_time, options.target_rse)
    except TimerError as e:
        pytest.skip(str(e))
    finally:
        if collecting:
            gc.enable()
    after = clocks.snapshot(device)
    energy, energy_skip = clocks.energy_per_call(call, device, options.energy_window)
    with replaying(samples, calls):
        benchmark.pedantic(_nothing, rounds=len(samples), iterations=calls)
    return {
        "timer": method.timer,
        "cache": method.cache,
        "rse": rounds.median_rse(samples),
        "calls_per_round": calls,
        "kernels_per_call": timer.kernels_per_call,
        **clocks.state_fields(device, before, after),
        "energy_j_per_call": energy,
        "energy_skip": energy_skip,
    }
