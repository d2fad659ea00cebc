"""cross_entropy: lesson formula, eager (baseline), compiled, Triton online log-sum-exp."""

from kernels.cross_entropy import compiled, eager, lesson, spec  # noqa: F401
from kernels.triton_support import HAS_TRITON

if HAS_TRITON:
    from kernels.cross_entropy import triton_online  # noqa: F401
