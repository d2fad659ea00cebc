"""The suite's clocks, the one way everything is timed.

Four timers, named on every result row (`timer`):
- `wall`: the host clock from a synchronized start to a synchronized end of the calls: what a user's loop sees
  (launches, Python, the synchronization included). The default on the CPU and for the lessons' training steps.
- `cuda_events`: CUDA events recorded on the current stream around the calls: the device's time between them (launch
  gaps count only where the GPU waits for the host). The default for ops on CUDA, as tritonbench and KernelBench time.
- `cuda_graph`: the calls captured once into a CUDA graph and replayed, timed with events: the launch overhead gone.
  A call that cannot be captured (a host synchronization, a CPU-side check) is a skip with the capture's error.
- `kernel`: torch.profiler (CUPTI): the summed device time of the kernels one call launches, and how many it launches.

Each timer gives `samples(calls, count)`: `count` rounds of `calls` calls each, one figure per round (seconds per
call). A round of a cold measurement is one call after an untimed flush (bench/cache.py): the events and the
profiler leave the flush outside what they time, the host clock waits for it before it starts.

pytest-benchmark keeps the rounds (its statistics, JSON and comparisons): `replaying` hands them over through its
timer, `benchmark_clock` (pyproject.toml's --benchmark-timer), which replays the measured rounds to
`benchmark.pedantic`; outside a replay it is the synchronized host clock. `timed_call` times a single call (first
calls, warm-up checks, the systems studies' steps).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch

TIMERS = {
    "wall": "host clock, CUDA synchronized at both ends",
    "cuda_events": "CUDA events around the calls",
    "cuda_graph": "CUDA graph replay timed with events",
    "kernel": "profiler: summed kernel time of one call",
}
CUDA_ONLY = ("cuda_events", "cuda_graph", "kernel")


def check_timer(name: str) -> str:
    if name not in TIMERS:
        raise ValueError(f"--timer: unknown timer {name!r}; timers: {', '.join(TIMERS)}")
    return name


def default_timer(kind: str, device: str) -> str:
    """Ops and ceilings on CUDA: events; everything on the CPU, and the lessons' steps and labs anywhere: wall."""
    return "cuda_events" if device == "cuda" and kind in ("op", "ceiling") else "wall"


def timer_skip_reason(timer: str, device: str) -> str | None:
    if timer in CUDA_ONLY and device != "cuda":
        return f"the {timer} timer measures CUDA work: rows on {device} are timed with --timer wall"
    return None


def synced_perf_counter() -> float:
    if torch.cuda.is_initialized():
        torch.cuda.synchronize()
    return time.perf_counter()


def sync(device: str) -> None:
    """Wait for the work queued on `device` (nothing to wait for on the CPU)."""
    if device == "cuda":
        torch.cuda.synchronize()


def timed_call(call, device: str) -> float:
    """Seconds of one call of `call` on `device`, from a synchronized start to its synchronized end."""
    sync(device)
    start = time.perf_counter()
    call()
    sync(device)
    return time.perf_counter() - start


# ---- handing measured rounds to pytest-benchmark ----

_replay: Iterator[float] | None = None


def benchmark_clock() -> float:
    """pytest-benchmark's timer: inside `replaying`, the clock of the measured rounds; else the synchronized host
    clock."""
    return next(_replay) if _replay is not None else synced_perf_counter()


@contextmanager
def replaying(samples: list[float], calls: int):
    """While active, benchmark_clock reads as if each round of `calls` calls had taken samples[i] * calls seconds:
    pytest-benchmark's `pedantic(rounds=len(samples), iterations=calls)` then stores exactly these rounds."""
    global _replay

    def ticks():
        now = 0.0
        for s in samples:
            yield now  # the round's start
            now += s * calls
            yield now  # its end

    _replay = ticks()
    try:
        yield
    finally:
        _replay = None


# ---- the timers ----


def _no_flush() -> None:
    return None


class WallTimer:
    name = "wall"
    kernels_per_call: int | None = None

    def __init__(self, call: Callable, device: str, flush: Callable | None = None, clock=time.perf_counter):
        self.call, self.device, self.flush, self.clock = call, device, flush or _no_flush, clock

    def samples(self, calls: int, count: int) -> list[float]:
        out = []
        for _ in range(count):
            self.flush()
            sync(self.device)  # the flush finishes before the clock starts
            start = self.clock()
            for _ in range(calls):
                self.call()
            sync(self.device)
            out.append((self.clock() - start) / calls)
        return out


def _cuda_event():
    return torch.cuda.Event(enable_timing=True)


