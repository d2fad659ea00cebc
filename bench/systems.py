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
over seeds, and compares the accuracy reached.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

import pandas as pd
import torch

from bench.harness import WARMUP_CALLS, _timed_call
from bench.lessons import MAX_CPU_FLOPS, count_flops
from models import LESSONS
from models.backends import apply_backend, check_backend
from models.precision import loss_scaler, precision, precision_skip_reason
from models.train import train_step

STEPS = 10  # timed calls per round; a round keeps their median


@dataclass(frozen=True)
class Execution:
    label: str
    backend: str = "eager"
    device: str | None = None  # None: the device the study runs on (dnnbench study --device)
    precision: str = "fp32"
    form: str = "plain"  # or channels_last: model and inputs in NHWC
    threads: int | None = None  # CPU threads; None: torch's default, one per core


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

    @property
    def baseline(self) -> Execution:
        return self.executions[0]


MLPS, CNNS = ("4.3", "5.3", "5.5"), ("6.4", "6.5")
SYSTEMS_STUDIES: dict[str, SystemsStudy] = {
    s.name: s
    for s in (
        SystemsStudy("backend", "What does each backend cost per training step and to compile, and when does "
                     "compiling pay back?", {"quick": ("4.3", "6.4"), "full": MLPS + CNNS},
                     {"quick": (64,), "full": (16, 256, 1024)},
                     (Execution("eager"), Execution("compiled", "compiled"), Execution("triton", "triton"))),
        SystemsStudy("precision", "How much faster is each precision per step, and what accuracy does it reach?",
                     {"quick": ("4.3", "6.4"), "full": ("4.3", "5.5", *CNNS)}, {"quick": (64,), "full": (64, 1024)},
                     tuple(Execution(p, precision=p) for p in ("fp32", "tf32", "bf16-autocast", "fp16-autocast")),
                     training={"4.3": (None, {"quick": {"epochs": 2}, "full": {}}),
                               "6.4": ("digits", {"quick": {"epochs": 1}, "full": {}})}),
        SystemsStudy("device", "From which batch size on does the GPU beat the CPU, per lesson?",
                     {"quick": ("4.3", "6.4"), "full": MLPS + CNNS},
                     {"quick": (1, 64, 1024), "full": (1, 4, 16, 64, 256, 1024, 4096)},
                     (Execution("cpu", device="cpu"), Execution("cuda", device="cuda"))),
        SystemsStudy("layout", "Does channels_last (NHWC) speed up the CNN lessons' training step?",
                     {"quick": CNNS, "full": CNNS}, {"quick": (16,), "full": (16, 64, 256)},
                     (Execution("NCHW"), Execution("channels_last", form="channels_last"))),
        SystemsStudy("threads", "How much do all the CPU's cores buy over one, per lesson and batch size?",
                     {"quick": ("4.3", "6.4"), "full": MLPS + CNNS}, {"quick": (16, 256), "full": (16, 256, 1024)},
                     (Execution("1 thread", device="cpu", threads=1), Execution("all cores", device="cpu"))),
    )
}  # fmt: skip


def _device(ex: Execution, device: str) -> str:
    return ex.device or device


def skip_reason(ex: Execution, device: str, lesson: str) -> str | None:
    """Why this machine cannot time `ex` on `lesson`, or None."""
    device = _device(ex, device)
    try:
        check_backend(ex.backend, device, torch.float32)
    except (RuntimeError, ValueError) as e:
        return str(e)
    if ex.backend == "triton" and device == "cpu":
        return "the triton backend runs Triton's interpreter on the CPU: correct, not a performance figure"
    reason = precision_skip_reason(ex.precision, device)
    if reason:
        return reason
    if ex.backend == "triton" and ex.precision.endswith("autocast"):
        return "torch.autocast does not reach the registry's Triton layers"
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
    model = apply_backend(model.train(), ex.backend)
    loss_fn, optimizer = work.loss(), work.optimizer(model.parameters())
    with precision(ex.precision, device):
        scaler = loss_scaler(device)

    return lambda: train_step(model, loss_fn, optimizer, x, y, scaler)


def _row(study: str, version: str, lesson: str, ex: Execution, device: str, batch: int | None, **values) -> dict:
    """One long-format row; `reason` is set on skipped rows only."""
    return {"study": study, "version": version, "lesson": lesson, "setting": ex.label, "device": _device(ex, device),
            "batch": batch, "backend": ex.backend, "precision": ex.precision, "form": ex.form,
            "threads": ex.threads or torch.get_num_threads(), "reason": None, **values}  # fmt: skip


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
                torch.manual_seed(0)
                with _running(ex, where):
                    step = _train_step(ex, lesson, where, batch)
                    first = _timed_call(step, where)
                    for _ in range(WARMUP_CALLS):
                        step()
                steps[ex.label] = (ex, step, first)
                continue
        except ValueError as e:  # batch norm cannot train on one value per channel: torch's error says so
            reason = f"lesson {lesson} cannot train at batch {batch}: {e}"
        rows.append(_row(study.name, version, lesson, ex, device, batch, kind="skipped", reason=reason))
    for r in range(study.rounds[version]):
        for ex, step, first in steps.values():
            where = _device(ex, device)
            with _running(ex, where), _gc_off():
                median = float(torch.tensor([_timed_call(step, where) for _ in range(STEPS)]).median())
            rows.append(_row(study.name, version, lesson, ex, device, batch, kind="timing", seed=r, step_s=median,
                             samples_per_s=batch / median, first_call_s=first,
                             compile_s=max(0.0, first - median)))  # fmt: skip
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
                rows.append(_row(study.name, version, lesson, ex, device, None, kind="training", seed=seed,
                                 epoch=epoch + 1, **values))  # fmt: skip
    return rows


