"""How the suite times (bench/timers.py, bench/cache.py, bench/rounds.py, bench/measure.py): the cold cache's effect
on a memory-bound call, each timer's bookkeeping (stand-in events, graphs and profilers on the CPU; the real ones in
the CUDA tests at the end, which `make gpu-check` runs), the rounds' stopping rule and the median's error."""

from __future__ import annotations

import math
import random
import time
from types import SimpleNamespace

import pytest
import torch

from bench import rounds
from bench.cache import Flush, last_level_cache_bytes
from bench.calibration import Ceiling, ceiling_call
from bench.measure import Method, default_cache, measure, method_for
from bench.timers import (
    CaptureError,
    EventTimer,
    GraphTimer,
    KernelTimer,
    TimerError,
    WallTimer,
    benchmark_clock,
    default_timer,
    replaying,
    split_per_call,
    timer_skip_reason,
)

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA: run by make gpu-check")


def gbps(timer, nbytes: float, cold: bool, max_time: float = 0.3) -> float:
    calls = rounds.calls_per_round(timer, cold)
    return nbytes / rounds.median(rounds.run_rounds(timer, calls, max_time)) / 1e9


def test_a_cold_memory_bound_call_stays_under_the_copy_bandwidth_and_a_warm_one_in_cache_passes_it():
    """The calibration's copy (twice the last-level cache) against a 1 MiB copy, which fits in L2 when warm and comes
    from memory after each flush when cold."""
    copy, work, _ = ceiling_call(Ceiling("copy", "cpu", "fp32"))
    before = gbps(WallTimer(copy, "cpu"), work, cold=False, max_time=0.5)
    src = torch.randn(1 << 18)
    dst = torch.empty_like(src)
    small = 2 * src.numel() * 4
    warm = gbps(WallTimer(lambda: dst.copy_(src), "cpu"), small, cold=False)
    cold = gbps(WallTimer(lambda: dst.copy_(src), "cpu", Flush("cpu")), small, cold=True)
    # the machine's copy bandwidth, measured before and after the cold copies: on a shared machine a burst of load
    # during one measurement (5.3 GB/s once, 23.5 quiet) must not pass for the bandwidth the cold copies had
    ceiling = max(before, gbps(WallTimer(copy, "cpu"), work, cold=False, max_time=0.5))
    assert warm > ceiling, f"warm in-cache copy {warm:.1f} GB/s, copy ceiling {ceiling:.1f} GB/s"
    assert cold < 1.25 * ceiling, f"cold copy {cold:.1f} GB/s above the copy ceiling {ceiling:.1f} GB/s"
    assert cold < warm / 2


def test_the_flush_is_twice_the_last_level_cache_the_os_reports():
    size, source = last_level_cache_bytes("cpu")
    assert size > 0 and source in ("sysfs", "sysconf", "fallback (the OS gave none)")
    flush = Flush("cpu")
    assert flush.nbytes == 2 * size
    before = flush._buffer[:8].clone()
    flush()
    assert not torch.equal(before, flush._buffer[:8]), "the flush touched nothing"


class FakeEvent:
    """torch.cuda.Event's timing interface on the host clock."""

    def record(self):
        self.t = time.perf_counter()

    def elapsed_time(self, end) -> float:
        return (end.t - self.t) * 1e3  # ms, as CUDA events give it

    def synchronize(self):
        pass


def sleeper(seconds: float, log: list | None = None, name: str = ""):
    def call():
        if log is not None:
            log.append(name)
        time.sleep(seconds)

    return call


def test_the_event_and_wall_timers_leave_the_flush_outside_what_they_time():
    call, flush = sleeper(0.002), sleeper(0.02)
    for timer in (EventTimer(call, "cpu", flush, event=FakeEvent), WallTimer(call, "cpu", flush)):
        samples = timer.samples(1, 3)
        assert len(samples) == 3
        assert all(0.0018 < s < 0.012 for s in samples), (timer.name, samples)


