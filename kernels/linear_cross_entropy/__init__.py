"""linear_cross_entropy: the lesson's head and loss, eager (baseline), compiled, Triton fused without logits."""

from kernels.linear_cross_entropy import compiled, eager, lesson, spec  # noqa: F401
from kernels.triton_support import HAS_TRITON

if HAS_TRITON:
    from kernels.linear_cross_entropy import triton_fused  # noqa: F401
