"""Rung 3, `triton`: 2-D convolution as an implicit GEMM, forward and backward, fp32 accumulation.

A convolution is a matmul whose A operand is never built: with the lesson's im2col, row (n, p, q) of A holds the
(C/g)*R*S input values under the kernel at output pixel (p, q) of image n, and B is the flattened weight. The
forward kernel computes the GEMM

    M = N*P*Q output pixels  x  N_gemm = K/g output channels,  reduced over (C/g)*R*S,

one BLOCK_M x BLOCK_N tile per program, and gathers each BLOCK_K slice of A straight from x: reduction index
kk = (r*S + s)*(C/g) + c gives the input pixel (p*stride - pad + r*dilation, q*stride - pad + s*dilation) of
channel c, loaded through x's strides (NCHW or channels_last, where c is the contiguous axis), with a mask that
reads 0 in the padding. Each group of a grouped convolution is its own GEMM (grid axis 1).

Backward, also implicit GEMMs through strides:
- input gradient, a transposed convolution: M = N*H*W input pixels x C/g channels, reduced over (K/g)*R*S. Input
  pixel h receives dy at output row p = (h + pad - r*dilation) / stride for each kernel row r where that division
  is exact and p is in range; the mask skips the others (for stride s, all but one in s rows).
- weight gradient: M = K/g x N_gemm = (C/g)*R*S, reduced over the N*P*Q output pixels (dy^T times A). That
  reduction is long and the output small, so it is split over programs (split-K) into fp32 partial sums that
  torch adds up.
- bias gradient: dy summed over (N, P, Q) by torch, in fp32.

fp32 operands multiply in strict fp32 ("ieee") unless torch.backends.cudnn.allow_tf32 is set (the TF32 precision,
as cuDNN reads it). The three kernels' tiles are autotuned on CUDA; the interpreter uses one config each.
Offsets are int32: tensors of 2**31 elements or more are refused with that reason.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from kernels.conv2d.spec import ConvGeometry, block_epilogue, check_args
from kernels.matmul.triton_tiled import grouped_tile, interpreter_bf16_dot, launch_gemm
from kernels.registry import variant
from kernels.spec import accepts_unbatched, empty_like_layout
from kernels.triton_support import (
    INTERPRET,
    activation_flag,
    autotuned,
    check_int32_offsets,
    check_triton_tensor,
    drops_spilling,
    next_power_of_2,
)

INTERPRETER_CONFIG = {"BLOCK_M": 64, "BLOCK_N": 32, "BLOCK_K": 32, "GROUP_M": 8}
FIXED_CUDA_CONFIG = {"BLOCK_M": 64, "BLOCK_N": 64, "BLOCK_K": 32, "GROUP_M": 8, "num_warps": 4, "num_stages": 3}
CONFIGS = (INTERPRETER_CONFIG, FIXED_CUDA_CONFIG)  # launch_gemm's configurations without the autotuner
FIXED_CUDA_WEIGHT_CONFIG = {"BLOCK_M": 64, "BLOCK_N": 64, "BLOCK_K": 32, "num_warps": 4, "num_stages": 3}
SPLIT_QUANTUM = 64  # the weight gradient's split-K shares are multiples of this (every BLOCK_K divides it)


def _configs():
    # (BLOCK_M, BLOCK_N, BLOCK_K, num_stages, num_warps). Convolutions have many pixels (M) and few channels
    # (N_gemm = K/g, 16 to 512 in the lesson and ResNet layers): tall tiles, down to 16 columns.
    shapes = [
        (128, 128, 32, 3, 8),
        (128, 64, 32, 4, 4),
        (64, 128, 32, 4, 4),
        (128, 32, 32, 4, 4),
        (64, 64, 32, 4, 4),
        (128, 16, 32, 4, 4),
        (64, 32, 16, 5, 2),
        (256, 64, 32, 3, 8),
    ]
    return [
        triton.Config({"BLOCK_M": m, "BLOCK_N": n, "BLOCK_K": k, "GROUP_M": 8}, num_stages=s, num_warps=w)
        for m, n, k, s, w in shapes
    ]


@triton.jit
def _pixels(offs, H, W):
    """(image, row, column) of flat pixel indices over [N, H, W]: the GEMM rows of an implicit GEMM."""
    return offs // (H * W), (offs % (H * W)) // W, offs % W


@triton.jit
def _tap(kk, CH, S):
    """(channel, kernel row r, kernel column s) of flat reduction indices ordered (r, s) outer, channel inner: the
    GEMM's reduction axis over CH channels and an R x S kernel."""
    rs = kk // CH
    r = rs // S
    return kk % CH, r, rs - r * S


