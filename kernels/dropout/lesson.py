"""Rung 0: dropout as the course explains it (5.2): each neuron kept with probability 1 - p, a mask of Bernoulli
draws as a float tensor the size of x (kept for the backward: 4 bytes per element in fp32), and the survivors scaled
by 1 / (1 - p) so that the layer's expected output is unchanged. Three passes: draw, multiply, divide."""

import torch

from kernels.dropout.spec import apply_activation, check_args
from kernels.registry import variant

P_ONE = "the formula divides by 1 - p = 0 at p = 1: every output is 0 / 0 = NaN (torch returns zeros)"


@variant("dropout", "lesson", unsupported={"p1": P_ONE, "p1_relu": P_ONE})
def lesson_dropout(x: torch.Tensor, p: float = 0.5, training: bool = True, inplace: bool = False, activation=None):
    """x * (rand >= p) / (1 - p), the course's formula."""
    check_args(x, p, training, inplace, activation)
    if not training:
        return apply_activation(x, activation)
    # drawn in fp32 whatever x's dtype: a bf16 uniform takes 256 values, and P(u < 0.2) would be 52/256, not 0.2
    mask = (torch.rand(x.shape, device=x.device) >= p).to(x.dtype)
    if inplace:
        return apply_activation(x.mul_(mask).div_(1 - p), activation)
    return apply_activation(x * mask / (1 - p), activation)
