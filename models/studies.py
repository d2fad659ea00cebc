"""Trade-off studies: small declarative grids over the lessons' own settings, repeated over seeds.

A study runs each of its arms (a lesson and one of its settings, with the overrides of the quick or the full
version) once per seed and writes long-format rows: one per (arm, seed, epoch) with the wall seconds of training so
far and the lab's metrics. Its summary gives each arm's final metric as the mean and the range over seeds and the
wall time to reach the study's target; its conclusion names the best arm and claims a difference only where the
arms' ranges over seeds do not overlap. The study's header (`Study.header`) heads its result file, and the summary
and conclusion are computed from that file by reports/study_analysis.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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

    def header(self) -> dict:
        """The first line of its result file: all a report needs to summarize it (reports/study_analysis.py)."""
        arms = [{"label": a.label, "lesson": a.lesson, "group": a.panel, "target": a.target} for a in self.arms]
        return {
            "study": self.name,
            "kind": "dynamics",
            "question": self.question,
            "metric": self.metric,
            "higher_is_better": self.higher_is_better,
            "target": self.target,
            "also": list(self.also),
            "contrast": self.contrast,
            "arms": arms,
        }


def _arms(lesson: str, settings, quick=None, full=None, target=None) -> tuple[Arm, ...]:
    return tuple(Arm(s, lesson, s, dict(quick or {}), dict(full or {}), target) for s in settings)


def _batch_arms(lesson: str, batches: dict[str, int], epochs: dict[str, int], target: float) -> tuple[Arm, ...]:
    """Arms of a lesson without batch settings: its batch_size overridden, the same epochs for every arm."""
    return tuple(
        Arm(
            label,
            lesson,
            None,
            {"batch_size": b, "epochs": epochs["quick"]},
            {"batch_size": b, "epochs": epochs["full"]},
            target,
        )
        for label, b in batches.items()
    )


STUDIES: dict[str, Study] = {
    s.name: s
    for s in (
        Study(
            "batch-size",
            "How does the batch size trade time per epoch for loss per epoch (2.5 to 2.7, 4.3)?",
            _arms("2.5", ("sgd", "batch_gd"))
            + _arms("2.7", ("batch=1", "batch=5", "batch=10", "batch=20"))
            + (Arm("DataLoader batch=1", "2.6", None, group="2.7"),)
            + _batch_arms(
                "4.3", {"batch=1": 1, "batch=100": 100, "full batch": FULL_BATCH}, {"quick": 2, "full": 10}, target=0.5
            ),
            "loss",
            target=0.05,
        ),
        Study(
            "learning-rate",
            "Which learning rate does the validation set choose, with outliers in training (2.9)?",
            _arms("2.9", ("lr=0.0001", "lr=0.001", "lr=0.01", "lr=0.1")),
            "val_loss",
            also=("loss",),
            contrast="loss",
        ),
        Study(
            "momentum",
            "Does momentum lower the spiral's loss, and reach a target sooner (5.4)?",
            _arms("5.4", ("spiral-m0", "spiral-m0.1", "spiral-m0.2", "spiral-m0.4", "spiral-m0.5"), {"epochs": 10}),
            "loss",
            target=0.6,
        ),
        Study(
            "initialization",
            "How much does the initialization matter for a deep tanh net on the digits (5.3)?",
            _arms("5.3", ("default", "xavier", "uniform"), {"epochs": 5}),
            "val_accuracy",
            higher_is_better=True,
            also=("val_loss", "loss"),
        ),
        Study(
            "dropout",
            "Does dropout narrow the gap between training and validation loss (5.2)?",
            _arms("5.2", ("p=0", "p=0.5"), {"epochs": 100}),
            "val_loss",
            also=("loss",),
        ),
        Study(
            "batchnorm",
            "Does batch norm make the digits MLP and CNN converge faster (5.5, 6.4)?",
            _arms("5.5", ("batchnorm", "plain"), {"epochs": 2})
            + _arms("6.4", ("digits-bn", "digits"), {"epochs": 2}, target=1.5),
            "val_loss",
            target=0.5,
            also=("val_accuracy", "loss"),
        ),
        Study(
            "activation",
            "Which activation trains the digits net fastest (4.4)?",
            _arms("4.4", ("sigmoid", "tanh", "relu"), {"epochs": 5}),
            "val_accuracy",
            higher_is_better=True,
            target=0.8,
            also=("val_loss", "loss"),
        ),
    )
}


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
                rows.append(
                    {
                        "study": name,
                        "lesson": arm.lesson,
                        "group": arm.panel,
                        "setting": arm.label,
                        "seed": seed,
                        "epoch": epoch + 1,
                        "device": device,
                        "version": "full" if full else "quick",
                        **{k: v[epoch] for k, v in history.items() if len(v) > epoch},
                    }
                )
    return rows
