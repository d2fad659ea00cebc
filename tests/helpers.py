"""Small helpers shared by the edge-case tests."""

import pytest
import torch

from kernels import registry


def runnable(op: str, name: str, device: str):
    """The function of variant `name` of `op`, or a visible skip with the reason it cannot run on `device`. A variant
    that declares inputs it is wrong on (a peer's `wrong_on`) skips, saying why, when called with such inputs; one
    that overwrites its inputs (Liger's cross-entropy) is handed copies, so that a test reusing its tensors (a
    forward, then another) sees the values it made (its overwriting is shown in tests/test_peers.py)."""
    v = registry.get(op, name)
    reason = v.skip_reason(device)
    if reason:
        pytest.skip(reason)
    if not v.wrong_on and not v.overwrites_inputs:
        return v.fn

    def declared(*args, **kwargs):
        wrong = v.known_wrong(args, kwargs)
        if wrong:
            pytest.skip(f"{op}/{name} declares it: {wrong}")
        if v.overwrites_inputs:  # clone is differentiable: gradients still reach the caller's tensors
            args = tuple(a.clone() if isinstance(a, torch.Tensor) and a.is_floating_point() else a for a in args)
        return v.fn(*args, **kwargs)

    return declared


def checked_variants(op: str) -> list[str]:
    """The variants whose argument checks are the suite's own: all but the eager baseline, which is torch's op
    with torch's errors."""
    return [v.name for v in registry.variants(op) if not v.baseline]


def spy_on(monkeypatch, function_name: str, *modules) -> list[list[tuple]]:
    """Wrap `function_name` (a launcher) in each of `modules` (where it is defined and where it was imported by name)
    so that each call records (data_ptr, stride) of its tensor arguments, in order; returns the list of calls."""
    seen = []
    original = getattr(modules[0], function_name)

    def spy(*args, **kwargs):
        seen.append([(a.data_ptr(), a.stride()) for a in args if hasattr(a, "data_ptr")])
        return original(*args, **kwargs)

    for module in modules:
        monkeypatch.setattr(module, function_name, spy)
    return seen
