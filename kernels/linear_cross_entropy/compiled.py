"""Rung 2: torch.compile of the baseline's function: the GEMM stays a library call (its logits written), Inductor
fuses log_softmax and the loss into one pass over them."""

import torch

from kernels.compile import compile_static
from kernels.linear_cross_entropy.eager import eager_linear_cross_entropy
from kernels.linear_cross_entropy.spec import check_args
from kernels.registry import variant

_compiled = compile_static(eager_linear_cross_entropy)


@variant("linear_cross_entropy", "compiled")
def compiled_linear_cross_entropy(
    x: torch.Tensor,
    weight: torch.Tensor,
    target: torch.Tensor,
    bias=None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> torch.Tensor:
    """torch.compile(linear + cross-entropy, dynamic=False); no rows runs eager (Inductor need not see it)."""
    check_args(x, weight, target, bias, ignore_index, reduction)
    run = _compiled if x.shape[0] else eager_linear_cross_entropy
    return run(x, weight, target, bias, ignore_index, reduction)
