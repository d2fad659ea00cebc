"""dropout: lesson formula, eager (baseline), compiled, Triton Philox (mask drawn again in the backward), Triton
fused with the following relu."""

from kernels.dropout import compiled, eager, lesson, spec  # noqa: F401
from kernels.triton_support import HAS_TRITON

if HAS_TRITON:
    from kernels.dropout import triton_fused, triton_philox  # noqa: F401
