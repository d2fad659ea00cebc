"""Systems studies: the same lesson workload run different ways (backend, precision, device, memory layout, CPU
threads), timed per training step.

Each study is a declarative grid: lessons x batch sizes x executions, one execution its baseline. For each (lesson,
batch) every execution's training step (forward, loss, backward, optimizer step, as bench/lessons.py times it) is
built and called once, that first call timed apart (torch.compile, Triton JIT, cuDNN search); then the executions
take turns, round after round, each round timing STEPS calls and keeping their median (each call synchronizes
the device, as the labs' loop does when it reads loss.item() every step; garbage collection is off while timing):
a drift of the shared machine falls on every execution alike, and the rounds give each one a range. A speedup is
claimed only where the ranges over rounds of the execution and of the baseline do not overlap. An execution this
machine cannot run (no CUDA device, the triton backend on the CPU's interpreter, TF32 on the CPU ...) is a
`skipped` row with its reason, never a silent gap. The precision study also trains each lesson in each precision,
over seeds, and compares the accuracy reached. Each study's header (`SystemsStudy.header`) heads its result file;
the summary and the conclusion are computed from that file by reports/study_analysis.py.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch

from bench.census import step_census
from bench.harness import WARMUP_CALLS
from bench.lessons import MAX_CPU_FLOPS, count_flops, unfit_reason
from bench.timers import timed_call
from models import LESSONS
from models.backends import apply_backend, run_skip_reason, step_parts, timing_skip_reason
from models.fusion import FUSIONS
from models.precision import loss_scaler, precision, precision_skip_reason
from models.train import step_call

STEPS = 10  # timed calls per round; a round keeps their median


@dataclass(frozen=True)
class Execution:
    label: str
    backend: str = "eager"
    device: str | None = None  # None: the device the study runs on (dnnbench study --device)
    precision: str = "fp32"
    form: str = "plain"  # or channels_last: model and inputs in NHWC
    threads: int | None = None  # CPU threads; None: torch's default, one per core
    fusions: tuple[str, ...] = FUSIONS  # on the triton_fused backend: which fusions (models/fusion.py)


@dataclass(frozen=True)
class SystemsStudy:
    name: str
    question: str
    lessons: dict[str, tuple[str, ...]]  # version (quick, full) -> lesson ids
    batches: dict[str, tuple[int, ...]]  # version -> batch sizes
    executions: tuple[Execution, ...]
    rounds: dict[str, int] = field(default_factory=lambda: {"quick": 3, "full": 5})
    # the precision study: lesson -> (setting, overrides per version) of the lab trained in each precision
    training: dict[str, tuple[str | None, dict[str, dict]]] = field(default_factory=dict)
    metric: str = "val_accuracy"
    seeds: dict[str, tuple[int, ...]] = field(default_factory=lambda: {"quick": (0, 1), "full": (0, 1, 2, 3, 4)})
    # the conclusion's second sentence (reports/study_analysis.FIGURES) and the execution it is about
    figure: str = "largest_batch"
    about: str | None = None
    # count whose kernels run each execution's step (bench/census.py): `census` rows beside the timing rows
    census: bool = False

    @property
    def baseline(self) -> Execution:
        return self.executions[0]

    def header(self) -> dict:
        """The first line of its result file: all a report needs to summarize it (reports/study_analysis.py)."""
        return {
            "study": self.name,
            "kind": "systems",
            "question": self.question,
            "metric": self.metric,
            "executions": [{"label": e.label} for e in self.executions],
            "figure": self.figure,
            "about": self.about,
            "census": self.census,
        }


MLPS, CNNS = ("4.3", "5.3", "5.5"), ("6.4", "6.5")
UNFUSED = "triton"  # the fusion study's reference: the triton backend, its layers swapped and unfused
SYSTEMS_STUDIES: dict[str, SystemsStudy] = {
    s.name: s
    for s in (
        SystemsStudy(
            name="backend",
            question="What does each backend cost per training step and to compile or capture, and when does that pay "
            "back?",
            # 4.4 (64-100-10) and 5.4 (2-50-3 with momentum) besides: the MLPs triton_mlp trains
            lessons={"quick": ("4.3", "6.4"), "full": ("4.3", "4.4", "5.4", *MLPS[1:], *CNNS)},
            batches={"quick": (64,), "full": (16, 256, 1024)},
            executions=(
                Execution("eager"),
                Execution("compiled", "compiled"),
                Execution("triton", "triton"),
                Execution("triton_mlp", "triton_mlp"),
                Execution("cudagraphs", "cudagraphs"),
                Execution("compiled_cudagraphs", "compiled_cudagraphs"),
            ),
            figure="break_even",
            about="compiled",
        ),
        SystemsStudy(
            name="precision",
            question="How much faster is each precision per step, and what accuracy does it reach?",
            lessons={"quick": ("4.3", "6.4"), "full": ("4.3", "5.5", *CNNS)},
            batches={"quick": (64,), "full": (64, 1024)},
            executions=tuple(Execution(p, precision=p) for p in ("fp32", "tf32", "bf16-autocast", "fp16-autocast")),
            training={
                "4.3": (None, {"quick": {"epochs": 2}, "full": {}}),
                "6.4": ("digits", {"quick": {"epochs": 1}, "full": {}}),
            },
            figure="accuracy",
        ),
        SystemsStudy(
            name="device",
            question="From which batch size on does the GPU beat the CPU, per lesson?",
            lessons={"quick": ("4.3", "6.4"), "full": MLPS + CNNS},
            batches={"quick": (1, 64, 1024), "full": (1, 4, 16, 64, 256, 1024, 4096)},
            executions=(Execution("cpu", device="cpu"), Execution("cuda", device="cuda")),
            figure="crossover",
            about="cuda",
        ),
        SystemsStudy(
            name="layout",
            question="Does channels_last (NHWC) speed up the CNN lessons' training step?",
            lessons={"quick": CNNS, "full": CNNS},
            batches={"quick": (16,), "full": (16, 64, 256)},
            executions=(Execution("NCHW"), Execution("channels_last", form="channels_last")),
        ),
        SystemsStudy(
            name="fusion",
            question="What does each fusion buy in a training step? The Triton layers unfused (triton), with each "
            "activation in its layer's kernel (epilogues: Linear + act, Conv2d + BatchNorm + relu, BatchNorm + relu, "
            "Dropout + relu), with the head's cross-entropy computed without writing its logits (head), and with both "
            "(triton_fused); the optimizer step is the one-launch Triton step in all of them",
            lessons={"quick": ("5.2", "5.3"), "full": ("4.3", "4.4", "5.2", "5.3", "5.5", *CNNS)},
            batches={"quick": (64,), "full": (16, 256, 1024)},
            executions=(
                Execution("eager"),
                Execution(UNFUSED, "triton"),
                Execution("epilogues", "triton_fused", fusions=("epilogue",)),
                Execution("head", "triton_fused", fusions=("head",)),
                Execution("triton_fused", "triton_fused"),
            ),
            figure="fusion",
            about=UNFUSED,
            census=True,
        ),
        SystemsStudy(
            name="threads",
            question="How much do all the CPU's cores buy over one, per lesson and batch size?",
            lessons={"quick": ("4.3", "6.4"), "full": MLPS + CNNS},
            batches={"quick": (16, 256), "full": (16, 256, 1024)},
            executions=(Execution("1 thread", device="cpu", threads=1), Execution("all cores", device="cpu")),
            figure="scaling",
        ),
    )
}


def _device(ex: Execution, device: str) -> str:
    return ex.device or device


def skip_reason(ex: Execution, device: str, lesson: str) -> str | None:
    """Why this machine cannot time `ex` on `lesson`, or None."""
    device = _device(ex, device)
    if reason := unfit_reason(lesson, ex.backend):
        return reason
    reason = timing_skip_reason(ex.backend, device, autocast=ex.precision.endswith("autocast"))
    reason = reason or precision_skip_reason(ex.precision, device)
    if reason:
        return reason
    if ex.form == "channels_last" and len(LESSONS[lesson].workload.sample) != 3:
        return f"lesson {lesson} has no images: channels_last is a layout of 4-d tensors"
    return None


@contextmanager
def _gc_off():
    """No garbage collection inside a timed round (as the benchmarks run, with --benchmark-disable-gc)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@contextmanager
