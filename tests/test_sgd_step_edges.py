"""sgd_step's edges: a step worked by hand on every rung, the Triton rung's one launch for any number of tensors,
and bad input named."""

import pytest
import torch

from kernels import registry
from kernels.sgd_step import triton_multitensor
from kernels.step import MODELS
from tests import helpers

VARIANTS = [v.name for v in registry.variants("sgd_step")]


@pytest.mark.parametrize("name", VARIANTS)
def test_two_momentum_steps_worked_by_hand(name):
    """p = 1, g = 2 twice, lr 0.1, momentum 0.9: b = 2, p = 0.8; then b = 0.9 * 2 + 2 = 3.8, p = 0.8 - 0.38 = 0.42.
    The buffer is created on the first step, in the list the caller passed."""
    fn = helpers.runnable("sgd_step", name, "cpu")
    params, buffers = [torch.tensor([1.0, 1.0])], [None]
    for want_p, want_b in ((0.8, 2.0), (0.42, 3.8)):
        fn(params, [torch.tensor([2.0, 2.0])], buffers, lr=0.1, momentum=0.9)
        torch.testing.assert_close(params[0], torch.tensor([want_p, want_p]))
        torch.testing.assert_close(buffers[0], torch.tensor([want_b, want_b]))


@pytest.mark.parametrize("name", VARIANTS)
def test_the_labs_step_without_momentum_keeps_no_buffer(name):
    fn = helpers.runnable("sgd_step", name, "cpu")
    params, buffers = [torch.tensor([-10.0])], [None]
    fn(params, [torch.tensor([4.0])], buffers, lr=0.5)
    assert params[0].item() == -12.0 and buffers == [None]


def test_the_triton_rung_updates_every_tensor_in_one_launch(monkeypatch):
    helpers.runnable("sgd_step", "triton_multitensor", "cpu")
    launches = []
    kernel = triton_multitensor._sgd_step_kernel

    class Counting:
        def __getitem__(self, grid):
            launches.append(grid)
            return kernel[grid]

    monkeypatch.setattr(triton_multitensor, "_sgd_step_kernel", Counting())
    sizes = MODELS["many"] + [70001]  # 41 tensors, the last two chunks long
    params = [torch.randn(n) for n in sizes]
    grads = [torch.randn(n) for n in sizes]
    want = [p - 0.1 * g for p, g in zip(params, grads, strict=True)]
    triton_multitensor.triton_multitensor_sgd_step(params, grads, [None] * len(sizes), lr=0.1)
    assert launches == [(len(MODELS["many"]) + 2,)]  # one program per chunk, one launch
    for p, w in zip(params, want, strict=True):
        torch.testing.assert_close(p, w)


@pytest.mark.parametrize("name", helpers.checked_variants("sgd_step"))
@pytest.mark.parametrize(
    "change, error, match",
    [
        ({"lr": -0.1}, ValueError, "lr must be a number >= 0, got -0.1"),
        ({"lr": torch.tensor(0.1)}, ValueError, "lr must be a number"),
        ({"momentum": 0.0, "nesterov": True}, ValueError, "nesterov momentum needs momentum > 0 and dampening 0"),
        ({"grads": [torch.randn(3)]}, ValueError, r"grads\[0\] must match params\[0\]"),
        ({"grads": []}, ValueError, "1 params but 0 grads"),
        ({"buffers": (None,)}, TypeError, "momentum_buffers must be a list"),
    ],
    ids=["negative_lr", "tensor_lr", "nesterov_alone", "grad_shape", "grad_count", "buffers_tuple"],
)
def test_bad_arguments_are_named(name, change, error, match):
    fn = helpers.runnable("sgd_step", name, "cpu")
    args = {"grads": [torch.randn(4)], "buffers": [None], "lr": 0.1, "momentum": 0.9}
    args.update(change)
    grads, buffers = args.pop("grads"), args.pop("buffers")
    with pytest.raises(error, match=match):
        fn([torch.randn(4)], grads, buffers, **args)


def test_the_triton_rung_names_what_it_cannot_take():
    fn = helpers.runnable("sgd_step", "triton_multitensor", "cpu")
    with pytest.raises(TypeError, match="one dtype and device"):
        fn([torch.randn(3), torch.randn(3).half()], [torch.randn(3), torch.randn(3).half()], [None, None], lr=0.1)
    strided = torch.randn(4, 6)[:, ::2]
    with pytest.raises(ValueError, match="must be contiguous"):
        fn([strided], [torch.randn(4, 3)], [None], lr=0.1)
