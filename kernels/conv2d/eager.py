"""Rung 1, the baseline: F.conv2d (cuDNN on CUDA, oneDNN on the CPU), then the evaluation-mode batch norm and relu
as separate ops when asked: the unfused conv block, three kernels where the fused rung has one."""

import torch
import torch.nn.functional as F

from kernels.conv2d.spec import block_epilogue
from kernels.registry import variant
from kernels.spec import accepts_unbatched


@variant("conv2d", "eager", baseline=True)
@accepts_unbatched
def eager_conv2d(
    x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, bn=None, bn_eps=1e-5, activation=None
) -> torch.Tensor:
    """F.conv2d (+ batch norm, + relu as separate ops): the baseline."""
    return block_epilogue(F.conv2d(x, weight, bias, stride, padding, dilation, groups), bn, bn_eps, activation)
