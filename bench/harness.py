"""Benchmark cases from the registry, and how one is timed.

Every (op, variant, mode, device, dtype, shape) the options select becomes one case; a variant that cannot be timed
on a device is still a case, skipped with its reason, so the results say what was left out and why. Timing (README,
"What a benchmark records"): warm up first (paying Triton JIT, Inductor compilation, allocator growth), measure that
first call apart, check that nothing recompiles while timing, synchronize CUDA inside the timer (bench/timers.py).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import torch

from bench.machine import precision_flags
from bench.measure import measure, skip_reason
from bench.profiles import profile
from bench.timers import timed_call
from kernels import registry
from kernels.check import precision_mode, random_like
from kernels.compile import compiled_graphs
from kernels.dtypes import dtype_name, parse_dtype
from kernels.spec import Case
from reports import schema

WARMUP_CALLS = 3
NOISY_IQR = 0.10  # IQR above 10% of the median: the measurement is flagged as noisy


def _param_id(key: str, value) -> str:
    if value is True:
        return key
    if isinstance(value, str):
        return value
    if isinstance(value, (tuple, list)):
        return key + "x".join(map(str, value))
    return f"{key}{value}"


@dataclass(frozen=True)
class BenchCase:
    op: str
    variant: str
    mode: str
    device: str
    case: Case
    skip: str | None = None  # why the profile does not time this case (its reason is the benchmark's skip)

    @property
    def shape_id(self) -> str:
        """The shape, any parameters besides the default softmax dim and a layout other than contiguous, e.g.
        1024x4096, 256x1024x1024-bias-relu or 128x64x56x56x64x3x3-padding1-channels_last: a parameter set to True
        shows its name, a string its value, a number or pair its name and value."""
        extra = "".join(f"-{_param_id(k, v)}" for k, v in self.case.params if (k, v) != ("dim", -1))
        layout = "" if self.case.layout == "contiguous" else f"-{self.case.layout}"
        return "x".join(map(str, self.case.shape)) + extra + layout

    @property
    def id(self) -> str:
        return f"{self.op}-{self.mode}-{self.device}-{self.case.precision}-{self.shape_id}-{self.variant}"

    @property
    def group(self) -> str:
        """Variants of one (op, mode, shape and parameters, precision, device) line up side by side."""
        return f"{self.op} {self.mode} {self.shape_id} {self.case.precision} {self.device}"


def default_dtypes(spec, profile: str, device: str) -> tuple[str, ...]:
    """On CUDA the op's quick dtypes (fp32 and bf16 unless it says otherwise; all of them in the full profile), and
    TF32 where the op has it; on the CPU fp32, bf16 too in the full profile (fp16 has few CPU kernels, and TF32 does
    not exist there)."""
    names = [dtype_name(d) for d in spec.dtypes]
    if device == "cpu":
        keep = ("fp32", "bf16") if profile == "full" else ("fp32",)
        return tuple(n for n in names if n in keep)
    keep = ("fp32", "fp16", "bf16") if profile == "full" else spec.quick_cuda_dtypes
    return tuple(n for n in names if n in keep) + (("tf32",) if spec.supports_tf32 else ())


def precision_case(spec, name: str) -> tuple[torch.dtype, bool] | None:
    """(dtype, tf32) of a precision name for this op, or None where the op does not have it."""
    if name == "tf32":
        return (torch.float32, True) if spec.supports_tf32 else None
    dtype = parse_dtype(name)
    return (dtype, False) if dtype in spec.dtypes else None


def spec_cases(spec, options, device: str) -> Iterator[Case]:
    """An op's benchmark cases on `device` for the run's options: precisions x batch sizes x shapes x parameters x
    layouts, each from the op's spec."""
    names = options.dtypes or default_dtypes(spec, options.profile, device)
    for dtype, tf32 in filter(None, (precision_case(spec, n) for n in names)):
        for batch in options.batch_sizes or spec.batch_sizes[options.profile]:
            for shape in spec.bench_shapes(options.profile, batch, device):
                for params, layout in itertools.product(spec.bench_params(shape), spec.bench_layouts(shape, device)):
                    yield Case("bench", shape, dtype, params, layout=layout, tf32=tf32)


