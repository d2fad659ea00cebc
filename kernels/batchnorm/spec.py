"""Batch normalization, signature of F.batch_norm(x, running_mean, running_var, weight=None, bias=None,
training=False, momentum=0.1, eps=1e-5), plus activation=None (relu: the bn + relu block of the lesson CNNs).

Training normalizes each channel by the batch's mean and biased variance, and updates the running statistics in
place: running = (1 - momentum) * running + momentum * batch statistic, with the unbiased variance for running_var.
Evaluation normalizes by the running statistics. x is [N, C], [N, C, L] or [N, C, H, W]; fp16/bf16 inputs keep
fp32 statistics, weight and bias.

Work model, E = N*C*H*W elements of s bytes: ~2E FLOPs in evaluation (scale and shift), more in training; it is
bound by memory. Bytes are the one-pass minimum: evaluation and training forward read x once and write y once
(2*E*s), backward reads x and dy and writes dx (3*E*s). A two-pass kernel (statistics, then normalization: the
Triton rung) moves 3*E*s forward and 5*E*s backward; GB/s is computed from the minimum, so it is an effective
bandwidth that rewards fewer passes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from kernels.dtypes import BF16, FLOAT_DTYPES, FP16, FP32
from kernels.registry import register_spec
from kernels.spec import RTOL, Case, Inputs, OpSpec, reduction_factor, relu_grad_reference


@dataclass(frozen=True)
class BatchNormArgs:
    """A batch-norm call's arguments once checked, as the rungs pass them on (one object, not nine positionals)."""

    x: torch.Tensor
    running_mean: torch.Tensor | None
    running_var: torch.Tensor | None
    weight: torch.Tensor | None
    bias: torch.Tensor | None
    training: bool
    momentum: float
    eps: float
    activation: str | None

    @property
    def per_channel(self) -> int:
        """Values per channel: N times the spatial size."""
        return self.x.numel() // max(self.x.shape[1], 1)


