"""Backends agree: a few training steps of each training lesson on the `compiled`, `triton` and `triton_fused`
backends (Triton through its interpreter on the CPU) give the losses of `eager` within tolerance, from the same
initialization."""

import os

import numpy as np
import pytest
import torch

from models import LESSONS
from models.layers import RegistryConv2d, RegistryLinear, RegistryMaxPool2d
from tests.lesson_steps import FEW_STEPS

SLOW_ON_INTERPRETER = {"6.5": "ResNet-18's convolutions through the Triton interpreter take minutes per step"}
SLOW_TO_COMPILE = {
    "6.5": "ResNet-18 takes about 30 s to compile on a 2-core CPU, make test's largest single cost; its layers (conv, "
    "batch norm, relu, max pool, linear) are checked compiled in 6.4. DNNBENCH_TESTS=all make test checks it"
}


def test_every_training_lesson_is_checked():
    assert set(FEW_STEPS) == {k for k, lesson in LESSONS.items() if lesson.trains}


@pytest.mark.parametrize("backend", ["compiled", "triton", "triton_fused"])
@pytest.mark.parametrize("lesson_id", list(FEW_STEPS))
def test_backend_gives_eager_losses(lesson_id, backend):
    if backend.startswith("triton") and lesson_id in SLOW_ON_INTERPRETER and not torch.cuda.is_available():
        pytest.skip(SLOW_ON_INTERPRETER[lesson_id])
    slow = backend == "compiled" and lesson_id in SLOW_TO_COMPILE and not torch.cuda.is_available()
    if slow and os.environ.get("DNNBENCH_TESTS") != "all":
        pytest.skip(SLOW_TO_COMPILE[lesson_id])
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
