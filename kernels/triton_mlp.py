"""A lesson MLP's whole training step in two Triton launches: forward, loss, backward (one kernel), then the SGD
update (a second kernel).

The course's MLPs (weeks 3 to 5) are a few Linear layers of at most a hundred units with sigmoid, tanh or relu between
them, a cross-entropy or MSE loss and SGD. Their eager step is 20 to 60 launches of microseconds each; here it is two:

- `_mlp_fwd_bwd_kernel`: each program takes BLOCK_B rows of the batch through every layer, keeping every layer's
  activations in registers ([BLOCK_B, W] each, W the widest layer padded to a power of two, at least 16 for tl.dot),
  computes the loss and its gradient, and goes back through the layers. The weight and bias gradients are sums over
  the whole batch, so the programs add theirs into one fp32 gradient buffer with atomics: a partials buffer would
  need a reduction pass over (programs x parameters), more bytes than the parameters themselves for these tiny
  layers, and a third launch. Each program writes its part of the loss to its own slot (no zeroing launch).
  From 128 units on (W=128), `_mlp_fwd_bwd_staged_kernel` does the same through a per-program scratch, one slice of
  a weight at a time (a [128, 128] weight block beside the activations would spill registers).
- `_mlp_sgd_kernel`: reads each gradient once the first kernel has finished (the launch boundary is the global
  barrier the atomics need), updates the parameter (and momentum buffer), writes the gradient back as zero for the
  next step, and its first program sums the loss partials.

Parameters live in one flat fp32 buffer (the modules' weights and biases become views of it), so the update is one
launch whatever the layer count. Matmuls use tl.dot in IEEE fp32 (no TF32): fp32 means fp32, as everywhere here.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import nn

from kernels.triton_support import check_triton_tensor, next_power_of_2

ACTIVATIONS = {"none": 0, "sigmoid": 1, "tanh": 2, "relu": 3}
LOSSES = {"cross_entropy": 0, "mse": 1}
MAX_LAYERS = 4
MAX_WIDTH = 128
BLOCK_B = 16  # rows per program: tl.dot needs at least 16
UPDATE_BLOCK = 1024


@triton.jit
def _act(z, ACT: tl.constexpr):
    out = z
    if ACT == 1:
        out = tl.sigmoid(z)
    if ACT == 2:
        out = 2.0 * tl.sigmoid(2.0 * z) - 1.0  # tanh, from the exp-stable sigmoid
    if ACT == 3:
        out = tl.maximum(z, 0.0)
    return out


@triton.jit
def _act_grad(dh, a, ACT: tl.constexpr):
    """The gradient through the activation, from its output `a` (what the forward kept)."""
    out = dh
    if ACT == 1:
        out = dh * a * (1.0 - a)
    if ACT == 2:
        out = dh * (1.0 - a * a)
    if ACT == 3:
        out = tl.where(a > 0.0, dh, 0.0)
    return out


@triton.jit
def _weight(p_ptr, n_out, n_in, W: tl.constexpr):
    """A layer's [n_out, n_in] weight as a zero-padded [W, W] block (padded rows and columns contribute nothing)."""
    o = tl.arange(0, W)
    i = tl.arange(0, W)
    return tl.load(p_ptr + o[:, None] * n_in + i[None, :], mask=(o[:, None] < n_out) & (i[None, :] < n_in), other=0.0)


@triton.jit
def _linear(h, w_ptr, b_ptr, n_out, n_in, W: tl.constexpr):
    o = tl.arange(0, W)
    b = tl.load(b_ptr + o, mask=o < n_out, other=0.0)
    return tl.dot(h, tl.trans(_weight(w_ptr, n_out, n_in, W)), input_precision="ieee") + b[None, :]


@triton.jit
def _linear_backward(dz, h, w_ptr, gw_ptr, gb_ptr, n_out, n_in, W: tl.constexpr):
    """Add this block's dW = dz^T h and db = sum(dz) into the gradient buffer; return dh = dz W."""
    o = tl.arange(0, W)
    i = tl.arange(0, W)
    gw = tl.dot(tl.trans(dz), h, input_precision="ieee")
    tl.atomic_add(gw_ptr + o[:, None] * n_in + i[None, :], gw, mask=(o[:, None] < n_out) & (i[None, :] < n_in))
    tl.atomic_add(gb_ptr + o, tl.sum(dz, axis=0), mask=o < n_out)
    return tl.dot(dz, _weight(w_ptr, n_out, n_in, W), input_precision="ieee")


