"""A softmax as a student writes it for `dnnbench judge`: one Triton program per row, the row whole in one block,
forward and backward. The judge's tests judge it as it is (accepted) and with one thing changed (rejected).

The softmax dim is moved last and the rows made contiguous first (the copy declared in torch_ops), so the kernels
see a plain [rows, n] matrix; the suite's own rungs read any layout in place (kernels/softmax/rows.py).
"""

import math

import torch
import triton
import triton.language as tl

from dnnbench import variant


@triton.jit
def _softmax_fwd_kernel(y_ptr, x_ptr, n_cols, BLOCK: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    # masked lanes read -inf: exp(-inf) = 0 adds nothing to the sum and never wins the max
    x = tl.load(x_ptr + row * n_cols + cols, mask=mask, other=float("-inf")).to(tl.float32)
    e = tl.exp(x - tl.max(x, axis=0))  # fp32, and the max subtracted: no overflow
    tl.store(y_ptr + row * n_cols + cols, (e / tl.sum(e, axis=0)).to(y_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _softmax_bwd_kernel(dx_ptr, y_ptr, dy_ptr, n_cols, BLOCK: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    y = tl.load(y_ptr + row * n_cols + cols, mask=mask, other=0.0).to(tl.float32)
    dy = tl.load(dy_ptr + row * n_cols + cols, mask=mask, other=0.0).to(tl.float32)
    dx = y * (dy - tl.sum(y * dy, axis=0))  # dx = y * (dy - sum(y * dy))
    tl.store(dx_ptr + row * n_cols + cols, dx.to(dx_ptr.dtype.element_ty), mask=mask)


def _rows(t: torch.Tensor, dim: int) -> torch.Tensor:
    """t with `dim` last, as a contiguous [rows, n] matrix (a copy unless it already is one)."""
    moved = t.movedim(dim, -1) if t.dim() else t.reshape(1)
    return moved.contiguous().view(math.prod(moved.shape[:-1]), moved.shape[-1])


def _unrows(rows: torch.Tensor, shape: torch.Size, dim: int) -> torch.Tensor:
    """The [rows, n] matrix back in the input's shape, `dim` where it was."""
    if not shape:
        return rows.view(())
    moved = list(shape)
    moved.append(moved.pop(dim))
    return rows.view(moved).movedim(-1, dim)


class _Softmax(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, dim):
        rows = _rows(x, dim)
        y = torch.empty_like(rows)
        if y.numel():
            block = triton.next_power_of_2(rows.shape[1])
            _softmax_fwd_kernel[(rows.shape[0],)](y, rows, rows.shape[1], BLOCK=block)
        ctx.save_for_backward(y)
        ctx.dim, ctx.shape = dim, x.shape
        return _unrows(y, x.shape, dim)

    @staticmethod
    def backward(ctx, dy):
        (y,) = ctx.saved_tensors
        dy_rows = _rows(dy, ctx.dim)
        dx = torch.empty_like(y)
        if dx.numel():
            _softmax_bwd_kernel[(y.shape[0],)](dx, y, dy_rows, y.shape[1], BLOCK=triton.next_power_of_2(y.shape[1]))
        return _unrows(dx, ctx.shape, ctx.dim), None


@variant(
    "softmax",
    "student_triton",
    rung="triton",
    interpreted_on_cpu=True,
    torch_ops={"clone": "the softmax dim moved last and the rows made contiguous, for the kernels' plain indexing"},
)
def student_softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """One Triton program per row, the row whole in one block; forward and backward."""
    if not x.is_floating_point():
        raise TypeError(f"softmax: x must be a floating-point tensor, not {x.dtype}")
    if x.dim() and not -x.dim() <= dim < x.dim():
        raise IndexError(f"softmax: dim {dim} out of range for a {x.dim()}-D tensor")
    return _Softmax.apply(x, dim % x.dim() if x.dim() else 0)
