"""Rung 2: torch.compile of the baseline's function. Dynamo unrolls the loop over the parameters and Inductor fuses
each tensor's update (and groups tensors into its kernels): one graph per parameter list and hyperparameters."""

from kernels.compile import compile_static
from kernels.registry import variant
from kernels.sgd_step.eager import eager_sgd_step
from kernels.sgd_step.spec import check_args

_compiled = compile_static(eager_sgd_step)


@variant("sgd_step", "compiled", differentiable=False)
def compiled_sgd_step(
    params,
    grads,
    momentum_buffers,
    lr=1e-3,
    momentum=0.0,
    dampening=0.0,
    nesterov=False,
    weight_decay=0.0,
    maximize=False,
) -> None:
    """torch.compile(the baseline's step, dynamic=False); an empty list runs eager (nothing to compile)."""
    check_args(params, grads, momentum_buffers, lr, momentum, dampening, nesterov, weight_decay, maximize)
    if not params:
        return eager_sgd_step(
            params, grads, momentum_buffers, lr, momentum, dampening, nesterov, weight_decay, maximize
        )
    return _compiled(params, grads, momentum_buffers, lr, momentum, dampening, nesterov, weight_decay, maximize)
