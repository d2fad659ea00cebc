"""Rung 3, `triton`: batch normalization in two passes over x, each split across many programs per channel.

x is addressed as [N, C, H, W] through all four of its strides ([N, C] and [N, C, L] as [N, C, 1, 1] and
[N, C, 1, L] views), so NCHW, channels_last, transposed, permuted and sliced inputs are read in place, and y and dx
are written in x's own layout. A channel's values are counted e = n*S + s over (n, s), S = H*W; the offset of
value e is n*stride_n + c*stride_c + (s // W)*stride_h + (s % W)*stride_w. The per-channel vectors (weight, bias,
running statistics) are read and updated through their strides too. Each channel's N*S values are cut into `splits`
chunks so that C * splits programs fill the GPU even when C is small (64 channels on 132 SMs would otherwise leave
half of them idle).

Training forward:
1. `_bn_stats_kernel`, grid (C, splits): each program runs Welford's update per lane over its chunk (no
   cancellation, however large the mean: a channel with mean 1e3 and std 0.3 keeps its variance in fp32), merges
   its lanes exactly (Chan's formula) and writes a partial (mean, M2).
2. `_bn_fwd_kernel`, grid (C, splits): each program merges its channel's partials, normalizes its chunk, and the
   first program of each channel saves mean and 1/std for backward and updates the running statistics as torch
   does (running_var takes the unbiased variance). In evaluation the running statistics are used directly.
Backward: `_bn_bwd_reduce_kernel` sums dy and dy * x_hat per chunk; `_bn_bwd_kernel` merges them and writes
dx = w/std * (dy - mean(dy) - x_hat * mean(dy * x_hat)) (training) or dx = dy * w/std (evaluation), and the
weight and bias gradients. Traffic: forward 3*E*s (x twice, y once), backward 5*E*s.

The `triton` variant applies relu (when asked) with PyTorch after the kernel; `triton_fused` applies it inside
(ACTIVATION="relu"), and in backward masks dy by y > 0, recomputing y from x instead of storing it.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from kernels.batchnorm.spec import BatchNormArgs, apply_activation, check_args
from kernels.registry import variant
from kernels.triton_support import INTERPRET, activation_flag, check_triton_tensor, next_power_of_2

BLOCK = 1024
WAVES = 4  # programs per SM the split aims for: a few waves
MAX_SPLITS = 256


@triton.jit
def _offsets(e, c, S, W, stride_n, stride_c, stride_h, stride_w):
    """Memory offsets of values e = n*S + s of channel c in a tensor with these four strides (S = H*W)."""
    s = e % S
    return (e // S) * stride_n + c * stride_c + (s // W) * stride_h + (s % W) * stride_w


@triton.jit
def _load_chunk(ptr, c, e, total, S, W, stride_n, stride_c, stride_h, stride_w, mask_end):
    """Values e of channel c in fp32; masked past the chunk's end and past N*S."""
    mask = (e < mask_end) & (e < total)
    offs = _offsets(e, c, S, W, stride_n, stride_c, stride_h, stride_w)
    return tl.load(ptr + offs, mask=mask, other=0.0).to(tl.float32), mask


@triton.jit
def _affine(w_ptr, b_ptr, c, stride_w, stride_b, HAS_WEIGHT: tl.constexpr, HAS_BIAS: tl.constexpr):
    """The channel's weight and bias in fp32; 1 and 0 where absent."""
    w = tl.full([], 1.0, tl.float32)
    if HAS_WEIGHT:
        w = tl.load(w_ptr + c * stride_w).to(tl.float32)
    b = tl.full([], 0.0, tl.float32)
    if HAS_BIAS:
        b = tl.load(b_ptr + c * stride_b).to(tl.float32)
    return w, b


