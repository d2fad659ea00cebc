"""Rung 1, the baseline: F.dropout, then the activation as a separate op. On CUDA, aten native_dropout draws the mask
from torch's generator, writes the output and keeps the mask for the backward (one byte per element); on the CPU,
torch fills a noise tensor in x's dtype with Bernoulli draws scaled by 1 / (1 - p) and multiplies by it, keeping the
noise (4 bytes per element in fp32)."""

import torch
import torch.nn.functional as F

from kernels.dropout.spec import apply_activation, check_args
from kernels.registry import variant


@variant("dropout", "eager", baseline=True)
def eager_dropout(x: torch.Tensor, p: float = 0.5, training: bool = True, inplace: bool = False, activation=None):
    """F.dropout (+ relu as a separate op): the baseline."""
    check_args(x, p, training, inplace, activation)
    return apply_activation(F.dropout(x, p, training, inplace), activation)
