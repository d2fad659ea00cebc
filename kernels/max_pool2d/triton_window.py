"""Rung 3, `triton`: max pooling, one output element per lane, forward and backward.

Forward: each program takes BLOCK consecutive outputs in the memory order of y (q fastest for NCHW, c fastest for
channels_last, so neighbouring lanes read neighbouring addresses), walks the window's kernel_h x kernel_w taps
(unrolled: the window size is a compile-time constant) and keeps the maximum in fp32 (exact for fp16 and bf16) and
its position h*W + w. A tap in the padding reads -inf; a later tap replaces the maximum only when strictly larger
or NaN, so ties keep the first, as torch's pool does. When a gradient is needed the positions are stored (int32).

Backward, without atomics: each program takes BLOCK input pixels; for every tap (r, s) the output window that would
put that tap on the pixel is p = (h + pad - r*dilation) / stride when the division is exact and p is in range;
the pixel receives that window's dy when the window's saved position is the pixel. The sum over the at most
ceil(kernel/stride)^2 windows is deterministic and in fp32. With relu fused (triton_fused), the forward clears the
saved position where the output is not positive, which is relu's gradient.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from kernels.max_pool2d.spec import PoolGeometry, check_args
from kernels.registry import variant
from kernels.spec import accepts_unbatched, empty_like_layout, is_channels_last
from kernels.triton_support import INTERPRET, activation_flag, check_int32_offsets, check_triton_tensor

BLOCK = 1024 if INTERPRET else 256  # the interpreter pays per operation, not per element


@triton.jit
def _nchw_index(offs, C, H, W, CHANNELS_LAST: tl.constexpr):
    """(n, c, h, w) of flat index `offs` in the memory order of an [N, C, H, W] tensor."""
    if CHANNELS_LAST:
        c = offs % C
        w = (offs // C) % W
        h = (offs // (C * W)) % H
        n = offs // (C * W * H)
    else:
        w = offs % W
        h = (offs // W) % H
        c = (offs // (W * H)) % C
        n = offs // (W * H * C)
    return n, c, h, w


@triton.jit
def _max_pool2d_fwd_kernel(
    # pointers: x [N, C, H, W], y [N, C, P, Q], idx [N, C, P, Q] (int32 window positions, when saved)
    x_ptr,
    y_ptr,
    idx_ptr,
    # sizes: TOTAL = N*C*P*Q outputs
    TOTAL,
    C,
    H,
    W,
    P,
    Q,
    # strides: one element along each dim of each tensor (idx has y's layout)
    stride_xn,
    stride_xc,
    stride_xh,
    stride_xw,
    stride_yn,
    stride_yc,
    stride_yp,
    stride_yq,
    # the pool's stride, padding and dilation
    STRIDE_H,
    STRIDE_W,
    PAD_H,
    PAD_W,
    DIL_H,
    DIL_W,
    # the window, the layout the outputs are numbered in, the fused activation, then the block
    KH: tl.constexpr,
    KW: tl.constexpr,
    CHANNELS_LAST: tl.constexpr,
    ACTIVATION: tl.constexpr,
    SAVE_INDEX: tl.constexpr,
    BLOCK: tl.constexpr,
):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    ok = offs < TOTAL
    n, c, p, q = _nchw_index(offs, C, P, Q, CHANNELS_LAST)
    x_base = x_ptr + n * stride_xn + c * stride_xc
    best = tl.full((BLOCK,), float("-inf"), tl.float32)
    where = tl.full((BLOCK,), -1, tl.int32)
    for r in tl.static_range(KH):
        ih = p * STRIDE_H - PAD_H + r * DIL_H
        for s in tl.static_range(KW):
            iw = q * STRIDE_W - PAD_W + s * DIL_W
            inside = ok & (ih >= 0) & (ih < H) & (iw >= 0) & (iw < W)
            v = tl.load(x_base + ih * stride_xh + iw * stride_xw, mask=inside, other=float("-inf")).to(tl.float32)
            # the first tap inside the image always counts (an all -inf window still names a pixel, as torch's
            # does); later ones when strictly larger (ties keep the first) or NaN (NaN propagates)
            take = inside & ((v > best) | (v != v) | (where < 0))
            best = tl.where(take, v, best)
            where = tl.where(take, ih * W + iw, where)
    if ACTIVATION == "relu":
        best = tl.where(best < 0.0, 0.0, best)  # not tl.maximum: relu(NaN) is NaN
    y_off = n * stride_yn + c * stride_yc + p * stride_yp + q * stride_yq
    tl.store(y_ptr + y_off, best.to(y_ptr.dtype.element_ty), mask=ok)
    if SAVE_INDEX:
        if ACTIVATION == "relu":
            where = tl.where(best > 0.0, where, -1)  # relu passes no gradient where its output is not positive
        tl.store(idx_ptr + y_off, where, mask=ok)


@triton.jit
def _max_pool2d_bwd_kernel(
    # pointers: dy [N, C, P, Q], idx [N, C, P, Q] (the forward's window positions), dx [N, C, H, W]
    dy_ptr,
    idx_ptr,
    dx_ptr,
    # sizes: TOTAL = N*C*H*W inputs, one lane each (a gather: no atomics)
    TOTAL,
    C,
    H,
    W,
    P,
    Q,
    # strides: one element along each dim of each tensor (dx has x's layout: stride_x*)
    stride_dyn,
    stride_dyc,
    stride_dyp,
    stride_dyq,
    stride_idxn,
    stride_idxc,
    stride_idxp,
    stride_idxq,
    stride_xn,
    stride_xc,
    stride_xh,
    stride_xw,
    # the pool's stride, padding and dilation
    STRIDE_H,
    STRIDE_W,
    PAD_H,
    PAD_W,
    DIL_H,
    DIL_W,
    # the window, the layout the lanes are numbered in, then the block
    KH: tl.constexpr,
    KW: tl.constexpr,
    CHANNELS_LAST: tl.constexpr,
    BLOCK: tl.constexpr,
):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    ok = offs < TOTAL
    n, c, h, w = _nchw_index(offs, C, H, W, CHANNELS_LAST)
    here = h * W + w
    acc = tl.zeros((BLOCK,), tl.float32)
    for r in tl.static_range(KH):
        ph = h + PAD_H - r * DIL_H
        p = ph // STRIDE_H
        row_ok = ok & (ph >= 0) & (p * STRIDE_H == ph) & (p < P)
        for s in tl.static_range(KW):
            pw = w + PAD_W - s * DIL_W
            q = pw // STRIDE_W
            window = row_ok & (pw >= 0) & (q * STRIDE_W == pw) & (q < Q)
            chosen = tl.load(
                idx_ptr + n * stride_idxn + c * stride_idxc + p * stride_idxp + q * stride_idxq, mask=window, other=-1
            )
            hit = window & (chosen == here)
            acc += tl.load(
                dy_ptr + n * stride_dyn + c * stride_dyc + p * stride_dyp + q * stride_dyq, mask=hit, other=0.0
            ).to(tl.float32)
    tl.store(
        dx_ptr + n * stride_xn + c * stride_xc + h * stride_xh + w * stride_xw, acc.to(dx_ptr.dtype.element_ty), mask=ok
    )


def _geometry_args(geo: PoolGeometry) -> tuple:
    return (*geo.stride, *geo.pad, *geo.dilation)


def max_pool2d_launch(x, geo: PoolGeometry, relu: bool, save_index: bool):
    """(y, argmax positions or None); y and the positions stored in x's memory format."""
    y = empty_like_layout((geo.n, geo.c, geo.p, geo.q), x)
    where = torch.empty_like(y, dtype=torch.int32) if save_index else y
    if y.numel() == 0:
        return y, where if save_index else None
    constants = {"KH": geo.kernel[0], "KW": geo.kernel[1], "CHANNELS_LAST": is_channels_last(y), "BLOCK": BLOCK}
    _max_pool2d_fwd_kernel[(triton.cdiv(y.numel(), BLOCK),)](
        x,
        y,
        where,
        y.numel(),
        geo.c,
        geo.h,
        geo.w,
        geo.p,
        geo.q,
        *x.stride(),
        *y.stride(),
        *_geometry_args(geo),
        ACTIVATION=activation_flag("relu" if relu else None),
        SAVE_INDEX=save_index,
        **constants,
    )
    return y, where if save_index else None


