"""The classifier head and its loss in one op: cross-entropy of x @ W^T + b against class indices, as the lesson
models end (4.3: Linear(64, 10); 6.4: Linear(512, 10); ResNet-18's fc; a language model's vocabulary head), signature
linear_cross_entropy(x, weight, target, bias=None, ignore_index=-100, reduction="mean") = F.cross_entropy(F.linear(x,
weight, bias), target, ignore_index=ignore_index, reduction=reduction). x is [N, D], weight [C, D], bias [C], target
[N] class indices; "mean" divides by the rows not ignored.

The unfused composition writes the [N, C] logits, reads them for log_softmax, writes the log-probabilities, reads
them for the loss, and keeps logits-sized tensors for the backward: for a 32k-class head at 8k rows in fp32 that is
1 GiB per tensor, far more than x and W. The fused rung never writes them (triton_fused.py).

Work model: 2*N*C*D FLOPs forward (the product; the log-sum-exp's 5 per logit are small beside it), 4*N*C*D backward
(dx and dW). Minimum bytes: read x, W, b and the targets, write one loss per row (forward); backward reads them again
and writes dx, dW, db. Eager also moves the logits: about 4*N*C*s forward (write logits, read them, write and read
the log-probabilities) and 3*N*C*s backward; its case rows report both.
"""

from __future__ import annotations

import math

import torch

from kernels.cross_entropy.spec import REDUCTIONS
from kernels.dtypes import BF16, FLOAT_DTYPES, FP16, FP32
from kernels.registry import register_spec
from kernels.spec import RTOL, Case, Inputs, OpSpec, make_layout, reduction_factor


def check_args(x, weight, target, bias=None, ignore_index=-100, reduction="mean", op="linear_cross_entropy") -> None:
    """Validate the arguments the same way for every variant, naming the problem."""
    for name, t in (("x", x), ("weight", weight)):
        if not isinstance(t, torch.Tensor) or t.dtype not in FLOAT_DTYPES:
            got = t.dtype if isinstance(t, torch.Tensor) else type(t).__name__
            raise TypeError(f"{op}: {name} must be a floating-point tensor (float32, float16, bfloat16), got {got}")
    if x.dim() != 2 or weight.dim() != 2 or x.shape[1] != weight.shape[1]:
        raise ValueError(f"{op}: x must be [N, D] and weight [C, D], got {list(x.shape)} and {list(weight.shape)}")
    if weight.dtype != x.dtype or (bias is not None and bias.dtype != x.dtype):
        raise TypeError(f"{op}: x, weight and bias must have one dtype, got {x.dtype}, {weight.dtype}")
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(f"{op}: bias must be [{weight.shape[0]}], got {list(bias.shape)}")
    if not isinstance(target, torch.Tensor) or target.is_floating_point() or tuple(target.shape) != (x.shape[0],):
        raise ValueError(f"{op}: target must be [{x.shape[0]}] class indices, got {target!r:.60}")
    if len({x.device, weight.device, target.device}) != 1:
        raise ValueError(f"{op}: x, weight and target must be on one device")
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if target.device.type == "cpu" and target.numel():
        kept = target[target != ignore_index]
        if kept.numel() and (int(kept.min()) < 0 or int(kept.max()) >= weight.shape[0]):
            raise IndexError(f"{op}: a target is out of range for {weight.shape[0]} classes")


