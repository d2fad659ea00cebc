"""2-D convolution, signature of F.conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1), plus
the conv block of the lesson CNNs: bn=(running_mean, running_var, weight, bias) applies an evaluation-mode batch
norm (eps bn_eps) to the convolution's output, and activation="relu" a relu after it.

x is [N, C, H, W] (NCHW or channels_last), weight [K, C/groups, R, S], the output [N, K, P, Q] with
P = floor((H + pad_top + pad_bottom - dilation*(R - 1) - 1) / stride) + 1 (Q likewise). padding is an int, a pair,
'valid' (0) or 'same' (stride 1 only; an even kernel pads one more at the bottom and right, as torch does).

Work model: 2*N*K*P*Q*(C/g)*R*S FLOPs (two per multiply-add, as torch.utils.flop_counter counts; fvcore counts
one). Minimum bytes read x and the weight once and write y once: s*(N*C*H*W + K*(C/g)*R*S + N*K*P*Q) (+ K*s for a
bias). Backward computes the input gradient and the weight gradient, each as many FLOPs as the forward, reading
dy twice, x and the weight once, and writing dx and dw.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from kernels.dtypes import BF16, FLOAT_DTYPES, FP16, FP32
from kernels.registry import register_spec
from kernels.spec import (
    RTOL,
    RTOL_TF32,
    Case,
    Inputs,
    OpSpec,
    pair,
    reduction_factor,
    relu_grad_reference,
    term_output_scale,
    term_scales,
)


@dataclass(frozen=True)
class ConvGeometry:
    """Every size and offset a convolution kernel needs, resolved once from the arguments."""

    n: int
    c: int
    h: int
    w: int
    k: int
    r: int
    s: int
    groups: int
    stride: tuple[int, int]
    dilation: tuple[int, int]
    pad: tuple[int, int, int, int]  # top, bottom, left, right
    p: int
    q: int

    @property
    def c_per_group(self) -> int:
        return self.c // self.groups

    @property
    def k_per_group(self) -> int:
        return self.k // self.groups


def resolve_padding(padding, r: int, s: int, stride, dilation, op: str) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) padding for an int, a pair, 'valid' or 'same'."""
    if padding == "valid":
        return 0, 0, 0, 0
    if padding == "same":
        if stride != (1, 1):
            raise ValueError(f"{op}: padding='same' is not supported for strided convolutions (stride {stride})")
        total_h, total_w = dilation[0] * (r - 1), dilation[1] * (s - 1)
        return total_h // 2, total_h - total_h // 2, total_w // 2, total_w - total_w // 2
    if isinstance(padding, str):
        raise ValueError(f"{op}: padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
    ph, pw = pair(padding, "padding", op)
    if ph < 0 or pw < 0:
        raise ValueError(f"{op}: padding must be non-negative, got {padding!r}")
    return ph, ph, pw, pw


def check_args(
    x,
    weight,
    bias=None,
    stride=1,
    padding=0,
    dilation=1,
    groups=1,
    bn=None,
    bn_eps=1e-5,
    activation=None,
    op: str = "conv2d",
) -> ConvGeometry:
    """Validate conv2d arguments the same way for every variant, naming the problem; return the geometry."""
    for name, t in (("x", x), ("weight", weight)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{op}: {name} must be a tensor, got {type(t).__name__}")
        if t.dtype not in FLOAT_DTYPES:
            raise TypeError(f"{op}: {name} must be floating point (float32, float16, bfloat16, float64), got {t.dtype}")
        if t.dim() != 4:
            shapes = "[N, C, H, W] (or one [C, H, W] image)" if name == "x" else "[K, C/groups, R, S]"
            raise ValueError(f"{op}: {name} must be 4-D {shapes}, got {t.dim()}-D {tuple(t.shape)}")
    if x.dtype != weight.dtype:
        raise TypeError(f"{op}: x and weight must have one dtype, got {x.dtype} and {weight.dtype}")
    if x.device != weight.device:
        raise ValueError(f"{op}: x and weight must be on one device, got {x.device} and {weight.device}")
    if not isinstance(groups, int) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    n, c, h, w = x.shape
    k, c_per_group, r, s = weight.shape
    if c % groups or k % groups:
        raise ValueError(f"{op}: groups={groups} must divide the input channels ({c}) and the output channels ({k})")
    if c_per_group * groups != c:
        raise ValueError(
            f"{op}: x has {c} channels, but weight {tuple(weight.shape)} with groups={groups} expects "
            f"{c_per_group} x {groups} = {c_per_group * groups}"
        )
    if bias is not None:
        if not isinstance(bias, torch.Tensor) or bias.shape != (k,):
            raise ValueError(f"{op}: bias must be a tensor of K={k} values, got {getattr(bias, 'shape', bias)}")
        if bias.dtype != x.dtype or bias.device != x.device:
            raise TypeError(f"{op}: bias must match x's dtype and device, got {bias.dtype} on {bias.device}")
    stride, dilation = pair(stride, "stride", op), pair(dilation, "dilation", op)
    if min(stride) < 1 or min(dilation) < 1:
        raise ValueError(f"{op}: stride and dilation must be positive, got stride {stride}, dilation {dilation}")
    pad = resolve_padding(padding, r, s, stride, dilation, op)
    p = (h + pad[0] + pad[1] - dilation[0] * (r - 1) - 1) // stride[0] + 1
    q = (w + pad[2] + pad[3] - dilation[1] * (s - 1) - 1) // stride[1] + 1
    if p < 1 or q < 1:
        raise ValueError(
            f"{op}: the kernel {r}x{s} (dilation {dilation}) is larger than the padded input {tuple(x.shape[2:])} "
            f"with padding {pad}: the output would be {p}x{q}"
        )
    if bn is not None:
        if not isinstance(bn, tuple) or len(bn) != 4:
            raise ValueError(f"{op}: bn must be a tuple (running_mean, running_var, weight, bias), got {type(bn)}")
        for name, t in zip(("running_mean", "running_var", "weight", "bias"), bn, strict=True):
            if (t is None and name.startswith("running")) or (
                t is not None and (not isinstance(t, torch.Tensor) or t.shape != (k,) or t.device != x.device)
            ):
                raise ValueError(f"{op}: bn {name} must be a tensor of K={k} values on {x.device}, got {t!r:.60}")
    if activation not in (None, "relu"):
        raise ValueError(f"{op}: activation must be None or 'relu', got {activation!r}")
    return ConvGeometry(n, c, h, w, k, r, s, groups, stride, dilation, pad, p, q)


def block_epilogue(y: torch.Tensor, bn, bn_eps: float, activation) -> torch.Tensor:
    """Evaluation-mode batch norm and relu after a convolution, as separate PyTorch ops (the unfused block)."""
    if bn is not None:
        y = F.batch_norm(y, bn[0], bn[1], bn[2], bn[3], False, 0.0, bn_eps)
    return torch.relu(y) if activation == "relu" else y


class Conv2dSpec(OpSpec):
    op = "conv2d"
    dtypes = (FP32, FP16, BF16)
    supports_tf32 = True
    quick_cuda_dtypes = ("bf16",)  # with TF32 (cuDNN's default for fp32): the precisions convolutions train in
    # batch = N; the shapes are the digits CNN's two layers at 16x16 and one ResNet-18 stage
    batch_sizes = {"quick": (128,), "full": (1, 16, 128, 1024)}
    max_flops = {"cpu": 2**32, "cuda": 2**42}  # keep a CPU benchmark call near 0.03 s
    work_model = (
        "flops 2*N*K*P*Q*(C/g)*R*S (backward twice that: dx and dw); bytes: x, weight read once, y "
        "written once (backward: dy twice, x and weight once, dx and dw written)"
    )
    smoke_case = "pad0"
    target_benchmarks = "forward and not lesson"

    # Shapes are (N, C, H, W, K, R, S): x [N, C, H, W], weight [K, C/groups, R, S]. Params: stride, padding,
    # dilation, groups (the op's), no_bias, bn (an evaluation-mode batch norm after the conv), activation.
    # Layouts: contiguous, channels_last (x and weight), sliced (x every other column of a wider image).
    def test_cases(self) -> list[Case]:
        cases = []
        for dtype in self.dtypes:
            cases += [
                Case("pad1", (2, 3, 9, 11, 8, 3, 3), dtype, params=(("padding", 1),)),
                Case(
                    "bn_relu",
                    (2, 4, 7, 7, 6, 3, 3),
                    dtype,
                    params=(("padding", 1), ("bn", True), ("activation", "relu")),
                ),
            ]
        cases += [
            Case("pad0", (2, 3, 9, 11, 5, 3, 3), FP32),
            Case("same", (2, 3, 8, 9, 4, 4, 3), FP32, params=(("padding", "same"),)),  # even kernel: uneven pad
            Case("stride2", (2, 3, 11, 10, 6, 3, 3), FP32, params=(("stride", 2), ("padding", 1))),
            Case("stride3_pad1", (1, 2, 10, 10, 3, 2, 2), FP32, params=(("stride", 3), ("padding", 1))),
            Case("dilation2", (2, 3, 12, 11, 4, 3, 3), FP32, params=(("dilation", 2), ("padding", 2))),
            Case("groups2", (2, 6, 8, 8, 4, 3, 3), FP32, params=(("groups", 2), ("padding", 1))),
            Case("depthwise", (2, 8, 9, 9, 8, 3, 3), FP32, params=(("groups", 8), ("padding", 1))),
            Case("depthwise", (2, 8, 9, 9, 8, 3, 3), FP16, params=(("groups", 8), ("padding", 1))),
            Case("pointwise", (2, 16, 7, 5, 24, 1, 1), FP32),
            Case("non_square", (2, 3, 10, 12, 5, 2, 5), FP32, params=(("stride", (1, 2)), ("padding", (1, 2)))),
            Case("kernel_is_input", (3, 4, 5, 5, 6, 5, 5), FP32),
            Case("odd", (3, 5, 13, 17, 7, 5, 5), FP32, params=(("padding", 2),)),  # the digits layers' k5 p2
            Case("batch1", (1, 16, 8, 8, 32, 5, 5), FP32, params=(("padding", 2),)),
            Case("no_bias", (2, 3, 9, 9, 4, 3, 3), FP32, params=(("no_bias", True),)),
            Case("channels_last", (2, 8, 9, 7, 16, 3, 3), FP32, params=(("padding", 1),), layout="channels_last"),
            Case("channels_last", (2, 8, 9, 7, 16, 3, 3), FP16, params=(("padding", 1),), layout="channels_last"),
            Case("sliced", (2, 3, 9, 10, 4, 3, 3), FP32, layout="sliced"),
            Case("bn_no_affine", (2, 3, 8, 8, 5, 3, 3), FP32, params=(("bn", "no_affine"), ("activation", "relu"))),
            Case("long_reduction", (2, 96, 6, 6, 8, 5, 5), FP32, params=(("padding", 2),)),  # K = 2400
            Case("tf32", (2, 16, 9, 9, 16, 3, 3), FP32, params=(("padding", 1),), tf32=True),
        ]
        return cases

    def bench_shapes(self, profile: str, batch: int, device: str) -> list[tuple[int, ...]]:
        shapes = [(batch, 1, 16, 16, 16, 5, 5), (batch, 16, 8, 8, 32, 5, 5), (batch, 64, 56, 56, 64, 3, 3)]
        return [s for s in shapes if self.flops(Case("", s, FP32), "forward") <= self.max_flops[device]]

    def bench_params(self, shape):
        same = (("padding", shape[-1] // 2),)  # k5 p2 and k3 p1: the output keeps the input's size
        return [same, same + (("bn", True), ("activation", "relu"))]

    def bench_layouts(self, shape, device):
        # cuDNN's tensor-core convolutions are native to NHWC: the ResNet stage is timed in both layouts on CUDA
        return ("contiguous", "channels_last") if device == "cuda" and shape[1] >= 64 else ("contiguous",)

    def geometry(self, case: Case) -> ConvGeometry:
        n, c, h, w, k, r, s = case.shape
        p = case.kwargs
        x = torch.empty((n, c, h, w), device="meta")
        weight = torch.empty((k, c // p.get("groups", 1), r, s), device="meta")
        keys = ("stride", "padding", "dilation", "groups")
        return check_args(x, weight, **{key: p[key] for key in keys if key in p})

    def make_inputs(self, case: Case, device: str, seed: int) -> Inputs:
        g = torch.Generator().manual_seed(seed)
        geo = self.geometry(case)
        p = case.kwargs
        reduction = geo.c_per_group * geo.r * geo.s

        def rand(*shape, scale=1.0):
            return (scale * torch.randn(shape, generator=g)).to(device=device, dtype=case.dtype)

        def uniform(lo, hi):
            return (lo + (hi - lo) * torch.rand(geo.k, generator=g)).to(device=device, dtype=case.dtype)

        if case.layout == "sliced":
            x = rand(geo.n, geo.c, geo.h, 2 * geo.w)[..., ::2]
        else:
            x = rand(geo.n, geo.c, geo.h, geo.w)
        # weights scaled as a layer's initialization is, so that outputs stay O(1) for any reduction length
        weight = rand(geo.k, geo.c_per_group, geo.r, geo.s, scale=reduction**-0.5)
        if case.layout == "channels_last":
            x, weight = (t.contiguous(memory_format=torch.channels_last) for t in (x, weight))
        elif case.layout not in ("contiguous", "sliced"):
            raise ValueError(f"conv2d: unknown layout {case.layout!r}")
        bias = None if p.get("no_bias") else rand(geo.k, scale=0.5)
        kwargs = {key: p[key] for key in ("stride", "padding", "dilation", "groups") if key in p}
        if p.get("bn"):
            mean, var = uniform(-0.5, 0.5), uniform(0.5, 1.5)
            affine = (None, None) if p["bn"] == "no_affine" else (uniform(0.5, 1.5), uniform(-0.5, 0.5))
            kwargs["bn"] = (mean, var, *affine)
        kwargs["activation"] = p.get("activation")
        return Inputs((x, weight, bias), kwargs)

    def flops(self, case: Case, mode: str) -> float:
        geo = self.geometry(case)
        forward = 2 * geo.n * geo.k * geo.p * geo.q * geo.c_per_group * geo.r * geo.s
        return forward if mode == "forward" else 2 * forward

    def bytes(self, case: Case, mode: str) -> float:
        geo = self.geometry(case)
        x, w, y = geo.n * geo.c * geo.h * geo.w, geo.k * geo.c_per_group * geo.r * geo.s, geo.n * geo.k * geo.p * geo.q
        elements = x + w + y + (0 if case.kwargs.get("no_bias") else geo.k)
        if mode != "forward":  # dx from dy and w, dw from dy and x: dy twice, x, w, dx, dw once
            elements = 2 * (x + w + y)
        return elements * case.dtype.itemsize

    def grad_reference(self, ref_inputs, ref_out, out, grad_out):
        return relu_grad_reference(self, ref_inputs, ref_out, out, grad_out)

    @staticmethod
    def _squared_bn(ref_inputs):
        """The block's batch norm acting on squared terms: y = (c - mean) * s + beta with s = gamma / sqrt(var + eps)
        becomes (c' + mean^2) * s^2 + beta^2, i.e. mean' = -mean^2, sqrt(var' + eps) = var + eps, gamma' = gamma^2,
        beta' = beta^2."""
        bn = ref_inputs.kwargs.get("bn")
        if bn is None:
            return None
        mean, var, gamma, beta = bn
        eps = ref_inputs.kwargs.get("bn_eps", 1e-5)
        square = lambda t: None if t is None else t.square()
        return (-mean.square(), (var + eps).square() - eps, square(gamma), square(beta))

    def output_scale(self, ref_inputs):
        return term_output_scale(self, ref_inputs, bn=self._squared_bn(ref_inputs))

    def grad_scale(self, ref_inputs, ref_out, grad_out):
        # dx, dw and dbias sum products of both signs (term_scales)
        return term_scales(self, ref_inputs, grad_out, bn=self._squared_bn(ref_inputs))

    def tolerance(self, case: Case, mode: str) -> float:
        geo = self.geometry(case)
        base = RTOL_TF32 if case.tf32 else RTOL[case.dtype]
        if mode == "forward":
            length = geo.c_per_group * geo.r * geo.s
            # a folded batch norm rounds the scaled weight and bias to the dtype once more
            return base * reduction_factor(length) * (2 if case.kwargs.get("bn") else 1)
        # dx sums over (K/g)*R*S products, dw over N*P*Q
        length = max(geo.k_per_group * geo.r * geo.s, geo.n * geo.p * geo.q)
        return 2 * base * reduction_factor(length) * (2 if case.kwargs.get("bn") else 1)


SPEC = Conv2dSpec()
register_spec(SPEC)
