"""What every op spec shares: dtype names, test cases, inputs, tolerances, the float64 reference and the error.

An op's own spec (kernels/<op>/spec.py) subclasses OpSpec and says how to make its inputs, which shapes to test and
to benchmark, its flop and byte models and its tolerances.
"""

from __future__ import annotations

import functools
import math

import torch

from kernels import check, reference
from kernels.case import Case, Inputs  # noqa: F401 - the ops' specs, tests and tools take them from here

# Norm-wise relative error ||out - ref|| / ||ref|| allowed for an op whose every output element is one short
# computation rounded once to the dtype: a few units of the dtype's rounding (torch.testing's rtol defaults are
# fp32 1.3e-6, fp16 1e-3, bf16 1.6e-2 per element; a norm-wise error sits well below the worst element).
# Ops that reduce over a long axis scale this with reduction_factor().
RTOL = {torch.float32: 1.3e-6, torch.float16: 1e-3, torch.bfloat16: 1.6e-2, torch.float64: 1e-12}
# TF32 rounds fp32 operands to a 10-bit mantissa before multiplying: ~5e-4 per product, ~2e-3 in a matmul's output.
RTOL_TF32 = 5e-3


def reduction_factor(length: int) -> float:
    """Rounding error of a sum grows with its length: about log2(n) roundings for a tree sum, more for a serial one.
    Tolerances of reducing ops grow with log2 of the reduction length past 16 elements."""
    return max(1.0, math.log2(max(length, 1)) / 4)


FP32_ROUNDOFF = 2.0**-24


def serial_sum_error(length: int) -> float:
    """Relative error of an fp32 accumulator that adds `length` terms one after another (a CPU kernel reducing
    along a strided dim does): its roundings add up like a random walk, ~sqrt(length) units of fp32's roundoff;
    4x that for the tail. It does not shrink with the storage dtype: fp16 and bf16 data accumulate in fp32 too."""
    return 4 * math.sqrt(max(length, 1)) * FP32_ROUNDOFF


def make_layout(t: torch.Tensor, layout: str) -> torch.Tensor:
    """Return `t`'s values in the asked memory layout, so kernels see strides they must honour."""
    if layout == "contiguous":
        return t.contiguous()
    if layout == "strided":  # every other element of the last dimension: a slice, stride 2
        wide = torch.empty(*t.shape[:-1], 2 * t.shape[-1], dtype=t.dtype, device=t.device)
        wide[..., ::2] = t
        return wide[..., ::2]
    if layout == "transposed":  # same values, stored with the last two dimensions swapped
        return t.transpose(-1, -2).contiguous().transpose(-1, -2)
    raise ValueError(f"unknown layout {layout!r}")