@triton.jit
def _x_hat_and_grad(
    x_ptr,
    dy_ptr,  # pointers
    c,
    e,
    total,
    S,
    W,  # the channel, the flat indices of its values, its value count, the spatial sizes
    stride_xn,
    stride_xc,
    stride_xh,
    stride_xw,
    stride_dyn,
    stride_dyc,
    stride_dyh,
    stride_dyw,
    chunk_end,
    mean,
    rstd,
    w,
    b,  # the program's chunk end, the channel's statistics and affine
    ACTIVATION: tl.constexpr,
):
    """x_hat and dy of values e of channel c; with relu, dy only where the output x_hat * w + b was positive."""
    x, mask = _load_chunk(x_ptr, c, e, total, S, W, stride_xn, stride_xc, stride_xh, stride_xw, chunk_end)
    dy_offs = _offsets(e, c, S, W, stride_dyn, stride_dyc, stride_dyh, stride_dyw)
    dy = tl.load(dy_ptr + dy_offs, mask=mask, other=0.0).to(tl.float32)
    x_hat = (x - mean) * rstd
    if ACTIVATION == "relu":
        dy = tl.where(x_hat * w + b > 0, dy, 0.0)
    return x_hat, dy, mask


@triton.jit
def _bn_stats_kernel(
    x_ptr,
    mean_part_ptr,
    m2_part_ptr,
    total,
    chunk,
    S,
    W,  # N*S values per channel, cut into chunks of `chunk`
    stride_xn,
    stride_xc,
    stride_xh,
    stride_xw,
    BLOCK: tl.constexpr,
):
    c = tl.program_id(0).to(tl.int64)
    j = tl.program_id(1)
    start = j.to(tl.int64) * chunk
    lanes = tl.arange(0, BLOCK).to(tl.int64)
    count = tl.zeros([BLOCK], tl.float32)
    mean = tl.zeros([BLOCK], tl.float32)
    m2 = tl.zeros([BLOCK], tl.float32)
    for off in range(0, chunk, BLOCK):
        e = start + off + lanes
        x, mask = _load_chunk(x_ptr, c, e, total, S, W, stride_xn, stride_xc, stride_xh, stride_xw, start + chunk)
        # Welford, one value per lane per step: masked lanes keep their state
        count += mask.to(tl.float32)
        delta = tl.where(mask, x - mean, 0.0)
        mean += delta / tl.maximum(count, 1.0)
        m2 += delta * tl.where(mask, x - mean, 0.0)
    # merge the lanes: mean of means weighted by counts, plus the spread of the lane means around it
    n = tl.sum(count, axis=0)
    chunk_mean = tl.sum(count * mean, axis=0) / tl.maximum(n, 1.0)
    d = mean - chunk_mean
    chunk_m2 = tl.sum(m2 + count * d * d, axis=0)
    nsplits = tl.num_programs(1)
    tl.store(mean_part_ptr + c * nsplits + j, chunk_mean)
    tl.store(m2_part_ptr + c * nsplits + j, chunk_m2)


