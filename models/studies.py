"""Trade-off studies: small declarative grids over the lessons' own settings, repeated over seeds.

A study runs each of its arms (a lesson and one of its settings, with the overrides of the quick or the full
version) once per seed and writes long-format rows: one per (arm, seed, epoch) with the wall seconds of training so
far and the lab's metrics. Its summary gives each arm's final metric as the mean and the range over seeds and the
wall time to reach the study's target; its conclusion names the best arm and claims a difference only where the
arms' ranges over seeds do not overlap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from models.lesson import LESSONS

FULL_BATCH = 2**31 - 1  # a batch_size larger than any split: one batch per epoch, full-batch descent


@dataclass(frozen=True)
class Arm:
    label: str
    lesson: str
    setting: str | None
    quick: dict = field(default_factory=dict)  # overrides of the quick version (the test suite's)
    full: dict = field(default_factory=dict)  # overrides of the full version (default: the lab's own set-up)
    target: float | None = None  # this arm's target, where its lesson's metric has another scale than the study's
    group: str | None = None  # the lesson whose arms it is compared with (default: its own)

    @property
    def panel(self) -> str:
        return self.group or self.lesson


@dataclass(frozen=True)
class Study:
    name: str
    question: str
    arms: tuple[Arm, ...]
    metric: str  # the history column compared: loss, val_loss, val_accuracy ...
    higher_is_better: bool = False
    target: float | None = None  # time to reach this value of `metric`
    seeds: tuple[int, ...] = (0, 1, 2)
    full_seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    also: tuple[str, ...] = ()  # further history columns drawn and summarized (final mean over seeds)
    contrast: str | None = None  # one of `also` that would choose another setting: the conclusion says so


def _arms(lesson: str, settings, quick=None, full=None, target=None) -> tuple[Arm, ...]:
    return tuple(Arm(s, lesson, s, dict(quick or {}), dict(full or {}), target) for s in settings)


def _batch_arms(lesson: str, batches: dict[str, int], epochs: dict[str, int], target: float) -> tuple[Arm, ...]:
    """Arms of a lesson without batch settings: its batch_size overridden, the same epochs for every arm."""
    return tuple(Arm(label, lesson, None, {"batch_size": b, "epochs": epochs["quick"]},
                     {"batch_size": b, "epochs": epochs["full"]}, target) for label, b in batches.items())  # fmt: skip


STUDIES: dict[str, Study] = {
    s.name: s
    for s in (
        Study("batch-size", "How does the batch size trade time per epoch for loss per epoch (2.5 to 2.7, 4.3)?",
              _arms("2.5", ("sgd", "batch_gd"))
              + _arms("2.7", ("batch=1", "batch=5", "batch=10", "batch=20"))
              + (Arm("DataLoader batch=1", "2.6", None, group="2.7"),)
              + _batch_arms("4.3", {"batch=1": 1, "batch=100": 100, "full batch": FULL_BATCH}, {"quick": 2,
                            "full": 10}, target=0.5), "loss", target=0.05),
        Study("learning-rate", "Which learning rate does the validation set choose, with outliers in training (2.9)?",
              _arms("2.9", ("lr=0.0001", "lr=0.001", "lr=0.01", "lr=0.1")), "val_loss", also=("loss",),
              contrast="loss"),
        Study("momentum", "Does momentum lower the spiral's loss, and reach a target sooner (5.4)?",
              _arms("5.4", ("spiral-m0", "spiral-m0.1", "spiral-m0.2", "spiral-m0.4", "spiral-m0.5"), {"epochs": 10}),
              "loss", target=0.6),
        Study("initialization", "How much does the initialization matter for a deep tanh net on the digits (5.3)?",
              _arms("5.3", ("default", "xavier", "uniform"), {"epochs": 5}), "val_accuracy", higher_is_better=True,
              also=("val_loss", "loss")),
        Study("dropout", "Does dropout narrow the gap between training and validation loss (5.2)?",
              _arms("5.2", ("p=0", "p=0.5"), {"epochs": 100}), "val_loss", also=("loss",)),
        Study("batchnorm", "Does batch norm make the digits MLP and CNN converge faster (5.5, 6.4)?",
              _arms("5.5", ("batchnorm", "plain"), {"epochs": 2})
              + _arms("6.4", ("digits-bn", "digits"), {"epochs": 2}, target=1.5), "val_loss", target=0.5,
              also=("val_accuracy", "loss")),
        Study("activation", "Which activation trains the digits net fastest (4.4)?",
              _arms("4.4", ("sigmoid", "tanh", "relu"), {"epochs": 5}), "val_accuracy", higher_is_better=True,
              target=0.8, also=("val_loss", "loss")),
    )
}  # fmt: skip


def run_study(name: str, full: bool = False, device: str = "cpu", seeds=None) -> list[dict]:
    """Run every arm of study `name` once per seed; return its long-format rows."""
    if name not in STUDIES:
        raise KeyError(f"unknown study {name!r}; studies: {', '.join(STUDIES)}")
    study = STUDIES[name]
    rows = []
    for arm in study.arms:
        for seed in seeds or (study.full_seeds if full else study.seeds):
            result = LESSONS[arm.lesson].run(arm.setting, device=device, seed=seed, **(arm.full if full else arm.quick))
            history = result.history
            for epoch in range(len(history[study.metric])):
                rows.append({"study": name, "lesson": arm.lesson, "group": arm.panel, "setting": arm.label,
                             "seed": seed, "epoch": epoch + 1, "device": device, "version": "full" if full else "quick",
                             **{k: v[epoch] for k, v in history.items() if len(v) > epoch}})  # fmt: skip
    return rows


def summarize(study: Study, rows: pd.DataFrame) -> pd.DataFrame:
    """Per arm (lesson and setting): the final metric's mean, min and max over seeds, the mean wall seconds to
    reach the arm's target (NaN when some seed never reaches it) and of training per epoch, and the final mean of
    each of the study's `also` columns."""
    out = []
    for arm in study.arms:
        runs = rows[(rows["lesson"] == arm.lesson) & (rows["setting"] == arm.label)].sort_values("epoch")
        finals = runs.groupby("seed")[study.metric].last()
        target = arm.target if arm.target is not None else study.target
        reached = []
        for _, run in runs.groupby("seed"):
            if target is None:
                break
            ok = run[study.metric] >= target if study.higher_is_better else run[study.metric] <= target
            reached.append(run[ok]["seconds"].iloc[0] if ok.any() else math.nan)
        also = {m: runs.groupby("seed")[m].last().mean() for m in study.also if m in runs}
        per_epoch = (runs.groupby("seed")["seconds"].last() / runs.groupby("seed")["epoch"].max()).mean()
        out.append({"lesson": arm.lesson, "group": arm.panel, "setting": arm.label, "seeds": len(finals),
                    "mean": finals.mean(), "min": finals.min(), "max": finals.max(), "target": target,
                    "seconds_to_target": pd.Series(reached, dtype=float).mean(skipna=False),
                    "seconds_per_epoch": per_epoch, **also})  # fmt: skip
    return pd.DataFrame(out)


