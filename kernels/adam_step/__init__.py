"""adam_step: the paper's formula, torch.optim.Adam's single-tensor loop (baseline), foreach and fused, compiled, and
one Triton launch over every parameter."""

from kernels.adam_step import compiled, eager, foreach, fused, lesson, spec  # noqa: F401
from kernels.triton_support import HAS_TRITON

if HAS_TRITON:
    from kernels.adam_step import triton_multitensor  # noqa: F401