def test_a_round_of_several_calls_gives_seconds_per_call():
    timer = EventTimer(sleeper(0.001), "cpu", event=FakeEvent)
    (per_call,) = timer.samples(5, 1)
    assert 0.0009 < per_call < 0.004


def test_the_graph_timer_replays_its_capture_and_a_refused_capture_is_a_reason():
    log: list[str] = []

    class Graph:
        def __init__(self, call, calls):
            self.call, self.calls = call, calls

        def replay(self):
            for _ in range(self.calls):
                self.call()

    captures = []

    def capture(call, calls):
        captures.append(calls)
        return Graph(call, calls)

    timer = GraphTimer(sleeper(0.001, log, "call"), "cpu", event=FakeEvent, capture=capture)
    samples = timer.samples(4, 2) + timer.samples(4, 1)
    assert captures == [4], "captured once per calls count"
    assert len(log) == 12 and all(0.0009 < s < 0.004 for s in samples)

    def refuse(call, calls):
        raise RuntimeError("operation not permitted when stream is capturing\nmore")

    with pytest.raises(CaptureError, match="cannot be captured into a CUDA graph: operation not permitted"):
        GraphTimer(sleeper(0), "cpu", event=FakeEvent, capture=refuse).samples(1, 1)


class FakeProfiler:
    """Records what the rounds launch: each call of a named step adds its 'kernels' with their seconds."""

    def __init__(self):
        self.activities: list[tuple[str, float]] = []

    def step(self, kernels):
        def run():
            self.activities += kernels

        return run

    def __call__(self, body, count):
        self.activities = []
        for _ in range(count):
            body()
        return list(self.activities)


def test_the_kernel_timer_sums_each_calls_kernels_and_passes_over_the_flush():
    prof = FakeProfiler()
    call = prof.step([("gemm", 2e-6), ("bias_relu", 1e-6)])
    flush = prof.step([("fill", 5e-4)])
    timer = KernelTimer(call, "cpu", flush, profile=prof)
    assert timer.samples(1, 4) == pytest.approx([3e-6] * 4)
    assert timer.kernels_per_call == 2
    warm = KernelTimer(call, "cpu", profile=prof)
    assert warm.samples(1, 2) == pytest.approx([3e-6] * 2) and warm.kernels_per_call == 2


def test_a_varying_or_empty_kernel_count_has_no_per_call_time():
    with pytest.raises(TimerError, match="varying number"):
        split_per_call([("a", 1.0), ("b", 1.0), ("a", 1.0)], 2, [])
    with pytest.raises(TimerError, match="launches no kernel"):
        split_per_call([("fill", 1.0), ("fill", 1.0)], 2, ["fill"])
    with pytest.raises(TimerError, match="order"):
        split_per_call([("k", 1.0), ("fill", 1.0)], 1, ["fill"])


def test_replaying_hands_pytest_benchmark_exactly_the_measured_rounds():
    samples = [1e-3, 2e-3, 1.5e-3]
    with replaying(samples, calls=4):
        ticks = [benchmark_clock() for _ in range(6)]
    durations = [(end - start) / 4 for start, end in zip(ticks[::2], ticks[1::2], strict=True)]
    assert durations == pytest.approx(samples)
    assert benchmark_clock() > 0  # outside a replay: the host clock again


class ScriptedTimer:
    """Samples from a generator; the clock advances by each sample's seconds."""

    def __init__(self, draw, clock: list[float]):
        self.draw, self.clock, self.calls = draw, clock, 0

    def samples(self, calls, count):
        out = [self.draw() for _ in range(count)]
        self.clock[0] += sum(out) * calls
        self.calls += count
        return out


def run(draw, max_time: float) -> list[float]:
    clock = [0.0]
    return rounds.run_rounds(ScriptedTimer(draw, clock), 1, max_time, clock=lambda: clock[0])


