"""Rung 2: torch.compile of the eager rung's function. Inductor draws the mask with its own generator (seeded from
torch's) and fuses the draw, the scale and the relu into one loop; its backward reads the mask it saved."""

import torch

from kernels.compile import compile_static
from kernels.dropout.eager import eager_dropout
from kernels.dropout.spec import check_args
from kernels.registry import variant

_compiled = compile_static(eager_dropout)


@variant("dropout", "compiled")
def compiled_dropout(x: torch.Tensor, p: float = 0.5, training: bool = True, inplace: bool = False, activation=None):
    """torch.compile(dropout + activation, dynamic=False); an empty tensor runs eager (Inductor need not see it)."""
    check_args(x, p, training, inplace, activation)
    if x.numel() == 0:
        return eager_dropout(x, p, training, inplace, activation)
    return _compiled(x, p, training, inplace, activation)