@triton.jit
def _conv2d_fwd_kernel(
    # pointers: x [N, C, H, W], w [K, C/g, R, S], y [N, K, P, Q], bias [K]
    x_ptr,
    w_ptr,
    y_ptr,
    bias_ptr,
    # GEMM sizes (M = N*P*Q pixels, K_G output channels per group, RED = C_G*R*S) and image sizes
    M,
    K_G,
    RED,
    C_G,
    H,
    W,
    P,
    Q,
    S,
    # strides: one element along each dim of each tensor
    stride_xn,
    stride_xc,
    stride_xh,
    stride_xw,
    stride_wk,
    stride_wc,
    stride_wr,
    stride_ws,
    stride_yn,
    stride_yk,
    stride_yp,
    stride_yq,
    stride_bias,
    # the convolution's own stride, padding and dilation
    STRIDE_H,
    STRIDE_W,
    PAD_H,
    PAD_W,
    DIL_H,
    DIL_W,
    # epilogue and precision, then the tile
    HAS_BIAS: tl.constexpr,
    ACTIVATION: tl.constexpr,
    INPUT_PRECISION: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
    GROUP_M: tl.constexpr,
):
    pid_m, pid_n = grouped_tile(tl.program_id(0), M, K_G, BLOCK_M, BLOCK_N, GROUP_M)
    group = tl.program_id(1)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)  # output pixels (n, p, q)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)  # output channels of this group
    n, p, q = _pixels(offs_m, P, Q)
    h_start = p * STRIDE_H - PAD_H  # the window's top-left input pixel (negative inside the padding)
    w_start = q * STRIDE_W - PAD_W
    m_ok = offs_m < M
    n_ok = offs_n < K_G
    k_abs = group * K_G + offs_n
    x_rows = x_ptr + n * stride_xn + group * C_G * stride_xc
    w_cols = w_ptr + k_abs * stride_wk

    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, RED, BLOCK_K):
        kk = k0 + tl.arange(0, BLOCK_K)  # reduction index: (r, s) outer, channel c inner
        c, r, s = _tap(kk, C_G, S)
        ih = h_start[:, None] + (r * DIL_H)[None, :]
        iw = w_start[:, None] + (s * DIL_W)[None, :]
        k_ok = kk < RED
        # zero padding: masked loads read 0 outside the image; masked columns past RED add nothing to the sum
        a_ok = m_ok[:, None] & k_ok[None, :] & (ih >= 0) & (ih < H) & (iw >= 0) & (iw < W)
        a = tl.load(x_rows[:, None] + (c * stride_xc)[None, :] + ih * stride_xh + iw * stride_xw, mask=a_ok, other=0.0)
        b = tl.load(
            w_cols[None, :] + (c * stride_wc + r * stride_wr + s * stride_ws)[:, None],
            mask=k_ok[:, None] & n_ok[None, :],
            other=0.0,
        )
        acc = tl.dot(a, b, acc, input_precision=INPUT_PRECISION)

    # epilogue on the fp32 accumulator, before the one rounding to y's dtype
    if HAS_BIAS:
        acc += tl.load(bias_ptr + k_abs * stride_bias, mask=n_ok, other=0.0).to(tl.float32)[None, :]
    if ACTIVATION == "relu":
        acc = tl.maximum(acc, 0.0)
    y_ptrs = y_ptr + (n * stride_yn + p * stride_yp + q * stride_yq)[:, None] + (k_abs * stride_yk)[None, :]
    tl.store(y_ptrs, acc.to(y_ptr.dtype.element_ty), mask=m_ok[:, None] & n_ok[None, :])


