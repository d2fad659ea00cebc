"""2-D max pooling, signature of F.max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1,
ceil_mode=False, return_indices=False), plus activation="relu": the relu that precedes each pool in the lesson
CNNs (conv -> relu -> pool). Max and relu commute, pool(relu(z)) = relu(pool(z)), so a fused kernel applies relu
once per output.

x is [N, C, H, W] (NCHW or channels_last); the output [N, C, P, Q] with
P = floor((H + 2*pad - dilation*(kernel - 1) - 1) / stride) + 1 (ceil with ceil_mode, as long as the last window
starts inside the image or its left padding). Padding reads as -inf: it never wins. Ties go to the first maximum
in the window's row-major order and NaN wins, as in torch, so gradients land where torch puts them.

Work model: kernel_h*kernel_w comparisons per output (counted as FLOPs); it is bound by memory. Minimum bytes read
x once and write y once, s*(N*C*H*W + N*C*P*Q); backward reads dy and writes dx, s*(N*C*P*Q + N*C*H*W). The
argmax indices a pool saves for its backward (int64 in torch, int32 in the Triton rung) are not counted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from kernels.dtypes import BF16, FLOAT_DTYPES, FP16, FP32
from kernels.registry import register_spec
from kernels.spec import RTOL, Case, Inputs, OpSpec, pair, relu_grad_reference

OP_KWARGS = ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices")


@dataclass(frozen=True)
class PoolGeometry:
    n: int
    c: int
    h: int
    w: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    pad: tuple[int, int]
    dilation: tuple[int, int]
    p: int
    q: int


def pool_output_size(size: int, kernel: int, pad: int, stride: int, dilation: int, ceil_mode: bool) -> int:
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:  # the last window must start inside the image or the padding
        out -= 1
    return out


def check_args(
    x,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode=False,
    return_indices=False,
    activation=None,
    op: str = "max_pool2d",
) -> PoolGeometry:
    """Validate max-pool arguments the same way for every variant, naming the problem; return the geometry."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{op}: x must be a tensor, got {type(x).__name__}")
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{op}: x must be floating point (float32, float16, bfloat16, float64), got {x.dtype}")
    if x.dim() != 4:
        raise ValueError(f"{op}: x must be 4-D [N, C, H, W] (or one [C, H, W] image), got {x.dim()}-D {tuple(x.shape)}")
    kernel = pair(kernel_size, "kernel_size", op)
    stride = kernel if stride is None or stride == [] else pair(stride, "stride", op)
    pad, dilation = pair(padding, "padding", op), pair(dilation, "dilation", op)
    if min(kernel) < 1 or min(stride) < 1 or min(dilation) < 1:
        raise ValueError(f"{op}: kernel_size, stride and dilation must be positive, got {kernel}, {stride}, {dilation}")
    if min(pad) < 0 or pad[0] > kernel[0] // 2 or pad[1] > kernel[1] // 2:
        raise ValueError(f"{op}: pad should be at most half of kernel size, got padding {pad} for kernel {kernel}")
    n, c, h, w = x.shape
    p = pool_output_size(h, kernel[0], pad[0], stride[0], dilation[0], ceil_mode)
    q = pool_output_size(w, kernel[1], pad[1], stride[1], dilation[1], ceil_mode)
    if p < 1 or q < 1:
        raise ValueError(f"{op}: the window {kernel} (dilation {dilation}) is larger than the padded input {(h, w)}")
    if activation not in (None, "relu"):
        raise ValueError(f"{op}: activation must be None or 'relu', got {activation!r}")
    if not isinstance(return_indices, bool):
        raise ValueError(f"{op}: return_indices must be True or False, got {return_indices!r}")
    return PoolGeometry(n, c, h, w, kernel, stride, pad, dilation, p, q)


