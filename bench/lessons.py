"""Benchmark cases of the lessons: each training lesson's workload (models.LESSONS[id].workload), its forward
(inference, no gradients) and one training step (forward, loss, backward, optimizer step), per backend, batch size,
device and dtype; each lesson without training, its whole lab per setting (and per size where the lab has one).

Timing follows bench/harness.py: a first call measured apart (torch.compile, Triton JIT, cuDNN search), warm-up,
the CUDA-synchronizing timer. FLOPs come from torch.utils.flop_counter on the eager model (the triton backend's
kernels are invisible to it; the math is the same). A batch size that runs out of memory is recorded in the stream
as such, and the sweep goes on. For the MLP and CNN lessons (`hot` workloads) the eager training step is also
profiled (torch.profiler) and each hot op's share of its self time stored, so the report can say which op to
optimize.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import pytest
import torch

from bench.harness import NOISY_IQR, WARMUP_CALLS
from bench.machine import precision_flags
from bench.measure import measure, skip_reason
from bench.profiles import profile
from bench.timers import timed_call
from kernels.dtypes import dtype_name, parse_dtype
from models import LESSONS
from models.backends import BACKENDS, STEP_BACKENDS, STEP_ONLY, apply_backend, step_parts, timing_skip_reason
from models.precision import precision
from models.train import graphed, step_fn
from reports import schema

MODES = ("forward", "train_step")
PROFILED_STEPS = 3
MAX_CPU_FLOPS = 2**36  # ~0.5 s per call on a CPU doing 140 GFLOP/s: larger cases are skipped on the CPU
# op-name fragments -> the hot op they belong to (first match wins; profiler names are aten::<op>, autograd nodes
# and torch.optim's labels such as Optimizer.step#SGD.step). A profiled operator counts for its outermost hot
# ancestor: the mul and bernoulli_ of the CPU's dropout count as dropout, the add_ of SGD's step as optimizer.
HOT_OPS = (
    ("conv2d", ("conv",)),
    ("batchnorm", ("batch_norm", "batchnorm")),
    ("max_pool2d", ("max_pool", "maxpool")),
    (
        "loss",
        (
            "cross_entropy",
            "crossentropy",
            "nll_loss",
            "nllloss",
            "log_softmax",
            "logsoftmax",
            "mse_loss",
            "mseloss",
            "binary_cross_entropy",
        ),
    ),
    ("softmax", ("softmax",)),
    ("matmul", ("aten::mm", "aten::addmm", "aten::bmm", "aten::matmul", "aten::linear", "mmbackward")),
    ("optimizer", ("_foreach", "optimizer", "adam", "sgd")),
    ("dropout", ("dropout", "bernoulli")),
    ("activation", ("relu", "sigmoid", "tanh", "threshold")),
)


@dataclass(frozen=True)
class LessonCase:
    lesson: str
    backend: str
    mode: str
    device: str
    dtype: str
    batch: int
    form: str = "plain"  # or one of the workload's forms: channels_last, autocast
    skip: str | None = None  # why the profile does not time this case (its reason is the benchmark's skip)

    @property
    def id(self) -> str:
        form = "" if self.form == "plain" else f"-{self.form}"
        return f"lesson{self.lesson}-{self.mode}-{self.device}-{self.dtype}{form}-b{self.batch}-{self.backend}"

    @property
    def group(self) -> str:
        """Backends of one (lesson, mode, batch, dtype, form, device) line up side by side."""
        form = "" if self.form == "plain" else f" {self.form}"
        return f"lesson {self.lesson} {self.mode} batch {self.batch} {self.dtype}{form} {self.device}"


# The lessons without training: their lab is timed whole, per setting (the setting is the variant: torch against
# numpy, per-sample against batched, ...) and, where the lab has one, per size of its work.
LAB_SIZES = {
    "1.1": ("n", {"quick": (100, 10_000, 1_000_000), "full": (100, 10**4, 10**6, 10**7, 10**8)}),
    "1.2": ("n", {"quick": (16, 256, 1024), "full": (16, 64, 256, 1024, 4096)}),
    "1.3": ("n", {"quick": (1000, 1_000_000), "full": (1000, 10**5, 10**7)}),
    "1.4": ("length", {"quick": (100, 1000), "full": (100, 10_000, 1_000_000)}),
    "1.5": ("images", {"quick": (256,), "full": (256, 2048)}),
}


@dataclass(frozen=True)
class LabCase:
    lesson: str
    setting: str | None
    device: str
    size: int | None

    @property
    def variant(self) -> str:
        return self.setting or "lab"

    @property
    def id(self) -> str:
        size = f"-n{self.size}" if self.size is not None else ""
        return f"lesson{self.lesson}-lab-{self.device}{size}-{self.variant}"

    @property
    def group(self) -> str:
        size = f" n {self.size}" if self.size is not None else ""
        return f"lesson {self.lesson} lab{size} {self.device}"


def lab_cases(options) -> list[LabCase]:
    """Every lab without training per setting and device, at each size of the profile (the quick one: its largest)."""
    largest_only = profile(options.profile).lab_sizes == "largest"
    cases = []
    for lesson_id, lesson in LESSONS.items():
        if lesson.trains:
            continue
        _, sizes = LAB_SIZES.get(lesson_id, (None, {}))
        sizes = sizes.get(options.profile, (None,))
        for device in options.devices:
            for size in sizes[-1:] if largest_only else sizes:
                cases += [LabCase(lesson_id, s, device, size) for s in (lesson.settings or (None,))]
    return cases


def run_lab_case(benchmark, lc: LabCase, options) -> None:
    lesson = LESSONS[lc.lesson]
    seed = options.seed
    reason = lesson.timing_skip_reason(lc.setting, lc.device) or skip_reason(options, "lab", lc.device)
    if reason:
        pytest.skip(reason)
    overrides = {LAB_SIZES[lc.lesson][0]: lc.size} if lc.size is not None else {}
    benchmark.group = lc.group

    def call():
        return lesson.run(lc.setting, device=lc.device, seed=seed, **overrides)

    first_s = timed_call(call, lc.device)
    benchmark.extra_info.update(
        {
            "lesson": lc.lesson,
            "title": lesson.title,
            "backend": lc.variant,
            "mode": "lab",
            "device": lc.device,
            "dtype": "fp32",
            "batch": lc.size,
            "first_call_s": first_s,
            "threads": torch.get_num_threads(),
        }
    )
    benchmark.extra_info.update(measure(benchmark, call, lc.device, "lab", options))
    median = benchmark.stats.stats.median
    benchmark.extra_info.update(
        {
            "samples_per_s": lc.size / median if lc.size and median > 0 else None,
            "noisy": bool(benchmark.stats.stats.iqr > NOISY_IQR * median),
        }
    )
    schema.check("lab", benchmark.extra_info)


def lesson_cases(options) -> list[LessonCase]:
    """The training lessons the profile times (quick: one per family at its lab's batch size; full: all of them at
    every batch size), per device, dtype, form, batch size, mode and backend; --batch-sizes overrides the batches."""
    prof = profile(options.profile)
    cases = []
    for lesson_id, lesson in LESSONS.items():
        if lesson.workload is None or (prof.lessons is not None and lesson_id not in prof.lessons):
            continue
        batches = options.batch_sizes or (prof.lessons[lesson_id] if prof.lessons is not None else prof.lesson_batches)
        for device in options.devices:
            dtypes = options.dtypes or (("fp32", "bf16") if device == "cuda" else ("fp32",))
            for dtype in (d for d in dtypes if d in ("fp32", "fp16", "bf16")):
                # autocast runs an fp32 model in bf16 where it pays: it is a form of the fp32 case only
                others = lesson.workload.forms if prof.lesson_forms else ()
                forms = ("plain", *(f for f in others if f != "autocast" or dtype == "fp32"))
                for batch in batches:
                    for mode in MODES:
                        cases += [
                            LessonCase(lesson_id, b, mode, device, dtype, batch, form, _skip(prof, lesson_id, b, mode))
                            for form in forms
                            for b in BACKENDS
                        ]
    return cases


COMPILED_TRAINING_ONLY = (
    "the quick profile compiles the training step only (a compile costs seconds on a CPU); --profile full times the "
    "compiled forward"
)


@functools.cache
def unfit_reason(lesson: str, backend: str) -> str | None:
    """Why `backend` cannot train the workload of `lesson` at all (triton_mlp on a model that is not an MLP ...)."""
    reason = LESSONS[lesson].workload.unfit_reason(backend)
    return f"lesson {lesson}: {reason}" if reason else None


def _skip(prof, lesson: str, backend: str, mode: str) -> str | None:
    """Why the profile does not time this lesson case, or None."""
    if backend in STEP_BACKENDS and mode != "train_step":
        return STEP_ONLY
    if reason := unfit_reason(lesson, backend):
        return reason
    if (lesson, backend) in prof.lesson_skips:
        return prof.lesson_skips[(lesson, backend)]
    if backend in ("compiled", "compiled_cudagraphs") and mode not in prof.compiled_lesson_modes:
        return COMPILED_TRAINING_ONLY
    return None


def hot_op(name: str) -> str:
    lowered = name.lower()
    for label, fragments in HOT_OPS:
        if any(f in lowered for f in fragments):
            return label
    return "other"


def owner(event) -> str:
    """The hot op an event's time belongs to: that of its outermost ancestor (itself included) that names one."""
    label = "other"
    while event is not None:
        label = hot_op(event.name) if hot_op(event.name) != "other" else label
        event = event.cpu_parent
    return label