@triton.jit
def _loss_grad(z, y_ptr, partial_ptr, pid, rows, in_rows, cols, d_out, scale, LOSS: tl.constexpr):
    """The loss of these rows (their share of the mean, written to this program's slot) and its gradient dz (scale:
    the mean's 1 / count), zero outside the batch and the width."""
    valid = in_rows[:, None] & (cols[None, :] < d_out)
    if LOSS == 0:  # cross-entropy over d_out classes, target indices
        y = tl.load(y_ptr + rows, mask=in_rows, other=0)
        logits = tl.where(valid, z, -float("inf"))
        m = tl.max(logits, axis=1)
        m = tl.where(in_rows, m, 0.0)
        e = tl.where(valid, tl.exp(logits - m[:, None]), 0.0)
        s = tl.sum(e, axis=1)
        s = tl.where(in_rows, s, 1.0)
        hit = cols[None, :] == y[:, None]
        row_loss = m + tl.log(s) - tl.sum(tl.where(hit & valid, z, 0.0), axis=1)
        dz = tl.where(valid, (e / s[:, None] - tl.where(hit, 1.0, 0.0)) * scale, 0.0)
    else:  # MSE against [B, d_out] targets
        y = tl.load(y_ptr + rows[:, None] * d_out + cols[None, :], mask=valid, other=0.0)
        diff = tl.where(valid, z - y, 0.0)
        row_loss = tl.sum(diff * diff, axis=1)
        dz = 2.0 * diff * scale
    tl.store(partial_ptr + pid, tl.sum(tl.where(in_rows, row_loss, 0.0), axis=0) * scale)
    return dz


@triton.jit
def _mlp_fwd_bwd_kernel(
    x_ptr,
    y_ptr,
    p_ptr,
    g_ptr,
    partial_ptr,
    B,
    scale,
    d0,
    d1,
    d2,
    d3,
    d4,
    ow1,
    ob1,
    ow2,
    ob2,
    ow3,
    ob3,
    ow4,
    ob4,
    N_LAYERS: tl.constexpr,
    ACT: tl.constexpr,
    LOSS: tl.constexpr,
    BLOCK: tl.constexpr,
    W: tl.constexpr,
):
    pid = tl.program_id(0)
    rows = pid * BLOCK + tl.arange(0, BLOCK)
    cols = tl.arange(0, W)
    in_rows = rows < B
    h0 = tl.load(x_ptr + rows[:, None] * d0 + cols[None, :], mask=in_rows[:, None] & (cols[None, :] < d0), other=0.0)
    # forward: h_k is the input of layer k + 1 (kept for the backward); unused ones stay placeholders
    z = _linear(h0, p_ptr + ow1, p_ptr + ob1, d1, d0, W)
    h1 = h0
    h2 = h0
    h3 = h0
    d_out = d1
    if N_LAYERS > 1:
        h1 = _act(z, ACT)
        z = _linear(h1, p_ptr + ow2, p_ptr + ob2, d2, d1, W)
        d_out = d2
    if N_LAYERS > 2:
        h2 = _act(z, ACT)
        z = _linear(h2, p_ptr + ow3, p_ptr + ob3, d3, d2, W)
        d_out = d3
    if N_LAYERS > 3:
        h3 = _act(z, ACT)
        z = _linear(h3, p_ptr + ow4, p_ptr + ob4, d4, d3, W)
        d_out = d4
    dz = _loss_grad(z, y_ptr, partial_ptr, pid, rows, in_rows, cols, d_out, scale, LOSS)
    # backward, from the last layer: layer k + 1 takes h_k
    if N_LAYERS > 3:
        dh = _linear_backward(dz, h3, p_ptr + ow4, g_ptr + ow4, g_ptr + ob4, d4, d3, W)
        dz = _act_grad(dh, h3, ACT)
    if N_LAYERS > 2:
        dh = _linear_backward(dz, h2, p_ptr + ow3, g_ptr + ow3, g_ptr + ob3, d3, d2, W)
        dz = _act_grad(dh, h2, ACT)
    if N_LAYERS > 1:
        dh = _linear_backward(dz, h1, p_ptr + ow2, g_ptr + ow2, g_ptr + ob2, d2, d1, W)
        dz = _act_grad(dh, h1, ACT)
    _linear_backward(dz, h0, p_ptr + ow1, g_ptr + ow1, g_ptr + ob1, d1, d0, W)


