"""Backends agree: a few training steps of each training lesson on the `compiled` and `triton` backends (Triton
through its interpreter on the CPU) give the losses of `eager` within tolerance, from the same initialization."""

import numpy as np
import pytest
import torch

from models import LESSONS
from models.backends import RegistryConv2d, RegistryLinear, RegistryMaxPool2d

# lesson -> (setting, overrides that keep it to a few steps: at least two, so that a loss follows an update).
# Dropout settings use p = 0: torch.compile draws its own random masks, so p > 0 cannot agree step for step.
FEW_STEPS = {
    "2.2": (None, {"iterations": 3}),
    "2.3": (None, {"iterations": 3}),
    "2.4": (None, {"iterations": 3}),
    "2.5": ("batch_gd", {"epochs": 3}),
    "2.6": (None, {"epochs": 1}),
    "2.7": ("batch=10", {"epochs": 2}),
    "2.8": (None, {"epochs": 1}),
    "2.9": ("lr=0.01", {"epochs": 1}),
    "3.1": (None, {"epochs": 2}),
    "3.2": (None, {"epochs": 2}),
    "3.3": ("cross_entropy", {"epochs": 2}),
    "4.1": (None, {"epochs": 2}),
    "4.3": (None, {"epochs": 1}),
    "4.4": ("relu", {"epochs": 1}),
    "5.1": ("tanh", {"epochs": 1, "limit": 240}),
    "5.2": ("p=0", {"epochs": 3}),
    "5.3": ("he", {"epochs": 1, "limit": 240}),
    "5.4": ("quartic-m0.9", {"iterations": 10}),
    "5.5": ("batchnorm", {"epochs": 1, "limit": 96}),
    "6.4": ("digits-bn", {"epochs": 1, "limit": 8, "batch_size": 4}),
    "6.5": ("frozen", {"limit": 20, "size": 32, "batch_size": 10}),
}
SLOW_ON_INTERPRETER = {"6.5": "ResNet-18's convolutions through the Triton interpreter take minutes per step"}


def test_every_training_lesson_is_checked():
    assert set(FEW_STEPS) == {k for k, lesson in LESSONS.items() if lesson.trains}


@pytest.mark.parametrize("backend", ["compiled", "triton"])
@pytest.mark.parametrize("lesson_id", list(FEW_STEPS))
def test_backend_gives_eager_losses(lesson_id, backend):
    if backend == "triton" and lesson_id in SLOW_ON_INTERPRETER and not torch.cuda.is_available():
        pytest.skip(SLOW_ON_INTERPRETER[lesson_id])
    setting, overrides = FEW_STEPS[lesson_id]
    eager = LESSONS[lesson_id].run(setting, **overrides)
    other = LESSONS[lesson_id].run(setting, backend=backend, **overrides)
    assert other.backend == backend
    np.testing.assert_allclose(other.history["loss"], eager.history["loss"], rtol=2e-3, atol=1e-5)


def test_the_triton_backend_replaces_the_layers_and_keeps_the_parameters():
    from models.backends import apply_backend
    from models.week6 import DigitsCNN

    net = DigitsCNN(batchnorm=True)
    params = {id(p) for p in net.parameters()}
    swapped = apply_backend(net, "triton")
    kinds = {type(m) for m in swapped.modules()}
    assert {RegistryConv2d, RegistryLinear, RegistryMaxPool2d} <= kinds
    assert not any(isinstance(m, (torch.nn.Conv2d, torch.nn.Linear, torch.nn.BatchNorm2d)) for m in swapped.modules())
    assert {id(p) for p in swapped.parameters()} == params
