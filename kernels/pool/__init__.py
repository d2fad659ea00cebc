"""max_pool2d (+ relu): lesson unfold + max, eager (baseline), compiled, Triton window kernel, Triton with relu."""

from kernels.pool import compiled, eager, lesson, spec  # noqa: F401
from kernels.triton_support import HAS_TRITON

if HAS_TRITON:
    from kernels.pool import triton_fused, triton_window  # noqa: F401
