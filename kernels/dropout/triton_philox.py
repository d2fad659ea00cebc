"""Rung 3, `triton_philox`: dropout whose mask is never stored. The mask of element i is tl.rand(seed, i) >= p:
Philox, a counter-based generator, maps the pair (seed, i) to the same uniform number every time, so the backward
draws the mask again from the seed instead of reading a saved one. Forward traffic is read x, write y (2*n*s bytes);
backward read dy, write dx (2*n*s); eager also writes a mask and reads it back (on CUDA n bytes; on the CPU the
scaled noise, n*s bytes).

The seed is one integer drawn from torch's CPU generator per call: torch.manual_seed repeats a run, and every call
draws a new mask. The element counter i is the element's position in x's memory (x dense in any order: a transposed
or channels_last x is read in place; any other layout is copied to a contiguous one first), so the output and its
gradient share x's layout, and an output gradient stored otherwise is copied into it before the backward kernel.

An activation (relu) after the dropout runs as torch's own op on this rung; `triton_fused` (triton_fused.py) has it
in the kernel, and its backward needs no draw at all: dx = dy / (1 - p) where y > 0.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from kernels.dropout.spec import apply_activation, check_args
from kernels.registry import variant
from kernels.triton_support import activation_flag, check_int32_offsets, check_triton_tensor

BLOCK = 1024  # elements per program: an elementwise kernel, bound by memory


@triton.jit
def _dropout_fwd_kernel(out_ptr, x_ptr, n, p, scale, seed, ACTIVATION: tl.constexpr, BLOCK_SIZE: tl.constexpr):
    offs = tl.program_id(0) * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
    inside = offs < n
    x = tl.load(x_ptr + offs, mask=inside, other=0.0).to(tl.float32)
    # the same (seed, offset) gives the same uniform in the backward: the mask is drawn, never stored
    keep = tl.rand(seed, offs) >= p
    y = tl.where(keep, x * scale, 0.0)
    if ACTIVATION == "relu":
        y = tl.where(y < 0.0, 0.0, y)  # not tl.maximum: NaN stays NaN, as torch.relu keeps it
    tl.store(out_ptr + offs, y.to(out_ptr.dtype.element_ty), mask=inside)


@triton.jit
def _dropout_bwd_kernel(dx_ptr, dy_ptr, y_ptr, n, p, scale, seed, FROM_OUTPUT: tl.constexpr, BLOCK_SIZE: tl.constexpr):
    offs = tl.program_id(0) * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
    inside = offs < n
    dy = tl.load(dy_ptr + offs, mask=inside, other=0.0).to(tl.float32)
    if FROM_OUTPUT:  # dropout then relu: y > 0 exactly where the element was kept and x > 0; no draw needed
        y = tl.load(y_ptr + offs, mask=inside, other=0.0).to(tl.float32)
        keep = y > 0.0
    else:
        keep = tl.rand(seed, offs) >= p
    tl.store(dx_ptr + offs, tl.where(keep, dy * scale, 0.0).to(dx_ptr.dtype.element_ty), mask=inside)


def dense_in_memory(t: torch.Tensor) -> bool:
    """Whether t's elements fill one unbroken stretch of memory in some order of its dims (contiguous, transposed,
    channels_last): then the kernel can run over them as a flat array and the output can take the same strides."""
    expected = 1
    for stride, size in sorted((st, sz) for sz, st in zip(t.shape, t.stride(), strict=True) if sz != 1):
        if stride != expected:
            return False
        expected *= size
    return True


def flat(t: torch.Tensor) -> torch.Tensor:
    """A dense tensor's memory as a 1-D view, in memory order."""
    return t.as_strided((t.numel(),), (1,), t.storage_offset())


def draw_seed() -> int:
    """One integer from torch's CPU generator: torch.manual_seed repeats the masks, each call gets a new one."""
    return int(torch.randint(0, 2**31 - 1, ()).item())


