"""Rung 4, `triton_fused`: the conv block of the lesson CNNs, conv + batch norm (evaluation) + relu, in one kernel.

An evaluation-mode batch norm is a per-channel affine map, so it folds into the convolution before the launch:
with scale = gamma / sqrt(running_var + eps), the folded weight is weight * scale and the folded bias
(bias - running_mean) * scale + beta (computed in fp32, rounded once to the weight's dtype). The implicit-GEMM
kernel of triton_implicit_gemm.py then adds the folded bias and applies relu to its fp32 accumulator before its
single store: the unfused block writes the convolution's output, reads and writes it for the batch norm and again
for the relu (two extra round trips of N*K*P*Q elements).

Backward: relu's mask from the saved output, dx and dw of the folded weight through the Triton kernels; torch's
autograd carries the gradient through the folding to the weight, the bias and the batch norm's gamma and beta.
"""

from __future__ import annotations

import torch

from kernels.conv2d.triton_implicit_gemm import CONV_BACKWARD, TritonConv2d, check_triton_args
from kernels.matmul.triton_tiled import interpreter_bf16_dot
from kernels.registry import variant
from kernels.spec import accepts_unbatched


def fold_batch_norm(weight: torch.Tensor, bias, bn, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(weight, bias) of one convolution equal to the convolution followed by the evaluation-mode batch norm."""
    mean, var, gamma, beta = bn
    acc = torch.promote_types(weight.dtype, torch.float32)  # fp32 math for fp16/bf16 weights

    def up(t):
        return t.to(acc)

    scale = torch.rsqrt(up(var) + eps)
    if gamma is not None:
        scale = scale * up(gamma)
    folded_bias = -up(mean) * scale
    if bias is not None:
        folded_bias = folded_bias + up(bias) * scale
    if beta is not None:
        folded_bias = folded_bias + up(beta)
    folded_weight = up(weight) * scale.view(-1, 1, 1, 1)
    return folded_weight.to(weight.dtype), folded_bias.to(weight.dtype)


FOLDING = {
    "rsqrt": "folding the batch norm into the weights: 1 / sqrt(var + eps), per output channel",
    "mul": "folding: the weight and bias scaled per output channel; relu's mask applied to dy (backward)",
    "add": "folding: the folded bias",
    "neg": "folding: -mean * scale",
    "gt": "relu's mask from the saved output, y > 0 (backward)",
}


@variant(
    "conv2d",
    "triton_fused",
    interpreted_on_cpu=True,
    limit=interpreter_bf16_dot,
    torch_ops={**CONV_BACKWARD, **FOLDING},
)
@accepts_unbatched
def triton_fused_conv2d(
    x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, bn=None, bn_eps=1e-5, activation=None
) -> torch.Tensor:
    """Triton implicit-GEMM convolution with the batch norm folded into it and relu in the epilogue: one kernel."""
    op = "conv2d 'triton_fused'"
    geo = check_triton_args(x, weight, bias, stride, padding, dilation, groups, bn, bn_eps, activation, op)
    if bn is not None:
        weight, bias = fold_batch_norm(weight, bias, bn, bn_eps)
    return TritonConv2d.apply(x, weight, bias, geo, activation == "relu")
