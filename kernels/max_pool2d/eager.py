"""Rung 1, the baseline: relu then F.max_pool2d, as the lesson CNNs apply them (conv -> relu -> pool): two
kernels, the relu's output written and read back in between."""

import torch
import torch.nn.functional as F

from kernels.registry import variant


@variant("max_pool2d", "eager", baseline=True)
def eager_max_pool2d(
    x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False, activation=None
):
    """(relu, then) F.max_pool2d: the baseline."""
    if activation == "relu":
        x = torch.relu(x)
    return F.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, return_indices)