def op_shares(step, device: str) -> dict[str, float]:
    """Each hot op's share of the self time of PROFILED_STEPS calls of `step` (device time on CUDA), each operator's
    time counted for its outermost hot ancestor."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device == "cuda" else [])
    with profile(activities=activities) as prof:
        for _ in range(PROFILED_STEPS):
            step()
        if device == "cuda":
            torch.cuda.synchronize()
    totals: dict[str, float] = {}
    for event in prof.events():
        if device == "cuda":
            t = getattr(event, "self_device_time_total", None) or getattr(event, "self_cuda_time_total", 0)
        else:
            t = event.self_cpu_time_total
        if t > 0 and not event.name.startswith("ProfilerStep"):
            totals[owner(event)] = totals.get(owner(event), 0.0) + t
    whole = sum(totals.values()) or 1.0
    return {k: v / whole for k, v in sorted(totals.items(), key=lambda kv: -kv[1])}


def count_flops(call) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        call()
    return int(counter.get_total_flops())


def run_lesson_case(benchmark, lc: LessonCase, options, record_oom) -> None:
    dtype = parse_dtype(lc.dtype)
    reason = lc.skip or timing_skip_reason(lc.backend, lc.device, dtype, autocast=lc.form == "autocast")
    reason = reason or skip_reason(options, "lesson", lc.device)
    if reason:
        pytest.skip(reason)
    work = LESSONS[lc.lesson].workload
    benchmark.group = lc.group
    torch.manual_seed(options.seed)
    try:
        _time_lesson(benchmark, lc, work, dtype, options)
    except torch.cuda.OutOfMemoryError:
        torch.cuda.empty_cache()
        record_oom(
            {
                "lesson": lc.lesson,
                "backend": lc.backend,
                "mode": lc.mode,
                "device": lc.device,
                "dtype": lc.dtype,
                "batch": lc.batch,
                "status": "out of memory",
            }
        )
        pytest.skip(f"out of memory at batch {lc.batch}")


def _time_lesson(benchmark, lc: LessonCase, work, dtype: torch.dtype, options) -> None:
    plain = work.model().to(device=lc.device, dtype=dtype)
    x, y = work.batch(plain, lc.batch, lc.device, dtype)
    if lc.form == "channels_last":
        plain, x = plain.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    loss_fn = work.loss()
    mode = "bf16-autocast" if lc.form == "autocast" else "fp32"  # an fp32 model under autocast, or as it is

    def steps(model, optimizer):
        def forward():
            with torch.no_grad(), precision(mode, lc.device):
                return model(x)

        if lc.mode == "forward":
            return graphed(model, forward)
        train = step_fn(model, loss_fn, optimizer)  # on triton_mlp: the whole step as two Triton launches

        def step():
            with precision(mode, lc.device):
                return train(x, y)

        # on cudagraphs captured on the first call, which the timing below counts as the backend's compile time
        return graphed(model, step, optimizer)

    plain.train(lc.mode == "train_step")
    try:
        flops = count_flops(steps(plain, work.optimizer(plain.parameters())))  # fwd (+ bwd) on the eager model
    except ValueError as e:  # batch norm cannot train on one value per channel: torch's error says so
        pytest.skip(f"{lc.lesson} cannot run a {lc.mode} at batch {lc.batch}: {e}")
    if lc.device == "cpu" and flops > MAX_CPU_FLOPS:
        pytest.skip(f"{flops / 1e9:,.0f} GFLOP per call: beyond a CPU sweep's budget ({MAX_CPU_FLOPS / 1e9:.0f} GFLOP)")
    model = apply_backend(plain, lc.backend)
    loss_fn, optimizer = step_parts(model, loss_fn, work.optimizer(model.parameters()))  # the backend's loss, step
    call = steps(model, optimizer)
    first_s = timed_call(call, lc.device)
    for _ in range(WARMUP_CALLS):
        call()
    steady_s = timed_call(call, lc.device)
    profiled = work.hot and lc.mode == "train_step" and lc.backend == "eager" and lc.form == "plain"
    shares = op_shares(call, lc.device) if profiled else None
    benchmark.extra_info.update(
        {
            "lesson": lc.lesson,
            "title": LESSONS[lc.lesson].title,
            "backend": lc.backend,
            "mode": lc.mode,
            "device": lc.device,
            "dtype": dtype_name(dtype),
            "batch": lc.batch,
            "form": lc.form,
            "flops": flops,
            "first_call_s": first_s,
            "compile_s": max(0.0, first_s - steady_s),
            "threads": torch.get_num_threads(),
            "op_shares": shares,
            **precision_flags(),
        }
    )
    benchmark.extra_info.update(measure(benchmark, call, lc.device, "lesson", options))
    median = benchmark.stats.stats.median
    benchmark.extra_info.update(
        {
            "samples_per_s": lc.batch / median if median > 0 else math.nan,
            "gflops": flops / median / 1e9 if median > 0 else math.nan,
            "noisy": bool(benchmark.stats.stats.iqr > NOISY_IQR * median),
        }
    )
    schema.check("lesson", benchmark.extra_info)