@triton.jit
def _conv2d_bwd_input_kernel(
    # pointers: dy [N, K, P, Q], w [K, C/g, R, S], dx [N, C, H, W]
    dy_ptr,
    w_ptr,
    dx_ptr,
    # GEMM sizes (M = N*H*W input pixels, C_G input channels per group, RED = K_G*R*S) and image sizes
    M,
    C_G,
    RED,
    K_G,
    H,
    W,
    P,
    Q,
    S,
    # strides: one element along each dim of each tensor (dx has x's layout: stride_x*)
    stride_dyn,
    stride_dyk,
    stride_dyp,
    stride_dyq,
    stride_wk,
    stride_wc,
    stride_wr,
    stride_ws,
    stride_xn,
    stride_xc,
    stride_xh,
    stride_xw,
    # the convolution's own stride, padding and dilation
    STRIDE_H,
    STRIDE_W,
    PAD_H,
    PAD_W,
    DIL_H,
    DIL_W,
    # precision, then the tile
    INPUT_PRECISION: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
    GROUP_M: tl.constexpr,
):
    pid_m, pid_n = grouped_tile(tl.program_id(0), M, C_G, BLOCK_M, BLOCK_N, GROUP_M)
    group = tl.program_id(1)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)  # input pixels (n, h, w)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)  # input channels of this group
    n, h, w = _pixels(offs_m, H, W)
    m_ok = offs_m < M
    n_ok = offs_n < C_G
    dy_rows = dy_ptr + n * stride_dyn + group * K_G * stride_dyk
    w_cols = w_ptr + group * K_G * stride_wk + offs_n * stride_wc

    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, RED, BLOCK_K):
        kk = k0 + tl.arange(0, BLOCK_K)  # reduction index: (r, s) outer, output channel k inner
        k, r, s = _tap(kk, K_G, S)
        # output pixel (p, q) whose window puts kernel tap (r, s) on input pixel (h, w), if there is one
        ph = h[:, None] + PAD_H - (r * DIL_H)[None, :]
        pw = w[:, None] + PAD_W - (s * DIL_W)[None, :]
        p = ph // STRIDE_H
        q = pw // STRIDE_W
        k_ok = kk < RED
        a_ok = m_ok[:, None] & k_ok[None, :] & (ph >= 0) & (pw >= 0) & (p * STRIDE_H == ph) & (q * STRIDE_W == pw)
        a_ok = a_ok & (p < P) & (q < Q)
        a = tl.load(
            dy_rows[:, None] + (k * stride_dyk)[None, :] + p * stride_dyp + q * stride_dyq, mask=a_ok, other=0.0
        )
        b = tl.load(
            w_cols[None, :] + (k * stride_wk + r * stride_wr + s * stride_ws)[:, None],
            mask=k_ok[:, None] & n_ok[None, :],
            other=0.0,
        )
        acc = tl.dot(a, b, acc, input_precision=INPUT_PRECISION)

    dx_ptrs = (
        dx_ptr
        + (n * stride_xn + h * stride_xh + w * stride_xw)[:, None]
        + ((group * C_G + offs_n) * stride_xc)[None, :]
    )
    tl.store(dx_ptrs, acc.to(dx_ptr.dtype.element_ty), mask=m_ok[:, None] & n_ok[None, :])


