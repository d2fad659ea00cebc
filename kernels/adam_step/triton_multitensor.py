"""Rung 3, `triton_multitensor`: the whole Adam step in one launch over every parameter (kernels/multitensor.py: a
table with one row per chunk of a tensor). Row columns: the addresses of the parameter, its gradient, its two
moments and amsgrad's maximum, the tensor's size and the chunk's start. The update runs in fp32 whatever the
parameters' dtype, each value rounded once when stored.

The bias corrections depend on each tensor's step count, which torch.optim.Adam keeps as a 0-d tensor on the CPU per
parameter: they are read on the host (no GPU sync), and tensors with the same count share a launch. That is one
launch, unless parameters joined the optimizer at different steps.
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl

from kernels.adam_step.spec import check_args
from kernels.multitensor import BLOCK, CHUNK, TABLE_OPS, check_triton_lists, chunk_rows, device_table
from kernels.registry import variant


@triton.jit
def _adam_step_kernel(
    table_ptr,
    like_ptr,
    beta1,
    beta2,
    eps,
    weight_decay,
    step_size,
    bias2_sqrt,
    WEIGHT_DECAY: tl.constexpr,
    AMSGRAD: tl.constexpr,
    MAXIMIZE: tl.constexpr,
    CHUNK_SIZE: tl.constexpr,
    BLOCK_SIZE: tl.constexpr,
):
    row = table_ptr + tl.program_id(0) * 7
    # addresses stored as int64, made pointers of the parameters' element type (like_ptr: the first parameter)
    p_ptr = tl.load(row).to(like_ptr.dtype)
    g_ptr = tl.load(row + 1).to(like_ptr.dtype)
    m_ptr = tl.load(row + 2).to(like_ptr.dtype)
    v_ptr = tl.load(row + 3).to(like_ptr.dtype)
    vmax_ptr = tl.load(row + 4).to(like_ptr.dtype)
    n = tl.load(row + 5)
    start = tl.load(row + 6)
    for i in range(0, CHUNK_SIZE, BLOCK_SIZE):
        offs = start + i + tl.arange(0, BLOCK_SIZE)
        inside = offs < n
        p = tl.load(p_ptr + offs, mask=inside, other=0.0).to(tl.float32)
        d = tl.load(g_ptr + offs, mask=inside, other=0.0).to(tl.float32)
        if MAXIMIZE:
            d = -d
        if WEIGHT_DECAY:
            d += weight_decay * p
        m = tl.load(m_ptr + offs, mask=inside, other=0.0).to(tl.float32)
        v = tl.load(v_ptr + offs, mask=inside, other=0.0).to(tl.float32)
        m = beta1 * m + (1.0 - beta1) * d
        v = beta2 * v + (1.0 - beta2) * d * d
        tl.store(m_ptr + offs, m.to(m_ptr.dtype.element_ty), mask=inside)
        tl.store(v_ptr + offs, v.to(v_ptr.dtype.element_ty), mask=inside)
        if AMSGRAD:
            v = tl.maximum(tl.load(vmax_ptr + offs, mask=inside, other=0.0).to(tl.float32), v)
            tl.store(vmax_ptr + offs, v.to(vmax_ptr.dtype.element_ty), mask=inside)
        denominator = tl.sqrt(v) / bias2_sqrt + eps
        tl.store(p_ptr + offs, (p - step_size * m / denominator).to(p_ptr.dtype.element_ty), mask=inside)


TORCH_OPS = {
    **TABLE_OPS,
    "_local_scalar_dense": "the step counts read on the host (0-d CPU tensors, as torch.optim.Adam keeps them)",
    "fill_": "the step counts, + 1 on the host",
}


@variant("adam_step", "triton_multitensor", interpreted_on_cpu=True, differentiable=False, torch_ops=TORCH_OPS)
def triton_multitensor_adam_step(
    params,
    grads,
    exp_avgs,
    exp_avg_sqs,
    max_exp_avg_sqs,
    state_steps,
    lr=1e-3,
    betas=(0.9, 0.999),
    eps=1e-8,
    weight_decay=0.0,
    amsgrad=False,
    maximize=False,
) -> None:
    """One Triton launch updates every parameter and its moments (per step count), from a table of addresses."""
    what = "adam_step 'triton_multitensor'"
    check_args(
        params,
        grads,
        exp_avgs,
        exp_avg_sqs,
        max_exp_avg_sqs,
        state_steps,
        lr,
        betas,
        eps,
        weight_decay,
        amsgrad,
        maximize,
        what,
    )
    check_triton_lists(params, grads, what)
    beta1, beta2 = betas
    with torch.no_grad():  # an update, not part of any graph
        groups: dict[float, list[int]] = {}
        for i, s in enumerate(state_steps):
            t = s.item() + 1
            s.fill_(t)
            groups.setdefault(t, []).append(i)
        for t, members in groups.items():
            lists = (params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs)
            rows = chunk_rows([[seq[i] for i in members] if seq else [] for seq in lists])
            if not rows:
                continue
            step_size = lr / (1 - beta1**t)
            _adam_step_kernel[(len(rows),)](
                device_table(rows, params[0].device),
                params[0],
                float(beta1),
                float(beta2),
                float(eps),
                float(weight_decay),
                step_size,
                math.sqrt(1 - beta2**t),
                bool(weight_decay),
                bool(amsgrad),
                bool(maximize),
                CHUNK,
                BLOCK,
            )
