"""Rung 1, the baseline: torch.matmul (cuBLAS on CUDA, MKL/oneDNN on the CPU), then bias and activation as separate
PyTorch ops: three kernels where the fused rung has one."""

import torch

from kernels.matmul.spec import epilogue
from kernels.registry import variant


@variant("matmul", "eager", baseline=True)
def eager_matmul(a: torch.Tensor, b: torch.Tensor, bias=None, activation=None) -> torch.Tensor:
    """torch.matmul (+ bias, + activation as separate ops): the baseline."""
    return epilogue(torch.matmul(a, b), bias, activation)
