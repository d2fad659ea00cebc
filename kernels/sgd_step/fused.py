"""torch.optim.SGD(fused=True)'s update, on the eager rung beside the baseline: torch's own fused kernel
(_fused_sgd_), the whole update of each group of tensors in one kernel (CUDA, and the CPU since torch 2.4)."""

import torch

from kernels.registry import variant
from kernels.sgd_step.eager import torch_sgd
from kernels.sgd_step.spec import check_args


@variant("sgd_step", "fused", rung="eager", differentiable=False)
def fused_sgd_step(
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
    """torch.optim.SGD(fused=True)'s update: torch's fused kernel."""
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
            foreach=False,
            fused=True,
        )
