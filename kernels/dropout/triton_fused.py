"""Rung 4, `triton_fused`: dropout and the relu after it (lesson 5.2's Linear -> Dropout -> ReLU) in one kernel.

Unfused, the relu reads the dropout's output and writes its own (2*n*s more bytes forward, and its backward reads y
and dy and writes dx again). Fused, one kernel reads x and writes relu(dropout(x)); the backward needs no mask at all:
y > 0 exactly where the element was kept and x > 0, so dx = dy / (1 - p) there (reads dy and y, writes dx). Without
an activation this rung is triton_philox's kernel.
"""

from __future__ import annotations

import torch

from kernels.dropout.triton_philox import TORCH_OPS, triton_dropout
from kernels.registry import variant


@variant("dropout", "triton_fused", interpreted_on_cpu=True, torch_ops=TORCH_OPS)
def triton_fused_dropout(
    x: torch.Tensor, p: float = 0.5, training: bool = True, inplace: bool = False, activation=None
) -> torch.Tensor:
    """Triton dropout with the following relu in the same kernel; the backward reads y, not a mask."""
    return triton_dropout(x, p, training, inplace, activation, fuse=True, what="dropout 'triton_fused'")
