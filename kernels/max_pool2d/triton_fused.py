"""Rung 4, `triton_fused`: relu + max pool in one kernel. Max and relu commute, so the kernel of triton_window.py
pools the pre-activation and applies relu once per output: the unfused pair writes relu's output (the size of the
input) and reads it back for the pool. Backward: the forward saves no position where the output is not positive,
so the same gather kernel gives relu's gradient too."""

from kernels.max_pool2d.triton_window import INDICES, triton_max_pool
from kernels.registry import variant
from kernels.spec import accepts_unbatched


@variant("max_pool2d", "triton_fused", interpreted_on_cpu=True, torch_ops=INDICES)
@accepts_unbatched
def triton_fused_max_pool2d(
    x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False, activation=None
):
    """Triton max pool with relu applied to each output inside the kernel: one pass over the input. Refuses
    return_indices together with relu (the kernel keeps no position where relu zeroes the output)."""
    op = "max_pool2d 'triton_fused'"
    return triton_max_pool(
        x, kernel_size, stride, padding, dilation, ceil_mode, return_indices, activation, op, fuse=True
    )
