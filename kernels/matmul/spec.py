"""Matmul C = act(A @ B + bias), signature matmul(a, b, bias=None, activation=None).

With no bias and no activation this is torch.matmul(a, b) for operands of any rank: vectors, matrices, and batches
whose batch dims broadcast. With them it is the Linear + activation of the lesson models: the ladder then
compares the unfused composition (eager: three kernels) with Triton's fused epilogue.

Work model (batch b): 2*b*M*N*K FLOPs (two per multiply-add, as torch.utils.flop_counter counts); minimum bytes read
A and B once and write C once, s*b*(M*K + K*N + M*N) (+ N*s for a bias). Backward computes dA = dC B^T and
dB = A^T dC: 4*b*M*N*K FLOPs, reading A, B and dC twice between them and writing dA, dB: s*b*2*(M*K + K*N + M*N).
Tolerances grow with K (a longer sum rounds more) and TF32 is its own precision (case.tf32).
"""

from __future__ import annotations

import math

import torch

from kernels.dtypes import BF16, FLOAT_DTYPES, FP16, FP32
from kernels.registry import register_spec
from kernels.spec import (
    RTOL,
    RTOL_TF32,
    Case,
    Inputs,
    OpSpec,
    reduction_factor,
    relu_grad_reference,
    term_output_scale,
    term_scales,
)

ACTIVATIONS = (None, "relu", "sigmoid", "tanh")


