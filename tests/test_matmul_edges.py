"""Matmul behaviour beyond the correctness sweep: bad arguments, operands read in place (integer input, mixed dtypes
and TF32, shared by the ops, are in tests/test_op_contract.py)."""

import sys

import pytest
import torch

from kernels import registry
from kernels.matmul import triton_tiled
from tests import helpers

VARIANTS = [v.name for v in registry.variants("matmul")]
CHECKED = [n for n in VARIANTS if n != "eager"]  # eager is torch.matmul itself, with torch's own errors


def runnable(name: str, device: str):
    return helpers.runnable("matmul", name, device)


@pytest.mark.parametrize("name", VARIANTS)
def test_mismatched_inner_dimensions_are_an_error(name, device):
    fn = runnable(name, device)
    with pytest.raises((ValueError, RuntimeError), match=r"inner dimensions differ|cannot be multiplied"):
        fn(torch.randn(3, 4, device=device), torch.randn(5, 6, device=device))


@pytest.mark.parametrize("name", CHECKED)
@pytest.mark.parametrize(
    "a, b, kwargs, error, message",
    [
        ((3, 4), (4, 5), {"activation": "gelu"}, ValueError, "unknown activation 'gelu'"),
        (
            (2, 3, 3, 4),
            (4, 4, 5),
            {},
            ValueError,
            r"batch dims do not broadcast: a is \(2, 3, 3, 4\), b is \(4, 4, 5\)",
        ),
        ((3, 4), (4, 5), {"bias": (4,)}, ValueError, "bias must be a 1-D tensor of N=5"),
        ((2, 3, 4), (3, 4, 5), {}, ValueError, "batch dims do not broadcast"),
    ],
)
def test_bad_arguments_name_the_problem(name, a, b, kwargs, error, message, device):
    fn = runnable(name, device)
    if "bias" in kwargs:
        kwargs = {"bias": torch.randn(kwargs["bias"], device=device)}
    with pytest.raises(error, match=message):
        fn(torch.randn(a, device=device), torch.randn(b, device=device), **kwargs)


@pytest.mark.parametrize("name", ["triton_tiled", "triton_fused"])
def test_transposed_and_sliced_operands_reach_the_kernel_without_a_copy(name, device, monkeypatch):
    fn = runnable(name, device)
    # triton_fused imports the launcher by name: spy on it there too
    seen = helpers.spy_on(monkeypatch, "matmul_launch", triton_tiled, sys.modules[fn.__module__])
    a_t = torch.randn(40, 30, device=device).t()  # [30, 40] stored transposed
    b_s = torch.randn(40, 100, device=device)[:, ::2]  # [40, 50], every other column
    out = fn(a_t, b_s)
    assert seen[0][:2] == [(a_t.data_ptr(), a_t.stride()), (b_s.data_ptr(), b_s.stride())]
    torch.testing.assert_close(out, a_t @ b_s, rtol=1e-4, atol=1e-4)
