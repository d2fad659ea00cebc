"""adam_step's edges: the first step worked by hand on every rung (Adam's first step moves each weight by lr against
its gradient's sign), step counts that differ between tensors, the Triton rung's launches, and bad input named."""

import pytest
import torch

from kernels import registry
from kernels.adam_step import triton_multitensor
from kernels.adam_step.spec import initial_state
from tests import helpers

VARIANTS = [v.name for v in registry.variants("adam_step")]


@pytest.mark.parametrize("name", VARIANTS)
def test_the_first_step_moves_each_weight_by_lr_against_its_gradients_sign(name):
    """t = 1: m_hat = g and v_hat = g^2, so p -= lr * g / (|g| + eps): lr * sign(g) for |g| >> eps. The step count
    of each tensor becomes 1."""
    fn = helpers.runnable("adam_step", name, "cpu")
    params = [torch.tensor([1.0, 1.0, 1.0]), torch.tensor([0.0])]
    grads = [torch.tensor([3.0, -0.5, 1e-3]), torch.tensor([-2.0])]
    state = initial_state(params)
    fn(params, grads, *state, lr=0.1)
    torch.testing.assert_close(params[0], torch.tensor([0.9, 1.1, 1 - 0.1 * 1e-3 / (1e-3 + 1e-8)]))
    torch.testing.assert_close(params[1], torch.tensor([0.1]))
    assert [s.item() for s in state[3]] == [1.0, 1.0]


@pytest.mark.parametrize("name", VARIANTS)
def test_tensors_at_different_steps_get_their_own_bias_correction(name):
    """A tensor at step 9 and one at step 0, same zero moments and gradient: the second's first step is lr * sign(g);
    the first's m and v are corrected by 1 - beta**10, not by 1 - beta**1."""
    fn = helpers.runnable("adam_step", name, "cpu")
    params = [torch.zeros(4), torch.zeros(4)]
    state = initial_state(params)
    state[3][0].fill_(9.0)
    fn(params, [torch.ones(4), torch.ones(4)], *state, lr=0.1)
    b1, b2 = 0.9, 0.999
    m_hat, v_hat = (1 - b1) / (1 - b1**10), (1 - b2) / (1 - b2**10)
    torch.testing.assert_close(params[0], torch.full((4,), -0.1 * m_hat / (v_hat**0.5 + 1e-8)))
    torch.testing.assert_close(params[1], torch.full((4,), -0.1))
    assert [s.item() for s in state[3]] == [10.0, 1.0]


def test_the_triton_rung_launches_once_per_step_count(monkeypatch):
    helpers.runnable("adam_step", "triton_multitensor", "cpu")
    launches = []
    kernel = triton_multitensor._adam_step_kernel

    class Counting:
        def __getitem__(self, grid):
            launches.append(grid)
            return kernel[grid]

    monkeypatch.setattr(triton_multitensor, "_adam_step_kernel", Counting())
    params = [torch.randn(n) for n in (5, 70001, 3, 8)]
    state = initial_state(params)
    triton_multitensor.triton_multitensor_adam_step(params, [torch.randn_like(p) for p in params], *state)
    assert launches == [(1 + 2 + 1 + 1,)]  # every tensor at step 0: one launch, one program per chunk
    state[3][2].fill_(7.0)
    launches.clear()
    triton_multitensor.triton_multitensor_adam_step(params, [torch.randn_like(p) for p in params], *state)
    assert sorted(launches) == [(1,), (4,)]  # steps 1 (three tensors, four chunks) and 7 (one)


@pytest.mark.parametrize("name", helpers.checked_variants("adam_step"))
@pytest.mark.parametrize(
    "change, error, match",
    [
        ({"lr": -1.0}, ValueError, "lr must be a number >= 0"),
        ({"betas": (0.9, 1.0)}, ValueError, r"betas must be two numbers in \[0, 1\)"),
        ({"eps": -1e-8}, ValueError, "eps must be a number >= 0"),
        ({"amsgrad": True}, ValueError, "1 params but 0 max_exp_avg_sqs"),
        ({"state_steps": [torch.tensor([0.0])]}, TypeError, "state_steps must be 0-d floating-point tensors"),
        ({"exp_avgs": [torch.zeros(5)]}, ValueError, r"exp_avgs\[0\] must match params\[0\]"),
    ],
    ids=["negative_lr", "beta_one", "negative_eps", "amsgrad_without_maxima", "step_shape", "moment_shape"],
)
def test_bad_arguments_are_named(name, change, error, match):
    fn = helpers.runnable("adam_step", name, "cpu")
    params = [torch.randn(4)]
    exp_avgs, exp_avg_sqs, maxima, steps = initial_state(params)
    args = {"exp_avgs": exp_avgs, "exp_avg_sqs": exp_avg_sqs, "max_exp_avg_sqs": maxima, "state_steps": steps}
    args.update(change)
    lists = [args.pop(k) for k in ("exp_avgs", "exp_avg_sqs", "max_exp_avg_sqs", "state_steps")]
    with pytest.raises(error, match=match):
        fn(params, [torch.randn(4)], *lists, **args)
