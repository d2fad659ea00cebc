"""Rung 0: cross-entropy as the course first writes it, -log(softmax(z))[y], with the lesson's softmax
exp(z) / sum(exp(z)) (no max subtraction): exp overflows for logits above ~88 in fp32 (~11 in fp16), the
probability becomes NaN and so does the loss (tests/test_cross_entropy_edges.py shows it). Weights, ignored targets,
smoothing and reductions are composed from torch operations the way nn.CrossEntropyLoss defines them."""

import torch

from kernels.cross_entropy.spec import as_rows, check_args, class_count
from kernels.registry import variant

OVERFLOW = "the lesson's softmax has no max subtraction: exp overflows and the loss is NaN (test_cross_entropy_edges)"
FP16_CHAIN = (
    "in fp16 the lesson's unfused chain rounds exp, the sum, the division and the log to fp16 one by one, and autograd "
    "differentiates that chain (1/p for a small p): over 9000 classes its gradient error reaches ~1.7e-2, and on 781 "
    "or 10 classes 2.2-2.6x the fp16 tolerance for about one seed in 30 (eager and Triton within it)"
)


@variant(
    "cross_entropy",
    "lesson",
    unsupported={"large_logits": OVERFLOW, "wide/fp16": FP16_CHAIN, "odd/fp16": FP16_CHAIN, "digits/fp16": FP16_CHAIN},
)
def lesson_cross_entropy(
    x: torch.Tensor, target: torch.Tensor, weight=None, ignore_index: int = -100, reduction="mean", label_smoothing=0.0
) -> torch.Tensor:
    """-log(exp(z) / sum(exp(z)))[y], weighted, smoothed and reduced as nn.CrossEntropyLoss."""
    check_args(x, target, weight, ignore_index, reduction, label_smoothing)
    n_classes = class_count(x.shape)
    z, y = as_rows(x, target)
    e = torch.exp(z)
    log_p = torch.log(e / e.sum(1, keepdim=True))
    w = torch.ones(n_classes, dtype=x.dtype, device=x.device) if weight is None else weight
    kept = y != ignore_index
    safe = torch.where(kept, y, 0)
    w_row = torch.where(kept, w[safe], 0)
    loss = -log_p.gather(1, safe.unsqueeze(1)).squeeze(1) * w_row
    if label_smoothing > 0:  # the smoothing term sums every class's log-probability
        loss = (1 - label_smoothing) * loss - label_smoothing / n_classes * (log_p * w).sum(1)
    loss = torch.where(kept, loss, 0)
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.sum() / w_row.sum()
    return loss.reshape(target.shape)
