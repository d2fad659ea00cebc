"""Rung 1, the baseline: F.linear, then F.cross_entropy: the [N, C] logits written by the GEMM, read by log_softmax,
its log-probabilities written and read by nll_loss; the backward keeps and rereads logits-sized tensors."""

import torch
import torch.nn.functional as F

from kernels.linear_cross_entropy.spec import check_args
from kernels.registry import variant


@variant("linear_cross_entropy", "eager", baseline=True)
def eager_linear_cross_entropy(
    x: torch.Tensor,
    weight: torch.Tensor,
    target: torch.Tensor,
    bias=None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> torch.Tensor:
    """F.cross_entropy(F.linear(x, weight, bias), target): the baseline."""
    check_args(x, weight, target, bias, ignore_index, reduction)
    return F.cross_entropy(F.linear(x, weight, bias), target, ignore_index=ignore_index, reduction=reduction)
