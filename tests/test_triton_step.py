"""No PyTorch compute left in a `triton` or `triton_fused` training step: one step of each training lesson's workload
on each triton backend, every aten operator it issues recorded (TorchDispatchMode). Compute outside the registry's
Triton variants that the backend uses (and the PyTorch parts each of them declares), and outside the backend's own
declared TORCH_PARTS, fails the test."""

import itertools

import pytest
import torch

from kernels import registry
from kernels.torch_ops import AtenRecorder
from models import LESSONS
from models.backends import (
    TORCH_PARTS,
    TRITON_BACKENDS,
    RegistryAdam,
    RegistryCrossEntropyLoss,
    RegistrySGD,
    apply_backend,
    step_parts,
)
from models.layers import FUSED_VARIANTS, TRITON_VARIANTS, RegistryDropout
from models.train import train_step
from models.week5 import MLP

TRAINING = [k for k, lesson in LESSONS.items() if lesson.trains and lesson.workload is not None]
SLOW_ON_INTERPRETER = {"6.5": "ResNet-18's convolutions through the Triton interpreter take minutes per step"}
# the 2.x labs train hand-written models: w * x + b in the lesson's own torch expressions, which are the lesson
HAND_WRITTEN = {"mul": "the 2.x labs' hand-written model w * x + b", "add": "the same", "sum": "its gradients"}
# what every training step issues besides its layers, loss and update
STEP = {
    "ones_like": "the loss's gradient seed, 1.0 (autograd's, for loss.backward())",
    "zeros_like": "Adam's moments made on its first step (torch.optim's state layout)",
    "_record_function_enter_new": "torch.optim's profiler labels (Optimizer.step, zero_grad): no data",
    "_record_function_exit": "the same",
}
DECLARED = {
    op: why
    for name, variant in [*TRITON_VARIANTS.items(), *FUSED_VARIANTS.items()]
    for op, why in registry.get(name, variant).torch_ops.items()
}


# settings whose activation no workload uses: run as the lesson's workload with the setting's model
SETTINGS = {"5.1": {"tanh": lambda: MLP((64, 50, 50, 10), torch.tanh)}}


def triton_step(lesson_id: str, batch: int = 8, setting: str | None = None, backend: str = "triton"):
    """The workload's model (or a setting's), loss and optimizer on a triton backend, and one batch for it."""
    work = LESSONS[lesson_id].workload
    model = apply_backend((SETTINGS[lesson_id][setting] if setting else work.model)(), backend).train()
    loss, optimizer = step_parts(model, work.loss(), work.optimizer([p for p in model.parameters() if p.requires_grad]))
    x, y = work.batch(model, batch, "cpu", torch.float32)
    return model, loss, optimizer, x, y


def test_every_training_lesson_with_a_workload_is_checked():
    assert {k for k, lesson in LESSONS.items() if lesson.workload is not None} == set(TRAINING)


def test_a_triton_training_step_runs_no_undeclared_torch_compute():
    """Every training lesson's step on each triton backend (ResNet-18's on CUDA only), and every declared part used by
    one of them."""
    reason = registry.get("matmul", TRITON_VARIANTS["matmul"]).skip_reason("cpu")
    if reason and not torch.cuda.is_available():
        pytest.skip(reason)
    used, undeclared = set(), {}
    steps = [(k, None) for k in TRAINING] + [(k, setting) for k, settings in SETTINGS.items() for setting in settings]
    for (lesson_id, setting), backend in itertools.product(steps, TRITON_BACKENDS):
        if lesson_id in SLOW_ON_INTERPRETER and not torch.cuda.is_available():
            continue
        model, loss, optimizer, x, y = triton_step(lesson_id, setting=setting, backend=backend)
        allowed = set(DECLARED) | set(TORCH_PARTS) | set(STEP) | (set(HAND_WRITTEN) if lesson_id < "3" else set())
        recorder = AtenRecorder()
        with recorder:
            train_step(model, loss, optimizer, x, y)
        used |= recorder.computing()
        if recorder.computing() - allowed:
            undeclared[(lesson_id, backend)] = sorted(recorder.computing() - allowed)
    assert not undeclared, f"triton training steps run PyTorch compute they do not declare: {undeclared}"
    stale = (set(TORCH_PARTS) | set(HAND_WRITTEN) | set(STEP)) - used
    assert not stale, f"declared PyTorch parts no lesson's step runs (drop them): {sorted(stale)}"


def test_the_hot_lessons_swap_their_loss_dropout_and_optimizer():
    """The MLP and CNN lessons' steps: cross-entropy, dropout and the optimizer through the registry."""
    swapped = {}
    for lesson_id in TRAINING:
        work = LESSONS[lesson_id].workload
        if not work.hot:
            continue
        model, loss, optimizer, _, _ = triton_step(lesson_id)
        swapped[lesson_id] = (type(loss), type(optimizer), any(isinstance(m, RegistryDropout) for m in model.modules()))
    assert all(loss is RegistryCrossEntropyLoss for loss, _, _ in swapped.values())
    assert swapped["5.2"][1:] == (RegistryAdam, True)
    assert swapped["4.3"][1] is RegistrySGD and swapped["6.5"][1] is RegistryAdam
