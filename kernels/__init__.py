"""Op ladders: for each hot op, implementations from the lesson's formula to hand-written Triton.

See kernels.registry for lookup: `registry.ops()`, `registry.variants(op)`, `registry.get(op, name)`.
"""

from kernels import triton_support  # noqa: F401  (decides the Triton interpreter before triton is imported)