class EventTimer:
    """Events on the current stream; a batch of rounds is queued, then read after one synchronization."""

    name = "cuda_events"
    kernels_per_call: int | None = None

    def __init__(self, call: Callable, device: str, flush: Callable | None = None, event=_cuda_event):
        self.call, self.device, self.flush, self.event = call, device, flush or _no_flush, event

    def _rounds(self, body: Callable, count: int, calls: int) -> list[float]:
        """`count` rounds of `body` (which makes `calls` calls), each between two events: seconds per call."""
        pairs = []
        for _ in range(count):
            self.flush()  # queued before the start event: outside the interval
            start, end = self.event(), self.event()
            start.record()
            body()
            end.record()
            pairs.append((start, end))
        if pairs:
            pairs[-1][1].synchronize()
        return [start.elapsed_time(end) / 1e3 / calls for start, end in pairs]  # elapsed_time is in ms

    def samples(self, calls: int, count: int) -> list[float]:
        def body():
            for _ in range(calls):
                self.call()

        return self._rounds(body, count, calls)


class TimerError(RuntimeError):
    """The timer cannot time this call (the message says why): the benchmark is a skip with that reason."""


class CaptureError(TimerError):
    """The call cannot be captured into a CUDA graph."""


class GraphTimer(EventTimer):
    """`calls` calls captured into one graph (once per calls count), each round one replay between two events."""

    name = "cuda_graph"

    def __init__(self, call, device, flush=None, event=_cuda_event, capture=None):
        super().__init__(call, device, flush, event)
        self.capture = capture or _capture_graph
        self._graphs: dict[int, object] = {}

    def samples(self, calls: int, count: int) -> list[float]:
        if calls not in self._graphs:
            try:
                self._graphs[calls] = self.capture(self.call, calls)
            except Exception as e:  # capture refuses host syncs, CPU-side checks, ...: the reason is the skip
                first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                raise CaptureError(f"the call cannot be captured into a CUDA graph: {first}") from e
        graph = self._graphs[calls]
        return self._rounds(graph.replay, count, calls)


def _capture_graph(call: Callable, calls: int):
    """A CUDA graph of `calls` calls, after warm-up calls on a side stream (as torch.cuda.graph's docs ask)."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            call()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(calls):
            call()
    graph.replay()  # once untimed: the first replay uploads the graph
    torch.cuda.synchronize()
    return graph


class KernelTimer:
    """One profiler session per batch of rounds (its start and stop are not timed): each round is one call, its
    figure the summed duration of the device activities (kernels, memcpy, memset) it launched."""

    name = "kernel"

    def __init__(self, call: Callable, device: str, flush: Callable | None = None, profile=None):
        self.call, self.device, self.flush = call, device, flush or _no_flush
        self.profile = profile or _device_activities
        self.kernels_per_call: int | None = None
        self._flush_names: list[str] | None = None

    def samples(self, calls: int, count: int) -> list[float]:
        if calls != 1:
            raise ValueError("the kernel timer times one call per round")  # a caller's mistake, not the call's
        if self._flush_names is None:
            self._flush_names = [name for name, _ in self.profile(lambda: self.flush(), 1)]

        def rounds():
            self.flush()
            self.call()

        activities = self.profile(rounds, count)
        per_call, self.kernels_per_call = split_per_call(activities, count, self._flush_names)
        return per_call


def split_per_call(activities: list[tuple[str, float]], count: int, flush_names: list[str]) -> tuple[list[float], int]:
    """(seconds per call, kernels per call) from the device activities, in launch order, of `count` rounds of
    (flush, call): each round's flush activities (named as `flush_names`) are passed over and its own summed."""
    f = len(flush_names)
    if count < 1 or (len(activities) - count * f) % count or len(activities) < count * (f + 1):
        raise TimerError(
            f"the profiler saw {len(activities)} device activities for {count} calls (with {f} per flush): a call "
            "that launches no kernel, or a varying number, has no per-call kernel time"
        )
    k = len(activities) // count - f
    per_call = []
    for i in range(count):
        chunk = activities[i * (f + k) : (i + 1) * (f + k)]
        if [name for name, _ in chunk[:f]] != flush_names:
            raise TimerError("the profiler's activities do not follow the flush-then-call order of the rounds")
        per_call.append(sum(seconds for _, seconds in chunk[f:]))
    return per_call, k


def _device_activities(body: Callable, count: int) -> list[tuple[str, float]]:
    """(name, seconds) of each device activity of `count` runs of `body`, in start order (torch.profiler, CUPTI)."""
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for _ in range(count):
            body()
        torch.cuda.synchronize()
    # gpu_user_annotation ranges (record_function) are spans over kernels, not activities of their own
    events = [
        e for e in prof.events() if e.device_type == DeviceType.CUDA and not getattr(e, "is_user_annotation", False)
    ]
    if not events:
        raise TimerError("the profiler recorded no device activity (CUPTI unavailable?)")
    events.sort(key=lambda e: e.time_range.start)
    return [(e.name, e.time_range.elapsed_us() / 1e6) for e in events]


TIMER_CLASSES = {"wall": WallTimer, "cuda_events": EventTimer, "cuda_graph": GraphTimer, "kernel": KernelTimer}


def make_timer(name: str, call: Callable, device: str, flush: Callable | None = None):
    return TIMER_CLASSES[check_timer(name)](call, device, flush)
