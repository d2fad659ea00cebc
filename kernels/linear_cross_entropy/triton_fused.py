"""Rung 4, `triton_fused`: the classifier head and its cross-entropy in Triton kernels that never write the logits.

Forward: a program takes BLOCK_M rows and walks the classes in blocks of BLOCK_C; for each block it computes the
logits x @ W^T + b in registers (a K-loop over the features, fp32 accumulation), folds them into the rows' online
log-sum-exp (running max m and sum d of exp(z - m), rescaled when m grows) and picks the target's logit. Per row it
writes the loss and m, log(d) for the backward: 12 bytes per row instead of the N*C logits and log-probabilities.

Backward: dz = g_i * (softmax(z) - onehot(y)) is never stored either. The dx kernel (a program per block of rows and
of features) recomputes each class block's logits from x and W, turns them into dz with the saved m and log(d), and
accumulates dz @ W; the dW kernel (a program per block of classes and of features) does the same over the rows and
accumulates dz^T @ x, and db = the sum of dz over rows. Each recomputes the logits once per block of features it
owns: FLOPs spent to save memory (D = 512 in blocks of 64: 8 recomputations in each kernel). The per-row factor g_i
(the upstream gradient, over the mean's count, 0 for an ignored row) is N floats made in PyTorch.

fp32 operands are multiplied in strict fp32 unless torch.backends.cuda.matmul.allow_tf32 is set, as the matmul
rung; fp16/bf16 operands multiply in their dtype with fp32 accumulation, dz rounded to it for the backward products
(as cuBLAS takes eager's fp16 dz).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from kernels.linear_cross_entropy.spec import check_args
from kernels.matmul.triton_tiled import interpreter_bf16_dot
from kernels.registry import variant
from kernels.triton_support import check_int32_offsets, check_triton_tensor

# one configuration on CUDA and under the interpreter: what the CPU tests check is what the GPU runs
BLOCK_M, BLOCK_C, BLOCK_K, BLOCK_D = 32, 64, 64, 64


@triton.jit
def _logits_block(
    x_ptr,
    w_ptr,
    b_ptr,
    rows,
    cols,
    row_ok,
    col_ok,
    D,
    stride_xn,
    stride_xd,
    stride_wc,
    stride_wd,
    stride_b,
    HAS_BIAS: tl.constexpr,
    INPUT_PRECISION: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_C: tl.constexpr,
    BLOCK_K: tl.constexpr,
):
    """z[rows, cols] = x[rows] @ W[cols]^T + b[cols] in fp32, padding columns -inf."""
    acc = tl.zeros([BLOCK_M, BLOCK_C], tl.float32)
    for k0 in range(0, D, BLOCK_K):
        ks = k0 + tl.arange(0, BLOCK_K)
        k_ok = ks < D
        a = tl.load(
            x_ptr + rows[:, None] * stride_xn + ks[None, :] * stride_xd, mask=row_ok[:, None] & k_ok[None, :], other=0.0
        )
        w = tl.load(
            w_ptr + cols[None, :] * stride_wc + ks[:, None] * stride_wd, mask=col_ok[None, :] & k_ok[:, None], other=0.0
        )
        acc = tl.dot(a, w, acc, input_precision=INPUT_PRECISION)
    if HAS_BIAS:
        acc += tl.load(b_ptr + cols * stride_b, mask=col_ok, other=0.0).to(tl.float32)[None, :]
    return tl.where(col_ok[None, :], acc, float("-inf"))


@triton.jit
def _linear_ce_fwd_kernel(
    loss_ptr,
    max_ptr,
    logd_ptr,
    x_ptr,
    w_ptr,
    b_ptr,
    t_ptr,
    N,
    D,
    C,
    stride_xn,
    stride_xd,
    stride_wc,
    stride_wd,
    stride_b,
    stride_t,
    ignore_index,
    HAS_BIAS: tl.constexpr,
    INPUT_PRECISION: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_C: tl.constexpr,
    BLOCK_K: tl.constexpr,
):
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    row_ok = rows < N
    y = tl.load(t_ptr + rows * stride_t, mask=row_ok, other=ignore_index)
    m_i = tl.full([BLOCK_M], float("-inf"), tl.float32)
    d_i = tl.zeros([BLOCK_M], tl.float32)
    picked = tl.zeros([BLOCK_M], tl.float32)
    for c0 in range(0, C, BLOCK_C):
        cols = c0 + tl.arange(0, BLOCK_C)
        z = _logits_block(
            x_ptr,
            w_ptr,
            b_ptr,
            rows,
            cols,
            row_ok,
            cols < C,
            D,
            stride_xn,
            stride_xd,
            stride_wc,
            stride_wd,
            stride_b,
            HAS_BIAS,
            INPUT_PRECISION,
            BLOCK_M,
            BLOCK_C,
            BLOCK_K,
        )
        m_new = tl.maximum(m_i, tl.max(z, axis=1))  # the first block holds class 0: m is finite from here on
        d_i = d_i * tl.exp(m_i - m_new) + tl.sum(tl.exp(z - m_new[:, None]), axis=1)
        m_i = m_new
        picked += tl.sum(tl.where(cols[None, :] == y[:, None], z, 0.0), axis=1)
    logd = tl.log(d_i)
    # lse - z_y as (m - z_y) + log(d): z_y near the max cancels exactly against m
    loss = tl.where(y != ignore_index, (m_i - picked) + logd, 0.0)
    tl.store(loss_ptr + rows, loss, mask=row_ok)
    tl.store(max_ptr + rows, m_i, mask=row_ok)
    tl.store(logd_ptr + rows, logd, mask=row_ok)


@triton.jit
def _dz_block(
    x_ptr,
    w_ptr,
    b_ptr,
    coef_ptr,
    max_ptr,
    logd_ptr,
    t_ptr,
    rows,
    cols,
    row_ok,
    col_ok,
    D,
    stride_xn,
    stride_xd,
    stride_wc,
    stride_wd,
    stride_b,
    stride_t,
    HAS_BIAS: tl.constexpr,
    INPUT_PRECISION: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_C: tl.constexpr,
    BLOCK_K: tl.constexpr,
):
    """dz[rows, cols] = g_i * (softmax(z) - onehot(y)), recomputed from x and W; 0 outside the rows and columns."""
    z = _logits_block(
        x_ptr,
        w_ptr,
        b_ptr,
        rows,
        cols,
        row_ok,
        col_ok,
        D,
        stride_xn,
        stride_xd,
        stride_wc,
        stride_wd,
        stride_b,
        HAS_BIAS,
        INPUT_PRECISION,
        BLOCK_M,
        BLOCK_C,
        BLOCK_K,
    )
    m = tl.load(max_ptr + rows, mask=row_ok, other=0.0)
    logd = tl.load(logd_ptr + rows, mask=row_ok, other=0.0)
    coef = tl.load(coef_ptr + rows, mask=row_ok, other=0.0)
    y = tl.load(t_ptr + rows * stride_t, mask=row_ok, other=-1)
    p = tl.exp((z - m[:, None]) - logd[:, None])
    dz = coef[:, None] * (p - tl.where(cols[None, :] == y[:, None], 1.0, 0.0))
    return tl.where(row_ok[:, None] & col_ok[None, :], dz, 0.0)


@triton.jit
def _linear_ce_dx_kernel(
    dx_ptr,
    x_ptr,
    w_ptr,
    b_ptr,
    coef_ptr,
    max_ptr,
    logd_ptr,
    t_ptr,
    N,
    D,
    C,
    stride_xn,
    stride_xd,
    stride_wc,
    stride_wd,
    stride_b,
    stride_t,
    HAS_BIAS: tl.constexpr,
    INPUT_PRECISION: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_C: tl.constexpr,
    BLOCK_K: tl.constexpr,
    BLOCK_D: tl.constexpr,
):
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    feats = tl.program_id(1) * BLOCK_D + tl.arange(0, BLOCK_D)
    row_ok, feat_ok = rows < N, feats < D
    acc = tl.zeros([BLOCK_M, BLOCK_D], tl.float32)
    for c0 in range(0, C, BLOCK_C):
        cols = c0 + tl.arange(0, BLOCK_C)
        col_ok = cols < C
        dz = _dz_block(
            x_ptr,
            w_ptr,
            b_ptr,
            coef_ptr,
            max_ptr,
            logd_ptr,
            t_ptr,
            rows,
            cols,
            row_ok,
            col_ok,
            D,
            stride_xn,
            stride_xd,
            stride_wc,
            stride_wd,
            stride_b,
            stride_t,
            HAS_BIAS,
            INPUT_PRECISION,
            BLOCK_M,
            BLOCK_C,
            BLOCK_K,
        )
        w = tl.load(
            w_ptr + cols[:, None] * stride_wc + feats[None, :] * stride_wd,
            mask=col_ok[:, None] & feat_ok[None, :],
            other=0.0,
        )
        acc = tl.dot(dz.to(w.dtype), w, acc, input_precision=INPUT_PRECISION)
    tl.store(
        dx_ptr + rows[:, None] * D + feats[None, :],
        acc.to(dx_ptr.dtype.element_ty),
        mask=row_ok[:, None] & feat_ok[None, :],
    )


@triton.jit
def _linear_ce_dw_kernel(
    dw_ptr,
    db_ptr,
    x_ptr,
    w_ptr,
    b_ptr,
    coef_ptr,
    max_ptr,
    logd_ptr,
    t_ptr,
    N,
    D,
    C,
    stride_xn,
    stride_xd,
    stride_wc,
    stride_wd,
    stride_b,
    stride_t,
    HAS_BIAS: tl.constexpr,
    INPUT_PRECISION: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_C: tl.constexpr,
    BLOCK_K: tl.constexpr,
    BLOCK_D: tl.constexpr,
):
    cols = tl.program_id(0) * BLOCK_C + tl.arange(0, BLOCK_C)
    feats = tl.program_id(1) * BLOCK_D + tl.arange(0, BLOCK_D)
    col_ok, feat_ok = cols < C, feats < D
    acc = tl.zeros([BLOCK_C, BLOCK_D], tl.float32)
    acc_b = tl.zeros([BLOCK_C], tl.float32)
    for r0 in range(0, N, BLOCK_M):
        rows = r0 + tl.arange(0, BLOCK_M)
        row_ok = rows < N
        dz = _dz_block(
            x_ptr,
            w_ptr,
            b_ptr,
            coef_ptr,
            max_ptr,
            logd_ptr,
            t_ptr,
            rows,
            cols,
            row_ok,
            col_ok,
            D,
            stride_xn,
            stride_xd,
            stride_wc,
            stride_wd,
            stride_b,
            stride_t,
            HAS_BIAS,
            INPUT_PRECISION,
            BLOCK_M,
            BLOCK_C,
            BLOCK_K,
        )
        x = tl.load(
            x_ptr + rows[:, None] * stride_xn + feats[None, :] * stride_xd,
            mask=row_ok[:, None] & feat_ok[None, :],
            other=0.0,
        )
        acc = tl.dot(tl.trans(dz.to(x.dtype)), x, acc, input_precision=INPUT_PRECISION)
        acc_b += tl.sum(dz, axis=0)
    tl.store(
        dw_ptr + cols[:, None] * D + feats[None, :],
        acc.to(dw_ptr.dtype.element_ty),
        mask=col_ok[:, None] & feat_ok[None, :],
    )
    if HAS_BIAS:
        tl.store(db_ptr + cols, acc_b.to(db_ptr.dtype.element_ty), mask=col_ok & (tl.program_id(1) == 0))


def _precision(x: torch.Tensor) -> str:
    return "tf32" if torch.backends.cuda.matmul.allow_tf32 and x.dtype == torch.float32 else "ieee"


class LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, target, ignore_index, reduction):
        n, d = x.shape
        c = weight.shape[0]
        loss, m, logd = (torch.empty(n, device=x.device, dtype=torch.float32) for _ in range(3))
        args = (
            x,
            weight,
            bias if bias is not None else weight,
            target,
            n,
            d,
            c,
            x.stride(0),
            x.stride(1),
            weight.stride(0),
            weight.stride(1),
            bias.stride(0) if bias is not None else 0,
            target.stride(0) if n else 1,
        )
        if n:
            _linear_ce_fwd_kernel[(triton.cdiv(n, BLOCK_M),)](
                loss,
                m,
                logd,
                *args[:4],
                *args[4:],
                ignore_index,
                bias is not None,
                _precision(x),
                BLOCK_M,
                BLOCK_C,
                BLOCK_K,
            )
        kept = target != ignore_index
        count = kept.sum()
        if reduction == "none":
            out = loss.to(x.dtype)
        else:
            total = loss.sum()
            out = (total if reduction == "sum" else total / count).to(x.dtype)
        ctx.save_for_backward(x, weight, bias, target, m, logd, kept, count)
        ctx.reduction, ctx.has_bias = reduction, bias is not None
        return out

    @staticmethod
    def backward(ctx, g):
        x, weight, bias, target, m, logd, kept, count = ctx.saved_tensors
        n, d = x.shape
        c = weight.shape[0]
        g = g.float()
        if ctx.reduction == "mean":
            g = g / count
        coef = torch.where(kept, g.expand(n) if g.dim() == 0 else g, 0.0).contiguous()
        dx, dw = (
            torch.empty_like(x, memory_format=torch.contiguous_format),
            torch.empty(c, d, device=x.device, dtype=weight.dtype),
        )
        db = torch.empty(c, device=x.device, dtype=weight.dtype) if ctx.has_bias else None
        if n == 0 or d == 0:
            return dx.zero_(), dw.zero_(), None if db is None else db.zero_(), None, None, None
        common = (
            x,
            weight,
            bias if bias is not None else weight,
            coef,
            m,
            logd,
            target,
            n,
            d,
            c,
            x.stride(0),
            x.stride(1),
            weight.stride(0),
            weight.stride(1),
            bias.stride(0) if bias is not None else 0,
            target.stride(0),
            ctx.has_bias,
            _precision(x),
            BLOCK_M,
            BLOCK_C,
            BLOCK_K,
            BLOCK_D,
        )
        # a [64, 64] fp32 accumulator and a recomputed [32, 64] logits block per program: 8 warps hold them without
        # spilling (with 4, the fp32 dW kernel spilled 20 bytes on sm_90)
        _linear_ce_dx_kernel[(triton.cdiv(n, BLOCK_M), triton.cdiv(d, BLOCK_D))](dx, *common, num_warps=8)
        db_or_dw = db if db is not None else dw
        _linear_ce_dw_kernel[(triton.cdiv(c, BLOCK_C), triton.cdiv(d, BLOCK_D))](dw, db_or_dw, *common, num_warps=8)
        return dx, dw, db, None, None, None


TORCH_OPS = {
    "ne": "the rows not ignored (N bools)",
    "sum": "the reduction: N per-row losses, and the mean's count",
    "div": "the mean: the summed loss over the count; the upstream gradient over it (backward)",
    "_to_copy": "the fp32 loss (N floats, or one) cast to x's dtype; the upstream gradient to fp32 (backward)",
    "where": "each row's gradient factor, 0 for an ignored row (N floats, backward)",
    "scalar_tensor": "that 0 (backward)",
    "clone": "the factor's N floats made contiguous (backward)",
    "zero_": "no rows or no features: zero gradients",
    "index": "the CPU-side check of the targets' range",
    "min": "the CPU-side check of the targets' range",
    "max": "the CPU-side check of the targets' range",
    "_local_scalar_dense": "the CPU-side check of the targets' range",
}


@variant(
    "linear_cross_entropy", "triton_fused", interpreted_on_cpu=True, limit=interpreter_bf16_dot, torch_ops=TORCH_OPS
)
def triton_fused_linear_cross_entropy(
    x: torch.Tensor,
    weight: torch.Tensor,
    target: torch.Tensor,
    bias=None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> torch.Tensor:
    """Linear + cross-entropy in Triton without writing the logits, forward and backward (dx, dW, db)."""
    what = "linear_cross_entropy 'triton_fused'"
    check_args(x, weight, target, bias, ignore_index, reduction, what)
    check_triton_tensor(x, what)
    check_int32_offsets(what, x, weight, x.shape[0] * weight.shape[1], weight.shape[0] * weight.shape[1])
    return LinearCrossEntropy.apply(x, weight, bias, target, ignore_index, reduction)
