"""A sweep planned to a time budget (`--budget 10m`), and the seconds each benchmark is expected to take.

What runs first: the most informative cases. The ceilings (every roofline is drawn against them), then the baselines
(eager ops, eager lesson steps, each lab's first setting), then the other rungs from the top of the ladder down
(fused Triton, Triton, compiled, the lesson's formula). Within a class the collection order holds (op by op, lesson
by lesson). The plan takes the cases in that order while their expected seconds fit the budget; a case that does not
fit is left out and smaller ones after it may still fit. While the sweep runs, a case whose expected seconds would
carry it past the budget is left out too, so a slow machine stops on time; every case left out is written to the
results stream with its reason and listed in the report.

Expected seconds come from an earlier run (`--budget-from`: its stream holds each benchmark's wall seconds) where it
has the case, else from the work model: a fixed cost per benchmark, the timed rounds, the calls made outside them
(first call, warm-up, the float64 check) at the rate of the device, and the compile time of the compiled rung.
The same figures drive the progress display's time left (dnnbench/progress.py).
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

from bench.calibration import Ceiling
from bench.clocks import ENERGY_WINDOW_S
from bench.harness import BenchCase
from bench.lessons import LabCase, LessonCase
from bench.rounds import MIN_ROUNDS
from kernels import registry
from models import LESSONS
from models.backends import timing_skip_reason

# Work model constants, fitted on this project's 2-core CPU (quick profile) and an H100's published rates; a plan
# from an earlier run's wall seconds (--budget-from) replaces them for every case that run had.
RATE = {"cpu": (60e9, 8e9), "cuda": (200e12, 2e12)}  # (FLOP/s, bytes/s) a benchmark's calls run at
OVERHEAD_S = {"op": 0.35, "lesson": 0.6, "lab": 0.5, "ceiling": 0.5, "skip": 0.01}
CALLS_OUTSIDE_TIMING = 12  # first call, warm-up, the rounds' calibration and warm-up round, the float64 check
COMPILE_S = {"forward": 2.0, "backward": 4.0, "train_step": 4.0}  # torch.compile of one op or small model
COMPILE_S_PER_MODULE = 0.15  # and per leaf module of a lesson's model (ResNet-18: ~60)


_UNITS = {"s": 1, "m": 60, "h": 3600, "": 1}


def parse_duration(text: str) -> float:
    """Seconds of '90', '90s', '10m', '1.5h' or '1h30m'; ValueError naming the text otherwise."""
    parts = re.fullmatch(r"\s*((?:\d+(?:\.\d+)?[smh]?\s*)+)", str(text))
    if not parts:
        raise ValueError(f"budget {text!r}: expected a duration such as 300, 90s, 10m or 1h30m")
    total = sum(float(n) * _UNITS[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)([smh]?)", parts.group(1)))
    if total <= 0:
        raise ValueError(f"budget {text!r}: must be more than 0 seconds")
    return total


# the ladder rung of what they replay (the CUDA graph backends), or of what they are (triton_mlp: fused Triton)
BACKEND_RUNG = {"cudagraphs": "eager", "compiled_cudagraphs": "compiled", "triton_mlp": "triton_fused"}


def priority(case) -> int:
    """0 for the ceilings, 1 for the baselines, then 2 + the distance from the top of the ladder (lesson backends sit
    on the rung of what they run: compiled on 2, triton on 3, triton_fused and triton_mlp on 4; the CUDA graph
    backends replay eager (cudagraphs) or compiled (compiled_cudagraphs) work, so they sit on those rungs)."""
    top = max(registry.RUNGS.values())
    if isinstance(case, Ceiling):
        return 0
    if isinstance(case, BenchCase):
        variant = registry.get(case.op, case.variant)
        return 1 if variant.baseline else 2 + top - variant.rung
    if isinstance(case, LessonCase):
        return 1 if case.backend == "eager" else 2 + top - registry.RUNGS[BACKEND_RUNG.get(case.backend, case.backend)]
    if isinstance(case, LabCase):
        settings = LESSONS[case.lesson].settings
        return 1 if not settings or case.setting == settings[0] else 2
    raise TypeError(f"not a benchmark case: {case!r}")


def skip_reason(case) -> str | None:
    """Why `case` will be skipped without timing (known before it runs), or None."""
    if getattr(case, "skip", None):
        return case.skip
    if isinstance(case, BenchCase):
        variant = registry.get(case.op, case.variant)
        reason = variant.skip_reason(case.device, timing=True) or variant.unsupported_reason(case.case, case.device)
        if reason is None and case.mode == "backward" and not variant.differentiable:
            reason = "no backward"
        return reason
    if isinstance(case, LessonCase):
        from kernels.dtypes import parse_dtype

        return timing_skip_reason(case.backend, case.device, parse_dtype(case.dtype), case.form == "autocast")
    if isinstance(case, LabCase):
        return LESSONS[case.lesson].timing_skip_reason(case.setting, case.device)
    return None


def _call_seconds(flops: float, nbytes: float, device: str) -> float:
    flop_rate, byte_rate = RATE[device]
    return flops / flop_rate + nbytes / byte_rate + (1e-5 if device == "cuda" else 2e-6)


@cache
def _lesson_work(lesson: str) -> tuple[float, int]:
    """(FLOPs of one sample's forward, leaf modules) of a training lesson's eager model."""
    import torch

    from bench.lessons import count_flops

    work = LESSONS[lesson].workload
    model = work.model()
    x, _ = work.batch(model, 1, "cpu", torch.float32)
    model.eval()
    with torch.no_grad():
        flops = count_flops(lambda: model(x))
    leaves = sum(1 for m in model.modules() if not list(m.children()))
    return float(flops), leaves


def model_seconds(case, max_time: float) -> float:
    """Expected wall seconds of `case` from the work model (see the module's docstring), with the energy window a
    CUDA row spends after its rounds (bench/clocks.py)."""
    if skip_reason(case):
        return OVERHEAD_S["skip"]
    return _work_seconds(case, max_time) + (ENERGY_WINDOW_S if case.device == "cuda" else 0.0)


def _work_seconds(case, max_time: float) -> float:
    if isinstance(case, BenchCase):
        spec = registry.spec(case.op)
        call = _call_seconds(spec.flops(case.case, case.mode), spec.bytes(case.case, case.mode), case.device)
        compile_s = COMPILE_S[case.mode] if case.variant == "compiled" else 0.0
        return OVERHEAD_S["op"] + compile_s + max(max_time, MIN_ROUNDS * call) + CALLS_OUTSIDE_TIMING * call
    if isinstance(case, LessonCase):
        flops, leaves = _lesson_work(case.lesson)
        flops *= case.batch * (3 if case.mode == "train_step" else 1)
        call = _call_seconds(flops, 0.0, case.device)
        compile_s = COMPILE_S[case.mode] + COMPILE_S_PER_MODULE * leaves if case.backend == "compiled" else 0.0
        return OVERHEAD_S["lesson"] + compile_s + max(max_time, MIN_ROUNDS * call) + CALLS_OUTSIDE_TIMING * call
    kind = "ceiling" if isinstance(case, Ceiling) else "lab"
    return OVERHEAD_S[kind] + 2 * max_time


def read_wall_seconds(paths) -> dict[str, float]:
    """Each benchmark's wall seconds in earlier runs' streams (.jsonl, as `dnnbench run` writes them): benchmark id
    -> seconds, the latest run's where several have it. A file that is not a stream is an error naming it."""
    seconds: dict[str, float] = {}
    for path in map(Path, paths):
        if path.is_dir():
            streams = sorted(path.glob("*.stream.jsonl"))
            if not streams:
                raise ValueError(f"--budget-from {path}: no *.stream.jsonl in that folder")
            seconds.update(read_wall_seconds(streams))
            continue
        if path.suffix != ".jsonl":
            raise ValueError(f"--budget-from {path}: expected a run's stream (results.stream.jsonl) or its folder")
        try:
            lines = path.read_text().splitlines()
        except OSError as e:
            raise ValueError(f"--budget-from {path}: cannot be read ({e.strerror or e})") from None
        for line in lines:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a killed run's last line
            if not isinstance(record, dict):
                continue
            entry = next((record[k] for k in ("skipped", "failed") if isinstance(record.get(k), dict)), record)
            if entry.get("param") and isinstance(entry.get("wall_s"), (int, float)):
                seconds[entry["param"]] = float(entry["wall_s"])
    return seconds


def plan(cases: list[tuple[str, int, float]], budget_s: float) -> tuple[list[str], list[str]]:
    """(ids to run, in order; ids left out) of `cases` = (id, priority, expected seconds) for `budget_s` seconds:
    by priority, then the given order, each case taken while it fits."""
    order = sorted(range(len(cases)), key=lambda i: (cases[i][1], i))
    chosen, left, used = [], [], 0.0
    for i in order:
        case_id, _, seconds = cases[i]
        if used + seconds <= budget_s:
            chosen.append(case_id)
            used += seconds
        else:
            left.append(case_id)
    return chosen, left
