"""What would betray a broken training loop, for every training lesson: the weights move with the lab's learning
rate and stay put with a zero one (so the learning rate reaches the update); the same seed gives the same run and
another seed another; the triton backend runs the registry's Triton kernels, not torch's layers."""

import pytest
import torch

from kernels.torch_ops import AtenRecorder
from models import LESSONS
from tests.lesson_steps import FEW_STEPS

# 2.9's settings are its learning rates ("lr=0.01"): it takes no lr override
LR_SETTINGS = {"2.9": ("lr=0.0001", "lr=0.1")}


def weights(result) -> list[torch.Tensor]:
    return [p.detach().clone() for p in result.model.parameters()]


def moved(a, b) -> bool:
    return any(not torch.equal(x, y) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("lesson_id", list(FEW_STEPS))
def test_the_weights_move_with_the_labs_learning_rate_and_not_with_zero(lesson_id):
    setting, overrides = FEW_STEPS[lesson_id]
    lesson = LESSONS[lesson_id]
    if lesson_id in LR_SETTINGS:
        slow, fast = (weights(lesson.run(s, **overrides)) for s in LR_SETTINGS[lesson_id])
        assert moved(slow, fast), f"{lesson_id}: the learning rate of the setting does not reach the update"
        return
    trained = weights(lesson.run(setting, **overrides))
    frozen = weights(lesson.run(setting, lr=0.0, **overrides))
    assert moved(trained, frozen), f"{lesson_id}: training with the lab's learning rate leaves the weights as lr=0"
    again = weights(lesson.run(setting, lr=0.0, seed=0, **overrides))
    assert not moved(frozen, again), f"{lesson_id}: lr=0 is not the initialization (the same seed differs)"


@pytest.mark.parametrize("lesson_id", ["3.1", "5.3", "6.4"])
def test_the_seed_chooses_the_run(lesson_id):
    setting, overrides = FEW_STEPS[lesson_id]
    one, same, other = (LESSONS[lesson_id].run(setting, seed=s, **overrides) for s in (1, 1, 2))
    assert one.history["loss"] == same.history["loss"]
    assert moved(weights(one), weights(other)), f"{lesson_id}: seeds 1 and 2 give the same weights"


TORCH_LAYER_OPS = {
    "mm",
    "addmm",
    "bmm",
    "linear",
    "convolution",
    "_convolution",
    "convolution_backward",
    "native_batch_norm",
    "_native_batch_norm_legit",
    "max_pool2d_with_indices",
}


@pytest.mark.parametrize("lesson_id", ["3.3", "5.5", "6.4"])
def test_the_triton_backend_runs_no_torch_layer(lesson_id):
    """A training run of a linear, a batch-norm MLP and the digits CNN lesson: on eager torch's matmul,
    convolution, batch norm and pooling run; on triton none of them does (the losses stay torch's)."""
    setting, overrides = FEW_STEPS[lesson_id]
    seen = {}
    for backend in ("eager", "triton"):
        recorder = AtenRecorder()
        with recorder:
            LESSONS[lesson_id].run(setting, backend=backend, **overrides)
        seen[backend] = recorder.ops & TORCH_LAYER_OPS
    assert seen["eager"], "the eager run shows none of torch's layer ops: the test sees nothing"
    assert not seen["triton"], f"the triton backend ran torch's {sorted(seen['triton'])}"
