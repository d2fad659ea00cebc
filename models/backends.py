"""Backends a lesson's model runs on: `eager` (the lab's torch.nn layers as they are), `compiled` (torch.compile of
the model), `cudagraphs` (the eager training step captured into a CUDA graph and replayed: models/graphs.py),
`compiled_cudagraphs` (torch.compile's reduce-overhead mode), `triton` (each Linear, Conv2d, BatchNorm, MaxPool2d
and Dropout replaced by a layer that calls the kernels registry's Triton variants, sharing the same parameters:
models/layers.py), `triton_fused` (the same with the activations in their layers' kernels and the head's
cross-entropy computed without its logits: models/fusion.py) and `triton_mlp` (a lesson MLP's whole SGD training
step, forward, loss, backward and update, in two Triton launches: models/mlp_step.py).

On the triton backends the rest of the training step follows the model (`step_parts`): nn.CrossEntropyLoss
becomes the registry's Triton cross-entropy, torch.optim.SGD and Adam step through the registry's one-launch Triton
optimizers, keeping their state where torch keeps it (optimizer.state[p]). What is left to torch on these backends
(the activations between layers that no kernel fuses, the MSE and BCE losses, the 2.x labs' hand-written models) is
declared in TORCH_PARTS, and tests/test_triton_step.py fails on any other PyTorch computation in a training step.
"""

from __future__ import annotations

import weakref

import torch
from torch import nn

from kernels import registry
from kernels.compile import compile_static
from kernels.dtypes import dtype_name
from kernels.triton_support import INTERPRET
from models.fusion import FUSIONS, LinearCrossEntropyLoss, fuse, fuses_head_loss
from models.layers import TRITON_VARIANTS, swap

BACKENDS = ("eager", "compiled", "triton", "triton_fused", "triton_mlp", "cudagraphs", "compiled_cudagraphs")
TRITON_BACKENDS = ("triton", "triton_fused")
# the whole SGD training step of a lesson MLP in two Triton launches (models/mlp_step.py): it replaces the training
# step only (the model and its forward stay eager's), and runs in fp32
STEP_BACKENDS = ("triton_mlp",)
STEP_ONLY = "triton_mlp replaces the training step only: its forward is eager's, timed under eager"
# the whole training step captured into a CUDA graph and replayed (models/graphs.py, models/train.stepper), and
# torch.compile's reduce-overhead mode (Inductor's CUDA graphs of the forward and backward; the optimizer steps eagerly)
GRAPH_BACKENDS = ("cudagraphs", "compiled_cudagraphs")
# What a training step on the triton backend still leaves to PyTorch, aten operator -> why (besides what each
# Triton variant it calls declares in its own torch_ops).
TORCH_PARTS = {
    "sigmoid": "the activation between layers (the labs call torch.sigmoid between their Linear layers)",
    "tanh": "the activation between layers",
    "relu": "the activation between layers",
    "sigmoid_backward": "the activation's backward",
    "tanh_backward": "the activation's backward",
    "threshold_backward": "relu's backward",
    "mse_loss": "the MSE loss of the regression lessons (2.x, 3.1, 3.2)",
    "mse_loss_backward": "its backward",
    "binary_cross_entropy": "the BCE loss of the binary lessons (3.3, 4.4)",
    "binary_cross_entropy_backward": "its backward",
    "add_": "batch norm's num_batches_tracked += 1 (an integer counter, kept as nn.BatchNorm keeps it)",
}


AUTOCAST_MISSES_TRITON = "torch.autocast does not reach the registry's Triton layers (custom autograd functions)"


