"""Rung 1, the baseline: PyTorch's own softmax kernel (one fused pass per row on CPU and CUDA)."""

import torch
import torch.nn.functional as F

from kernels.registry import variant


@variant("softmax", "eager", baseline=True)
def eager_softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """F.softmax, the baseline every speedup is measured against."""
    return F.softmax(x, dim)
