"""The triton_mlp backend (models/mlp_step.py): each lesson whose workload is an MLP trained by SGD takes eager
float64's steps through the two Triton launches (the interpreter, here); its labs train as eager does; every other
workload is refused with its reason, before anything runs; the lab's model is read through torch.fx whatever way it
writes its forward."""

import copy

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from bench.lessons import lesson_cases, unfit_reason
from bench.systems import SYSTEMS_STUDIES, skip_reason
from kernels.triton_mlp import TritonMLPStep
from models import LESSONS
from models.backends import STEP_ONLY, apply_backend, run_skip_reason, timing_skip_reason
from models.mlp_step import loss_kind, mlp_layers, sgd_options, triton_mlp_step
from models.train import step_fn, train_step
from tests.test_triton_mlp import ATOL, RTOL

# The lessons whose workload triton_mlp trains, and why each other one is refused. Every lesson with a workload is
# in one of the two: a new lesson must be placed.
FITS = ("2.3", "2.4", "2.5", "2.6", "2.7", "2.8", "2.9", "3.1", "3.2", "4.1", "4.3", "4.4", "5.1", "5.4")
REFUSED = {
    "2.2": "needs its bias",  # yhat = w * x
    "3.3": "ends in an activation (sigmoid)",  # sigmoid out, BCE loss
    "5.2": "computes Dropout",
    "5.3": "widths up to 128",  # He-initialized 64-100-200-100-10
    "5.5": "computes BatchNorm1d",
    "6.4": "computes Conv2d",
    "6.5": "computes Conv2d",
}
STEPS = 3


def test_every_lesson_workload_is_placed():
    with_workload = {k for k, v in LESSONS.items() if v.workload is not None}
    assert with_workload == set(FITS) | set(REFUSED)


