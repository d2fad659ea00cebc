"""A lesson of the course as a reference workload: its lab set-up, run on a backend, device and dtype.

Each week's module declares its lessons with `@lesson(id, title, summary, settings)`; models.LESSONS holds them in
the course's order. `Lesson.run` checks its arguments, seeds torch, times the lab and returns a Result.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from types import SimpleNamespace

import torch
from torch import nn

from kernels import registry
from kernels.triton_mlp import TritonMLPStep
from models.backends import STEP_BACKENDS, apply_backend, check_backend
from models.graphs import GraphedCall
from models.mlp_step import unfit_reason


@dataclass
class Result:
    """What a lesson's lab produced: per-epoch history, the last values, the time it took and what it trained or
    computed."""

    lesson: str
    setting: str | None
    backend: str
    device: str
    history: dict[str, list[float]] = field(default_factory=dict)
    final: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    model: nn.Module | None = None
    outputs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Context:
    """The run's backend, device, dtype and seed, and how a lab puts its model and data there."""

    backend: str
    device: str
    dtype: torch.dtype
    seed: int

    def model(self, module: nn.Module) -> nn.Module:
        """The lab's model on the run's device and dtype, its layers running on the run's backend. Build the
        optimizer after this: the backend keeps the same parameters."""
        return apply_backend(module.to(device=self.device, dtype=self.dtype), self.backend)

    def tensor(self, t: torch.Tensor) -> torch.Tensor:
        return t.to(device=self.device, dtype=self.dtype) if t.is_floating_point() else t.to(self.device)

    def data(self, split):
        return split.to(self.device, self.dtype)


@dataclass(frozen=True)
class Workload:
    """What the benchmarks time for a training lesson: the lab's model (its main setting), one input sample's shape,
    the targets (class labels, or float targets shaped like the output), the loss and the optimizer. `hot`: an MLP
    or CNN lesson, whose training step is also profiled for each hot op's share."""

    model: Callable[[], nn.Module]
    sample: tuple[int, ...]
    loss: Callable[[], nn.Module]
    optimizer: Callable  # optimizer(trainable parameters) -> torch.optim.Optimizer
    classes: int | None = None
    hot: bool = False
    # forms timed besides the plain one: "channels_last" (model and inputs in NHWC), "autocast" (an fp32 model
    # under torch.autocast to bf16)
    forms: tuple[str, ...] = ()

    def unfit_reason(self, backend: str) -> str | None:
        """Why `backend` cannot train this workload at all (triton_mlp: a model, loss or optimizer that is not a
        lesson MLP's), or None. Known before anything runs."""
        if backend not in STEP_BACKENDS:
            return None
        with torch.random.fork_rng(devices=[]):  # building the model draws its initialization: not from the run's
            model = self.model()
        return unfit_reason(model, self.loss(), self.optimizer(model.parameters()))

    def batch(self, model: nn.Module, n: int, device: str, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """Random inputs and targets for a batch of n (timing does not depend on the values)."""
        x = torch.randn(n, *self.sample, device=device, dtype=dtype)
        if self.classes is not None:
            return x, torch.randint(0, self.classes, (n,), device=device)
        with torch.no_grad():
            shape = model(x[:1]).shape[1:]
        return x, torch.rand(n, *shape, device=device, dtype=dtype)  # in [0, 1]: a target BCE accepts too


@dataclass(frozen=True)
class Lesson:
    id: str
    title: str
    summary: str
    settings: tuple[str, ...]
    fn: Callable = field(repr=False)
    trains: bool = True
    workload: Workload | None = field(default=None, repr=False)
    setting_op: str | None = None  # the settings are this registry op's variants (lesson 4.2: softmax)

    def timing_skip_reason(self, setting: str | None, device: str) -> str | None:
        """Why the lab in `setting` cannot be timed as a performance figure on `device`, or None."""
        if self.setting_op is None:
            return None
        return registry.get(self.setting_op, setting).skip_reason(device, timing=True)

    @property
    def default_setting(self) -> str | None:
        return self.settings[0] if self.settings else None

    def run(
        self,
        setting: str | None = None,
        backend: str = "eager",
        device: str = "cpu",
        dtype: torch.dtype = torch.float32,
        seed: int = 0,
        **overrides,
    ) -> Result:
        """Run the lab's set-up for `setting` (default: the first) and return its Result. `overrides` change the
        lab's hyperparameters by name (e.g. epochs=2)."""
        setting = setting or self.default_setting
        if self.settings and setting not in self.settings:
            raise ValueError(f"lesson {self.id} has no setting {setting!r}; its settings: {', '.join(self.settings)}")
        if not self.settings and setting is not None:
            raise ValueError(f"lesson {self.id} has no settings, got {setting!r}")
        check_backend(backend, device, dtype)
        torch.manual_seed(seed)
        ctx = Context(backend, device, dtype, seed)
        start = time.perf_counter()
        made = _whole_steps(backend)
        out = self.fn(ctx, setting, **overrides)
        if made is not None and _whole_steps(backend) == made:
            raise RuntimeError(
                f"lesson {self.id} on backend {backend!r} made no training step of its own: its lab writes its own "
                "loop (the update by hand), which ran eagerly; the lesson's benchmark times its workload's step"
            )
        if device == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        history = {k: [float(v) for v in vs] for k, vs in out.get("history", {}).items()}
        final = {k: vs[-1] for k, vs in history.items() if vs}
        final.update(out.get("final", {}))
        return Result(
            self.id, setting, backend, device, history, final, seconds, out.get("model"), out.get("outputs", {})
        )


def _whole_steps(backend: str) -> int | None:
    """How many whole training steps `backend` has made in this process (CUDA graphs captured, Triton MLP steps
    built), or None for a backend that runs the lab's own step."""
    return {"cudagraphs": GraphedCall.captures, "triton_mlp": TritonMLPStep.made}.get(backend)


LESSONS: dict[str, Lesson] = {}


def lesson(
    id: str,
    title: str,
    summary: str,
    settings: tuple[str, ...] = (),
    trains: bool = True,
    setting_op: str | None = None,
):
    """Declare the decorated function as lesson `id`: fn(ctx, setting, **overrides) -> dict with any of history,
    final, model and outputs. A training lesson then names the workload its benchmarks time with `workloads`."""

    def register(fn: Callable) -> Callable:
        if id in LESSONS:
            raise ValueError(f"lesson {id} is declared twice")
        LESSONS[id] = Lesson(id, title, summary, tuple(settings), fn, trains, setting_op=setting_op)
        return fn

    return register


def workloads(by_id: dict[str, Workload]) -> None:
    """Attach each lesson's benchmark workload: workloads({"4.3": Workload(...), ...}) after the lessons' declarations
    (a workload's model is usually the module the lesson declares below its function)."""
    for id, work in by_id.items():
        if id not in LESSONS:
            raise KeyError(f"no lesson {id} to attach a workload to")
        LESSONS[id] = replace(LESSONS[id], workload=work)


def take(overrides: dict, **defaults) -> SimpleNamespace:
    """The lab's hyperparameters with the caller's overrides; an unknown override is an error, not ignored."""
    unknown = set(overrides) - set(defaults)
    if unknown:
        raise TypeError(f"unknown overrides {sorted(unknown)}; this lab takes {sorted(defaults)}")
    return SimpleNamespace(**{**defaults, **overrides})