def bench_cases(options) -> list[BenchCase]:
    """Every (op, device, case, mode, variant) the options select, in that order. Where the profile compiles one case
    per op (quick: an Inductor compile costs seconds on a CPU), the compiled rung of the other cases is a case
    skipped with that reason."""
    cases, compile_one = [], profile(options.profile).compile_cases == "one"
    for op in registry.ops():
        spec = registry.spec(op)
        for device in options.devices:
            op_cases = list(spec_cases(spec, options, device))
            chosen = _compiled_case(spec, op_cases)
            for case, mode, v in itertools.product(op_cases, spec.modes, registry.variants(op)):
                other = (case.shape, case.params, case.layout) != chosen[case.precision]
                skip = COMPILED_ONE_CASE if v.name == "compiled" and other and compile_one else None
                cases.append(BenchCase(op, v.name, mode, device, case, skip))
    return cases


COMPILED_ONE_CASE = (
    "the quick profile compiles one case per op, its largest with its fused block (an Inductor compile costs "
    "seconds on a CPU); --profile full compiles every case"
)


def _compiled_case(spec, cases: list[Case]) -> dict[str, tuple]:
    """precision -> (shape, params, layout) of the case the quick profile compiles: the most forward FLOPs (then
    bytes), and at that shape the last parameter set the spec lists (the specs list the plain op first and the
    fused block last: bias + relu, batch norm + relu, where Inductor's fusion shows)."""
    best: dict[str, tuple] = {}
    for i, case in enumerate(cases):
        rank = (spec.flops(case, "forward"), spec.bytes(case, "forward"), i)
        if case.precision not in best or rank > best[case.precision][0]:
            best[case.precision] = (rank, (case.shape, case.params, case.layout))
    return {precision: key for precision, (_, key) in best.items()}


def run_case(benchmark, bc: BenchCase, options) -> None:
    """Time one case with pytest-benchmark and record what a result row holds (README: What a benchmark records)."""
    variant = registry.get(bc.op, bc.variant)
    spec = registry.spec(bc.op)
    reason = bc.skip or variant.skip_reason(bc.device, timing=True) or variant.unsupported_reason(bc.case, bc.device)
    reason = reason or skip_reason(options, "op", bc.device)
    if bc.mode == "backward" and not variant.differentiable:
        reason = f"{bc.op}/{bc.variant} has no backward"
    if reason:
        pytest.skip(reason)

    benchmark.group = bc.group
    with precision_mode(bc.case):
        _time_case(benchmark, bc, variant, spec, options)


class GradientCall:
    """The timed call of a backward case: the input gradients of the forward's latest output, through its graph
    (retained, so that every round differentiates the same graph). `forward()` runs the op again and keeps its
    output for the next calls."""

    def __init__(self, forward: Callable[[], torch.Tensor], wrt: list[torch.Tensor]):
        self._forward, self.wrt = forward, wrt
        self.out: torch.Tensor | None = None
        self.grad_out: torch.Tensor | None = None

    def forward(self) -> None:
        self.out = self._forward()

    def __call__(self):
        return torch.autograd.grad(self.out, self.wrt, self.grad_out, retain_graph=True)


def make_call(bc: BenchCase, variant, inputs, seed: int) -> tuple[Callable, Callable, float]:
    """(the call to time, one forward of the op, seconds of the first call): the first call pays Triton's JIT,
    Inductor's compilation and autotuning; for a backward case it is the first forward (which compiles the backward
    too) and the first gradient."""
    if bc.mode == "forward":

        def forward():
            return variant.fn(*inputs.args, **inputs.kwargs)

        return forward, forward, timed_call(forward, bc.device)
    inputs = inputs.with_grad()
    call = GradientCall(lambda: variant.fn(*inputs.args, **inputs.kwargs), inputs.differentiable())
    first_s = timed_call(call.forward, bc.device)
    call.grad_out = random_like(call.out, seed + 1)
    return call, call.forward, first_s + timed_call(call, bc.device)


