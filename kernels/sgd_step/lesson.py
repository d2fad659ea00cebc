"""Rung 0: the update as the labs write it, `p.data -= lr * p.grad` per parameter (2.x), with momentum and the other
options spelled out in whole-tensor expressions (each makes a temporary the size of the parameter)."""

import torch

from kernels.registry import variant
from kernels.sgd_step.spec import check_args


@variant("sgd_step", "lesson", differentiable=False)
def lesson_sgd_step(
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
    """for p, g: p -= lr * g, the formula as the labs write it (a temporary per expression)."""
    with torch.no_grad():  # an update, not part of any graph
        check_args(params, grads, momentum_buffers, lr, momentum, dampening, nesterov, weight_decay, maximize)
        for i, (p, g) in enumerate(zip(params, grads, strict=True)):
            d = -g if maximize else g
            if weight_decay:
                d = d + weight_decay * p
            if momentum:
                b = momentum_buffers[i]
                momentum_buffers[i] = d.clone() if b is None else momentum * b + (1 - dampening) * d
                d = d + momentum * momentum_buffers[i] if nesterov else momentum_buffers[i]
            p -= lr * d