@triton.jit
def _conv2d_bwd_weight_kernel(
    # pointers: dy [N, K, P, Q], x [N, C, H, W], dw [splits, K, C/g, R, S] (fp32 partials, one per split)
    dy_ptr,
    x_ptr,
    dw_ptr,
    # GEMM sizes (K_G x COLS = C_G*R*S, reduced over RED = N*P*Q pixels, RED_PER_SPLIT per split) and image sizes
    K_G,
    COLS,
    RED,
    RED_PER_SPLIT,
    C_G,
    H,
    W,
    P,
    Q,
    S,
    # strides: one element along each dim of each tensor (dw's split dim, then w's layout: stride_w*)
    stride_dyn,
    stride_dyk,
    stride_dyp,
    stride_dyq,
    stride_xn,
    stride_xc,
    stride_xh,
    stride_xw,
    stride_dw_split,
    stride_wk,
    stride_wc,
    stride_wr,
    stride_ws,
    # the convolution's own stride, padding and dilation
    STRIDE_H,
    STRIDE_W,
    PAD_H,
    PAD_W,
    DIL_H,
    DIL_W,
    # precision, then the tile
    INPUT_PRECISION: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
):
    num_n = tl.cdiv(COLS, BLOCK_N)
    pid_m = tl.program_id(0) // num_n
    pid_n = tl.program_id(0) % num_n
    group = tl.program_id(1)
    split = tl.program_id(2)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)  # output channels of this group
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)  # weight columns (r, s, c)
    c, r, s = _tap(offs_n, C_G, S)
    m_ok = offs_m < K_G
    n_ok = offs_n < COLS
    dy_rows = dy_ptr + (group * K_G + offs_m) * stride_dyk
    x_cols = x_ptr + (group * C_G + c) * stride_xc

    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    red_start = split * RED_PER_SPLIT
    red_end = tl.minimum(red_start + RED_PER_SPLIT, RED)
    for k0 in range(red_start, red_end, BLOCK_K):
        kk = k0 + tl.arange(0, BLOCK_K)  # output pixels (n, p, q): this split's share of the reduction
        img, p, q = _pixels(kk, P, Q)
        k_ok = kk < red_end
        a = tl.load(
            dy_rows[:, None] + (img * stride_dyn + p * stride_dyp + q * stride_dyq)[None, :],
            mask=m_ok[:, None] & k_ok[None, :],
            other=0.0,
        )
        ih = (p * STRIDE_H - PAD_H)[:, None] + (r * DIL_H)[None, :]
        iw = (q * STRIDE_W - PAD_W)[:, None] + (s * DIL_W)[None, :]
        b_ok = k_ok[:, None] & n_ok[None, :] & (ih >= 0) & (ih < H) & (iw >= 0) & (iw < W)
        b = tl.load(
            x_cols[None, :] + (img * stride_xn)[:, None] + ih * stride_xh + iw * stride_xw, mask=b_ok, other=0.0
        )
        acc = tl.dot(a, b, acc, input_precision=INPUT_PRECISION)

    k_abs = group * K_G + offs_m
    dw_ptrs = (
        dw_ptr
        + split * stride_dw_split
        + (k_abs * stride_wk)[:, None]
        + (c * stride_wc + r * stride_wr + s * stride_ws)[None, :]
    )
    tl.store(dw_ptrs, acc, mask=m_ok[:, None] & n_ok[None, :])


def _weight_configs():
    # M = K/g output channels (16 to 512), N = (C/g)*R*S weight columns (25 to 4608); BLOCK_K divides SPLIT_QUANTUM
    shapes = [
        (64, 64, 32, 4, 4),
        (64, 128, 32, 3, 4),
        (128, 64, 32, 3, 4),
        (32, 64, 64, 4, 4),
        (16, 64, 64, 4, 4),
        (128, 128, 32, 3, 8),
    ]
    return [
        triton.Config({"BLOCK_M": m, "BLOCK_N": n, "BLOCK_K": k}, num_stages=s, num_warps=w) for m, n, k, s, w in shapes
    ]


# The tiles that spill on sm_90 per kernel and fp32 precision, compiled with the GPU machines' Triton 3.6 on each
# kernel's least specialized launch (bytes of spill stores and loads): forward, strict fp32: 64x128x32 (72-112);
# input gradient, strict fp32: 64x128x32 (72-128), 256x64x32 (48); weight gradient, strict fp32: 64x128x32 (112),
# 128x128x32 (104), TF32: 16x64x64 (24). fp16 and bf16 spill in none. The autotuner never tries them there.
SPILLS_FWD = {"ieee": {(64, 128, 32)}}
SPILLS_BWD_INPUT = {"ieee": {(64, 128, 32), (256, 64, 32)}}
SPILLS_BWD_WEIGHT = {"ieee": {(64, 128, 32), (128, 128, 32)}, "tf32": {(16, 64, 64)}}
# keyed by the precision too: strict fp32 and TF32 take different configurations at the same sizes
_conv2d_fwd_kernel_tuned = autotuned(
    _conv2d_fwd_kernel,
    _configs(),
    key=["M", "K_G", "RED", "stride_xc", "INPUT_PRECISION"],
    fits=drops_spilling("x_ptr", SPILLS_FWD),
)
_conv2d_bwd_input_kernel_tuned = autotuned(
    _conv2d_bwd_input_kernel,
    _configs(),
    key=["M", "C_G", "RED", "stride_xc", "INPUT_PRECISION"],
    fits=drops_spilling("dy_ptr", SPILLS_BWD_INPUT),
)
_conv2d_bwd_weight_kernel_tuned = autotuned(
    _conv2d_bwd_weight_kernel,
    _weight_configs(),
    key=["K_G", "COLS", "RED_PER_SPLIT", "stride_xc", "INPUT_PRECISION"],
    fits=drops_spilling("x_ptr", SPILLS_BWD_WEIGHT),
)


