"""Rung 2: torch.compile of the eager rung's function (F.batch_norm, + relu); Inductor generates its own reduction and
normalization kernels (with relu fused into the latter) and keeps the in-place running-statistics update."""

from kernels.batchnorm.eager import eager_batchnorm
from kernels.batchnorm.spec import check_args
from kernels.compile import compile_static
from kernels.registry import variant

_compiled = compile_static(eager_batchnorm)


@variant("batchnorm", "compiled")
def compiled_batchnorm(
    x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5, activation=None
):
    """torch.compile of F.batch_norm (+ relu), one graph per shape."""
    check_args(x, running_mean, running_var, weight, bias, training, momentum, eps, activation)
    return _compiled(x, running_mean, running_var, weight, bias, training, momentum, eps, activation)