def max_pool2d_grad(dy, where, geo: PoolGeometry, like: torch.Tensor) -> torch.Tensor:
    """dx: each pixel gathers dy of the windows whose saved maximum it is."""
    dx = empty_like_layout((geo.n, geo.c, geo.h, geo.w), like)
    if dx.numel() == 0:
        return dx
    constants = {"KH": geo.kernel[0], "KW": geo.kernel[1], "CHANNELS_LAST": is_channels_last(dx), "BLOCK": BLOCK}
    _max_pool2d_bwd_kernel[(triton.cdiv(dx.numel(), BLOCK),)](
        dy,
        where,
        dx,
        dx.numel(),
        geo.c,
        geo.h,
        geo.w,
        geo.p,
        geo.q,
        *dy.stride(),
        *where.stride(),
        *dx.stride(),
        *_geometry_args(geo),
        **constants,
    )
    return dx


class TritonMaxPool2d(torch.autograd.Function):
    """(y, the int32 positions of the maxima or None): the positions are kept for the backward and returned for
    return_indices, never differentiated."""

    @staticmethod
    def forward(ctx, x, geo: PoolGeometry, relu: bool, save_index: bool):
        y, where = max_pool2d_launch(x, geo, relu, save_index)
        ctx.save_for_backward(x, where)
        ctx.geo = geo
        ctx.set_materialize_grads(False)  # no zeros made for the positions' (never used) gradient
        if where is not None:
            ctx.mark_non_differentiable(where)
        return y, where

    @staticmethod
    def backward(ctx, dy, _):
        x, where = ctx.saved_tensors
        if dy is None:  # only the indices were used
            return None, None, None, None
        return max_pool2d_grad(dy, where, ctx.geo, x), None, None, None