def check_args(a, b, bias=None, activation=None, op: str = "matmul") -> None:
    """Validate matmul arguments the same way for every variant, naming the problem."""
    for name, t in (("a", a), ("b", b)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{op}: {name} must be a tensor, got {type(t).__name__}")
        if t.dtype not in FLOAT_DTYPES:
            raise TypeError(f"{op}: {name} must be floating point (float32, float16, bfloat16, float64), got {t.dtype}")
        if t.dim() < 1:
            raise ValueError(f"{op}: {name} must have at least 1 dimension, got a 0-d tensor")
    if a.dtype != b.dtype:
        raise TypeError(f"{op}: a and b must have one dtype, got {a.dtype} and {b.dtype}")
    if a.device != b.device:
        raise ValueError(f"{op}: a and b must be on one device, got {a.device} and {b.device}")
    k_a, k_b = a.shape[-1], b.shape[0] if b.dim() == 1 else b.shape[-2]
    if k_a != k_b:
        raise ValueError(
            f"{op}: inner dimensions differ: a is {tuple(a.shape)}, b is {tuple(b.shape)} ({k_a} != {k_b})"
        )
    try:  # batch dims broadcast, as torch.matmul's do
        torch.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except RuntimeError:
        raise ValueError(f"{op}: batch dims do not broadcast: a is {tuple(a.shape)}, b is {tuple(b.shape)}") from None
    if activation not in ACTIVATIONS:
        raise ValueError(f"{op}: unknown activation {activation!r}; use one of {ACTIVATIONS}")
    if bias is not None:
        n = b.shape[-1] if b.dim() > 1 else 1
        if not isinstance(bias, torch.Tensor) or bias.dim() != 1 or bias.shape[0] != n or b.dim() == 1:
            raise ValueError(f"{op}: bias must be a 1-D tensor of N={n} values, got {getattr(bias, 'shape', bias)}")
        if bias.dtype != a.dtype or bias.device != a.device:
            raise TypeError(f"{op}: bias must match a's dtype and device, got {bias.dtype} on {bias.device}")


def as_matrices(a: torch.Tensor, b: torch.Tensor):
    """1-D operands as matrices, as torch.matmul treats them (a vector a is a row, a vector b a column); returns
    them and a function that removes the added dimensions from the result."""
    a_vec, b_vec = a.dim() == 1, b.dim() == 1
    a2, b2 = (a.unsqueeze(0) if a_vec else a), (b.unsqueeze(-1) if b_vec else b)

    def restore(c: torch.Tensor) -> torch.Tensor:
        if a_vec and b_vec:  # a dot product: a 0-d result
            return c.reshape(c.shape[:-2])
        if b_vec:
            return c.squeeze(-1)
        return c.squeeze(-2) if a_vec else c

    return a2, b2, restore


def epilogue(c: torch.Tensor, bias, activation) -> torch.Tensor:
    """bias + activation after a matmul, as separate PyTorch ops (the unfused composition)."""
    if bias is not None:
        c = c + bias
    if activation is not None:
        c = getattr(torch, activation)(c)
    return c


class MatmulSpec(OpSpec):
    op = "matmul"
    dtypes = (FP32, FP16, BF16)
    supports_tf32 = True
    quick_cuda_dtypes = ("fp32", "fp16", "bf16")  # the 4096^3 figures in every precision, TF32 included
    # batch = M, the rows of the activations a Linear layer multiplies; K = N = the layer width
    batch_sizes = {"quick": (4096,), "full": (1, 32, 256, 1024, 4096, 8192)}
    widths = {"quick": (512, 4096), "full": (256, 1024, 4096, 8192)}
    max_flops = {"cpu": 2**32, "cuda": 2**42}  # keep a CPU benchmark call near 0.03 s
    work_model = "flops 2*M*N*K (backward 4*M*N*K); bytes: A, B read once, C written once (backward: twice each)"
    smoke_case = "small"
    target_benchmarks = "4096x4096x4096"

    # Shapes are (M, K, N) or (batch, M, K, N). Layouts: contiguous, a_transposed (A stored as A^T), b_transposed,
    # sliced (every other column of a wider A and B), broadcast (3-D A with a 2-D B), vector (1-D B).
    def test_cases(self) -> list[Case]:
        cases = []
        for dtype in self.dtypes:
            cases += [
                Case("ones", (1, 1, 1), dtype),
                Case("small", (15, 15, 15), dtype),
                Case("k_below_block", (33, 1, 47), dtype),
                Case("m1", (1, 300, 200), dtype),
                Case("n1", (64, 40, 1), dtype),
                Case("a_transposed", (70, 45, 33), dtype, layout="a_transposed"),
                Case("b_transposed", (70, 45, 33), dtype, layout="b_transposed"),
                Case("sliced", (40, 50, 30), dtype, layout="sliced"),
                Case("batched", (3, 45, 70, 33), dtype),
                Case("bias_relu", (50, 64, 70), dtype, params=(("bias", True), ("activation", "relu"))),
            ]
        cases += [  # the largest cases once: the Triton interpreter takes seconds on each
            Case("odd", (781, 15, 1823), FP32),
            Case("odd", (781, 15, 133), FP16),
            Case("large_k", (16, 8191, 16), FP32),
            Case("broadcast", (3, 20, 30, 25), FP32, layout="broadcast"),
            Case("vector", (20, 30, 1), FP32, layout="vector"),
            Case("bias", (50, 64, 70), FP32, params=(("bias", True),)),
            Case("bias_sigmoid", (50, 64, 70), FP32, params=(("bias", True), ("activation", "sigmoid"))),
            Case("bias_tanh", (50, 64, 70), FP32, params=(("bias", True), ("activation", "tanh"))),
            Case("batched_bias_tanh", (2, 30, 64, 40), FP32, params=(("bias", True), ("activation", "tanh"))),
            Case("tf32", (64, 300, 70), FP32, tf32=True),
            Case("tf32_large_k", (16, 4096, 16), FP32, tf32=True),
        ]
        return cases

    def bench_shapes(self, profile: str, batch: int, device: str) -> list[tuple[int, ...]]:
        shapes = [(batch, w, w) for w in self.widths[profile]]
        return [s for s in shapes if 2 * math.prod(s) <= self.max_flops[device]]

    def bench_params(self, shape):
        return [(), (("bias", True), ("activation", "relu"))]

    def dims(self, case: Case) -> tuple[int, int, int, int]:
        """(batch, M, K, N) of a case."""
        return (1, *case.shape) if len(case.shape) == 3 else case.shape

    def make_inputs(self, case: Case, device: str, seed: int) -> Inputs:
        g = torch.Generator().manual_seed(seed)
        batch, m, k, n = self.dims(case)
        lead = (batch,) if len(case.shape) == 4 else ()

        def rand(*shape):  # scaled so that outputs stay O(1) for any K: fp16 cannot hold large sums
            return (torch.randn(shape, generator=g) / k**0.25).to(device=device, dtype=case.dtype)

        a, b = rand(*lead, m, k), rand(*lead, k, n)
        if case.layout == "a_transposed":
            a = a.transpose(-1, -2).contiguous().transpose(-1, -2)
        elif case.layout == "b_transposed":
            b = b.transpose(-1, -2).contiguous().transpose(-1, -2)
        elif case.layout == "sliced":
            a = rand(*lead, m, 2 * k)[..., ::2]
            b = rand(*lead, k, 2 * n)[..., ::2]
        elif case.layout == "broadcast":
            b = b[0]
        elif case.layout == "vector":
            b = b[..., 0]
        elif case.layout != "contiguous":
            raise ValueError(f"matmul: unknown layout {case.layout!r}")
        bias = rand(n) if case.kwargs.get("bias") else None
        return Inputs((a, b, bias), {"activation": case.kwargs.get("activation")})

    def flops(self, case: Case, mode: str) -> float:
        return (2 if mode == "forward" else 4) * math.prod(self.dims(case))

    def bytes(self, case: Case, mode: str) -> float:
        batch, m, k, n = self.dims(case)
        once = batch * (m * k + k * n + m * n) + (n if case.kwargs.get("bias") else 0)
        return (1 if mode == "forward" else 2) * once * case.dtype.itemsize

    def grad_reference(self, ref_inputs, ref_out, out, grad_out):
        return relu_grad_reference(self, ref_inputs, ref_out, out, grad_out)

    def output_scale(self, ref_inputs):
        return term_output_scale(self, ref_inputs)

    def grad_scale(self, ref_inputs, ref_out, grad_out):
        # dA, dB and dbias sum products of both signs: measured against the size of their terms (term_scales)
        return term_scales(self, ref_inputs, grad_out)

    def tolerance(self, case: Case, mode: str) -> float:
        k = self.dims(case)[2]
        base = RTOL_TF32 if case.tf32 else RTOL[case.dtype]
        # backward: dA sums over N and dB over M, each as long as its own reduction
        length = k if mode == "forward" else max(self.dims(case)[1:])
        return base * reduction_factor(length) * (1 if mode == "forward" else 2)


SPEC = MatmulSpec()
register_spec(SPEC)