def pair(value, name: str, op: str) -> tuple[int, int]:
    """An int or a pair of ints as (height, width)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value, value
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return int(value[0]), int(value[1])
    raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")


def accepts_unbatched(fn):
    """For an op over [N, C, H, W] (conv2d, max_pool2d): also take one [C, H, W] image, as torch does. It runs as a
    batch of one, and the batch dim is dropped from the result (from each tensor of a tuple: the pool's indices)."""

    @functools.wraps(fn)
    def op(x, *args, **kwargs):
        if not (isinstance(x, torch.Tensor) and x.dim() == 3):
            return fn(x, *args, **kwargs)
        out = fn(x.unsqueeze(0), *args, **kwargs)
        return tuple(t.squeeze(0) for t in out) if isinstance(out, tuple) else out.squeeze(0)

    return op


def is_channels_last(t: torch.Tensor) -> bool:
    return t.dim() == 4 and not t.is_contiguous() and t.is_contiguous(memory_format=torch.channels_last)


def empty_like_layout(shape, like: torch.Tensor, dtype=None) -> torch.Tensor:
    """An uninitialized [N, C, H, W] tensor stored as `like` is (channels_last or NCHW), as torch's convolution and
    pooling return their outputs in their input's memory format."""
    fmt = torch.channels_last if is_channels_last(like) else torch.contiguous_format
    return torch.empty(shape, dtype=dtype or like.dtype, device=like.device, memory_format=fmt)


def _squared(t):
    return t.detach().square() if isinstance(t, torch.Tensor) and t.is_floating_point() else t


def term_output_scale(spec, ref_inputs: Inputs, **overrides) -> float:
    """For an op linear in each input (matmul, convolution) followed by a per-channel affine map: the size its
    output would have if its terms did not cancel, sqrt(sum of the terms' squares) over the whole output, i.e.
    sqrt(sum(op(inputs ** 2))) without the activation (`overrides` square the affine map: the spec knows how). For
    random terms the output is about that size, so the floor changes nothing; an output that cancels far below its
    terms (one pixel of a 6-term fp16 convolution) has its rounding measured against it instead."""
    args = [_squared(a) for a in ref_inputs.args]
    with torch.no_grad():
        out = spec.reference_fn()(*args, **{**ref_inputs.kwargs, "activation": None, **overrides})
    return out.clamp_min(0).sum().sqrt().item()


def term_scales(spec, ref_inputs: Inputs, grad_out: torch.Tensor, **overrides) -> list[float]:
    """The same for each input gradient of an op linear in each input (and an activation whose slope is at most
    1): sqrt(sum of the squares of the terms each gradient sums), from the gradient of <dy ** 2, op(inputs ** 2)>
    (the bias gradient of 7 rows can cancel to far below its terms)."""
    leaves = [a.detach().square().requires_grad_(True) for a in ref_inputs.differentiable()]
    it = iter(leaves)
    args = [next(it) if ref_inputs._is_leaf_input(i, a) else a for i, a in enumerate(ref_inputs.args)]
    out = spec.reference_fn()(*args, **{**ref_inputs.kwargs, "activation": None, **overrides})
    grads = torch.autograd.grad(out, leaves, grad_out.square(), allow_unused=True)
    return [0.0 if g is None else g.clamp_min(0).sum().sqrt().item() for g in grads]


def relu_grad_reference(spec, ref_inputs: Inputs, ref_out, out, grad_out):
    """For an op that ends in relu: the reference pre-activation, and the output gradient masked where the variant's
    output is not positive. Whether a pre-activation within rounding of 0 passes relu is the rounding's decision
    (fp16 flips a few of thousands), and a flipped element changes its gradient entirely; the forward check already
    holds the output to its tolerance, so the gradient check takes the variant's decisions and checks the rest."""
    if ref_inputs.kwargs.get("activation") != "relu":
        return ref_out, grad_out
    pre = spec.reference_fn()(*ref_inputs.args, **{**ref_inputs.kwargs, "activation": None})
    return pre, grad_out * (out.to("cpu", torch.float64) > 0)


class OpSpec:
    """Base of an op's spec. Subclasses set the class attributes and implement the methods that raise here."""

    op: str = ""
    dtypes: tuple[torch.dtype, ...] = (torch.float32, torch.float16, torch.bfloat16)
    supports_tf32: bool = False  # benchmarks on CUDA add fp32-in-TF32 cases
    quick_cuda_dtypes: tuple[str, ...] = ("fp32", "bf16")  # the quick profile's dtypes on CUDA
    modes: tuple[str, ...] = ("forward", "backward")  # what benchmarks time: an optimizer step has forward only
    # an op that updates its arguments in place and returns None (an optimizer step: the parameter list, args[0])
    in_place: bool = False
    # Batch sizes each benchmark profile sweeps; bench_shapes() turns a batch size into the op's shapes.
    batch_sizes: dict[str, tuple[int, ...]] = {}
    work_model: str = ""  # one line: what the flop and byte figures count
    # The GPU check (dnnbench/gpu_check.py): the one test case on which the compiled rung is checked on the device
    # (Inductor compiles each case's graphs, seconds each on a cold machine), and a pytest -k expression over the
    # op's benchmark ids selecting the cases behind its performance targets ("" for none).
    smoke_case: str = ""
    target_benchmarks: str = ""

    def test_cases(self) -> list[Case]:
        raise NotImplementedError

    def bench_shapes(self, profile: str, batch: int, device: str) -> list[tuple[int, ...]]:
        raise NotImplementedError

    def bench_params(self, shape: tuple[int, ...]) -> list[tuple[tuple[str, object], ...]]:
        """The parameter sets benchmarked at `shape` (the softmax dim; matmul with and without bias + relu)."""
        return [()]

    def bench_layouts(self, shape: tuple[int, ...], device: str) -> tuple[str, ...]:
        """The memory layouts benchmarked at `shape` on `device` (conv2d adds channels_last on CUDA)."""
        return ("contiguous",)

    def make_inputs(self, case: Case, device: str, seed: int) -> Inputs:
        raise NotImplementedError

    def flops(self, case: Case, mode: str) -> float:
        raise NotImplementedError

    def bytes(self, case: Case, mode: str) -> float:
        raise NotImplementedError

    def tolerance(self, case: Case, mode: str) -> float:
        raise NotImplementedError

    def grad_scale(self, ref_inputs: Inputs, ref_out: torch.Tensor, grad_out: torch.Tensor) -> float | list[float]:
        """The size of the terms an input gradient is computed from, below which its error is not measured
        relatively (see rel_error's floor): one number for all gradients, or one per differentiable input. 0 by
        default: gradients are compared purely relatively."""
        return 0.0

    def output_scale(self, ref_inputs: Inputs) -> float:
        """The size of the terms the output is computed from, below which its error is not measured relatively
        (rel_error's floor). 0 by default."""
        return 0.0

    def grad_reference(self, ref_inputs: Inputs, ref_out: torch.Tensor, out: torch.Tensor, grad_out: torch.Tensor):
        """(reference output, output gradient) to differentiate for the reference input gradients. By default the
        reference output itself; an op ending in relu differentiates its pre-activation with the gradient masked
        by the variant's own relu decisions (see relu_grad_reference)."""
        return ref_out, grad_out

    def reference_fn(self):
        """The float64 reference: the op written in kernels/reference.py, sharing no code with the variants."""
        return getattr(reference, self.op)

    def compare(self, fn, case: Case, device: str, seed: int, **options) -> list[check.Comparison]:
        """How a variant `fn` is judged on `case`: by default its output and input gradients against the float64
        reference (kernels/check.py, whose keyword options pass through). A stochastic op, whose variants cannot
        match a reference element by element, overrides this with property checks returning Comparisons."""
        return check.compare(fn, self, case, device, seed, **options)

    def batch_of(self, shape: tuple[int, ...]) -> int:
        return shape[0] if shape else 1