def _threads(n: int | None):
    before = torch.get_num_threads()
    torch.set_num_threads(n or before)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def _running(ex: Execution, device: str):
    """The execution's CPU threads and precision around the body."""
    with _threads(ex.threads), precision(ex.precision, device):
        yield


def _train_step(ex: Execution, lesson: str, device: str, batch: int) -> Callable[[], torch.Tensor]:
    work = LESSONS[lesson].workload
    model = work.model().to(device)
    x, y = work.batch(model, batch, device, torch.float32)
    if ex.form == "channels_last":
        model, x = model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    model = apply_backend(model.train(), ex.backend, ex.fusions)
    loss_fn, optimizer = step_parts(model, work.loss(), work.optimizer(model.parameters()))
    with precision(ex.precision, device):
        scaler = loss_scaler(device)

    return step_call(model, loss_fn, optimizer, x, y, scaler)


def _row(study: str, version: str, lesson: str, ex: Execution, device: str, batch: int | None, **values) -> dict:
    """One long-format row; `reason` is set on the rows of what could not run here only."""
    return {
        "study": study,
        "version": version,
        "lesson": lesson,
        "setting": ex.label,
        "device": _device(ex, device),
        "batch": batch,
        "backend": ex.backend,
        "precision": ex.precision,
        "form": ex.form,
        "threads": ex.threads or torch.get_num_threads(),
        "reason": None,
        **values,
    }


# torch's error for a batch norm that trains on one value per channel (a lesson with batch norm at batch 1): such a
# batch is a skipped row; any other error is the study's own and propagates
ONE_VALUE_PER_CHANNEL = "Expected more than 1 value per channel"


