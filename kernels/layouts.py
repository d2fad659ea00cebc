"""The memory layouts a variant must honour: the same values stored with other strides, offsets and gaps. The
layout fuzz (tests/test_layout_fuzz.py, its strategies in kernels/fuzz.py) and `dnnbench judge` re-store every
tensor argument, and the output gradient, this way.

A `FuzzExample` is one such input of an op: the op's Case (shape, dtype, parameters, fill) plus a layout for each
tensor argument and for the output gradient, and a transform of the values (ties, huge, tiny). Its repr is a
copy-pasteable reproduction:

    from tests.fuzz import *
    check_example("triton_rowwise", FuzzExample(...))
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from kernels.spec import Case, Inputs
from kernels.step import shape_of

FP32 = torch.float32

# Layouts: the same values stored differently. `expanded` changes the values (one slice repeated along a
# dimension, stride 0), so it is drawn before the reference is computed, like every other layout here.
LAYOUTS = ("contiguous", "channels_last", "transposed", "permuted", "reversed", "sliced", "expanded", "unit_strides")


def restride(t: torch.Tensor, layout: str) -> torch.Tensor:
    """`t`'s values (for `expanded`: its first slice along dim 0, repeated) in the memory layout `layout`.

    contiguous; channels_last (4-D); transposed (last two dims swapped in memory); permuted (first two dims
    swapped: batch and channel); reversed (all dims reversed: column-major); sliced (a storage offset and gaps
    along every dim, the gaps NaN so that a kernel reading them fails); expanded (stride 0 along dim 0); unit_strides
    (every size-1 dim given a large odd stride, which no kernel may use)."""
    if layout == "contiguous" or t.dim() == 0:
        return t.contiguous()
    if layout == "channels_last":
        return t.contiguous(memory_format=torch.channels_last) if t.dim() == 4 else t.contiguous()
    if layout in ("transposed", "permuted", "reversed"):
        order = list(range(t.dim()))
        if layout == "transposed" and t.dim() >= 2:
            order[-1], order[-2] = order[-2], order[-1]
        elif layout == "permuted" and t.dim() >= 2:
            order[0], order[1] = order[1], order[0]
        elif layout == "reversed":
            order.reverse()
        inverse = sorted(range(t.dim()), key=order.__getitem__)
        return t.permute(order).contiguous().permute(inverse)
    if layout == "sliced":  # the gaps: NaN, or for indices (cross-entropy's targets) the largest integer
        gap = float("nan") if t.is_floating_point() else torch.iinfo(t.dtype).max
        big = torch.full([d + 1 for d in t.shape[:-1]] + [2 * t.shape[-1] + 1], gap, dtype=t.dtype, device=t.device)
        view = big[(slice(1, None),) * (t.dim() - 1) + (slice(1, None, 2),)]
        view.copy_(t)
        return view
    if layout == "expanded":
        return t.narrow(0, 0, 1).expand(t.shape) if t.shape[0] > 0 else t
    if layout == "unit_strides":
        base = t.contiguous()
        strides = [7919 if size == 1 else stride for size, stride in zip(t.shape, base.stride(), strict=True)]
        return base.as_strided(t.shape, strides)
    raise ValueError(f"unknown layout {layout!r}; known: {LAYOUTS}")


VALUES = ("as_made", "ties", "huge", "tiny")
# softmax's large logits come from its spec's own fill, named so that the variants that overflow on them say so
VALUES_OF = {
    "softmax": ("as_made", "ties", "tiny"),
    "cross_entropy": ("as_made", "ties", "tiny"),
    "linear_cross_entropy": ("as_made", "ties", "tiny"),  # x 1000: the lesson's exp overflows, as softmax's does
}


def transform_values(t: torch.Tensor, values: str) -> torch.Tensor:
    """ties: rounded to halves (many equal values: maxima tie, sums are exact); huge: x 1000; tiny: x 0.001."""
    if values == "ties":
        return (t.float() * 2).round().div(2).to(t.dtype)
    if values == "huge":
        return t * 1000
    if values == "tiny":
        return t * 0.001
    return t


@dataclass(frozen=True)
class FuzzExample:
    """One fuzzed input of an op: `case` as its spec makes it, the values transformed, each tensor argument in its
    layout (by position in the call), and the output gradient in `grad_layout`."""

    op: str
    case: Case
    layouts: tuple[str, ...]
    values: str = "as_made"
    grad_layout: str = "contiguous"
    seed: int = 0

    def inputs(self, device: str) -> Inputs:
        from kernels import registry

        spec = registry.spec(self.op)
        made = spec.make_inputs(self.case, device, self.seed)
        args = list(made.args)
        for i, layout in zip(self.tensor_positions(made), self.layouts, strict=False):
            # the value transform applies to the activation (argument 0), never to weights or running statistics
            args[i] = restride(transform_values(args[i], self.values) if i == 0 else args[i], layout)
        return Inputs(tuple(args), made.kwargs, made.state)

    @staticmethod
    def tensor_positions(made: Inputs) -> list[int]:
        return [i for i, a in enumerate(made.args) if isinstance(a, torch.Tensor)]


# ---- one example per layout: every tensor argument and the output gradient in that layout ---------------------

TEMPLATES = {  # a case per op with every optional tensor present (bias, affine, running statistics)
    "softmax": Case("fuzz", (3, 5, 33), FP32, params=(("dim", 1),)),
    "matmul": Case("fuzz", (2, 7, 33, 5), FP32, params=(("bias", True), ("activation", "relu"))),
    "batchnorm": Case("fuzz", (3, 4, 5, 6), FP32, params=(("momentum", 0.3), ("activation", "relu"))),
    "conv2d": Case(
        "fuzz",
        (2, 4, 7, 6, 6, 3, 2),
        FP32,
        params=(("stride", (2, 1)), ("padding", 1), ("groups", 2), ("bn", True), ("activation", "relu")),
    ),
    "max_pool2d": Case(
        "fuzz", (2, 3, 9, 8), FP32, params=(("kernel_size", 3), ("stride", 2), ("padding", 1)), fill="ties"
    ),
    "cross_entropy": Case(
        "fuzz", (2, 5, 3, 4), FP32, params=(("weight", True), ("label_smoothing", 0.1)), fill="ignored"
    ),
    "linear_cross_entropy": Case("fuzz", (7, 40, 33), FP32, fill="ignored"),
    # no activation: the backward draws the mask again, and meets the output gradient's layout
    "dropout": Case("fuzz", (2, 3, 5, 7), FP32, params=(("p", 0.3),)),
    # lists of parameters, not one tensor argument: no layout to draw; the template runs every option at once
    "sgd_step": Case(
        "fuzz",
        shape_of("odd"),
        FP32,
        params=(("model", "odd"), ("lr", 0.1), ("momentum", 0.9), ("nesterov", True), ("weight_decay", 0.01)),
        grad=False,
    ),
    "adam_step": Case(
        "fuzz",
        shape_of("odd"),
        FP32,
        params=(("model", "odd"), ("lr", 0.01), ("amsgrad", True), ("weight_decay", 0.01)),
        fill="staggered",
        grad=False,
    ),
}


def layout_example(op: str, layout: str) -> FuzzExample:
    """The op's template case with every tensor argument and the output gradient in `layout` (state updated in
    place is never expanded: it stays contiguous there)."""
    from kernels import registry

    made = registry.spec(op).make_inputs(TEMPLATES[op], "cpu", 0)
    layouts = tuple(
        "contiguous" if layout == "expanded" and i in made.state else layout for i in FuzzExample.tensor_positions(made)
    )
    return FuzzExample(op, TEMPLATES[op], layouts, grad_layout=layout)
