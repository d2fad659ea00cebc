"""Rung 1, the baseline: F.batch_norm (cuDNN on CUDA, oneDNN or ATen's kernel on the CPU), then relu as a separate
op when asked: the unfused bn + relu block.

In evaluation mode the per-channel vectors (running statistics, weight, bias) are passed as contiguous tensors: for
[N, C] inputs (BatchNorm1d's) torch's CPU backward (2.14) reads a sliced running_var or weight as if it were
contiguous and returns wrong input and weight gradients (NaN where it reads a gap), while its forward is right. Found
by the layout fuzz (the running statistics in its short run, the weight in its long one);
tests/test_batchnorm_edges.py keeps the baseline right there. `.contiguous()` of C values is a copy autograd
differentiates through, so the weight's and bias's gradients still reach them.
"""

import torch
import torch.nn.functional as F

from kernels.batchnorm.spec import apply_activation
from kernels.registry import variant


@variant("batchnorm", "eager", baseline=True)
def eager_batchnorm(
    x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5, activation=None
) -> torch.Tensor:
    """F.batch_norm (+ relu as a separate op): the baseline."""
    if not training:  # contiguous copies of the C-value vectors dodge a torch bug (module doc)
        running_mean, running_var = running_mean.contiguous(), running_var.contiguous()
        weight = weight.contiguous() if weight is not None else None
        bias = bias.contiguous() if bias is not None else None
    y = F.batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps)
    return apply_activation(y, activation)