# From 128 units on, a [W, W] weight block no longer fits a program's registers beside the activations (sm_90: 8-48
# KB of spills at 8 warps). The staged kernel keeps one [NC, W] slice of a weight in registers at a time: each layer's
# output is computed NC columns at a time and written to a per-program scratch ([BLOCK, W] per layer, 8 KB at W=128,
# read back by the same program at once, so it stays in L1/L2), and the backward reads the inputs' columns back from
# it. A CTA barrier separates a layer's writes from its reads: other warps of the program wrote them. The slices are
# a loop, not unrolled (tl.static_range): unrolled, the compiler hoists every slice's loads to the top and spills
# (sm_90: 255 registers and 10 KB of spills; as a loop, 8 warps: ~110 registers, none, 60 KB of shared memory for the
# pipelined slices).
STAGED_FROM = 128
NC = 32  # weight columns (forward) or input columns (backward) per slice


@triton.jit
def _read_back(ptr, BLOCK: tl.constexpr, W: tl.constexpr):
    """The [BLOCK, W] scratch at ptr, once every warp of the program has written its part (the first barrier), and
    before any warp writes it again (the second)."""
    tl.debug_barrier()
    out = tl.load(ptr + tl.arange(0, BLOCK)[:, None] * W + tl.arange(0, W)[None, :])
    tl.debug_barrier()
    return out


@triton.jit
def _linear_staged(
    h,
    w_ptr,
    b_ptr,
    out_ptr,
    n_out,
    n_in,
    ACT: tl.constexpr,
    LAST: tl.constexpr,
    BLOCK: tl.constexpr,
    W: tl.constexpr,
    NC: tl.constexpr,
):
    """act(h W^T + b) (the LAST layer: no act) written to the [BLOCK, W] scratch at out_ptr NC output columns at a
    time, and returned read back whole."""
    r = tl.arange(0, BLOCK)
    i = tl.arange(0, W)
    for c in range(0, W, NC):
        o = c + tl.arange(0, NC)
        w = tl.load(w_ptr + o[:, None] * n_in + i[None, :], mask=(o[:, None] < n_out) & (i[None, :] < n_in), other=0.0)
        b = tl.load(b_ptr + o, mask=o < n_out, other=0.0)
        z = tl.dot(h, tl.trans(w), input_precision="ieee") + b[None, :]
        if not LAST:
            z = _act(z, ACT)
        tl.store(out_ptr + r[:, None] * W + o[None, :], z)
    return _read_back(out_ptr, BLOCK, W)


@triton.jit
def _linear_backward_staged(
    dz,
    h_ptr,
    w_ptr,
    gw_ptr,
    gb_ptr,
    dz_ptr,
    n_out,
    n_in,
    ACT: tl.constexpr,
    INPUT_GRAD: tl.constexpr,
    BLOCK: tl.constexpr,
    W: tl.constexpr,
    NC: tl.constexpr,
):
    """Add dW = dz^T h and db = sum(dz) into the gradient buffer, NC input columns at a time (h's columns read back
    from the scratch at h_ptr); with INPUT_GRAD, return the layer below's dz = act'(dz W), written NC columns at a time
    to the scratch at dz_ptr and read back whole."""
    r = tl.arange(0, BLOCK)
    o = tl.arange(0, W)
    tl.atomic_add(gb_ptr + o, tl.sum(dz, axis=0), mask=o < n_out)
    for c in range(0, W, NC):
        i = c + tl.arange(0, NC)
        h = tl.load(h_ptr + r[:, None] * W + i[None, :])
        inside = (o[:, None] < n_out) & (i[None, :] < n_in)
        tl.atomic_add(
            gw_ptr + o[:, None] * n_in + i[None, :], tl.dot(tl.trans(dz), h, input_precision="ieee"), mask=inside
        )
        if INPUT_GRAD:
            w = tl.load(w_ptr + o[:, None] * n_in + i[None, :], mask=inside, other=0.0)
            dh = tl.dot(dz, w, input_precision="ieee")
            tl.store(dz_ptr + r[:, None] * W + i[None, :], _act_grad(dh, h, ACT))
    if INPUT_GRAD:
        dz = _read_back(dz_ptr, BLOCK, W)
    return dz


