"""Backends a lesson's model runs on: `eager` (the lab's torch.nn layers as they are), `compiled` (torch.compile of
the model) and `triton` (each Linear, Conv2d, BatchNorm and MaxPool2d replaced by a layer that calls the kernels
registry's Triton variants, sharing the same parameters). Losses stay torch's on every backend.
"""

from __future__ import annotations

import torch
from torch import nn

from kernels import registry
from kernels.batchnorm.module import BatchNorm
from kernels.compile import compile_static
from kernels.triton_support import INTERPRET

BACKENDS = ("eager", "compiled", "triton")
# the registry variant each layer uses on the triton backend
TRITON_VARIANTS = {
    "matmul": "triton_fused",
    "conv2d": "triton_fused",
    "batchnorm": "triton_twopass",
    "max_pool2d": "triton_window",
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
    if backend == "triton":
        reason = registry.get("matmul", TRITON_VARIANTS["matmul"]).skip_reason(device)
        if reason:
            raise RuntimeError(f"backend 'triton' cannot run on {device}: {reason}")
        if device == "cpu" and INTERPRET and dtype == torch.bfloat16:
            raise RuntimeError("backend 'triton' on the CPU runs Triton's interpreter, whose bf16 tl.dot is wrong")


def timing_skip_reason(
    backend: str, device: str, dtype: torch.dtype = torch.float32, autocast: bool = False
) -> str | None:
    """Why a training step on `backend` cannot be timed as a performance figure on `device` (in `dtype`, under
    autocast or not), or None. The lesson benchmarks and the systems studies both ask here."""
    try:
        check_backend(backend, device, dtype)
    except (RuntimeError, ValueError) as e:
        return str(e)
    if backend == "triton":
        reason = registry.get("matmul", TRITON_VARIANTS["matmul"]).skip_reason(device, timing=True)
        if reason:
            return f"backend 'triton' on {device}: {reason}"
        if autocast:
            return AUTOCAST_MISSES_TRITON
    return None


class RegistryLinear(nn.Module):
    """nn.Linear through a registry matmul variant: y = x @ W^T + b (W^T a transposed view, read in place)."""

    def __init__(self, linear: nn.Linear, variant: str):
        super().__init__()
        self.weight, self.bias = linear.weight, linear.bias
        self.fn = registry.get("matmul", variant).fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, x.shape[-1])
        return self.fn(flat, self.weight.t(), self.bias).reshape(*x.shape[:-1], -1)


class RegistryConv2d(nn.Module):
    def __init__(self, conv: nn.Conv2d, variant: str):
        super().__init__()
        if conv.padding_mode != "zeros":
            raise ValueError(f"backend 'triton': Conv2d padding_mode {conv.padding_mode!r} is not supported")
        self.weight, self.bias = conv.weight, conv.bias
        self.args = (conv.stride, conv.padding, conv.dilation, conv.groups)
        self.fn = registry.get("conv2d", variant).fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x, self.weight, self.bias, *self.args)


class RegistryMaxPool2d(nn.Module):
    def __init__(self, pool: nn.MaxPool2d, variant: str):
        super().__init__()
        if pool.return_indices:
            raise ValueError("backend 'triton': MaxPool2d(return_indices=True) is not supported")
        self.args = (pool.kernel_size, pool.stride, pool.padding, pool.dilation, pool.ceil_mode)
        self.fn = registry.get("max_pool2d", variant).fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x, *self.args)


def registry_batchnorm(bn: nn.modules.batchnorm._BatchNorm, variant: str) -> BatchNorm:
    new = BatchNorm(bn.num_features, bn.eps, bn.momentum, bn.affine, variant=variant)
    new.weight, new.bias = bn.weight, bn.bias  # the same parameters: an optimizer built later trains them
    new.load_state_dict(bn.state_dict())
    return new.to(bn.running_mean.device)


def _converted(layer: nn.Module) -> nn.Module | None:
    """The registry layer that replaces `layer` on the triton backend, or None for a layer that stays torch's."""
    if isinstance(layer, nn.Linear):
        new = RegistryLinear(layer, TRITON_VARIANTS["matmul"])
    elif isinstance(layer, nn.Conv2d):
        new = RegistryConv2d(layer, TRITON_VARIANTS["conv2d"])
    elif isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d)):
        new = registry_batchnorm(layer, TRITON_VARIANTS["batchnorm"])
    elif isinstance(layer, nn.MaxPool2d):
        new = RegistryMaxPool2d(layer, TRITON_VARIANTS["max_pool2d"])
    else:
        return None
    return new.train(layer.training)


def _swap(module: nn.Module) -> nn.Module:
    new = _converted(module)
    if new is not None:
        return new
    for name, child in module.named_children():
        setattr(module, name, _swap(child))
    return module


def apply_backend(model: nn.Module, backend: str) -> nn.Module:
    """The model on `backend`; its parameters are the model's own on every backend."""
    if backend == "compiled":
        return compile_static(model)
    if backend == "triton":
        return _swap(model)
    return model
