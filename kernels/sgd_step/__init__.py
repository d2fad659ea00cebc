"""sgd_step: the labs' loop, torch.optim's single-tensor loop (baseline), foreach and fused, compiled, and one Triton
launch over every parameter."""

from kernels.sgd_step import compiled, eager, foreach, fused, lesson, spec  # noqa: F401
from kernels.triton_support import HAS_TRITON

if HAS_TRITON:
    from kernels.sgd_step import triton_multitensor  # noqa: F401
