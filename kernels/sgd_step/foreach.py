"""torch.optim.SGD(foreach=True)'s update, on the eager rung beside the baseline: torch's multi-tensor kernels
(_foreach_add_ and friends) take the whole list per operation, so a step is a handful of launches however many
tensors the model has (on the CPU, foreach ops loop over the tensors inside one call). With nesterov it adds
momentum * buffer into the gradients themselves (torch's foreach path reuses them as scratch): p.grad after the step
is not the gradient any more."""

import torch

from kernels.registry import variant
from kernels.sgd_step.eager import torch_sgd
from kernels.sgd_step.spec import check_args


@variant("sgd_step", "foreach", rung="eager", differentiable=False)
def foreach_sgd_step(
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
    """torch.optim.SGD(foreach=True)'s update: one multi-tensor kernel per operation."""
    with torch.no_grad():  # an update, not part of any graph
        check_args(params, grads, momentum_buffers, lr, momentum, dampening, nesterov, weight_decay, maximize)
        torch_sgd(
            params,
            grads,
            momentum_buffers,
            lr,
            momentum,
            dampening,
            nesterov,
            weight_decay,
            maximize,
            foreach=True,
            fused=False,
        )
