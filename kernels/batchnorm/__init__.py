"""batchnorm (+ relu): lesson formula, eager (baseline), compiled, Triton two-pass, Triton fused with relu."""

from kernels.batchnorm import compiled, eager, lesson, spec  # noqa: F401
from kernels.triton_support import HAS_TRITON

if HAS_TRITON:
    from kernels.batchnorm import triton_fused, triton_twopass  # noqa: F401
