"""The float64 oracle: every op written once more, from torch's primitive operations, sharing no code with any
variant.

The correctness check runs each variant and compares it with these functions on the same values in float64 on the
CPU. If the oracle called the eager variant, or a helper the variants share (the matmul epilogue, the conv block's
batch norm and relu), a wrong helper would pass every rung that uses it. So nothing here imports from the op
packages: torch's GEMM, convolution and pooling in float64 are trusted, and everything around them (bias,
activations, batch norm, softmax) is spelled out below. tests/test_reference.py checks both that this module imports
nothing of the project and that breaking a shared helper now fails the variants that use it.

Each function has the signature of its op's variants.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _relu(z: torch.Tensor) -> torch.Tensor:
    return torch.where(z < 0, torch.zeros_like(z), z)  # NaN stays NaN, as torch.relu keeps it


def _sigmoid(z: torch.Tensor) -> torch.Tensor:
    """1 / (1 + exp(-z)) for z >= 0 and exp(z) / (1 + exp(z)) below, so that no exp overflows. Each branch reads an
    input clamped to its own side: torch.where passes the gradient of both branches (times 0 for the one not taken),
    and exp(1030) = inf would make that 0 * inf = NaN (a saturated sigmoid's gradient is 0, not NaN)."""
    positive = z >= 0
    up, down = torch.where(positive, z, 0.0), torch.where(positive, 0.0, z)
    return torch.where(positive, 1 / (1 + torch.exp(-up)), torch.exp(down) / (1 + torch.exp(down)))


ACTIVATIONS = {
    None: lambda z: z,
    "relu": _relu,
    "sigmoid": _sigmoid,
    "tanh": torch.tanh,
}


def _per_channel(v: torch.Tensor, ndim: int) -> torch.Tensor:
    """A [C] vector shaped to broadcast over [N, C, ...]."""
    return v.reshape(1, -1, *([1] * (ndim - 2)))


def softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """exp(x - max) / sum(exp(x - max)); the max is a constant shift (softmax does not depend on it), so its
    gradient is left out. A row of only -inf gives NaN, as torch.softmax does."""
    if x.dim() == 0:
        x = x.reshape(1)
        return softmax(x, 0).reshape(())
    shifted = x - x.amax(dim, keepdim=True).detach()
    e = torch.exp(shifted)
    return e / e.sum(dim, keepdim=True)


def matmul(a: torch.Tensor, b: torch.Tensor, bias=None, activation=None) -> torch.Tensor:
    """act(a @ b + bias)."""
    c = torch.matmul(a, b)
    if bias is not None:
        c = c + bias
    return ACTIVATIONS[activation](c)


def batchnorm(
    x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5, activation=None
) -> torch.Tensor:
    """(x - mean) / sqrt(var + eps) * weight + bias per channel; training uses the batch's mean and biased
    variance and moves the running statistics (unbiased variance) by `momentum`, in place."""
    dims = [0, *range(2, x.dim())]
    if training:
        count = x.numel() // x.shape[1]
        mean = x.mean(dims)
        var = ((x - _per_channel(mean, x.dim())) ** 2).mean(dims)
        if running_mean is not None:
            with torch.no_grad():
                running_mean.copy_(running_mean * (1 - momentum) + mean * momentum)
                running_var.copy_(running_var * (1 - momentum) + var * (count / (count - 1)) * momentum)
    else:
        mean, var = running_mean, running_var
    y = (x - _per_channel(mean, x.dim())) / torch.sqrt(_per_channel(var, x.dim()) + eps)
    if weight is not None:
        y = y * _per_channel(weight, x.dim())
    if bias is not None:
        y = y + _per_channel(bias, x.dim())
    return ACTIVATIONS[activation](y)


def conv2d(
    x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, bn=None, bn_eps=1e-5, activation=None
) -> torch.Tensor:
    """torch's convolution, then the evaluation-mode batch norm bn=(mean, var, gamma, beta) and the activation."""
    if x.dim() == 3:  # one unbatched image
        return conv2d(x[None], weight, bias, stride, padding, dilation, groups, bn, bn_eps, activation)[0]
    y = F.conv2d(x, weight, bias, stride, padding, dilation, groups)
    if bn is not None:
        mean, var, gamma, beta = bn
        y = (y - _per_channel(mean, 4)) / torch.sqrt(_per_channel(var, 4) + bn_eps)
        if gamma is not None:
            y = y * _per_channel(gamma, 4)
        if beta is not None:
            y = y + _per_channel(beta, 4)
    return ACTIVATIONS[activation](y)


def max_pool2d(
    x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False, activation=None
):
    """The activation (relu), then torch's max pooling (ties to the first maximum, NaN wins)."""
    return F.max_pool2d(ACTIVATIONS[activation](x), kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def cross_entropy(x, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Per row, lse - x[target] and the smoothing term sum_c w[c] * (lse - x[c]), from a max-shifted log-sum-exp
    (the shift is a constant: its gradient is left out); ignored rows count 0 in the sum and in the mean's weight."""
    out_shape = () if x.dim() == 1 else (x.shape[0], *x.shape[2:])
    if x.dim() == 1:
        x, target = x.unsqueeze(0), target.unsqueeze(0)
    n_classes = x.shape[1]
    rows = x.movedim(1, -1).reshape(-1, n_classes)
    target = target.reshape(-1)
    w = torch.ones(n_classes, dtype=rows.dtype) if weight is None else weight.to(rows.dtype)
    shift = rows.amax(1, keepdim=True).detach()
    lse = (shift + torch.log(torch.exp(rows - shift).sum(1, keepdim=True))).squeeze(1)
    kept = target != ignore_index
    safe = torch.where(kept, target, torch.zeros_like(target))
    picked = rows.gather(1, safe.unsqueeze(1)).squeeze(1)
    w_row = torch.where(kept, w[safe], torch.zeros_like(lse))
    smooth = (w * (lse.unsqueeze(1) - rows)).sum(1)
    eps = label_smoothing
    loss = torch.where(kept, (1 - eps) * w_row * (lse - picked) + eps / n_classes * smooth, torch.zeros_like(lse))
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.sum() / w_row.sum()
    return loss.reshape(out_shape)


def dropout(x, keep, p=0.5, training=True, activation=None):
    """The expected output of a dropout given the mask it drew (`keep`, True where an element survives): a random
    op has no single right answer, so the check reads the variant's mask and holds everything else to this. Kept
    elements are scaled by 1 / (1 - p), dropped ones are 0; p = 1 drops all (no division), eval mode keeps all."""
    if not training or p == 0:
        return ACTIVATIONS[activation](x)
    if p == 1:
        return ACTIVATIONS[activation](torch.zeros_like(x) * x)
    return ACTIVATIONS[activation](torch.where(keep, x / (1 - p), torch.zeros_like(x)))


def sgd_step(
    params,
    grads,
    momentum_buffers,
    lr=1e-3,
    momentum=0.0,
    dampening=0.0,
    nesterov=False,
    weight_decay=0.0,
    maximize=False,
):
    """torch.optim.SGD's update, written out: d = g (or -g), plus weight_decay * p; the buffer b = d on the first
    step, then momentum * b + (1 - dampening) * d; d = d + momentum * b (nesterov) or b; p = p - lr * d. The lists
    are updated in place."""
    for i, p in enumerate(params):
        d = -grads[i] if maximize else grads[i]
        d = d + weight_decay * p
        if momentum != 0:
            b = momentum_buffers[i]
            b = d.clone() if b is None else momentum * b + (1 - dampening) * d
            momentum_buffers[i] = b
            d = d + momentum * b if nesterov else b
        p.copy_(p - lr * d)


def adam_step(
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
):
    """Adam's update as its paper writes it, with torch.optim.Adam's options: t += 1; d = g (or -g) plus
    weight_decay * p; m and v exponential averages of d and d**2; m_hat = m / (1 - beta1**t), v_hat = v (or its
    running maximum) / (1 - beta2**t); p = p - lr * m_hat / (sqrt(v_hat) + eps). The lists are updated in place."""
    beta1, beta2 = betas
    for i, p in enumerate(params):
        state_steps[i].copy_(state_steps[i] + 1)
        t = state_steps[i].item()
        d = -grads[i] if maximize else grads[i]
        d = d + weight_decay * p
        exp_avgs[i].copy_(beta1 * exp_avgs[i] + (1 - beta1) * d)
        exp_avg_sqs[i].copy_(beta2 * exp_avg_sqs[i] + (1 - beta2) * d * d)
        v = exp_avg_sqs[i]
        if amsgrad:
            max_exp_avg_sqs[i].copy_(torch.maximum(max_exp_avg_sqs[i], v))
            v = max_exp_avg_sqs[i]
        m_hat, v_hat = exp_avgs[i] / (1 - beta1**t), v / (1 - beta2**t)
        p.copy_(p - lr * m_hat / (torch.sqrt(v_hat) + eps))


def linear_cross_entropy(x, weight, target, bias=None, ignore_index=-100, reduction="mean"):
    """The product x @ W^T + b by torch's float64 GEMM, then this module's cross_entropy."""
    z = torch.matmul(x, weight.transpose(0, 1))
    if bias is not None:
        z = z + bias
    return cross_entropy(z, target, ignore_index=ignore_index, reduction=reduction)