@triton.jit
def _mlp_fwd_bwd_staged_kernel(
    x_ptr,
    y_ptr,
    p_ptr,
    g_ptr,
    partial_ptr,
    scratch_ptr,
    B,
    scale,
    d0,
    d1,
    d2,
    d3,
    d4,
    ow1,
    ob1,
    ow2,
    ob2,
    ow3,
    ob3,
    ow4,
    ob4,
    N_LAYERS: tl.constexpr,
    ACT: tl.constexpr,
    LOSS: tl.constexpr,
    BLOCK: tl.constexpr,
    W: tl.constexpr,
    NC: tl.constexpr,
):
    """_mlp_fwd_bwd_kernel for wide layers: slot k of this program's scratch holds h_k, the input of layer k + 1
    (slot 0 the batch's rows, slot N_LAYERS the logits, then each layer's dz on the way back)."""
    tl.static_assert(W % NC == 0, "the slices must tile the padded width")
    pid = tl.program_id(0)
    rows = pid * BLOCK + tl.arange(0, BLOCK)
    cols = tl.arange(0, W)
    in_rows = rows < B
    tile = tl.arange(0, BLOCK)[:, None] * W + cols[None, :]
    size = BLOCK * W
    slot = scratch_ptr + pid.to(tl.int64) * (N_LAYERS + 1) * size
    h = tl.load(x_ptr + rows[:, None] * d0 + cols[None, :], mask=in_rows[:, None] & (cols[None, :] < d0), other=0.0)
    tl.store(slot + tile, h)
    # forward: layer k writes act(z) to slot k (the last layer z, no activation), read back whole for the next
    h = _linear_staged(h, p_ptr + ow1, p_ptr + ob1, slot + size, d1, d0, ACT, N_LAYERS == 1, BLOCK, W, NC)
    d_out = d1
    if N_LAYERS > 1:
        h = _linear_staged(h, p_ptr + ow2, p_ptr + ob2, slot + 2 * size, d2, d1, ACT, N_LAYERS == 2, BLOCK, W, NC)
        d_out = d2
    if N_LAYERS > 2:
        h = _linear_staged(h, p_ptr + ow3, p_ptr + ob3, slot + 3 * size, d3, d2, ACT, N_LAYERS == 3, BLOCK, W, NC)
        d_out = d3
    if N_LAYERS > 3:
        h = _linear_staged(h, p_ptr + ow4, p_ptr + ob4, slot + 4 * size, d4, d3, ACT, True, BLOCK, W, NC)
        d_out = d4
    dz = _loss_grad(h, y_ptr, partial_ptr, pid, rows, in_rows, cols, d_out, scale, LOSS)
    # backward, from the last layer: layer k + 1 takes h_k from slot k, and writes the dz below it to the top slot
    # (where the logits were)
    top = slot + N_LAYERS * size
    if N_LAYERS > 3:
        dz = _linear_backward_staged(
            dz, slot + 3 * size, p_ptr + ow4, g_ptr + ow4, g_ptr + ob4, top, d4, d3, ACT, True, BLOCK, W, NC
        )
    if N_LAYERS > 2:
        dz = _linear_backward_staged(
            dz, slot + 2 * size, p_ptr + ow3, g_ptr + ow3, g_ptr + ob3, top, d3, d2, ACT, True, BLOCK, W, NC
        )
    if N_LAYERS > 1:
        dz = _linear_backward_staged(
            dz, slot + size, p_ptr + ow2, g_ptr + ow2, g_ptr + ob2, top, d2, d1, ACT, True, BLOCK, W, NC
        )
    _linear_backward_staged(dz, slot, p_ptr + ow1, g_ptr + ow1, g_ptr + ob1, top, d1, d0, ACT, False, BLOCK, W, NC)


@triton.jit
def _mlp_sgd_kernel(
    p_ptr,
    g_ptr,
    buf_ptr,
    partial_ptr,
    loss_ptr,
    n,
    n_partials,
    lr,
    momentum,
    MOMENTUM: tl.constexpr,
    BLOCK: tl.constexpr,
    PARTIALS: tl.constexpr,
):
    pid = tl.program_id(0)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    inside = offs < n
    p = tl.load(p_ptr + offs, mask=inside, other=0.0)
    d = tl.load(g_ptr + offs, mask=inside, other=0.0)
    if MOMENTUM:  # torch's SGD: the first step's buffer is the gradient itself; a zero buffer gives just that
        d = momentum * tl.load(buf_ptr + offs, mask=inside, other=0.0) + d
        tl.store(buf_ptr + offs, d, mask=inside)
    tl.store(p_ptr + offs, p - lr * d, mask=inside)
    tl.store(g_ptr + offs, tl.zeros_like(d), mask=inside)  # the next step's atomics start from zero
    if pid == 0:
        total = tl.zeros((PARTIALS,), dtype=tl.float32)
        for start in range(0, n_partials, PARTIALS):
            k = start + tl.arange(0, PARTIALS)
            total += tl.load(partial_ptr + k, mask=k < n_partials, other=0.0)
        tl.store(loss_ptr, tl.sum(total, axis=0))


