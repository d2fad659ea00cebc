"""Rung 1, the baseline: F.batch_norm (cuDNN on CUDA, oneDNN or ATen's kernel on the CPU), then relu as a separate
op when asked: the unfused bn + relu block."""

import torch
import torch.nn.functional as F

from kernels.batchnorm.spec import apply_activation
from kernels.registry import variant


@variant("batchnorm", "eager", baseline=True)
def eager_batchnorm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5,
                    activation=None) -> torch.Tensor:  # fmt: skip
    """F.batch_norm (+ relu as a separate op): the baseline."""
    y = F.batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps)
    return apply_activation(y, activation)