@pytest.mark.parametrize("lesson", FITS)
def test_each_lesson_mlp_takes_eager_float64_steps(lesson, device):
    """The workload's own model, loss and optimizer (lr, momentum), STEPS steps on one batch of 37: the losses and
    every parameter as eager's in float64 (on the CPU)."""
    work = LESSONS[lesson].workload
    torch.manual_seed(0)
    plain = work.model()
    ref = copy.deepcopy(plain).double()
    x, y = work.batch(plain, 37, "cpu", torch.float32)
    model = apply_backend(plain.to(device), "triton_mlp")
    step = step_fn(model, work.loss(), work.optimizer(model.parameters()))
    assert isinstance(step, TritonMLPStep)
    ref_opt, ref_loss = work.optimizer(ref.parameters()), work.loss()
    ref_y = y if work.classes is not None else y.double()
    ours = [step(x.to(device), y.to(device)).item() for _ in range(STEPS)]
    theirs = [train_step(ref, ref_loss, ref_opt, x.double(), ref_y).item() for _ in range(STEPS)]
    assert ours == pytest.approx(theirs, rel=RTOL, abs=ATOL)
    for p, q in zip(model.parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(p.double().cpu(), q, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("lesson", REFUSED)
def test_every_other_workload_is_refused_with_its_reason_before_it_runs(lesson):
    torch.manual_seed(0)
    drawn = torch.rand(1)
    torch.manual_seed(0)
    assert REFUSED[lesson] in LESSONS[lesson].workload.unfit_reason("triton_mlp")
    assert torch.equal(torch.rand(1), drawn)  # deciding drew none of the run's random numbers (collection decides)
    assert REFUSED[lesson] in unfit_reason(lesson, "triton_mlp")
    assert unfit_reason(lesson, "eager") is None
    case = next(
        c
        for c in lesson_cases(_options())
        if c.lesson == lesson and c.backend == "triton_mlp" and c.mode == "train_step"
    )
    assert REFUSED[lesson] in case.skip
    backend_study = SYSTEMS_STUDIES["backend"]
    ex = next(e for e in backend_study.executions if e.backend == "triton_mlp")
    assert REFUSED[lesson] in skip_reason(ex, "cpu", lesson)


def _options(**kw):
    from types import SimpleNamespace

    return SimpleNamespace(profile="full", devices=("cpu",), dtypes=None, batch_sizes=(64,), **kw)


def test_the_benchmarks_time_its_training_step_only():
    cases = [c for c in lesson_cases(_options()) if c.backend == "triton_mlp"]
    assert {c.mode for c in cases} == {"forward", "train_step"}
    assert all(c.skip == STEP_ONLY for c in cases if c.mode == "forward")
    assert all(c.skip is None for c in cases if c.mode == "train_step" and c.lesson in FITS)
    assert "triton_mlp" in [e.backend for e in SYSTEMS_STUDIES["backend"].executions]


def test_it_trains_fp32_and_is_timed_on_a_gpu_only(device):
    assert "fp32 parameters only" in run_skip_reason("triton_mlp", device, torch.bfloat16)
    assert run_skip_reason("triton_mlp", device) is None  # on the CPU through the interpreter, for correctness
    if device == "cpu":
        assert "interpreted, not a performance figure" in timing_skip_reason("triton_mlp", "cpu")
    else:
        assert timing_skip_reason("triton_mlp", device) is None


@pytest.mark.parametrize(
    "lesson, setting, overrides",
    [
        ("3.1", None, {"epochs": 3}),  # MSE, the plane
        ("4.4", "digits", {"epochs": 1}),  # 64-100-10 with torch.sigmoid in forward: the widest path, W=128
        ("5.4", "spiral-m0.5", {"epochs": 1}),  # relu, momentum
    ],
)
def test_the_labs_train_as_eager_does(lesson, setting, overrides, device):
    ours = LESSONS[lesson].run(setting, backend="triton_mlp", device=device, **overrides)
    eager = LESSONS[lesson].run(setting, backend="eager", device=device, **overrides)
    for key, values in eager.history.items():
        if key != "seconds":
            assert ours.history[key] == pytest.approx(values, rel=1e-4, abs=1e-5), key


def test_a_lab_that_writes_its_own_loop_is_an_error_not_an_eager_run(device):
    with pytest.raises(RuntimeError, match="lesson 2.3 on backend 'triton_mlp' made no training step"):
        LESSONS["2.3"].run(backend="triton_mlp", device=device, iterations=2)
    with pytest.raises(ValueError, match="computes Dropout"):
        LESSONS["5.2"].run("p=0.2", backend="triton_mlp", device=device, epochs=1)


class Functional(nn.Module):
    def __init__(self, act):
        super().__init__()
        self.a, self.b, self.act = nn.Linear(3, 5), nn.Linear(5, 2), act

    def forward(self, x):
        return self.b(self.act(self.a(x)))


class Method(Functional):
    def forward(self, x):
        return self.b(self.a(x).tanh())


class Scalar(nn.Module):
    def __init__(self, swap: bool):
        super().__init__()
        self.w, self.b, self.swap = nn.Parameter(torch.tensor(2.0)), nn.Parameter(torch.tensor(-1.0)), swap

    def forward(self, x):
        return self.b + x * self.w if self.swap else self.w * x + self.b


@pytest.mark.parametrize(
    "model, activation, widths",
    [
        (Functional(torch.sigmoid), "sigmoid", [(3, 5), (5, 2)]),
        (Functional(F.relu), "relu", [(3, 5), (5, 2)]),
        (Method(None), "tanh", [(3, 5), (5, 2)]),
        (nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 1)), "relu", None),
        (Scalar(False), "none", [(1, 1)]),
        (Scalar(True), "none", [(1, 1)]),
    ],
    ids=["torch.sigmoid", "F.relu", "tensor.tanh", "sequential", "w*x+b", "b+x*w"],
)
def test_the_model_is_read_however_its_forward_is_written(model, activation, widths):
    layers, found = mlp_layers(model)
    assert found == activation
    if widths is not None:
        assert [(m.in_features, m.out_features) for m in layers] == widths
    if isinstance(model, Scalar):
        assert layers[0].weight is model.w and layers[0].bias is model.b


