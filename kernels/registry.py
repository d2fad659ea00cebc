"""The variant registry: every implementation of every op, declared once, in ladder order.

A variant declares itself with the `variant` decorator in its own module:

    @variant("softmax", "eager", baseline=True)
    def eager_softmax(x, dim=-1):
        return F.softmax(x, dim)

Tests and benchmarks iterate `ops()` and `variants(op)`; they never list variants, so nothing can be timed that is
not also checked. Each op also registers one spec (kernels/<op>/spec.py) with `register_spec`.

Kernels from outside the tree join through the entry-point group `dnnbench.variants`: an installed package names a
module there (`mykernels = "mykernels.dnnbench"` under [project.entry-points."dnnbench.variants"]), and the registry
imports it after the ops, so its `@variant` declarations put its kernels on the ladders, checked and timed like
ours. The peer libraries (kernels/peers/: Liger-Kernel, FlagGems) come through the same door, declared in this
project's own pyproject.toml. A module that fails to import is reported (`plugin_errors()`, `dnnbench list`), and
the rest of the registry loads.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
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
    # Why this variant writes into its (non-state) arguments, where it does: the checks then let it ("" where it
    # must leave them as they were, which the checks verify)
    overwrites_inputs: str = ""
    # Inputs on which this variant is known to be wrong: reason -> predicate(args, kwargs), for what a case's name
    # cannot say (logits strided in the class dim, every target ignored); the checks skip such inputs, saying why
    wrong_on: Mapping[str, Callable[[tuple, dict], bool]] = field(default_factory=dict)
    # A peer library's kernel: the library as "name version" ("liger-kernel 0.8.5"); "" for this project's own.
    library: str = ""
    # Why the variant cannot run at all (its library not installed, or failing to import), or None: called when a
    # row is reached, so a missing optional library makes its rows skips that say how to install it.
    requires: Callable[[], str | None] | None = None

    @property
    def peer(self) -> bool:
        return bool(self.library)

    def skip_reason(self, device: str, timing: bool = False) -> str | None:
        """Why this variant cannot run (or, when `timing`, cannot be timed) on `device`; None when it can."""
        if device not in self.devices:
            return f"{self.op}/{self.name} does not run on {device}"
        missing = self.requires() if self.requires else None
        if missing:
            return missing
        if self.interpreted_on_cpu:
            if device == "cpu" and timing:
                return INTERPRETED
            if device == "cpu" and not INTERPRET:
                return "Triton runs on the CPU only through its interpreter (set TRITON_INTERPRET=1 first)"
            if device == "cuda" and INTERPRET and timing:
                return f"TRITON_INTERPRET=1 is set: {INTERPRETED}"
        return None

    def declared(self) -> list[str]:
        """What this variant is declared to get wrong or do differently, each with its reason (the report's list)."""
        found = [*self.wrong_on, *sorted(set(self.unsupported.values()))]
        return found + ([f"overwrites its input: {self.overwrites_inputs}"] if self.overwrites_inputs else [])

    def known_wrong(self, args: tuple, kwargs: dict) -> str | None:
        """The declared reason this variant is wrong on these arguments, or None."""
        return next((why for why, applies in self.wrong_on.items() if applies(args, kwargs)), None)

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
    library: str = "",
    requires: Callable[[], str | None] | None = None,
    overwrites_inputs: str = "",
    wrong_on: Mapping[str, Callable[[tuple, dict], bool]] | None = None,
):
    """Declare `fn` as variant `name` of `op`. A second variant of the same name is an error. The rung is the one
    the name implies (triton_<strategy> on `triton`); a variant named otherwise, a peer library's kernel such as
    `liger`, says which rung it stands on with `rung=` (a name in RUNGS), and which library it wraps with
    `library=` ("liger-kernel 0.8.5")."""
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
            library=library,
            requires=requires,
            overwrites_inputs=overwrites_inputs,
            wrong_on=MappingProxyType(dict(wrong_on or {})),
        )
        return fn

    return register


def register_spec(spec) -> None:
    if spec.op in _SPECS:
        raise ValueError(f"op {spec.op!r} has two specs")
    _SPECS[spec.op] = spec


GROUP = "dnnbench.variants"  # the entry-point group through which installed packages add variants
_PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
_PLUGIN_ERRORS: dict[str, str] = {}


def _source_tree_entry_points() -> dict[str, str]:
    """This project's own entry points of GROUP, read from its pyproject.toml: a source tree used without being
    installed (make gpu-check runs it with PYTHONPATH=.) has no metadata for them. Python 3.10 has no tomllib;
    there the tree must be installed (pip install -e .)."""
    try:
        import tomllib
    except ImportError:
        return {}
    if not _PYPROJECT.is_file():
        return {}
    table = tomllib.loads(_PYPROJECT.read_text()).get("project", {}).get("entry-points", {})
    return dict(table.get(GROUP, {}))


def plugin_modules() -> dict[str, str]:
    """Entry-point name -> module for every package that adds variants: the installed ones' metadata, then this
    source tree's pyproject.toml (one module is loaded once, whichever way it was found)."""
    found = {ep.name: ep.value for ep in importlib.metadata.entry_points(group=GROUP)}
    for name, value in _source_tree_entry_points().items():
        if value not in found.values():
            found.setdefault(name, value)
    return found


def load_plugin(name: str, value: str) -> None:
    """Import the module an entry point names (`pkg.mod`, or `pkg.mod:function`, which is then called); its
    `@variant` declarations register themselves. A failure is kept, with its error, for plugin_errors()."""
    module, _, attr = value.partition(":")
    try:
        loaded = importlib.import_module(module.strip())
        if attr:
            getattr(loaded, attr.strip())()
    except Exception as e:  # a broken plugin must not take the suite's own variants down with it
        _PLUGIN_ERRORS[name] = f"{value}: {type(e).__name__}: {e}"


def peer_declarations() -> dict[str, dict[str, dict]]:
    """op -> peer variant -> {library, devices, declared}: what a run's stream header records of the peers, so that a
    report (which imports nothing of the suite) can list what each is declared to get wrong."""
    return {
        op: {v.name: {"library": v.library, "devices": list(v.devices), "declared": v.declared()} for v in peers}
        for op in ops()
        if (peers := [v for v in variants(op) if v.peer])
    }


def plugin_errors() -> dict[str, str]:
    """Entry points that failed to load: name -> the error."""
    _load()
    return dict(_PLUGIN_ERRORS)


def _load() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for op in OPS:
            importlib.import_module(f"kernels.{op}")
        for name, value in plugin_modules().items():
            load_plugin(name, value)


def ops() -> list[str]:
    """The ops in OPS order, whichever op module Python happened to import first (ops registered from elsewhere, a
    test's, after them)."""
    _load()
    rank = {op: i for i, op in enumerate(OPS)}
    return sorted(_VARIANTS, key=lambda op: (rank.get(op, len(rank)), op))


def variants(op: str) -> list[Variant]:
    """The variants of `op` in ladder order: by rung, this project's own before the peers' on each rung, then by
    name."""
    _load()
    if op not in _VARIANTS:
        raise KeyError(f"unknown op {op!r}; known ops: {', '.join(_VARIANTS) or 'none'}")
    return sorted(_VARIANTS[op].values(), key=lambda v: (v.rung, v.peer, v.name))


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
