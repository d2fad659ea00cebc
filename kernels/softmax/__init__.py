"""softmax: lesson formula, eager (baseline), compiled, Triton whole-row and Triton online."""

from kernels.softmax import compiled, eager, lesson, spec  # noqa: F401
from kernels.triton_support import HAS_TRITON

if HAS_TRITON:
    from kernels.softmax import triton_online, triton_rowwise  # noqa: F401