def record(bc: BenchCase, variant, spec, checks, first_s: float, steady_s: float, peak: int | None) -> dict:
    """The fields of a case's result row known before timing (reports/schema.py lists them)."""
    return {
        "op": bc.op,
        "variant": bc.variant,
        "rung": variant.rung,
        "library": variant.library,
        "baseline": variant.baseline,
        "mode": bc.mode,
        "device": bc.device,
        "dtype": bc.case.precision,
        "shape": list(bc.case.shape),
        "case": bc.shape_id,  # the shape with its parameters (e.g. 256x1024x1024-bias-relu)
        "params": dict(bc.case.params),
        "batch": spec.batch_of(bc.case.shape),
        "flops": spec.flops(bc.case, bc.mode),
        "bytes": spec.bytes(bc.case, bc.mode),
        "work_model": spec.work_model,
        "rel_error": max(c.error for c in checks),
        "tolerance": min(c.tolerance for c in checks),
        "first_call_s": first_s,
        "compile_s": max(0.0, first_s - steady_s),
        "peak_memory_bytes": peak,
        "threads": torch.get_num_threads(),
        **precision_flags(),
    }


def _time_case(benchmark, bc: BenchCase, variant, spec, options) -> None:
    seed = options.seed
    inputs = spec.make_inputs(bc.case, bc.device, seed)
    try:
        call, forward, first_s = make_call(bc, variant, inputs, seed)
        for _ in range(WARMUP_CALLS):
            call()
        steady_s = timed_call(call, bc.device)
        if bc.mode == "backward":
            steady_s += timed_call(forward, bc.device)  # first_s holds one forward and one backward
        peak = _peak_memory(call, bc.device)
    except torch.cuda.OutOfMemoryError:
        pytest.skip(f"out of memory at {bc.case.shape} {dtype_name(bc.case.dtype)}")

    checks = spec.compare(
        variant.fn, bc.case, bc.device, seed, grads=bc.mode == "backward", keep_inputs=not variant.overwrites_inputs
    )
    failed = [str(c) for c in checks if not c.relative and not c.ok]
    if failed:  # a random op's property (its share of zeros, its mask's repeatability): no figure for a wrong op
        raise AssertionError(f"{bc.id}: {variant.op}/{variant.name} fails its property checks: " + "; ".join(failed))
    checks = [c for c in checks if c.relative]  # the norm-wise errors against float64 are what a row reports
    if bc.mode == "backward":  # the timed work is the gradient: its error is what this row reports
        checks = [c for c in checks if c.what.startswith("grad")]
    info = benchmark.extra_info
    info.update(record(bc, variant, spec, checks, first_s, steady_s, peak))
    # measured on backward rows, whose forward runs with gradients (a compiled rung has that graph already)
    info["saved_bytes"] = saved_bytes(variant, inputs) if bc.mode == "backward" else None

    graphs = compiled_graphs()
    # warm: the same inputs every call stay in cache when they fit (2 MB of L2 per core here, 50 MB on an H100),
    # and a GB/s figure of such a case is a cache figure; cold: flushed before every timed call
    info.update(measure(benchmark, call, bc.device, "op", options))
    if compiled_graphs() != graphs:
        raise RuntimeError(f"{bc.id}: torch.compile compiled a new graph while timing; the figure would include it")

    stats = benchmark.stats.stats
    median = stats.median
    info["gflops"] = info["flops"] / median / 1e9 if median > 0 else math.nan
    info["gbps"] = info["bytes"] / median / 1e9 if median > 0 else math.nan
    info["noisy"] = bool(stats.iqr > NOISY_IQR * median)
    schema.check("op", info)


def saved_bytes(variant, inputs) -> int | None:
    """Bytes of the tensors autograd keeps from one forward call for its backward, the call's own inputs not counted
    (each storage once): the memory a training step holds per layer between its forward and backward (eager's
    dropout mask, the N x C logits of an unfused classifier head). None for a variant or inputs without a backward."""
    grad_inputs = inputs.with_grad()
    if not variant.differentiable or not grad_inputs.differentiable():
        return None
    own = {a.data_ptr() for a in grad_inputs.args if isinstance(a, torch.Tensor)}
    kept: dict[tuple[int, int], int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        if t.data_ptr() not in own:
            kept[(t.data_ptr(), t.numel())] = t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        variant.fn(*grad_inputs.args, **grad_inputs.kwargs)
    return sum(kept.values())


def _peak_memory(call, device: str) -> int | None:
    """Peak bytes the CUDA allocator held during one call, above what was allocated before it. None on the CPU,
    where torch keeps no allocator statistics."""
    if device != "cuda":
        return None
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    call()
    torch.cuda.synchronize()
    return int(torch.cuda.max_memory_allocated() - before)
