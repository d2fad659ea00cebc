"""torch.optim.Adam(foreach=True)'s update, on the eager rung beside the baseline: torch's multi-tensor kernels take
the whole list per operation (a dozen launches however many tensors; on the CPU, foreach ops loop inside one call)."""

import torch

from kernels.adam_step.eager import torch_adam
from kernels.adam_step.spec import check_args
from kernels.registry import variant


@variant("adam_step", "foreach", rung="eager", differentiable=False)
def foreach_adam_step(
    params,
    grads,
    exp_avgs,
    exp_avg_sqs,
    max_exp_avg_sqs,
    state_steps,
    lr=1e-3,
    betas=(0.9, 0.999),
    eps=1e-8,
    weight_decay=0.0,
    amsgrad=False,
    maximize=False,
) -> None:
    """torch.optim.Adam(foreach=True)'s update: one multi-tensor kernel per operation."""
    check_args(
        params,
        grads,
        exp_avgs,
        exp_avg_sqs,
        max_exp_avg_sqs,
        state_steps,
        lr,
        betas,
        eps,
        weight_decay,
        amsgrad,
        maximize,
    )
    with torch.no_grad():  # an update, not part of any graph
        torch_adam(
            params,
            grads,
            exp_avgs,
            exp_avg_sqs,
            max_exp_avg_sqs,
            state_steps,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            maximize,
            foreach=True,
            fused=False,
        )