def check_args(x, running_mean, running_var, weight, bias, training, momentum, eps, activation, op="batchnorm"):
    """Validate batch-norm arguments the same way for every variant, naming the problem; return them checked."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{op}: x must be a tensor, got {type(x).__name__}")
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{op}: x must be floating point (float32, float16, bfloat16, float64), got {x.dtype}")
    if x.dim() < 2:
        raise ValueError(f"{op}: x must be [N, C, ...] with at least 2 dimensions, got {tuple(x.shape)}")
    c = x.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        if t is not None and (not isinstance(t, torch.Tensor) or t.shape != (c,)):
            raise ValueError(f"{op}: {name} must be a tensor of C={c} values, got {getattr(t, 'shape', t)}")
        if t is not None and t.device != x.device:
            raise ValueError(f"{op}: {name} is on {t.device}, x on {x.device}")
    if not training and (running_mean is None or running_var is None):
        raise ValueError(f"{op}: running_mean and running_var must be given in evaluation mode")
    if isinstance(momentum, bool) or not isinstance(momentum, (int, float)):
        # any real number, as F.batch_norm takes (OpInfo passes -1.2); None is the module's cumulative average
        raise ValueError(
            f"{op}: momentum must be a number, got {momentum!r} (the cumulative average of "
            "momentum=None is the module's: kernels.batchnorm.module.BatchNorm)"
        )
    if activation not in (None, "relu"):
        raise ValueError(f"{op}: activation must be None or 'relu', got {activation!r}")
    args = BatchNormArgs(x, running_mean, running_var, weight, bias, training, momentum, eps, activation)
    if training and args.per_channel <= 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size {x.size()}")
    return args


def apply_activation(y: torch.Tensor, activation: str | None) -> torch.Tensor:
    return torch.relu(y) if activation == "relu" else y


class BatchNormSpec(OpSpec):
    op = "batchnorm"
    dtypes = (FP32, FP16, BF16)
    # batch = N of an [N, C, H, W] activation; the shapes are the lesson CNN's and a ResNet-18 stage's
    batch_sizes = {"quick": (64,), "full": (1, 16, 64, 256)}
    max_elements = {"cpu": 1 << 22, "cuda": 1 << 28}  # CPU: a ResNet stage from batch 16 (the full profile)
    work_model = "bytes: one-pass minimum (forward x + y, backward x + dy + dx); the Triton rung makes two passes"
    smoke_case = "nchw"
    target_benchmarks = "forward and 64x64x56x56 and not eval"

    # Shapes [N, C, ...]. Params: eval (evaluation mode; default: training), momentum, no_affine (no weight and
    # bias), activation. Fills: randn (per-channel mean in [-1, 1], std in [0.5, 2]); offset (mean 1e3, std 0.3: breaks
    # E[x^2] - E[x]^2 in fp32); constant_channel (channel 0 holds one value: variance 0).
    def test_cases(self) -> list[Case]:
        cases = []
        for dtype in self.dtypes:
            cases += [
                Case("nchw", (8, 16, 7, 9), dtype),
                Case("eval", (8, 16, 7, 9), dtype, params=(("eval", True),)),
                Case("fused_relu", (4, 6, 5, 5), dtype, params=(("activation", "relu"),)),
            ]
        cases += [
            Case("2d", (32, 20), FP32),
            Case("3d", (4, 5, 11), FP32),
            Case("odd", (3, 5, 13, 17), FP32, params=(("momentum", 0.3),)),
            Case("channels_last", (4, 8, 6, 5), FP32, layout="channels_last"),
            Case("channels_last", (4, 8, 6, 5), FP16, layout="channels_last"),
            Case("batch1", (1, 8, 5, 5), FP32),
            Case("no_affine", (6, 7, 4, 4), FP32, params=(("no_affine", True),)),
            Case(
                "eval_no_affine_relu",
                (6, 7, 4, 4),
                FP32,
                params=(("eval", True), ("no_affine", True), ("activation", "relu")),
            ),
            Case("mean_offset", (16, 4, 8, 8), FP32, fill="offset"),
            Case("constant_channel", (8, 3, 4, 4), FP32, fill="constant_channel"),
            Case("large", (4, 3, 64, 64), FP32),  # several blocks per channel
        ]
        return cases

    def bench_shapes(self, profile: str, batch: int, device: str) -> list[tuple[int, ...]]:
        # lesson CNN (digits at 16x16: 16 and 32 channels), a ResNet-18 stage (64 channels at 56x56)
        shapes = [(batch, 16, 16, 16), (batch, 64, 56, 56)]
        if profile == "full":
            shapes.insert(1, (batch, 32, 8, 8))
        return [s for s in shapes if math.prod(s) <= self.max_elements[device]]

    def bench_params(self, shape):
        return [(), (("eval", True),), (("activation", "relu"),)]

    def make_inputs(self, case: Case, device: str, seed: int) -> Inputs:
        g = torch.Generator().manual_seed(seed)
        c = case.shape[1]
        stats_shape = (1, c) + (1,) * (len(case.shape) - 2)
        if case.fill == "offset":
            x = 1e3 + 0.3 * torch.randn(case.shape, generator=g)
        else:
            mean = torch.rand(stats_shape, generator=g) * 2 - 1
            std = 0.5 + 1.5 * torch.rand(stats_shape, generator=g)
            x = mean + std * torch.randn(case.shape, generator=g)
            if case.fill == "constant_channel":
                x[:, 0] = 0.75
            elif case.fill != "randn":
                raise ValueError(f"batchnorm: unknown fill {case.fill!r}")
        x = x.to(device=device, dtype=case.dtype)
        if case.layout == "channels_last":
            x = x.contiguous(memory_format=torch.channels_last)
        elif case.layout != "contiguous":
            raise ValueError(f"batchnorm: unknown layout {case.layout!r}")
        p = case.kwargs
        stats = lambda *s: torch.rand(*s, generator=g).to(device)
        running_mean, running_var = stats(c) - 0.5, 0.5 + stats(c)
        weight, bias = (None, None) if p.get("no_affine") else (0.5 + stats(c), stats(c) - 0.5)
        kwargs = {
            "training": not p.get("eval", False),
            "momentum": p.get("momentum", 0.1),
            "eps": 1e-5,
            "activation": p.get("activation"),
        }
        return Inputs((x, running_mean, running_var, weight, bias), kwargs, state=(1, 2))

    def batch_of(self, shape):
        return shape[0]

    def flops(self, case: Case, mode: str) -> float:
        training = not case.kwargs.get("eval", False)
        per_element = (2 if not training else 7) if mode == "forward" else 8
        return per_element * math.prod(case.shape)

    def bytes(self, case: Case, mode: str) -> float:
        return (2 if mode == "forward" else 3) * math.prod(case.shape) * case.dtype.itemsize

    def grad_reference(self, ref_inputs, ref_out, out, grad_out):
        return relu_grad_reference(self, ref_inputs, ref_out, out, grad_out)

    @staticmethod
    def _normalization(ref_inputs):
        """(x, mean, 1/sigma, weight) of the reference call, each shaped to broadcast over x."""
        x, running_mean, running_var, weight, _ = ref_inputs.args
        kw = ref_inputs.kwargs
        x = x.detach()
        dims, shape = [0, *range(2, x.dim())], (1, -1) + (1,) * (x.dim() - 2)
        mean = x.mean(dims) if kw["training"] else running_mean
        var = x.var(dims, unbiased=False) if kw["training"] else running_var
        w = weight.detach().reshape(shape) if weight is not None else 1.0
        return x, mean.reshape(shape), (var + kw["eps"]).rsqrt().reshape(shape), w

    def output_scale(self, ref_inputs):
        """y = (x - mean)/sigma * w + b: x_hat is a difference, exactly 0 in float64 for a constant channel but
        rounding times 1/sqrt(eps) in the variant's dtype; y is measured against ||(|x| + |mean|)/sigma * w||, the
        size of the two terms before they cancel (about ||y|| for random inputs)."""
        x, mean, rstd, w = self._normalization(ref_inputs)
        return ((x.abs() + mean.abs()) * rstd * w).norm().item()

    def grad_scale(self, ref_inputs, ref_out, grad_out):
        """The size of the terms each gradient is made of, against which a gradient that cancels is measured. In
        training, dx = w/sigma * (dy - mean(dy) - x_hat * mean(dy * x_hat)) cancels to 0 when dy is constant over a
        channel (an expanded output gradient): its floor is ||w/sigma * dy||. dw = sum(dy * x_hat) cancels with it,
        and x_hat is itself a difference (see output_scale), so dw's floor is ||dy * (|x| + |mean|)/sigma||. db's is
        ||dy||. Random inputs give gradients of about these sizes."""
        x, mean, rstd, w = self._normalization(ref_inputs)
        _, _, _, weight, bias = ref_inputs.args
        scales = {id(ref_inputs.args[0]): (grad_out * w * rstd).norm().item()}
        if weight is not None:
            scales[id(weight)] = (grad_out * (x.abs() + mean.abs()) * rstd).norm().item()
        if bias is not None:
            scales[id(bias)] = grad_out.norm().item()
        return [scales.get(id(t), 0.0) for t in ref_inputs.differentiable()]

    def tolerance(self, case: Case, mode: str) -> float:
        per_channel = math.prod(case.shape) // case.shape[1]
        if mode == "state":  # running statistics are fp32 whatever x's dtype
            return RTOL[FP32] * reduction_factor(per_channel) * 4
        tol = RTOL[case.dtype] * reduction_factor(per_channel)
        if case.fill == "offset":
            # (x - mean) / std carries the rounding of x and of the mean, |mean| * eps, magnified by 1 / std:
            # a condition number of |mean| / std = 1e3 / 0.3 that no fp32 algorithm escapes
            tol *= 1e3 / 0.3
        elif case.fill == "constant_channel":
            # variance 0: 1/std = 1/sqrt(eps) ~ 316 magnifies any rounding of the channel's mean in its output
            tol *= 1 / math.sqrt(1e-5)
        return tol if mode == "forward" else 8 * tol


SPEC = BatchNormSpec()
register_spec(SPEC)