def test_rounds_stop_once_the_median_is_precise():
    assert len(run(lambda: 1e-3, max_time=10.0)) == rounds.MIN_ROUNDS  # no spread: precise at once
    rng = random.Random(1)
    noisy = run(lambda: 1e-3 * math.exp(rng.gauss(0, 0.05)), max_time=10.0)
    assert rounds.median_rse(noisy) < rounds.TARGET_RSE
    assert 20 <= len(noisy) < 400, len(noisy)  # about (1.25 * 5% / 1%)^2 = 39 rounds are needed


def test_rounds_stop_when_the_time_is_up_with_the_spread_they_have():
    rng = random.Random(2)
    samples = run(lambda: 1e-3 * math.exp(rng.gauss(0, 0.5)), max_time=0.05)
    assert rounds.MIN_ROUNDS <= len(samples) < 120
    assert rounds.median_rse(samples) > rounds.TARGET_RSE
    slow = run(lambda: 1.0, max_time=0.05)  # one round outlasts the time: the minimum still runs
    assert len(slow) == rounds.MIN_ROUNDS


def test_the_median_error_matches_its_known_size():
    """The standard error of a median of n normal draws is sqrt(pi/2) sigma / sqrt(n); each estimate is rough (the
    spacing of a few order statistics), their mean is close."""
    rng = random.Random(3)
    for n in (30, 100, 900):
        estimates = [rounds.median_rse([1.0 + rng.gauss(0, 0.05) for _ in range(n)]) for _ in range(40)]
        expected = math.sqrt(math.pi / 2) * 0.05 / math.sqrt(n)
        assert 0.75 * expected < sum(estimates) / len(estimates) < 1.35 * expected, (n, estimates)
    assert rounds.median_rse([2.0] * 10) == 0.0
    assert rounds.median_rse([1.0]) == math.inf
    assert rounds.median_interval([5.0, 1.0, 3.0, 2.0, 4.0]) == (1.0, 5.0)  # five rounds: the whole range


def test_calls_per_round_fill_a_warm_round_and_a_cold_round_is_one_call():
    clock = [0.0]
    timer = ScriptedTimer(lambda: 1e-6, clock)
    assert rounds.calls_per_round(timer, cold=False) == math.ceil(rounds.MIN_ROUND_S / 1e-6)
    assert rounds.calls_per_round(timer, cold=True) == 1


def test_the_defaults_and_the_choices_of_timer_and_cache():
    assert default_timer("op", "cuda") == "cuda_events" and default_timer("op", "cpu") == "wall"
    assert default_timer("lesson", "cuda") == "wall" and default_timer("ceiling", "cuda") == "cuda_events"
    assert default_cache("op", "cuda") == "cold" and default_cache("op", "cpu") == "warm"
    assert default_cache("lesson", "cuda") == "warm"

    class Options:
        timer, cache = None, None

    assert method_for(Options, "op", "cuda") == Method("cuda_events", "cold")
    Options.timer, Options.cache = "kernel", "warm"
    assert method_for(Options, "lesson", "cpu") == Method("kernel", "warm")
    assert "measures CUDA work" in timer_skip_reason("kernel", "cpu")
    assert timer_skip_reason("wall", "cuda") is None


def options(**over) -> SimpleNamespace:
    """The run's options as measure() reads them."""
    base = dict(timer="wall", cache="warm", max_time=0.05, target_rse=rounds.TARGET_RSE, energy_window=0.1)
    return SimpleNamespace(**{**base, **over})


class Recorder:
    """pytest-benchmark's fixture as measure() uses it: pedantic reads the timer twice a round."""

    def __init__(self):
        self.rounds: list[float] = []

    def pedantic(self, target, rounds, iterations):
        for _ in range(rounds):
            start = benchmark_clock()
            for _ in range(iterations):
                target()
            self.rounds.append((benchmark_clock() - start) / iterations)