def _first_calls(ex: Execution, lesson: str, device: str, batch: int) -> tuple[Callable, float]:
    """The execution's training step, built and called once (its first call timed apart: compilation, JIT, cuDNN
    search) and warmed up."""
    torch.manual_seed(0)
    with _running(ex, device):
        step = _train_step(ex, lesson, device, batch)
        first = timed_call(step, device)
        for _ in range(WARMUP_CALLS):
            step()
    return step, first


def time_executions(study: SystemsStudy, version: str, lesson: str, batch: int, device: str) -> list[dict]:
    """The rows of one (lesson, batch): a timing row per execution and round, a skipped row per execution that
    cannot run here."""
    rows, steps = [], {}
    flops = None
    for ex in study.executions:
        where = _device(ex, device)
        reason = skip_reason(ex, device, lesson)
        try:
            if reason is None and where == "cpu":
                if flops is None:  # counted once, on the eager fp32 step: every execution does the same math
                    flops = count_flops(_train_step(Execution("count"), lesson, "cpu", batch))
                if flops > MAX_CPU_FLOPS:
                    reason = f"{flops / 1e9:,.0f} GFLOP per step: beyond a CPU study's budget"
            if reason is None:
                steps[ex.label] = (ex, *_first_calls(ex, lesson, where, batch))
        except ValueError as e:
            if ONE_VALUE_PER_CHANNEL not in str(e):
                raise
            reason = f"lesson {lesson} cannot train at batch {batch}: {e}"
        if reason is not None:
            rows.append(_row(study.name, version, lesson, ex, device, batch, kind="skipped", reason=reason))
    for r in range(study.rounds[version]):
        for ex, step, first in steps.values():
            where = _device(ex, device)
            with _running(ex, where), _gc_off():
                median = float(torch.tensor([timed_call(step, where) for _ in range(STEPS)]).median())
            rows.append(
                _row(
                    study.name,
                    version,
                    lesson,
                    ex,
                    device,
                    batch,
                    kind="timing",
                    seed=r,
                    step_s=median,
                    samples_per_s=batch / median,
                    first_call_s=first,
                    compile_s=max(0.0, first - median),
                )
            )
    return rows


def train_in_precisions(study: SystemsStudy, version: str, lesson: str, device: str) -> list[dict]:
    """The lab of `lesson` trained in each precision of the study over its seeds: one row per epoch."""
    setting, overrides = study.training[lesson]
    rows = []
    for ex in study.executions:
        where = _device(ex, device)
        reason = skip_reason(ex, device, lesson)
        if reason is not None:
            continue  # its timing rows already say why
        for seed in study.seeds[version]:
            with _running(ex, where):
                history = LESSONS[lesson].run(setting, device=where, seed=seed, **overrides[version]).history
            for epoch in range(len(history["loss"])):
                values = {k: v[epoch] for k, v in history.items() if len(v) > epoch}
                rows.append(
                    _row(
                        study.name,
                        version,
                        lesson,
                        ex,
                        device,
                        None,
                        kind="training",
                        seed=seed,
                        epoch=epoch + 1,
                        **values,
                    )
                )
    return rows


CENSUS_BATCH = 4  # on the CPU (Triton's interpreter runs each program in turn): launch counts do not depend on it
MAX_INTERPRETED_FLOPS = 2**30  # a step beyond ~1 GFLOP takes minutes through the interpreter (ResNet-18's)


def census_rows(study: SystemsStudy, version: str, lesson: str, device: str) -> list[dict]:
    """Per execution (and on CUDA per batch): the launches of the suite's kernels and the PyTorch operators of one
    training step, with the suite's share (bench/census.py); an execution that cannot run here is a row with its
    reason. On the CPU once per lesson, at CENSUS_BATCH, through Triton's interpreter: counts, not timings."""
    rows = []
    for batch in study.batches[version] if device == "cuda" else (CENSUS_BATCH,):
        flops = None
        for ex in study.executions:
            where = _device(ex, device)
            reason = run_skip_reason(ex.backend, where)
            if reason is None and where == "cpu" and ex.backend.startswith("triton"):
                flops = (
                    flops if flops is not None else count_flops(_train_step(Execution("count"), lesson, "cpu", batch))
                )
                if flops > MAX_INTERPRETED_FLOPS:
                    reason = f"{flops / 1e9:,.1f} GFLOP per step: minutes through the Triton interpreter"
            if reason is not None:
                rows.append(_row(study.name, version, lesson, ex, device, batch, kind="census", reason=reason))
                continue
            torch.manual_seed(0)
            with _running(ex, where):
                counts = step_census(_train_step(ex, lesson, where, batch), where)
            rows.append(_row(study.name, version, lesson, ex, device, batch, kind="census", **counts))
    return rows


def run_systems_study(study: SystemsStudy, full: bool = False, device: str = "cpu") -> list[dict]:
    """Every (lesson, batch) of `study` timed per execution, and the precision study's trainings: its rows."""
    version = "full" if full else "quick"
    rows = []
    for lesson in study.lessons[version]:
        for batch in study.batches[version]:
            rows += time_executions(study, version, lesson, batch, device)
        if lesson in study.training:
            rows += train_in_precisions(study, version, lesson, device)
        if study.census:
            rows += census_rows(study, version, lesson, device)
    return rows
