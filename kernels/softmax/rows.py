"""Shared plumbing of the Triton softmax variants: any tensor and dim as rows, and the autograd wrapper.

Each Triton variant provides two launchers over 2-D row tensors, `forward(x_rows) -> y_rows` and
`backward(y_rows, dy_rows) -> dx_rows`; `softmax_function` turns them into an op with the signature of
F.softmax(x, dim) and an autograd backward through the variant's own kernel.
"""

from __future__ import annotations

import math

import torch

from kernels.softmax.spec import check_args
from kernels.triton_support import check_triton_tensor


def as_rows(x: torch.Tensor, dim: int):
    """View x as a 2-D [rows, n] tensor with the softmax dimension last, without copying where strides allow
    (a 2-D tensor of any strides, dim 0 included, is never copied: the kernels take both strides).

    Returns the 2-D tensor and a function that turns a contiguous [rows, n] result back into x's shape."""
    if x.dim() == 0:
        return x.reshape(1, 1), lambda y: y.reshape(())
    moved = x.movedim(dim, -1)
    shape = moved.shape
    # a view when strides allow, else a copy; the row count is explicit, so a 0-element tensor reshapes too
    rows = moved if moved.dim() == 2 else moved.reshape(math.prod(shape[:-1]), shape[-1])
    return rows, lambda y: y.view(shape).movedim(-1, dim)


def softmax_function(name: str, doc: str, forward, backward):
    class SoftmaxFunction(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, dim):
            rows, restore = as_rows(x, dim)
            y = forward(rows)
            ctx.save_for_backward(y)
            ctx.dim, ctx.restore = dim, restore
            return restore(y)

        @staticmethod
        def backward(ctx, dy):
            (y,) = ctx.saved_tensors
            dy_rows, _ = as_rows(dy, ctx.dim)
            return ctx.restore(backward(y, dy_rows)), None

    def softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
        dim = check_args(x, dim, op=name)
        check_triton_tensor(x, name)
        return SoftmaxFunction.apply(x, dim)

    softmax.__doc__ = doc
    return softmax