INDICES = {"_to_copy": "return_indices: the kernel's int32 positions widened to torch's int64 indices"}


def triton_max_pool(
    x, kernel_size, stride, padding, dilation, ceil_mode, return_indices, activation, op: str, fuse: bool
):
    """Check, then pool through the Triton kernel; relu (when asked) inside it with `fuse`, else by PyTorch first."""
    geo = check_args(x, kernel_size, stride, padding, dilation, ceil_mode, return_indices, activation, op=op)
    check_triton_tensor(x, op)
    check_int32_offsets(op, x)
    relu = activation == "relu"
    if relu and fuse and return_indices:
        raise ValueError(
            f"{op}: return_indices with activation='relu' is not supported: the fused kernel keeps no "
            "position where relu zeroes the output (torch's is the first zero); use 'triton'"
        )
    if relu and not fuse:
        x = torch.relu(x)
    save_index = return_indices or (torch.is_grad_enabled() and x.requires_grad)
    y, where = TritonMaxPool2d.apply(x, geo, relu and fuse, save_index)
    return (y, where.long()) if return_indices else y


@variant(
    "max_pool2d",
    "triton_window",
    interpreted_on_cpu=True,
    torch_ops={
        "relu": "relu before the pool, by PyTorch (triton_fused applies it inside)",
        "threshold_backward": "relu's gradient, by PyTorch's autograd",
        **INDICES,
    },
)
@accepts_unbatched
def triton_max_pool2d(
    x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False, activation=None
):
    """Triton max pool (one output per lane, int32 argmax saved for the gather backward); relu by PyTorch first."""
    op = "max_pool2d 'triton_window'"
    return triton_max_pool(
        x, kernel_size, stride, padding, dilation, ceil_mode, return_indices, activation, op, fuse=False
    )
