"""The memory layouts a variant must honour: the same values stored with other strides, offsets and gaps. The
layout fuzz (tests/fuzz.py) and `dnnbench judge` re-store every tensor argument, and the output gradient, this way.
"""

from __future__ import annotations

import torch

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
