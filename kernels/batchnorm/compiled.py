"""Rung 2: torch.compile of the eager composition; Inductor generates its own reduction and normalization kernels
(with relu fused into the latter) and keeps the in-place running-statistics update."""

import torch.nn.functional as F

from kernels.batchnorm.spec import apply_activation, check_args
from kernels.compile import compile_static
from kernels.registry import variant


def _composition(x, running_mean, running_var, weight, bias, training: bool, momentum: float, eps: float, activation):
    y = F.batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps)
    return apply_activation(y, activation)


_compiled = compile_static(_composition)


@variant("batchnorm", "compiled")
def compiled_batchnorm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5,
                       activation=None):  # fmt: skip
    """torch.compile of F.batch_norm (+ relu), one graph per shape."""
    check_args(x, running_mean, running_var, weight, bias, training, momentum, eps, activation)
    return _compiled(x, running_mean, running_var, weight, bias, training, momentum, eps, activation)
