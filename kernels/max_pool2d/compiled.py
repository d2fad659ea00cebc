"""Rung 2: torch.compile of the eager rung's function ((relu +) max_pool2d); Inductor generates one kernel that reads
each window once and applies the relu on the way."""

from kernels.compile import compile_static
from kernels.max_pool2d.eager import eager_max_pool2d
from kernels.max_pool2d.spec import check_args
from kernels.registry import variant
from kernels.spec import accepts_unbatched

_compiled = compile_static(eager_max_pool2d)


@variant("max_pool2d", "compiled")
@accepts_unbatched
def compiled_max_pool2d(
    x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False, activation=None
):
    """torch.compile of (relu +) max_pool2d, one graph per shape."""
    check_args(x, kernel_size, stride, padding, dilation, ceil_mode, return_indices, activation)
    return _compiled(x, kernel_size, stride, padding, dilation, ceil_mode, return_indices, activation)