def _input_precision(t: torch.Tensor) -> str:
    return "tf32" if t.dtype == torch.float32 and torch.backends.cudnn.allow_tf32 else "ieee"


def _geometry_args(geo: ConvGeometry) -> tuple:
    return (*geo.stride, geo.pad[0], geo.pad[2], *geo.dilation)


def conv2d_launch(x, weight, bias, geo: ConvGeometry, relu: bool) -> torch.Tensor:
    """y = conv2d(x, weight) + bias (then relu), y stored in x's memory format."""
    y = empty_like_layout((geo.n, geo.k, geo.p, geo.q), x)
    m, red = geo.n * geo.p * geo.q, geo.c_per_group * geo.r * geo.s
    if y.numel() == 0:
        return y
    args = (
        x,
        weight,
        y,
        bias if bias is not None else y,
        m,
        geo.k_per_group,
        red,
        geo.c_per_group,
        geo.h,
        geo.w,
        geo.p,
        geo.q,
        geo.s,
        *x.stride(),
        *weight.stride(),
        *y.stride(),
        bias.stride(0) if bias is not None else 0,
        *_geometry_args(geo),
    )
    flags = {
        "HAS_BIAS": bias is not None,
        "ACTIVATION": activation_flag("relu" if relu else None),
        "INPUT_PRECISION": _input_precision(x),
    }
    launch_gemm(_conv2d_fwd_kernel, _conv2d_fwd_kernel_tuned, m, geo.k_per_group, geo.groups, args, flags, *CONFIGS)
    return y


def conv2d_input_grad(dy, weight, geo: ConvGeometry, like: torch.Tensor) -> torch.Tensor:
    """dx = the transposed convolution of dy with the weight, stored in the input's memory format."""
    dx = empty_like_layout((geo.n, geo.c, geo.h, geo.w), like)
    m, red = geo.n * geo.h * geo.w, geo.k_per_group * geo.r * geo.s
    args = (
        dy,
        weight,
        dx,
        m,
        geo.c_per_group,
        red,
        geo.k_per_group,
        geo.h,
        geo.w,
        geo.p,
        geo.q,
        geo.s,
        *dy.stride(),
        *weight.stride(),
        *dx.stride(),
        *_geometry_args(geo),
    )
    flags = {"INPUT_PRECISION": _input_precision(dy)}
    tuned = _conv2d_bwd_input_kernel_tuned
    launch_gemm(_conv2d_bwd_input_kernel, tuned, m, geo.c_per_group, geo.groups, args, flags, *CONFIGS)
    return dx