def run_systems_study(name: str, full: bool = False, device: str = "cpu") -> list[dict]:
    study = SYSTEMS_STUDIES[name]
    version = "full" if full else "quick"
    rows = []
    for lesson in study.lessons[version]:
        for batch in study.batches[version]:
            rows += time_executions(study, version, lesson, batch, device)
        if lesson in study.training:
            rows += train_in_precisions(study, version, lesson, device)
    return rows


def summarize_systems(study: SystemsStudy, rows: pd.DataFrame) -> pd.DataFrame:
    """Per (lesson, batch, execution): the step time's mean and range over rounds, samples/s, the first call's
    extra seconds (compile), the speedup over the baseline and whether their ranges are apart; skipped executions
    with their reason."""
    timing = rows[rows["kind"] == "timing"]
    out = []
    for (lesson, batch), case in rows[rows["kind"] != "training"].groupby(["lesson", "batch"], sort=False):
        batch = int(batch)  # a column that also holds the training rows' None is float
        t = timing[(timing["lesson"] == lesson) & (timing["batch"] == batch)]
        base = t[t["setting"] == study.baseline.label]["step_s"]
        for ex in study.executions:
            runs = t[t["setting"] == ex.label]
            mine = runs["step_s"]
            skipped = case[(case["setting"] == ex.label) & (case["kind"] == "skipped")]
            if mine.empty:
                reason = skipped["reason"].iloc[0] if not skipped.empty else "not run"
                out.append({"lesson": lesson, "batch": batch, "setting": ex.label, "skipped": reason})
                continue
            speedup = base.mean() / mine.mean() if not base.empty else math.nan
            faster = not base.empty and mine.max() < base.min()
            slower = not base.empty and mine.min() > base.max()
            out.append({"lesson": lesson, "batch": batch, "setting": ex.label, "device": runs["device"].iloc[0],
                        "rounds": len(mine), "step_ms": 1e3 * mine.mean(), "step_ms_min": 1e3 * mine.min(),
                        "step_ms_max": 1e3 * mine.max(), "samples_per_s": batch / mine.mean(),
                        "compile_s": runs["compile_s"].mean(), "speedup": speedup,
                        "apart": "faster" if faster else "slower" if slower else "within",
                        "skipped": None})  # fmt: skip
    return pd.DataFrame(out)


def _cases(n: int) -> str:
    return f"{n} case" + ("" if n == 1 else "s")


def _versus_baseline(study: SystemsStudy, summary: pd.DataFrame) -> str:
    """First sentence: each execution against the baseline over the (lesson, batch) cases both ran."""
    parts = []
    for ex in study.executions[1:]:
        mine = summary[(summary["setting"] == ex.label) & summary["skipped"].isna()].dropna(subset=["speedup"])
        if mine.empty:
            skipped = summary[summary["setting"] == ex.label]["skipped"].dropna()
            parts.append(f"{ex.label} did not run here ({skipped.iloc[0] if not skipped.empty else 'no rows'})")
            continue
        best = mine.loc[mine["speedup"].idxmax()]
        parts.append(f"{ex.label} is faster than {study.baseline.label} beyond the spread in "
                     f"{(mine['apart'] == 'faster').sum()} of {_cases(len(mine))} and slower in "
                     f"{(mine['apart'] == 'slower').sum()}, from {mine['speedup'].min():.2f}x to "
                     f"{best['speedup']:.2f}x (best: lesson {best['lesson']}, batch {best['batch']})")  # fmt: skip
    return f"{study.name}: " + "; ".join(parts) + "."


def _break_even(study: SystemsStudy, summary: pd.DataFrame, rows: pd.DataFrame) -> str:
    compiled = summary[(summary["setting"] == "compiled") & summary["skipped"].isna()]
    if compiled.empty:
        return "Compile cost was not measured (compiled did not run)."
    base = summary[(summary["setting"] == study.baseline.label) & summary["skipped"].isna()].set_index(
        ["lesson", "batch"]
    )
    paying = []
    for _, c in compiled[compiled["apart"] == "faster"].iterrows():
        saved_s = (base.loc[(c["lesson"], c["batch"]), "step_ms"] - c["step_ms"]) / 1e3
        paying.append((c["compile_s"] / saved_s, c["lesson"], c["batch"]))
    cost = f"Compiling costs {compiled['compile_s'].min():.2g} to {compiled['compile_s'].max():.2g} s"
    if not paying:
        return cost + " on the first call and never pays back here: compiled is not faster beyond the spread."
    steps, lesson, batch = min(paying)
    return cost + (f" on the first call; it pays back soonest on lesson {lesson} at batch {batch}, after "
                   f"{math.ceil(steps):,} steps.")  # fmt: skip


