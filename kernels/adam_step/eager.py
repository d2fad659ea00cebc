"""Rung 1, the baseline: torch.optim.Adam's step as it runs with foreach=False (torch.optim.adam.adam, the
functional form Adam.step calls): a Python loop over the parameters, several in-place kernels per tensor, the bias
corrections computed on the host from the CPU step counts."""

import torch
from torch.optim.adam import adam

from kernels.adam_step.spec import check_args
from kernels.registry import variant


def torch_adam(
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
    **impl,
) -> None:
    adam(
        params,
        grads,
        exp_avgs,
        exp_avg_sqs,
        max_exp_avg_sqs,
        state_steps,
        amsgrad=amsgrad,
        beta1=betas[0],
        beta2=betas[1],
        lr=lr,
        weight_decay=weight_decay,
        eps=eps,
        maximize=maximize,
        **impl,
    )


@variant("adam_step", "eager", baseline=True, differentiable=False)
def eager_adam_step(
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
    """torch.optim.Adam(foreach=False)'s update: the baseline."""
    with torch.no_grad():  # an update, not part of any graph
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
            foreach=False,
            fused=False,
        )
