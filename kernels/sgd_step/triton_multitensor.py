"""Rung 3, `triton_multitensor`: the whole SGD step in one launch over every parameter (kernels/multitensor.py: a
table with one row per chunk of a tensor). Row columns: the parameter's, gradient's and momentum buffer's addresses,
the tensor's size, the chunk's start, and whether the buffer is new (the first step with momentum: b = d). The
update runs in fp32 whatever the parameters' dtype, each value rounded once when stored. Every parameter must have
one dtype and one device.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from kernels.multitensor import BLOCK, CHUNK, TABLE_OPS, check_triton_lists, chunk_rows, device_table
from kernels.registry import variant
from kernels.sgd_step.spec import check_args


@triton.jit
def _sgd_step_kernel(
    table_ptr,
    like_ptr,
    lr,
    momentum,
    dampening,
    weight_decay,
    MOMENTUM: tl.constexpr,
    NESTEROV: tl.constexpr,
    WEIGHT_DECAY: tl.constexpr,
    MAXIMIZE: tl.constexpr,
    CHUNK_SIZE: tl.constexpr,
    BLOCK_SIZE: tl.constexpr,
):
    row = table_ptr + tl.program_id(0) * 6
    # addresses stored as int64, made pointers of the parameters' element type (like_ptr: the first parameter)
    p_ptr = tl.load(row).to(like_ptr.dtype)
    g_ptr = tl.load(row + 1).to(like_ptr.dtype)
    b_ptr = tl.load(row + 2).to(like_ptr.dtype)
    n = tl.load(row + 3)
    start = tl.load(row + 4)
    new_buffer = tl.load(row + 5) != 0
    for i in range(0, CHUNK_SIZE, BLOCK_SIZE):
        offs = start + i + tl.arange(0, BLOCK_SIZE)
        inside = offs < n
        p = tl.load(p_ptr + offs, mask=inside, other=0.0).to(tl.float32)
        d = tl.load(g_ptr + offs, mask=inside, other=0.0).to(tl.float32)
        if MAXIMIZE:
            d = -d
        if WEIGHT_DECAY:
            d += weight_decay * p
        if MOMENTUM:
            old = tl.load(b_ptr + offs, mask=inside & ~new_buffer, other=0.0).to(tl.float32)
            b = tl.where(new_buffer, d, momentum * old + (1.0 - dampening) * d)
            tl.store(b_ptr + offs, b.to(b_ptr.dtype.element_ty), mask=inside)
            if NESTEROV:
                d += momentum * b
            else:
                d = b
        tl.store(p_ptr + offs, (p - lr * d).to(p_ptr.dtype.element_ty), mask=inside)


@variant("sgd_step", "triton_multitensor", interpreted_on_cpu=True, differentiable=False, torch_ops=TABLE_OPS)
def triton_multitensor_sgd_step(
    params,
    grads,
    momentum_buffers,
    lr=1e-3,
    momentum=0.0,
    dampening=0.0,
    nesterov=False,
    weight_decay=0.0,
    maximize=False,
) -> None:
    """One Triton launch updates every parameter (and momentum buffer), chunk by chunk, from a table of addresses."""
    what = "sgd_step 'triton_multitensor'"
    check_args(params, grads, momentum_buffers, lr, momentum, dampening, nesterov, weight_decay, maximize, what)
    check_triton_lists(params, grads, what)
    with torch.no_grad():  # an update, not part of any graph
        new = [[int(bool(momentum) and b is None)] for b in momentum_buffers]
        if momentum:
            for i, p in enumerate(params):
                if momentum_buffers[i] is None:
                    momentum_buffers[i] = torch.empty_like(p)
        rows = chunk_rows([params, grads, momentum_buffers if momentum else []], new)
        if not rows:
            return
        _sgd_step_kernel[(len(rows),)](
            device_table(rows, params[0].device),
            params[0],
            float(lr),
            float(momentum),
            float(dampening),
            float(weight_decay),
            bool(momentum),
            bool(nesterov),
            bool(weight_decay),
            bool(maximize),
            CHUNK,
            BLOCK,
        )