def test_a_scalar_line_trains_as_eager_does(device):
    torch.manual_seed(0)
    model, ref = Scalar(True).to(device), Scalar(True).double()
    x, y = torch.randn(9, 1), torch.randn(9, 1)
    step = triton_mlp_step(model, nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=0.1))
    opt = torch.optim.SGD(ref.parameters(), lr=0.1)
    for _ in range(STEPS):
        ours = step(x.to(device), y.to(device)).item()
        assert ours == pytest.approx(train_step(ref, nn.MSELoss(), opt, x.double(), y.double()).item())
    assert model.w.item() == pytest.approx(ref.w.item()) and model.b.item() == pytest.approx(ref.b.item())


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 4)

    def forward(self, x):
        return x + self.a(x)


class TwoOut(Functional):
    def forward(self, x):
        h = self.a(x)
        return self.b(h), h


class Doubled(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 4)

    def forward(self, x):
        return self.a(x) * 2.0


class VectorScale(nn.Module):
    """x * w with a parameter of 3 values (or a buffer): not a scalar layer."""

    def __init__(self, buffer: bool = False):
        super().__init__()
        if buffer:
            self.register_buffer("w", torch.tensor(2.0))
        else:
            self.w = nn.Parameter(torch.ones(3))

    def forward(self, x):
        return x * self.w


class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 4)

    def forward(self, x):
        return self.a(x) if x.sum() > 0 else x


@pytest.mark.parametrize(
    "model, message",
    [
        (Residual(), "computes add"),
        (TwoOut(None), "returns something other than its last layer's output"),
        (Doubled(), "multiplies by something other than a scalar parameter"),
        (VectorScale(), "multiplies by something other than a scalar parameter"),
        (VectorScale(buffer=True), "multiplies by something other than a scalar parameter"),
        (Branchy(), "cannot be traced by torch.fx"),
        (Functional(torch.exp), "computes exp"),
        (nn.Sequential(nn.ReLU()), "has no Linear layer"),
    ],
)
def test_a_model_it_cannot_read_is_a_clear_error(model, message):
    with pytest.raises(ValueError, match=message):
        mlp_layers(model)


def test_the_loss_and_the_optimizer_are_the_labs_or_a_clear_error():
    assert loss_kind(nn.CrossEntropyLoss()) == "cross_entropy" and loss_kind(nn.MSELoss()) == "mse"
    for loss, message in [
        (nn.CrossEntropyLoss(label_smoothing=0.1), "smoothing"),
        (nn.CrossEntropyLoss(weight=torch.ones(3)), "class weights"),
        (nn.MSELoss(reduction="sum"), "non-mean"),
        (nn.BCELoss(), "BCELoss is not supported"),
    ]:
        with pytest.raises(ValueError, match=message):
            loss_kind(loss)
    model = nn.Linear(2, 3)
    params = list(model.parameters())
    assert sgd_options(torch.optim.SGD(params, lr=0.2, momentum=0.5), params) == (0.2, 0.5)
    stepped = torch.optim.SGD(params, lr=0.1, momentum=0.9)
    model(torch.randn(4, 2)).sum().backward()
    stepped.step()
    for opt, message in [
        (torch.optim.Adam(params), "Adam is not supported"),
        (torch.optim.SGD(params, lr=0.1, momentum=0.9, nesterov=True), "nesterov"),
        (torch.optim.SGD(params, lr=0.1, weight_decay=1e-4), "weight_decay"),
        (torch.optim.SGD([{"params": params[:1]}, {"params": params[1:], "lr": 0.5}], lr=0.1), "different lr"),
        (torch.optim.SGD(params[:1], lr=0.1), "exactly the MLP's layers"),
        (stepped, "stepped already"),
    ]:
        with pytest.raises(ValueError, match=message):
            sgd_options(opt, params)