class LinearCrossEntropySpec(OpSpec):
    op = "linear_cross_entropy"
    dtypes = (FP32, FP16, BF16)
    # shape: (N rows, D features, C classes)
    batch_sizes = {"quick": (1024,), "full": (64, 1024, 8192)}
    # (D, C): the lesson heads (10 classes), ImageNet's, a language model's vocabulary (full profile: 32k x 1024 is
    # 69 GFLOP a forward at 1024 rows, beyond a quick CPU sweep)
    heads = {"quick": ((512, 10), (512, 4096)), "full": ((64, 10), (512, 10), (512, 1000), (1024, 32768))}
    max_elements = {"cpu": 1 << 25, "cuda": 1 << 30}  # of the N x C logits
    work_model = "flops 2NCD forward, 4NCD backward; bytes: the minimum (x, W, b read, loss written), no logits"
    smoke_case = "head"

    # Fills: randn (x, W ~ N(0, 1), W scaled by 1/sqrt(D): logits of unit size); ignored (a third of the targets are
    # ignore_index).
    def test_cases(self) -> list[Case]:
        cases = []
        for dtype in self.dtypes:
            cases += [
                Case("head", (64, 100, 10), dtype),  # 4.4's digits head: 100 hidden units, 10 classes
                Case("wide", (5, 64, 3000), dtype),  # several class blocks
                Case("rows", (48, 40, 20), dtype, params=(("reduction", "none"),)),
            ]
        cases += [
            Case("odd", (7, 33, 781), FP32),
            Case("deep", (9, 300, 50), FP32),  # several blocks of the reduction over D
            Case("one_row", (1, 16, 10), FP32),
            Case("two_classes", (40, 8, 2), FP32),
            Case("no_bias", (32, 64, 50), FP32, params=(("bias", False),)),
            Case("sum", (16, 64, 100), FP32, params=(("reduction", "sum"),)),
            Case("none", (16, 64, 100), FP32, params=(("reduction", "none"),)),
            Case("ignored", (32, 64, 50), FP32, fill="ignored"),
            Case("transposed", (24, 40, 30), FP32, layout="transposed"),
        ]
        return cases

    def bench_shapes(self, profile: str, batch: int, device: str) -> list[tuple[int, ...]]:
        return [(batch, d, c) for d, c in self.heads[profile] if batch * c <= self.max_elements[device]]

    def make_inputs(self, case: Case, device: str, seed: int) -> Inputs:
        n, d, c = case.shape
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(n, d, generator=g)
        weight = torch.randn(c, d, generator=g) / math.sqrt(d)
        bias = torch.randn(c, generator=g) * 0.1
        target = torch.randint(0, c, (n,), generator=g)
        kwargs = {k: v for k, v in case.params if k != "bias"}
        if case.fill == "ignored":
            target = torch.where(torch.rand(n, generator=g) < 1 / 3, kwargs.setdefault("ignore_index", -100), target)
        elif case.fill != "randn":
            raise ValueError(f"linear_cross_entropy: unknown fill {case.fill!r}")
        put = lambda t: t.to(device=device, dtype=case.dtype)  # noqa: E731
        x, weight = make_layout(put(x), case.layout), make_layout(put(weight), case.layout)
        bias = put(bias) if dict(case.params).get("bias", True) else None
        return Inputs((x, weight, target.to(device), bias), kwargs)  # bias positional: its gradient is checked

    def flops(self, case: Case, mode: str) -> float:
        n, d, c = case.shape
        return (2 if mode == "forward" else 4) * n * c * d

    def bytes(self, case: Case, mode: str) -> float:
        n, d, c = case.shape
        s = case.dtype.itemsize
        read = (n * d + c * d + c) * s + 8 * n
        return read + 4 * n if mode == "forward" else read + (n * d + c * d + c) * s

    def batch_of(self, shape: tuple[int, ...]) -> int:
        return shape[0]

    def grad_scale(self, ref_inputs: Inputs, ref_out: torch.Tensor, grad_out: torch.Tensor) -> list[float]:
        """dz = g_i * (p - onehot) is about g_i per row (the upstream gradient, over the mean's count; 0 where the
        row is ignored); dx = dz @ W, dW = dz^T x and db = the sum of dz are about ||g|| ||W||, sqrt(sum_i g_i^2
        |x_i|^2) and ||g||. They cancel to exactly 0 for one class, where rounding is measured against these sizes."""
        x, weight, target, bias = ref_inputs.args
        kw = ref_inputs.kwargs
        kept = (target != kw.get("ignore_index", -100)).to(torch.float64)
        reduction = kw.get("reduction", "mean")
        g = grad_out.reshape(-1) if reduction == "none" else grad_out.reshape(()).expand(kept.shape)
        g = torch.nan_to_num(g * kept / (kept.sum() if reduction == "mean" else 1.0), nan=0.0)
        scales = [g.norm().item() * weight.norm().item(), (g.square() * x.square().sum(1)).sum().sqrt().item()]
        return scales + ([g.norm().item()] if bias is not None else [])

    def tolerance(self, case: Case, mode: str) -> float:
        # a product over D, a log-sum-exp over C, the mean over N; the gradients sum over C (dx) and N (dW)
        n, d, c = case.shape
        tol = RTOL[case.dtype] * reduction_factor(d) * reduction_factor(c) * reduction_factor(n)
        return 2 * tol


SPEC = LinearCrossEntropySpec()
register_spec(SPEC)