def _accuracy(study: SystemsStudy, summary: pd.DataFrame, rows: pd.DataFrame) -> str:
    trained = rows[rows["kind"] == "training"]
    if trained.empty:
        return "No lesson was trained here, so no accuracy is compared."
    parts = []
    for lesson, d in trained.groupby("lesson", sort=False):
        finals = d.sort_values("epoch").groupby(["setting", "seed"])[study.metric].last().groupby("setting")
        stats = finals.agg(["mean", "min", "max"]).reindex([e.label for e in study.executions]).dropna()
        base = stats.loc[study.baseline.label]
        for label, s in stats.drop(study.baseline.label).iterrows():
            apart = s["max"] < base["min"] or s["min"] > base["max"]
            parts.append(
                f"on {lesson} {label} reaches {study.metric} {s['mean']:.3f} ({s['min']:.3f} to "
                f"{s['max']:.3f}) against {base['mean']:.3f} in fp32, "
                + ("a difference beyond the spread over seeds" if apart else "within the spread")
            )
    return ("Accuracy: " + "; ".join(parts) + ".") if parts else "Only fp32 trained here: no accuracy to compare."


def _crossover(study: SystemsStudy, summary: pd.DataFrame, rows: pd.DataFrame) -> str:
    cuda = summary[(summary["setting"] == "cuda") & summary["skipped"].isna()]
    if cuda.empty:
        return ("No CUDA device ran here, so there is no crossover: run dnnbench study device on a GPU machine for "
                "both devices' rows.")  # fmt: skip
    parts = []
    for lesson, d in cuda.sort_values("batch").groupby("lesson", sort=False):
        wins = list(d["apart"] == "faster")
        # the crossover: the smallest batch from which CUDA is faster beyond the spread at every larger batch too
        start = next((i for i in range(len(wins)) if all(wins[i:])), None)
        parts.append(f"from batch {d['batch'].iloc[start]} on {lesson}" if start is not None else
                     f"at no measured batch on {lesson}")  # fmt: skip
    return "CUDA beats the CPU " + ", ".join(parts) + "."


def _largest_batch(study: SystemsStudy, summary: pd.DataFrame, rows: pd.DataFrame) -> str:
    ran = summary[summary["skipped"].isna()]
    parts = []
    for ex in study.executions[1:]:
        for lesson, d in ran[ran["setting"] == ex.label].groupby("lesson", sort=False):
            top = d.loc[d["batch"].idxmax()]
            note = ""
            if ex.threads is None and study.baseline.threads == 1:  # the cores of the machine the rows came from
                cores = int(rows.loc[rows["setting"] == ex.label, "threads"].max())
                note = f", {100 * top['speedup'] / cores:.0f}% of the ideal {cores}x"
            apart = {"faster": "faster beyond the spread", "slower": "slower beyond the spread"}.get(
                top["apart"], "within the spread"
            )
            parts.append(f"{top['speedup']:.2f}x on {lesson} at batch {top['batch']} ({apart}{note})")
    if not parts:
        return "Nothing ran against the baseline here."
    return (
        f"At the largest batch, {study.executions[1].label} against {study.baseline.label}: " + "; ".join(parts) + "."
    )


SECOND_SENTENCE = {"backend": _break_even, "precision": _accuracy, "device": _crossover}


def systems_conclusion(study: SystemsStudy, summary: pd.DataFrame, rows: pd.DataFrame) -> str:
    """Two sentences: every execution against the baseline (claimed only beyond the spread over rounds), then the
    study's own figure: compile break-even, accuracy reached, crossover batch, or the speedup at the largest batch."""
    return f"{_versus_baseline(study, summary)} {SECOND_SENTENCE.get(study.name, _largest_batch)(study, summary, rows)}"


def run_any_study(name: str, full: bool, device: str) -> list[dict]:
    """The rows of study `name`, a training-dynamics study (models/studies.py) or a systems study."""
    from models.studies import STUDIES, run_study

    if name in STUDIES:
        return run_study(name, full=full, device=device)
    if name in SYSTEMS_STUDIES:
        return run_systems_study(name, full=full, device=device)
    raise KeyError(f"unknown study {name!r}; studies: {', '.join([*STUDIES, *SYSTEMS_STUDIES])}")


def study_outcome(name: str, rows: pd.DataFrame):
    """(the study, its summary table, its conclusion) from its rows, for either kind of study."""
    from models.studies import STUDIES, conclusion, summarize

    if name in STUDIES:
        summary = summarize(STUDIES[name], rows)
        return STUDIES[name], summary, conclusion(STUDIES[name], summary)
    study = SYSTEMS_STUDIES[name]
    summary = summarize_systems(study, rows)
    return study, summary, systems_conclusion(study, summary, rows)
