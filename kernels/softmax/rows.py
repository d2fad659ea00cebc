"""Shared plumbing of the Triton softmax variants: any tensor and dim as rows, and the autograd wrapper.

The kernels see x as a 4-D [d0, d1, d2, n] view: n is the softmax dim, and the other dims, once those that merge
into one stride are merged (contiguous runs, size-1 dims dropped), are at most three row dims, padded with size-1
dims. Row r is (i0, i1, i2) = (r // (d1*d2), (r // d2) % d1, r % d2), so its elements sit at
i0*stride0 + i1*stride1 + i2*stride2 + j*stride_n: the kernels read x and dy in place through these strides,
whatever the layout (sliced, transposed, channels_last, permuted, expanded), and write y and dx as contiguous
[rows, n] tensors. Only an input with more than three row dims that do not merge (5-D and up, strided on every
dim) is copied first: the `clone` the variants declare.

Each Triton variant provides two launchers, `forward(x4) -> y_rows` and `backward(y_rows, dy4) -> dx_rows`, and
its `@variant` function hands them to `softmax_rows`: the signature of F.softmax(x, dim), with an autograd
backward through the variant's own kernel.
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl  # noqa: F401  (a @triton.jit function needs it visible)

from kernels.softmax.spec import check_args
from kernels.triton_support import check_triton_tensor

ROW_DIMS = 3
TORCH_OPS = {"clone": "an input with more than three row dims that do not merge (5-D and up) is copied into rows"}


def _merged_row_dims(sizes, strides) -> list[tuple[int, int]]:
    """(size, stride) of the row dims, size-1 dims dropped and each run that walks memory as one stride merged."""
    dims: list[tuple[int, int]] = []
    for size, stride in zip(sizes, strides, strict=True):
        if size == 1:
            continue
        if dims and dims[-1][1] == size * stride:  # the previous dim steps over exactly this one: merge
            dims[-1] = (dims[-1][0] * size, stride)
        else:
            dims.append((size, stride))
    return dims


def as_rows(x: torch.Tensor, dim: int):
    """x as a 4-D [d0, d1, d2, n] view with the softmax dim last (a copy only past three unmergeable row dims).
    Returns it and a function that turns a contiguous [rows, n] result back into x's shape."""
    if x.dim() == 0:
        return x.reshape(1, 1, 1, 1), lambda y: y.reshape(())
    moved = x.movedim(dim, -1)
    n = moved.shape[-1]
    dims = _merged_row_dims(moved.shape[:-1], moved.stride()[:-1])
    if len(dims) > ROW_DIMS or math.prod(moved.shape[:-1]) == 0:
        x4 = moved.reshape(1, 1, math.prod(moved.shape[:-1]), n)  # the row count said: 0 rows of 0 reshape too
    else:
        dims = [(1, 0)] * (ROW_DIMS - len(dims)) + dims
        x4 = moved.as_strided([d for d, _ in dims] + [n], [s for _, s in dims] + [moved.stride(-1)])
    return x4, lambda y: y.view(moved.shape).movedim(-1, dim)


@triton.jit
def row_start(rows, D1, D2, stride0, stride1, stride2):
    """Offset of the first element of each row r = (r // (D1*D2), (r // D2) % D1, r % D2)."""
    return (rows // (D1 * D2)) * stride0 + ((rows // D2) % D1) * stride1 + (rows % D2) * stride2


def row_strides(t4: torch.Tensor) -> tuple[int, ...]:
    """(d1, d2, stride0, stride1, stride2, stride_n) of a [d0, d1, d2, n] tensor, as the kernels take them."""
    return t4.shape[1], t4.shape[2], *t4.stride()


class RowSoftmax(torch.autograd.Function):
    """F.softmax(x, dim) through a Triton variant's two row launchers, its backward through the variant's own
    kernel: forward(x4) -> y_rows, backward(y_rows, dy4) -> dx_rows."""

    @staticmethod
    def forward(ctx, x, dim, forward, backward):
        x4, restore = as_rows(x, dim)
        y = forward(x4)
        ctx.save_for_backward(y)
        ctx.dim, ctx.restore, ctx.backward = dim, restore, backward
        return restore(y)

    @staticmethod
    def backward(ctx, dy):
        (y,) = ctx.saved_tensors
        dy4, _ = as_rows(dy, ctx.dim)
        return ctx.restore(ctx.backward(y, dy4)), None, None, None


def softmax_rows(x: torch.Tensor, dim: int, op: str, forward, backward) -> torch.Tensor:
    """Check x and dim (errors name `op`), then softmax through the launchers."""
    dim = check_args(x, dim, op=op)
    check_triton_tensor(x, op)
    return RowSoftmax.apply(x, dim, forward, backward)
