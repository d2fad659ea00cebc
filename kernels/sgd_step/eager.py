"""Rung 1, the baseline: torch.optim.SGD's step as it runs with foreach=False (torch.optim.sgd.sgd, the functional
form SGD.step calls): a Python loop over the parameters, a few in-place kernels per tensor."""

import torch
from torch.optim.sgd import sgd

from kernels.registry import variant
from kernels.sgd_step.spec import check_args


def torch_sgd(params, grads, momentum_buffers, lr, momentum, dampening, nesterov, weight_decay, maximize, **impl):
    sgd(
        params,
        grads,
        momentum_buffers,
        lr=lr,
        momentum=momentum,
        dampening=dampening,
        nesterov=nesterov,
        weight_decay=weight_decay,
        maximize=maximize,
        **impl,
    )


@variant("sgd_step", "eager", baseline=True, differentiable=False)
def eager_sgd_step(
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
    """torch.optim.SGD(foreach=False)'s update: the baseline."""
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
            fused=False,
        )