@triton.jit
def _bn_fwd_kernel(
    x_ptr,
    y_ptr,
    w_ptr,
    b_ptr,
    rm_ptr,
    rv_ptr,
    mean_part_ptr,
    m2_part_ptr,
    save_mean_ptr,
    save_rstd_ptr,
    total,
    chunk,
    S,
    W,
    momentum,
    eps,
    stride_xn,
    stride_xc,
    stride_xh,
    stride_xw,
    stride_yn,
    stride_yc,
    stride_yh,
    stride_yw,
    stride_w,
    stride_b,
    stride_rm,
    stride_rv,  # the per-channel vectors
    TRAINING: tl.constexpr,
    HAS_RUNNING: tl.constexpr,
    HAS_WEIGHT: tl.constexpr,
    HAS_BIAS: tl.constexpr,
    ACTIVATION: tl.constexpr,
    SPLITS: tl.constexpr,
    BLOCK: tl.constexpr,
):
    c = tl.program_id(0).to(tl.int64)
    j = tl.program_id(1)
    nsplits = tl.num_programs(1)
    if TRAINING:
        # merge the channel's partials exactly (Chan): counts follow from the chunk layout
        parts = tl.arange(0, SPLITS)
        live = parts < nsplits
        counts = tl.minimum(tl.maximum(total - parts.to(tl.int64) * chunk, 0), chunk).to(tl.float32)
        counts = tl.where(live, counts, 0.0)
        means = tl.load(mean_part_ptr + c * nsplits + parts, mask=live, other=0.0)
        m2s = tl.load(m2_part_ptr + c * nsplits + parts, mask=live, other=0.0)
        mean = tl.sum(counts * means, axis=0) / total
        d = means - mean
        var = tl.sum(m2s + counts * d * d, axis=0) / total
    else:
        mean = tl.load(rm_ptr + c * stride_rm).to(tl.float32)
        var = tl.load(rv_ptr + c * stride_rv).to(tl.float32)
    rstd = 1.0 / tl.sqrt(var + eps)
    w, shift = _affine(w_ptr, b_ptr, c, stride_w, stride_b, HAS_WEIGHT, HAS_BIAS)
    scale = w * rstd

    start = j.to(tl.int64) * chunk
    lanes = tl.arange(0, BLOCK).to(tl.int64)
    for off in range(0, chunk, BLOCK):
        e = start + off + lanes
        x, mask = _load_chunk(x_ptr, c, e, total, S, W, stride_xn, stride_xc, stride_xh, stride_xw, start + chunk)
        y = (x - mean) * scale + shift  # subtract first: x * scale - mean * scale would cancel for large means
        if ACTIVATION == "relu":
            y = tl.maximum(y, 0.0)
        y_offs = _offsets(e, c, S, W, stride_yn, stride_yc, stride_yh, stride_yw)
        tl.store(y_ptr + y_offs, y.to(y_ptr.dtype.element_ty), mask=mask)

    if j == 0:
        tl.store(save_mean_ptr + c, mean)
        tl.store(save_rstd_ptr + c, rstd)
        if TRAINING and HAS_RUNNING:
            unbiased = var * total / (total - 1)
            rm = tl.load(rm_ptr + c * stride_rm).to(tl.float32)
            rv = tl.load(rv_ptr + c * stride_rv).to(tl.float32)
            tl.store(rm_ptr + c * stride_rm, ((1 - momentum) * rm + momentum * mean).to(rm_ptr.dtype.element_ty))
            tl.store(rv_ptr + c * stride_rv, ((1 - momentum) * rv + momentum * unbiased).to(rv_ptr.dtype.element_ty))


@triton.jit
def _bn_bwd_reduce_kernel(
    x_ptr,
    dy_ptr,
    w_ptr,
    b_ptr,
    save_mean_ptr,
    save_rstd_ptr,
    sum_dy_ptr,
    sum_dyx_ptr,
    total,
    chunk,
    S,
    W,
    stride_xn,
    stride_xc,
    stride_xh,
    stride_xw,
    stride_dyn,
    stride_dyc,
    stride_dyh,
    stride_dyw,
    stride_w,
    stride_b,
    HAS_WEIGHT: tl.constexpr,
    HAS_BIAS: tl.constexpr,
    ACTIVATION: tl.constexpr,
    BLOCK: tl.constexpr,
):
    c = tl.program_id(0).to(tl.int64)
    j = tl.program_id(1)
    mean = tl.load(save_mean_ptr + c)
    rstd = tl.load(save_rstd_ptr + c)
    w, b = _affine(w_ptr, b_ptr, c, stride_w, stride_b, HAS_WEIGHT, HAS_BIAS)
    start = j.to(tl.int64) * chunk
    lanes = tl.arange(0, BLOCK).to(tl.int64)
    acc_dy = tl.zeros([BLOCK], tl.float32)
    acc_dyx = tl.zeros([BLOCK], tl.float32)
    for off in range(0, chunk, BLOCK):
        x_hat, dy, _ = _x_hat_and_grad(
            x_ptr,
            dy_ptr,
            c,
            start + off + lanes,
            total,
            S,
            W,
            stride_xn,
            stride_xc,
            stride_xh,
            stride_xw,
            stride_dyn,
            stride_dyc,
            stride_dyh,
            stride_dyw,
            start + chunk,
            mean,
            rstd,
            w,
            b,
            ACTIVATION,
        )
        acc_dy += dy
        acc_dyx += dy * x_hat
    nsplits = tl.num_programs(1)
    tl.store(sum_dy_ptr + c * nsplits + j, tl.sum(acc_dy, axis=0))
    tl.store(sum_dyx_ptr + c * nsplits + j, tl.sum(acc_dyx, axis=0))


