"""Cross-entropy over class logits with class-index targets, signature of F.cross_entropy(x, target, weight=None,
ignore_index=-100, reduction="mean", label_smoothing=0.0): the loss of every classification lesson (3.3 to 6.5).

Per row i of C logits x_i with target y_i, lse_i = log(sum_c exp(x_ic)) and
    loss_i = (1 - eps) * w[y_i] * (lse_i - x_i[y_i]) + eps / C * sum_c w[c] * (lse_i - x_ic)
(w = 1 without a class weight, eps the label smoothing); a row whose target is ignore_index has loss 0. "sum" adds
the rows, "mean" divides that sum by sum_i w[y_i] over the rows not ignored (their count without weights), as torch
does; all rows ignored give 0 / 0 = NaN. The gradient of loss_i is softmax(x_i) scaled and shifted:
    d loss_i / d x_ic = (1 - eps) * w[y_i] * (p_ic - [c == y_i]) + eps / C * (W * p_ic - w[c]),   W = sum_c w[c].

x is [N, C], one sample [C] (target a 0-d index), or [N, C, d1, ...] with target [N, d1, ...] (each position a row).
Class-probability targets (a float target shaped like x) are not on this ladder.

Work model: about 5 FLOPs per logit (max, subtract, exp, sum, and the smoothing sum); minimum bytes read the
logits once and the targets once, and write one loss per row (forward: N*C*s + 8*N + 4*N); backward reads the
logits (or saved probabilities) and writes dx (2*N*C*s). The loss is bound by memory: GB/s is the figure.
"""

from __future__ import annotations

import math

import torch

from kernels.dtypes import BF16, FLOAT_DTYPES, FP16, FP32
from kernels.registry import register_spec
from kernels.spec import RTOL, Case, Inputs, OpSpec, make_layout, reduction_factor

REDUCTIONS = ("mean", "sum", "none")


def class_count(shape) -> int:
    """C of logits shaped [C], [N, C] or [N, C, d1, ...]."""
    return shape[0] if len(shape) == 1 else shape[1]


def target_shape(shape) -> tuple[int, ...]:
    """The class-index target's shape for logits of `shape`: () for one sample, [N, d1, ...] otherwise."""
    return () if len(shape) == 1 else (shape[0], *shape[2:])


