"""Rung 3, `triton_online`: rows of any width, streamed over column blocks with an online max and sum.

One program per row. Pass 1 walks the row in blocks of BLOCK_N columns keeping, per lane, the running max m and
the running sum d of exp(x - m); when a lane's max grows, its sum is rescaled by exp(m_old - m_new) (Milakov and
Gimelshein's online normalizer). Keeping m and d per lane defers the cross-lane reductions to once per row. Pass 2
reads the row again and writes exp(x - m) / d. Traffic: x is read twice and y written once (3*N*s bytes per row
against the whole-row kernel's 2*N*s), the price of not holding the row in registers.
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl

from kernels.registry import variant
from kernels.softmax.rows import TORCH_OPS, row_start, row_strides, softmax_rows
from kernels.triton_support import next_power_of_2

BLOCK_COLS = 4096  # columns per block; a row of n columns takes cdiv(n, BLOCK_COLS) blocks per pass


@triton.jit
def _softmax_online_fwd_kernel(
    y_ptr,
    x_ptr,
    n_cols,
    D1,
    D2,
    stride_x0,
    stride_x1,
    stride_x2,
    stride_x_col,  # x as [d0, d1, d2, n] (kernels/softmax/rows.py)
    stride_y_row,  # y as contiguous [rows, n]
    BLOCK_N: tl.constexpr,
):
    row = tl.program_id(0).to(tl.int64)
    x_row = x_ptr + row_start(row, D1, D2, stride_x0, stride_x1, stride_x2)
    y_row = y_ptr + row * stride_y_row
    offs = tl.arange(0, BLOCK_N).to(tl.int64)
    m_i = tl.full([BLOCK_N], float("-inf"), tl.float32)
    d_i = tl.zeros([BLOCK_N], tl.float32)
    for start in range(0, n_cols, BLOCK_N):
        cols = start + offs
        x = tl.load(x_row + cols * stride_x_col, mask=cols < n_cols, other=float("-inf")).to(tl.float32)
        m_new = tl.maximum(m_i, x)
        # A lane that has seen only -inf keeps m = -inf; shifting by 0 there makes both exps 0 instead of
        # exp(-inf - -inf) = NaN, so a row that is -inf in its first block but finite later stays right.
        shift = tl.where(m_new == float("-inf"), 0.0, m_new)
        d_i = d_i * tl.exp(m_i - shift) + tl.exp(x - shift)
        m_i = m_new
    m = tl.max(m_i, axis=0)
    # A row of only -inf: shift 0 gives d = 0 and y = 0 / 0 = NaN, the NaN torch.softmax returns.
    shift = tl.where(m == float("-inf"), 0.0, m)
    d = tl.sum(d_i * tl.exp(m_i - shift), axis=0)
    for start in range(0, n_cols, BLOCK_N):
        cols = start + offs
        mask = cols < n_cols
        x = tl.load(x_row + cols * stride_x_col, mask=mask, other=float("-inf")).to(tl.float32)
        tl.store(y_row + cols, (tl.exp(x - shift) / d).to(y_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _softmax_online_bwd_kernel(
    dx_ptr,
    y_ptr,
    dy_ptr,
    n_cols,
    stride_y_row,
    D1,
    D2,
    stride_dy0,
    stride_dy1,
    stride_dy2,
    stride_dy_col,  # dy as [d0, d1, d2, n]
    stride_dx_row,
    BLOCK_N: tl.constexpr,
):
    # dx = y * (dy - sum(y * dy)): pass 1 accumulates the dot per lane, pass 2 writes dx.
    row = tl.program_id(0).to(tl.int64)
    y_row = y_ptr + row * stride_y_row
    dy_row = dy_ptr + row_start(row, D1, D2, stride_dy0, stride_dy1, stride_dy2)
    offs = tl.arange(0, BLOCK_N).to(tl.int64)
    acc = tl.zeros([BLOCK_N], tl.float32)
    for start in range(0, n_cols, BLOCK_N):
        cols = start + offs
        mask = cols < n_cols
        y = tl.load(y_row + cols, mask=mask, other=0.0).to(tl.float32)
        dy = tl.load(dy_row + cols * stride_dy_col, mask=mask, other=0.0).to(tl.float32)
        acc += y * dy
    dot = tl.sum(acc, axis=0)
    for start in range(0, n_cols, BLOCK_N):
        cols = start + offs
        mask = cols < n_cols
        y = tl.load(y_row + cols, mask=mask, other=0.0).to(tl.float32)
        dy = tl.load(dy_row + cols * stride_dy_col, mask=mask, other=0.0).to(tl.float32)
        tl.store(dx_ptr + row * stride_dx_row + cols, (y * (dy - dot)).to(dx_ptr.dtype.element_ty), mask=mask)


def _config(n_cols: int) -> tuple[int, int]:
    block_n = min(next_power_of_2(n_cols), BLOCK_COLS)
    return block_n, 4 if block_n <= 1024 else 8


def softmax_online_fwd(x4: torch.Tensor) -> torch.Tensor:
    """y as [rows, n] for x as [d0, d1, d2, n]: one program per row."""
    n_rows, n_cols = math.prod(x4.shape[:3]), x4.shape[3]
    y = torch.empty((n_rows, n_cols), dtype=x4.dtype, device=x4.device)
    if y.numel() == 0:
        return y
    block_n, num_warps = _config(n_cols)
    _softmax_online_fwd_kernel[(n_rows,)](
        y, x4, n_cols, *row_strides(x4), y.stride(0), BLOCK_N=block_n, num_warps=num_warps
    )
    return y


def softmax_online_bwd(y: torch.Tensor, dy4: torch.Tensor) -> torch.Tensor:
    """dx as [rows, n] from y as [rows, n] and dy as [d0, d1, d2, n]."""
    n_rows, n_cols = y.shape
    dx = torch.empty_like(y)
    if dx.numel() == 0:
        return dx
    block_n, num_warps = _config(n_cols)
    _softmax_online_bwd_kernel[(n_rows,)](
        dx, y, dy4, n_cols, y.stride(0), *row_strides(dy4), dx.stride(0), BLOCK_N=block_n, num_warps=num_warps
    )
    return dx


@variant("softmax", "triton_online", interpreted_on_cpu=True, torch_ops=TORCH_OPS)
def triton_online_softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Online max/sum over column blocks: any row width, x read twice."""
    return softmax_rows(x, dim, "softmax 'triton_online'", softmax_online_fwd, softmax_online_bwd)