def check_mlp(linears, activation: str, loss: str, lr: float, momentum: float = 0.0) -> list[int]:
    """The MLP's widths [in, hidden..., out] if TritonMLPStep supports its shape and options (its tensors are checked
    when the step is made); else a ValueError naming what it does not support."""
    if not 1 <= len(linears) <= MAX_LAYERS:
        raise ValueError(f"triton_mlp: 1 to {MAX_LAYERS} Linear layers, got {len(linears)}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"triton_mlp: activation {activation!r} is not one of {', '.join(ACTIVATIONS)}")
    if loss not in LOSSES:
        raise ValueError(f"triton_mlp: loss {loss!r} is not one of {', '.join(LOSSES)}")
    if lr <= 0 or momentum < 0:
        raise ValueError(f"triton_mlp: lr must be positive and momentum not negative, got {lr}, {momentum}")
    dims = [linears[0].in_features] + [m.out_features for m in linears]
    for a, b in zip(linears, linears[1:], strict=False):
        if a.out_features != b.in_features:
            raise ValueError(f"triton_mlp: layer widths do not chain ({a.out_features} into {b.in_features})")
    if max(dims) > MAX_WIDTH:
        raise ValueError(f"triton_mlp: widths up to {MAX_WIDTH} (registers per program), got {max(dims)}")
    if any(m.bias is None for m in linears):
        raise ValueError("triton_mlp: every Linear layer needs its bias")
    return dims


class TritonMLPStep:
    """SGD training steps of an MLP in two launches each: step(x, y) -> the loss (a 0-d tensor, the step's mean).

    `linears` are the MLP's Linear layers in order (at most MAX_LAYERS, widths at most MAX_WIDTH, fp32 on one device,
    with biases; anything with weight, bias, in_features and out_features: models/mlp_step.py reads them from a lab's
    model, a scalar w * x + b included); `activation` is applied between them (not after the last). Their weights
    and biases become views of one flat buffer (the same nn.Parameter objects, so the model sees every update);
    gradients and momentum buffers are flat buffers of the same layout. The loss: "cross_entropy" (y: class indices
    in range; no ignore_index) or "mse" (y: [B, out]), mean reduction. `TritonMLPStep.made` counts the steps made in
    this process (a lesson on triton_mlp checks it made one)."""

    made = 0

    def __init__(self, linears, activation: str, loss: str, lr: float, momentum: float = 0.0):
        dims = check_mlp(linears, activation, loss, lr, momentum)
        for m in linears:
            check_triton_tensor(m.weight, "triton_mlp")
            if m.weight.dtype != torch.float32:
                raise TypeError(f"triton_mlp: fp32 parameters only, got {m.weight.dtype}")
        self.dims, self.activation, self.loss, self.lr, self.momentum = dims, activation, loss, lr, momentum
        with torch.no_grad():
            self.params = torch.cat([t.detach().reshape(-1) for m in linears for t in (m.weight, m.bias)])
            self.offsets, at = [], 0
            for m in linears:  # the modules' parameters become views of the flat buffer
                ow, ob = at, at + m.weight.numel()
                m.weight.data = self.params[ow:ob].view_as(m.weight)
                m.bias.data = self.params[ob : ob + m.bias.numel()].view_as(m.bias)
                self.offsets += [ow, ob]
                at = ob + m.bias.numel()
        self.grads = torch.zeros_like(self.params)
        self.buffers = torch.zeros_like(self.params) if momentum else self.grads  # unused without momentum
        self.width = max(16, next_power_of_2(max(dims)))
        self.loss_value = torch.zeros((), device=self.params.device)
        self._partials: dict[int, torch.Tensor] = {}
        self._scratch: dict[int, torch.Tensor] = {}  # the staged kernel's, per program count
        self.kernel = "staged" if self.width >= STAGED_FROM else "registers"
        TritonMLPStep.made += 1

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        check_triton_tensor(x, "triton_mlp")
        b = x.shape[0]
        if x.dim() != 2 or x.shape[1] != self.dims[0] or b < 1:
            raise ValueError(f"triton_mlp: x must be [batch, {self.dims[0]}], got {list(x.shape)}")
        if self.loss == "cross_entropy":
            if y.shape != (b,) or y.dtype not in (torch.int64, torch.int32):
                raise ValueError(f"triton_mlp: cross-entropy targets are [batch] class indices, got {list(y.shape)}")
        elif y.shape != (b, self.dims[-1]):
            raise ValueError(f"triton_mlp: MSE targets are [batch, {self.dims[-1]}], got {list(y.shape)}")
        x, y = x.contiguous().float(), y.contiguous()
        if self.loss == "mse":
            y = y.float()
        programs = triton.cdiv(b, BLOCK_B)
        if programs not in self._partials:
            self._partials[programs] = torch.empty(programs, device=x.device)
        partials = self._partials[programs]
        count = b if self.loss == "cross_entropy" else b * self.dims[-1]
        d = self.dims + [0] * (MAX_LAYERS + 1 - len(self.dims))
        o = self.offsets + [0] * (2 * MAX_LAYERS - len(self.offsets))
        layers = len(self.dims) - 1
        if self.kernel == "staged":
            if programs not in self._scratch:
                self._scratch[programs] = torch.empty(programs * (layers + 1) * BLOCK_B * self.width, device=x.device)
            _mlp_fwd_bwd_staged_kernel[(programs,)](
                x,
                y,
                self.params,
                self.grads,
                partials,
                self._scratch[programs],
                b,
                1.0 / count,
                *d,
                *o,
                N_LAYERS=layers,
                ACT=ACTIVATIONS[self.activation],
                LOSS=LOSSES[self.loss],
                BLOCK=BLOCK_B,
                W=self.width,
                NC=NC,
                num_warps=8,
            )
        else:
            # 8 warps at 64 units: a program holds each layer's [W, W] weight block and [16, W] activations (sm_90: at
            # 4 warps W=64 spills ~1.8 KB, none at 8)
            _mlp_fwd_bwd_kernel[(programs,)](
                x,
                y,
                self.params,
                self.grads,
                partials,
                b,
                1.0 / count,
                *d,
                *o,
                N_LAYERS=layers,
                ACT=ACTIVATIONS[self.activation],
                LOSS=LOSSES[self.loss],
                BLOCK=BLOCK_B,
                W=self.width,
                num_warps=8 if self.width >= 64 else 4,
            )
        n = self.params.numel()
        _mlp_sgd_kernel[(triton.cdiv(n, UPDATE_BLOCK),)](
            self.params,
            self.grads,
            self.buffers,
            partials,
            self.loss_value,
            n,
            programs,
            self.lr,
            self.momentum,
            MOMENTUM=bool(self.momentum),
            BLOCK=UPDATE_BLOCK,
            PARTIALS=min(1024, max(16, next_power_of_2(programs))),
        )
        return self.loss_value


# (depth, activation, loss, momentum, hidden width): every code path once (each depth, activation, loss and the
# momentum flag), the widest layers at one depth; the compile check compiles each (ptxas takes seconds per W=128 one)
SAMPLES = (
    (1, "none", "cross_entropy", 0.0, 0),
    (2, "sigmoid", "mse", 0.9, MAX_WIDTH),
    (3, "tanh", "cross_entropy", 0.0, 64),
    (4, "relu", "mse", 0.9, 32),
    (4, "tanh", "cross_entropy", 0.0, MAX_WIDTH),
)


def sample_steps(device: str = "cpu") -> None:
    """One step of each of SAMPLES' small MLPs: what the sm_90 compile check (dnnbench/triton_compile.py) records its
    launches from."""
    for n_layers, activation, loss, momentum, width in SAMPLES:
        widths = [5, *([width] * (n_layers - 1)), 3]
        linears = [nn.Linear(a, b).to(device) for a, b in zip(widths, widths[1:], strict=False)]
        step = TritonMLPStep(linears, activation, loss, lr=0.1, momentum=momentum)
        x = torch.randn(40, widths[0], device=device)
        y = torch.randint(0, 3, (40,), device=device) if loss == "cross_entropy" else x[:, :3]
        step(x, y)