def _launch_fwd(out, x, p, seed, activation):
    n = x.numel()
    scale = 0.0 if p == 1 else 1.0 / (1.0 - p)  # p = 1: every element dropped, no division by 0
    grid = (triton.cdiv(n, BLOCK),)
    _dropout_fwd_kernel[grid](flat(out), flat(x), n, p, scale, seed, activation_flag(activation), BLOCK)


class TritonDropout(torch.autograd.Function):
    """y = act(mask * x / (1 - p)) with mask(i) = rand(seed, i) >= p; relu, when fused, in the same kernel."""

    @staticmethod
    def forward(ctx, x, p, inplace, activation):
        seed = draw_seed()
        if not dense_in_memory(x):
            source = x.contiguous()
            out = source if inplace else torch.empty_like(source)
        else:
            source, out = x, (x if inplace else torch.empty_like(x))
        if x.numel():
            _launch_fwd(out, source, p, seed, activation)
        if inplace:
            if out is not x:  # a strided x, updated through its contiguous copy
                x.copy_(out)
                out = x
            ctx.mark_dirty(x)
        ctx.p, ctx.seed, ctx.from_output = p, seed, activation == "relu"
        ctx.layout = (tuple(out.shape), tuple(out.stride()))
        if ctx.from_output:
            ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, dy):
        shape, stride = ctx.layout
        dx = torch.empty_strided(shape, stride, dtype=dy.dtype, device=dy.device)
        if dx.numel() == 0:
            return dx, None, None, None
        if not dense_in_memory(dy) or dy.stride() != stride:
            dy = torch.empty_strided(shape, stride, dtype=dy.dtype, device=dy.device).copy_(dy)
        y = ctx.saved_tensors[0] if ctx.from_output else dy  # y unread without the fused relu
        p = ctx.p
        scale = 0.0 if p == 1 else 1.0 / (1.0 - p)
        grid = (triton.cdiv(dx.numel(), BLOCK),)
        _dropout_bwd_kernel[grid](flat(dx), flat(dy), flat(y), dx.numel(), p, scale, ctx.seed, ctx.from_output, BLOCK)
        return dx, None, None, None


def triton_dropout(x, p, training, inplace, activation, fuse: bool, what: str) -> torch.Tensor:
    """Check, then run the kernel (with relu in it when `fuse`); eval mode returns x as F.dropout does."""
    check_args(x, p, training, inplace, activation, what)
    check_triton_tensor(x, what)
    check_int32_offsets(what, x.numel())
    if not training and not (fuse and activation):
        return apply_activation(x, activation)
    # eval mode with a fused relu: the same kernel at p = 0 (every element kept), the relu in it
    out = TritonDropout.apply(x, float(p) if training else 0.0, inplace, activation if fuse else None)
    return out if fuse else apply_activation(out, activation)


TORCH_OPS = {
    "randint": "the seed: one integer from torch's CPU generator per call",
    "_local_scalar_dense": "the seed read to the host",
    "clone": "an x neither contiguous nor dense in another order (a slice with gaps, stride 0) copied first",
    "copy_": "in place on such an x: the result copied back; an output gradient stored unlike x copied into x's "
    "layout (backward)",
}
UNFUSED = {
    "relu": "the activation after the dropout, as its own op (triton_fused has it in the kernel)",
    "threshold_backward": "relu's backward (backward)",
}


@variant("dropout", "triton_philox", interpreted_on_cpu=True, torch_ops={**TORCH_OPS, **UNFUSED})
def triton_philox_dropout(
    x: torch.Tensor, p: float = 0.5, training: bool = True, inplace: bool = False, activation=None
) -> torch.Tensor:
    """Triton dropout, mask drawn from (seed, offset) by Philox and drawn again in the backward: no mask stored."""
    return triton_dropout(x, p, training, inplace, activation, fuse=False, what="dropout 'triton_philox'")