@triton.jit
def _bn_bwd_kernel(
    x_ptr,
    dy_ptr,
    dx_ptr,
    w_ptr,
    b_ptr,
    save_mean_ptr,
    save_rstd_ptr,
    sum_dy_ptr,
    sum_dyx_ptr,
    dw_ptr,
    db_ptr,
    total,
    chunk,
    S,
    W,
    stride_xn,
    stride_xc,
    stride_xh,
    stride_xw,
    stride_dyn,
    stride_dyc,
    stride_dyh,
    stride_dyw,
    stride_dxn,
    stride_dxc,
    stride_dxh,
    stride_dxw,
    stride_w,
    stride_b,
    TRAINING: tl.constexpr,
    HAS_WEIGHT: tl.constexpr,
    HAS_BIAS: tl.constexpr,
    ACTIVATION: tl.constexpr,
    SPLITS: tl.constexpr,
    BLOCK: tl.constexpr,
):
    c = tl.program_id(0).to(tl.int64)
    j = tl.program_id(1)
    nsplits = tl.num_programs(1)
    parts = tl.arange(0, SPLITS)
    live = parts < nsplits
    sum_dy = tl.sum(tl.load(sum_dy_ptr + c * nsplits + parts, mask=live, other=0.0), axis=0)
    sum_dyx = tl.sum(tl.load(sum_dyx_ptr + c * nsplits + parts, mask=live, other=0.0), axis=0)
    mean = tl.load(save_mean_ptr + c)
    rstd = tl.load(save_rstd_ptr + c)
    w, b = _affine(w_ptr, b_ptr, c, stride_w, stride_b, HAS_WEIGHT, HAS_BIAS)
    start = j.to(tl.int64) * chunk
    lanes = tl.arange(0, BLOCK).to(tl.int64)
    for off in range(0, chunk, BLOCK):
        e = start + off + lanes
        x_hat, dy, mask = _x_hat_and_grad(
            x_ptr,
            dy_ptr,
            c,
            e,
            total,
            S,
            W,
            stride_xn,
            stride_xc,
            stride_xh,
            stride_xw,
            stride_dyn,
            stride_dyc,
            stride_dyh,
            stride_dyw,
            start + chunk,
            mean,
            rstd,
            w,
            b,
            ACTIVATION,
        )
        if TRAINING:  # the batch statistics depend on x: two more terms
            dx = w * rstd * (dy - sum_dy / total - x_hat * (sum_dyx / total))
        else:
            dx = w * rstd * dy
        dx_offs = _offsets(e, c, S, W, stride_dxn, stride_dxc, stride_dxh, stride_dxw)
        tl.store(dx_ptr + dx_offs, dx.to(dx_ptr.dtype.element_ty), mask=mask)
    if j == 0:
        if HAS_WEIGHT:
            tl.store(dw_ptr + c, sum_dyx.to(dw_ptr.dtype.element_ty))
        if HAS_BIAS:
            tl.store(db_ptr + c, sum_dy.to(db_ptr.dtype.element_ty))


