"""Rung 0: Adam as its paper writes it (Kingma and Ba, algorithm 1), per parameter in whole-tensor expressions: the
moments, their bias corrections m_hat and v_hat as tensors of their own, then the update (a temporary per
expression, where torch's loop updates in place)."""

import torch

from kernels.adam_step.spec import check_args
from kernels.registry import variant


@variant("adam_step", "lesson", differentiable=False)
def lesson_adam_step(
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
    """m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; p -= lr m_hat / (sqrt(v_hat) + eps), as the paper writes it."""
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
    beta1, beta2 = betas
    with torch.no_grad():  # an update, not part of any graph
        for i, (p, g) in enumerate(zip(params, grads, strict=True)):
            state_steps[i] += 1
            t = state_steps[i].item()
            d = -g if maximize else g
            if weight_decay:
                d = d + weight_decay * p
            m, v = exp_avgs[i], exp_avg_sqs[i]
            m.copy_(beta1 * m + (1 - beta1) * d)
            v.copy_(beta2 * v + (1 - beta2) * d * d)
            if amsgrad:
                max_exp_avg_sqs[i].copy_(torch.maximum(max_exp_avg_sqs[i], v))
                v = max_exp_avg_sqs[i]
            m_hat = m / (1 - beta1**t)
            v_hat = v / (1 - beta2**t)
            p -= lr * m_hat / (torch.sqrt(v_hat) + eps)