def check_backend(backend: str, device: str, dtype: torch.dtype) -> None:
    """Raise a clear error for a backend, device or dtype the run cannot use."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")
    if device not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}; use cpu or cuda")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was asked for, but no CUDA device is available")
    if backend in GRAPH_BACKENDS and device != "cuda":
        raise RuntimeError(
            f"backend {backend!r} replays CUDA graphs: it needs CUDA (on the CPU there are no kernel launches to "
            "capture)"
        )
    if backend in TRITON_BACKENDS + STEP_BACKENDS:
        reason = registry.get("matmul", TRITON_VARIANTS["matmul"]).skip_reason(device)
        if reason:
            raise RuntimeError(f"backend {backend!r} cannot run on {device}: {reason}")
        if backend in STEP_BACKENDS and dtype != torch.float32:
            raise RuntimeError(f"backend {backend!r} trains fp32 parameters only, not {dtype_name(dtype)}")
        if device == "cpu" and INTERPRET and dtype == torch.bfloat16:
            raise RuntimeError(f"backend {backend!r} on the CPU runs Triton's interpreter, whose bf16 tl.dot is wrong")


def run_skip_reason(backend: str, device: str, dtype: torch.dtype = torch.float32) -> str | None:
    """Why a training step on `backend` cannot run at all on `device` in `dtype` (check_backend's error), or None."""
    try:
        check_backend(backend, device, dtype)
    except (RuntimeError, ValueError) as e:
        return str(e)
    return None


def timing_skip_reason(
    backend: str, device: str, dtype: torch.dtype = torch.float32, autocast: bool = False
) -> str | None:
    """Why a training step on `backend` cannot be timed as a performance figure on `device` (in `dtype`, under
    autocast or not), or None. The lesson benchmarks and the systems studies both ask here."""
    reason = run_skip_reason(backend, device, dtype)
    if reason:
        return reason
    if backend in TRITON_BACKENDS + STEP_BACKENDS:
        reason = registry.get("matmul", TRITON_VARIANTS["matmul"]).skip_reason(device, timing=True)
        if reason:
            return f"backend {backend!r} on {device}: {reason}"
        if autocast:
            return AUTOCAST_MISSES_TRITON
    return None


class RegistryCrossEntropyLoss(nn.Module):
    """nn.CrossEntropyLoss through a registry cross_entropy variant, with the loss module's options."""

    def __init__(self, loss: nn.CrossEntropyLoss, variant: str):
        super().__init__()
        self.weight, self.ignore_index = loss.weight, loss.ignore_index
        self.reduction, self.label_smoothing = loss.reduction, loss.label_smoothing
        self.fn = registry.get("cross_entropy", variant).fn

    def forward(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.fn(x, target, self.weight, self.ignore_index, self.reduction, self.label_smoothing)


def _trained(group: dict) -> list[torch.Tensor]:
    return [p for p in group["params"] if p.grad is not None]


class RegistrySGD(torch.optim.SGD):
    """torch.optim.SGD whose step is a registry sgd_step variant; momentum buffers stay in state[p] as torch keeps
    them. Made from an existing SGD by `registry_optimizer` (same parameters, groups and state)."""

    variant = TRITON_VARIANTS["sgd_step"]

    @torch.no_grad()
    def step(self, closure=None):
        loss = None if closure is None else torch.enable_grad()(closure)()
        fn = registry.get("sgd_step", self.variant).fn
        for group in self.param_groups:
            params = _trained(group)
            buffers = [self.state[p].get("momentum_buffer") for p in params]
            fn(
                [p for p in params],
                [p.grad for p in params],
                buffers,
                lr=group["lr"],
                momentum=group["momentum"],
                dampening=group["dampening"],
                nesterov=group["nesterov"],
                weight_decay=group["weight_decay"],
                maximize=group["maximize"],
            )
            if group["momentum"]:
                for p, b in zip(params, buffers, strict=True):
                    self.state[p]["momentum_buffer"] = b
        return loss


class RegistryAdam(torch.optim.Adam):
    """torch.optim.Adam whose step is a registry adam_step variant; exp_avg, exp_avg_sq, max_exp_avg_sq and step
    stay in state[p] as torch keeps them (the step a 0-d CPU tensor)."""

    variant = TRITON_VARIANTS["adam_step"]

    @torch.no_grad()
    def step(self, closure=None):
        loss = None if closure is None else torch.enable_grad()(closure)()
        fn = registry.get("adam_step", self.variant).fn
        for group in self.param_groups:
            unsupported = [
                k for k in ("capturable", "differentiable", "fused", "decoupled_weight_decay") if group.get(k)
            ]
            if unsupported:
                raise ValueError(f"backend 'triton': Adam with {unsupported} is not supported")
            params = _trained(group)
            for p in params:
                state = self.state[p]
                if not state:
                    state["step"] = torch.tensor(0.0)
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    if group["amsgrad"]:
                        state["max_exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            states = [self.state[p] for p in params]
            fn(
                params,
                [p.grad for p in params],
                [s["exp_avg"] for s in states],
                [s["exp_avg_sq"] for s in states],
                [s["max_exp_avg_sq"] for s in states] if group["amsgrad"] else [],
                [s["step"] for s in states],
                lr=group["lr"],
                betas=group["betas"],
                eps=group["eps"],
                weight_decay=group["weight_decay"],
                amsgrad=group["amsgrad"],
                maximize=group["maximize"],
            )
        return loss


def registry_optimizer(optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
    """The optimizer stepping through the registry's Triton optimizer: the same object's parameters, groups, state
    and hooks (shared, not copied) under the registry's class. SGD and Adam exactly (not their subclasses)."""
    kinds = {torch.optim.SGD: RegistrySGD, torch.optim.Adam: RegistryAdam}
    kind = kinds.get(type(optimizer))
    if kind is None:
        if isinstance(optimizer, tuple(kinds.values())):
            return optimizer
        raise ValueError(f"backend 'triton': optimizer {type(optimizer).__name__} is not supported (SGD or Adam)")
    swapped = kind.__new__(kind)
    swapped.__dict__ = optimizer.__dict__
    return swapped


def registry_loss(loss: nn.Module) -> nn.Module:
    if type(loss) is nn.CrossEntropyLoss:
        return RegistryCrossEntropyLoss(loss, TRITON_VARIANTS["cross_entropy"])
    return loss  # MSE and BCE stay torch's (TORCH_PARTS)


_BACKEND_OF: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def step_parts(model: nn.Module, loss: nn.Module, optimizer: torch.optim.Optimizer):
    """(loss, optimizer) for a training step of `model` on the backend apply_backend put it on: on the triton
    backends the registry's cross-entropy (on triton_fused with a split-off head: linear_cross_entropy, computed from
    the head's input by `step_loss`) and optimizer step; unchanged on the others (and for a model never given a
    backend)."""
    if _BACKEND_OF.get(model) not in TRITON_BACKENDS:
        return loss, optimizer
    if fuses_head_loss(model, loss):
        return LinearCrossEntropyLoss(model.head, loss, registry_loss(loss)), registry_optimizer(optimizer)
    return registry_loss(loss), registry_optimizer(optimizer)


def step_loss(model: nn.Module, loss_fn, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The training step's loss of (x, y): loss_fn(model(x), y), or for a head fused with its loss, loss_fn of the
    head's input."""
    if isinstance(loss_fn, LinearCrossEntropyLoss):
        return loss_fn(model.body(x), y)
    return loss_fn(model(x), y)


def logits_loss(loss_fn):
    """The loss of the model's output (evaluation): for a head fused with its loss, the same loss of the logits."""
    return loss_fn.logits_loss if isinstance(loss_fn, LinearCrossEntropyLoss) else loss_fn


def backend_of(model: nn.Module) -> str | None:
    """The backend apply_backend put `model` on (None for a model never given one: eager)."""
    return _BACKEND_OF.get(model)


def apply_backend(model: nn.Module, backend: str, fusions: tuple[str, ...] = FUSIONS) -> nn.Module:
    """The model on `backend` (on triton_fused, with `fusions`: models/fusion.FUSIONS); its parameters are the
    model's own on every backend."""
    if backend == "compiled":
        model = compile_static(model)
    elif backend == "compiled_cudagraphs":
        model = compile_static(model, mode="reduce-overhead")
    elif backend == "triton":
        model = swap(model)
    elif backend == "triton_fused":
        model = fuse(model, fusions)
    _BACKEND_OF[model] = backend
    return model
