"""Rung 2: torch.compile of the eager composition. Inductor calls the vendor matmul (it does not generate one
without max-autotune) and fuses bias + activation into one kernel after it."""

import torch

from kernels.compile import compile_static
from kernels.matmul.spec import check_args, epilogue
from kernels.registry import variant


def _composition(a, b, bias, activation: str | None):
    return epilogue(torch.matmul(a, b), bias, activation)


_compiled = compile_static(_composition)


@variant("matmul", "compiled")
def compiled_matmul(a: torch.Tensor, b: torch.Tensor, bias=None, activation=None) -> torch.Tensor:
    """torch.compile of matmul + bias + activation, one graph per shape."""
    check_args(a, b, bias, activation)
    return _compiled(a, b, bias, activation)