class MaxPool2dSpec(OpSpec):
    op = "max_pool2d"
    dtypes = (FP32, FP16, BF16)
    # batch = N; the shapes are the digits CNN's two pools and the ResNet-18 stem's 3x3 stride-2 pool
    batch_sizes = {"quick": (128,), "full": (1, 16, 128, 1024)}
    max_elements = {"cpu": 1 << 24, "cuda": 1 << 30}
    work_model = "bytes: x read once, y written once (backward: dy read, dx written); argmax indices not counted"
    smoke_case = "k2_stride1"
    target_benchmarks = "forward and not lesson"

    # Shapes [N, C, H, W]. Params: the op's keyword arguments and activation. Fills: randn; ties (integers in
    # [-2, 2]: most windows hold their maximum twice, and the gradient must go to the first).
    def test_cases(self) -> list[Case]:
        cases = []
        for dtype in self.dtypes:
            cases += [
                Case("k2", (2, 3, 8, 10), dtype, params=(("kernel_size", 2),)),
                Case("relu", (2, 3, 9, 8), dtype, params=(("kernel_size", 2), ("activation", "relu"))),
            ]
        cases += [
            Case("k2_stride1", (2, 3, 7, 9), FP32, params=(("kernel_size", 2), ("stride", 1))),
            Case("k3_stride2_pad1", (2, 4, 11, 13), FP32, params=(("kernel_size", 3), ("stride", 2), ("padding", 1))),
            Case("dilation2", (2, 3, 10, 11), FP32, params=(("kernel_size", 3), ("stride", 1), ("dilation", 2))),
            Case("ceil_mode", (2, 3, 9, 10), FP32, params=(("kernel_size", 2), ("ceil_mode", True))),
            Case(
                "ceil_mode_pad",
                (1, 2, 6, 6),
                FP32,
                params=(("kernel_size", 3), ("stride", 2), ("padding", 1), ("ceil_mode", True)),
            ),
            Case(
                "non_square",
                (2, 3, 9, 12),
                FP32,
                params=(("kernel_size", (2, 3)), ("stride", (1, 2)), ("padding", (1, 1))),
            ),
            Case("window_is_input", (2, 5, 7, 7), FP32, params=(("kernel_size", 7),)),
            Case("batch1", (1, 16, 16, 16), FP32, params=(("kernel_size", 2),)),
            Case(
                "channels_last",
                (2, 8, 9, 7),
                FP32,
                params=(("kernel_size", 3), ("stride", 2), ("padding", 1)),
                layout="channels_last",
            ),
            Case("channels_last", (2, 8, 9, 7), FP16, params=(("kernel_size", 2),), layout="channels_last"),
            Case("sliced", (2, 3, 8, 8), FP32, params=(("kernel_size", 2),), layout="sliced"),
            Case("ties", (2, 3, 8, 8), FP32, params=(("kernel_size", 3), ("stride", 1)), fill="ties"),
            Case("ties_relu", (2, 3, 8, 8), FP32, params=(("kernel_size", 2), ("activation", "relu")), fill="ties"),
        ]
        return cases

    def bench_shapes(self, profile: str, batch: int, device: str) -> list[tuple[int, ...]]:
        shapes = [(batch, 16, 16, 16), (batch, 32, 8, 8), (batch, 64, 112, 112)]
        return [s for s in shapes if math.prod(s) <= self.max_elements[device]]

    def bench_params(self, shape):
        pool = (("kernel_size", 3), ("stride", 2), ("padding", 1)) if shape[2] == 112 else (("kernel_size", 2),)
        return [pool, pool + (("activation", "relu"),)]

    def geometry(self, case: Case) -> PoolGeometry:
        kwargs = {k: v for k, v in case.params if k in OP_KWARGS}
        return check_args(torch.empty(case.shape, device="meta"), **kwargs)

    def make_inputs(self, case: Case, device: str, seed: int) -> Inputs:
        g = torch.Generator().manual_seed(seed)
        n, c, h, w = case.shape
        width = 2 * w if case.layout == "sliced" else w
        if case.fill == "ties":
            x = torch.randint(-2, 3, (n, c, h, width), generator=g).float()
        elif case.fill == "randn":
            x = torch.randn((n, c, h, width), generator=g)
        else:
            raise ValueError(f"max_pool2d: unknown fill {case.fill!r}")
        x = x.to(device=device, dtype=case.dtype)
        if case.layout == "sliced":
            x = x[..., ::2]
        elif case.layout == "channels_last":
            x = x.contiguous(memory_format=torch.channels_last)
        elif case.layout != "contiguous":
            raise ValueError(f"max_pool2d: unknown layout {case.layout!r}")
        kwargs = {k: v for k, v in case.params if k in OP_KWARGS}
        return Inputs((x,), {**kwargs, "activation": case.kwargs.get("activation")})

    def flops(self, case: Case, mode: str) -> float:
        geo = self.geometry(case)
        return geo.n * geo.c * geo.p * geo.q * geo.kernel[0] * geo.kernel[1]

    def bytes(self, case: Case, mode: str) -> float:
        geo = self.geometry(case)
        return (geo.n * geo.c * (geo.h * geo.w + geo.p * geo.q)) * case.dtype.itemsize

    def grad_reference(self, ref_inputs, ref_out, out, grad_out):
        return relu_grad_reference(self, ref_inputs, ref_out, out, grad_out)

    def tolerance(self, case: Case, mode: str) -> float:
        # a maximum is exact; a gradient sums the output gradients of the overlapping windows that chose a pixel
        return RTOL[case.dtype] * (1 if mode == "forward" else 2)


SPEC = MaxPool2dSpec()
register_spec(SPEC)
