"""Rung 2: torch.compile of the eager rung's function (conv2d, + batch norm, + relu). Inductor calls the vendor
convolution (cuDNN, oneDNN) and fuses the batch norm and relu that follow it into one elementwise kernel."""

from kernels.compile import compile_static
from kernels.conv2d.eager import eager_conv2d
from kernels.conv2d.spec import check_args
from kernels.registry import variant
from kernels.spec import accepts_unbatched

_compiled = compile_static(eager_conv2d)


@variant("conv2d", "compiled")
@accepts_unbatched
def compiled_conv2d(
    x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, bn=None, bn_eps=1e-5, activation=None
):
    """torch.compile of conv2d (+ batch norm + relu), one graph per shape."""
    check_args(x, weight, bias, stride, padding, dilation, groups, bn, bn_eps, activation)
    return _compiled(x, weight, bias, stride, padding, dilation, groups, bn, bn_eps, activation)
