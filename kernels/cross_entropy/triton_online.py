"""Rung 3, `triton_online`: cross-entropy in one read of the logits, its gradient in one more.

Forward: one program per row streams the row's C logits in blocks of BLOCK_N, keeping per lane the running max m
and the running sum d of exp(x - m) (the online log-sum-exp: a lane's sum is rescaled by exp(m_old - m_new) when its
max grows) and, for label smoothing, the sums of w[c] * x_c and w[c]. Per row it writes four floats: the loss, the
log-sum-exp as its two terms m and log(d) (for the backward) and the weight w[y] (the mean's denominator). Unlike
eager (log_softmax, then nll_loss), the [N, C] log-probabilities are never written: forward traffic is N*C*s read
against eager's 2*N*C*s (log_softmax reads x and writes them; with label smoothing a third pass reads them all
back). The reduction over the rows ("sum", "mean") adds N floats in torch.

Backward: one program per row reads the row's logits once more and writes
    dx_c = g_i * ((1 - eps) * w[y] * (p_c - [c == y]) + eps / C * (W * p_c - w[c])),   p_c = exp((x_c - m) - log d),
so no second pass over the row is needed; g_i is the upstream gradient (per row for "none", divided by the mean's
denominator for "mean", read in the kernel from its one-element tensor).

A target outside [0, C) that is not ignore_index is an error the arguments' check raises where the targets are on
the CPU; on a GPU (where reading them would wait for the GPU, as torch's own kernel does not) the kernel clamps the
index, so a wrong target gives a wrong loss, never a read outside the row.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from kernels.cross_entropy.spec import as_rows, check_args
from kernels.registry import variant
from kernels.triton_support import check_triton_tensor, next_power_of_2

BLOCK_COLS = 4096  # classes per block; a row of C classes takes cdiv(C, BLOCK_COLS) blocks
REDUCTION = {"none": 0, "sum": 1, "mean": 2}
TORCH_OPS = {
    "sum": "the reduction: the N per-row losses and, for the mean, their N weights (the kernel read N*C)",
    "div": "the mean: the summed loss over the summed weights (two numbers)",
    "clone": "an [N, C, d1, ...] input moved to [rows, C] (one copy); a strided upstream gradient for 'none'",
    "_to_copy": "the fp32 loss (N floats, or one) cast to x's dtype",
    "ne": "the CPU-side check of the targets' range (class indices, not on a GPU)",
    "index": "the CPU-side check of the targets' range",
    "min": "the CPU-side check of the targets' range",
    "max": "the CPU-side check of the targets' range",
    "_local_scalar_dense": "the CPU-side check of the targets' range",
}


@triton.jit
def _cross_entropy_fwd_kernel(
    loss_ptr,
    max_ptr,
    logd_ptr,
    w_row_ptr,
    x_ptr,
    target_ptr,
    weight_ptr,
    n_cols,
    stride_x_row,
    stride_x_col,
    stride_t,
    ignore_index,
    smoothing,
    HAS_WEIGHT: tl.constexpr,
    SMOOTHING: tl.constexpr,
    BLOCK_N: tl.constexpr,
):
    row = tl.program_id(0).to(tl.int64)
    x_row = x_ptr + row * stride_x_row
    offs = tl.arange(0, BLOCK_N).to(tl.int64)
    m_i = tl.full([BLOCK_N], float("-inf"), tl.float32)
    d_i = tl.zeros([BLOCK_N], tl.float32)
    wx_i = tl.zeros([BLOCK_N], tl.float32)  # sum of w[c] * x_c (smoothing only)
    w_i = tl.zeros([BLOCK_N], tl.float32)  # sum of w[c] (smoothing only)
    for start in range(0, n_cols, BLOCK_N):
        cols = start + offs
        mask = cols < n_cols
        x = tl.load(x_row + cols * stride_x_col, mask=mask, other=float("-inf")).to(tl.float32)
        m_new = tl.maximum(m_i, x)
        # a lane that has seen only -inf (the padding) keeps m = -inf: shift by 0 there, not by -inf (NaN)
        shift = tl.where(m_new == float("-inf"), 0.0, m_new)
        d_i = d_i * tl.exp(m_i - shift) + tl.exp(x - shift)
        m_i = m_new
        if SMOOTHING:
            if HAS_WEIGHT:
                w = tl.load(weight_ptr + cols, mask=mask, other=0.0).to(tl.float32)
            else:
                w = tl.where(mask, 1.0, 0.0)
            wx_i += tl.where(mask, w * x, 0.0)
            w_i += w
    m = tl.max(m_i, axis=0)
    # lse = m + log(d), kept as its two terms: x - m is exact for the logits near the max (the ones with weight), so
    # (x - m) - log(d) keeps p and the loss accurate where m + log(d), rounded at the logits' size, would not (logits
    # of 1e4 in fp32: 5e-4 off in every exponent)
    logd = tl.log(tl.sum(d_i * tl.exp(m_i - m), axis=0))
    y = tl.load(target_ptr + row * stride_t)
    kept = y != ignore_index
    y_safe = tl.minimum(tl.maximum(tl.where(kept, y, 0), 0), n_cols - 1)  # never read outside the row
    x_y = tl.load(x_row + y_safe * stride_x_col).to(tl.float32)
    if HAS_WEIGHT:
        w_y = tl.load(weight_ptr + y_safe).to(tl.float32)
    else:
        w_y = 1.0
    w_y = tl.where(kept, w_y, 0.0)
    loss = w_y * ((m - x_y) + logd)
    if SMOOTHING:
        w_sum = tl.sum(w_i, axis=0)
        smooth = (w_sum * m - tl.sum(wx_i, axis=0)) + w_sum * logd
        loss = (1.0 - smoothing) * loss + smoothing / n_cols * smooth
    tl.store(loss_ptr + row, tl.where(kept, loss, 0.0))
    tl.store(max_ptr + row, m)
    tl.store(logd_ptr + row, logd)
    tl.store(w_row_ptr + row, w_y)


@triton.jit
def _cross_entropy_bwd_kernel(
    dx_ptr,
    x_ptr,
    target_ptr,
    weight_ptr,
    max_ptr,
    logd_ptr,
    g_ptr,
    denom_ptr,
    n_cols,
    stride_x_row,
    stride_x_col,
    stride_t,
    stride_g,
    stride_dx_row,
    ignore_index,
    smoothing,
    HAS_WEIGHT: tl.constexpr,
    SMOOTHING: tl.constexpr,
    REDUCTION: tl.constexpr,
    BLOCK_N: tl.constexpr,
):
    row = tl.program_id(0).to(tl.int64)
    x_row = x_ptr + row * stride_x_row
    offs = tl.arange(0, BLOCK_N).to(tl.int64)
    w_total = n_cols * 1.0  # W = sum_c w[c]: C without a class weight, else summed here (C reads, not N*C)
    if SMOOTHING and HAS_WEIGHT:
        acc = tl.zeros([BLOCK_N], tl.float32)
        for start in range(0, n_cols, BLOCK_N):
            cols = start + offs
            acc += tl.load(weight_ptr + cols, mask=cols < n_cols, other=0.0).to(tl.float32)
        w_total = tl.sum(acc, axis=0)
    y = tl.load(target_ptr + row * stride_t)
    kept = y != ignore_index
    y_safe = tl.minimum(tl.maximum(tl.where(kept, y, 0), 0), n_cols - 1)
    if HAS_WEIGHT:
        w_y = tl.load(weight_ptr + y_safe).to(tl.float32)
    else:
        w_y = 1.0
    g = tl.load(g_ptr + row * stride_g).to(tl.float32)  # stride 0 for "sum" and "mean": one upstream gradient
    if REDUCTION == 2:
        g = g / tl.load(denom_ptr).to(tl.float32)
    g = tl.where(kept, g, 0.0)  # an ignored row has no gradient
    m = tl.load(max_ptr + row)
    logd = tl.load(logd_ptr + row)
    for start in range(0, n_cols, BLOCK_N):
        cols = start + offs
        mask = cols < n_cols
        x = tl.load(x_row + cols * stride_x_col, mask=mask, other=0.0).to(tl.float32)
        p = tl.exp((x - m) - logd)
        grad = (1.0 - smoothing) * w_y * (p - tl.where(cols == y_safe, 1.0, 0.0))
        if SMOOTHING:  # the class weights are read only here: without smoothing, w[y] is all the row needs
            if HAS_WEIGHT:
                w = tl.load(weight_ptr + cols, mask=mask, other=0.0).to(tl.float32)
            else:
                w = 1.0
            grad += smoothing / n_cols * (w_total * p - w)
        tl.store(dx_ptr + row * stride_dx_row + cols, (g * grad).to(dx_ptr.dtype.element_ty), mask=mask)


def _config(n_cols: int) -> tuple[int, int]:
    block_n = min(next_power_of_2(n_cols), BLOCK_COLS)
    return block_n, 4 if block_n <= 1024 else 8


class CrossEntropyRows(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, reduction, label_smoothing):
        rows, t = as_rows(x, target)
        n_rows, n_cols = rows.shape
        loss = torch.empty(n_rows, dtype=torch.float32, device=x.device)
        row_max, logd, w_row = torch.empty_like(loss), torch.empty_like(loss), torch.empty_like(loss)
        block_n, num_warps = _config(n_cols)
        if n_rows:
            _cross_entropy_fwd_kernel[(n_rows,)](
                loss,
                row_max,
                logd,
                w_row,
                rows,
                t,
                weight if weight is not None else loss,
                n_cols,
                rows.stride(0),
                rows.stride(1),
                t.stride(0),
                ignore_index,
                float(label_smoothing),
                HAS_WEIGHT=weight is not None,
                SMOOTHING=label_smoothing > 0,
                BLOCK_N=block_n,
                num_warps=num_warps,
            )
        denom = w_row.sum() if reduction == "mean" else None
        if reduction == "none":
            out = loss.to(x.dtype).reshape(target.shape)
        else:
            total = loss.sum()
            out = (total / denom if reduction == "mean" else total).to(x.dtype)
        ctx.save_for_backward(rows, t, row_max, logd, denom if denom is not None else logd, weight)
        ctx.settings = (ignore_index, reduction, float(label_smoothing), x.shape)
        return out

    @staticmethod
    def backward(ctx, g):
        rows, t, row_max, logd, denom, weight = ctx.saved_tensors
        ignore_index, reduction, label_smoothing, shape = ctx.settings
        n_rows, n_cols = rows.shape
        dx = torch.empty((n_rows, n_cols), dtype=rows.dtype, device=rows.device)
        g_rows = g.reshape(-1) if reduction == "none" else g.reshape(1)
        block_n, num_warps = _config(n_cols)
        if n_rows:
            _cross_entropy_bwd_kernel[(n_rows,)](
                dx,
                rows,
                t,
                weight if weight is not None else logd,
                row_max,
                logd,
                g_rows,
                denom,
                n_cols,
                rows.stride(0),
                rows.stride(1),
                t.stride(0),
                g_rows.stride(0) if reduction == "none" else 0,
                dx.stride(0),
                ignore_index,
                label_smoothing,
                HAS_WEIGHT=weight is not None,
                SMOOTHING=label_smoothing > 0,
                REDUCTION=REDUCTION[reduction],
                BLOCK_N=block_n,
                num_warps=num_warps,
            )
        if len(shape) > 2:  # back from [rows, C] to [N, C, d1, ...]
            n, c, *spatial = shape
            dx = dx.reshape(n, *spatial, c).movedim(-1, 1)
        return dx.reshape(shape), None, None, None, None, None


@variant("cross_entropy", "triton_online", interpreted_on_cpu=True, torch_ops=TORCH_OPS)
def triton_online_cross_entropy(
    x: torch.Tensor, target: torch.Tensor, weight=None, ignore_index: int = -100, reduction="mean", label_smoothing=0.0
) -> torch.Tensor:
    """Online log-sum-exp over class blocks: the logits read once forward, once backward; no log-probabilities
    written."""
    check_args(x, target, weight, ignore_index, reduction, label_smoothing, op="cross_entropy 'triton_online'")
    check_triton_tensor(x, "cross_entropy 'triton_online'")
    return CrossEntropyRows.apply(x, target, weight, ignore_index, reduction, label_smoothing)