def as_rows(x: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x as [rows, C] (a view for [C] and [N, C]; a copy for [N, C, d1, ...], the class dim moved last) and the
    targets as [rows], one row per loss."""
    if x.dim() <= 2:
        return x.reshape(-1, class_count(x.shape)), target.reshape(-1)
    return x.movedim(1, -1).reshape(-1, x.shape[1]), target.reshape(-1)


def check_args(x, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0, op="cross_entropy"):
    """Validate F.cross_entropy's arguments the same way for every variant, naming the problem. Targets are
    checked against the class count where they are on the CPU (reading them on a GPU would wait for the GPU)."""
    if not isinstance(x, torch.Tensor) or x.dtype not in FLOAT_DTYPES:
        got = x.dtype if isinstance(x, torch.Tensor) else type(x).__name__
        raise TypeError(f"{op}: x must be a floating-point tensor (float32, float16, bfloat16, float64), got {got}")
    if not isinstance(target, torch.Tensor):
        raise TypeError(f"{op}: target must be a tensor of class indices, got {type(target).__name__}")
    if target.is_floating_point():
        raise TypeError(f"{op}: class-probability targets (a float target) are not supported: class indices only")
    if target.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"{op}: target must hold class indices as int64 or int32, got {target.dtype}")
    if x.dim() == 0:
        raise ValueError(f"{op}: x must be [C], [N, C] or [N, C, d1, ...], got a 0-d tensor")
    want = target_shape(x.shape)
    if tuple(target.shape) != want:
        raise ValueError(f"{op}: target must be {list(want)} for x of {list(x.shape)}, got {list(target.shape)}")
    if target.device != x.device:
        raise ValueError(f"{op}: x and target must be on one device, got {x.device} and {target.device}")
    n_classes = class_count(x.shape)
    bad_weight = not isinstance(weight, torch.Tensor) or weight.shape != (n_classes,) or weight.dtype != x.dtype
    if weight is not None and bad_weight:
        raise ValueError(f"{op}: weight must be a [{n_classes}] tensor of x's dtype {x.dtype}, got {weight!r:.80}")
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if not isinstance(label_smoothing, (int, float)) or not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing!r}")
    if target.device.type == "cpu" and target.numel():
        flat = target.reshape(-1)
        kept = flat[flat != ignore_index]
        if kept.numel() and (int(kept.min()) < 0 or int(kept.max()) >= n_classes):
            bad = int(kept.min()) if int(kept.min()) < 0 else int(kept.max())
            raise IndexError(
                f"{op}: target {bad} is out of range for {n_classes} classes (ignore_index {ignore_index})"
            )


class CrossEntropySpec(OpSpec):
    op = "cross_entropy"
    dtypes = (FP32, FP16, BF16)
    batch_sizes = {"quick": (1024,), "full": (64, 1024, 8192)}
    # classes: the lessons' heads are 2-10 classes; ImageNet's 1,000; a language model's vocabulary, 32k-128k
    classes = {"quick": (10, 32768), "full": (10, 1000, 32768, 131072)}
    max_elements = {"cpu": 1 << 25, "cuda": 1 << 29}
    work_model = "flops ~5 per logit; bytes: forward reads the logits and targets once, backward reads and writes N*C"
    smoke_case = "digits"

    # Fills: randn (standard normal logits); large (normal * 1e4: exp overflows without the max shift);
    # ignored (a third of the targets are ignore_index); all_ignored (every target is: mean gives NaN).
    def test_cases(self) -> list[Case]:
        cases = []
        for dtype in self.dtypes:
            cases += [
                Case("classes1", (7, 1), dtype),
                Case("digits", (64, 10), dtype),
                Case("odd", (5, 781), dtype),
                Case("wide", (3, 9000), dtype),  # several class blocks for the online log-sum-exp
                Case("sum", (16, 100), dtype, params=(("reduction", "sum"),)),
                Case("none", (16, 100), dtype, params=(("reduction", "none"),)),
            ]
        cases += [
            Case("one_sample", (10,), FP32),
            Case("spatial", (2, 5, 3, 4), FP32),  # [N, C, H, W]: a loss per pixel
            Case("strided", (8, 300), FP32, layout="strided"),
            Case("transposed", (40, 70), FP32, layout="transposed"),
            Case("ignored", (32, 50), FP32, fill="ignored"),
            Case("ignored_none", (32, 50), FP32, params=(("reduction", "none"),), fill="ignored"),
            Case("all_ignored", (6, 20), FP32, fill="all_ignored"),
            Case("weight", (32, 50), FP32, params=(("weight", True),)),
            Case("weight_ignored", (32, 50), FP32, params=(("weight", True),), fill="ignored"),
            Case("smoothing", (32, 50), FP32, params=(("label_smoothing", 0.1),)),
            Case("smoothing", (32, 50), BF16, params=(("label_smoothing", 0.1),)),
            Case(
                "smoothing_weight_ignored",
                (32, 50),
                FP32,
                params=(("weight", True), ("label_smoothing", 0.2), ("reduction", "sum")),
                fill="ignored",
            ),
            Case("large_logits", (8, 500), FP32, fill="large"),
            Case("large_logits", (8, 500), FP16, fill="large"),
        ]
        return cases

    def bench_shapes(self, profile: str, batch: int, device: str) -> list[tuple[int, ...]]:
        return [(batch, c) for c in self.classes[profile] if batch * c <= self.max_elements[device]]

    def make_inputs(self, case: Case, device: str, seed: int) -> Inputs:
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(case.shape, generator=g, dtype=torch.float32)
        if case.fill == "large":
            x = x * 1e4
        elif case.fill not in ("randn", "ignored", "all_ignored"):
            raise ValueError(f"cross_entropy: unknown fill {case.fill!r}")
        n_classes, shape = class_count(case.shape), target_shape(case.shape)
        target = torch.randint(0, n_classes, shape, generator=g)
        kwargs = dict(case.kwargs)
        ignore_index = kwargs.setdefault("ignore_index", -100)
        if case.fill == "ignored":
            target = torch.where(torch.rand(shape, generator=g) < 1 / 3, ignore_index, target)
        elif case.fill == "all_ignored":
            target = torch.full(shape, ignore_index)
        if kwargs.get("weight"):  # a class weight in (0.5, 1.5): the dtype's rounding of it is part of the input
            kwargs["weight"] = (0.5 + torch.rand(n_classes, generator=g)).to(device=device, dtype=case.dtype)
        x = make_layout(x.to(device=device, dtype=case.dtype), case.layout)
        return Inputs((x, target.to(device)), kwargs)

    def flops(self, case: Case, mode: str) -> float:
        return (5 if mode == "forward" else 4) * math.prod(case.shape)

    def bytes(self, case: Case, mode: str) -> float:
        rows = math.prod(case.shape) // class_count(case.shape)
        logits = math.prod(case.shape) * case.dtype.itemsize
        return logits + 12 * rows if mode == "forward" else 2 * logits

    def batch_of(self, shape: tuple[int, ...]) -> int:
        return shape[0] if len(shape) > 1 else 1

    def grad_scale(self, ref_inputs: Inputs, ref_out: torch.Tensor, grad_out: torch.Tensor) -> float:
        # dx = g_i * w[y_i] * (p - onehot) + smoothing: its terms are about g_i * w[y_i] per row (the upstream
        # gradient of the row, over the mean's denominator). They cancel to exactly 0 for one class, where the
        # rounding is measured against that size instead.
        x, target = ref_inputs.args[:2]
        kw = ref_inputs.kwargs
        ignore_index, weight = kw.get("ignore_index", -100), kw.get("weight")
        y = target.reshape(-1)
        kept = y != ignore_index
        w_row = torch.ones(y.shape, dtype=torch.float64)
        if weight is not None:
            w_row = weight.to(torch.float64)[torch.where(kept, y, 0)]
        w_row = torch.where(kept, w_row, 0.0)
        reduction = kw.get("reduction", "mean")
        g = grad_out.reshape(-1) if reduction == "none" else grad_out.reshape(()).expand(y.shape)
        if reduction == "mean":
            g = g / w_row.sum()
        return torch.nan_to_num(g * w_row, nan=0.0).norm().item()

    def tolerance(self, case: Case, mode: str) -> float:
        # the log-sum-exp sums C exponentials; "mean" and "sum" add the rows' losses. The loss lse - x_y of a
        # confident row is a difference of two nearby numbers: a couple more roundings of the logits' size. Not more
        # for the loss: every rung's measured error stays below a fifth of this bound, and the loss of a row of random
        # logits varies by about a tenth of its size, so twice this bound let a constant output pass in bf16. The
        # gradient softmax - onehot keeps twice as much (the lesson's fp16 softmax reaches 1.3x this bound on it).
        rows = math.prod(case.shape) // class_count(case.shape)
        tol = RTOL[case.dtype] * reduction_factor(class_count(case.shape)) * reduction_factor(rows)
        return (2 if mode == "forward" else 4) * tol


SPEC = CrossEntropySpec()
register_spec(SPEC)