def _weight_grad_splits(tiles: int, red: int, device: torch.device) -> int:
    """How many programs share the reduction of each weight-gradient tile: enough programs to fill the GPU about
    twice, each split at least four SPLIT_QUANTUM steps long. One under the interpreter."""
    if INTERPRET:
        return 1
    programs = 2 * torch.cuda.get_device_properties(device).multi_processor_count
    return max(1, min(programs // max(tiles, 1), triton.cdiv(red, 4 * SPLIT_QUANTUM)))


def weight_grad_config(geo: ConvGeometry) -> dict:
    """The weight gradient's tile without the autotuner. Under the interpreter one program per output tile, output
    channels in one block where they fit; tests replace it to run every autotuning configuration."""
    if INTERPRET:
        return {"BLOCK_M": min(64, max(16, next_power_of_2(geo.k_per_group))), "BLOCK_N": 64, "BLOCK_K": 64}
    return dict(FIXED_CUDA_WEIGHT_CONFIG)


def conv2d_weight_grad(dy, x, geo: ConvGeometry, weight: torch.Tensor) -> torch.Tensor:
    """dw = dy^T times the im2col of x, split over programs along the N*P*Q reduction; fp32 partial sums."""
    cols, red = geo.c_per_group * geo.r * geo.s, geo.n * geo.p * geo.q
    tile_m, tile_n = FIXED_CUDA_WEIGHT_CONFIG["BLOCK_M"], FIXED_CUDA_WEIGHT_CONFIG["BLOCK_N"]  # the typical tile
    tiles = triton.cdiv(geo.k_per_group, tile_m) * triton.cdiv(cols, tile_n) * geo.groups
    splits = _weight_grad_splits(tiles, red, x.device)
    # each split's share is a multiple of every BLOCK_K, so any configuration walks it in whole steps
    per_split = triton.cdiv(triton.cdiv(red, splits), SPLIT_QUANTUM) * SPLIT_QUANTUM
    splits = triton.cdiv(red, per_split)
    partial = torch.empty((splits, geo.k, geo.c_per_group, geo.r, geo.s), dtype=torch.float32, device=x.device)
    args = (
        dy,
        x,
        partial,
        geo.k_per_group,
        cols,
        red,
        per_split,
        geo.c_per_group,
        geo.h,
        geo.w,
        geo.p,
        geo.q,
        geo.s,
        *dy.stride(),
        *x.stride(),
        *partial.stride(),
        *_geometry_args(geo),
    )
    precision = _input_precision(x)

    def grid(meta):
        return (triton.cdiv(geo.k_per_group, meta["BLOCK_M"]) * triton.cdiv(cols, meta["BLOCK_N"]), geo.groups, splits)

    if _conv2d_bwd_weight_kernel_tuned is not None:
        _conv2d_bwd_weight_kernel_tuned[grid](*args, INPUT_PRECISION=precision)
    else:
        cfg = weight_grad_config(geo)
        _conv2d_bwd_weight_kernel[grid(cfg)](*args, INPUT_PRECISION=precision, **cfg)
    dw = partial[0] if splits == 1 else partial.sum(0)
    return dw.to(weight.dtype)


class TritonConv2d(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, geo: ConvGeometry, relu: bool):
        y = conv2d_launch(x, weight, bias, geo, relu)
        ctx.save_for_backward(x, weight, y if relu else None)
        ctx.geo, ctx.relu, ctx.has_bias = geo, relu, bias is not None
        return y

    @staticmethod
    def backward(ctx, dy):
        x, weight, y = ctx.saved_tensors
        if ctx.relu:  # relu's derivative from its output: 1 where y > 0
            dy = dy * (y > 0)
        needs = ctx.needs_input_grad
        dx = conv2d_input_grad(dy, weight, ctx.geo, x) if needs[0] else None
        dw = conv2d_weight_grad(dy, x, ctx.geo, weight) if needs[1] else None
        db = dy.float().sum((0, 2, 3)).to(dy.dtype) if ctx.has_bias and needs[2] else None
        return dx, dw, db, None, None


def check_triton_args(x, weight, bias, stride, padding, dilation, groups, bn, bn_eps, activation, op: str):
    geo = check_args(x, weight, bias, stride, padding, dilation, groups, bn, bn_eps, activation, op=op)
    check_triton_tensor(x, op)
    check_int32_offsets(op, x, weight, geo.n * geo.k * geo.p * geo.q)
    return geo


# Torch parts of both Triton rungs' backward.
CONV_BACKWARD = {
    "sum": "the bias gradient (dy summed over N, P, Q) and, on CUDA, the split-K partials of the weight gradient",
    "_to_copy": "fp16/bf16 dy taken to fp32 for the bias sum; the fp32 weight gradient rounded to the weight's dtype",
}
# The rung leaves the block's batch norm and relu to PyTorch (triton_fused folds them into its kernel).
UNFUSED_BLOCK = {
    "native_batch_norm": "the block's evaluation-mode batch norm, by PyTorch after the kernel",
    "_native_batch_norm_legit_no_training": "the block's evaluation-mode batch norm, by PyTorch after the kernel",
    "native_batch_norm_backward": "its gradient, by PyTorch's autograd",
    "relu": "the block's relu, by PyTorch",
    "threshold_backward": "relu's gradient, by PyTorch's autograd",
}


@variant(
    "conv2d",
    "triton_implicit_gemm",
    interpreted_on_cpu=True,
    limit=interpreter_bf16_dot,
    torch_ops={**CONV_BACKWARD, **UNFUSED_BLOCK},
)
@accepts_unbatched
def triton_conv2d(
    x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, bn=None, bn_eps=1e-5, activation=None
) -> torch.Tensor:
    """Triton implicit-GEMM convolution with bias, forward and backward (dx, dw in Triton; dbias a torch sum);
    batch norm and relu after it by PyTorch."""
    op = "conv2d 'triton_implicit_gemm'"
    geo = check_triton_args(x, weight, bias, stride, padding, dilation, groups, bn, bn_eps, activation, op)
    return block_epilogue(TritonConv2d.apply(x, weight, bias, geo, False), bn, bn_eps, activation)
