"""max_pool2d (+ relu): lesson unfold + max, eager (baseline), compiled, Triton window kernel, Triton with relu."""

from kernels.max_pool2d import compiled, eager, lesson, spec  # noqa: F401
from kernels.triton_support import HAS_TRITON

if HAS_TRITON:
    from kernels.max_pool2d import triton_fused, triton_window  # noqa: F401