def test_measure_records_its_rounds_and_fields_and_a_refused_timer_is_a_skip():
    rec = Recorder()
    fields = measure(rec, sleeper(0.0005), "cpu", "op", options())
    assert len(rec.rounds) >= rounds.MIN_ROUNDS
    assert fields["rse"] == pytest.approx(rounds.median_rse(rec.rounds))
    assert fields["timer"] == "wall" and fields["cache"] == "warm" and fields["calls_per_round"] >= 1
    assert fields["energy_j_per_call"] is None and "not measured on the CPU" in fields["energy_skip"]
    assert fields["cpu_mhz_before"] is None or fields["cpu_mhz_before"] > 0

    def refuse(*args, **kwargs):
        raise TimerError("the call cannot be captured into a CUDA graph: refused")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("bench.rounds.calls_per_round", refuse)
        with pytest.raises(pytest.skip.Exception, match="cannot be captured"):
            measure(Recorder(), sleeper(0), "cpu", "op", options(max_time=0.01))


# ---- on a GPU (make gpu-check) ----


@CUDA
def test_cuda_timers_agree_on_a_large_matmul_and_name_its_kernels():
    a = torch.randn(4096, 4096, device="cuda")
    call = lambda: a @ a  # noqa: E731
    times = {}
    for timer in (
        WallTimer(call, "cuda"),
        EventTimer(call, "cuda"),
        GraphTimer(call, "cuda"),
        KernelTimer(call, "cuda"),
    ):
        times[timer.name] = rounds.median(rounds.run_rounds(timer, 1, 0.2))
    assert max(times.values()) / min(times.values()) < 1.3, times
    kernel = KernelTimer(call, "cuda")
    kernel.samples(1, 3)
    assert kernel.kernels_per_call >= 1


@CUDA
def test_cuda_cold_cache_keeps_a_small_copy_under_the_memory_bandwidth():
    copy, work, _ = ceiling_call(Ceiling("copy", "cuda", "fp32"))
    ceiling = gbps(EventTimer(copy, "cuda"), work, cold=False)
    src = torch.randn(1 << 21, device="cuda")  # 8 MiB, with its copy 16 MiB: L2-resident when warm
    dst = torch.empty_like(src)
    small = 2 * src.numel() * 4
    warm = gbps(EventTimer(lambda: dst.copy_(src), "cuda"), small, cold=False)
    cold = gbps(EventTimer(lambda: dst.copy_(src), "cuda", Flush("cuda")), small, cold=True)
    assert cold < 1.1 * ceiling and warm > 1.2 * cold, (cold, ceiling, warm)


@CUDA
def test_cuda_clocks_and_energy_are_read_through_nvml():
    pytest.importorskip("pynvml", reason="nvidia-ml-py is not installed here (pip install -e .[gpu])")
    from bench import clocks

    state = clocks.snapshot("cuda")
    assert state["source"] == "nvml" and state["gpu_sm_mhz"] > 0 and state["gpu_temp_c"] > 0
    a = torch.randn(4096, 4096, device="cuda")
    joules, why = clocks.energy_per_call(lambda: a @ a, "cuda", 0.3)
    assert why is None and 0 < joules < 10, (joules, why)


@CUDA
def test_cuda_a_host_sync_is_refused_by_the_graph_timer():
    """Last in the file: a refused capture is the one CUDA error these tests provoke."""
    x = torch.randn(16, device="cuda")
    with pytest.raises(CaptureError):
        GraphTimer(lambda: x.sum().item(), "cuda").samples(1, 1)


def test_the_cli_offers_the_timers_the_suite_has():
    from bench.cache import CACHE_STATES
    from bench.timers import TIMERS
    from dnnbench.cli import build_parser

    run = build_parser()._subparsers._group_actions[0].choices["run"]
    choices = {a.dest: a.choices for a in run._actions if a.dest in ("timer", "cache")}
    assert tuple(choices["timer"]) == tuple(TIMERS) and tuple(choices["cache"]) == CACHE_STATES
