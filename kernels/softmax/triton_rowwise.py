"""Rung 3, `triton`: whole rows in registers, one read of x and one write of y (the minimum traffic).

Each program owns BLOCK_M rows and holds each row entirely in one block of BLOCK_N = next_power_of_2(n) columns,
masked past n. Narrow rows (n = 16) would leave most lanes of a one-row program idle, so several rows share a
program until it holds about 4096 elements; rows of 4096 columns and more get a program each. Rows wider than
MAX_COLS do not fit in registers: use `triton_online`, which streams over column blocks.

Math is fp32 whatever the storage dtype (fp16/bf16 exp and sums lose too much), stored back in x's dtype.
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl

from kernels.registry import variant
from kernels.softmax.rows import TORCH_OPS, row_start, row_strides, softmax_rows
from kernels.triton_support import next_power_of_2

MAX_COLS = 1 << 16  # 64K fp32 values per row already spill registers at 16 warps
TILE_ELEMENTS = 4096  # elements per program for narrow rows


@triton.jit
def _softmax_fwd_kernel(
    y_ptr,
    x_ptr,
    n_rows,
    n_cols,
    D1,
    D2,
    stride_x0,
    stride_x1,
    stride_x2,
    stride_x_col,  # x as [d0, d1, d2, n] (kernels/softmax/rows.py)
    stride_y_row,  # y as contiguous [rows, n]
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
):
    rows = (tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)).to(tl.int64)  # int64: offsets past 2**31
    cols = tl.arange(0, BLOCK_N).to(tl.int64)
    mask = (rows[:, None] < n_rows) & (cols[None, :] < n_cols)
    x_rows = row_start(rows, D1, D2, stride_x0, stride_x1, stride_x2)
    # Masked lanes read -inf: they add exp(-inf) = 0 to the sum and never win the max.
    x = tl.load(x_ptr + x_rows[:, None] + cols[None, :] * stride_x_col, mask=mask, other=float("-inf"))
    x = x.to(tl.float32)
    # Subtracting the row max keeps exp() <= 1: no overflow for any finite logits. A row of only -inf gives
    # -inf - (-inf) = NaN, the same NaN torch.softmax returns.
    m = tl.max(x, axis=1)
    e = tl.exp(x - m[:, None])
    y = e / tl.sum(e, axis=1)[:, None]
    tl.store(y_ptr + rows[:, None] * stride_y_row + cols[None, :], y.to(y_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _softmax_bwd_kernel(
    dx_ptr,
    y_ptr,
    dy_ptr,
    n_rows,
    n_cols,
    stride_y_row,
    D1,
    D2,
    stride_dy0,
    stride_dy1,
    stride_dy2,
    stride_dy_col,  # dy as [d0, d1, d2, n]
    stride_dx_row,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
):
    # dx = y * (dy - sum(y * dy)): reads y and dy once, writes dx once.
    rows = (tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)).to(tl.int64)
    cols = tl.arange(0, BLOCK_N).to(tl.int64)
    mask = (rows[:, None] < n_rows) & (cols[None, :] < n_cols)
    y = tl.load(y_ptr + rows[:, None] * stride_y_row + cols[None, :], mask=mask, other=0.0).to(tl.float32)
    dy_rows = row_start(rows, D1, D2, stride_dy0, stride_dy1, stride_dy2)
    dy = tl.load(dy_ptr + dy_rows[:, None] + cols[None, :] * stride_dy_col, mask=mask, other=0.0).to(tl.float32)
    dot = tl.sum(y * dy, axis=1)
    dx = y * (dy - dot[:, None])
    tl.store(dx_ptr + rows[:, None] * stride_dx_row + cols[None, :], dx.to(dx_ptr.dtype.element_ty), mask=mask)


def _config(n_rows: int, n_cols: int) -> tuple[int, int, int]:
    if n_cols > MAX_COLS:
        raise ValueError(
            f"softmax 'triton_rowwise' keeps a whole row in registers, at most {MAX_COLS} columns; this row has "
            f"{n_cols}: use 'triton_online', which streams over column blocks"
        )
    block_n = next_power_of_2(n_cols)
    block_m = min(max(1, TILE_ELEMENTS // block_n), next_power_of_2(n_rows))
    elements = block_m * block_n
    num_warps = 4 if elements <= 2048 else 8 if elements <= 8192 else 16
    return block_m, block_n, num_warps


def softmax_rows_fwd(x4: torch.Tensor) -> torch.Tensor:
    """y as [rows, n] for x as [d0, d1, d2, n]."""
    n_rows, n_cols = math.prod(x4.shape[:3]), x4.shape[3]
    y = torch.empty((n_rows, n_cols), dtype=x4.dtype, device=x4.device)
    if y.numel() == 0:
        return y
    block_m, block_n, num_warps = _config(n_rows, n_cols)
    grid = (triton.cdiv(n_rows, block_m),)
    _softmax_fwd_kernel[grid](
        y, x4, n_rows, n_cols, *row_strides(x4), y.stride(0), BLOCK_M=block_m, BLOCK_N=block_n, num_warps=num_warps
    )
    return y


def softmax_rows_bwd(y: torch.Tensor, dy4: torch.Tensor) -> torch.Tensor:
    """dx as [rows, n] from y as [rows, n] and dy as [d0, d1, d2, n]."""
    n_rows, n_cols = y.shape
    dx = torch.empty_like(y)
    if dx.numel() == 0:
        return dx
    block_m, block_n, num_warps = _config(n_rows, n_cols)
    grid = (triton.cdiv(n_rows, block_m),)
    _softmax_bwd_kernel[grid](
        dx,
        y,
        dy4,
        n_rows,
        n_cols,
        y.stride(0),
        *row_strides(dy4),
        dx.stride(0),
        BLOCK_M=block_m,
        BLOCK_N=block_n,
        num_warps=num_warps,
    )
    return dx


@variant("softmax", "triton_rowwise", interpreted_on_cpu=True, torch_ops=TORCH_OPS)
def triton_softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Whole rows in registers: one read of x, one write of y; rows up to 65536 columns."""
    return softmax_rows(x, dim, "softmax 'triton_rowwise'", softmax_rows_fwd, softmax_rows_bwd)
