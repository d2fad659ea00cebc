"""Softmax over one dimension: y = exp(x - max(x)) / sum(exp(x - max(x))), signature of F.softmax(x, dim).

Work model (per row of N elements, M rows): about 5 FLOPs per element (max, subtract, exp, sum, divide), so softmax
is bound by memory: the figure that matters is GB/s. The minimum traffic reads x once and writes y once
(forward 2*M*N*s bytes); backward reads y and dy and writes dx (3*M*N*s). A kernel that reads x twice (the online
variant, the lesson formula) moves more than this minimum; GB/s is always computed from the minimum, so it is an
effective bandwidth that rewards moving fewer bytes.
"""

from __future__ import annotations

import math

import torch

from kernels.dtypes import BF16, FLOAT_DTYPES, FP16, FP32
from kernels.registry import register_spec
from kernels.spec import RTOL, Case, Inputs, OpSpec, make_layout, reduction_factor, serial_sum_error


def check_args(x: torch.Tensor, dim: int, op: str = "softmax") -> int:
    """Validate softmax arguments the same way for every variant; return `dim` as a non-negative index."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{op}: expected a tensor, got {type(x).__name__}")
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{op}: expected a floating-point tensor (float32, float16, bfloat16, float64), got {x.dtype}")
    ndim = max(x.dim(), 1)  # a 0-d tensor is softmaxed as one element, dim 0 or -1, as torch does
    if not isinstance(dim, int) or not -ndim <= dim < ndim:
        raise IndexError(f"{op}: dim {dim!r} is out of range for a {x.dim()}-d tensor (expected -{ndim} to {ndim - 1})")
    return dim % ndim


class SoftmaxSpec(OpSpec):
    op = "softmax"
    dtypes = (FP32, FP16, BF16)
    batch_sizes = {"quick": (1024,), "full": (1, 32, 1024, 8192)}
    widths = {"quick": (16, 4096), "full": (16, 64, 256, 781, 1024, 4096, 16384, 65536)}
    # Largest benchmark tensor per device (elements): big enough to leave the caches, small enough for the machine.
    max_elements = {"cpu": 1 << 25, "cuda": 1 << 28}
    work_model = "flops ~5 per element; bytes: forward reads x + writes y, backward reads y, dy + writes dx (minimum)"
    smoke_case = "pow2"

    # Fills: randn (standard normal); large (normal * 1e4: exp overflows without max subtraction); near_fp16_max
    # (values in [6e4, 65504], the top of fp16's range); some_neg_inf (30% -inf, one finite value per row kept);
    # all_neg_inf_row (row 1 is all -inf: torch gives NaN for it).
    def test_cases(self) -> list[Case]:
        cases = []
        for dtype in self.dtypes:
            cases += [
                Case("width1", (7, 1), dtype),
                Case("pow2", (8, 256), dtype),
                Case("odd", (5, 781), dtype),
                Case("wide", (3, 9000), dtype),  # several column blocks for the online variant
                Case("dim1_3d", (4, 33, 6), dtype, params=(("dim", 1),)),
                Case("strided", (6, 300), dtype, layout="strided"),
                Case("some_neg_inf", (6, 781), dtype, fill="some_neg_inf"),
            ]
        cases += [
            Case("dim0", (50, 6), FP32, params=(("dim", 0),)),
            Case("transposed", (40, 70), FP32, layout="transposed"),
            Case("large_logits", (4, 500), FP32, fill="large"),
            Case("large_logits", (4, 500), FP16, fill="large"),
            Case("near_fp16_max", (4, 300), FP16, fill="near_fp16_max"),
            Case("all_neg_inf_row", (4, 100), FP32, fill="all_neg_inf_row"),
            Case("all_neg_inf_row", (4, 100), FP16, fill="all_neg_inf_row"),
        ]
        return cases

    def bench_shapes(self, profile: str, batch: int, device: str) -> list[tuple[int, ...]]:
        widths = self.widths[profile]
        return [(batch, n) for n in widths if batch * n <= self.max_elements[device]]

    def bench_params(self, shape):
        return [(("dim", -1),)]

    def make_inputs(self, case: Case, device: str, seed: int) -> Inputs:
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(case.shape, generator=g, dtype=torch.float32)
        if case.fill == "large":
            x = x * 1e4
        elif case.fill == "near_fp16_max":
            x = 6e4 + torch.rand(case.shape, generator=g) * 5504
        elif case.fill == "some_neg_inf":
            holes = torch.rand(case.shape, generator=g) < 0.3
            holes[..., 0] = False
            x = x.masked_fill(holes, float("-inf"))
        elif case.fill == "all_neg_inf_row":
            x[1] = float("-inf")
        elif case.fill != "randn":
            raise ValueError(f"softmax: unknown fill {case.fill!r}")
        x = make_layout(x.to(device=device, dtype=case.dtype), case.layout)
        return Inputs((x,), {"dim": case.kwargs.get("dim", -1)})

    def row_length(self, case: Case) -> int:
        if not case.shape:
            return 1
        return case.shape[case.kwargs.get("dim", -1)]

    def flops(self, case: Case, mode: str) -> float:
        return (5 if mode == "forward" else 4) * math.prod(case.shape)

    def bytes(self, case: Case, mode: str) -> float:
        passes = 2 if mode == "forward" else 3
        return passes * math.prod(case.shape) * case.dtype.itemsize

    def grad_scale(self, ref_inputs, ref_out, grad_out) -> float:
        # dx = y * (dy - sum(y * dy)) is a difference of terms of size |y * dy|; it cancels to exactly 0 for a row of
        # width 1 and to ~1e-40 for a one-hot row, where rounding must be measured against |y * dy| instead.
        return torch.nan_to_num(ref_out * grad_out, nan=0.0).norm().item()

    def tolerance(self, case: Case, mode: str) -> float:
        # the row sum: a tree sum (the Triton kernels) or a serial one (torch's CPU kernel along a strided dim: its
        # fp32 softmax over a 1030-long dim 0 errs by 3.8e-6, above the tree model's 3.3e-6)
        n = self.row_length(case)
        tol = RTOL[case.dtype] * reduction_factor(n) + serial_sum_error(n)
        # dx = y * (dy - sum(y * dy)) subtracts two nearby numbers: allow a few more roundings
        return tol if mode == "forward" else 4 * tol


SPEC = SoftmaxSpec()
register_spec(SPEC)
