"""Correctness of one variant on one case: outputs and gradients against the float64 eager op on the CPU.

Tests assert on these comparisons; benchmarks store the same errors in their results, so a timing always says how
accurate the timed code was.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Protocol

import torch

from kernels.case import Case, Inputs


class OpSpec(Protocol):
    """What the check asks of an op's spec: kernels/spec.py's OpSpec, which calls this module, so it is described
    here rather than imported."""

    def make_inputs(self, case: Case, device: str, seed: int) -> Inputs: ...
    def reference_fn(self) -> Callable: ...
    def tolerance(self, case: Case, mode: str) -> float: ...
    def output_scale(self, ref_inputs: Inputs) -> float: ...
    def grad_scale(self, ref_inputs: Inputs, ref_out: torch.Tensor, grad_out: torch.Tensor) -> float | list[float]: ...
    def grad_reference(self, ref_inputs: Inputs, ref_out: torch.Tensor, out: torch.Tensor, grad_out: torch.Tensor): ...


@contextmanager
def precision_mode(case: Case):
    """Set TF32 for cuBLAS matmuls and cuDNN convolutions as `case` asks (on for a tf32 case, off otherwise), and
    restore the previous settings after. Triton launchers read the same flags."""
    old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = case.tf32
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old


def rel_error(out: torch.Tensor, ref: torch.Tensor, floor: float = 0.0) -> float:
    """||out - ref|| / max(||ref||, floor) over the finite reference values, in float64.

    Non-finite values (NaN, +-inf) must sit exactly where the reference has them, else the error is inf. An all-zero
    or constant output can never pass against a non-trivial reference. `floor` keeps a reference that is zero or
    vanishingly small next to the values it was computed from (the gradient of a width-1 softmax is exactly 0, that
    of a one-hot softmax ~1e-40) from turning rounding into an infinite relative error; with no floor only an exact
    zero matches a zero reference.
    """
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"expected a tensor output, got {type(out).__name__}")
    out = out.detach().to("cpu", torch.float64)
    ref = ref.detach().to("cpu", torch.float64)
    if out.shape != ref.shape:
        raise AssertionError(f"output shape {tuple(out.shape)} differs from the reference's {tuple(ref.shape)}")
    bad_ref, bad_out = ~torch.isfinite(ref), ~torch.isfinite(out)
    if not torch.equal(bad_ref, bad_out):
        return math.inf
    if bad_ref.any():
        a, b = out[bad_ref], ref[bad_ref]
        if not torch.equal(a.isnan(), b.isnan()) or not torch.equal(a[~a.isnan()], b[~b.isnan()]):
            return math.inf
    good = ~bad_ref
    diff = (out[good] - ref[good]).norm().item()
    norm = max(ref[good].norm().item(), floor)
    if norm == 0.0:
        return 0.0 if diff == 0.0 else math.inf
    return diff / norm


@dataclass(frozen=True)
class Comparison:
    what: str  # "output" or "grad[i]" (the gradient of the i-th differentiable input)
    error: float
    tolerance: float
    # a norm-wise relative error against float64 (what results record as rel_error); False for a property check
    # (a random op's share of zeros as a z-score, a mask compared with itself), which passes or fails only
    relative: bool = True

    @property
    def ok(self) -> bool:
        return self.error <= self.tolerance

    def __str__(self) -> str:
        return f"{self.what}: error {self.error:.3g} (tolerance {self.tolerance:.3g})"


def poison_allocator(inputs: Inputs) -> None:
    """Fill and free blocks the size of the inputs with NaN, so that a kernel which leaves output elements unwritten
    finds NaN there (the allocator hands the freed blocks out again) instead of a stale, possibly right, answer."""
    for a in inputs.args:
        if isinstance(a, torch.Tensor) and a.is_floating_point():
            torch.full((max(a.numel(), 1),), float("nan"), dtype=a.dtype, device=a.device)


def underflow(out: torch.Tensor) -> float:
    """The norm below which `out`'s dtype cannot hold a result relatively: its smallest normal number per element.
    A reference of norm 1e-198 (a sigmoid of -1500) is 0 in fp32; an all-zero output passes only against such a
    reference, never against one the dtype can represent."""
    return torch.finfo(out.dtype).tiny * max(out.numel(), 1) ** 0.5


def random_like(t: torch.Tensor, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(t.shape, generator=g, dtype=torch.float32).to(device=t.device, dtype=t.dtype)


def reference(spec: OpSpec, inputs: Inputs) -> tuple[Inputs, torch.Tensor]:
    ref_inputs = inputs.to_reference()
    return ref_inputs, spec.reference_fn()(*ref_inputs.args, **ref_inputs.kwargs)


def compare(
    fn,
    spec: OpSpec,
    case: Case,
    device: str,
    seed: int,
    grads: bool = True,
    inputs: Inputs | None = None,
    grad_layout: Callable[[torch.Tensor], torch.Tensor] | None = None,
    watch: AbstractContextManager | None = None,
    keep_inputs: bool = True,
) -> list[Comparison]:
    """Run `fn` on fresh inputs for `case` and compare its output (and, with `grads`, its input gradients for a
    random output gradient) with the float64 reference, under the case's precision (TF32 on or off).

    `inputs` replaces the spec's inputs for `case` (the layout fuzz passes the same values in other memory layouts);
    `grad_layout` stores the output gradient in another layout (same values); `watch` (a context manager, such as
    kernels.torch_ops.AtenRecorder) is entered around the variant's forward and around its backward, and around
    nothing else. With `keep_inputs` (unless the variant declares that it overwrites them), the arguments must hold
    their values after the forward and backward: only the state the op updates may change."""
    with precision_mode(case):
        return _compare(fn, spec, case, device, seed, grads, inputs, grad_layout, watch or nullcontext(), keep_inputs)


def snapshot(inputs: Inputs) -> dict[int, torch.Tensor]:
    """Copies of the tensor arguments a call must leave as they were: all but the op's state."""
    return {
        i: a.detach().clone()
        for i, a in enumerate(inputs.args)
        if isinstance(a, torch.Tensor) and i not in inputs.state
    }


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.is_floating_point() and not torch.equal(a.isnan(), b.isnan()):
        return False
    return torch.equal(a.nan_to_num(0.0, float("inf"), float("-inf")), b.nan_to_num(0.0, float("inf"), float("-inf")))


