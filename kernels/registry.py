"""The variant registry: every implementation of every op, declared once, in ladder order.

A variant declares itself with the `variant` decorator in its own module:

    @variant("softmax", "eager", baseline=True)
    def eager_softmax(x, dim=-1):
        return F.softmax(x, dim)

Tests and benchmarks iterate `ops()` and `variants(op)`; they never list variants, so nothing can be timed that is
not also checked. Each op also registers one spec (kernels/<op>/spec.py) with `register_spec`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from kernels.dtypes import dtype_name
from kernels.triton_support import INTERPRET

# The ops, each in its package kernels/<op>/, in the order tables and reports list them. Adding an op is one line
# here; adding a variant is one module kernels/<op>/<variant>.py and one import line in the op's __init__.py.
OPS = (
    "softmax",
    "matmul",
    "batchnorm",
    "conv2d",
    "max_pool2d",
    "cross_entropy",
    "linear_cross_entropy",
    "dropout",
    "sgd_step",
    "adam_step",
)

# Rung of each name on the ladder; any `triton_<strategy>` other than triton_fused sits on the `triton` rung.
RUNGS = {"lesson": 0, "eager": 1, "compiled": 2, "triton": 3, "triton_fused": 4}
DEVICES = ("cpu", "cuda")


def rung_of(name: str) -> int:
    if name in RUNGS:
        return RUNGS[name]
    if name.startswith("triton_"):
        return RUNGS["triton"]
    raise ValueError(
        f"variant name {name!r} is not on the ladder: use one of {sorted(RUNGS)} or triton_<strategy>, "
        "or name its rung with rung="
    )


INTERPRETED = "interpreted, not a performance figure"  # why a Triton rung on the interpreter is not timed


@dataclass(frozen=True)
class Variant:
    """One implementation of an op. `fn` has the signature of the op's torch.nn.functional counterpart."""

    op: str
    name: str
    fn: Callable
    rung: int
    baseline: bool = False
    devices: tuple[str, ...] = DEVICES
    differentiable: bool = True
    # Triton kernels: on CUDA they are compiled; on the CPU they run only through Triton's interpreter.
    interpreted_on_cpu: bool = False
    # Test or benchmark cases this variant cannot pass, each with the reason a skip shows: keyed by case name
    # ("large_logits") or by case name and dtype ("wide/fp16").
    unsupported: Mapping[str, str] = field(default_factory=dict)
    # Sizes or settings beyond this variant's reach: limit(case, device) returns the reason, or None.
    limit: Callable | None = None
    # Triton rungs: the PyTorch operators (aten names) they run besides their kernels, each with the reason
    # ({"sum": "the bias gradient: dy summed over (N, P, Q)"}); the correctness test fails on any other.
    torch_ops: Mapping[str, str] = field(default_factory=dict)
    doc: str = ""

    def skip_reason(self, device: str, timing: bool = False) -> str | None:
        """Why this variant cannot run (or, when `timing`, cannot be timed) on `device`; None when it can."""
        if device not in self.devices:
            return f"{self.op}/{self.name} does not run on {device}"
        if self.interpreted_on_cpu:
            if device == "cpu" and timing:
                return INTERPRETED
            if device == "cpu" and not INTERPRET:
                return "Triton runs on the CPU only through its interpreter (set TRITON_INTERPRET=1 first)"
            if device == "cuda" and INTERPRET and timing:
                return f"TRITON_INTERPRET=1 is set: {INTERPRETED}"
        return None

    def unsupported_reason(self, case, device: str) -> str | None:
        """Why this variant is not expected to pass `case` (a kernels.spec.Case) on `device`; None when it is."""
        return (
            self.unsupported.get(f"{case.name}/{dtype_name(case.dtype)}")
            or self.unsupported.get(case.name)
            or (self.limit(case, device) if self.limit else None)
        )


_VARIANTS: dict[str, dict[str, Variant]] = {}
_SPECS: dict[str, object] = {}
_loaded = False


def variant(
    op: str,
    name: str,
    *,
    baseline: bool = False,
    devices: tuple[str, ...] = DEVICES,
    differentiable: bool = True,
    interpreted_on_cpu: bool = False,
    unsupported: Mapping[str, str] | None = None,
    limit: Callable | None = None,
    torch_ops: Mapping[str, str] | None = None,
    rung: str | None = None,
):
    """Declare `fn` as variant `name` of `op`. A second variant of the same name is an error. The rung is the one
    the name implies (triton_<strategy> on `triton`); a variant named otherwise, a peer library's kernel such as
    `liger`, says which rung it stands on with `rung=` (a name in RUNGS)."""
    if rung is not None and rung not in RUNGS:
        raise ValueError(f"variant {op}/{name}: rung {rung!r} is not on the ladder; rungs: {', '.join(RUNGS)}")
    position = RUNGS[rung] if rung is not None else rung_of(name)

    def register(fn: Callable) -> Callable:
        table = _VARIANTS.setdefault(op, {})
        if name in table:
            raise ValueError(f"variant {op}/{name} is declared twice ({table[name].fn.__module__} and {fn.__module__})")
        bad = set(devices) - set(DEVICES)
        if bad:
            raise ValueError(f"variant {op}/{name}: unknown devices {sorted(bad)}; known: {DEVICES}")
        table[name] = Variant(
            op=op,
            name=name,
            fn=fn,
            rung=position,
            baseline=baseline,
            devices=tuple(devices),
            differentiable=differentiable,
            interpreted_on_cpu=interpreted_on_cpu,
            unsupported=MappingProxyType(dict(unsupported or {})),
            limit=limit,
            torch_ops=MappingProxyType(dict(torch_ops or {})),
            doc=(fn.__doc__ or "").strip().split("\n")[0],
        )
        return fn

    return register


def register_spec(spec) -> None:
    if spec.op in _SPECS:
        raise ValueError(f"op {spec.op!r} has two specs")
    _SPECS[spec.op] = spec


def _load() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for op in OPS:
            importlib.import_module(f"kernels.{op}")


def ops() -> list[str]:
    """The ops in OPS order, whichever op module Python happened to import first (ops registered from elsewhere, a
    test's, after them)."""
    _load()
    rank = {op: i for i, op in enumerate(OPS)}
    return sorted(_VARIANTS, key=lambda op: (rank.get(op, len(rank)), op))


def variants(op: str) -> list[Variant]:
    """The variants of `op` in ladder order (rung, then name)."""
    _load()
    if op not in _VARIANTS:
        raise KeyError(f"unknown op {op!r}; known ops: {', '.join(_VARIANTS) or 'none'}")
    return sorted(_VARIANTS[op].values(), key=lambda v: (v.rung, v.name))


def get(op: str, name: str) -> Variant:
    table = {v.name: v for v in variants(op)}
    if name not in table:
        raise KeyError(f"unknown variant {name!r} of op {op!r}; known: {', '.join(table)}")
    return table[name]


def baseline(op: str) -> Variant:
    marked = [v for v in variants(op) if v.baseline]
    if len(marked) != 1:
        raise ValueError(f"op {op!r} must have exactly one baseline variant, has {[v.name for v in marked]}")
    return marked[0]


def spec(op: str):
    _load()
    if op not in _SPECS:
        raise KeyError(f"op {op!r} has no spec; known: {', '.join(_SPECS) or 'none'}")
    return _SPECS[op]
