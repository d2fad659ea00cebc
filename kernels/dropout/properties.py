"""The property checks that judge a dropout variant, in place of an element-by-element comparison (see spec.py).

Each property is a kernels.check.Comparison, so the tests and the benchmarks read them as they read any op's:
    output                             survivors equal x / (1 - p) (then the activation), dropped elements are 0,
                                       against the float64 expectation given the variant's own mask
    output: x left as it was / output: written into x      (inplace=False / inplace=True)
    output: share dropped              the count of zeros within 5 standard deviations of Binomial(n, p)
    output: same seed, same mask       torch.manual_seed(s) twice, the same mask
    output: another seed, another mask / output: the next call, another mask
    output: neighbours uncorrelated    the correlation of each element's mask with the next one's (along the last
                                       dim, and along the one before), within 5 standard errors of 0
    grad[0]                            dx = dy / (1 - p) exactly where the output kept x, 0 elsewhere
A bound of 5 standard deviations fails a right variant about once in 1.7 million checks.

The mask probes call the variant on ones (every element informative) under torch.manual_seed, inside a forked RNG
state, so a check leaves the global generators as it found them.
"""

from __future__ import annotations

import math
from contextlib import nullcontext

import torch

from kernels import reference
from kernels.check import Comparison, poison_allocator, random_like, rel_error, underflow

Z_BOUND = 5.0
# checks that two masks differ apply where two independent masks are equal with less than this probability
SAME_BY_CHANCE = 1e-9


def settings(kwargs: dict) -> tuple[float, bool, bool, str | None]:
    """(p, training, inplace, activation) of a call's keyword arguments, with F.dropout's defaults."""
    return (
        kwargs.get("p", 0.5),
        kwargs.get("training", True),
        kwargs.get("inplace", False),
        kwargs.get("activation"),
    )


def drop_rate(kwargs: dict) -> float:
    """The probability an element is dropped in this call: p in training, 0 in eval mode."""
    p, training, _, _ = settings(kwargs)
    return float(p) if training else 0.0


def _rng(device: str):
    devices = [torch.device(device).index or 0] if device == "cuda" else []
    return torch.random.fork_rng(devices=devices)


def survivor_error(x: torch.Tensor, out: torch.Tensor, kwargs: dict) -> float:
    """||out - expected|| / ||expected|| in float64, the expectation given the variant's mask (out != 0)."""
    p, training, _, activation = settings(kwargs)
    keep = out.detach().cpu() != 0
    want = reference.dropout(x.detach().to("cpu", torch.float64), keep, p, training, activation)
    return rel_error(out, want, underflow(out))


def _dropped_z(mask: torch.Tensor, rate: float) -> float:
    n, dropped = mask.numel(), int((~mask).sum())
    sigma = math.sqrt(n * rate * (1 - rate))
    if sigma == 0:
        return 0.0 if dropped == round(n * rate) else math.inf
    return abs(dropped - n * rate) / sigma


def _correlation_z(a: torch.Tensor, b: torch.Tensor) -> float:
    """|Pearson correlation| of two 0/1 sequences times sqrt(pairs): about a standard normal for independent ones."""
    a, b = a.double(), b.double()
    a, b = a - a.mean(), b - b.mean()
    denominator = (a.norm() * b.norm()).item()
    return 0.0 if denominator == 0 else abs((a * b).sum().item()) / denominator * math.sqrt(a.numel())


def _neighbour_z(mask: torch.Tensor) -> float:
    """The largest correlation z over the pairs (element, next along the last dim) and (element, next row)."""
    m = mask.reshape(-1, mask.shape[-1]) if mask.dim() >= 2 else mask.reshape(1, -1)
    zs = []
    if m.shape[1] > 1:
        zs.append(_correlation_z(m[:, :-1].reshape(-1), m[:, 1:].reshape(-1)))
    if m.shape[0] > 1:
        zs.append(_correlation_z(m[:-1].reshape(-1), m[1:].reshape(-1)))
    return max(zs, default=0.0)


def compare_dropout(
    fn,
    spec,
    case,
    device: str,
    seed: int,
    grads: bool = True,
    inputs=None,
    grad_layout=None,
    watch=None,
    keep_inputs: bool = True,
) -> list[Comparison]:
    """The dropout properties of variant `fn` on `case` (options as kernels.check.compare takes them)."""
    watch = watch or nullcontext()
    if inputs is None:
        inputs = spec.make_inputs(case, device, seed)
    if grads:
        inputs = inputs.with_grad()
    kwargs = inputs.kwargs
    p, training, inplace, activation = settings(kwargs)
    rate = drop_rate(kwargs)
    x = inputs.args[0]
    before = x.detach().to("cpu", torch.float64)  # an in-place variant overwrites x
    tol = spec.tolerance(case, "forward")

    poison_allocator(inputs)
    with _rng(device):
        torch.manual_seed(seed)
        with watch:
            out = fn(*inputs.args, **kwargs)
    result = [Comparison("output", survivor_error(before, out, kwargs), tol)]
    if inplace and training:
        result.append(Comparison("output: written into x", float(out.data_ptr() != x.data_ptr()), 0.0, False))
    elif keep_inputs:  # unless the variant declares that it overwrites its input
        result.append(Comparison("output: x left as it was", rel_error(x, before), 0.0, False))

    if out.numel():
        result += _mask_properties(fn, x, kwargs, rate, device, seed)

    if grads and x.requires_grad:
        g = random_like(out, seed + 1)
        if grad_layout is not None:
            g = grad_layout(g)
        with watch:
            (dx,) = torch.autograd.grad(out, [x], g)
        keep = out.detach().cpu() != 0
        leaf = before.clone().requires_grad_(True)
        want = reference.dropout(leaf, keep, p, training, activation)
        (want_dx,) = torch.autograd.grad(want, [leaf], g.to("cpu", torch.float64))
        # an x of exactly 0 is 0 kept or dropped: its mask is not known from the output; and relu's slope at 0 is a
        # convention (torch's 0, the oracle's 1)
        decided = before != 0
        error = rel_error(dx.detach().cpu()[decided], want_dx[decided], underflow(dx))
        result.append(Comparison("grad[0]", error, spec.tolerance(case, "backward")))
    return result


def _mask_properties(fn, x: torch.Tensor, kwargs: dict, rate: float, device: str, seed: int) -> list[Comparison]:
    def probe() -> torch.Tensor:
        """The variant's mask on ones of x's shape and layout (every element informative), as a bool tensor."""
        with torch.no_grad():
            return fn(torch.ones_like(x), **kwargs).cpu() != 0

    with _rng(device):
        torch.manual_seed(seed + 2)
        first, following = probe(), probe()
        torch.manual_seed(seed + 2)
        again = probe()
        torch.manual_seed(seed + 3)
        other = probe()
    result = [
        Comparison("output: share dropped", _dropped_z(first, rate), Z_BOUND, relative=False),
        Comparison("output: same seed, same mask", (first != again).double().mean().item(), 0.0, relative=False),
    ]
    if (rate**2 + (1 - rate) ** 2) ** first.numel() < SAME_BY_CHANCE:
        for what, mask in (("another seed", other), ("the next call", following)):
            result.append(Comparison(f"output: {what}, another mask", float(torch.equal(first, mask)), 0.0, False))
    if 0 < rate < 1 and first.numel() >= 1000:
        result.append(Comparison("output: neighbours uncorrelated", _neighbour_z(first), Z_BOUND, relative=False))
    return result
