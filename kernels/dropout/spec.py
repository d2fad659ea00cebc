"""Dropout, signature of F.dropout(x, p=0.5, training=True, inplace=False) plus the activation that follows it in the
lesson models (5.2: Linear -> Dropout -> ReLU; relu(dropout(x)) = dropout(relu(x)), the scale being positive).

In training each element survives with probability 1 - p and is scaled by 1 / (1 - p), so the expected output is
x; the others are 0. p = 0 and eval mode (training=False) give x itself, p = 1 gives zeros.

A random op has no single right output: its variants cannot match a float64 reference element by element, and each
draws its mask its own way (torch's generator, Inductor's, Philox in the Triton kernels). The check is made of
properties instead (kernels/dropout/properties.py): survivors scaled right, the share dropped within binomial bounds,
the gradient's mask equal to the output's, the same seed the same mask, a new seed or the next call a new one, and
no correlation between neighbouring elements beyond chance.

Work model: 2 FLOPs per element (the draw's compare and the scale; Philox's integer rounds are not counted).
Minimum bytes: forward reads x and writes y (2*n*s), backward reads dy and writes dx (2*n*s) with the mask drawn
again from the seed. Eager stores a mask and reads it back in the backward: one byte per element on CUDA, the
scaled noise in x's dtype on the CPU.
"""

from __future__ import annotations

import math

import torch

from kernels.dropout.properties import compare_dropout
from kernels.dtypes import BF16, FLOAT_DTYPES, FP16, FP32
from kernels.registry import register_spec
from kernels.spec import RTOL, Case, Inputs, OpSpec, make_layout

ACTIVATIONS = (None, "relu")


def check_args(x, p=0.5, training=True, inplace=False, activation=None, op="dropout") -> None:
    """Validate F.dropout's arguments the same way for every variant, naming the problem."""
    if not isinstance(x, torch.Tensor) or x.dtype not in FLOAT_DTYPES:
        got = x.dtype if isinstance(x, torch.Tensor) else type(x).__name__
        raise TypeError(f"{op}: x must be a floating-point tensor (float32, float16, bfloat16, float64), got {got}")
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: dropout probability p must be a number in [0, 1], got {p!r}")
    if not isinstance(training, bool) or not isinstance(inplace, bool):
        raise TypeError(f"{op}: training and inplace must be bools, got {training!r} and {inplace!r}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"{op}: activation must be one of {ACTIVATIONS}, got {activation!r}")


def apply_activation(y: torch.Tensor, activation: str | None) -> torch.Tensor:
    return torch.relu(y) if activation == "relu" else y


class DropoutSpec(OpSpec):
    op = "dropout"
    dtypes = (FP32, FP16, BF16)
    batch_sizes = {"quick": (1024,), "full": (64, 1024, 8192)}
    # features: lesson 5.2's hidden layers (300 units) and a wide layer
    features = {"quick": (300, 4096), "full": (300, 4096, 16384)}
    max_elements = {"cpu": 1 << 25, "cuda": 1 << 29}
    work_model = "flops 2 per element; bytes: read x and write y (forward), read dy and write dx (backward)"
    smoke_case = "hidden"

    def test_cases(self) -> list[Case]:
        cases = []
        for dtype in self.dtypes:
            cases += [
                Case("hidden", (100, 300), dtype, params=(("p", 0.2),)),  # lesson 5.2's classification net
                Case("relu", (100, 300), dtype, params=(("p", 0.2), ("activation", "relu"))),
                Case("half", (64, 257), dtype),  # F.dropout's default p = 0.5
            ]
        cases += [
            Case("odd", (7, 781), FP32, params=(("p", 0.1),)),
            Case("one", (1,), FP32),
            Case("empty", (0, 5), FP32),
            Case("images", (4, 3, 16, 16), FP32, params=(("p", 0.3),)),
            Case("strided", (50, 300), FP32, params=(("p", 0.2),), layout="strided"),
            Case("transposed", (60, 70), FP32, params=(("p", 0.2),), layout="transposed"),
            Case("p0", (50, 40), FP32, params=(("p", 0.0),)),
            Case("p1", (50, 40), FP32, params=(("p", 1.0),)),
            Case("p1_relu", (50, 40), FP32, params=(("p", 1.0), ("activation", "relu"))),
            Case("high_p", (100, 300), FP32, params=(("p", 0.9),)),
            Case("eval", (50, 40), FP32, params=(("p", 0.5), ("training", False))),
            Case("eval_relu", (50, 40), FP32, params=(("p", 0.5), ("training", False), ("activation", "relu"))),
            Case("inplace", (100, 300), FP32, params=(("p", 0.2), ("inplace", True)), grad=False),
        ]
        return cases

    def bench_shapes(self, profile: str, batch: int, device: str) -> list[tuple[int, ...]]:
        return [(batch, f) for f in self.features[profile] if batch * f <= self.max_elements[device]]

    def bench_params(self, shape: tuple[int, ...]) -> list[tuple[tuple[str, object], ...]]:
        # lesson 5.2's p, alone and followed by its relu (what the fused rung fuses)
        return [(("p", 0.2),), (("p", 0.2), ("activation", "relu"))]

    def make_inputs(self, case: Case, device: str, seed: int) -> Inputs:
        if case.fill != "randn":
            raise ValueError(f"dropout: unknown fill {case.fill!r}")
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(case.shape, generator=g, dtype=torch.float32)
        x = make_layout(x.to(device=device, dtype=case.dtype), case.layout)
        return Inputs((x,), dict(case.kwargs))

    def compare(self, fn, case: Case, device: str, seed: int, **options):
        return compare_dropout(fn, self, case, device, seed, **options)

    def flops(self, case: Case, mode: str) -> float:
        return 2 * math.prod(case.shape)

    def bytes(self, case: Case, mode: str) -> float:
        return 2 * math.prod(case.shape) * case.dtype.itemsize

    def tolerance(self, case: Case, mode: str) -> float:
        # each survivor is one multiply by 1 / (1 - p), rounded once (twice where the scale itself is rounded to
        # the dtype first, as torch's CPU kernel does)
        return 2 * RTOL[case.dtype]


SPEC = DropoutSpec()
register_spec(SPEC)
