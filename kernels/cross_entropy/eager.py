"""Rung 1, the baseline: F.cross_entropy (log_softmax, then nll_loss: two kernels on the CPU and on CUDA, the
log-probabilities written to memory between them)."""

import torch
import torch.nn.functional as F

from kernels.registry import variant

# log_softmax writes the log-probabilities in x's dtype: with fp16 logits of size 1e4, x - max reaches -7e4, beyond
# fp16's range, and the loss is inf (the Triton rung keeps them in fp32 and never writes them: finite; compiled does
# what eager does). tests/test_cross_entropy_edges.py shows both.
FP16_LOG_PROBS = (
    "log_softmax writes fp16 log-probabilities: logits of size 1e4 give x - max = -7e4, beyond fp16's range, and "
    "the loss is inf (shown in test_cross_entropy_edges)"
)


@variant("cross_entropy", "eager", baseline=True, unsupported={"large_logits/fp16": FP16_LOG_PROBS})
def eager_cross_entropy(
    x: torch.Tensor, target: torch.Tensor, weight=None, ignore_index: int = -100, reduction="mean", label_smoothing=0.0
) -> torch.Tensor:
    """F.cross_entropy, the baseline every speedup is measured against."""
    return F.cross_entropy(
        x, target, weight, ignore_index=ignore_index, reduction=reduction, label_smoothing=label_smoothing
    )