def as_nchw(t: torch.Tensor) -> torch.Tensor:
    """[N, C, ...] as an [N, C, H, W] view with its strides: [N, C] as [N, C, 1, 1], [N, C, L] as [N, C, 1, L];
    5-D and up merge their spatial dimensions but the last (a copy where the strides do not allow a view)."""
    if t.dim() == 2:
        return t[:, :, None, None]
    if t.dim() == 3:
        return t[:, :, None, :]
    if t.dim() == 4:
        return t
    return t.reshape(t.shape[0], t.shape[1], -1, t.shape[-1])


def empty_like_nchw(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """An output for x and its [N, C, H, W] view: in x's own layout (torch.empty_like keeps the strides of a dense
    tensor, as F.batch_norm's output does), contiguous above 4-D so that the view never copies."""
    out = torch.empty_like(x) if x.dim() <= 4 else torch.empty(x.shape, dtype=x.dtype, device=x.device)
    return out, as_nchw(out)


def wanted_splits(channels: int, device: torch.device) -> int:
    """How many programs share each channel: a few waves over the device's SMs. One under the interpreter (tests
    set more to run the merge of the partials)."""
    if INTERPRET:
        return 1
    return max(1, WAVES * torch.cuda.get_device_properties(device).multi_processor_count // channels)


def _split(total: int, channels: int, device: torch.device) -> tuple[int, int, int]:
    """(chunk, splits launched, SPLITS: a power of two >= splits) for N*S values per channel."""
    splits = min(wanted_splits(channels, device), MAX_SPLITS, triton.cdiv(total, BLOCK))
    chunk = triton.cdiv(triton.cdiv(total, splits), BLOCK) * BLOCK  # whole blocks per program
    splits = triton.cdiv(total, chunk)
    return chunk, splits, next_power_of_2(splits)


def _vector_strides(*tensors) -> tuple[int, ...]:
    """The element stride of each per-channel vector (0 for an absent one: its flag keeps it unread)."""
    return tuple(t.stride(0) if t is not None else 0 for t in tensors)


def batchnorm_fwd(x, running_mean, running_var, weight, bias, training, momentum, eps, activation):
    """y, saved mean and 1/std; updates the running statistics in place when training."""
    x4 = as_nchw(x)
    n_, c, h, w = x4.shape
    total = n_ * h * w
    y, y4 = empty_like_nchw(x)
    f32 = dict(dtype=torch.float32, device=x.device)
    save_mean, save_rstd = torch.empty(c, **f32), torch.empty(c, **f32)
    chunk, splits, pow2 = _split(total, c, x.device)
    mean_part, m2_part = torch.empty(c * splits, **f32), torch.empty(c * splits, **f32)
    sizes = (total, chunk, h * w, w)
    if training:
        _bn_stats_kernel[(c, splits)](x4, mean_part, m2_part, *sizes, *x4.stride(), BLOCK=BLOCK)
    has_running = running_mean is not None
    vectors = _vector_strides(weight, bias, running_mean, running_var)
    _bn_fwd_kernel[(c, splits)](
        # absent optional tensors are passed as x4: their HAS_* flag is off and the kernel never reads them
        x4,
        y4,
        weight if weight is not None else x4,
        bias if bias is not None else x4,
        running_mean if has_running else save_mean,
        running_var if has_running else save_rstd,
        mean_part,
        m2_part,
        save_mean,
        save_rstd,
        *sizes,
        float(momentum),
        float(eps),
        *x4.stride(),
        *y4.stride(),
        *vectors,
        TRAINING=training,
        HAS_RUNNING=has_running,
        HAS_WEIGHT=weight is not None,
        HAS_BIAS=bias is not None,
        ACTIVATION=activation_flag(activation),
        SPLITS=pow2,
        BLOCK=BLOCK,
    )
    return y, save_mean, save_rstd


def batchnorm_bwd(x, dy, weight, bias, save_mean, save_rstd, training, activation):
    """(dx, dweight, dbias) through the two backward kernels."""
    x4, dy4 = as_nchw(x), as_nchw(dy)
    n_, c, h, w = x4.shape
    total = n_ * h * w
    dx, dx4 = empty_like_nchw(x)
    f32 = dict(dtype=torch.float32, device=x.device)
    chunk, splits, pow2 = _split(total, c, x.device)
    sum_dy, sum_dyx = torch.empty(c * splits, **f32), torch.empty(c * splits, **f32)
    dw = torch.empty(c, dtype=weight.dtype, device=x.device) if weight is not None else None
    db = torch.empty(c, dtype=bias.dtype, device=x.device) if bias is not None else None
    flags = dict(HAS_WEIGHT=weight is not None, HAS_BIAS=bias is not None, ACTIVATION=activation_flag(activation))
    wt, bs = weight if weight is not None else x4, bias if bias is not None else x4
    sizes, vectors = (total, chunk, h * w, w), _vector_strides(weight, bias)
    _bn_bwd_reduce_kernel[(c, splits)](
        x4,
        dy4,
        wt,
        bs,
        save_mean,
        save_rstd,
        sum_dy,
        sum_dyx,
        *sizes,
        *x4.stride(),
        *dy4.stride(),
        *vectors,
        **flags,
        BLOCK=BLOCK,
    )
    _bn_bwd_kernel[(c, splits)](
        x4,
        dy4,
        dx4,
        wt,
        bs,
        save_mean,
        save_rstd,
        sum_dy,
        sum_dyx,
        dw if dw is not None else sum_dy,
        db if db is not None else sum_dy,
        *sizes,
        *x4.stride(),
        *dy4.stride(),
        *dx4.stride(),
        *vectors,
        TRAINING=training,
        **flags,
        SPLITS=pow2,
        BLOCK=BLOCK,
    )
    return dx, dw, db


class TritonBatchNorm(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, running_mean, running_var, weight, bias, training, momentum, eps, activation):
        y, save_mean, save_rstd = batchnorm_fwd(
            x, running_mean, running_var, weight, bias, training, momentum, eps, activation
        )
        ctx.save_for_backward(x, weight, bias, save_mean, save_rstd)
        ctx.training, ctx.activation = training, activation
        return y

    @staticmethod
    def backward(ctx, dy):
        x, weight, bias, save_mean, save_rstd = ctx.saved_tensors
        dx, dw, db = batchnorm_bwd(x, dy, weight, bias, save_mean, save_rstd, ctx.training, ctx.activation)
        return dx, None, None, dw, db, None, None, None, None


def triton_batchnorm_call(args: BatchNormArgs, op: str, *, fuse: bool) -> torch.Tensor:
    """Run the kernels on checked arguments; with `fuse` the activation runs inside them, else PyTorch applies it
    after. `op` names the variant in errors."""
    check_triton_tensor(args.x, op)
    inside = args.activation if fuse else None
    y = TritonBatchNorm.apply(
        args.x,
        args.running_mean,
        args.running_var,
        args.weight,
        args.bias,
        args.training,
        args.momentum,
        args.eps,
        inside,
    )
    return y if fuse else apply_activation(y, args.activation)


@variant(
    "batchnorm",
    "triton_twopass",
    interpreted_on_cpu=True,
    torch_ops={
        "relu": "relu after the kernels, by PyTorch (triton_fused has it inside)",
        "threshold_backward": "relu's gradient, by PyTorch's autograd",
    },
)
def triton_batchnorm(
    x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5, activation=None
):
    """Two passes, split per channel: Welford statistics, then normalize; relu (if asked) by PyTorch."""
    op = "batchnorm 'triton_twopass'"
    args = check_args(x, running_mean, running_var, weight, bias, training, momentum, eps, activation, op=op)
    return triton_batchnorm_call(args, op, fuse=False)