def _contrast(study: Study, arms: pd.DataFrame, best: pd.Series) -> str:
    if study.contrast is None or study.contrast not in arms:
        return ""
    by_contrast = arms.loc[arms[study.contrast].idxmin()]
    if by_contrast["setting"] == best["setting"]:
        return f"; the final {study.contrast} makes the same choice"
    return (f"; by the final {study.contrast} alone the choice would be {by_contrast['setting']} "
            f"({by_contrast[study.contrast]:.4g})")  # fmt: skip


def _first_to_target(study: Study, arms: pd.DataFrame) -> str:
    reached = arms.dropna(subset=["seconds_to_target"])
    if arms["target"].isna().all():
        return ""
    target = f"{study.metric} {arms['target'].dropna().iloc[0]:g}"
    if reached.empty:
        return f"; no setting reaches {target} with every seed"
    first = reached.loc[reached["seconds_to_target"].idxmin()]
    return f"; the first to reach {target} is {first['setting']}, after {first['seconds_to_target']:.3g} s of training"


def conclusion(study: Study, summary: pd.DataFrame) -> str:
    """Two sentences per lesson of the study: its best arm with the mean and range over seeds, then whether the
    lead over the runner-up is larger than the spread (the ranges over seeds do not overlap) or not, in which case
    no difference is claimed, and which arm reaches the target first in wall time (mean over seeds)."""
    sentences = []
    for lesson, arms in summary.groupby("group", sort=False):
        ranked = arms.sort_values("mean", ascending=not study.higher_is_better).reset_index(drop=True)
        best, second = ranked.iloc[0], ranked.iloc[1]
        where = f" on {lesson}" if summary["group"].nunique() > 1 else ""
        sentences.append(f"{study.name}{where}: {best['setting']} reaches the best final {study.metric}, "
                         f"{best['mean']:.4g} (range {best['min']:.4g} to {best['max']:.4g} over {best['seeds']} "
                         "seeds).")  # fmt: skip
        apart = best["min"] > second["max"] if study.higher_is_better else best["max"] < second["min"]
        if apart:
            second_sentence = (
                f"Its lead over {second['setting']} ({second['mean']:.4g}) is larger than the spread over seeds"
            )
        else:
            second_sentence = (f"{second['setting']} ({second['mean']:.4g}) is within the spread over seeds: no "
                               "difference is claimed between them")  # fmt: skip
        sentences.append(second_sentence + _first_to_target(study, arms) + _contrast(study, arms, best) + ".")
    return " ".join(sentences)
