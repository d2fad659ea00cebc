"""Rung 0: batch normalization as the lesson writes it, from the mean and variance formulas.

mean = x.mean over (N, H, W); var = ((x - mean)^2).mean (two passes, so a large mean offset is harmless);
x_hat = (x - mean) / sqrt(var + eps); y = gamma * x_hat + beta. The running statistics follow torch's rule, with
the unbiased variance var * n / (n - 1).
"""

import torch

from kernels.batchnorm.spec import apply_activation, check_args
from kernels.registry import variant


@variant("batchnorm", "lesson")
def lesson_batchnorm(
    x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5, activation=None
):
    """(x - mean) / sqrt(var + eps) * gamma + beta, from the mean and variance formulas."""
    n = check_args(x, running_mean, running_var, weight, bias, training, momentum, eps, activation).per_channel
    dims = [0, *range(2, x.dim())]
    shape = (1, -1) + (1,) * (x.dim() - 2)
    if training:
        xf = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x  # statistics in fp32
        mean = xf.mean(dims)
        var = ((xf - mean.view(shape)) ** 2).mean(dims)
        if running_mean is not None:
            with torch.no_grad():
                running_mean.mul_(1 - momentum).add_(momentum * mean.detach().to(running_mean.dtype))
                running_var.mul_(1 - momentum).add_(momentum * var.detach().to(running_var.dtype) * n / (n - 1))
    else:
        mean, var = running_mean, running_var
    y = (x - mean.view(shape)) / torch.sqrt(var.view(shape) + eps)
    if weight is not None:
        y = y * weight.view(shape)
    if bias is not None:
        y = y + bias.view(shape)
    return apply_activation(y.to(x.dtype), activation)
