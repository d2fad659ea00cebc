"""Rung 0: softmax as the lesson writes it, exp(z) / sum(exp(z)).

There is no max subtraction, so exp overflows to inf for logits above ~88 in fp32 (~11 in fp16) and the result
becomes NaN. The tests show exactly that (tests/test_softmax_edges.py); the correctness sweep skips those cases for
this variant with the reason below.
"""

import torch

from kernels.registry import variant
from kernels.softmax.spec import check_args

OVERFLOW = "the lesson's formula has no max subtraction: exp overflows and gives NaN (shown in test_softmax_edges)"
FP16_CHAIN = (
    "in fp16 the lesson's unfused chain rounds exp, the row sum and the division's gradient to fp16 one by one: "
    "on 9000-wide rows its gradient error reaches ~1.7e-2, above the fp16 tolerance (eager and Triton: 3.2e-4)"
)


@variant(
    "softmax",
    "lesson",
    unsupported={"large_logits": OVERFLOW, "near_fp16_max": OVERFLOW, "wide/fp16": FP16_CHAIN},
)
def lesson_softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """exp(x) / sum(exp(x)) as the course writes it; overflows for large logits."""
    dim = check_args(x, dim)
    e = torch.exp(x)
    return e / e.sum(dim, keepdim=True)
