"""matmul (+ bias + activation): lesson broadcast-sum, eager (baseline), compiled, Triton tiled, Triton fused."""

from kernels.matmul import compiled, eager, lesson, spec  # noqa: F401
from kernels.triton_support import HAS_TRITON

if HAS_TRITON:
    from kernels.matmul import triton_fused, triton_tiled  # noqa: F401
