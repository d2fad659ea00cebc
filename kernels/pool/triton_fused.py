"""Rung 4, `triton_fused`: relu + max pool in one kernel. Max and relu commute, so the kernel of triton_window.py
pools the pre-activation and applies relu once per output: the unfused pair writes relu's output (the size of the
input) and reads it back for the pool. Backward: the forward saves no position where the output is not positive,
so the same gather kernel gives relu's gradient too."""

from kernels.pool.triton_window import triton_max_pool
from kernels.registry import variant


@variant("max_pool2d", "triton_fused", interpreted_on_cpu=True)
def triton_fused_max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, activation=None):
    """Triton max pool with relu applied to each output inside the kernel: one pass over the input."""
    op = "max_pool2d 'triton_fused'"
    return triton_max_pool(x, kernel_size, stride, padding, dilation, ceil_mode, activation, op, fuse=True)