def inputs_kept(inputs: Inputs, before: dict[int, torch.Tensor]) -> Comparison:
    """A property check: how many arguments the call wrote to (a library that stores a gradient in its input's
    memory, as Liger's cross-entropy does, overwrites the caller's logits)."""
    changed = [i for i, b in before.items() if not _same(inputs.args[i].detach(), b)]
    what = "inputs unchanged" + (f" (argument {', '.join(map(str, changed))} overwritten)" if changed else "")
    return Comparison(what, error=float(len(changed)), tolerance=0.0, relative=False)


def _compare(fn, spec: OpSpec, case: Case, device: str, seed: int, grads: bool, inputs, grad_layout, watch, keep):
    if inputs is None:
        inputs = spec.make_inputs(case, device, seed)
    if grads:
        inputs = inputs.with_grad()
    ref_inputs, ref_out = reference(spec, inputs)
    before = snapshot(inputs) if keep else {}
    poison_allocator(inputs)
    with watch:
        out = fn(*inputs.args, **inputs.kwargs)
    floor = max(underflow(out), spec.output_scale(ref_inputs))
    result = [Comparison("output", rel_error(out, ref_out, floor), spec.tolerance(case, "forward"))]
    # state the op updates in place (running statistics) must match the reference's after the call
    result += [
        Comparison(f"state[{i}]", rel_error(inputs.args[i], ref_inputs.args[i]), spec.tolerance(case, "state"))
        for i in inputs.state
        if inputs.args[i] is not None
    ]
    if grads:
        grad_out = random_like(out, seed + 1)
        if grad_layout is not None:
            grad_out = grad_layout(grad_out)
        with watch:
            got = torch.autograd.grad(out, inputs.differentiable(), grad_out)
        ref_for_grad, ref_grad_out = spec.grad_reference(
            ref_inputs, ref_out, out.detach(), grad_out.to("cpu", torch.float64)
        )
        want = torch.autograd.grad(ref_for_grad, ref_inputs.differentiable(), ref_grad_out)
        tol = spec.tolerance(case, "backward")
        scale = spec.grad_scale(ref_inputs, ref_out.detach(), grad_out.to("cpu", torch.float64))
        floors = scale if isinstance(scale, (list, tuple)) else [scale] * len(got)
        result += [
            Comparison(f"grad[{i}]", rel_error(a, b, max(floor, underflow(out))), tol)
            for i, (a, b, floor) in enumerate(zip(got, want, floors, strict=True))
        ]
    if keep:
        result.append(inputs_kept(inputs, before))
    return result
