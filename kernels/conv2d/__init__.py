"""conv2d (+ frozen batch norm + relu): lesson unfold + matmul, eager (baseline), compiled, Triton implicit GEMM,
Triton with the batch norm folded and relu in the epilogue."""

from kernels.conv2d import compiled, eager, lesson, spec  # noqa: F401
from kernels.triton_support import HAS_TRITON

if HAS_TRITON:
    from kernels.conv2d import triton_fused, triton_implicit_gemm  # noqa: F401
