"""Rung 0: convolution as lesson 6.1 explains it: slide the kernel over the image, multiply and sum. Written the
way it is usually computed from that picture: unfold (im2col) copies every kernel-sized patch of the padded image
into a column, and one matmul of the flattened kernels with those columns gives every output pixel.

The columns hold (C/g)*R*S values per output pixel, R*S times the input for a stride-1 convolution, so large
inputs are skipped with the size they would need. The batch norm after it is the lesson's formula
(x - mean) / sqrt(var + eps) * gamma + beta.
"""

import torch
import torch.nn.functional as F

from kernels.conv2d.spec import SPEC, check_args
from kernels.registry import variant
from kernels.spec import accepts_unbatched

MAX_COLUMN_VALUES = 1 << 27  # 512 MiB of fp32 columns


def too_large(case, device) -> str | None:
    geo = SPEC.geometry(case)
    values = geo.n * geo.c * geo.r * geo.s * geo.p * geo.q
    if values > MAX_COLUMN_VALUES:
        mib = values * case.dtype.itemsize / 2**20
        return f"unfold materializes {values:,} patch values ({mib:,.0f} MiB): the lesson's im2col is for small inputs"
    return None


@variant("conv2d", "lesson", limit=too_large)
@accepts_unbatched
def lesson_conv2d(
    x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, bn=None, bn_eps=1e-5, activation=None
) -> torch.Tensor:
    """unfold (im2col) + matmul per group, then the batch-norm formula and relu: small inputs only."""
    geo = check_args(x, weight, bias, stride, padding, dilation, groups, bn, bn_eps, activation)
    top, bottom, left, right = geo.pad
    padded = F.pad(x, (left, right, top, bottom))  # 'same' with an even kernel pads unevenly: unfold cannot
    columns = F.unfold(padded, (geo.r, geo.s), dilation=geo.dilation, stride=geo.stride)  # [N, C*R*S, P*Q]
    columns = columns.view(geo.n, geo.groups, geo.c_per_group * geo.r * geo.s, geo.p * geo.q)
    kernels = weight.reshape(geo.groups, geo.k_per_group, geo.c_per_group * geo.r * geo.s)
    y = (kernels @ columns).view(geo.n, geo.k, geo.p, geo.q)  # [N, groups, K/g, P*Q]: one matmul per group
    if bias is not None:
        y = y + bias.view(1, -1, 1, 1)
    if bn is not None:
        mean, var, gamma, beta = (None if t is None else t.view(1, -1, 1, 1) for t in bn)
        y = (y - mean) / torch.sqrt(var + bn_eps)
        y = y * gamma if gamma is not None else y
        y = y + beta if beta is not None else y
    return torch.relu(y) if activation == "relu" else y
