"""Small helpers shared by the edge-case tests."""

import pytest

from kernels import registry


def runnable(op: str, name: str, device: str):
    """The function of variant `name` of `op`, or a visible skip with the reason it cannot run on `device`."""
    v = registry.get(op, name)
    reason = v.skip_reason(device)
    if reason:
        pytest.skip(reason)
    return v.fn
