"""torch.optim.Adam(fused=True)'s update, on the eager rung beside the baseline: torch's fused kernel (_fused_adam_),
the whole update of each group of tensors in one kernel. It keeps its step counts on the parameters' device (Adam
with fused=True makes them there); step counts kept on the CPU, as the other rungs keep them, are moved to the GPU
for the call and back after it."""

import torch

from kernels.adam_step.eager import torch_adam
from kernels.adam_step.spec import check_args
from kernels.registry import variant


@variant("adam_step", "fused", rung="eager", differentiable=False)
def fused_adam_step(
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
    """torch.optim.Adam(fused=True)'s update: torch's fused kernel."""
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
        steps = [s.to(p.device) for s, p in zip(state_steps, params, strict=True)]
        torch_adam(
            params,
            grads,
            exp_avgs,
            exp_avg_sqs,
            max_exp_avg_sqs,
            steps,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            maximize,
            foreach=False,
            fused=True,
        )
        for s, moved in zip(state_steps, steps, strict=True):
            if moved is not s:
                s.copy_(moved)
