"""Rung 0: matmul as the 2-D tensor lesson explains it: every row of A times every column of B, summed.

Written as one broadcast multiply and a sum over K, it materializes all M*K*N products (K times the output), so it
is for small sizes only: larger cases are skipped with the size they would need.
"""

import math

import torch

from kernels.matmul.spec import as_matrices, check_args, epilogue
from kernels.registry import variant

MAX_PRODUCTS = 1 << 25  # 128 MiB of fp32 products


def too_large(case, device) -> str | None:
    products = math.prod(case.shape)
    if products > MAX_PRODUCTS:
        mib = products * case.dtype.itemsize / 2**20
        return f"the lesson's broadcast multiply materializes {products:,} products ({mib:,.0f} MiB): small sizes only"
    return None


@variant("matmul", "lesson", limit=too_large)
def lesson_matmul(a: torch.Tensor, b: torch.Tensor, bias=None, activation=None) -> torch.Tensor:
    """(A[..., :, :, None] * B[..., None, :, :]).sum(K): the lesson's multiply-and-sum, small sizes only."""
    check_args(a, b, bias, activation)
    a2, b2, restore = as_matrices(a, b)
    c = (a2.unsqueeze(-1) * b2.unsqueeze(-3)).sum(-2)
    return epilogue(restore(c), bias, activation)
