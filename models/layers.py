"""The torch.nn layers of the lesson models as registry layers: each keeps the layer's parameters (the same tensors,
so an optimizer built afterwards trains them) and calls a registry variant instead of torch's operator. The `triton`
backend swaps each Linear, Conv2d, BatchNorm, MaxPool2d and Dropout for one of these (`swap`); the `triton_fused`
backend (models/fusion.py) builds some of them with the activation after the layer inside the same kernel.
"""

from __future__ import annotations

import torch
from torch import nn

from kernels import registry
from kernels.batchnorm.module import BatchNorm

# the registry variant each layer, loss and optimizer uses on the triton backends
TRITON_VARIANTS = {
    "matmul": "triton_fused",
    "conv2d": "triton_fused",
    "batchnorm": "triton_twopass",
    "max_pool2d": "triton_window",
    "dropout": "triton_philox",
    "cross_entropy": "triton_online",
    "linear_cross_entropy": "triton_fused",
    "sgd_step": "triton_multitensor",
    "adam_step": "triton_multitensor",
}
# the variants that apply an activation inside their kernel (the triton_fused backend's epilogues)
FUSED_VARIANTS = {"batchnorm": "triton_fused", "dropout": "triton_fused"}


class RegistryLinear(nn.Module):
    """nn.Linear through a registry matmul variant: y = act(x @ W^T + b) (W^T a transposed view, read in place;
    the activation, if any, in the matmul's epilogue)."""

    def __init__(self, linear: nn.Linear, variant: str, activation: str | None = None):
        super().__init__()
        self.weight, self.bias, self.activation = linear.weight, linear.bias, activation
        self.fn = registry.get("matmul", variant).fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, x.shape[-1])
        return self.fn(flat, self.weight.t(), self.bias, self.activation).reshape(*x.shape[:-1], -1)


class RegistryConv2d(nn.Module):
    """nn.Conv2d through a registry conv2d variant (with activation='relu' in the kernel's epilogue)."""

    def __init__(self, conv: nn.Conv2d, variant: str, activation: str | None = None):
        super().__init__()
        if conv.padding_mode != "zeros":
            raise ValueError(f"backend 'triton': Conv2d padding_mode {conv.padding_mode!r} is not supported")
        self.weight, self.bias, self.activation = conv.weight, conv.bias, activation
        self.args = (conv.stride, conv.padding, conv.dilation, conv.groups)
        self.fn = registry.get("conv2d", variant).fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.activation is None:
            return self.fn(x, self.weight, self.bias, *self.args)
        return self.fn(x, self.weight, self.bias, *self.args, activation=self.activation)


class RegistryMaxPool2d(nn.Module):
    def __init__(self, pool: nn.MaxPool2d, variant: str):
        super().__init__()
        if pool.return_indices:
            raise ValueError("backend 'triton': MaxPool2d(return_indices=True) is not supported")
        self.args = (pool.kernel_size, pool.stride, pool.padding, pool.dilation, pool.ceil_mode)
        self.fn = registry.get("max_pool2d", variant).fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x, *self.args)


class RegistryDropout(nn.Module):
    """nn.Dropout through a registry dropout variant (triton_fused: the relu after it in the same kernel)."""

    def __init__(self, dropout: nn.Dropout, variant: str, activation: str | None = None):
        super().__init__()
        self.p, self.inplace, self.activation = dropout.p, dropout.inplace, activation
        self.fn = registry.get("dropout", variant).fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.activation is None:
            return self.fn(x, self.p, self.training, self.inplace)
        return self.fn(x, self.p, self.training, self.inplace, activation=self.activation)


def registry_batchnorm(bn: nn.modules.batchnorm._BatchNorm, variant: str, activation: str | None = None) -> BatchNorm:
    new = BatchNorm(bn.num_features, bn.eps, bn.momentum, bn.affine, variant=variant, activation=activation)
    new.weight, new.bias = bn.weight, bn.bias  # the same parameters: an optimizer built later trains them
    new.load_state_dict(bn.state_dict())
    return new.to(bn.running_mean.device).train(bn.training)


class RegistryConvBlock(nn.Module):
    """Conv2d -> BatchNorm2d (-> relu), the lesson CNNs' block. Training: the Triton convolution, then batch norm
    with the relu inside its kernels (its batch statistics need the whole convolution output first, so the batch
    norm cannot run inside the convolution). Evaluation: one kernel, conv2d 'triton_fused' with the batch norm's
    running statistics folded into its weights and the relu in its epilogue."""

    def __init__(self, conv: nn.Conv2d, bn: nn.BatchNorm2d, activation: str | None):
        super().__init__()
        self.conv = RegistryConv2d(conv, TRITON_VARIANTS["conv2d"])
        variant = FUSED_VARIANTS["batchnorm"] if activation else TRITON_VARIANTS["batchnorm"]
        self.bn = registry_batchnorm(bn, variant, activation)
        self.activation = activation
        self.folded = registry.get("conv2d", "triton_fused").fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            return self.bn(self.conv(x))
        bn = (self.bn.running_mean, self.bn.running_var, self.bn.weight, self.bn.bias)
        c = self.conv
        return self.folded(x, c.weight, c.bias, *c.args, bn=bn, bn_eps=self.bn.eps, activation=self.activation)


def converted(layer: nn.Module) -> nn.Module | None:
    """The registry layer that replaces `layer` on the triton backends, or None for a layer that stays torch's."""
    if isinstance(layer, nn.Linear):
        new = RegistryLinear(layer, TRITON_VARIANTS["matmul"])
    elif isinstance(layer, nn.Conv2d):
        new = RegistryConv2d(layer, TRITON_VARIANTS["conv2d"])
    elif isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d)):
        new = registry_batchnorm(layer, TRITON_VARIANTS["batchnorm"])
    elif isinstance(layer, nn.MaxPool2d):
        new = RegistryMaxPool2d(layer, TRITON_VARIANTS["max_pool2d"])
    elif isinstance(layer, nn.Dropout):
        new = RegistryDropout(layer, TRITON_VARIANTS["dropout"])
    else:
        return None
    return new.train(layer.training)


def swap(module: nn.Module) -> nn.Module:
    """`module` with every layer `converted` knows replaced, at any depth (the module itself if it is one)."""
    new = converted(module)
    if new is not None:
        return new
    for name, child in module.named_children():
        setattr(module, name, swap(child))
    return module
