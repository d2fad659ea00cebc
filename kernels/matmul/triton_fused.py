"""Rung 4, `triton_fused`: the Linear + activation of the lesson models in one kernel.

The tiled kernel of triton_tiled.py adds the bias and applies relu, sigmoid or tanh to its fp32 accumulator before
the single store of C: the unfused composition writes the product, reads it back for the bias, writes it, reads it
for the activation and writes it again (two extra round trips of M*N elements).

Backward: the activation's derivative comes from the saved output y (relu: y > 0; sigmoid: y (1 - y); tanh:
1 - y^2) as PyTorch elementwise ops, dbias = the sum of dZ over rows; dA and dB go through the Triton kernel.
"""

from __future__ import annotations

import torch

from kernels.matmul.triton_tiled import (
    BATCHED,
    EMPTY_SUM,
    as_batched,
    check_triton_args,
    interpreter_bf16_dot,
    matmul_grads,
    matmul_launch,
)
from kernels.registry import variant


def activation_grad(y: torch.Tensor, dy: torch.Tensor, activation: str | None) -> torch.Tensor:
    """dL/dz for y = act(z), from the output y, computed in fp32."""
    y32, dy32 = y.float(), dy.float()
    if activation == "relu":
        dz = dy32 * (y32 > 0)
    elif activation == "sigmoid":
        dz = dy32 * y32 * (1 - y32)
    elif activation == "tanh":
        dz = dy32 * (1 - y32 * y32)
    else:
        dz = dy32
    return dz.to(dy.dtype)


class TritonFusedLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b, bias, activation):
        y = matmul_launch(a, b, bias, activation)
        ctx.save_for_backward(a, b, y)
        ctx.activation, ctx.has_bias = activation, bias is not None
        return y

    @staticmethod
    def backward(ctx, dy):
        a, b, y = ctx.saved_tensors
        dz = activation_grad(y, dy, ctx.activation)
        da, db = matmul_grads(a, b, dz, ctx.needs_input_grad[:2])
        dbias = dz.float().sum(dim=tuple(range(dz.dim() - 1))).to(dz.dtype) if ctx.has_bias else None
        return da, db, dbias, None


FUSED_BACKWARD = {
    "mul": "the activation's derivative from the saved output, in fp32 (backward)",
    "gt": "relu's derivative, y > 0 (backward)",
    "rsub": "sigmoid's and tanh's derivatives, 1 - y and 1 - y^2 (backward)",
    "sum": "the bias gradient: dZ summed over rows; the gradient of an operand broadcast over a batch (backward)",
    "_to_copy": "fp16/bf16 gradients taken to fp32 for the derivative and the bias sum, and back (backward)",
}


@variant(
    "matmul",
    "triton_fused",
    interpreted_on_cpu=True,
    limit=interpreter_bf16_dot,
    torch_ops={**FUSED_BACKWARD, **EMPTY_SUM, **BATCHED},
)
def triton_fused_matmul(a: torch.Tensor, b: torch.Tensor, bias=None, activation=None) -> torch.Tensor:
    """Triton matmul with bias + activation in the epilogue: one kernel, one write of C."""
    check_triton_args(a, b, bias, activation, "matmul 'triton_fused'")
    a2, b2, restore = as_batched(a, b)
    return restore(TritonFusedLinear.apply(a2, b2, bias, activation))
