"""Rung 4, `triton_fused`: batch norm + relu, the block of the lesson CNNs, in the kernels of triton_twopass.py.

Forward applies relu to the normalized value before the one store of y (the unfused block writes y, reads it back
for relu and writes it again). Backward masks dy by y > 0 inside both backward kernels, recomputing y from x and
the saved statistics rather than storing it.
"""

from kernels.batchnorm.spec import check_args
from kernels.batchnorm.triton_twopass import triton_batchnorm_call
from kernels.registry import variant


@variant("batchnorm", "triton_fused", interpreted_on_cpu=True)
def triton_fused_batchnorm(
    x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5, activation=None
):
    """The Triton batch norm with relu inside its kernels (forward and backward)."""
    op = "batchnorm 'triton_fused'"
    args = check_args(x, running_mean, running_var, weight, bias, training, momentum, eps, activation, op=op)
    return triton_batchnorm_call(args, op, fuse=True)
