"""torch.compile as the `compiled` rung uses it: static shapes, one graph per shape, no silent fallback to eager."""

from __future__ import annotations

import torch
import torch._dynamo


def _raise_limit(names: tuple[str, ...], value: int) -> None:
    cfg = torch._dynamo.config
    for name in names:  # the option was renamed across torch releases; set whichever exist
        if hasattr(cfg, name):
            setattr(cfg, name, max(getattr(cfg, name), value))


def compile_static(fn, mode: str | None = None):
    """torch.compile(fn, dynamic=False, mode=mode), with Dynamo's recompile limit raised (mode "reduce-overhead":
    Inductor also replays the compiled graphs as CUDA graphs).

    Each new shape, dtype or stride pattern compiles its own graph. With the default limit (8 per function) the
    ninth shape would silently run eager code, and a benchmark of `compiled` would time eager. Benchmarks warm up
    every case (paying the compile apart) and check with `compiled_graphs()` that nothing compiles while timing."""
    _raise_limit(("recompile_limit", "cache_size_limit"), 1024)
    _raise_limit(("accumulated_recompile_limit", "accumulated_cache_size_limit"), 1 << 16)
    return torch.compile(fn, dynamic=False, mode=mode)


def compiled_graphs() -> int:
    """How many graphs Dynamo has compiled in this process so far."""
    from torch._dynamo.utils import counters

    return int(counters["stats"]["unique_graphs"])
