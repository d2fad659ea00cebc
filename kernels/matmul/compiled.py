"""Rung 2: torch.compile of the eager rung's function (matmul, + bias, + activation). Inductor calls the vendor
matmul (it does not generate one without max-autotune) and fuses bias + activation into one kernel after it."""

import torch

from kernels.compile import compile_static
from kernels.matmul.eager import eager_matmul
from kernels.matmul.spec import check_args
from kernels.registry import variant

_compiled = compile_static(eager_matmul)


@variant("matmul", "compiled")
def compiled_matmul(a: torch.Tensor, b: torch.Tensor, bias=None, activation=None) -> torch.Tensor:
    """torch.compile of matmul + bias + activation, one graph per shape."""
    check_args(a, b, bias, activation)
    return _compiled(a, b, bias, activation)
